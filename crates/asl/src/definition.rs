//! The typed model of a state machine definition, and its parser.
//!
//! Parsing validates at the same time and never stops at the first problem: every field of every
//! state is checked and each problem becomes a [`Diagnostic`](crate::Diagnostic) carrying the
//! JSON pointer of the offending field. Transitions are resolved to indices ([`StateId`]) so the
//! step core never looks a state up by name.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use crate::choice::{self, Condition};
use crate::diagnostics::codes;
use crate::intrinsics::{self, Intrinsic};
use crate::path::{Path, Root};
use crate::query::{self, Assign, Query};
use crate::template::Template;
use crate::{Diagnostics, Pointer, names, timestamp};

/// Index of a state within its [`StateMachine`] (a branch or item processor has its own).
pub type StateId = usize;

/// AWS's limit on a state name's length.
pub const MAX_STATE_NAME_CHARS: usize = 80;
/// The largest value AWS accepts for second counts and attempt counts.
const MAX_SECONDS: u64 = 99_999_999;

/// `QueryLanguage` of a machine or state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueryLanguage {
    #[default]
    JsonPath,
    Jsonata,
}

/// A parsed, validated state machine (or a Parallel branch / Map item processor).
#[derive(Debug, Clone, PartialEq)]
pub struct StateMachine {
    pub comment: Option<String>,
    pub start_at: StateId,
    pub states: Vec<State>,
    pub timeout_seconds: Option<u64>,
    pub query_language: QueryLanguage,
    index: HashMap<String, StateId>,
}

/// One state: its name, the fields every state shares, and its type-specific part.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub name: String,
    pub comment: Option<String>,
    pub input_path: DataPath,
    pub output_path: DataPath,
    pub kind: Kind,
    /// Whether anything in this state reads the context object `$$`, so the step core builds
    /// it only when needed.
    pub uses_context: bool,
    /// The state's own query language (inherited from its machine unless it says otherwise).
    pub query_language: QueryLanguage,
    /// `Assign`: the variables the state sets when it exits.
    pub assign: Option<Assign>,
    /// `Output` of a JSONata state: its output (default: the input, or a Task's, Parallel's
    /// or Map's result).
    pub output: Option<query::Template>,
}

/// InputPath / OutputPath: absent means `$` (all of it), `null` means `{}`.
#[derive(Debug, Clone, PartialEq)]
pub enum DataPath {
    Whole,
    Discard,
    Path(Path),
}

/// ResultPath: absent means `$` (the result replaces the input), `null` discards the result.
#[derive(Debug, Clone, PartialEq)]
pub enum ResultPath {
    Replace,
    Discard,
    Path(Path),
}

/// Where a state goes when it is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Transition {
    Next(StateId),
    End,
}

/// The type-specific part of a state.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Pass(Pass),
    Task(Box<Task>),
    Choice(ChoiceState),
    Wait(Wait),
    Succeed,
    Fail(Fail),
    Parallel(Box<Parallel>),
    Map(Box<MapState>),
}

impl Kind {
    /// The `Type` as written in definitions.
    pub fn type_name(&self) -> &'static str {
        match self {
            Kind::Pass(_) => "Pass",
            Kind::Task(_) => "Task",
            Kind::Choice(_) => "Choice",
            Kind::Wait(_) => "Wait",
            Kind::Succeed => "Succeed",
            Kind::Fail(_) => "Fail",
            Kind::Parallel(_) => "Parallel",
            Kind::Map(_) => "Map",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pass {
    pub parameters: Option<Template>,
    pub result: Option<Value>,
    pub result_path: ResultPath,
    pub next: Transition,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub resource: String,
    pub parameters: Option<Template>,
    /// `Arguments` of a JSONata Task (default: the state input).
    pub arguments: Option<query::Template>,
    pub result_selector: Option<Template>,
    pub result_path: ResultPath,
    pub timeout: Option<Seconds>,
    pub heartbeat: Option<Seconds>,
    /// `Credentials`: the role the task runs as (a template: `RoleArn.$` paths or JSONata).
    pub credentials: Option<Credentials>,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
    pub next: Transition,
}

/// A Task's `Credentials` object, evaluated per run like Parameters or Arguments.
#[derive(Debug, Clone, PartialEq)]
pub enum Credentials {
    JsonPath(Template),
    Jsonata(query::Template),
}

/// A duration in whole seconds, fixed or read from the input.
#[derive(Debug, Clone, PartialEq)]
pub enum Seconds {
    Fixed(u64),
    Path(Path),
    /// A JSONata expression (`"{% … %}"`).
    Expr(Query),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChoiceState {
    pub choices: Vec<ChoiceRule>,
    pub default: Option<StateId>,
}

/// One rule of `Choices`: its condition, where it goes, and what it assigns and outputs when
/// it is the one that matches (the state's own Assign and Output apply when Default is taken).
#[derive(Debug, Clone, PartialEq)]
pub struct ChoiceRule {
    pub condition: RuleCondition,
    pub next: StateId,
    pub assign: Option<Assign>,
    /// JSONata `Output`.
    pub output: Option<query::Template>,
}

/// A JSONPath choice rule (`Variable` + operator, `And`/`Or`/`Not`) or a JSONata `Condition`
/// (a boolean literal or an expression).
#[derive(Debug, Clone, PartialEq)]
pub enum RuleCondition {
    JsonPath(Condition),
    Jsonata(query::Template),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Wait {
    pub until: WaitFor,
    pub next: Transition,
}

/// The four ways a Wait state says how long to wait.
#[derive(Debug, Clone, PartialEq)]
pub enum WaitFor {
    Seconds(u64),
    SecondsPath(Path),
    Timestamp(String),
    TimestampPath(Path),
    /// JSONata `Seconds` and `Timestamp` given as expressions.
    SecondsExpr(Query),
    TimestampExpr(Query),
}

/// A string taken literally, from a path, or from an intrinsic (Fail's Error/Cause).
#[derive(Debug, Clone, PartialEq)]
pub enum Text {
    Literal(String),
    Path(Path),
    Intrinsic(Intrinsic),
    /// A JSONata expression (`"{% … %}"`).
    Expr(Query),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Fail {
    pub error: Option<Text>,
    pub cause: Option<Text>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Parallel {
    pub branches: Vec<StateMachine>,
    pub parameters: Option<Template>,
    /// `Arguments` of a JSONata Parallel: the branches' input (default: the state input).
    pub arguments: Option<query::Template>,
    pub result_selector: Option<Template>,
    pub result_path: ResultPath,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
    pub next: Transition,
}

/// How a Map state runs its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProcessorMode {
    #[default]
    Inline,
    Distributed,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MapState {
    pub processor: StateMachine,
    pub mode: ProcessorMode,
    /// `ExecutionType` of a distributed item processor (`STANDARD` or `EXPRESS`).
    pub execution_type: Option<String>,
    pub items_path: Option<Path>,
    /// JSONata `Items`: an array or an expression (default: the state input).
    pub items: Option<query::Template>,
    /// `ItemSelector` (or the legacy `Parameters`).
    pub item_selector: Option<Template>,
    /// `ItemSelector` of a JSONata Map.
    pub jsonata_item_selector: Option<query::Template>,
    pub max_concurrency: Option<Seconds>,
    pub tolerated_failure_count: Option<Seconds>,
    pub tolerated_failure_percentage: Option<Percentage>,
    pub item_reader: Option<ItemReader>,
    pub item_batcher: Option<ItemBatcher>,
    pub result_writer: Option<ResultWriter>,
    pub label: Option<String>,
    pub result_selector: Option<Template>,
    pub result_path: ResultPath,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
    pub next: Transition,
}

/// The payload of an ItemReader or ResultWriter: `Parameters` (JSONPath) or `Arguments`
/// (JSONata).
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    JsonPath(Template),
    Jsonata(query::Template),
}

/// What an ItemReader reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReaderSource {
    /// `arn:aws:states:::s3:getObject`: one object, read as its `InputType` says.
    GetObject,
    /// `arn:aws:states:::s3:listObjectsV2`: a bucket's objects (under a prefix), one item each.
    ListObjectsV2,
}

/// A distributed Map's `ItemReader`.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemReader {
    pub source: ReaderSource,
    /// Bucket, Key, Prefix.
    pub payload: Option<Payload>,
    /// `ReaderConfig.InputType` and its CSV settings (a getObject reader's).
    pub format: Option<crate::items::read::Format>,
    /// `ReaderConfig.MaxItems` / `MaxItemsPath` (0: no limit).
    pub max_items: Option<Seconds>,
}

/// A distributed Map's `ItemBatcher`.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemBatcher {
    /// `MaxItemsPerBatch` / `MaxItemsPerBatchPath`.
    pub max_items: Option<Seconds>,
    /// `MaxInputBytesPerBatch` / `MaxInputBytesPerBatchPath`.
    pub max_bytes: Option<Seconds>,
    /// `BatchInput`: a template over the state's input.
    pub batch_input: Option<Payload>,
}

/// A distributed Map's `ResultWriter`.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultWriter {
    /// Bucket and Prefix; none: `WriterConfig` only shapes the Map's output.
    pub payload: Option<Payload>,
    pub transformation: Option<crate::items::write::Transformation>,
    pub output_type: crate::items::write::OutputType,
}

/// `ToleratedFailurePercentage` or its `Path` variant.
#[derive(Debug, Clone, PartialEq)]
pub enum Percentage {
    Fixed(f64),
    Path(Path),
    /// A JSONata expression (`"{% … %}"`).
    Expr(Query),
}

/// JitterStrategy of a retrier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Jitter {
    #[default]
    None,
    Full,
}

