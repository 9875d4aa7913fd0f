//! Asynchronous (`Event`) invocations, durable: accepted events are journaled before the API
//! answers 202, run in the background, retried as AWS retries them, and run after a restart if
//! they had not finished.
//!
//! ```text
//! <data-dir>/events/queue.log    one JSON record a line: put (an accepted event), retry, done
//! ```
//!
//! One writer thread appends records in groups, one `fdatasync` per group; a put is
//! acknowledged (and the invocation answered) only once its group is synced. Opening replays
//! the journal (a torn last line — a crash mid-append — is skipped), keeps the events that have
//! no `done`, and rewrites the file with just those (temporary file, fsync, rename, fsync of the
//! folder); the writer compacts the same way when done records dominate a large file.
//!
//! AWS's behavior ([`Functions::run_event`](crate::Functions)), on the server's [`Clock`]
//! (`--time-scale` scales it): the same request id for every attempt; a function error is
//! retried `MaximumRetryAttempts` times (the qualifier's event invoke config, else
//! `event-retries`, 2), the n-th retry `n × event-retry-delay-seconds` (60) after the failure;
//! throttles and Sluice's own errors are retried with backoff (1 s doubling to 5 minutes). An
//! event older than `MaximumEventAgeInSeconds` (else `event-max-age-seconds`, 6 hours) is not
//! run again: when it comes due, or as soon as a failure's retry would come due after that age.
//! The outcome's invocation record ([`invocation_record`]) goes to the config's `OnSuccess` or
//! `OnFailure` destination, a Lambda function invoked as an event itself: the `done` record of
//! the event carries the destination's event (`next`), so the hand-over is one atomic append.
//! A record over the Event payload limit loses its response, then its request payload; a chain
//! of destinations stops after 16 hops (a recursive loop, as AWS stops them).
//! An event of a deleted function is dropped. Events are at-least-once: one that was running
//! when the server died runs again after the restart, with the same request id; once its
//! `done` is written it never runs again.
//!
//! [`Clock`]: crate::Clock

use std::collections::HashMap;
use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use crate::Error;

/// An accepted event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) struct Event {
    /// The request id, the same for every attempt.
    pub id: String,
    /// The region of the function (journals from before regions have none: the configured
    /// region's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub function: String,
    /// The version or alias invoked, if any (an alias is resolved at each attempt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qualifier: Option<String>,
    /// Base64 of the payload.
    pub payload: String,
    /// When it was accepted (ms since the epoch).
    pub accepted_ms: i64,
    /// Retries after function errors so far.
    pub retries: u32,
    /// Not to run before (ms since the epoch).
    pub due_ms: i64,
    /// How many times the function ran it (AWS's `approximateInvokeCount`).
    #[serde(default)]
    pub invokes: u32,
    /// How many destinations in a row led to this event (0: invoked through the API).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub hops: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
enum Record {
    Put(Event),
    Retry {
        id: String,
        retries: u32,
        #[serde(rename = "due-ms")]
        due_ms: i64,
        #[serde(default)]
        invokes: u32,
    },
    Done {
        id: String,
        /// An event accepted as the done one ends (its invocation record, to a destination).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next: Option<Box<Event>>,
    },
}

/// How an event ended, as its invocation record's `requestContext.condition` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Condition {
    Success,
    RetriesExhausted,
    EventAgeExceeded,
}

impl Condition {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Success => "Success",
            Self::RetriesExhausted => "RetriesExhausted",
            Self::EventAgeExceeded => "EventAgeExceeded",
        }
    }
}

