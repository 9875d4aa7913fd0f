//! A distributed Map's object-store calls: reading its items (ItemReader) before its Map Run
//! starts its children, exporting their results (ResultWriter) before the Map settles. Each is
//! an [`Effect::Objects`] the driver performs through its task dispatcher and reports with
//! [`Execution::objects_done`]; the thread waits in [`Phase::Objects`], which the snapshot keeps,
//! so calls cut short by a restart are made again (reads and writes are idempotent).
//!
//! Recorded on AWS: `MapStateStarted` (length 0 with a reader), `MapRunStarted`, then the read;
//! a read that fails ends the Map Run (`MapRunFailed` with `States.ItemReaderFailed`), then the
//! state (`MapStateFailed`), the cause as the reader gave it.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{
    Children, Effect, Execution, Flow, Phase, StateFailed, Stop, Thread, ThreadId, in_state, uuid,
    visit,
};
use crate::definition::{Kind, ProcessorMode, StateMachine};
use crate::history::{Details, ErrorDetails};
use crate::items::write::{self, ChildOutcome, ChildRun, Transformation, WriteRequest};
use crate::items::{self, resources};
use crate::map_run::{MapRun, MapRunCounts, MapRunStatus};
use crate::step::{Action, ReadRequest, ReadSource, Tolerance};
use crate::{Failure, names};
use std::collections::VecDeque;
use std::sync::Arc;

/// One object-store call: a `resource` of [`items::resources`] and its SDK parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectCall {
    pub resource: String,
    pub parameters: Value,
}

/// A Map state entered, its children not started yet.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct PendingMap {
    pub(super) state_input: Value,
    pub(super) max_concurrency: u64,
    pub(super) tolerance: Tolerance,
    pub(super) map_run_arn: Option<String>,
    pub(super) writer: Option<Box<WriteRequest>>,
}

/// What a thread does once its [`Phase::Objects`] calls return.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) enum AfterObjects {
    /// Reading a Map's items (a listing page by page: `read` so far): then its children start.
    Read {
        request: Box<ReadRequest>,
        map: PendingMap,
        read: Vec<Value>,
        limit: usize,
    },
    /// Exporting a Map's results: then it settles with `failure` (its tolerance exceeded), or
    /// succeeds with `result` (`ResultWriterDetails`).
    Write {
        state_input: Value,
        map_run_arn: Option<String>,
        failure: Option<Failure>,
        result: Value,
        iteration_failed: bool,
        /// `s3://bucket/prefix`, for causes.
        destination: String,
    },
}

/// What a Map with a ResultWriter keeps of each child for the export.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Exporting {
    pub(super) request: WriteRequest,
    pub(super) inputs: Vec<Value>,
    pub(super) started_ms: Vec<i64>,
    pub(super) stopped_ms: Vec<i64>,
}

/// Where a read goes, for causes: `s3://bucket/key`.
fn location(source: &ReadSource) -> String {
    match source {
        ReadSource::Object { bucket, key, .. } => format!("s3://{bucket}/{key}"),
        ReadSource::Listing { bucket, prefix } => {
            format!("s3://{bucket}/{}", prefix.as_deref().unwrap_or_default())
        }
    }
}

fn read_call(source: &ReadSource, token: Option<&str>) -> ObjectCall {
    match source {
        ReadSource::Object { bucket, key, .. } => ObjectCall {
            resource: resources::GET_OBJECT.into(),
            parameters: json!({"Bucket": bucket, "Key": key}),
        },
        ReadSource::Listing { bucket, prefix } => {
            let mut parameters = json!({"Bucket": bucket});
            if let Some(prefix) = prefix {
                parameters["Prefix"] = json!(prefix);
            }
            if let Some(token) = token {
                parameters["ContinuationToken"] = json!(token);
            }
            ObjectCall {
                resource: resources::LIST_OBJECTS_V2.into(),
                parameters,
            }
        }
    }
}

fn reader_failed(cause: String) -> Failure {
    Failure::new(names::ITEM_READER_FAILED, cause)
}

