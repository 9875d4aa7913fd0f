//! A mapping's pollers. Each poller reserves invocation slots, long-polls the queue, gathers
//! what it received into batches (up to `BatchSize`, within the batching window), drops the
//! messages no filter matches, invokes the function synchronously, one invocation per batch
//! and slot, and deletes what succeeded; failed messages stay and come back after the queue's
//! visibility timeout (and reach its dead-letter queue through the broker).
//!
//! Scaling: a mapping starts with one poller. A poller that finds more messages waiting
//! after its receive starts another, up to the mapping's `MaximumConcurrency` (else the
//! function's concurrency); a poller whose receive comes back empty stops unless it is the
//! last, which keeps long-polling. Concurrent invocations never exceed that limit: a poller
//! reserves a slot per batch before it receives (so received messages never wait for one),
//! and with batches smaller than SQS's ten messages, one receive feeds several concurrent
//! batches (one commit for up to ten messages). FIFO queues keep their order per group: the
//! broker hands out no message of a group while an earlier one is in flight, and a FIFO
//! receive feeds one batch.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use sluice_broker::{MAX_RECEIVE, Received};
use sluice_functions::InvokeOptions;
use sluice_functions::function::limits::MAX_SYNC_PAYLOAD;

use super::event::{self, BatchResult};
use super::{Config, Inner, Live, Mapping};
use crate::queue_source::{delete_all, gather};

/// A lone poller's long poll (SQS's longest).
const LONE_WAIT_SECONDS: i64 = 20;
/// An extra poller's wait before it concludes the backlog is gone and stops.
const EXTRA_WAIT_SECONDS: i64 = 1;
/// How long a poller waits after the queue or the function failed it (gone, throttled).
const BACKOFF: Duration = Duration::from_secs(1);

/// Starts a poller for `mapping` if none runs.
pub(super) fn start(inner: &Arc<Inner>, mapping: &Arc<Mapping>) {
    if mapping.pollers.load(Ordering::Acquire) == 0 {
        spawn(inner, mapping);
    }
}

/// The most pollers (and concurrent invocations) of the mapping.
fn limit(inner: &Inner, config: &Config) -> usize {
    let limit = config.maximum_concurrency.unwrap_or_else(|| {
        config
            .functions(&inner.functions)
            .get(&config.function_name)
            .ok()
            .and_then(|f| f.reserved_concurrency)
            .unwrap_or_else(|| inner.functions.options().default_concurrency)
    });
    (limit as usize).max(1)
}

/// Starts one more poller unless the mapping runs at its limit.
fn spawn(inner: &Arc<Inner>, mapping: &Arc<Mapping>) -> bool {
    if inner.tasks.is_stopping() {
        return false;
    }
    let limit = limit(inner, &mapping.config());
    let added = mapping
        .pollers
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < limit).then_some(n + 1)
        });
    let Ok(before) = added else {
        return false;
    };
    mapping
        .peak_pollers
        .fetch_max(before + 1, Ordering::Relaxed);
    let (inner, mapping) = (Arc::clone(inner), Arc::clone(mapping));
    let tasks = inner.tasks.clone();
    tasks.spawn("poller", run(inner, mapping));
    true
}

