//! A stream mapping's pollers: `ParallelizationFactor` per shard, each in order for the
//! partition keys it owns (a key's MD5 modulo the factor), so records of one key stay in
//! order. A shard's pollers start once its parents are read to their end (after resharding,
//! parents are finished before children), and a closed shard's pollers stop at its end and
//! start its children. Each reads from its checkpoint (the
//! place after the last record its function took, kept in the store), gathers a batch (up to
//! `BatchSize`; with a batching window, until the window passes or the batch is full; with
//! none, whatever is there as soon as it is committed), invokes the function synchronously
//! with AWS's Kinesis event, and moves the checkpoint past what succeeded. A failed batch is
//! retried from its first record (with `BisectBatchOnFunctionError`, halved until the failing
//! record is alone, which does not count as a retry); after `MaximumRetryAttempts` it is
//! skipped. With
//! `ReportBatchItemFailures` the function names the first failed record by its sequence number
//! and the retry starts there. A restart resumes at the checkpoint: a batch whose invocation
//! was in flight is delivered again, never skipped.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde_json::{Value, json};
use sluice_functions::InvokeOptions;
use sluice_store::{ResourceRecord, Write};
use sluice_streams::{ReadRecord, Start};

use super::{CHECKPOINT_KIND, Config, Inner, Mapping, StreamSettings};

/// How long a poller waits after its function failed it, at most.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Starts the pollers of every (shard, slot) that has none.
pub(super) fn start(inner: &Arc<Inner>, mapping: &Arc<Mapping>) {
    let Some(streams) = inner.streams.clone() else {
        return;
    };
    if inner.tasks.is_stopping() {
        return;
    }
    let config = mapping.config();
    let factor = config
        .stream
        .as_ref()
        .map_or(1, |s| s.parallelization_factor.max(1));
    let name = stream_name(&config).to_owned();
    let shards = streams.shards(&name);
    let finished = |index: u32| {
        let checkpoints = inner.checkpoints();
        shards.iter().find(|s| s.index == index).is_some_and(|s| {
            s.ending_seq.is_some_and(|end| {
                (0..factor).all(|slot| {
                    checkpoints
                        .get(&checkpoint_key(&config.uuid, index, slot))
                        .is_some_and(|next| *next > end)
                })
            })
        })
    };
    for shard in &shards {
        let parents_done = shard
            .parent
            .into_iter()
            .chain(shard.adjacent_parent)
            .all(&finished);
        if !parents_done || finished(shard.index) {
            continue;
        }
        let shard = shard.index;
        for slot in 0..factor {
            let mut running = mapping
                .stream_pollers
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if !running.insert((shard, slot)) {
                continue;
            }
            drop(running);
            let now = mapping.pollers.fetch_add(1, Ordering::AcqRel) + 1;
            mapping.peak_pollers.fetch_max(now, Ordering::Relaxed);
            let (inner, mapping, name) = (Arc::clone(inner), Arc::clone(mapping), name.clone());
            let tasks = inner.tasks.clone();
            tasks.spawn("stream poller", async move {
                run(&inner, &mapping, &name, shard, Slot { slot, factor }).await;
                mapping
                    .stream_pollers
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&(shard, slot));
                mapping.pollers.fetch_sub(1, Ordering::AcqRel);
                // Stopped for a new factor, or at a closed shard's end: what should run now
                // (the new slots, the children).
                if mapping.live.borrow().active() {
                    start(&inner, &mapping);
                }
            });
        }
    }
}

/// Which partition keys of a shard a poller owns: those whose MD5 modulo `factor` is `slot`.
#[derive(Debug, Clone, Copy)]
struct Slot {
    slot: u32,
    factor: u32,
}

impl Slot {
    fn owns(self, partition_key: &str) -> bool {
        self.factor <= 1
            || sluice_streams::keys::hash_of(partition_key) % u128::from(self.factor)
                == u128::from(self.slot)
    }
}

fn stream_name(config: &Config) -> &str {
    super::stream_name(&config.event_source_arn)
}