/// One entry of `Retry`.
#[derive(Debug, Clone, PartialEq)]
pub struct Retrier {
    pub error_equals: Vec<String>,
    pub interval_seconds: u64,
    pub max_attempts: u64,
    pub backoff_rate: f64,
    pub max_delay_seconds: Option<u64>,
    pub jitter: Jitter,
}

/// One entry of `Catch`.
#[derive(Debug, Clone, PartialEq)]
pub struct Catcher {
    pub error_equals: Vec<String>,
    pub next: StateId,
    pub result_path: ResultPath,
    pub assign: Option<Assign>,
    /// JSONata `Output` (default: the error output).
    pub output: Option<query::Template>,
}

impl StateMachine {
    /// Parses and validates a definition. On failure, returns every problem found.
    pub fn parse(value: &Value) -> Result<StateMachine, Diagnostics> {
        let mut diags = Diagnostics::new();
        let Some(obj) = value.as_object() else {
            diags.schema(&Pointer::root(), "Definition must be a valid JSON object");
            return Err(diags);
        };
        let mut seen = HashSet::new();
        let machine = Parser {
            diags: &mut diags,
            lang: QueryLanguage::JsonPath,
            seen_names: &mut seen,
        }
        .machine(obj, &Pointer::root(), true, QueryLanguage::JsonPath);
        if diags.has_errors() {
            Err(diags)
        } else {
            Ok(machine)
        }
    }

    /// Parses a definition from its JSON text.
    pub fn parse_str(text: &str) -> Result<StateMachine, Diagnostics> {
        match serde_json::from_str::<Value>(text) {
            Ok(v) => Self::parse(&v),
            Err(e) => {
                let mut diags = Diagnostics::new();
                diags.error(
                    codes::INVALID_JSON_DESCRIPTION,
                    &Pointer::root(),
                    format!("{e} (line {}, column {})", e.line(), e.column()),
                );
                Err(diags)
            }
        }
    }

    /// The id of the state called `name` in this machine (not in its branches).
    pub fn state_id(&self, name: &str) -> Option<StateId> {
        self.index.get(name).copied()
    }

    /// The state with id `id`.
    ///
    /// # Panics
    /// If `id` does not come from this machine.
    pub fn state(&self, id: StateId) -> &State {
        &self.states[id]
    }
}

/// Fields every state may carry.
const COMMON: &[&str] = &["Type", "Comment", "QueryLanguage"];
/// The data-flow fields of Task, Parallel and Map states.
const DATA_FIELDS: &[&str] = &[
    "InputPath",
    "OutputPath",
    "Parameters",
    "ResultSelector",
    "ResultPath",
];
/// Error handling and transition fields of Task, Parallel and Map states.
const RECOVERY_FIELDS: &[&str] = &["Retry", "Catch", "Next", "End"];
/// Fields only JSONPath states have.
const JSONPATH_ONLY: &[&str] = &[
    "InputPath",
    "OutputPath",
    "Parameters",
    "ResultSelector",
    "ResultPath",
    "Result",
    "ItemsPath",
    "SecondsPath",
    "TimestampPath",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
    "ErrorPath",
    "CausePath",
    "MaxConcurrencyPath",
    "ToleratedFailureCountPath",
    "ToleratedFailurePercentagePath",
];
/// Fields only JSONata states have.
const JSONATA_ONLY: &[&str] = &["Arguments", "Output", "Items"];
/// The longest variable name AWS accepts.
const MAX_VARIABLE_NAME_CHARS: usize = 80;

struct Parser<'d> {
    diags: &'d mut Diagnostics,
    /// The query language of the state being parsed.
    lang: QueryLanguage,
    /// State names across the whole machine, branches included: AWS requires them unique.
    seen_names: &'d mut HashSet<String>,
}

/// A JSON object being read field by field.
struct Fields<'a> {
    obj: &'a Map<String, Value>,
    at: Pointer,
}

impl<'a> Fields<'a> {
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.obj.get(key)
    }

    fn has(&self, key: &str) -> bool {
        self.obj.contains_key(key)
    }

    fn at(&self, key: &str) -> Pointer {
        self.at.child(key)
    }
}

