//! A mapping's pollers. Each poller long-polls the queue, gathers a batch (up to `BatchSize`,
//! within the batching window), drops the messages no filter matches, invokes the function
//! synchronously and deletes what succeeded; failed messages stay and come back after the
//! queue's visibility timeout (and reach its dead-letter queue through the broker).
//!
//! Scaling: a mapping starts with one poller. A poller that finds more messages waiting
//! after its receive starts another, up to the mapping's `MaximumConcurrency` (else the
//! function's concurrency); a poller whose receive comes back empty stops unless it is the
//! last, which keeps long-polling. Each poller has at most one invocation in flight, so
//! concurrent invocations follow the backlog from 0 up to the limit and back. FIFO queues
//! keep their order per group: the broker hands out no message of a group while an earlier
//! one is in flight.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use sluice_broker::{MAX_RECEIVE, Receive, Received};
use sluice_functions::InvokeOptions;
use sluice_functions::function::limits::MAX_SYNC_PAYLOAD;

use super::event::{self, BatchResult};
use super::{Config, Inner, Live, Mapping};

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
        inner
            .functions
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
        let gathered = tokio::select! {
            gathered = gather(&inner, &live.config, wait) => gathered,
            // Settings changed (or disabled, deleted): start over with the new ones.
            _ = changes.changed() => continue,
            () = &mut stopping => break,
        };
        match gathered {
            Err(error) => {
                tracing::warn!(uuid = %live.config.uuid, %error, "event-source mapping cannot receive");
                tokio::select! {
                    () = tokio::time::sleep(BACKOFF) => {}
                    () = &mut stopping => break,
                }
            }
            Ok(batch) if batch.is_empty() => {
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
                if inner.source.visible(live.config.queue_name()) > 0 {
                    spawn(&inner, &mapping);
                }
                // Not cancelled by shutdown: the invocation finishes within the grace and
                // its messages are deleted.
                if !process(&inner, &mapping, &live, batch).await {
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

/// Receives a batch: up to `BatchSize` messages, waiting `wait` seconds for the first and,
/// with a batching window, gathering more until the window has passed since it arrived.
async fn gather(
    inner: &Inner,
    config: &Config,
    wait: i64,
) -> Result<Vec<Received>, sluice_broker::Error> {
    let size = config.batch_size as usize;
    let queue = config.queue_name().to_owned();
    let receive = |max: usize, wait: i64| Receive {
        max_messages: max.clamp(1, MAX_RECEIVE),
        visibility_timeout: None,
        wait_seconds: Some(wait),
    };
    let mut batch = inner
        .source
        .receive(queue.clone(), receive(size, wait))
        .await?;
    if batch.is_empty() || config.window_seconds == 0 || batch.len() >= size {
        return Ok(batch);
    }
    let clock = inner.source.clock();
    let deadline = clock.now_ms() + i64::from(config.window_seconds) * 1000;
    while batch.len() < size {
        let remaining = deadline - clock.now_ms();
        if remaining <= 0 {
            break;
        }
        // Whole seconds (receives are not cancelled: a dropped receive could hide messages
        // until their visibility timeout); the last fraction is slept.
        let more = inner
            .source
            .receive(queue.clone(), receive(size - batch.len(), remaining / 1000))
            .await?;
        if more.is_empty() && remaining < 1000 {
            clock.sleep_until(deadline).await;
        }
        batch.extend(more);
    }
    Ok(batch)
}

/// Delivers one batch; whether the function could be invoked (false: back off).
async fn process(inner: &Inner, mapping: &Mapping, live: &Live, batch: Vec<Received>) -> bool {
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
        let now = mapping.invoking.fetch_add(1, Ordering::AcqRel) + 1;
        mapping.peak_invoking.fetch_max(now, Ordering::Relaxed);
        let result = inner
            .functions
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
    delete(inner, mapping, config.queue_name(), &to_delete).await;
    release(inner, config.queue_name(), &to_release).await;
    invoked_ok
}

/// Makes `messages` visible again now.
async fn release(inner: &Inner, queue: &str, messages: &[&Received]) {
    for message in messages {
        let released = inner
            .source
            .release(queue.to_owned(), message.receipt_handle.clone())
            .await;
        if let Err(error) = released {
            tracing::warn!(%error, "event-source mapping cannot release a message");
        }
    }
}

/// Deletes `messages` concurrently (their commits share the store's group commits).
async fn delete(inner: &Inner, mapping: &Mapping, queue: &str, messages: &[&Received]) {
    let mut deletes = tokio::task::JoinSet::new();
    for message in messages {
        let source = Arc::clone(&inner.source);
        let (queue, receipt) = (queue.to_owned(), message.receipt_handle.clone());
        deletes.spawn(async move { source.delete(queue, receipt).await });
    }
    while let Some(done) = deletes.join_next().await {
        match done {
            Ok(Ok(())) => {
                mapping.deleted.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Err(error)) => tracing::warn!(%error, "event-source mapping cannot delete"),
            Err(error) => tracing::warn!(%error, "event-source mapping delete task failed"),
        }
    }
}