/// AWS's invocation record of an event, what a destination receives: `version`,
/// `timestamp`, `requestContext` (`requestId`, the invoked `functionArn` with its qualifier,
/// `condition`, `approximateInvokeCount`), `requestPayload`, and when the function ran,
/// `responseContext` (`statusCode`, `executedVersion`, `functionError` when it failed) and
/// `responsePayload` (the result or the error document). Payloads that are not JSON are
/// strings.
pub(crate) fn invocation_record(
    event: &Event,
    function_arn: &str,
    condition: Condition,
    request_payload: &[u8],
    response: Option<&crate::Invoked>,
    now_ms: i64,
) -> serde_json::Value {
    let timestamp = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(now_ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut record = serde_json::json!({
        "version": "1.0",
        "timestamp": timestamp,
        "requestContext": {
            "requestId": event.id,
            "functionArn": function_arn,
            "condition": condition.as_str(),
            "approximateInvokeCount": event.invokes,
        },
        "requestPayload": payload_json(request_payload),
    });
    if let Some(invoked) = response {
        let mut context = serde_json::json!({
            "statusCode": 200,
            "executedVersion": invoked.executed_version,
        });
        if invoked.function_error.is_some() {
            context["functionError"] = "Unhandled".into();
        }
        record["responseContext"] = context;
        record["responsePayload"] = payload_json(&invoked.payload);
    }
    record
}

/// A payload as JSON: parsed, a string when it is not JSON, `null` when empty.
fn payload_json(payload: &[u8]) -> serde_json::Value {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return serde_json::Value::Null;
    }
    serde_json::from_slice(payload)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(payload).into()))
}

/// Compaction is considered once the file is this large.
const COMPACT_BYTES: u64 = 8 << 20;
/// Records written in one group at most.
const GROUP: usize = 512;

enum Op {
    Append(Record, Option<oneshot::Sender<Result<(), String>>>),
}

/// The journal's writer: appends go to its thread; the thread ends when every handle is gone.
#[derive(Debug, Clone)]
pub(crate) struct Journal {
    ops: mpsc::Sender<Op>,
}

impl std::fmt::Debug for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Op")
    }
}

impl Journal {
    /// Opens `<data_dir>/events/queue.log`: the events not done yet, and the writer.
    pub(crate) fn open(data_dir: &Path) -> Result<(Self, Vec<Event>), Error> {
        let dir = data_dir.join("events");
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
        let path = dir.join("queue.log");
        let live = replay(&path).map_err(|e| Error::io(format!("read {}", path.display()), e))?;
        let mut pending: Vec<Event> = live.values().cloned().collect();
        pending.sort_by(|a, b| (a.accepted_ms, &a.id).cmp(&(b.accepted_ms, &b.id)));
        let file = rewrite(&path, &pending)
            .map_err(|e| Error::io(format!("write {}", path.display()), e))?;
        let written = file.metadata().map(|m| m.len()).unwrap_or(0);
        let (ops, rx) = mpsc::channel();
        let writer = Writer {
            path,
            file,
            live,
            written,
        };
        std::thread::Builder::new()
            .name("sluice-events".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| Error::io("start the events journal writer", e))?;
        Ok((Self { ops }, pending))
    }

    /// Journals an accepted event; returns once it is durable.
    pub(crate) async fn put(&self, event: Event) -> Result<(), Error> {
        self.append_durably(Record::Put(event)).await
    }

    /// Records that the event `id` is over and, in the same record, accepts `next`; returns
    /// once it is durable.
    pub(crate) async fn done_then(&self, id: &str, next: Event) -> Result<(), Error> {
        self.append_durably(Record::Done {
            id: id.to_owned(),
            next: Some(Box::new(next)),
        })
        .await
    }

    async fn append_durably(&self, record: Record) -> Result<(), Error> {
        let (ack, acked) = oneshot::channel();
        self.ops
            .send(Op::Append(record, Some(ack)))
            .map_err(|_| Error::ShuttingDown)?;
        match acked.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(Error::io(
                "journal an event invocation",
                std::io::Error::other(message),
            )),
            Err(_) => Err(Error::ShuttingDown),
        }
    }

    /// Records a retry to come (not waited for: lost, the event runs sooner after a restart).
    pub(crate) fn retry(&self, event: &Event) {
        let _ = self.ops.send(Op::Append(
            Record::Retry {
                id: event.id.clone(),
                retries: event.retries,
                due_ms: event.due_ms,
                invokes: event.invokes,
            },
            None,
        ));
    }

    /// Records that the event is over (succeeded, or discarded). Not waited for: lost, the
    /// event runs again after a restart (at-least-once).
    pub(crate) fn done(&self, id: &str) {
        let _ = self.ops.send(Op::Append(
            Record::Done {
                id: id.to_owned(),
                next: None,
            },
            None,
        ));
    }
}

