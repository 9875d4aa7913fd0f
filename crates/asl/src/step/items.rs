//! The step core's part of a distributed Map over objects: its ItemReader, ItemBatcher and
//! ResultWriter fields evaluated against the state's input (JSONPath `Parameters` or JSONata
//! `Arguments`), and the items a reader brought back turned into the children's inputs
//! (ItemSelector, then ItemBatcher).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Context, DataFlow, note, scope, select_input, shown};
use crate::definition::{
    ItemBatcher, ItemReader, MapState, Payload, QueryLanguage, ReaderSource, ResultWriter, Seconds,
    State, StateId, StateMachine,
};
use crate::items::batch::{self, Batching};
use crate::items::read::Format;
use crate::items::write::WriteRequest;
use crate::query::Env;
use crate::{Failure, Random, Scope, names};

/// What an ItemReader reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ReadSource {
    /// One object, read as `format` says.
    Object {
        bucket: String,
        key: String,
        format: Format,
    },
    /// Every object of `bucket` under `prefix`, one item each.
    Listing {
        bucket: String,
        prefix: Option<String>,
    },
}

/// An ItemReader, evaluated when the Map state is entered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadRequest {
    pub source: ReadSource,
    /// `MaxItems` as given (`None`: none given). Recorded on AWS: a `MaxItemsPath` that is no
    /// integer fails the state (`States.Runtime`) after `MapStateStarted`; a negative one fails
    /// the Map Run (`States.ItemReaderFailed`), so both wait for the driver.
    pub max_items: Result<Option<i64>, Failure>,
}

/// Where a field of the reader, batcher or writer is evaluated.
#[derive(Clone, Copy)]
pub(super) enum Eval<'a> {
    JsonPath(Scope<'a>),
    Jsonata(Env<'a>),
}

impl Eval<'_> {
    fn payload(&self, p: &Payload, field: &str, random: &mut dyn Random) -> Result<Value, Failure> {
        match (p, self) {
            (Payload::JsonPath(t), Eval::JsonPath(scope)) => t.eval(scope, random),
            (Payload::Jsonata(t), Eval::Jsonata(env)) => t.eval(env, field),
            // The parser reads each state's payloads in its own language.
            _ => Err(Failure::runtime(format!(
                "the field '{field}' is not in the state's query language"
            ))),
        }
    }

    /// An integer field: `X` given, read from `XPath`, or a JSONata expression.
    fn integer(&self, count: &Option<Seconds>, field: &str) -> Result<Option<i64>, Failure> {
        match (count, self) {
            (None, _) => Ok(None),
            (Some(Seconds::Fixed(n)), _) => Ok(Some(i64::try_from(*n).unwrap_or(i64::MAX))),
            (Some(Seconds::Path(p)), Eval::JsonPath(scope)) => {
                let v = p.select_result(scope).map_err(Failure::from)?;
                let n = v
                    .as_i64()
                    .or_else(|| v.as_str().and_then(|s| s.parse::<i64>().ok()));
                n.map(Some).ok_or_else(|| {
                    Failure::runtime(format!(
                        "The {field}Path field refers to value \"{}\" which is not a valid \
                         integer: {}",
                        shown(&v),
                        p.text()
                    ))
                })
            }
            (Some(Seconds::Expr(q)), Eval::Jsonata(env)) => {
                let v = q.eval(env, field)?;
                match v.as_f64() {
                    Some(n) if n.fract() == 0.0 && n.abs() <= i64::MAX as f64 => Ok(Some(n as i64)),
                    Some(_) => Err(q.error(
                        field,
                        &format!("returned an invalid value: {v}. Expected an integer."),
                    )),
                    None => Err(q.unexpected(field, "number", &v)),
                }
            }
            _ => Err(Failure::runtime(format!(
                "the field '{field}' is not in the state's query language"
            ))),
        }
    }
}

fn reader_failed(cause: impl Into<String>) -> Failure {
    Failure::new(names::ITEM_READER_FAILED, cause)
}

/// The object `payload` names: its `Bucket` and the string fields `keys` asks for.
fn named<'v>(payload: &'v Value, key: &str) -> Option<&'v str> {
    payload.get(key).and_then(Value::as_str)
}

/// The ItemReader's request.
pub(super) fn read_request(
    reader: &ItemReader,
    eval: Eval<'_>,
    random: &mut dyn Random,
) -> Result<ReadRequest, Failure> {
    let (field, what) = match eval {
        Eval::JsonPath(_) => ("Parameters", "Parameters"),
        Eval::Jsonata(_) => ("Arguments", "Arguments"),
    };
    let payload = match &reader.payload {
        Some(p) => eval.payload(p, field, random)?,
        None => Value::Null,
    };
    let bucket = named(&payload, "Bucket")
        .ok_or_else(|| reader_failed(format!("The ItemReader's {what} name no Bucket (a string)")))?
        .to_owned();
    let source = match reader.source {
        ReaderSource::GetObject => ReadSource::Object {
            key: named(&payload, "Key")
                .ok_or_else(|| {
                    reader_failed(format!("The ItemReader's {what} name no Key (a string)"))
                })?
                .to_owned(),
            bucket,
            format: reader.format.clone().unwrap_or(Format::Json),
        },
        ReaderSource::ListObjectsV2 => ReadSource::Listing {
            bucket,
            prefix: named(&payload, "Prefix").map(str::to_owned),
        },
    };
    Ok(ReadRequest {
        source,
        max_items: eval.integer(&reader.max_items, "MaxItems"),
    })
}