impl Execution {
    /// The calls of the [`Effect::Objects`] `id` of `thread` returned: each call's result in
    /// order, or the failure that stopped them. A report about another effect is stale and
    /// changes nothing. Call [`Execution::advance`] next.
    pub fn objects_done(
        &mut self,
        thread: ThreadId,
        id: u64,
        result: Result<Vec<Value>, Failure>,
        now_ms: i64,
    ) {
        self.now_ms = now_ms;
        let Some(Some(t)) = self.threads.get_mut(thread) else {
            return;
        };
        if !matches!(&t.phase, Phase::Objects { id: current, .. } if *current == id) {
            return;
        }
        if let Phase::Objects { then, .. } = std::mem::replace(&mut t.phase, Phase::Run) {
            t.phase = Phase::ObjectsDone { then, result };
            self.ready.push_back(thread);
        }
    }

    /// The [`Effect::Objects`] `thread` waits for, if it waits for one.
    pub fn current_objects(&self, thread: ThreadId) -> Option<u64> {
        match self.threads.get(thread) {
            Some(Some(Thread {
                phase: Phase::Objects { id, .. },
                ..
            })) => Some(*id),
            _ => None,
        }
    }

    pub(super) fn call_objects(
        &mut self,
        tid: ThreadId,
        t: &mut Thread,
        calls: Vec<ObjectCall>,
        then: AfterObjects,
        effects: &mut Vec<Effect>,
    ) -> Flow {
        self.object_calls += 1;
        let id = self.object_calls;
        effects.push(Effect::Objects {
            thread: tid,
            id,
            calls: calls.clone(),
        });
        t.phase = Phase::Objects {
            id,
            calls,
            then: Box::new(then),
        };
        Flow::Wait
    }

    /// A Map state's [`Action::Map`]: `MapStateStarted`, its Map Run if distributed, then its
    /// children, once its items are read if it has an ItemReader.
    #[allow(clippy::too_many_arguments)] // the action's parts
    pub(super) fn begin_map(
        &mut self,
        root: &StateMachine,
        m: &StateMachine,
        tid: ThreadId,
        t: &mut Thread,
        items: Vec<Value>,
        mut map: PendingMap,
        reader: Option<Box<ReadRequest>>,
        effects: &mut Vec<Effect>,
    ) -> Flow {
        let state = m.state(t.state);
        let Kind::Map(spec) = &state.kind else {
            unreachable!("Map action")
        };
        t.prev = self.event(
            "MapStateStarted",
            t.prev,
            Some(Details::MapStateStarted {
                length: items.len(),
            }),
        );
        let max_items = match reader.as_ref().map(|r| r.max_items.clone()) {
            Some(Err(failure)) => {
                // Recorded on AWS: after MapStateStarted, before the Map Run.
                let failure = in_state(&state.name, t.entered, failure);
                if failure.error == names::RUNTIME {
                    return Flow::Finished(Err(Stop {
                        failure,
                        prev: t.prev,
                    }));
                }
                self.evaluation_failed(t, &state.name, &failure);
                return self.recover(m, tid, t, failure, Some(StateFailed::Map), effects);
            }
            Some(Ok(max)) => max,
            None => None,
        };
        if spec.mode == ProcessorMode::Distributed {
            let arn = self.map_run_arn(spec.label.as_deref());
            t.prev = self.event(
                "MapRunStarted",
                t.prev,
                Some(Details::MapRunStarted {
                    map_run_arn: arn.clone(),
                }),
            );
            self.map_runs_changed.insert(self.map_runs.len());
            self.map_runs.push(MapRun {
                arn: arn.clone(),
                state: state.name.clone(),
                status: MapRunStatus::Running,
                start_ms: self.now_ms,
                stop_ms: None,
                max_concurrency: u32::try_from(map.max_concurrency).unwrap_or(u32::MAX),
                tolerated_failure_percentage: map.tolerance.percentage.unwrap_or(0.0),
                tolerated_failure_count: map.tolerance.count.unwrap_or(0),
                counts: MapRunCounts::default(),
                item_counts: None,
                redrive_count: 0,
                redrive_ms: None,
            });
            map.map_run_arn = Some(arn);
        }
        let Some(request) = reader else {
            return self.start_children(root, m, tid, t, items, map);
        };
        let limit = match items::read::limit(max_items) {
            Ok(limit) => limit,
            Err(e) => return self.map_run_failed(m, tid, t, &map, e.into(), effects),
        };
        let call = read_call(&request.source, None);
        let then = AfterObjects::Read {
            request,
            map,
            read: Vec::new(),
            limit,
        };
        self.call_objects(tid, t, vec![call], then, effects)
    }

