//! Object bytes behind `object_store`: today a `LocalFileSystem` under the data dir with fsync
//! on (a file and its directory are durable before a write returns, so the metadata that makes
//! a segment visible is committed only after its bytes are); any other `ObjectStore` (a real
//! S3-compatible store) fits the same seam. Segments are named by a random id, never by the
//! object's key, so no key can reach outside the folder.

use std::io;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{Stream, StreamExt as _, TryStreamExt as _};
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt as _, WriteMultipart};

/// Bytes a multipart write buffers before handing a part to the store.
const PART_BYTES: usize = 8 * 1024 * 1024;
/// Parts in flight while a body is written.
const PARTS_IN_FLIGHT: usize = 2;

/// Where segments are kept.
#[derive(Clone)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
}

impl std::fmt::Debug for Blobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Blobs({})", self.store)
    }
}

fn other(error: object_store::Error) -> io::Error {
    match error {
        object_store::Error::NotFound { .. } => io::Error::new(io::ErrorKind::NotFound, error),
        error => io::Error::other(error),
    }
}

impl Blobs {
    /// Segments as files under `dir`, durable when written.
    pub fn open(dir: &Path) -> io::Result<Blobs> {
        std::fs::create_dir_all(dir)?;
        let local = LocalFileSystem::new_with_prefix(dir)
            .map_err(other)?
            .with_fsync(true);
        Ok(Blobs::on(Arc::new(local)))
    }

    /// Segments in any object store.
    pub fn on(store: Arc<dyn ObjectStore>) -> Blobs {
        Blobs { store }
    }

    fn path(id: &str) -> StorePath {
        debug_assert!(id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        StorePath::from(id)
    }

    /// A new segment to write.
    pub async fn create(&self, id: &str) -> io::Result<Writer> {
        let upload = self
            .store
            .put_multipart(&Self::path(id))
            .await
            .map_err(other)?;
        Ok(Writer {
            upload: WriteMultipart::new_with_chunk_size(upload, PART_BYTES),
        })
    }

    /// `len` bytes of a segment from `offset`, as a stream of chunks. The segment is opened
    /// before this returns, so one deleted afterwards (its object replaced) still reads whole.
    pub async fn read(
        &self,
        id: &str,
        offset: u64,
        len: u64,
    ) -> io::Result<impl Stream<Item = io::Result<Bytes>> + Send + use<>> {
        if len == 0 {
            return Ok(futures_util::stream::empty().left_stream());
        }
        let options = GetOptions {
            range: Some(GetRange::Bounded(offset..offset + len)),
            ..GetOptions::default()
        };
        let got = self
            .store
            .get_opts(&Self::path(id), options)
            .await
            .map_err(other)?;
        match got.payload {
            // A local file is read in large chunks: the store's own stream reads 8 KiB at a
            // time, each on a blocking thread, which bounds a 1 MiB GET at a fifth of the disk.
            object_store::GetResultPayload::File(file, _) => {
                let range = got.range;
                Ok(read_file(
                    tokio::fs::File::from_std(file),
                    range.start,
                    range.end - range.start,
                )
                .await?
                .left_stream()
                .right_stream())
            }
            payload => {
                let got = object_store::GetResult { payload, ..got };
                Ok(got
                    .into_stream()
                    .map_err(other)
                    .right_stream()
                    .right_stream())
            }
        }
    }

    /// Forgets a segment; a missing one is not an error.
    pub async fn remove(&self, id: &str) {
        match self.store.delete(&Self::path(id)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(error) => tracing::warn!(id, %error, "cannot remove an object segment"),
        }
    }

    /// Every segment's id, for the sweep of segments no object refers to.
    pub async fn ids(&self) -> io::Result<Vec<String>> {
        self.store
            .list(None)
            .map_ok(|meta| meta.location.to_string())
            .try_collect()
            .await
            .map_err(other)
    }
}

/// Bytes of a local file from `offset` in chunks of [`READ_CHUNK`].
async fn read_file(
    mut file: tokio::fs::File,
    offset: u64,
    len: u64,
) -> io::Result<impl Stream<Item = io::Result<Bytes>> + Send + use<>> {
    use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};
    if offset > 0 {
        file.seek(io::SeekFrom::Start(offset)).await?;
    }
    Ok(futures_util::stream::unfold(
        (file, len),
        |(mut file, left)| async move {
            if left == 0 {
                return None;
            }
            let want = usize::try_from(left.min(READ_CHUNK as u64)).unwrap_or(READ_CHUNK);
            let mut buf = vec![0; want];
            match file.read_exact(&mut buf).await {
                Ok(_) => Some((Ok(Bytes::from(buf)), (file, left - want as u64))),
                Err(error) => Some((Err(error), (file, 0))),
            }
        },
    ))
}

/// How much of a local segment one read takes.
const READ_CHUNK: usize = 256 * 1024;

/// A segment being written.
pub struct Writer {
    upload: WriteMultipart,
}

impl Writer {
    pub async fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.upload
            .wait_for_capacity(PARTS_IN_FLIGHT)
            .await
            .map_err(other)?;
        self.upload.write(data);
        Ok(())
    }

    /// Makes the segment durable and visible under its id.
    pub async fn finish(self) -> io::Result<()> {
        self.upload.finish().await.map(|_| ()).map_err(other)
    }

    /// Abandons the segment (the upload failed or was refused).
    pub async fn discard(self) {
        let _ = self.upload.abort().await;
    }
}