impl Parser<'_> {
    fn machine(
        &mut self,
        obj: &Map<String, Value>,
        at: &Pointer,
        top: bool,
        inherited: QueryLanguage,
    ) -> StateMachine {
        let f = Fields {
            obj,
            at: at.clone(),
        };
        let mut allowed = vec!["StartAt", "States", "Comment", "QueryLanguage"];
        if top {
            allowed.extend(["TimeoutSeconds", "Version"]);
        } else {
            allowed.push("ProcessorConfig");
        }
        self.unknown_fields(&f, &allowed);

        let mut missing = Vec::new();
        for required in ["States", "StartAt"] {
            if !f.has(required) {
                missing.push(required);
            }
        }
        if !missing.is_empty() {
            self.diags.schema(
                at,
                format!("These fields are required: [{}]", missing.join(", ")),
            );
        }
        let comment = self.string(&f, "Comment").map(str::to_owned);
        let query_language = self.query_language(&f, inherited);
        let timeout_seconds = if top {
            self.uint(&f, "TimeoutSeconds", 1, MAX_SECONDS)
        } else {
            None
        };
        if top
            && let Some(v) = f.get("Version")
            && v.as_str() != Some("1.0")
        {
            self.diags.schema(
                &f.at("Version"),
                "The value for the field 'Version' must be \"1.0\"",
            );
        }

        // First pass: names, so transitions can be resolved whatever the order.
        let states_at = f.at("States");
        let empty = Map::new();
        let states_obj = match f.get("States") {
            Some(Value::Object(m)) => m,
            Some(_) => {
                self.diags.schema(
                    &states_at,
                    "The value for the field 'States' must be an OBJECT",
                );
                &empty
            }
            None => &empty,
        };
        if f.has("States") && states_obj.is_empty() {
            self.diags.schema(&states_at, "Value cannot be empty");
        }
        let mut index = HashMap::with_capacity(states_obj.len());
        for (i, name) in states_obj.keys().enumerate() {
            index.insert(name.clone(), i);
            let here = states_at.child(name);
            if name.chars().count() > MAX_STATE_NAME_CHARS {
                self.diags.schema(
                    &here,
                    format!("State name '{name}' is longer than {MAX_STATE_NAME_CHARS} characters"),
                );
            }
            if !self.seen_names.insert(name.clone()) {
                self.diags.error(
                    codes::DUPLICATE_STATE_NAME,
                    &here,
                    format!("Duplicate State name: {name}"),
                );
            }
        }

        let start_at = match self.string(&f, "StartAt") {
            Some(name) => match index.get(name) {
                Some(&id) => id,
                None => {
                    if !states_obj.is_empty() {
                        self.diags.error(
                            codes::MISSING_TRANSITION_TARGET,
                            &f.at("StartAt"),
                            format!("Missing 'StartAt' target: {name}"),
                        );
                    }
                    0
                }
            },
            None => 0,
        };

        let mut states = Vec::with_capacity(states_obj.len());
        for (name, v) in states_obj {
            let here = states_at.child(name);
            states.push(self.state(name, v, &here, &index, query_language));
        }

        let machine = StateMachine {
            comment,
            start_at,
            states,
            timeout_seconds,
            query_language,
            index,
        };
        if !machine.states.is_empty() && start_at < machine.states.len() {
            self.check_graph(&machine, &states_at);
        }
        machine
    }

    /// Reachability from StartAt and the existence of a terminal state.
    fn check_graph(&mut self, m: &StateMachine, states_at: &Pointer) {
        let mut reached = vec![false; m.states.len()];
        let mut stack = vec![m.start_at];
        while let Some(id) = stack.pop() {
            if std::mem::replace(&mut reached[id], true) {
                continue;
            }
            stack.extend(successors(&m.states[id]).filter(|&n| n < m.states.len() && !reached[n]));
        }
        for (state, reached) in m.states.iter().zip(&reached) {
            if !reached {
                self.diags.error(
                    codes::MISSING_TRANSITION_TARGET,
                    &states_at.child(&state.name),
                    format!("State \"{}\" is not reachable.", state.name),
                );
            }
        }
        let terminal = m.states.iter().any(|s| match &s.kind {
            Kind::Succeed | Kind::Fail(_) => true,
            Kind::Choice(_) => false,
            Kind::Pass(p) => p.next == Transition::End,
            Kind::Task(t) => t.next == Transition::End,
            Kind::Wait(w) => w.next == Transition::End,
            Kind::Parallel(p) => p.next == Transition::End,
            Kind::Map(mp) => mp.next == Transition::End,
        });
        if !terminal {
            self.diags
                .schema(states_at, "Workflow has no terminal state");
        }
    }

    fn state(
        &mut self,
        name: &str,
        value: &Value,
        at: &Pointer,
        index: &HashMap<String, StateId>,
        inherited: QueryLanguage,
    ) -> State {
        let placeholder = || State {
            name: name.to_owned(),
            comment: None,
            input_path: DataPath::Whole,
            output_path: DataPath::Whole,
            kind: Kind::Succeed,
            uses_context: false,
            query_language: inherited,
            assign: None,
            output: None,
        };
        let Some(obj) = value.as_object() else {
            self.diags
                .schema(at, "The value of a state must be an OBJECT");
            return placeholder();
        };
        let f = Fields {
            obj,
            at: at.clone(),
        };
        let Some(type_value) = f.get("Type") else {
            self.diags.schema(at, "These fields are required: [Type]");
            return placeholder();
        };
        let ty = type_value.as_str().unwrap_or("");
        const TYPES: [&str; 8] = [
            "Task", "Wait", "Pass", "Succeed", "Fail", "Choice", "Parallel", "Map",
        ];
        if !TYPES.contains(&ty) {
            self.diags.schema(
                &f.at("Type"),
                format!(
                    "The field 'Type' should have one of these values: [{}]",
                    TYPES.join(", ")
                ),
            );
            return placeholder();
        }
        let language = self.query_language(&f, inherited);
        let outer_language = std::mem::replace(&mut self.lang, language);
        self.language_fields(&f);
        let assign = if ty == "Succeed" || ty == "Fail" {
            None
        } else {
            self.assign(&f, "Assign")
        };
        let output = if language == QueryLanguage::Jsonata && ty != "Fail" {
            self.jsonata_template(&f, "Output")
        } else {
            None
        };

        let comment = self.string(&f, "Comment").map(str::to_owned);
        let (input_path, output_path) = if ty == "Fail" {
            (DataPath::Whole, DataPath::Whole)
        } else {
            (
                self.data_path(&f, "InputPath"),
                self.data_path(&f, "OutputPath"),
            )
        };
        let kind = match ty {
            "Pass" => self.pass(&f, index),
            "Task" => self.task(&f, index),
            "Choice" => self.choice(&f, index),
            "Wait" => self.wait(&f, index),
            "Succeed" => {
                self.unknown_fields(
                    &f,
                    &[COMMON, &["InputPath", "OutputPath", "Output"]].concat(),
                );
                self.no_transition(&f);
                Kind::Succeed
            }
            "Fail" => self.fail(&f),
            "Parallel" => self.parallel(&f, index, language),
            _ => self.map(&f, index, language),
        };
        self.lang = outer_language;
        let mut state = State {
            name: name.to_owned(),
            comment,
            input_path,
            output_path,
            kind,
            uses_context: false,
            query_language: language,
            assign,
            output,
        };
        state.uses_context = state_uses_context(&state);
        state
    }

    fn pass(&mut self, f: &Fields<'_>, index: &HashMap<String, StateId>) -> Kind {
        self.unknown_fields(
            f,
            &[
                COMMON,
                &[
                    "InputPath",
                    "OutputPath",
                    "Parameters",
                    "Result",
                    "ResultPath",
                    "Next",
                    "End",
                ],
                &["Assign", "Output"],
            ]
            .concat(),
        );
        Kind::Pass(Pass {
            parameters: self.template(f, "Parameters"),
            result: f.get("Result").cloned(),
            result_path: self.result_path(f, "ResultPath"),
            next: self.transition(f, index),
        })
    }

    fn task(&mut self, f: &Fields<'_>, index: &HashMap<String, StateId>) -> Kind {
        self.unknown_fields(
            f,
            &[
                COMMON,
                DATA_FIELDS,
                RECOVERY_FIELDS,
                &["Resource", "Credentials", "Assign", "Arguments", "Output"],
                &[
                    "TimeoutSeconds",
                    "TimeoutSecondsPath",
                    "HeartbeatSeconds",
                    "HeartbeatSecondsPath",
                ],
            ]
            .concat(),
        );
        let resource = match self.string(f, "Resource") {
            Some(r) => {
                if !r.starts_with("arn:") {
                    self.diags.schema(
                        &f.at("Resource"),
                        format!(
                            "The resource provided {r} is not recognized. The value is not a \
                             valid resource ARN, or the resource is not available in this region."
                        ),
                    );
                }
                r.to_owned()
            }
            None => {
                if !f.has("Resource") {
                    self.diags
                        .schema(&f.at, "These fields are required: [Resource]");
                }
                String::new()
            }
        };
        let timeout = self.seconds(f, "TimeoutSeconds", "TimeoutSecondsPath");
        let heartbeat = self.seconds(f, "HeartbeatSeconds", "HeartbeatSecondsPath");
        if let (Some(Seconds::Fixed(t)), Some(Seconds::Fixed(h))) = (&timeout, &heartbeat)
            && h >= t
        {
            self.diags.schema(
                &f.at("HeartbeatSeconds"),
                "The value for the field 'HeartbeatSeconds' must be smaller than the value for \
                 the field 'TimeoutSeconds'",
            );
        }
        let credentials = match f.get("Credentials") {
            Some(c @ Value::Object(m)) => {
                if !m.contains_key("RoleArn") && !m.contains_key("RoleArn.$") {
                    self.diags.schema(
                        &f.at("Credentials"),
                        "The field 'RoleArn' is required but was missing",
                    );
                }
                Some(match self.lang {
                    QueryLanguage::JsonPath => {
                        Credentials::JsonPath(Template::parse(c, &f.at("Credentials"), self.diags))
                    }
                    QueryLanguage::Jsonata => Credentials::Jsonata(query::Template::parse(
                        c,
                        &f.at("Credentials"),
                        self.diags,
                    )),
                })
            }
            Some(_) => {
                self.diags.schema(
                    &f.at("Credentials"),
                    "The value for the field 'Credentials' must be an OBJECT",
                );
                None
            }
            None => None,
        };
        Kind::Task(Box::new(Task {
            resource,
            parameters: self.template(f, "Parameters"),
            arguments: self.jsonata_template(f, "Arguments"),
            result_selector: self.template(f, "ResultSelector"),
            result_path: self.result_path(f, "ResultPath"),
            timeout,
            heartbeat,
            credentials,
            retry: self.retry(f),
            catch: self.catch(f, index),
            next: self.transition(f, index),
        }))
    }

    fn choice(&mut self, f: &Fields<'_>, index: &HashMap<String, StateId>) -> Kind {
        self.unknown_fields(
            f,
            &[
                COMMON,
                &[
                    "InputPath",
                    "OutputPath",
                    "Choices",
                    "Default",
                    "Assign",
                    "Output",
                ],
            ]
            .concat(),
        );
        for forbidden in ["Next", "End"] {
            if f.has(forbidden) {
                self.diags.schema(
                    &f.at(forbidden),
                    format!("The field '{forbidden}' is not supported for Choice states"),
                );
            }
        }
        let mut choices = Vec::new();
        match f.get("Choices") {
            Some(Value::Array(items)) => {
                if items.is_empty() {
                    self.diags.schema(&f.at("Choices"), "Value cannot be empty");
                }
                for (i, rule) in items.iter().enumerate() {
                    let at = f.at("Choices").child(i);
                    if let Some(rule) = self.choice_rule(rule, &at, index) {
                        choices.push(rule);
                    }
                }
            }
            Some(_) => self.diags.schema(
                &f.at("Choices"),
                "The value for the field 'Choices' must be an ARRAY",
            ),
            None => self
                .diags
                .schema(&f.at, "These fields are required: [Choices]"),
        }
        let default = self
            .string(f, "Default")
            .map(|name| self.target(name, &f.at("Default"), index, "Default"));
        Kind::Choice(ChoiceState { choices, default })
    }

    fn wait(&mut self, f: &Fields<'_>, index: &HashMap<String, StateId>) -> Kind {
        const WAYS: [&str; 4] = ["Seconds", "SecondsPath", "Timestamp", "TimestampPath"];
        self.unknown_fields(
            f,
            &[
                COMMON,
                &["InputPath", "OutputPath", "Next", "End", "Assign", "Output"],
                &WAYS,
            ]
            .concat(),
        );
        let given: Vec<&str> = WAYS.iter().copied().filter(|w| f.has(w)).collect();
        if given.len() != 1 {
            self.diags.schema(
                &f.at,
                format!(
                    "A Wait state must have exactly one of the fields [{}], found {}",
                    WAYS.join(", "),
                    if given.is_empty() {
                        "none".to_owned()
                    } else {
                        given.join(", ")
                    }
                ),
            );
        }
        let until = match given.first().copied() {
            Some(way @ ("Seconds" | "Timestamp")) if self.expression_at(f, way).is_some() => {
                match (way, self.expression_at(f, way).flatten()) {
                    ("Seconds", Some(q)) => WaitFor::SecondsExpr(q),
                    (_, Some(q)) => WaitFor::TimestampExpr(q),
                    (_, None) => WaitFor::Seconds(0),
                }
            }
            Some("Seconds") => {
                WaitFor::Seconds(self.uint(f, "Seconds", 0, MAX_SECONDS).unwrap_or(0))
            }
            Some("SecondsPath") => self
                .reference_path(f, "SecondsPath")
                .map_or(WaitFor::Seconds(0), WaitFor::SecondsPath),
            Some("Timestamp") => match self.string(f, "Timestamp") {
                Some(ts) if timestamp::parse(ts).is_some() => WaitFor::Timestamp(ts.to_owned()),
                Some(_) => {
                    self.diags.schema(
                        &f.at("Timestamp"),
                        "String does not match RFC3339 timestamp",
                    );
                    WaitFor::Seconds(0)
                }
                None => WaitFor::Seconds(0),
            },
            Some(_) => self
                .reference_path(f, "TimestampPath")
                .map_or(WaitFor::Seconds(0), WaitFor::TimestampPath),
            None => WaitFor::Seconds(0),
        };
        Kind::Wait(Wait {
            until,
            next: self.transition(f, index),
        })
    }

    fn fail(&mut self, f: &Fields<'_>) -> Kind {
        self.unknown_fields(
            f,
            &[COMMON, &["Error", "ErrorPath", "Cause", "CausePath"]].concat(),
        );
        self.no_transition(f);
        Kind::Fail(Fail {
            error: self.text(f, "Error", "ErrorPath"),
            cause: self.text(f, "Cause", "CausePath"),
        })
    }

    fn parallel(
        &mut self,
        f: &Fields<'_>,
        index: &HashMap<String, StateId>,
        language: QueryLanguage,
    ) -> Kind {
        self.unknown_fields(
            f,
            &[
                COMMON,
                DATA_FIELDS,
                RECOVERY_FIELDS,
                &["Branches", "Assign", "Arguments", "Output"],
            ]
            .concat(),
        );
        let mut branches = Vec::new();
        match f.get("Branches") {
            Some(Value::Array(items)) => {
                if items.is_empty() {
                    self.diags
                        .schema(&f.at("Branches"), "Value cannot be empty");
                }
                for (i, b) in items.iter().enumerate() {
                    let at = f.at("Branches").child(i);
                    match b.as_object() {
                        Some(obj) => branches.push(self.machine(obj, &at, false, language)),
                        None => self.diags.schema(&at, "A branch must be an OBJECT"),
                    }
                }
            }
            Some(_) => self.diags.schema(
                &f.at("Branches"),
                "The value for the field 'Branches' must be an ARRAY",
            ),
            None => self
                .diags
                .schema(&f.at, "These fields are required: [Branches]"),
        }
        Kind::Parallel(Box::new(Parallel {
            branches,
            parameters: self.template(f, "Parameters"),
            arguments: self.jsonata_template(f, "Arguments"),
            result_selector: self.template(f, "ResultSelector"),
            result_path: self.result_path(f, "ResultPath"),
            retry: self.retry(f),
            catch: self.catch(f, index),
            next: self.transition(f, index),
        }))
    }

    fn map(
        &mut self,
        f: &Fields<'_>,
        index: &HashMap<String, StateId>,
        language: QueryLanguage,
    ) -> Kind {
        self.unknown_fields(
            f,
            &[
                COMMON,
                DATA_FIELDS,
                RECOVERY_FIELDS,
                &["Iterator", "ItemProcessor", "ItemsPath"],
                &[
                    "ItemSelector",
                    "MaxConcurrency",
                    "MaxConcurrencyPath",
                    "ItemReader",
                ],
                &[
                    "ItemBatcher",
                    "ResultWriter",
                    "Label",
                    "ToleratedFailureCount",
                ],
                &["ToleratedFailureCountPath", "ToleratedFailurePercentage"],
                &[
                    "ToleratedFailurePercentagePath",
                    "Assign",
                    "Items",
                    "Output",
                ],
            ]
            .concat(),
        );
        // The processor: `ItemProcessor` (current) or `Iterator` (deprecated), exactly one.
        let mut mode = ProcessorMode::Inline;
        let mut execution_type = None;
        let processor_key = match (f.has("ItemProcessor"), f.has("Iterator")) {
            (true, true) => {
                self.diags.schema(
                    &f.at("Iterator"),
                    "The fields 'ItemProcessor' and 'Iterator' are mutually exclusive",
                );
                Some("ItemProcessor")
            }
            (true, false) => Some("ItemProcessor"),
            (false, true) => Some("Iterator"),
            (false, false) => {
                self.diags
                    .schema(&f.at, "These fields are required: [ItemProcessor]");
                None
            }
        };
        let processor = match processor_key.map(|k| (k, f.get(k))) {
            Some((k, Some(Value::Object(obj)))) => {
                let at = f.at(k);
                // The legacy `Iterator` takes a ProcessorConfig too (recorded on AWS: a
                // DISTRIBUTED `Iterator` runs as a distributed Map).
                (mode, execution_type) = self.processor_config(obj, &at);
                Some(self.machine(obj, &at, false, language))
            }
            Some((k, _)) => {
                self.diags.schema(
                    &f.at(k),
                    format!("The value for the field '{k}' must be an OBJECT"),
                );
                None
            }
            None => None,
        };
        if f.has("Parameters") && f.has("ItemSelector") {
            self.diags.schema(
                &f.at("Parameters"),
                "The fields 'Parameters' and 'ItemSelector' are mutually exclusive",
            );
        }
        let (item_selector, jsonata_item_selector) = if self.lang == QueryLanguage::Jsonata {
            (None, self.jsonata_template(f, "ItemSelector"))
        } else {
            (
                self.template(f, "ItemSelector")
                    .or_else(|| self.template(f, "Parameters")),
                None,
            )
        };
        let distributed_only = [
            "ItemReader",
            "ItemBatcher",
            "ResultWriter",
            "Label",
            "ToleratedFailureCount",
        ]
        .into_iter()
        .chain(["ToleratedFailureCountPath", "ToleratedFailurePercentage"])
        .chain(["ToleratedFailurePercentagePath"]);
        if mode == ProcessorMode::Inline {
            for field in distributed_only {
                // AWS accepts (and an inline Map ignores) the failure tolerance of a JSONata
                // Map, the fields being expressions there.
                let jsonata_tolerance = self.lang == QueryLanguage::Jsonata
                    && matches!(
                        field,
                        "ToleratedFailureCount" | "ToleratedFailurePercentage"
                    );
                if f.has(field) && !jsonata_tolerance {
                    self.diags.schema(
                        &f.at(field),
                        format!(
                            "The field '{field}' is only supported for Map states in DISTRIBUTED \
                             mode"
                        ),
                    );
                }
            }
        }
        let object_field = |p: &mut Self, key: &str| match f.get(key) {
            Some(v @ Value::Object(_)) => Some(v.clone()),
            Some(_) => {
                p.diags.schema(
                    &f.at(key),
                    format!("The value for the field '{key}' must be an OBJECT"),
                );
                None
            }
            None => None,
        };
        let item_reader = object_field(self, "ItemReader")
            .as_ref()
            .and_then(|v| self.item_reader(v, &f.at("ItemReader")));
        let item_batcher = object_field(self, "ItemBatcher")
            .as_ref()
            .and_then(|v| self.item_batcher(v, &f.at("ItemBatcher")));
        let result_writer = object_field(self, "ResultWriter")
            .as_ref()
            .and_then(|v| self.result_writer(v, &f.at("ResultWriter")));
        let label = self.string(f, "Label").map(str::to_owned);
        let tolerated_failure_percentage = match (
            f.has("ToleratedFailurePercentage"),
            f.has("ToleratedFailurePercentagePath"),
        ) {
            (true, true) => {
                self.exclusive(
                    f,
                    "ToleratedFailurePercentage",
                    "ToleratedFailurePercentagePath",
                );
                None
            }
            (true, false)
                if self
                    .expression_at(f, "ToleratedFailurePercentage")
                    .is_some() =>
            {
                self.expression_at(f, "ToleratedFailurePercentage")
                    .flatten()
                    .map(Percentage::Expr)
            }
            (true, false) => match f.get("ToleratedFailurePercentage").and_then(Value::as_f64) {
                Some(p) if (0.0..=100.0).contains(&p) => Some(Percentage::Fixed(p)),
                _ => {
                    self.diags.schema(
                        &f.at("ToleratedFailurePercentage"),
                        "The value for the field 'ToleratedFailurePercentage' must be a number \
                         between 0 and 100",
                    );
                    None
                }
            },
            (false, true) => self
                .reference_path(f, "ToleratedFailurePercentagePath")
                .map(Percentage::Path),
            (false, false) => None,
        };
        Kind::Map(Box::new(MapState {
            processor: processor.unwrap_or_else(empty_machine),
            mode,
            execution_type,
            items_path: self.reference_path(f, "ItemsPath"),
            items: self.jsonata_template(f, "Items"),
            item_selector,
            jsonata_item_selector,
            max_concurrency: self.count(f, "MaxConcurrency", "MaxConcurrencyPath"),
            tolerated_failure_count: self.count(
                f,
                "ToleratedFailureCount",
                "ToleratedFailureCountPath",
            ),
            tolerated_failure_percentage,
            item_reader,
            item_batcher,
            result_writer,
            label,
            result_selector: self.template(f, "ResultSelector"),
            result_path: self.result_path(f, "ResultPath"),
            retry: self.retry(f),
            catch: self.catch(f, index),
            next: self.transition(f, index),
        }))
    }

    /// The `Parameters` (JSONPath) or `Arguments` (JSONata) of an ItemReader or ResultWriter.
    fn payload(&mut self, f: &Fields<'_>) -> Option<Payload> {
        match self.lang {
            QueryLanguage::JsonPath => self.template(f, "Parameters").map(Payload::JsonPath),
            QueryLanguage::Jsonata => self.jsonata_template(f, "Arguments").map(Payload::Jsonata),
        }
    }

    /// The payload key this state's language takes, and the one it refuses.
    fn payload_keys(&self) -> (&'static str, &'static str) {
        match self.lang {
            QueryLanguage::JsonPath => ("Parameters", "Arguments"),
            QueryLanguage::Jsonata => ("Arguments", "Parameters"),
        }
    }

    /// A `Resource` naming one of `actions` (`arn:<partition>:states:::s3:<action>`).
    fn s3_resource(&mut self, f: &Fields<'_>, actions: &[&str]) -> Option<usize> {
        let Some(resource) = self.string(f, "Resource") else {
            if !f.has("Resource") {
                self.diags
                    .schema(&f.at, "These fields are required: [Resource]");
            }
            return None;
        };
        let action = resource
            .strip_prefix("arn:")
            .and_then(|r| r.split_once(':'))
            .and_then(|(_, r)| r.strip_prefix("states:::s3:"));
        let found = action.and_then(|a| actions.iter().position(|x| *x == a));
        if found.is_none() {
            let names: Vec<String> = actions
                .iter()
                .map(|a| format!("arn:aws:states:::s3:{a}"))
                .collect();
            self.diags.schema(
                &f.at("Resource"),
                format!(
                    "The value for the field 'Resource' must be one of [{}]",
                    names.join(", ")
                ),
            );
        }
        found
    }

    /// `X` or `XPath` up to `max` (JSONata: `X` may be an expression).
    fn limited(&mut self, f: &Fields<'_>, fixed: &str, path: &str, max: u64) -> Option<Seconds> {
        match (f.has(fixed), f.has(path)) {
            (true, true) => {
                self.exclusive(f, fixed, path);
                None
            }
            (true, false) if self.expression_at(f, fixed).is_some() => {
                self.expression_at(f, fixed).flatten().map(Seconds::Expr)
            }
            (true, false) => self.uint(f, fixed, 0, max).map(Seconds::Fixed),
            (false, true) => self.reference_path(f, path).map(Seconds::Path),
            (false, false) => None,
        }
    }

    fn item_reader(&mut self, value: &Value, at: &Pointer) -> Option<ItemReader> {
        let obj = value.as_object()?;
        let f = Fields {
            obj,
            at: at.clone(),
        };
        let (payload_key, _) = self.payload_keys();
        self.unknown_fields(&f, &["Resource", payload_key, "ReaderConfig"]);
        let source = match self.s3_resource(&f, &["getObject", "listObjectsV2"]) {
            Some(0) => Some(ReaderSource::GetObject),
            Some(_) => Some(ReaderSource::ListObjectsV2),
            None => None,
        };
        let payload = self.payload(&f);
        let mut format = None;
        let mut max_items = None;
        match f.get("ReaderConfig") {
            None => {}
            Some(Value::Object(config)) => {
                let c = Fields {
                    obj: config,
                    at: f.at("ReaderConfig"),
                };
                self.unknown_fields(
                    &c,
                    &[
                        "InputType",
                        "CSVHeaderLocation",
                        "CSVHeaders",
                        "CSVDelimiter",
                        "MaxItems",
                        "MaxItemsPath",
                    ],
                );
                format = self.reader_format(&c);
                max_items = self.limited(&c, "MaxItems", "MaxItemsPath", crate::items::MAX_ITEMS);
            }
            Some(_) => self.diags.schema(
                &f.at("ReaderConfig"),
                "The value for the field 'ReaderConfig' must be an OBJECT",
            ),
        }
        let has_input_type = f
            .get("ReaderConfig")
            .and_then(Value::as_object)
            .is_some_and(|c| c.contains_key("InputType"));
        if source == Some(ReaderSource::GetObject) && !has_input_type {
            self.diags.schema(
                &f.at("ReaderConfig"),
                "The field 'InputType' is required in 'ReaderConfig' when the ItemReader's \
                 Resource is arn:aws:states:::s3:getObject",
            );
        }
        Some(ItemReader {
            source: source?,
            payload,
            format,
            max_items,
        })
    }

    fn reader_format(&mut self, c: &Fields<'_>) -> Option<crate::items::read::Format> {
        use crate::items::read::{CsvHeaders, Delimiter, Format};
        let input_type = self.string(c, "InputType")?;
        let csv_only = ["CSVHeaderLocation", "CSVHeaders", "CSVDelimiter"];
        if input_type != "CSV" {
            for field in csv_only.into_iter().filter(|k| c.has(k)) {
                self.diags.schema(
                    &c.at(field),
                    format!("The field '{field}' is only supported when 'InputType' is 'CSV'"),
                );
            }
        }
        match input_type {
            "JSON" => Some(Format::Json),
            "JSONL" => Some(Format::Jsonl),
            "MANIFEST" => Some(Format::Manifest),
            "CSV" => {
                let delimiter = match self.string(c, "CSVDelimiter") {
                    None => Delimiter::default(),
                    Some(name) => Delimiter::named(name).unwrap_or_else(|| {
                        self.diags.schema(
                            &c.at("CSVDelimiter"),
                            "The value for the field 'CSVDelimiter' must be one of [COMMA, PIPE, \
                             SEMICOLON, SPACE, TAB]",
                        );
                        Delimiter::default()
                    }),
                };
                let headers = match self.string(c, "CSVHeaderLocation") {
                    Some("FIRST_ROW") => {
                        if c.has("CSVHeaders") {
                            self.diags.schema(
                                &c.at("CSVHeaders"),
                                "The field 'CSVHeaders' is only supported when \
                                 'CSVHeaderLocation' is 'GIVEN'",
                            );
                        }
                        CsvHeaders::FirstRow
                    }
                    Some("GIVEN") => match c.get("CSVHeaders") {
                        Some(Value::Array(headers))
                            if !headers.is_empty() && headers.iter().all(Value::is_string) =>
                        {
                            CsvHeaders::Given(
                                headers
                                    .iter()
                                    .filter_map(Value::as_str)
                                    .map(str::to_owned)
                                    .collect(),
                            )
                        }
                        _ => {
                            self.diags.schema(
                                &c.at("CSVHeaders"),
                                "The field 'CSVHeaders' must be a non-empty array of strings \
                                 when 'CSVHeaderLocation' is 'GIVEN'",
                            );
                            return None;
                        }
                    },
                    Some(_) => {
                        self.diags.schema(
                            &c.at("CSVHeaderLocation"),
                            "The value for the field 'CSVHeaderLocation' must be one of \
                             [FIRST_ROW, GIVEN]",
                        );
                        return None;
                    }
                    None => {
                        self.diags
                            .schema(&c.at, "These fields are required: [CSVHeaderLocation]");
                        return None;
                    }
                };
                Some(Format::Csv { headers, delimiter })
            }
            _ => {
                self.diags.schema(
                    &c.at("InputType"),
                    "The value for the field 'InputType' must be one of [CSV, JSON, JSONL, \
                     MANIFEST]",
                );
                None
            }
        }
    }

    fn item_batcher(&mut self, value: &Value, at: &Pointer) -> Option<ItemBatcher> {
        let obj = value.as_object()?;
        let f = Fields {
            obj,
            at: at.clone(),
        };
        self.unknown_fields(
            &f,
            &[
                "MaxItemsPerBatch",
                "MaxItemsPerBatchPath",
                "MaxInputBytesPerBatch",
                "MaxInputBytesPerBatchPath",
                "BatchInput",
            ],
        );
        let max_items = self.limited(
            &f,
            "MaxItemsPerBatch",
            "MaxItemsPerBatchPath",
            crate::items::MAX_ITEMS,
        );
        let max_bytes = self.limited(
            &f,
            "MaxInputBytesPerBatch",
            "MaxInputBytesPerBatchPath",
            crate::items::batch::MAX_BATCH_BYTES,
        );
        let limits = [
            "MaxItemsPerBatch",
            "MaxItemsPerBatchPath",
            "MaxInputBytesPerBatch",
            "MaxInputBytesPerBatchPath",
        ];
        if !limits.iter().any(|k| f.has(k)) {
            self.diags.schema(
                &f.at,
                "The ItemBatcher needs at least one of [MaxItemsPerBatch, MaxItemsPerBatchPath, \
                 MaxInputBytesPerBatch, MaxInputBytesPerBatchPath]",
            );
        }
        let batch_input =
            match (self.lang, f.get("BatchInput")) {
                (_, None) => None,
                (QueryLanguage::JsonPath, Some(Value::Object(_))) => {
                    self.template(&f, "BatchInput").map(Payload::JsonPath)
                }
                (QueryLanguage::Jsonata, Some(_)) => Some(Payload::Jsonata(
                    query::Template::parse(&obj["BatchInput"], &f.at("BatchInput"), self.diags),
                )),
                (QueryLanguage::JsonPath, Some(_)) => {
                    self.diags.schema(
                        &f.at("BatchInput"),
                        "The value for the field 'BatchInput' must be an OBJECT",
                    );
                    None
                }
            };
        Some(ItemBatcher {
            max_items,
            max_bytes,
            batch_input,
        })
    }

    fn result_writer(&mut self, value: &Value, at: &Pointer) -> Option<ResultWriter> {
        use crate::items::write::{OutputType, Transformation};
        let obj = value.as_object()?;
        let f = Fields {
            obj,
            at: at.clone(),
        };
        let (payload_key, _) = self.payload_keys();
        self.unknown_fields(&f, &["Resource", payload_key, "WriterConfig"]);
        if f.has("Resource") || f.has(payload_key) {
            self.s3_resource(&f, &["putObject"]);
            if !f.has(payload_key) {
                self.diags
                    .schema(&f.at, format!("These fields are required: [{payload_key}]"));
            }
        } else if !f.has("WriterConfig") {
            self.diags.schema(
                &f.at,
                "The ResultWriter needs a Resource with its Bucket and Prefix, a WriterConfig, or \
                 both",
            );
        }
        let payload = self.payload(&f);
        let mut transformation = None;
        let mut output_type = OutputType::default();
        match f.get("WriterConfig") {
            None => {}
            Some(Value::Object(config)) => {
                let c = Fields {
                    obj: config,
                    at: f.at("WriterConfig"),
                };
                self.unknown_fields(&c, &["Transformation", "OutputType"]);
                if let Some(name) = self.string(&c, "Transformation") {
                    transformation = Transformation::named(name);
                    if transformation.is_none() {
                        self.diags.schema(
                            &c.at("Transformation"),
                            "The value for the field 'Transformation' must be one of [NONE, \
                             COMPACT, FLATTEN]",
                        );
                    }
                }
                if let Some(name) = self.string(&c, "OutputType") {
                    match OutputType::named(name) {
                        Some(t) => output_type = t,
                        None => self.diags.schema(
                            &c.at("OutputType"),
                            "The value for the field 'OutputType' must be one of [JSON, JSONL]",
                        ),
                    }
                }
            }
            Some(_) => self.diags.schema(
                &f.at("WriterConfig"),
                "The value for the field 'WriterConfig' must be an OBJECT",
            ),
        }
        Some(ResultWriter {
            payload,
            transformation,
            output_type,
        })
    }

    fn processor_config(
        &mut self,
        obj: &Map<String, Value>,
        at: &Pointer,
    ) -> (ProcessorMode, Option<String>) {
        let Some(config) = obj.get("ProcessorConfig") else {
            return (ProcessorMode::Inline, None);
        };
        let at = at.child("ProcessorConfig");
        let Some(config) = config.as_object() else {
            self.diags.schema(
                &at,
                "The value for the field 'ProcessorConfig' must be an OBJECT",
            );
            return (ProcessorMode::Inline, None);
        };
        let f = Fields {
            obj: config,
            at: at.clone(),
        };
        self.unknown_fields(&f, &["Mode", "ExecutionType"]);
        let mode = match self.string(&f, "Mode") {
            None | Some("INLINE") => ProcessorMode::Inline,
            Some("DISTRIBUTED") => ProcessorMode::Distributed,
            Some(_) => {
                self.diags.schema(
                    &f.at("Mode"),
                    "The field 'Mode' should have one of these values: [INLINE, DISTRIBUTED]",
                );
                ProcessorMode::Inline
            }
        };
        let execution_type = match self.string(&f, "ExecutionType") {
            Some(t @ ("STANDARD" | "EXPRESS")) => Some(t.to_owned()),
            Some(_) => {
                self.diags.schema(
                    &f.at("ExecutionType"),
                    "The field 'ExecutionType' should have one of these values: [STANDARD, EXPRESS]",
                );
                None
            }
            None => None,
        };
        if mode == ProcessorMode::Distributed && execution_type.is_none() {
            self.diags
                .schema(&at, "These fields are required: [ExecutionType]");
        }
        (mode, execution_type)
    }

    // ---- query languages and variables ------------------------------------------------------

    /// Reports the fields of the other query language.
    fn language_fields(&mut self, f: &Fields<'_>) {
        let foreign = match self.lang {
            QueryLanguage::JsonPath => JSONATA_ONLY,
            QueryLanguage::Jsonata => JSONPATH_ONLY,
        };
        for key in f.obj.keys() {
            if foreign.contains(&key.as_str()) {
                self.language_field_error(f, key);
            }
        }
    }

    fn language_field_error(&mut self, f: &Fields<'_>, key: &str) {
        let message = match self.lang {
            QueryLanguage::Jsonata => format!(
                "The field '{key}' is not supported when QueryLanguage is 'JSONata' (a JSONPath \
                 field: JSONata states use Arguments, Output and Assign)"
            ),
            QueryLanguage::JsonPath => format!(
                "The field '{key}' is only supported when QueryLanguage is 'JSONata' (set \
                 \"QueryLanguage\": \"JSONata\" on the state or the state machine)"
            ),
        };
        self.diags.schema(&f.at(key), message);
    }

    /// A field of a JSONata state given as a `{% … %}` string: `Some(None)` when the
    /// expression does not parse (reported), `None` when the field is not an expression.
    fn expression_at(&mut self, f: &Fields<'_>, key: &str) -> Option<Option<Query>> {
        if self.lang != QueryLanguage::Jsonata {
            return None;
        }
        let text = f.get(key)?.as_str().filter(|s| query::is_expression(s))?;
        Some(Query::parse(text, &f.at(key), self.diags))
    }

    /// A JSONata template field (Arguments, Output, Items, ItemSelector); only read in
    /// JSONata states (elsewhere [`Self::language_fields`] reported it).
    fn jsonata_template(&mut self, f: &Fields<'_>, key: &str) -> Option<query::Template> {
        if self.lang != QueryLanguage::Jsonata {
            return None;
        }
        let value = f.get(key)?;
        Some(query::Template::parse(value, &f.at(key), self.diags))
    }

    /// `Assign`: an object of variable names (JSONPath: with `.$` for paths and intrinsics).
    fn assign(&mut self, f: &Fields<'_>, key: &str) -> Option<Assign> {
        let value = f.get(key)?;
        let at = f.at(key);
        let Value::Object(map) = value else {
            self.diags.schema(
                &at,
                format!("The value for the field '{key}' must be an OBJECT"),
            );
            return None;
        };
        for name in map.keys() {
            let variable = match self.lang {
                QueryLanguage::JsonPath => name.strip_suffix(".$").unwrap_or(name),
                QueryLanguage::Jsonata => name,
            };
            if let Some(problem) = variable_name_problem(variable) {
                self.diags.schema(
                    &at.child(name),
                    format!("The variable name '{variable}' is invalid: {problem}"),
                );
            }
        }
        Some(match self.lang {
            QueryLanguage::JsonPath => Assign::JsonPath(Template::parse(value, &at, self.diags)),
            QueryLanguage::Jsonata => Assign::Jsonata(
                map.iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            query::Template::parse(v, &at.child(k), self.diags),
                        )
                    })
                    .collect(),
            ),
        })
    }

    /// One rule of a Choice state's `Choices`.
    fn choice_rule(
        &mut self,
        rule: &Value,
        at: &Pointer,
        index: &HashMap<String, StateId>,
    ) -> Option<ChoiceRule> {
        let Some(obj) = rule.as_object() else {
            self.diags.schema(at, "Expected value of type Object");
            return None;
        };
        let f = Fields {
            obj,
            at: at.clone(),
        };
        let assign = self.assign(&f, "Assign");
        match self.lang {
            QueryLanguage::JsonPath => {
                if f.has("Output") {
                    self.language_field_error(&f, "Output");
                }
                let mut stripped = obj.clone();
                stripped.remove("Assign");
                stripped.remove("Output");
                let c = choice::parse_choice(&Value::Object(stripped), at, self.diags)?;
                let next = self.target(&c.next, &at.child("Next"), index, "Next");
                Some(ChoiceRule {
                    condition: RuleCondition::JsonPath(c.condition),
                    next,
                    assign,
                    output: None,
                })
            }
            QueryLanguage::Jsonata => {
                self.unknown_fields(&f, &["Condition", "Next", "Comment", "Assign", "Output"]);
                let condition = match f.get("Condition") {
                    Some(Value::Bool(b)) => Some(query::Template::Literal(Value::Bool(*b))),
                    Some(Value::String(s)) if query::is_expression(s) => {
                        Query::parse(s, &f.at("Condition"), self.diags).map(query::Template::Expr)
                    }
                    Some(_) => {
                        self.diags.schema(
                            &f.at("Condition"),
                            "The value for the field 'Condition' must be a BOOLEAN or a JSONata \
                             expression ({% … %})",
                        );
                        None
                    }
                    None => {
                        self.diags
                            .schema(at, "These fields are required: [Condition]");
                        None
                    }
                };
                let next = match self.string(&f, "Next") {
                    Some(name) => self.target(name, &f.at("Next"), index, "Next"),
                    None => {
                        if !f.has("Next") {
                            self.diags.schema(at, "These fields are required: [Next]");
                        }
                        return None;
                    }
                };
                Some(ChoiceRule {
                    condition: RuleCondition::Jsonata(condition?),
                    next,
                    assign,
                    output: self.jsonata_template(&f, "Output"),
                })
            }
        }
    }

    // ---- shared field readers ---------------------------------------------------------------

    fn unknown_fields(&mut self, f: &Fields<'_>, allowed: &[&str]) {
        for key in f.obj.keys() {
            if !allowed.contains(&key.as_str()) {
                self.diags.schema(
                    &f.at(key),
                    format!("The field '{key}' is not supported by Step Functions"),
                );
            }
        }
    }

    fn exclusive(&mut self, f: &Fields<'_>, a: &str, b: &str) {
        self.diags.schema(
            &f.at(b),
            format!("The fields '{a}' and '{b}' are mutually exclusive"),
        );
    }

    fn string<'a>(&mut self, f: &Fields<'a>, key: &str) -> Option<&'a str> {
        match f.get(key)? {
            Value::String(s) => Some(s),
            _ => {
                self.diags.schema(
                    &f.at(key),
                    format!("The value for the field '{key}' must be a STRING"),
                );
                None
            }
        }
    }

    fn uint(&mut self, f: &Fields<'_>, key: &str, min: u64, max: u64) -> Option<u64> {
        let v = f.get(key)?;
        match v.as_u64() {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                let what = if min == 0 {
                    "a non-negative integer"
                } else {
                    "a positive integer"
                };
                self.diags.schema(
                    &f.at(key),
                    format!(
                        "The value for the field '{key}' must be {what} not greater than {max}"
                    ),
                );
                None
            }
        }
    }

    fn query_language(&mut self, f: &Fields<'_>, inherited: QueryLanguage) -> QueryLanguage {
        match self.string(f, "QueryLanguage") {
            None => inherited,
            Some("JSONPath") => {
                if inherited == QueryLanguage::Jsonata {
                    self.diags.schema(
                        &f.at,
                        "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state \
                         machine",
                    );
                }
                QueryLanguage::JsonPath
            }
            Some("JSONata") => QueryLanguage::Jsonata,
            Some(_) => {
                self.diags.schema(
                    &f.at("QueryLanguage"),
                    "The field 'QueryLanguage' should have one of these values: [JSONPath, JSONata]",
                );
                inherited
            }
        }
    }

    fn data_path(&mut self, f: &Fields<'_>, key: &str) -> DataPath {
        match f.get(key) {
            None => DataPath::Whole,
            Some(Value::Null) => DataPath::Discard,
            Some(Value::String(s)) => match Path::parse(s) {
                Ok(p) if p.text() == "$" => DataPath::Whole,
                Ok(p) => DataPath::Path(p),
                Err(e) => {
                    self.diags.schema(
                        &f.at(key),
                        format!(
                            "The value for the field '{key}' must be a valid JSONPath ({})",
                            e.message
                        ),
                    );
                    DataPath::Whole
                }
            },
            Some(_) => {
                self.diags.schema(
                    &f.at(key),
                    format!("The value for the field '{key}' must be a STRING or null"),
                );
                DataPath::Whole
            }
        }
    }

    fn reference_path(&mut self, f: &Fields<'_>, key: &str) -> Option<Path> {
        let text = self.string(f, key)?;
        match Path::parse_reference(text) {
            Ok(p) => Some(p),
            Err(e) => {
                self.diags.schema(
                    &f.at(key),
                    format!(
                        "The value for the field '{key}' must be a valid Reference Path ({})",
                        e.message
                    ),
                );
                None
            }
        }
    }

    fn result_path(&mut self, f: &Fields<'_>, key: &str) -> ResultPath {
        match f.get(key) {
            None => ResultPath::Replace,
            Some(Value::Null) => ResultPath::Discard,
            Some(Value::String(_)) => match self.reference_path(f, key) {
                Some(p) if p.root() == Root::Context => {
                    self.diags.schema(
                        &f.at(key),
                        format!("The value for the field '{key}' must not refer to the context object ($$)"),
                    );
                    ResultPath::Replace
                }
                Some(p) if p.text() == "$" => ResultPath::Replace,
                Some(p) => ResultPath::Path(p),
                None => ResultPath::Replace,
            },
            Some(_) => {
                self.diags.schema(
                    &f.at(key),
                    format!("The value for the field '{key}' must be a STRING or null"),
                );
                ResultPath::Replace
            }
        }
    }

    fn template(&mut self, f: &Fields<'_>, key: &str) -> Option<Template> {
        f.get(key)
            .map(|v| Template::parse(v, &f.at(key), self.diags))
    }

    /// `X` (positive integer) or `XPath` (reference path), mutually exclusive.
    fn seconds(&mut self, f: &Fields<'_>, fixed: &str, path: &str) -> Option<Seconds> {
        self.fixed_or_path(f, fixed, path, 1)
    }

    /// Like [`Self::seconds`] but zero is allowed (MaxConcurrency, ToleratedFailureCount).
    fn count(&mut self, f: &Fields<'_>, fixed: &str, path: &str) -> Option<Seconds> {
        self.fixed_or_path(f, fixed, path, 0)
    }

    fn fixed_or_path(
        &mut self,
        f: &Fields<'_>,
        fixed: &str,
        path: &str,
        min: u64,
    ) -> Option<Seconds> {
        match (f.has(fixed), f.has(path)) {
            (true, true) => {
                self.exclusive(f, fixed, path);
                None
            }
            (true, false) if self.expression_at(f, fixed).is_some() => {
                self.expression_at(f, fixed).flatten().map(Seconds::Expr)
            }
            (true, false) => self.uint(f, fixed, min, MAX_SECONDS).map(Seconds::Fixed),
            (false, true) => self.reference_path(f, path).map(Seconds::Path),
            (false, false) => None,
        }
    }

    fn text(&mut self, f: &Fields<'_>, literal: &str, path: &str) -> Option<Text> {
        match (f.has(literal), f.has(path)) {
            (true, true) => {
                self.exclusive(f, literal, path);
                None
            }
            (true, false) if self.expression_at(f, literal).is_some() => {
                self.expression_at(f, literal).flatten().map(Text::Expr)
            }
            (true, false) => self.string(f, literal).map(|s| Text::Literal(s.to_owned())),
            (false, true) => {
                let s = self.string(f, path)?;
                let parsed = if intrinsics::is_intrinsic(s) {
                    Intrinsic::parse(s)
                        .map(Text::Intrinsic)
                        .map_err(|e| e.message)
                } else {
                    Path::parse(s).map(Text::Path).map_err(|e| e.message)
                };
                parsed
                    .map_err(|detail| {
                        self.diags.schema(
                            &f.at(path),
                            format!(
                                "The value for the field '{path}' must be a valid JSONPath or a \
                                 valid intrinsic function call ({detail})"
                            ),
                        )
                    })
                    .ok()
            }
            (false, false) => None,
        }
    }

    fn transition(&mut self, f: &Fields<'_>, index: &HashMap<String, StateId>) -> Transition {
        let end = match f.get("End") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                self.diags.schema(
                    &f.at("End"),
                    "The value for the field 'End' must be a BOOLEAN",
                );
                false
            }
        };
        match (self.string(f, "Next"), end) {
            (Some(_), true) => {
                self.diags.schema(
                    &f.at("End"),
                    "The fields 'Next' and 'End' are mutually exclusive",
                );
                Transition::End
            }
            (Some(next), false) => {
                Transition::Next(self.target(next, &f.at("Next"), index, "Next"))
            }
            (None, true) => Transition::End,
            (None, false) => {
                if !f.has("Next") {
                    self.diags.schema(
                        &f.at,
                        "The state must have either a 'Next' field or 'End': true",
                    );
                }
                Transition::End
            }
        }
    }

    /// Succeed and Fail states end the machine: they take neither `Next` nor `End`.
    fn no_transition(&mut self, f: &Fields<'_>) {
        for key in ["Next", "End"] {
            if f.has(key) {
                self.diags.schema(
                    &f.at(key),
                    format!("The field '{key}' is not supported by terminal states"),
                );
            }
        }
    }

    fn target(
        &mut self,
        name: &str,
        at: &Pointer,
        index: &HashMap<String, StateId>,
        field: &str,
    ) -> StateId {
        match index.get(name) {
            Some(&id) => id,
            None => {
                self.diags.error(
                    codes::MISSING_TRANSITION_TARGET,
                    at,
                    format!("Missing '{field}' target: {name}"),
                );
                usize::MAX
            }
        }
    }

    fn error_equals(&mut self, obj: &Fields<'_>, last: bool) -> Vec<String> {
        let at = obj.at("ErrorEquals");
        let names_value = match obj.get("ErrorEquals") {
            Some(Value::Array(items)) => items,
            Some(_) => {
                self.diags.schema(
                    &at,
                    "The value for the field 'ErrorEquals' must be an ARRAY",
                );
                return Vec::new();
            }
            None => {
                self.diags
                    .schema(&obj.at, "These fields are required: [ErrorEquals]");
                return Vec::new();
            }
        };
        if names_value.is_empty() {
            self.diags.schema(&at, "Value cannot be empty");
        }
        let mut out = Vec::with_capacity(names_value.len());
        for (i, v) in names_value.iter().enumerate() {
            match v.as_str() {
                Some(s) => out.push(s.to_owned()),
                None => self
                    .diags
                    .schema(&at.child(i), "The error name must be a STRING"),
            }
        }
        if out.iter().any(|e| e == names::ALL) {
            if out.len() > 1 {
                self.diags
                    .schema(&at, "'States.ALL' must appear alone in 'ErrorEquals'");
            }
            if !last {
                self.diags.schema(
                    &at,
                    "'States.ALL' must appear in the last retrier or catcher of the list",
                );
            }
        }
        out
    }

    fn list<'a>(&mut self, f: &Fields<'a>, key: &str) -> Vec<(Pointer, &'a Map<String, Value>)> {
        match f.get(key) {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, v)| {
                    let at = f.at(key).child(i);
                    match v.as_object() {
                        Some(obj) => Some((at, obj)),
                        None => {
                            self.diags
                                .schema(&at, format!("Each element of '{key}' must be an OBJECT"));
                            None
                        }
                    }
                })
                .collect(),
            Some(_) => {
                self.diags.schema(
                    &f.at(key),
                    format!("The value for the field '{key}' must be an ARRAY"),
                );
                Vec::new()
            }
        }
    }

    fn retry(&mut self, f: &Fields<'_>) -> Vec<Retrier> {
        let entries = self.list(f, "Retry");
        let count = entries.len();
        let mut out = Vec::with_capacity(count);
        for (i, (at, obj)) in entries.into_iter().enumerate() {
            let r = Fields { obj, at };
            self.unknown_fields(
                &r,
                &[
                    "ErrorEquals",
                    "IntervalSeconds",
                    "MaxAttempts",
                    "BackoffRate",
                    "MaxDelaySeconds",
                    "JitterStrategy",
                    "Comment",
                ],
            );
            let error_equals = self.error_equals(&r, i + 1 == count);
            let backoff_rate = match r.get("BackoffRate") {
                None => 2.0,
                Some(v) => match v.as_f64() {
                    Some(b) if b >= 1.0 => b,
                    _ => {
                        self.diags.schema(
                            &r.at("BackoffRate"),
                            "The value for the field 'BackoffRate' must be a number greater than \
                             or equal to 1.0",
                        );
                        2.0
                    }
                },
            };
            let jitter = match self.string(&r, "JitterStrategy") {
                None | Some("NONE") => Jitter::None,
                Some("FULL") => Jitter::Full,
                Some(_) => {
                    self.diags.schema(
                        &r.at("JitterStrategy"),
                        "The field 'JitterStrategy' should have one of these values: [FULL, NONE]",
                    );
                    Jitter::None
                }
            };
            out.push(Retrier {
                error_equals,
                interval_seconds: self
                    .uint(&r, "IntervalSeconds", 1, MAX_SECONDS)
                    .unwrap_or(1),
                max_attempts: self.uint(&r, "MaxAttempts", 0, MAX_SECONDS).unwrap_or(3),
                backoff_rate,
                max_delay_seconds: self.uint(&r, "MaxDelaySeconds", 1, MAX_SECONDS),
                jitter,
            });
        }
        out
    }

    fn catch(&mut self, f: &Fields<'_>, index: &HashMap<String, StateId>) -> Vec<Catcher> {
        let entries = self.list(f, "Catch");
        let count = entries.len();
        let mut out = Vec::with_capacity(count);
        for (i, (at, obj)) in entries.into_iter().enumerate() {
            let c = Fields { obj, at };
            self.unknown_fields(
                &c,
                &[
                    "ErrorEquals",
                    "Next",
                    "ResultPath",
                    "Comment",
                    "Assign",
                    "Output",
                ],
            );
            let error_equals = self.error_equals(&c, i + 1 == count);
            let next = match self.string(&c, "Next") {
                Some(name) => self.target(name, &c.at("Next"), index, "Next"),
                None => {
                    if !c.has("Next") {
                        self.diags
                            .schema(&c.at, "These fields are required: [Next]");
                    }
                    usize::MAX
                }
            };
            if self.lang == QueryLanguage::Jsonata && c.has("ResultPath") {
                self.language_field_error(&c, "ResultPath");
            }
            if self.lang == QueryLanguage::JsonPath && c.has("Output") {
                self.language_field_error(&c, "Output");
            }
            out.push(Catcher {
                error_equals,
                next,
                result_path: self.result_path(&c, "ResultPath"),
                assign: self.assign(&c, "Assign"),
                output: self.jsonata_template(&c, "Output"),
            });
        }
        out
    }
}