/// The ResultWriter's request.
pub(super) fn write_request(
    writer: &ResultWriter,
    eval: Eval<'_>,
    random: &mut dyn Random,
) -> Result<WriteRequest, Failure> {
    let destination = match &writer.payload {
        None => None,
        Some(p) => {
            let field = match eval {
                Eval::JsonPath(_) => "Parameters",
                Eval::Jsonata(_) => "Arguments",
            };
            let payload = eval.payload(p, field, random)?;
            let bucket = named(&payload, "Bucket").ok_or_else(|| {
                Failure::new(
                    names::RESULT_WRITER_FAILED,
                    format!("The ResultWriter's {field} name no Bucket (a string)"),
                )
            })?;
            let prefix = named(&payload, "Prefix").unwrap_or_default();
            Some((bucket.to_owned(), prefix.to_owned()))
        }
    };
    Ok(WriteRequest {
        destination,
        transformation: writer.transformation,
        output_type: writer.output_type,
    })
}

/// The ItemBatcher's limits and batch input.
fn batching(
    batcher: &ItemBatcher,
    eval: Eval<'_>,
    random: &mut dyn Random,
) -> Result<Batching, Failure> {
    let positive = |n: Option<i64>, field: &str| -> Result<Option<u64>, Failure> {
        match n {
            Some(n) if n < 1 => Err(Failure::runtime(format!(
                "{field} must be a positive integer, not {n}"
            ))),
            n => Ok(n.map(|n| n as u64)),
        }
    };
    Ok(Batching {
        max_items: positive(
            eval.integer(&batcher.max_items, "MaxItemsPerBatch")?,
            "MaxItemsPerBatch",
        )?,
        max_bytes: positive(
            eval.integer(&batcher.max_bytes, "MaxInputBytesPerBatch")?,
            "MaxInputBytesPerBatch",
        )?,
        batch_input: match &batcher.batch_input {
            Some(p) => Some(eval.payload(p, "BatchInput", random)?),
            None => None,
        },
    })
}

/// Groups the children's inputs per the Map's ItemBatcher, if it has one.
pub(super) fn batched(
    m: &MapState,
    items: Vec<Value>,
    eval: Eval<'_>,
    random: &mut dyn Random,
) -> Result<Vec<Value>, Failure> {
    match &m.item_batcher {
        None => Ok(items),
        Some(b) => Ok(batch::batch(items, &batching(b, eval, random)?)?),
    }
}

impl StateMachine {
    /// The items the ItemReader of Map state `id` read (in order, `MaxItems` applied) became:
    /// the children's inputs, after ItemSelector and ItemBatcher, evaluated against the state's
    /// input as when it was entered.
    pub fn items_read(
        &self,
        id: StateId,
        state_input: &Value,
        items: Vec<Value>,
        visit: &super::Visit<'_>,
        random: &mut dyn Random,
    ) -> Result<Vec<Value>, Failure> {
        let state = &self.states[id];
        let crate::definition::Kind::Map(m) = &state.kind else {
            return Err(super::runs_no_task(state));
        };
        let context = Context::Visit(visit);
        if state.query_language == QueryLanguage::Jsonata {
            let ctx = context.for_state(state);
            let env = Env {
                input: state_input,
                context: &ctx,
                result: None,
                error_output: None,
                variables: context.variables(),
                now_ms: context.now_ms(),
                seed: random.next_u64(),
            };
            return self.jsonata_children(state, m, env, items, context, random, None);
        }
        let ctx = context.for_state(state);
        let vars = context.variables();
        let effective = select_input(&state.input_path, state_input, &ctx, vars)?;
        self.children(state, m, &effective, items, context, random, &mut None)
    }

    /// JSONPath: ItemSelector on each item (with `$$.Map.Item`), then the ItemBatcher.
    #[allow(clippy::too_many_arguments)] // the state, its input and the item list travel together
    pub(super) fn children(
        &self,
        state: &State,
        m: &MapState,
        effective: &Value,
        items: Vec<Value>,
        context: Context<'_>,
        random: &mut dyn Random,
        trace: &mut Option<&mut DataFlow>,
    ) -> Result<Vec<Value>, Failure> {
        let vars = context.variables();
        let items = match &m.item_selector {
            None => items,
            Some(selector) => {
                let selected = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let ctx = context.object(state, Some((i, item)));
                        selector.eval(&scope(effective, &ctx, vars), random)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                note(trace, |t| {
                    t.after_item_selector = Some(Value::Array(selected.clone()))
                });
                selected
            }
        };
        if m.item_batcher.is_none() {
            return Ok(items);
        }
        let ctx = context.for_state(state);
        batched(
            m,
            items,
            Eval::JsonPath(scope(effective, &ctx, vars)),
            random,
        )
    }

    /// JSONata: ItemSelector on each item (with `$states.context.Map.Item`), then the
    /// ItemBatcher.
    #[allow(clippy::too_many_arguments)] // as `children`
    pub(super) fn jsonata_children(
        &self,
        state: &State,
        m: &MapState,
        env: Env<'_>,
        items: Vec<Value>,
        context: Context<'_>,
        random: &mut dyn Random,
        mut trace: Option<&mut DataFlow>,
    ) -> Result<Vec<Value>, Failure> {
        let items = match &m.jsonata_item_selector {
            None => items,
            Some(selector) => {
                let selected = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let ctx = context.object(state, Some((i, item)));
                        let env = Env {
                            context: &ctx,
                            ..env
                        };
                        selector.eval(&env, "ItemSelector")
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                note(&mut trace, |t| {
                    t.after_item_selector = Some(Value::Array(selected.clone()))
                });
                selected
            }
        };
        batched(m, items, Eval::Jsonata(env), random)
    }
}