    /// The Map Run failed before it started its children (its items could not be read or
    /// selected): `MapRunFailed`, then the state fails (`MapStateFailed`) unless retried.
    fn map_run_failed(
        &mut self,
        m: &StateMachine,
        tid: ThreadId,
        t: &mut Thread,
        map: &PendingMap,
        failure: Failure,
        effects: &mut Vec<Effect>,
    ) -> Flow {
        let now = self.now_ms;
        if let Some(run) = self.map_run_mut(map.map_run_arn.as_deref()) {
            run.ended(MapRunStatus::Failed, now);
        }
        if map.map_run_arn.is_some() {
            t.prev = self.event(
                "MapRunFailed",
                t.prev,
                Some(Details::MapRunFailed(ErrorDetails {
                    error: failure.error.clone(),
                    cause: failure.cause.clone(),
                })),
            );
        }
        self.recover(m, tid, t, failure, Some(StateFailed::Map), effects)
    }

    /// The children's inputs are known: they start (up to MaxConcurrency).
    fn start_children(
        &mut self,
        root: &StateMachine,
        m: &StateMachine,
        tid: ThreadId,
        t: &mut Thread,
        items: Vec<Value>,
        map: PendingMap,
    ) -> Flow {
        let Kind::Map(spec) = &m.state(t.state).kind else {
            unreachable!("Map action")
        };
        let n = items.len();
        // A batch carries its items: the Map Run counts both.
        let sizes: Vec<u32> = if spec.item_batcher.is_some() {
            items
                .iter()
                .map(|b| b["Items"].as_array().map_or(1, |i| i.len() as u32))
                .collect()
        } else {
            Vec::new()
        };
        let item_total = (!sizes.is_empty()).then(|| sizes.iter().map(|&s| u64::from(s)).sum());
        let mut max_concurrency = map.max_concurrency;
        if let Some(run) = self.map_run_mut(map.map_run_arn.as_deref()) {
            run.totals(n as u64, item_total);
            // UpdateMapRun may have changed it while the items were read.
            max_concurrency = u64::from(run.max_concurrency);
        }
        let export = map
            .writer
            .filter(|_| spec.mode == ProcessorMode::Distributed)
            .map(|w| {
                Box::new(Exporting {
                    request: *w,
                    inputs: items.clone(),
                    started_ms: vec![0; n],
                    stopped_ms: vec![0; n],
                })
            });
        t.phase = Phase::Children(Children {
            map: true,
            state_input: map.state_input,
            results: vec![None; n],
            queue: items.into_iter().enumerate().collect::<VecDeque<_>>(),
            running: 0,
            max_concurrency: usize::try_from(max_concurrency).unwrap_or(usize::MAX),
            tolerance: map.tolerance,
            inline: spec.mode == ProcessorMode::Inline,
            map_run_arn: map.map_run_arn,
            export,
            sizes,
        });
        let prev = t.prev;
        self.start_iterations(root, tid, t, prev);
        if n == 0 {
            self.children_done(m, t);
            return Flow::Continue;
        }
        Flow::Wait
    }