/// The events of the journal at `path` that are not done, by id.
fn replay(path: &Path) -> std::io::Result<HashMap<String, Event>> {
    let mut live = HashMap::new();
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(live),
        Err(e) => return Err(e),
    };
    for line in std::io::BufReader::new(file).split(b'\n') {
        let line = line?;
        // A torn line (a crash mid-append) parses as nothing.
        let Ok(record) = serde_json::from_slice::<Record>(&line) else {
            continue;
        };
        apply(&mut live, record);
    }
    Ok(live)
}

fn apply(live: &mut HashMap<String, Event>, record: Record) {
    match record {
        Record::Put(event) => {
            live.insert(event.id.clone(), event);
        }
        Record::Retry {
            id,
            retries,
            due_ms,
            invokes,
        } => {
            if let Some(event) = live.get_mut(&id) {
                event.retries = retries;
                event.due_ms = due_ms;
                event.invokes = invokes;
            }
        }
        Record::Done { id, next } => {
            live.remove(&id);
            if let Some(next) = next {
                live.insert(next.id.clone(), *next);
            }
        }
    }
}

/// Replaces the journal at `path` with puts of `events`, durably; returns it open for appends.
fn rewrite<'a>(
    path: &Path,
    events: impl IntoIterator<Item = &'a Event>,
) -> std::io::Result<std::fs::File> {
    let tmp = path.with_extension("log.tmp");
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        for event in events {
            serde_json::to_writer(&mut out, &Record::Put(event.clone()))?;
            out.write_all(b"\n")?;
        }
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent()
        && let Ok(dir) = std::fs::File::open(dir)
    {
        let _ = dir.sync_all();
    }
    std::fs::OpenOptions::new().append(true).open(path)
}

struct Writer {
    path: PathBuf,
    file: std::fs::File,
    /// The events not done: what a compaction keeps.
    live: HashMap<String, Event>,
    /// Bytes in the file.
    written: u64,
}

impl Writer {
    fn run(mut self, ops: mpsc::Receiver<Op>) {
        let mut buffer = Vec::new();
        let mut acks = Vec::new();
        while let Ok(first) = ops.recv() {
            let mut next = Some(first);
            let mut count = 0;
            while let Some(Op::Append(record, ack)) = next {
                if serde_json::to_writer(&mut buffer, &record).is_ok() {
                    buffer.push(b'\n');
                }
                apply(&mut self.live, record);
                acks.extend(ack);
                count += 1;
                next = if count < GROUP {
                    ops.try_recv().ok()
                } else {
                    None
                };
            }
            let result = self
                .file
                .write_all(&buffer)
                .and_then(|()| self.file.sync_data())
                .map_err(|e| format!("{}: {e}", self.path.display()));
            if let Err(error) = &result {
                tracing::error!(%error, "events journal write failed");
            }
            self.written += buffer.len() as u64;
            buffer.clear();
            for ack in acks.drain(..) {
                let _ = ack.send(result.clone());
            }
            self.maybe_compact();
        }
    }