/// One poller, until its mapping is disabled or deleted, the backlog is gone (if it is not
/// the last), or shutdown.
async fn run(inner: Arc<Inner>, mapping: Arc<Mapping>) {
    let mut changes = mapping.live.subscribe();
    let stopping = inner.tasks.cancelled();
    tokio::pin!(stopping);
    loop {
        let live: Live = changes.borrow_and_update().clone();
        if !live.active() || inner.tasks.is_stopping() {
            break;
        }
        let lone = mapping.pollers.load(Ordering::Acquire) <= 1;
        let wait = if lone {
            LONE_WAIT_SECONDS
        } else {
            EXTRA_WAIT_SECONDS
        };
        let config = &live.config;
        // At most half the limit per receive, so that one poller's receive (a commit) overlaps
        // another's invocations.
        let limit = limit(&inner, config);
        let want = batches_per_receive(config).min(limit / 2).max(1);
        let slots = tokio::select! {
            slots = reserve(&mapping, limit, want) => slots,
            _ = changes.changed() => continue,
            () = &mut stopping => break,
        };
        let batches = slots.count * depth(&inner, &mapping, config, slots.count);
        let size = config.batch_size as usize * batches;
        let gathered = tokio::select! {
            gathered = gather(&*inner.source, config.queue_name(), size, config.window_seconds, wait) => gathered,
            // Settings changed (or disabled, deleted): start over with the new ones. A receive
            // dropped while it commits leaves its messages invisible until their visibility
            // timeout (not lost); dropped while it waits, it leaves nothing.
            _ = changes.changed() => continue,
            () = &mut stopping => break,
        };
        match gathered {
            Err(error) => {
                tracing::warn!(uuid = %config.uuid, %error, "event-source mapping cannot receive");
                drop(slots);
                tokio::select! {
                    () = tokio::time::sleep(BACKOFF) => {}
                    () = &mut stopping => break,
                }
            }
            Ok(batch) if batch.is_empty() => {
                drop(slots);
                // Backlog gone: extra pollers stop, the last one keeps polling.
                let retired = mapping
                    .pollers
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                        (n > 1).then(|| n - 1)
                    })
                    .is_ok();
                if retired {
                    return;
                }
            }
            Ok(batch) => {
                // More waiting: one more poller. A full receive says so; otherwise the
                // queue is counted (a scan), only while there is room for a poller.
                if mapping.pollers.load(Ordering::Acquire) < limit
                    && (batch.len() >= size || inner.source.visible(config.queue_name()) > 0)
                {
                    spawn(&inner, &mapping);
                }
                // Not cancelled by shutdown: the invocations finish within the grace and
                // their messages are deleted.
                if !deliver(&inner, &mapping, &live, batch, slots).await {
                    tokio::select! {
                        () = tokio::time::sleep(BACKOFF) => {}
                        () = &mut stopping => break,
                    }
                }
            }
        }
    }
    let left = mapping.pollers.fetch_sub(1, Ordering::AcqRel) - 1;
    if left == 0 {
        let live = mapping.live.borrow().clone();
        if live.active() {
            // Enabled again while this poller was stopping.
            start(&inner, &mapping);
        } else if !live.deleted {
            let mut state = mapping.state();
            if *state == "Disabling" {
                *state = "Disabled";
            }
        }
    }
}

/// Invocation slots a poller holds; given back when dropped.
struct Slots {
    mapping: Arc<Mapping>,
    count: usize,
}

impl Slots {
    /// One slot of these, for one batch.
    fn take_one(&mut self) -> Slots {
        let one = self.count.min(1);
        self.count -= one;
        Slots {
            mapping: Arc::clone(&self.mapping),
            count: one,
        }
    }
}

impl Drop for Slots {
    fn drop(&mut self) {
        if self.count > 0 {
            self.mapping.slots.fetch_sub(self.count, Ordering::AcqRel);
            self.mapping.slot_freed.notify_waiters();
        }
    }
}

/// Reserves between one and `want` slots of the mapping's `limit`, waiting for the first.
async fn reserve(mapping: &Arc<Mapping>, limit: usize, want: usize) -> Slots {
    loop {
        let freed = mapping.slot_freed.notified();
        tokio::pin!(freed);
        freed.as_mut().enable();
        let reserved = mapping
            .slots
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then(|| n + want.min(limit - n))
            });
        if let Ok(before) = reserved {
            return Slots {
                mapping: Arc::clone(mapping),
                count: want.min(limit - before),
            };
        }
        freed.await;
    }
}

/// How many batches one receive may feed: as many as fit in SQS's ten messages when batches
/// are smaller and gathered without a window; one in a FIFO queue (a receive may hold several
/// messages of a group, which must go in order).
fn batches_per_receive(config: &Config) -> usize {
    let size = config.batch_size as usize;
    if config.fifo() || config.window_seconds > 0 || size >= MAX_RECEIVE {
        1
    } else {
        MAX_RECEIVE / size
    }
}