    /// The calls of [`Phase::Objects`] returned.
    #[allow(clippy::too_many_arguments)] // the thread and what it waited for
    pub(super) fn objects_returned(
        &mut self,
        root: &StateMachine,
        m: &StateMachine,
        tid: ThreadId,
        t: &mut Thread,
        then: AfterObjects,
        result: Result<Vec<Value>, Failure>,
        effects: &mut Vec<Effect>,
    ) -> Flow {
        match then {
            AfterObjects::Read {
                request,
                map,
                mut read,
                limit,
            } => {
                let at = location(&request.source);
                let page = match result.and_then(|mut r| {
                    r.pop()
                        .ok_or_else(|| Failure::runtime("the store answered no response"))
                }) {
                    Ok(page) => page,
                    Err(f) => {
                        let failure =
                            reader_failed(format!("Reading {at} failed: {}: {}", f.error, f.cause));
                        return self.map_run_failed(m, tid, t, &map, failure, effects);
                    }
                };
                let items = match &request.source {
                    ReadSource::Object { format, .. } => {
                        let parsed = match page.get("Body").and_then(Value::as_str) {
                            Some(body) => items::read::parse(body, format, limit)
                                .map_err(|e| reader_failed(e.cause_at(&at))),
                            None => {
                                Err(reader_failed(format!("Reading {at} answered no Body text")))
                            }
                        };
                        match parsed {
                            Ok(items) => items,
                            Err(f) => return self.map_run_failed(m, tid, t, &map, f, effects),
                        }
                    }
                    ReadSource::Listing { .. } => match items::read::listed(&page) {
                        Err(e) => {
                            let failure = reader_failed(e.cause_at(&at));
                            return self.map_run_failed(m, tid, t, &map, failure, effects);
                        }
                        Ok(listed) => {
                            read.extend(listed.items);
                            read.truncate(limit);
                            if let Some(token) = listed.next.filter(|_| read.len() < limit) {
                                let call = read_call(&request.source, Some(&token));
                                let then = AfterObjects::Read {
                                    request,
                                    map,
                                    read,
                                    limit,
                                };
                                return self.call_objects(tid, t, vec![call], then, effects);
                            }
                            read
                        }
                    },
                };
                let ctx = Arc::clone(&self.context);
                let visit = visit(&ctx, t, None, self.now_ms);
                let children =
                    m.items_read(t.state, &map.state_input, items, &visit, &mut self.random);
                match children {
                    Ok(children) => self.start_children(root, m, tid, t, children, map),
                    Err(failure) => {
                        let name = &m.state(t.state).name;
                        let failure = in_state(name, t.entered, failure);
                        self.evaluation_failed(t, name, &failure);
                        self.map_run_failed(m, tid, t, &map, failure, effects)
                    }
                }
            }
            AfterObjects::Write {
                state_input,
                map_run_arn,
                failure,
                result: exported,
                iteration_failed,
                destination,
            } => {
                let done = match (result, failure) {
                    (Err(f), _) => Err(Failure::new(
                        names::RESULT_WRITER_FAILED,
                        format!(
                            "Writing the results of the Map Run to {destination} failed: {}: {}",
                            f.error, f.cause
                        ),
                    )),
                    (Ok(_), Some(failure)) => Err(failure),
                    (Ok(_), None) => {
                        let ctx = Arc::clone(&self.context);
                        let visit = visit(&ctx, t, None, self.now_ms);
                        let done = m.task_succeeded(
                            t.state,
                            state_input,
                            exported,
                            &visit,
                            &mut self.random,
                        );
                        let name = m.state(t.state).name.clone();
                        self.evaluation_outcome(t, &name, done)
                    }
                };
                t.phase = self.map_settled(t, map_run_arn, false, done, iteration_failed);
                Flow::Continue
            }
        }
    }

