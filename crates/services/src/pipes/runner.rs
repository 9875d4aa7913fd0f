//! A pipe's poller: one per RUNNING pipe. It gathers a batch from the source queue (up to
//! `BatchSize`, within the batching window), deletes the messages no filter matches, runs the
//! enrichment on the batch, shapes each event with the target's `InputTemplate`, delivers,
//! and deletes the batch once the target took it. A batch that fails stays in the queue and
//! comes back after its visibility timeout (and reaches the queue's dead-letter queue through
//! the broker). Stopping or deleting the pipe ends the poller after the batch in flight.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use sluice_asl::Scope;
use sluice_asl::path::Path;
use sluice_broker::Received;
use sluice_functions::InvokeOptions;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sluice_streams::ReadRecord;

use super::template::{Context, Event, Template};
use super::{Callee, Handle, Inner, Live, PlanSource, Target};
use crate::mappings::event;
use crate::mappings::{SinkOutcome, StreamSink};
use crate::queue_source::BoxFuture;
use crate::queue_source::gather;

/// A poller's long poll (SQS's longest).
const WAIT_SECONDS: i64 = 20;
/// How long a poller waits after the queue or the target failed it.
const BACKOFF: Duration = Duration::from_secs(1);
/// SQS's and SNS's most entries per batch call.
const MAX_ENTRIES: usize = 10;

/// Starts the pipe's poller unless it runs.
pub(super) fn start(inner: &Arc<Inner>, handle: &Arc<Handle>) {
    if inner.tasks.is_stopping() || handle.polling.swap(true, Ordering::AcqRel) {
        return;
    }
    let (inner, handle) = (Arc::clone(inner), Arc::clone(handle));
    let tasks = inner.tasks.clone();
    tasks.spawn("pipe", run(inner, handle));
}

async fn run(inner: Arc<Inner>, handle: Arc<Handle>) {
    let streaming = matches!(handle.live.borrow().plan.source, PlanSource::Stream(_));
    if streaming {
        read_stream(&inner, &handle).await;
    } else {
        read_queue(&inner, &handle).await;
    }
    handle.polling.store(false, Ordering::Release);
    if handle.live.borrow().active() {
        // Started again while this poller was stopping.
        start(&inner, &handle);
    }
}

/// A Kinesis source: the event-source mappings' stream pollers read it (checkpoints,
/// retries, bisection, resharding) and hand each batch to the pipe; this task keeps them on
/// the pipe's current settings, and stops them with the pipe (forgetting their checkpoints
/// when it is deleted).
async fn read_stream(inner: &Arc<Inner>, handle: &Arc<Handle>) {
    let mut changes = handle.live.subscribe();
    let stopping = inner.tasks.cancelled();
    tokio::pin!(stopping);
    let id = reader_id(&handle.live.borrow().definition.arn);
    loop {
        let live: Live = changes.borrow_and_update().clone();
        if live.deleted || !live.active() {
            inner.mappings.stop_reader(&id, live.deleted).await;
            break;
        }
        let PlanSource::Stream(reading) = &live.plan.source else {
            break;
        };
        let sink = PipeSink {
            inner: Arc::clone(inner),
            handle: Arc::clone(handle),
            live: live.clone(),
        };
        inner.mappings.run_reader(&id, reading, Arc::new(sink));
        tokio::select! {
            _ = changes.changed() => {}
            // The mappings' tasks stop the pollers on shutdown; the checkpoints stay.
            () = &mut stopping => break,
        }
    }
}

/// The stream reader of the pipe with this ARN: its checkpoints are `<id>/<shard>`.
fn reader_id(arn: &str) -> String {
    arn.replace('/', ":")
}

/// A pipe as the destination of its stream reader's batches.
struct PipeSink {
    inner: Arc<Inner>,
    handle: Arc<Handle>,
    live: Live,
}