/// Why `name` cannot be a variable name, if it cannot: AWS's rules are those of an identifier
/// (a letter or `_`, then letters, digits and `_`), at most 80 characters, and `states` is
/// reserved.
fn variable_name_problem(name: &str) -> Option<&'static str> {
    let mut chars = name.chars();
    match chars.next() {
        None => return Some("it is empty"),
        Some(c) if !(c.is_alphabetic() || c == '_') => {
            return Some("it must start with a letter or '_'");
        }
        _ => {}
    }
    if !chars.all(|c| c.is_alphanumeric() || c == '_') {
        return Some("it may contain only letters, digits and '_'");
    }
    if name.chars().count() > MAX_VARIABLE_NAME_CHARS {
        return Some("it is longer than 80 characters");
    }
    if name == "states" {
        return Some("'states' is reserved ($states holds the state's input, result and context)");
    }
    None
}

fn empty_machine() -> StateMachine {
    StateMachine {
        comment: None,
        start_at: 0,
        states: Vec::new(),
        timeout_seconds: None,
        query_language: QueryLanguage::JsonPath,
        index: HashMap::new(),
    }
}

/// The states a state can transition to (Next, Choices, Default, Catch).
fn successors(state: &State) -> impl Iterator<Item = StateId> + '_ {
    let next = |t: &Transition| match t {
        Transition::Next(id) => Some(*id),
        Transition::End => None,
    };
    let (main, choices, default, catch): (Option<StateId>, &[ChoiceRule], _, &[Catcher]) =
        match &state.kind {
            Kind::Pass(p) => (next(&p.next), &[], None, &[]),
            Kind::Task(t) => (next(&t.next), &[], None, &t.catch),
            Kind::Choice(c) => (None, &c.choices, c.default, &[]),
            Kind::Wait(w) => (next(&w.next), &[], None, &[]),
            Kind::Succeed | Kind::Fail(_) => (None, &[], None, &[]),
            Kind::Parallel(p) => (next(&p.next), &[], None, &p.catch),
            Kind::Map(m) => (next(&m.next), &[], None, &m.catch),
        };
    main.into_iter()
        .chain(choices.iter().map(|rule| rule.next))
        .chain(default)
        .chain(catch.iter().map(|c| c.next))
}