    /// A distributed Map's children ended and it has a ResultWriter: the export to make (its
    /// [`Phase::Exporting`]), or, with only a WriterConfig, the Map's outcome.
    pub(super) fn export_results(
        &mut self,
        m: &StateMachine,
        t: &mut Thread,
        c: Children,
        export: Exporting,
        iteration_failed: bool,
    ) -> Phase {
        let results: Vec<Result<Value, Failure>> = c.results.iter().flatten().cloned().collect();
        let tolerated = m.map_tolerance(t.state, &results, c.tolerance);
        let arn = c.map_run_arn.clone().unwrap_or_default();
        let mut children = Vec::with_capacity(c.results.len());
        for (i, result) in c.results.into_iter().enumerate() {
            let Some(result) = result else {
                continue;
            };
            children.push(ChildRun {
                name: uuid(&mut self.random),
                input: export.inputs.get(i).cloned().unwrap_or(Value::Null),
                outcome: match result {
                    Ok(output) => ChildOutcome::Succeeded(output),
                    Err(f) => ChildOutcome::Failed(f),
                },
                start_ms: export.started_ms.get(i).copied().unwrap_or_default(),
                stop_ms: export.stopped_ms.get(i).copied().unwrap_or_default(),
            });
        }
        let request = export.request;
        let Some((bucket, prefix)) = request.destination else {
            // Only a WriterConfig: it shapes the Map's own result.
            let transformation = request.transformation.unwrap_or(Transformation::Compact);
            let result = Value::Array(write::entries(&children, transformation, &arn));
            let done = match tolerated {
                Err(failure) => Err(failure),
                Ok(()) => {
                    let ctx = Arc::clone(&self.context);
                    let visit = visit(&ctx, t, None, self.now_ms);
                    let done =
                        m.task_succeeded(t.state, c.state_input, result, &visit, &mut self.random);
                    let name = m.state(t.state).name.clone();
                    self.evaluation_outcome(t, &name, done)
                }
            };
            return self.map_settled(t, c.map_run_arn, c.inline, done, iteration_failed);
        };
        let transformation = request.transformation.unwrap_or(Transformation::None);
        let exported = write::export(
            &bucket,
            &prefix,
            &arn,
            &children,
            transformation,
            request.output_type,
        );
        let calls = exported
            .writes
            .into_iter()
            .map(|w| ObjectCall {
                resource: resources::PUT_OBJECT.into(),
                parameters: json!({"Bucket": w.bucket, "Key": w.key, "Body": w.body}),
            })
            .collect();
        Phase::Exporting {
            calls,
            then: Box::new(AfterObjects::Write {
                state_input: c.state_input,
                map_run_arn: c.map_run_arn,
                failure: tolerated.err(),
                result: exported.result,
                iteration_failed,
                destination: format!("s3://{bucket}/{prefix}"),
            }),
        }
    }

    /// The end of a Map's children, as its outcome: the Map Run's end (distributed), then the
    /// state's (`MapStateSucceeded`, or its failure to settle).
    pub(super) fn map_settled(
        &mut self,
        t: &mut Thread,
        map_run_arn: Option<String>,
        inline: bool,
        done: Result<Action, Failure>,
        iteration_failed: bool,
    ) -> Phase {
        let now = self.now_ms;
        if let Some(run) = self.map_run_mut(map_run_arn.as_deref()) {
            let status = if done.is_ok() {
                MapRunStatus::Succeeded
            } else {
                MapRunStatus::Failed
            };
            run.ended(status, now);
        }
        if !inline {
            // Recorded on AWS: the Map Run's end, then the state's, chained off it.
            t.prev = match &done {
                Ok(_) => self.event("MapRunSucceeded", t.prev, None),
                Err(f) => self.event(
                    "MapRunFailed",
                    t.prev,
                    Some(Details::MapRunFailed(ErrorDetails {
                        error: f.error.clone(),
                        cause: f.cause.clone(),
                    })),
                ),
            };
        }
        match &done {
            Ok(_) => {
                // Recorded on AWS: MapStateExited chains off the last MapIterationSucceeded
                // (or MapRunSucceeded), not off this event.
                self.event("MapStateSucceeded", t.prev, None);
                Phase::Settle {
                    outcome: done,
                    failed_event: None,
                    propagated: false,
                }
            }
            Err(f) => {
                let propagated =
                    iteration_failed && f.error != names::EXCEED_TOLERATED_FAILURE_THRESHOLD;
                Phase::Settle {
                    outcome: done,
                    failed_event: Some(StateFailed::Map),
                    propagated,
                }
            }
        }
    }
}
