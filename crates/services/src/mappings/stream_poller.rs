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
//! was in flight is delivered again, never skipped. Records no `FilterCriteria` pattern
//! matches are passed over.
//!
//! With `TumblingWindowInSeconds` each record belongs to the window its arrival time falls in
//! (windows start at multiples of their length since the epoch); a batch holds one window's
//! records, and the function's `state` is carried to the window's next batch, committed with
//! the checkpoint. Once the window's time has passed (and its records are read), a final
//! invocation with no records hands over the state (`isFinalInvokeForWindow`).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sluice_functions::InvokeOptions;
use sluice_store::{ResourceRecord, Write};
use sluice_streams::{ReadRecord, Start};

use super::{CHECKPOINT_KIND, Config, Inner, Mapping, SinkOutcome, StreamSettings};

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

/// A tumbling window a poller has open: where it starts (a multiple of its length since the
/// epoch, by its records' arrival times) and the state the function returned last.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OpenWindow {
    start_ms: i64,
    state: Value,
}

/// The largest state a window carries; a larger one ends the window early, as on AWS.
const MAX_WINDOW_STATE: usize = 1024 * 1024;

/// A checkpoint's body: the next place to read, in decimal; with a window open, JSON holding
/// both, so that the window's state moves in the same commit as the place.
pub(crate) fn parse_checkpoint(body: &[u8]) -> Option<(u64, Option<OpenWindow>)> {
    #[derive(Deserialize)]
    struct WithWindow {
        next: u64,
        window: OpenWindow,
    }
    let text = std::str::from_utf8(body).ok()?;
    if let Ok(next) = text.parse::<u64>() {
        return Some((next, None));
    }
    let parsed: WithWindow = serde_json::from_str(text).ok()?;
    Some((parsed.next, Some(parsed.window)))
}

fn checkpoint_body(next: u64, window: Option<&OpenWindow>) -> Vec<u8> {
    match window {
        None => next.to_string().into_bytes(),
        Some(window) => json!({"next": next, "window": window})
            .to_string()
            .into_bytes(),
    }
}