/// How many batches each slot may run one after the other from one receive: more than one
/// only when batches are smaller than a receive and invocations are short enough that the
/// last one starts well within the queue's visibility timeout (a tenth of it).
fn depth(inner: &Inner, mapping: &Mapping, config: &Config, slots: usize) -> usize {
    let most = batches_per_receive(config) / slots;
    let micros = mapping.invoke_micros.load(Ordering::Relaxed);
    if most <= 1 || micros == 0 {
        return 1;
    }
    let budget = inner
        .source
        .visibility_ms(config.queue_name())
        .map_or(0, |ms| ms.max(0) as u64 * 100);
    ((budget / micros) as usize).clamp(1, most)
}

/// Delivers what one receive got in batches, one slot running them one after the other per
/// lane, the lanes concurrently; whether every batch could be invoked (false: back off).
async fn deliver(
    inner: &Arc<Inner>,
    mapping: &Arc<Mapping>,
    live: &Live,
    mut received: Vec<Received>,
    mut slots: Slots,
) -> bool {
    let size = live.config.batch_size as usize;
    if received.len() <= size {
        let ok = process(inner, mapping, live, received).await;
        drop(slots);
        return ok;
    }
    let mut batches = Vec::new();
    while !received.is_empty() {
        let rest = received.split_off(size.min(received.len()));
        batches.push(std::mem::replace(&mut received, rest));
    }
    let lanes = slots.count.min(batches.len()).max(1);
    let mut per_lane: Vec<Vec<Vec<Received>>> = (0..lanes).map(|_| Vec::new()).collect();
    for (i, batch) in batches.into_iter().enumerate() {
        per_lane[i % lanes].push(batch);
    }
    let mut running = tokio::task::JoinSet::new();
    for lane in per_lane {
        let slot = slots.take_one();
        let (inner, mapping, live) = (Arc::clone(inner), Arc::clone(mapping), live.clone());
        running.spawn(async move {
            let mut ok = true;
            for batch in lane {
                ok &= process(&inner, &mapping, &live, batch).await;
            }
            drop(slot);
            ok
        });
    }
    // The slots no lane needed.
    drop(slots);
    let mut all_ok = true;
    while let Some(done) = running.join_next().await {
        all_ok &= done.unwrap_or(false);
    }
    all_ok
}

/// Delivers one batch; whether the function could be invoked (false: back off).
async fn process(
    inner: &Arc<Inner>,
    mapping: &Arc<Mapping>,
    live: &Live,
    batch: Vec<Received>,
) -> bool {
    let config = &live.config;
    let region = inner.scope.region.as_str();
    let records: Vec<event::Record<'_>> = batch
        .iter()
        .map(|r| event::record(r, &config.event_source_arn, region))
        .collect();
    // Messages no filter matches are deleted without invoking, as AWS does.
    let keep: Vec<bool> = if live.filters.is_empty() {
        vec![true; records.len()]
    } else {
        records
            .iter()
            .map(|record| {
                let view = event::filter_view(record);
                live.filters.iter().any(|p| p.matches(&view))
            })
            .collect()
    };
    let mut to_delete: Vec<&Received> = Vec::new();
    let mut kept_records = Vec::new();
    let mut kept: Vec<&Received> = Vec::new();
    for ((received, record), keep) in batch.iter().zip(records).zip(&keep) {
        if *keep {
            kept_records.push(record);
            kept.push(received);
        } else {
            to_delete.push(received);
        }
    }
    mapping
        .filtered
        .fetch_add(to_delete.len() as u64, Ordering::Relaxed);
    let mut invoked_ok = true;
    let mut to_release = Vec::new();
    if !kept.is_empty() {
        let (payload, fit) = event::payload(&kept_records, MAX_SYNC_PAYLOAD);
        drop(kept_records);
        let spill = kept.split_off(fit);
        let payload = Bytes::from(payload);
        let started = std::time::Instant::now();
        let now = mapping.invoking.fetch_add(1, Ordering::AcqRel) + 1;
        mapping.peak_invoking.fetch_max(now, Ordering::Relaxed);
        let result = config
            .functions(&inner.functions)
            .invoke(
                &config.function_name,
                payload,
                InvokeOptions {
                    qualifier: config.qualifier.clone(),
                    ..InvokeOptions::default()
                },
            )
            .await;
        mapping.invoking.fetch_sub(1, Ordering::AcqRel);
        let took = started.elapsed().as_micros().max(1) as u64;
        let _ = mapping
            .invoke_micros
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                Some(if old == 0 { took } else { (old * 7 + took) / 8 })
            });
        mapping.batches.fetch_add(1, Ordering::Relaxed);
        let handed = kept.len();
        mapping
            .delivered
            .fetch_add(handed as u64, Ordering::Relaxed);
        let succeeded: Vec<&Received> = match result {
            Err(error) => {
                tracing::warn!(uuid = %config.uuid, %error, "event-source mapping cannot invoke");
                invoked_ok = false;
                Vec::new()
            }
            Ok(invoked) if invoked.function_error.is_some() => Vec::new(),
            Ok(_) if !config.report_batch_item_failures => kept,
            Ok(invoked) => {
                let ids: Vec<&str> = kept.iter().map(|r| r.sent.id.as_str()).collect();
                match event::batch_result(&invoked.payload, &ids) {
                    BatchResult::AllSucceeded => kept,
                    BatchResult::Failed(failed) => kept
                        .into_iter()
                        .filter(|r| !failed.contains(&r.sent.id))
                        .collect(),
                    BatchResult::AllFailed => Vec::new(),
                }
            }
        };
        let all_succeeded = succeeded.len() == handed;
        if !all_succeeded {
            mapping.failed_batches.fetch_add(1, Ordering::Relaxed);
        }
        to_delete.extend(succeeded);
        // What did not fit goes back to the queue for the next batch. In a FIFO queue only
        // once everything before it succeeded: a failed earlier message must come first.
        if all_succeeded || !config.fifo() {
            to_release = spill;
        }
    }
    let receipts = |messages: Vec<&Received>| -> Vec<String> {
        messages
            .into_iter()
            .map(|m| m.receipt_handle.clone())
            .collect()
    };
    finish(
        inner,
        mapping,
        config.queue_name(),
        receipts(to_delete),
        receipts(to_release),
    );
    invoked_ok
}