impl StreamSink for PipeSink {
    fn deliver<'a>(&'a self, records: &'a [ReadRecord]) -> BoxFuture<'a, SinkOutcome> {
        Box::pin(async move {
            let definition = &self.live.definition;
            let region = self.inner.scope.region.as_str();
            let events: Vec<Value> = records
                .iter()
                .map(|r| stream_record(r, &definition.source, region, &definition.role_arn))
                .collect();
            let ids: Vec<&str> = records.iter().map(|r| r.sequence_number.as_str()).collect();
            let counters = &self.handle.counters;
            match run_batch(&self.inner, &self.live, events, &ids).await {
                Ok(Delivered::All) => {
                    counters.batches.fetch_add(1, Ordering::Relaxed);
                    counters
                        .delivered
                        .fetch_add(records.len() as u64, Ordering::Relaxed);
                    SinkOutcome::All
                }
                // Records are retried from the first failed one on, in order.
                Ok(Delivered::AllBut(failed)) => {
                    counters.batches.fetch_add(1, Ordering::Relaxed);
                    counters.failed.fetch_add(1, Ordering::Relaxed);
                    match records.iter().find(|r| failed.contains(&r.sequence_number)) {
                        Some(record) => SinkOutcome::FailedFrom(record.sequence_number.clone()),
                        None => SinkOutcome::All,
                    }
                }
                Err(error) => {
                    counters.failed.fetch_add(1, Ordering::Relaxed);
                    SinkOutcome::Failed(error)
                }
            }
        })
    }
}

/// A Kinesis record as a pipe's event: the Lambda event's record with its `kinesis` members
/// at the top level, as Pipes sends it.
fn stream_record(record: &ReadRecord, source: &str, region: &str, role: &str) -> Value {
    let Value::Object(mut lambda) = crate::mappings::kinesis_record(record, source, region, role)
    else {
        return Value::Null;
    };
    let mut event = match lambda.shift_remove("kinesis") {
        Some(Value::Object(kinesis)) => kinesis,
        _ => serde_json::Map::new(),
    };
    event.extend(lambda);
    Value::Object(event)
}