async fn save(inner: &Inner, key: &str, next: u64, window: Option<&OpenWindow>) -> bool {
    let write = Write::PutResource(ResourceRecord {
        kind: CHECKPOINT_KIND.into(),
        key: key.to_owned(),
        body: checkpoint_body(next, window),
    });
    match inner.source.commit(vec![write]).await {
        Ok(()) => {
            inner.checkpoints().insert(key.to_owned(), next);
            match window {
                Some(window) => inner.windows().insert(key.to_owned(), window.clone()),
                None => inner.windows().remove(key),
            };
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
                Ok(next) if save(inner, &key, next, None).await => next,
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
    let mut open = inner.windows().get(&key).cloned();
    let clock = inner.source.clock().clone();
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
        let length_ms = i64::from(settings.tumbling_window_seconds) * 1000;
        if length_ms == 0 {
            // The window was turned off: its state goes with the next checkpoint.
            open = None;
        }
        let window_end = open.as_ref().map(|w| w.start_ms + length_ms);
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
            let end = streams.shard_end(name, shard);
            // Caught up: a window whose time has passed (or whose shard is closed) gets no
            // more records.
            if let Some(window) = open.clone()
                && (end.is_some() || window_end.is_some_and(|e| clock.now_ms() >= e))
            {
                let windowed = Windowed {
                    settings: &settings,
                    length_ms,
                    key: &key,
                    next,
                };
                if !close_window(inner, mapping, &config, shard, &windowed, &window, false).await {
                    break;
                }
                open = None;
                continue;
            }
            // A closed shard gets no more records: read to its end, its children may start.
            if let Some(end) = end
                && save(inner, &key, next.max(end + 1), None).await
            {
                break;
            }
            let closes = async {
                match window_end {
                    Some(end) => clock.sleep_until(end).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = committed.changed() => {}
                _ = changes.changed() => {}
                () = &mut stopping => break,
                () = closes => {}
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
            if save(inner, &key, after, open.as_ref()).await {
                next = after;
            }
            continue;
        }
        // With a tumbling window a batch holds one window's records, and an earlier window
        // still open is closed first.
        let mut records = records;
        let mut window = None;
        if length_ms > 0 {
            let start = window_start(records[0].arrival_ms, length_ms);
            let cut = records
                .iter()
                .position(|r| window_start(r.arrival_ms, length_ms) != start)
                .unwrap_or(records.len());
            records.truncate(cut);
            if let Some(earlier) = open.clone()
                && earlier.start_ms != start
            {
                let windowed = Windowed {
                    settings: &settings,
                    length_ms,
                    key: &key,
                    next,
                };
                if !close_window(inner, mapping, &config, shard, &windowed, &earlier, false).await {
                    break;
                }
                open = None;
                continue;
            }
            window = Some(open.clone().unwrap_or(OpenWindow {
                start_ms: start,
                state: json!({}),
            }));
        }
        // The batch ends at its last record read, matched by the filters or not.
        let last = records[records.len() - 1].seq;
        if !live.filters.is_empty() {
            records.retain(|r| {
                let view = filter_view(r);
                live.filters.iter().any(|p| p.matches(&view))
            });
            if records.is_empty() {
                if save(inner, &key, last + 1, open.as_ref()).await {
                    next = last + 1;
                }
                continue;
            }
        }
        let first = records[0].seq;
        let call = window.as_ref().map(|w| WindowCall {
            window: w,
            length_ms,
            last: false,
            early: false,
        });
        let (outcome, state) = invoke(inner, mapping, &config, shard, &records, call).await;
        // The window's state after what succeeded.
        if let (Some(mut window), Some(state)) = (window, state) {
            window.state = state;
            open = Some(window);
        }
        let moved_to = match outcome {
            Outcome::Succeeded => Some(last + 1),
            Outcome::FailedFrom(seq) if seq > first => Some(seq),
            Outcome::FailedFrom(_) | Outcome::Failed => None,
        };
        match moved_to {
            Some(to) if to == last + 1 => {
                attempts = 0;
                limit = None;
                if save(inner, &key, to, open.as_ref()).await {
                    next = to;
                }
                // A state past AWS's limit ends its window early; the window goes on with a
                // fresh state.
                if let Some(window) = open.clone()
                    && window.state.to_string().len() > MAX_WINDOW_STATE
                {
                    let windowed = Windowed {
                        settings: &settings,
                        length_ms,
                        key: &key,
                        next,
                    };
                    if !close_window(inner, mapping, &config, shard, &windowed, &window, true).await
                    {
                        break;
                    }
                    open = Some(OpenWindow {
                        start_ms: window.start_ms,
                        state: json!({}),
                    });
                }
            }
            partial => {
                mapping.failed_batches.fetch_add(1, Ordering::Relaxed);
                if let Some(to) = partial
                    && save(inner, &key, to, open.as_ref()).await
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
                    if save(inner, &key, last + 1, open.as_ref()).await {
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

/// Where the window of a record that arrived at `arrival_ms` starts.
fn window_start(arrival_ms: i64, length_ms: i64) -> i64 {
    arrival_ms.div_euclid(length_ms) * length_ms
}

/// What closing a window needs of its poller.
struct Windowed<'a> {
    settings: &'a StreamSettings,
    length_ms: i64,
    key: &'a str,
    next: u64,
}

/// Closes `window` with the function's final invocation for it (no records, its state,
/// `isFinalInvokeForWindow`), retried as a batch is; once it succeeded (or its retries ran
/// out) the window is forgotten with the checkpoint (`early`: its state grew past the limit,
/// the caller keeps the window open with a fresh state). False if the poller is stopping.
async fn close_window(
    inner: &Inner,
    mapping: &Mapping,
    config: &Config,
    shard: u32,
    windowed: &Windowed<'_>,
    window: &OpenWindow,
    early: bool,
) -> bool {
    let mut attempts: i64 = 0;
    loop {
        if inner.tasks.is_stopping() {
            return false;
        }
        let call = WindowCall {
            window,
            length_ms: windowed.length_ms,
            last: true,
            early,
        };
        let (outcome, _) = invoke(inner, mapping, config, shard, &[], Some(call)).await;
        if matches!(outcome, Outcome::Succeeded) {
            break;
        }
        mapping.failed_batches.fetch_add(1, Ordering::Relaxed);
        attempts += 1;
        let max = i64::from(windowed.settings.maximum_retry_attempts);
        if max >= 0 && attempts > max {
            tracing::warn!(uuid = %config.uuid, shard, "stream mapping gives up on closing a tumbling window");
            break;
        }
        tokio::time::sleep(Duration::from_millis(50u64 << attempts.min(5)).min(MAX_BACKOFF)).await;
    }
    let kept = early.then(|| OpenWindow {
        start_ms: window.start_ms,
        state: json!({}),
    });
    save(inner, windowed.key, windowed.next, kept.as_ref()).await
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
            "streamArn": super::stream_arn(&config.event_source_arn),
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

/// What `FilterCriteria` patterns see of a record: its `kinesis` members, with `data` parsed
/// when it is a JSON object (otherwise it is the base64 text, which no `data` field matches).
fn filter_view(record: &ReadRecord) -> Value {
    let data = serde_json::from_slice::<Value>(&record.data)
        .ok()
        .filter(Value::is_object)
        .unwrap_or_else(|| Value::String(STANDARD.encode(&record.data)));
    json!({
        "kinesisSchemaVersion": "1.0",
        "partitionKey": record.partition_key,
        "sequenceNumber": record.sequence_number,
        "data": data,
        "approximateArrivalTimestamp": record.arrival_ms as f64 / 1000.0,
    })
}

/// A record as AWS's Kinesis event for Lambda carries it (Pipes lift its `kinesis` members to
/// the top).
pub(crate) fn kinesis_record(record: &ReadRecord, source: &str, region: &str, role: &str) -> Value {
    let shard_id = sluice_streams::keys::parse_sequence_number(&record.sequence_number)
        .map(|(_, shard)| sluice_streams::keys::shard_id(shard))
        .unwrap_or_default();
    json!({
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": record.partition_key,
            "sequenceNumber": record.sequence_number,
            "data": STANDARD.encode(&record.data),
            "approximateArrivalTimestamp": record.arrival_ms as f64 / 1000.0,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": format!("{shard_id}:{}", record.sequence_number),
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": role,
        "awsRegion": region,
        "eventSourceARN": source,
    })
}

/// An invocation inside a tumbling window.
#[derive(Clone, Copy)]
struct WindowCall<'a> {
    window: &'a OpenWindow,
    length_ms: i64,
    /// The window's final invocation.
    last: bool,
    /// The window ends early: its state grew past the limit.
    early: bool,
}

/// AWS's Kinesis event for `records`, with a tumbling window's members in one.
fn event(
    inner: &Inner,
    config: &Config,
    shard: u32,
    role: &str,
    records: &[ReadRecord],
    call: Option<WindowCall<'_>>,
) -> Value {
    let shard_id = sluice_streams::keys::shard_id(shard);
    let source = super::stream_arn(&config.event_source_arn);
    let records: Vec<Value> = records
        .iter()
        .map(|r| kinesis_record(r, source, &inner.scope.region, role))
        .collect();
    let Some(call) = call else {
        return json!({ "Records": records });
    };
    let time = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let start = call.window.start_ms;
    json!({
        "Records": records,
        "window": {"start": time(start), "end": time(start + call.length_ms)},
        "state": call.window.state,
        "shardId": shard_id,
        "eventSourceARN": super::stream_arn(&config.event_source_arn),
        "isFinalInvokeForWindow": call.last,
        "isWindowTerminatedEarly": call.early,
    })
}

/// Invokes the function with `records`: how it went, and inside a window the state it
/// returned (for what succeeded).
async fn invoke(
    inner: &Inner,
    mapping: &Mapping,
    config: &Config,
    shard: u32,
    records: &[ReadRecord],
    call: Option<WindowCall<'_>>,
) -> (Outcome, Option<Value>) {
    let sink = mapping.live.borrow().sink.clone();
    if let Some(sink) = sink {
        let outcome = sink.deliver(records).await;
        mapping.batches.fetch_add(1, Ordering::Relaxed);
        mapping
            .delivered
            .fetch_add(records.len() as u64, Ordering::Relaxed);
        let outcome = match outcome {
            SinkOutcome::All => Outcome::Succeeded,
            SinkOutcome::FailedFrom(sequence_number) => records
                .iter()
                .find(|r| r.sequence_number == sequence_number)
                .map_or(Outcome::Failed, |r| Outcome::FailedFrom(r.seq)),
            SinkOutcome::Failed(error) => {
                tracing::warn!(reader = %config.uuid, %error, "a stream reader's batch failed");
                Outcome::Failed
            }
        };
        return (outcome, None);
    }
    let functions = config.functions(&inner.functions);
    let role = functions
        .get(&config.function_name)
        .map(|f| f.role)
        .unwrap_or_default();
    let payload = Bytes::from(event(inner, config, shard, &role, records, call).to_string());
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
    let invoked = match result {
        Err(error) => {
            tracing::warn!(uuid = %config.uuid, %error, "stream mapping cannot invoke");
            return (Outcome::Failed, None);
        }
        Ok(invoked) if invoked.function_error.is_some() => return (Outcome::Failed, None),
        Ok(invoked) => invoked,
    };
    // Inside a window the response must carry the state, or the invocation failed (AWS's
    // rule); a final invocation's state is not kept.
    let state = match call {
        Some(call) if !call.last => match window_state(&invoked.payload) {
            Some(state) => Some(state),
            None => {
                tracing::warn!(uuid = %config.uuid, "a tumbling window's function returned no state");
                return (Outcome::Failed, None);
            }
        },
        _ => None,
    };
    let outcome = match invoked {
        _ if !config.report_batch_item_failures || records.is_empty() => Outcome::Succeeded,
        invoked => {
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
    };
    match outcome {
        Outcome::Failed => (outcome, None),
        outcome => (outcome, state),
    }
}

/// The `state` object of a windowed invocation's response (`TimeWindowEventResponse`).
fn window_state(payload: &[u8]) -> Option<Value> {
    let response: Value = serde_json::from_slice(payload).ok()?;
    response.get("state").filter(|s| s.is_object()).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_keep_their_old_form_without_a_window_and_carry_one_with_it() {
        assert_eq!(checkpoint_body(42, None), b"42");
        assert_eq!(parse_checkpoint(b"42"), Some((42, None)));
        let window = OpenWindow {
            start_ms: 1_607_497_440_000,
            state: json!({"host-1": 3}),
        };
        let body = checkpoint_body(7, Some(&window));
        assert_eq!(parse_checkpoint(&body), Some((7, Some(window))));
        assert_eq!(parse_checkpoint(b"not a checkpoint"), None);
    }

    #[test]
    fn windows_start_at_multiples_of_their_length_since_the_epoch() {
        // AWS's example: a record at 07:04:35 in a 120-second window: 07:04:00 to 07:06:00.
        let at = 1_607_497_475_000;
        assert_eq!(window_start(at, 120_000), 1_607_497_440_000);
        assert_eq!(window_start(1_607_497_440_000, 120_000), 1_607_497_440_000);
        assert_eq!(window_start(1_607_497_439_999, 120_000), 1_607_497_320_000);
    }

    #[test]
    fn a_windowed_response_must_carry_an_object_state() {
        assert_eq!(
            window_state(br#"{"state": {"a": 1}, "batchItemFailures": []}"#),
            Some(json!({"a": 1}))
        );
        assert_eq!(window_state(br#"{"batchItemFailures": []}"#), None);
        assert_eq!(window_state(br#"{"state": 3}"#), None);
        assert_eq!(window_state(b"null"), None);
        assert_eq!(window_state(b""), None);
    }
}
