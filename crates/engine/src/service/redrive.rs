//! RedriveExecution: a FAILED, TIMED_OUT or ABORTED STANDARD execution continues from its
//! unsuccessful states (see `driver::Execution::redrive`), durably: the redrive is one commit
//! (the `ExecutionRedriven` event, the states entered again, the record back to RUNNING) and
//! two concurrent redrives of one execution cannot both win (the event id is the guard).

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;
use sluice_asl::driver::RedriveError;
use sluice_store::ExecutionStatus;
use sluice_store::{ExecutionRecord, Store, Write};

use super::{Engine, EngineError, Snapshot, event_records, lock, update_record};
use crate::Dispatch;

/// AWS: an execution can be redriven for 14 days after it stopped (so a retention of closed
/// executions must be at least as long)...
pub const REDRIVABLE_PERIOD: Duration = Duration::from_secs(14 * 24 * 3600);
const REDRIVABLE_PERIOD_MS: i64 = REDRIVABLE_PERIOD.as_millis() as i64;
/// ...at most 1,000 times...
const MAX_REDRIVES: u32 = 1000;
/// ...while its history has fewer than 25,000 events...
const MAX_HISTORY_EVENTS: u64 = 25_000;
/// ...and it is less than a year old.
const MAX_EXECUTION_MS: i64 = 365 * 24 * 3600 * 1000;
/// Idempotency: the last 10 client tokens of an execution, for 15 minutes.
const TOKENS_KEPT: usize = 10;
const TOKEN_TTL_MS: i64 = 15 * 60 * 1000;

/// A client token that redrove an execution, and when.
#[derive(Debug, Clone)]
pub(super) struct RedriveToken {
    token: String,
    used_ms: i64,
    redrive_ms: i64,
}

/// Whether `record` can be redriven at `now_ms`, else AWS's `redriveStatusReason`.
pub fn redrivable(record: &ExecutionRecord, now_ms: i64) -> Result<(), String> {
    match record.status.as_str() {
        "RUNNING" | "SUCCEEDED" | "PENDING_REDRIVE" => {
            return Err(format!(
                "Execution is {} and cannot be redriven",
                record.status
            ));
        }
        _ => {}
    }
    if record
        .stop_ms
        .is_some_and(|stop| now_ms.saturating_sub(stop) > REDRIVABLE_PERIOD_MS)
    {
        return Err("Execution redrivable period exceeded".into());
    }
    if now_ms.saturating_sub(record.start_ms) > MAX_EXECUTION_MS {
        return Err("Execution has exceeded the max execution time".into());
    }
    if record.next_event_id > MAX_HISTORY_EVENTS {
        return Err("Execution history event limit exceeded".into());
    }
    if record.redrive_count >= MAX_REDRIVES {
        return Err(format!(
            "Execution has been redriven the maximum number of times ({MAX_REDRIVES})"
        ));
    }
    if record.snapshot.is_none() {
        return Err("Execution was started before this version of sluice could redrive".into());
    }
    Ok(())
}