fn path_is_context(p: &DataPath) -> bool {
    matches!(p, DataPath::Path(p) if p.root() == Root::Context)
}

fn template_uses_context(t: &Option<Template>) -> bool {
    t.as_ref().is_some_and(Template::uses_context)
}

fn assign_uses_context(a: &Option<Assign>) -> bool {
    match a {
        None => false,
        Some(Assign::JsonPath(t)) => t.uses_context(),
        Some(Assign::Jsonata(fields)) => fields.iter().any(|(_, t)| t.mentions("context")),
    }
}

fn state_uses_context(s: &State) -> bool {
    if s.query_language == QueryLanguage::Jsonata {
        // `$states.context`, read by an expression anywhere in the state.
        return state_mentions(s, "context");
    }
    let catch_assign = match &s.kind {
        Kind::Task(t) => t.catch.iter().any(|c| assign_uses_context(&c.assign)),
        Kind::Parallel(p) => p.catch.iter().any(|c| assign_uses_context(&c.assign)),
        Kind::Map(m) => m.catch.iter().any(|c| assign_uses_context(&c.assign)),
        Kind::Choice(c) => c.choices.iter().any(|r| assign_uses_context(&r.assign)),
        _ => false,
    };
    if catch_assign || assign_uses_context(&s.assign) {
        return true;
    }
    let kind = match &s.kind {
        Kind::Pass(p) => template_uses_context(&p.parameters),
        Kind::Task(t) => {
            template_uses_context(&t.parameters)
                || template_uses_context(&t.result_selector)
                || matches!(&t.credentials, Some(Credentials::JsonPath(c)) if c.uses_context())
                || [&t.timeout, &t.heartbeat]
                    .into_iter()
                    .any(|s| matches!(s, Some(Seconds::Path(p)) if p.root() == Root::Context))
        }
        Kind::Choice(c) => c.choices.iter().any(|rule| match &rule.condition {
            RuleCondition::JsonPath(cond) => cond.uses_context(),
            RuleCondition::Jsonata(_) => false,
        }),
        Kind::Wait(w) => matches!(
            &w.until,
            WaitFor::SecondsPath(p) | WaitFor::TimestampPath(p) if p.root() == Root::Context
        ),
        Kind::Succeed => false,
        Kind::Fail(f) => [&f.error, &f.cause].into_iter().any(|t| match t {
            Some(Text::Path(p)) => p.root() == Root::Context,
            Some(Text::Intrinsic(i)) => i.uses_context(),
            _ => false,
        }),
        Kind::Parallel(p) => {
            template_uses_context(&p.parameters) || template_uses_context(&p.result_selector)
        }
        // Map item selectors read `$$.Map.Item`; always build the context for them. So do the
        // payloads of a reader, batcher or writer (rare, and read once per Map).
        Kind::Map(m) => {
            m.item_selector.is_some()
                || template_uses_context(&m.result_selector)
                || m.item_reader.is_some()
                || m.item_batcher.is_some()
                || m.result_writer.is_some()
        }
    };
    kind || path_is_context(&s.input_path) || path_is_context(&s.output_path)
}

