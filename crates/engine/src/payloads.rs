//! Payloads past AWS's 256 KiB quota, beyond AWS and opt-in: an execution of a machine tagged
//! `sluice:large-payloads` = `true` (or of any machine, server-wide) may carry inputs, outputs
//! and task results up to [`LargePayloads::max_bytes`]. States see them whole (paths, Choice,
//! handlers); what the engine persists past [`LargePayloads::threshold`] — a history event, the
//! execution's input or output, its snapshot — is written as an object (through a
//! [`PayloadStore`], a bucket) before the commit that refers to it, and the store keeps a
//! reference. Reading the execution back (DescribeExecution, the history, recovery, redrive)
//! resolves the references, so the payloads show whole.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use sluice_store::{EventRecord, ExecutionRecord, StateMachineRecord, Write};

/// The tag that opts a state machine in.
pub const TAG: &str = "sluice:large-payloads";

/// A boxed payload-store call.
pub type PayloadFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, String>> + Send + 'a>>;

/// Where payloads past the threshold are kept.
pub trait PayloadStore: Send + Sync + 'static {
    /// Stores `text` durably under `key`; the URI that reads it back.
    fn put<'a>(&'a self, key: &'a str, text: &'a str) -> PayloadFuture<'a, String>;
    /// The text stored at `uri`.
    fn get<'a>(&'a self, uri: &'a str) -> PayloadFuture<'a, String>;
}

/// The engine's large-payload settings.
#[derive(Clone)]
pub struct LargePayloads {
    pub store: Arc<dyn PayloadStore>,
    /// Persisted texts longer than this go to the payload store.
    pub threshold: usize,
    /// The largest payload an opted-in execution may carry.
    pub max_bytes: usize,
    /// Every machine is opted in, tagged or not.
    pub all_machines: bool,
}

impl std::fmt::Debug for LargePayloads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LargePayloads")
            .field("threshold", &self.threshold)
            .field("max_bytes", &self.max_bytes)
            .field("all_machines", &self.all_machines)
            .finish_non_exhaustive()
    }
}

impl LargePayloads {
    /// Whether executions of `machine` carry large payloads.
    pub fn applies_to(&self, machine: &StateMachineRecord) -> bool {
        self.all_machines
            || machine
                .tags
                .iter()
                .any(|(k, v)| k == TAG && v.eq_ignore_ascii_case("true"))
    }

    /// Moves the long texts of `writes` to the payload store, leaving references.
    pub async fn offload(&self, writes: &mut [Write]) -> Result<(), String> {
        for write in writes.iter_mut() {
            match write {
                Write::InsertExecution(record) | Write::UpdateExecution(record) => {
                    let arn = record.arn.clone();
                    let texts = std::iter::once(&mut record.input)
                        .chain(record.output.as_mut())
                        .chain(record.snapshot.as_mut());
                    for text in texts {
                        self.offload_text(&arn, text).await?;
                    }
                }
                Write::AppendEvents(events) => {
                    for event in events.iter_mut() {
                        let arn = event.execution_arn.clone();
                        self.offload_text(&arn, &mut event.body).await?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    async fn offload_text(&self, execution_arn: &str, text: &mut String) -> Result<(), String> {
        if text.len() <= self.threshold || reference(text).is_some() {
            return Ok(());
        }
        let key = format!(
            "executions/{}/{}.json",
            execution_arn
                .rsplit(':')
                .take(2)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("/"),
            uuid::Uuid::new_v4()
        );
        let uri = self.store.put(&key, text).await?;
        *text = serde_json::json!({ REFERENCE: uri }).to_string();
        Ok(())
    }

    /// `record` with its references resolved.
    pub async fn resolve_record(&self, record: &mut ExecutionRecord) -> Result<(), String> {
        let texts = std::iter::once(&mut record.input)
            .chain(record.output.as_mut())
            .chain(record.snapshot.as_mut());
        for text in texts {
            self.resolve_text(text).await?;
        }
        Ok(())
    }

    /// `events` with their references resolved.
    pub async fn resolve_events(&self, events: &mut [EventRecord]) -> Result<(), String> {
        for event in events {
            self.resolve_text(&mut event.body).await?;
        }
        Ok(())
    }

    async fn resolve_text(&self, text: &mut String) -> Result<(), String> {
        if let Some(uri) = reference(text) {
            *text = self.store.get(&uri).await?;
        }
        Ok(())
    }
}

/// The one member of a reference: `{"sluice:payload": "s3://bucket/key"}`.
const REFERENCE: &str = "sluice:payload";

/// The URI a reference names, if `text` is one.
fn reference(text: &str) -> Option<String> {
    if !text.starts_with("{\"sluice:payload\"") || text.len() > 2048 {
        return None;
    }
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    let object = value.as_object()?;
    (object.len() == 1)
        .then(|| object.get(REFERENCE)?.as_str().map(str::to_owned))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Memory(Mutex<HashMap<String, String>>);

    impl PayloadStore for Memory {
        fn put<'a>(&'a self, key: &'a str, text: &'a str) -> PayloadFuture<'a, String> {
            Box::pin(async move {
                self.0
                    .lock()
                    .unwrap()
                    .insert(key.to_owned(), text.to_owned());
                Ok(format!("mem://{key}"))
            })
        }
        fn get<'a>(&'a self, uri: &'a str) -> PayloadFuture<'a, String> {
            Box::pin(async move {
                let key = uri.strip_prefix("mem://").ok_or("bad uri")?;
                self.0
                    .lock()
                    .unwrap()
                    .get(key)
                    .cloned()
                    .ok_or_else(|| "gone".into())
            })
        }
    }

    #[tokio::test]
    async fn long_texts_leave_references_that_resolve_whole_and_short_ones_stay() {
        let large = LargePayloads {
            store: Arc::new(Memory::default()),
            threshold: 10,
            max_bytes: 1 << 20,
            all_machines: false,
        };
        let long = format!("\"{}\"", "x".repeat(100));
        let mut writes = vec![Write::AppendEvents(vec![
            EventRecord {
                execution_arn: "arn:aws:states:us-east-1:1:execution:m:e".into(),
                id: 1,
                body: long.clone(),
            },
            EventRecord {
                execution_arn: "arn:aws:states:us-east-1:1:execution:m:e".into(),
                id: 2,
                body: "{}".into(),
            },
        ])];
        large.offload(&mut writes).await.unwrap();
        let Write::AppendEvents(mut events) = writes.remove(0) else {
            unreachable!()
        };
        assert!(reference(&events[0].body).is_some(), "{}", events[0].body);
        assert_eq!(events[1].body, "{}");
        large.resolve_events(&mut events).await.unwrap();
        assert_eq!(events[0].body, long);
        // A payload that merely looks like a reference is data, and stays.
        assert_eq!(reference(r#"{"sluice:payload":"x","more":1}"#), None);
        assert_eq!(reference(r#"{"other":"x"}"#), None);
    }
}