fn timestamp(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

async fn read_queue(inner: &Arc<Inner>, handle: &Arc<Handle>) {
    let PlanSource::Queue(queue) = &handle.live.borrow().plan.source.clone() else {
        return;
    };
    let mut changes = handle.live.subscribe();
    let stopping = inner.tasks.cancelled();
    tokio::pin!(stopping);
    loop {
        let live: Live = changes.borrow_and_update().clone();
        if !live.active() || inner.tasks.is_stopping() {
            break;
        }
        let plan = &live.plan;
        let gathered = tokio::select! {
            gathered = gather(
                &*inner.source,
                queue,
                plan.batch_size,
                plan.window_seconds,
                WAIT_SECONDS,
            ) => gathered,
            // Stopped, updated or deleted: start over with the new settings.
            _ = changes.changed() => continue,
            () = &mut stopping => break,
        };
        let failed = match gathered {
            Err(error) => Some(error.to_string()),
            Ok(batch) if batch.is_empty() => None,
            // Not cancelled by a stop or shutdown: the batch in flight is delivered and its
            // messages deleted.
            Ok(batch) => deliver(inner, handle, &live, queue, batch).await.err(),
        };
        if let Some(error) = failed {
            tracing::warn!(pipe = %live.definition.name, %error, "pipe batch failed");
            tokio::select! {
                () = tokio::time::sleep(BACKOFF) => {}
                () = &mut stopping => break,
            }
        }
    }
}

/// An SQS record as a pipe's event (the Lambda event's record without
/// `md5OfMessageAttributes`, as Pipes sends it).
fn record(received: &Received, source: &str, region: &str) -> Value {
    let mut value =
        serde_json::to_value(event::record(received, source, region)).unwrap_or(Value::Null);
    if let Value::Object(fields) = &mut value {
        fields.shift_remove("md5OfMessageAttributes");
    }
    value
}

/// The event with its JSON `body` (SQS) or base64 `data` holding JSON (Kinesis) decoded, as
/// filters and templates see it (AWS's implicit body data parsing).
fn decoded(raw: &Value) -> Value {
    let mut value = raw.clone();
    if raw["eventSource"] == "aws:kinesis"
        && let Some(Value::String(data)) = value.get("data")
        && let Ok(bytes) = STANDARD.decode(data)
        && let Ok(parsed @ Value::Object(_)) = serde_json::from_slice::<Value>(&bytes)
        && let Some(slot) = value.get_mut("data")
    {
        *slot = parsed;
        return value;
    }
    if let Some(Value::String(body)) = value.get("body")
        && let Ok(parsed @ Value::Object(_)) = serde_json::from_str::<Value>(body)
        && let Some(slot) = value.get_mut("body")
    {
        *slot = parsed;
    }
    value
}

/// An event as a template shapes it: its JSON when the template is JSON, else its text as a
/// JSON string; the event itself without a template.
fn shape(template: Option<&Template>, raw: &Value, context: &Context<'_>) -> Value {
    let Some(template) = template else {
        return raw.clone();
    };
    let decoded = decoded(raw);
    let text = template.render(
        Event {
            raw,
            decoded: &decoded,
        },
        context,
    );
    if template.is_json() {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    } else {
        Value::String(text)
    }
}

/// A message's text: a string as it is, anything else as its JSON.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Delivers one batch; the messages are deleted once the target took them (those no filter
/// matched at once).
async fn deliver(
    inner: &Arc<Inner>,
    handle: &Handle,
    live: &Live,
    queue: &str,
    batch: Vec<Received>,
) -> Result<(), String> {
    let definition = &live.definition;
    let plan = &live.plan;
    let region = inner.scope.region.as_str();
    let mut filtered = Vec::new();
    let mut kept: Vec<(&str, String)> = Vec::new();
    let mut events = Vec::new();
    for received in &batch {
        let raw = record(received, &definition.source, region);
        let matches = plan.filters.is_empty() || {
            let view = decoded(&raw);
            plan.filters.iter().any(|p| p.matches(&view))
        };
        if matches {
            kept.push((received.sent.id.as_str(), received.receipt_handle.clone()));
            events.push(raw);
        } else {
            filtered.push(received.receipt_handle.clone());
        }
    }
    let result = if events.is_empty() {
        Ok(Delivered::All)
    } else {
        let ids: Vec<&str> = kept.iter().map(|(id, _)| *id).collect();
        run_batch(inner, live, events, &ids).await
    };
    let counters = &handle.counters;
    counters
        .filtered
        .fetch_add(filtered.len() as u64, Ordering::Relaxed);
    let mut delete = filtered;
    let outcome = match result {
        Ok(Delivered::All) => {
            if !kept.is_empty() {
                counters.batches.fetch_add(1, Ordering::Relaxed);
            }
            counters
                .delivered
                .fetch_add(kept.len() as u64, Ordering::Relaxed);
            delete.extend(kept.into_iter().map(|(_, receipt)| receipt));
            Ok(())
        }
        // The failed messages stay in the queue and come back after their visibility timeout;
        // the rest are done.
        Ok(Delivered::AllBut(failed)) => {
            counters.batches.fetch_add(1, Ordering::Relaxed);
            counters.failed.fetch_add(1, Ordering::Relaxed);
            let before = delete.len();
            delete.extend(
                kept.into_iter()
                    .filter(|(id, _)| !failed.iter().any(|f| f == id))
                    .map(|(_, receipt)| receipt),
            );
            counters
                .delivered
                .fetch_add((delete.len() - before) as u64, Ordering::Relaxed);
            Ok(())
        }
        Err(error) => {
            counters.failed.fetch_add(1, Ordering::Relaxed);
            Err(error)
        }
    };
    crate::queue_source::delete_all(&inner.source, queue, delete).await;
    outcome
}

/// What the target took of a batch.
#[derive(Debug, PartialEq)]
enum Delivered {
    All,
    /// Everything but these source messages (by message id).
    AllBut(Vec<String>),
}

/// A Lambda or Step Functions target's result read for partial batch failures: an object with
/// `batchItemFailures` names the source messages (by message id) to retry, by the rules of
/// event-source mappings (a malformed list, or one naming no message of the batch, fails the
/// whole batch); any other result is a success.
fn target_result(output: &Value, ids: &[&str]) -> Result<Delivered, String> {
    if output.get("batchItemFailures").is_none() {
        return Ok(Delivered::All);
    }
    match event::batch_result(output.to_string().as_bytes(), ids) {
        event::BatchResult::AllSucceeded => Ok(Delivered::All),
        event::BatchResult::Failed(failed) => Ok(Delivered::AllBut(failed)),
        event::BatchResult::AllFailed => Err(format!(
            "the target reported invalid batchItemFailures: {}",
            output["batchItemFailures"]
        )),
    }
}

/// The source messages behind the target's events at `failed` positions, when each event is
/// one source message (no enrichment changed their number); else the whole batch failed.
fn failed_at(
    failed: &[usize],
    ids: &[&str],
    events: usize,
    what: String,
) -> Result<Delivered, String> {
    if failed.is_empty() {
        return Ok(Delivered::All);
    }
    if events != ids.len() || failed.len() == events {
        return Err(what);
    }
    Ok(Delivered::AllBut(
        failed.iter().map(|&i| ids[i].to_owned()).collect(),
    ))
}

/// Enrichment, then the target, for a batch's events.
async fn run_batch(
    inner: &Arc<Inner>,
    live: &Live,
    mut events: Vec<Value>,
    ids: &[&str],
) -> Result<Delivered, String> {
    let plan = &live.plan;
    let definition = &live.definition;
    let ingestion_time = timestamp(inner.source.clock().now_ms());
    let context = &Context {
        pipe_arn: &definition.arn,
        pipe_name: &definition.name,
        source_arn: &definition.source,
        enrichment_arn: definition.enrichment.as_deref().unwrap_or_default(),
        target_arn: &definition.target,
        ingestion_time: &ingestion_time,
    };
    if let Some(enrichment) = &plan.enrichment {
        let input: Vec<Value> = events
            .iter()
            .map(|e| shape(plan.enrichment_template.as_ref(), e, context))
            .collect();
        let output = call(inner, enrichment, Value::Array(input)).await?;
        events = match output {
            Value::Array(items) => items,
            // Nothing to deliver: the enrichment filtered the batch out.
            Value::Null => return Ok(Delivered::All),
            other => vec![other],
        };
        if events.is_empty() {
            return Ok(Delivered::All);
        }
    }
    let shaped: Vec<Value> = events
        .iter()
        .map(|e| shape(plan.target_template.as_ref(), e, context))
        .collect();
    match &plan.target {
        Target::Function {
            region,
            name,
            qualifier,
            fire_and_forget: true,
        } => {
            let payload = Bytes::from(Value::Array(shaped).to_string());
            let options = InvokeOptions {
                qualifier: qualifier.clone(),
                ..InvokeOptions::default()
            };
            inner
                .functions
                .in_region(region)
                .invoke_event(name, payload, options)
                .await
                .map(|_| Delivered::All)
                .map_err(|e| e.to_string())
        }
        Target::Function {
            region,
            name,
            qualifier,
            ..
        } => {
            let callee = Callee::Function {
                region: region.clone(),
                name: name.clone(),
                qualifier: qualifier.clone(),
            };
            let output = call(inner, &callee, Value::Array(shaped)).await?;
            target_result(&output, ids)
        }
        Target::StateMachine { arn, sync: true } => {
            let callee = Callee::StateMachine { arn: arn.clone() };
            let output = call(inner, &callee, Value::Array(shaped)).await?;
            target_result(&output, ids)
        }
        Target::StateMachine { arn, sync: false } => {
            let body = json!({"stateMachineArn": arn, "input": Value::Array(shaped).to_string()});
            step_functions(inner, "StartExecution", &body)
                .await
                .map(|_| Delivered::All)
        }
        Target::Queue {
            url,
            fifo,
            group_id,
            deduplication_id,
        } => {
            let mut failed = Vec::new();
            let mut refused = Vec::new();
            for (chunk_index, chunk) in shaped.chunks(MAX_ENTRIES).enumerate() {
                let entries: Vec<Value> = chunk
                    .iter()
                    .enumerate()
                    .map(|(i, event)| {
                        let mut entry = json!({"Id": i.to_string(), "MessageBody": text(event)});
                        let dynamic = [
                            ("MessageGroupId", group_id.as_deref().filter(|_| *fifo)),
                            ("MessageDeduplicationId", deduplication_id.as_deref()),
                        ];
                        for (member, given) in dynamic {
                            if let Some(value) = given.map(|g| parameter(g, event)) {
                                entry[member] = Value::String(value);
                            }
                        }
                        entry
                    })
                    .collect();
                let body = json!({"QueueUrl": url, "Entries": entries});
                let answer = json_call(&inner.services.sqs, "SendMessageBatch", &body).await?;
                // Only the refused entries are retried (they stay in the source queue).
                for entry in answer["Failed"].as_array().into_iter().flatten() {
                    let index = entry["Id"].as_str().and_then(|id| id.parse::<usize>().ok());
                    failed.push(chunk_index * MAX_ENTRIES + index.unwrap_or_default());
                    refused.push(entry.clone());
                }
            }
            failed_at(
                &failed,
                ids,
                shaped.len(),
                format!("the target queue refused messages: {refused:?}"),
            )
        }
        Target::Topic { arn } => {
            let mut failed = Vec::new();
            let mut first_error = None;
            for (index, event) in shaped.iter().enumerate() {
                let body = json!({"TopicArn": arn, "Message": text(event)});
                if let Err(error) = json_call(&inner.services.sns, "Publish", &body).await {
                    failed.push(index);
                    first_error.get_or_insert(error);
                }
            }
            failed_at(&failed, ids, shaped.len(), first_error.unwrap_or_default())
        }
    }
}

/// A target parameter's value for `event`: a JSON path (`$.body.group`) is read from the
/// event, anything else is the value itself.
fn parameter(given: &str, event: &Value) -> String {
    if given.starts_with("$.")
        && let Ok(path) = Path::parse(given)
    {
        let decoded = decoded(event);
        return path
            .select(&Scope::new(&decoded, &Value::Null))
            .map(|v| text(&v))
            .unwrap_or_default();
    }
    given.to_owned()
}

/// Runs a function synchronously or an EXPRESS state machine with StartSyncExecution on
/// `input`: its result, or why it failed.
async fn call(inner: &Arc<Inner>, callee: &Callee, input: Value) -> Result<Value, String> {
    match callee {
        Callee::Function {
            region,
            name,
            qualifier,
        } => {
            let invoked = inner
                .functions
                .in_region(region)
                .invoke(
                    name,
                    Bytes::from(input.to_string()),
                    InvokeOptions {
                        qualifier: qualifier.clone(),
                        ..InvokeOptions::default()
                    },
                )
                .await
                .map_err(|e| e.to_string())?;
            if let Some(error) = invoked.function_error {
                return Err(format!(
                    "the function {name} failed ({error}): {}",
                    String::from_utf8_lossy(&invoked.payload)
                ));
            }
            if invoked.payload.iter().all(u8::is_ascii_whitespace) {
                return Ok(Value::Null);
            }
            serde_json::from_slice(&invoked.payload)
                .map_err(|e| format!("the function {name} answered no JSON: {e}"))
        }
        Callee::StateMachine { arn } => {
            let body = json!({"stateMachineArn": arn, "input": input.to_string()});
            let answer = step_functions(inner, "StartSyncExecution", &body).await?;
            if answer["status"] != "SUCCEEDED" {
                return Err(format!(
                    "the execution of {arn} did not succeed: {} {}",
                    answer["status"], answer["error"]
                ));
            }
            let output = answer["output"].as_str().unwrap_or("null");
            serde_json::from_str(output).map_err(|e| format!("unreadable output of {arn}: {e}"))
        }
    }
}

async fn step_functions(
    inner: &Arc<Inner>,
    operation: &str,
    body: &Value,
) -> Result<Value, String> {
    let service = inner
        .services
        .step_functions
        .get()
        .ok_or("the Step Functions API is not ready")?;
    json_call(&service, operation, body).await
}

async fn json_call(
    service: &Arc<dyn crate::integrations::aws_sdk::JsonService>,
    operation: &str,
    body: &Value,
) -> Result<Value, String> {
    let answer = service
        .call(operation.to_owned(), body.to_string().into_bytes())
        .await
        .map_err(|e| format!("{operation}: {}: {}", e.kind, e.message))?;
    if answer.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&answer).map_err(|e| format!("{operation}: unreadable answer: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_targets_batch_item_failures_name_the_messages_to_retry() {
        let ids = ["a", "b", "c"];
        let result = |v: Value| target_result(&v, &ids);
        assert_eq!(result(json!({"ok": true})), Ok(Delivered::All));
        assert_eq!(result(json!("done")), Ok(Delivered::All));
        assert_eq!(result(json!({"batchItemFailures": []})), Ok(Delivered::All));
        assert_eq!(
            result(json!({"batchItemFailures": [{"itemIdentifier": "b"}]})),
            Ok(Delivered::AllBut(vec!["b".into()]))
        );
        assert!(result(json!({"batchItemFailures": [{"itemIdentifier": "z"}]})).is_err());
        assert!(result(json!({"batchItemFailures": "b"})).is_err());
    }

    #[test]
    fn refused_events_map_to_their_messages_only_one_to_one() {
        let ids = ["a", "b", "c"];
        assert_eq!(failed_at(&[], &ids, 3, "x".into()), Ok(Delivered::All));
        assert_eq!(
            failed_at(&[2], &ids, 3, "x".into()),
            Ok(Delivered::AllBut(vec!["c".into()]))
        );
        // An enrichment changed the number of events: the whole batch is retried.
        assert_eq!(failed_at(&[0], &ids, 2, "x".into()), Err("x".into()));
        assert_eq!(failed_at(&[0, 1, 2], &ids, 3, "x".into()), Err("x".into()));
    }
}
