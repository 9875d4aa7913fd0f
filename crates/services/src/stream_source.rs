//! The data streams as event-source mappings use them: object-safe, so the mappings hold no
//! store type.

use std::future::Future;
use std::pin::Pin;

use sluice_store::Store;
use sluice_streams::{ReadRecord, Shard, Start, Streams};
use tokio::sync::watch;

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub(crate) trait StreamSource: Send + Sync + 'static {
    /// The stream's ARN, if the stream exists.
    fn stream_arn(&self, name: &str) -> Option<String>;
    /// The ARNs of the stream's registered consumers.
    fn consumer_arns(&self, name: &str) -> Vec<String>;
    /// The stream's shards, open and closed, with their lineage.
    fn shards(&self, name: &str) -> Vec<Shard>;
    /// Where a closed shard ends (its last place); `None` while it is open.
    fn shard_end(&self, name: &str, shard: u32) -> Option<u64>;
    /// The last place committed to the stream, watched.
    fn watch(&self, name: &str) -> Option<watch::Receiver<u64>>;
    fn read_from(
        &self,
        name: &str,
        shard: u32,
        from_seq: u64,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<ReadRecord>, String>>;
    fn start_of(&self, name: &str, shard: u32, start: Start) -> BoxFuture<'_, Result<u64, String>>;
}

impl<S: Store> StreamSource for Streams<S> {
    fn stream_arn(&self, name: &str) -> Option<String> {
        self.describe(name).ok().map(|d| d.arn)
    }

    fn consumer_arns(&self, name: &str) -> Vec<String> {
        self.describe(name)
            .map(|d| d.consumers.into_iter().map(|c| c.arn).collect())
            .unwrap_or_default()
    }

    fn shards(&self, name: &str) -> Vec<Shard> {
        self.describe(name).map(|d| d.shards).unwrap_or_default()
    }

    fn shard_end(&self, name: &str, shard: u32) -> Option<u64> {
        Streams::shard_end(self, name, shard)
    }

    fn watch(&self, name: &str) -> Option<watch::Receiver<u64>> {
        Streams::watch(self, name).ok()
    }

    fn read_from(
        &self,
        name: &str,
        shard: u32,
        from_seq: u64,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<ReadRecord>, String>> {
        let name = name.to_owned();
        Box::pin(async move {
            Streams::read_from(self, &name, shard, from_seq, limit)
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn start_of(&self, name: &str, shard: u32, start: Start) -> BoxFuture<'_, Result<u64, String>> {
        let name = name.to_owned();
        Box::pin(async move {
            Streams::start_of(self, &name, shard, &start)
                .await
                .map_err(|e| e.to_string())
        })
    }
}