    /// Rewrites the file with the live events when it is large and mostly done records.
    fn maybe_compact(&mut self) {
        if self.written < COMPACT_BYTES {
            return;
        }
        let live_bytes: u64 = self
            .live
            .values()
            .map(|e| e.payload.len() as u64 + 128)
            .sum();
        if live_bytes * 4 > self.written {
            return;
        }
        let mut events: Vec<&Event> = self.live.values().collect();
        events.sort_by(|a, b| (a.accepted_ms, &a.id).cmp(&(b.accepted_ms, &b.id)));
        match rewrite(&self.path, events) {
            Ok(file) => {
                self.written = file.metadata().map(|m| m.len()).unwrap_or(0);
                self.file = file;
            }
            Err(error) => tracing::warn!(%error, "events journal compaction failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str) -> Event {
        Event {
            id: id.into(),
            region: Some("us-west-2".into()),
            function: "f".into(),
            qualifier: None,
            payload: "e30=".into(),
            accepted_ms: 1,
            retries: 0,
            due_ms: 1,
            invokes: 0,
            hops: 0,
        }
    }

    #[test]
    fn invocation_records_have_aws_shape() {
        let mut e = event("id-1");
        e.invokes = 3;
        let arn = "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST";
        let failed = crate::Invoked {
            request_id: "id-1".into(),
            payload: axum::body::Bytes::from_static(br#"{"errorMessage":"no","errorType":"E"}"#),
            function_error: Some("E".into()),
            executed_version: "$LATEST".into(),
        };
        let record = invocation_record(
            &e,
            arn,
            Condition::RetriesExhausted,
            br#"{"order": 7}"#,
            Some(&failed),
            1_573_755_365_568,
        );
        assert_eq!(
            record,
            serde_json::json!({
                "version": "1.0",
                "timestamp": "2019-11-14T18:16:05.568Z",
                "requestContext": {
                    "requestId": "id-1",
                    "functionArn": arn,
                    "condition": "RetriesExhausted",
                    "approximateInvokeCount": 3,
                },
                "requestPayload": {"order": 7},
                "responseContext": {
                    "statusCode": 200,
                    "executedVersion": "$LATEST",
                    "functionError": "Unhandled",
                },
                "responsePayload": {"errorMessage": "no", "errorType": "E"},
            })
        );
        let ok = crate::Invoked {
            payload: axum::body::Bytes::from_static(b"\"done\""),
            function_error: None,
            executed_version: "2".into(),
            ..failed
        };
        let record = invocation_record(&e, arn, Condition::Success, b"plain", Some(&ok), 0);
        assert_eq!(record["requestContext"]["condition"], "Success");
        assert_eq!(record["requestPayload"], "plain");
        assert_eq!(record["responsePayload"], "done");
        assert_eq!(
            record["responseContext"],
            serde_json::json!({"statusCode": 200, "executedVersion": "2"})
        );
        // Never run: no response.
        let record = invocation_record(&e, arn, Condition::EventAgeExceeded, b"", None, 0);
        assert_eq!(record["requestPayload"], serde_json::Value::Null);
        assert!(record.get("responseContext").is_none());
    }

    #[test]
    fn events_journaled_before_regions_have_none() {
        let line = r#"{"op":"put","id":"x","function":"f","payload":"e30=","accepted-ms":1,"retries":0,"due-ms":1}"#;
        let Record::Put(event) = serde_json::from_str(line).unwrap() else {
            panic!("not a put");
        };
        assert_eq!((event.region, event.function.as_str()), (None, "f"));
        let written = serde_json::to_string(&Record::Put(super::tests::event("y"))).unwrap();
        assert!(written.contains(r#""region":"us-west-2""#), "{written}");
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sluice-events-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[tokio::test]
    async fn accepted_events_survive_a_reopen_until_done() {
        let dir = scratch("reopen");
        let (journal, pending) = Journal::open(&dir).unwrap();
        assert!(pending.is_empty());
        journal.put(event("a")).await.unwrap();
        journal.put(event("b")).await.unwrap();
        let mut b = event("b");
        b.retries = 1;
        b.due_ms = 99;
        b.invokes = 1;
        journal.retry(&b);
        journal.done("a");
        // A put after them is acknowledged once they are written too.
        journal.put(event("c")).await.unwrap();
        drop(journal);
        // A crash mid-append leaves a torn line.
        let path = dir.join("events/queue.log");
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        file.write_all(br#"{"op":"done","id":"#).unwrap();
        drop(file);
        let (journal, pending) = Journal::open(&dir).unwrap();
        assert_eq!(pending, vec![b.clone(), event("c")]);
        // The reopened journal was rewritten whole: appends start on a line of their own.
        journal.done("c");
        journal.put(event("d")).await.unwrap();
        drop(journal);
        let (journal, pending) = Journal::open(&dir).unwrap();
        assert_eq!(pending, vec![b.clone(), event("d")]);

        // A done that hands over to a next event: one record, both or neither.
        let mut e = event("e");
        e.accepted_ms = 2;
        journal.done_then("d", e.clone()).await.unwrap();
        drop(journal);
        let (_, pending) = Journal::open(&dir).unwrap();
        assert_eq!(pending, vec![b, e]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