/// Whether any JSONata expression of state `s` mentions `word` (conservative: a mention is
/// enough to build what it may read).
fn state_mentions(s: &State, word: &str) -> bool {
    let t = |t: &Option<query::Template>| t.as_ref().is_some_and(|t| t.mentions(word));
    let q = |q: &Query| q.source().contains(word);
    let seconds = |s: &Option<Seconds>| matches!(s, Some(Seconds::Expr(e)) if q(e));
    let assign = |a: &Option<Assign>| match a {
        Some(Assign::Jsonata(fields)) => fields.iter().any(|(_, t)| t.mentions(word)),
        _ => false,
    };
    let catch = |c: &[Catcher]| c.iter().any(|c| t(&c.output) || assign(&c.assign));
    let kind = match &s.kind {
        Kind::Pass(_) | Kind::Succeed => false,
        Kind::Task(task) => {
            t(&task.arguments)
                || seconds(&task.timeout)
                || seconds(&task.heartbeat)
                || catch(&task.catch)
                || matches!(&task.credentials, Some(Credentials::Jsonata(c)) if c.mentions(word))
        }
        Kind::Choice(c) => c.choices.iter().any(|r| {
            matches!(&r.condition, RuleCondition::Jsonata(c) if c.mentions(word))
                || t(&r.output)
                || assign(&r.assign)
        }),
        Kind::Wait(w) => {
            matches!(&w.until, WaitFor::SecondsExpr(e) | WaitFor::TimestampExpr(e) if q(e))
        }
        Kind::Fail(f) => [&f.error, &f.cause]
            .into_iter()
            .any(|x| matches!(x, Some(Text::Expr(e)) if q(e))),
        Kind::Parallel(p) => t(&p.arguments) || catch(&p.catch),
        Kind::Map(m) => {
            t(&m.items)
                || t(&m.jsonata_item_selector)
                || seconds(&m.max_concurrency)
                || seconds(&m.tolerated_failure_count)
                || matches!(&m.tolerated_failure_percentage, Some(Percentage::Expr(e)) if q(e))
                || catch(&m.catch)
                // Conservative: a reader, batcher or writer may read anything.
                || m.item_reader.is_some()
                || m.item_batcher.is_some()
                || m.result_writer.is_some()
        }
    };
    kind || t(&s.output) || assign(&s.assign)
}