/// `<uuid>/<shard>` for the first slot (the only one without parallelization), else
/// `<uuid>/<shard>/<slot>`.
fn checkpoint_key(uuid: &str, shard: u32, slot: u32) -> String {
    if slot == 0 {
        format!("{uuid}/{shard}")
    } else {
        format!("{uuid}/{shard}/{slot}")
    }
}

async fn save(inner: &Inner, key: &str, next: u64) -> bool {
    let write = Write::PutResource(ResourceRecord {
        kind: CHECKPOINT_KIND.into(),
        key: key.to_owned(),
        body: next.to_string().into_bytes(),
    });
    match inner.source.commit(vec![write]).await {
        Ok(()) => {
            inner.checkpoints().insert(key.to_owned(), next);
            true
        }
        Err(error) => {
            tracing::warn!(%error, key, "cannot save a stream mapping's checkpoint");
            false
        }
    }
}

fn start_position(settings: &StreamSettings) -> Start {
    match settings.starting_position.as_str() {
        "TRIM_HORIZON" => Start::TrimHorizon,
        "AT_TIMESTAMP" => Start::AtTimestamp(settings.starting_position_timestamp_ms.unwrap_or(0)),
        _ => Start::Latest,
    }
}

async fn run(inner: &Arc<Inner>, mapping: &Arc<Mapping>, name: &str, shard: u32, slot: Slot) {
    let Some(streams) = inner.streams.clone() else {
        return;
    };
    let Some(mut committed) = streams.watch(name) else {
        return;
    };
    let mut changes = mapping.live.subscribe();
    let stopping = inner.tasks.cancelled();
    tokio::pin!(stopping);
    let uuid = mapping.config().uuid.clone();
    let key = checkpoint_key(&uuid, shard, slot.slot);
    // A slot added by a larger factor starts where the shard's first slot stands.
    let saved = {
        let checkpoints = inner.checkpoints();
        checkpoints
            .get(&key)
            .or_else(|| checkpoints.get(&checkpoint_key(&uuid, shard, 0)))
            .copied()
    };
    let mut next = match saved {
        Some(next) => next,
        None => {
            let Some(settings) = mapping.config().stream.clone() else {
                return;
            };
            match streams
                .start_of(name, shard, start_position(&settings))
                .await
            {
                // Fixed now, so that LATEST means the same place after a restart.
                Ok(next) if save(inner, &key, next).await => next,
                Ok(_) => return,
                Err(error) => {
                    tracing::warn!(%error, name, shard, "stream mapping cannot start");
                    return;
                }
            }
        }
    };
    let mut attempts: i64 = 0;
    let mut limit: Option<usize> = None;
    loop {
        let live = changes.borrow_and_update().clone();
        if !live.active() || inner.tasks.is_stopping() {
            break;
        }
        let config = Arc::clone(&live.config);
        let Some(settings) = config.stream.clone() else {
            break;
        };
        if settings.parallelization_factor.max(1) != slot.factor {
            // The factor changed: the pollers of the new factor take over.
            break;
        }
        let size = limit.unwrap_or(config.batch_size as usize).max(1);
        let records = match gather(
            inner,
            &streams,
            &config,
            name,
            shard,
            next,
            size,
            slot,
            &mut committed,
        )
        .await
        {
            Ok((records, skipped_to)) => {
                // Other slots' records are theirs: not read again (this slot's checkpoint
                // moves with its next batch).
                next = next.max(skipped_to);
                records
            }
            Err(error) => {
                tracing::warn!(%error, name, shard, "stream mapping cannot read");
                Vec::new()
            }
        };
        if records.is_empty() {
            // A closed shard gets no more records: read to its end, its children may start.
            if let Some(end) = streams.shard_end(name, shard)
                && save(inner, &key, next.max(end + 1)).await
            {
                break;
            }
            tokio::select! {
                _ = committed.changed() => {}
                _ = changes.changed() => {}
                () = &mut stopping => break,
                // A changed shard set or a lost wake-up is caught up within a second.
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            continue;
        }
        // Records older than MaximumRecordAgeInSeconds are skipped, as AWS discards them.
        let now = inner.source.clock().now_ms();
        let (expired, records): (Vec<ReadRecord>, Vec<ReadRecord>) =
            records.into_iter().partition(|r| {
                settings.maximum_record_age_seconds >= 0
                    && now - r.arrival_ms > i64::from(settings.maximum_record_age_seconds) * 1000
            });
        if !expired.is_empty() {
            report(
                inner,
                &config,
                &settings,
                shard,
                &expired,
                "RecordAgeExceeded",
                0,
            )
            .await;
        }
        if records.is_empty() {
            let after = expired.last().map_or(next, |r| r.seq + 1);
            if save(inner, &key, after).await {
                next = after;
            }
            continue;
        }
        let first = records[0].seq;
        let last = records[records.len() - 1].seq;
        let outcome = invoke(inner, mapping, &config, shard, &records).await;
        let moved_to = match outcome {
            Outcome::Succeeded => Some(last + 1),
            Outcome::FailedFrom(seq) if seq > first => Some(seq),
            Outcome::FailedFrom(_) | Outcome::Failed => None,
        };
        match moved_to {
            Some(to) if to == last + 1 => {
                attempts = 0;
                limit = None;
                if save(inner, &key, to).await {
                    next = to;
                }
            }
            partial => {
                mapping.failed_batches.fetch_add(1, Ordering::Relaxed);
                if let Some(to) = partial
                    && save(inner, &key, to).await
                {
                    next = to;
                }
                // Splitting a batch does not count towards the retries, as on AWS.
                if settings.bisect_batch_on_function_error && records.len() > 1 {
                    limit = Some(records.len().div_ceil(2));
                    continue;
                }
                attempts += 1;
                let max = i64::from(settings.maximum_retry_attempts);
                if max >= 0 && attempts > max {
                    tracing::warn!(uuid = %config.uuid, shard, first, last, "stream mapping gives up on a batch after its retries");
                    report(
                        inner,
                        &config,
                        &settings,
                        shard,
                        &records,
                        "RetryAttemptsExhausted",
                        attempts,
                    )
                    .await;
                    attempts = 0;
                    limit = None;
                    if save(inner, &key, last + 1).await {
                        next = last + 1;
                    }
                    continue;
                }
                let backoff = Duration::from_millis(50u64 << attempts.min(5)).min(MAX_BACKOFF);
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = &mut stopping => break,
                }
            }
        }
    }
}