impl<S: Store, D: Dispatch> Engine<S, D> {
    /// RedriveExecution. Returns the redrive time (`redriveDate`). A `client_token` seen for
    /// this execution in the last 15 minutes answers with that redrive's time again.
    pub async fn redrive(
        &self,
        execution_arn: &str,
        client_token: Option<&str>,
    ) -> Result<i64, EngineError> {
        let now = self.inner.clock.now_ms();
        if let Some(token) = client_token
            && let Some(earlier) = self.redrive_token(execution_arn, token, now)
        {
            return Ok(earlier);
        }
        let Some(mut record) = self.load(execution_arn).await? else {
            return Err(EngineError::ExecutionDoesNotExist(execution_arn.to_owned()));
        };
        redrivable(&record, now).map_err(EngineError::ExecutionNotRedrivable)?;
        let snapshot = Snapshot::of(&record).ok_or_else(|| {
            EngineError::ExecutionNotRedrivable("Execution state is unreadable".into())
        })?;
        let Some(machine) = self.definition_of(&record).await? else {
            return Err(EngineError::ExecutionNotRedrivable(
                "State machine is in DELETING status".into(),
            ));
        };
        let m = self.machine(&machine)?;
        let mut ex = snapshot.execution;
        let inputs = self
            .entered_inputs(execution_arn, ex.redrive_inputs())
            .await?;
        let count = record.redrive_count + 1;
        ex.redrive(&m, count, &inputs, now).map_err(|e| match e {
            RedriveError::NotRedrivable(_) => EngineError::ExecutionNotRedrivable(e.to_string()),
            RedriveError::MissingInput(_) => {
                EngineError::ExecutionNotRedrivable(format!("Execution history is incomplete: {e}"))
            }
        })?;
        let effects = ex.advance(&m, now);
        let events = ex.take_events();
        record.status = ExecutionStatus::Running;
        record.redrive_count = count;
        record.redrive_ms = Some(now);
        record.stop_ms = None;
        record.output = None;
        record.error = None;
        record.cause = None;
        update_record(
            &mut record,
            &ex,
            &snapshot.machine,
            &snapshot.test_case,
            now,
        );
        let mut writes = vec![
            Write::UpdateExecution(record.clone()),
            Write::AppendEvents(event_records(execution_arn, events)),
        ];
        writes.extend(super::map_run_writes(execution_arn, ex.take_map_runs()));
        self.offload(&mut writes).await?;
        self.inner.store.commit(writes).await.map_err(|e| match e {
            // Another redrive of the same execution committed first.
            sluice_store::Error::Conflict { .. } => EngineError::ExecutionNotRedrivable(
                "Execution is RUNNING and cannot be redriven".into(),
            ),
            // Its retention ended (and the purge deleted it) since it was read.
            sluice_store::Error::NotFound { .. } => {
                EngineError::ExecutionDoesNotExist(execution_arn.to_owned())
            }
            other => EngineError::Store(other),
        })?;
        if let Some(token) = client_token {
            self.remember_redrive_token(execution_arn, token, now);
        }
        self.status_changed(&record);
        if ex.end().is_none() {
            self.spawn_durable(m, record, ex, effects, snapshot.machine, snapshot.test_case);
        }
        Ok(now)
    }

    /// The inputs of the `…StateEntered` events `ids`, read from the stored history.
    async fn entered_inputs(
        &self,
        execution_arn: &str,
        ids: Vec<u64>,
    ) -> Result<HashMap<u64, Value>, EngineError> {
        let mut inputs = HashMap::new();
        for id in ids {
            let page = self
                .inner
                .store
                .events(execution_arn, id.checked_sub(1), 1, false)
                .await?;
            let input = page
                .items
                .first()
                .filter(|e| e.id == id)
                .and_then(|e| serde_json::from_str::<Value>(&e.body).ok())
                .and_then(|body| {
                    body.get("stateEnteredEventDetails")?
                        .get("input")?
                        .as_str()
                        .and_then(|text| sluice_asl::json::parse(text).ok())
                });
            if let Some(input) = input {
                inputs.insert(id, input);
            }
        }
        Ok(inputs)
    }

    fn redrive_token(&self, execution_arn: &str, token: &str, now_ms: i64) -> Option<i64> {
        let tokens = lock(&self.inner.redrive_tokens);
        tokens
            .get(execution_arn)?
            .iter()
            .find(|t| t.token == token && now_ms - t.used_ms <= TOKEN_TTL_MS)
            .map(|t| t.redrive_ms)
    }

    fn remember_redrive_token(&self, execution_arn: &str, token: &str, now_ms: i64) {
        let mut tokens = lock(&self.inner.redrive_tokens);
        tokens.retain(|_, kept| {
            kept.retain(|t| now_ms - t.used_ms <= TOKEN_TTL_MS);
            !kept.is_empty()
        });
        let kept = tokens.entry(execution_arn.to_owned()).or_default();
        kept.push(RedriveToken {
            token: token.to_owned(),
            used_ms: now_ms,
            redrive_ms: now_ms,
        });
        if kept.len() > TOKENS_KEPT {
            kept.remove(0);
        }
    }
}