/// Deletes the messages `delete` names and makes those `release` names visible again, in the
/// background: the poller receives its next batch meanwhile (the commits share the store's
/// group commits). A message whose delete is lost to a crash is delivered again, which
/// at-least-once delivery allows.
fn finish(
    inner: &Arc<Inner>,
    mapping: &Arc<Mapping>,
    queue: &str,
    delete: Vec<String>,
    release: Vec<String>,
) {
    if delete.is_empty() && release.is_empty() {
        return;
    }
    let source = Arc::clone(&inner.source);
    let mapping = Arc::clone(mapping);
    let queue = queue.to_owned();
    inner.tasks.spawn("delete", async move {
        let deleted = delete_all(&source, &queue, delete).await;
        mapping.deleted.fetch_add(deleted as u64, Ordering::Relaxed);
        // After the deletes: in a FIFO queue nothing released may overtake them.
        for receipt in release {
            if let Err(error) = source.release(queue.clone(), receipt).await {
                tracing::warn!(%error, "event-source mapping cannot release a message");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(queue: &str, batch_size: u32, window_seconds: u32) -> Config {
        Config {
            uuid: "u".into(),
            event_source_arn: format!("arn:aws:sqs:us-east-1:000000000000:{queue}"),
            function_arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
            function_name: "f".into(),
            qualifier: None,
            batch_size,
            window_seconds,
            report_batch_item_failures: false,
            maximum_concurrency: None,
            filters: None,
            enabled: true,
            last_modified_ms: 0,
            metrics_config: None,
            provisioned_poller_config: None,
            kms_key_arn: None,
            stream: None,
        }
    }

    #[test]
    fn one_receive_feeds_several_small_batches_except_in_fifo_queues_and_windows() {
        assert_eq!(batches_per_receive(&config("q", 1, 0)), 10);
        assert_eq!(batches_per_receive(&config("q", 3, 0)), 3);
        assert_eq!(batches_per_receive(&config("q", 10, 0)), 1);
        assert_eq!(batches_per_receive(&config("q", 100, 5)), 1);
        assert_eq!(batches_per_receive(&config("q", 1, 1)), 1);
        // A receive may hold several messages of one group: they go in one batch, in order.
        assert_eq!(batches_per_receive(&config("q.fifo", 1, 0)), 1);
    }
}
