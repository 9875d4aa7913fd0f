//! Object bytes on the local disk: one file per segment, named by a random id (never by the
//! object's key, so no key can reach outside the folder), written, fsynced and its directory
//! fsynced before the metadata that makes it visible is committed.

use std::io;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::Stream;
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _, AsyncWriteExt as _};

/// The folder of segment files.
#[derive(Debug, Clone)]
pub struct Blobs {
    dir: PathBuf,
}

/// How much of a segment a read takes at a time.
const READ_CHUNK: usize = 256 * 1024;

impl Blobs {
    pub fn open(dir: &Path) -> io::Result<Blobs> {
        std::fs::create_dir_all(dir)?;
        Ok(Blobs {
            dir: dir.to_path_buf(),
        })
    }

    fn path(&self, id: &str) -> PathBuf {
        debug_assert!(id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        self.dir.join(id)
    }

    /// A new segment file to write.
    pub async fn create(&self, id: &str) -> io::Result<Writer> {
        let path = self.path(id);
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await?;
        Ok(Writer {
            file: tokio::io::BufWriter::with_capacity(READ_CHUNK, file),
            path,
            dir: self.dir.clone(),
        })
    }

    /// `len` bytes of a segment from `offset`, as a stream of chunks. The file is opened before
    /// this returns, so a segment deleted afterwards (its object replaced) still reads whole.
    pub async fn read(
        &self,
        id: &str,
        offset: u64,
        len: u64,
    ) -> io::Result<impl Stream<Item = io::Result<Bytes>> + Send + use<>> {
        let mut file = tokio::fs::File::open(self.path(id)).await?;
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

    /// Forgets a segment; a missing one is not an error.
    pub async fn remove(&self, id: &str) {
        if let Err(error) = tokio::fs::remove_file(self.path(id)).await
            && error.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(id, %error, "cannot remove an object segment");
        }
    }

    /// Every segment file's id, for the sweep of segments no object refers to.
    pub fn ids(&self) -> io::Result<Vec<String>> {
        let mut ids = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            if let Some(name) = entry?.file_name().to_str() {
                ids.push(name.to_owned());
            }
        }
        Ok(ids)
    }
}

/// A segment being written.
pub struct Writer {
    file: tokio::io::BufWriter<tokio::fs::File>,
    path: PathBuf,
    dir: PathBuf,
}

impl Writer {
    pub async fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.file.write_all(data).await
    }

    /// Makes the segment durable: the file's bytes, then its name in the directory.
    pub async fn finish(mut self) -> io::Result<()> {
        self.file.flush().await?;
        self.file.get_mut().sync_all().await?;
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || std::fs::File::open(dir)?.sync_all())
            .await
            .map_err(io::Error::other)??;
        Ok(())
    }

    /// Abandons the segment (the upload failed or was refused).
    pub async fn discard(self) {
        drop(self.file);
        let _ = tokio::fs::remove_file(&self.path).await;
    }
}