/// A batch of this slot's records from `next` on: what is there, or, with a batching window,
/// until the window passes or the batch is full; and the place up to which only other slots'
/// records were found (nothing to read again there).
#[allow(clippy::too_many_arguments)]
async fn gather(
    inner: &Inner,
    streams: &Arc<dyn crate::stream_source::StreamSource>,
    config: &Config,
    name: &str,
    shard: u32,
    next: u64,
    size: usize,
    slot: Slot,
    committed: &mut tokio::sync::watch::Receiver<u64>,
) -> Result<(Vec<ReadRecord>, u64), String> {
    // Reads past the records of other slots until some are this slot's (or the shard's end).
    let read = |from: u64, want: usize| async move {
        let mut from = from;
        loop {
            let page = streams
                .read_from(name, shard, from, want.max(1) * slot.factor.max(1) as usize)
                .await?;
            let Some(last) = page.last().map(|r| r.seq) else {
                return Ok::<_, String>((Vec::new(), from));
            };
            let mine: Vec<ReadRecord> = page
                .into_iter()
                .filter(|r| slot.owns(&r.partition_key))
                .take(want)
                .collect();
            if !mine.is_empty() {
                return Ok((mine, from));
            }
            from = last + 1;
        }
    };
    let (mut records, skipped_to) = read(next, size).await?;
    if config.window_seconds == 0 || records.len() >= size || records.is_empty() {
        return Ok((records, skipped_to));
    }
    let clock = inner.source.clock();
    let deadline = clock.now_ms() + i64::from(config.window_seconds) * 1000;
    while records.len() < size {
        let remaining = deadline - clock.now_ms();
        if remaining <= 0 {
            break;
        }
        tokio::select! {
            _ = committed.changed() => {}
            () = clock.sleep_until(deadline) => break,
        }
        let from = records.last().map_or(next, |r| r.seq + 1);
        records.extend(read(from, size - records.len()).await?.0);
    }
    Ok((records, skipped_to))
}

/// Sends the on-failure destination (if any) AWS's record of records given up on: which
/// shard, which sequence numbers, why.
async fn report(
    inner: &Inner,
    config: &Config,
    settings: &StreamSettings,
    shard: u32,
    records: &[ReadRecord],
    condition: &str,
    attempts: i64,
) {
    let (Some(destination), Some(first), Some(last)) =
        (&settings.on_failure, records.first(), records.last())
    else {
        return;
    };
    let time = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    let mut body = json!({
        "requestContext": {
            "requestId": sluice_functions::uuid_v4(),
            "functionArn": config.function_arn,
            "condition": condition,
            "approximateInvokeCount": attempts,
        },
        "version": "1.0",
        "timestamp": time(inner.source.clock().now_ms()),
        "KinesisBatchInfo": {
            "shardId": sluice_streams::keys::shard_id(shard),
            "startSequenceNumber": first.sequence_number,
            "endSequenceNumber": last.sequence_number,
            "approximateArrivalOfFirstRecord": time(first.arrival_ms),
            "approximateArrivalOfLastRecord": time(last.arrival_ms),
            "batchSize": records.len(),
            "streamArn": config.event_source_arn,
        },
    });
    if condition == "RetryAttemptsExhausted" {
        body["responseContext"] = json!({
            "statusCode": 200,
            "executedVersion": config.qualifier.as_deref().unwrap_or("$LATEST"),
            "functionError": "Unhandled",
        });
    }
    if let Err(error) = inner
        .source
        .send_to(destination.clone(), body.to_string())
        .await
    {
        tracing::warn!(%error, destination, "cannot send a stream mapping's failure record");
    }
}

enum Outcome {
    Succeeded,
    /// Everything before this place succeeded.
    FailedFrom(u64),
    Failed,
}

/// AWS's Kinesis event for `records`.
fn event(inner: &Inner, config: &Config, shard: u32, role: &str, records: &[ReadRecord]) -> Value {
    let shard_id = sluice_streams::keys::shard_id(shard);
    let records: Vec<Value> = records
        .iter()
        .map(|r| {
            json!({
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": r.partition_key,
                    "sequenceNumber": r.sequence_number,
                    "data": STANDARD.encode(&r.data),
                    "approximateArrivalTimestamp": r.arrival_ms as f64 / 1000.0,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": format!("{shard_id}:{}", r.sequence_number),
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": role,
                "awsRegion": inner.scope.region,
                "eventSourceARN": config.event_source_arn,
            })
        })
        .collect();
    json!({ "Records": records })
}

async fn invoke(
    inner: &Inner,
    mapping: &Mapping,
    config: &Config,
    shard: u32,
    records: &[ReadRecord],
) -> Outcome {
    let functions = config.functions(&inner.functions);
    let role = functions
        .get(&config.function_name)
        .map(|f| f.role)
        .unwrap_or_default();
    let payload = Bytes::from(event(inner, config, shard, &role, records).to_string());
    let now = mapping.invoking.fetch_add(1, Ordering::AcqRel) + 1;
    mapping.peak_invoking.fetch_max(now, Ordering::Relaxed);
    let result = functions
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
    mapping
        .delivered
        .fetch_add(records.len() as u64, Ordering::Relaxed);
    match result {
        Err(error) => {
            tracing::warn!(uuid = %config.uuid, %error, "stream mapping cannot invoke");
            Outcome::Failed
        }
        Ok(invoked) if invoked.function_error.is_some() => Outcome::Failed,
        Ok(_) if !config.report_batch_item_failures => Outcome::Succeeded,
        Ok(invoked) => {
            let ids: Vec<&str> = records.iter().map(|r| r.sequence_number.as_str()).collect();
            match super::event::batch_result(&invoked.payload, &ids) {
                super::event::BatchResult::AllSucceeded => Outcome::Succeeded,
                // The retry starts at the earliest failed record.
                super::event::BatchResult::Failed(failed) => records
                    .iter()
                    .find(|r| failed.contains(&r.sequence_number))
                    .map_or(Outcome::Failed, |r| Outcome::FailedFrom(r.seq)),
                super::event::BatchResult::AllFailed => Outcome::Failed,
            }
        }
    }
}
