//! Mocked service integrations: the AWS Step Functions Local mock configuration format
//! (`MockConfigFile.json`, "Using mocked service integrations" in the AWS Step Functions
//! developer guide).
//!
//! ```json
//! {
//!   "StateMachines": {
//!     "<MachineName>": { "TestCases": { "<CaseName>": { "<StateName>": "<MockedResponseName>" } } }
//!   },
//!   "MockedResponses": {
//!     "<MockedResponseName>": {
//!       "0": { "Return": { "StatusCode": 200 } },
//!       "1-2": { "Throw": { "Error": "Lambda.TimeoutException", "Cause": "Lambda timed out." } }
//!     }
//!   }
//! }
//! ```
//!
//! The rules, as the guide states them:
//!
//! - Both top-level fields are required; a state machine's object has the single field
//!   `TestCases`; a test case maps Task state names to names of `MockedResponses`.
//! - A mocked response is keyed by invocation number, 0-based (`"0"` is the state's first
//!   invocation, `"1"` its first retry...), or by an inclusive range (`"1-2"`).
//! - Each invocation has exactly one of `Return` (the task's result, any JSON) or `Throw` (an
//!   object with string fields `Error` and `Cause`, both required).
//! - "When you mock a Task, you must specify a mocked response for every invocation": an
//!   invocation that no key covers is *not* answered by reusing the last response; the
//!   execution fails ([`TestCase::response`] returns `None`).
//! - A state the test case does not name is not mocked: Step Functions Local calls the real
//!   service (the guide's `HybridPath`), see [`TestCase::has_state`].
//! - Invocations of a state inside a Map or Parallel are counted across all its iterations and
//!   branches, in the order they happen (the guide recommends `MaxConcurrency: 1` for
//!   predictable results); the driver counts them ([`TaskCall::invocation`]), this module maps
//!   a count to a response ([`TestCase::answer`]).
//!
//! [`MockConfig::parse`] is strict where the guide is silent: unknown fields, repeated keys
//! (which plain JSON parsing would silently collapse), ranges that overlap and empty mocked
//! responses are errors, each naming the JSON pointer of the offending field. Gaps between
//! invocation numbers are allowed (those invocations fail, as the guide says).

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

use crate::source::{self, JsonSyntaxError, LineCol, Positions};
use crate::step::TaskCall;
use crate::{Failure, Pointer};

/// What a mocked Task invocation does.
#[derive(Debug, Clone, PartialEq)]
pub enum MockedResponse {
    /// The task succeeds with this result.
    Return(Value),
    /// The task fails with this error and cause (matched by `Retry` and `Catch`).
    Throw { error: String, cause: String },
}

impl MockedResponse {
    /// The task's outcome when this response answers a Task with `resource`. A mocked
    /// response is the service's API response: for a plain Lambda function ARN the task's
    /// result is the Invoke response's `Payload`, and a `FunctionError` fails the task with the
    /// payload's `errorType` (as Step Functions Local does).
    pub fn outcome(&self, resource: &str) -> Result<Value, Failure> {
        let response = match self {
            MockedResponse::Throw { error, cause } => return Err(Failure::new(error, cause)),
            MockedResponse::Return(v) => v,
        };
        if crate::history::ResourceKind::of(resource) != crate::history::ResourceKind::Lambda {
            return Ok(response.clone());
        }
        let Some(obj) = response.as_object() else {
            return Ok(response.clone());
        };
        let Some(payload) = obj.get("Payload") else {
            return Ok(response.clone());
        };
        if let Some(function_error) = obj.get("FunctionError") {
            let error = payload
                .get("errorType")
                .and_then(Value::as_str)
                .or(function_error.as_str())
                .unwrap_or(crate::names::TASK_FAILED);
            return Err(Failure::new(error, payload.to_string()));
        }
        Ok(payload.clone())
    }

    /// The failure a `Throw` raises; `None` for a `Return`.
    pub fn failure(&self) -> Option<Failure> {
        match self {
            MockedResponse::Return(_) => None,
            MockedResponse::Throw { error, cause } => Some(Failure::new(error, cause)),
        }
    }
}

/// One entry of a mocked response: the invocations `first..=last` get `response`.
#[derive(Debug, Clone, PartialEq)]
struct Attempts {
    first: u32,
    last: u32,
    response: MockedResponse,
}

/// A named mocked response: what each invocation of a mocked state returns or throws.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MockedResponses {
    /// Sorted by `first`, disjoint.
    entries: Vec<Attempts>,
}

impl MockedResponses {
    /// The response for invocation `attempt` (0-based), if a key covers it.
    pub fn get(&self, attempt: u32) -> Option<&MockedResponse> {
        let i = self.entries.partition_point(|e| e.first <= attempt);
        let e = self.entries.get(i.checked_sub(1)?)?;
        (attempt <= e.last).then_some(&e.response)
    }

    /// The entries in invocation order, as `(first, last, response)` with `last` inclusive.
    pub fn iter(&self) -> impl Iterator<Item = (u32, u32, &MockedResponse)> + '_ {
        self.entries.iter().map(|e| (e.first, e.last, &e.response))
    }
}

/// A parsed, validated mock configuration.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MockConfig {
    /// Machine name → test case name → state name → mocked response name.
    machines: BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>>,
    responses: BTreeMap<String, MockedResponses>,
}

/// One test case of one state machine: which states are mocked, with which responses.
#[derive(Debug, Clone, Copy)]
pub struct TestCase<'a> {
    machine: &'a str,
    name: &'a str,
    states: &'a BTreeMap<String, String>,
    responses: &'a BTreeMap<String, MockedResponses>,
}

impl MockConfig {
    /// Parses and validates a mock configuration. The first problem found is returned.
    pub fn parse(text: &str) -> Result<MockConfig, Error> {
        let value = source::parse_json(text)?;
        if let Some(err) = duplicate_key(text) {
            return Err(err);
        }
        Self::from_value(&value)
    }

    /// Validates an already parsed configuration (repeated keys cannot be detected here: JSON
    /// parsing has already kept only the last of them; [`MockConfig::parse`] reports them).
    pub fn from_value(value: &Value) -> Result<MockConfig, Error> {
        let root = Pointer::root();
        let top = object(value, &root)?;
        only_fields(top, &root, &["StateMachines", "MockedResponses"])?;

        let at = root.child("MockedResponses");
        let mut responses = BTreeMap::new();
        for (name, v) in object(required(top, &root, "MockedResponses")?, &at)? {
            responses.insert(name.clone(), mocked_responses(v, &at.child(name))?);
        }

        let at = root.child("StateMachines");
        let mut machines = BTreeMap::new();
        for (machine, v) in object(required(top, &root, "StateMachines")?, &at)? {
            let at = at.child(machine);
            let fields = object(v, &at)?;
            only_fields(fields, &at, &["TestCases"])?;
            let test_cases = required(fields, &at, "TestCases")?;
            let at = at.child("TestCases");
            let mut cases = BTreeMap::new();
            for (case, v) in object(test_cases, &at)? {
                let at = at.child(case);
                let mut states = BTreeMap::new();
                for (state, v) in object(v, &at)? {
                    let at = at.child(state);
                    let name = string(v, &at)?;
                    if !responses.contains_key(name) {
                        return Err(Error::UnknownResponse {
                            path: at,
                            name: name.to_owned(),
                            available: names(responses.keys()),
                        });
                    }
                    states.insert(state.clone(), name.to_owned());
                }
                cases.insert(case.clone(), states);
            }
            machines.insert(machine.clone(), cases);
        }
        Ok(MockConfig {
            machines,
            responses,
        })
    }

    /// The test case `case` of state machine `machine`.
    pub fn test_case(&self, machine: &str, case: &str) -> Result<TestCase<'_>, Error> {
        let (machine, cases) =
            self.machines
                .get_key_value(machine)
                .ok_or_else(|| Error::UnknownMachine {
                    name: machine.to_owned(),
                    available: names(self.machines.keys()),
                })?;
        let (name, states) = cases
            .get_key_value(case)
            .ok_or_else(|| Error::UnknownTestCase {
                machine: machine.clone(),
                name: case.to_owned(),
                available: names(cases.keys()),
            })?;
        Ok(TestCase {
            machine,
            name,
            states,
            responses: &self.responses,
        })
    }

    /// The names of the configured state machines, sorted.
    pub fn machines(&self) -> impl Iterator<Item = &str> + '_ {
        self.machines.keys().map(String::as_str)
    }

    /// The names of a state machine's test cases, sorted (empty for an unknown machine).
    pub fn test_cases(&self, machine: &str) -> impl Iterator<Item = &str> + '_ {
        self.machines
            .get(machine)
            .into_iter()
            .flat_map(|c| c.keys().map(String::as_str))
    }

    /// A mocked response by name.
    pub fn mocked_response(&self, name: &str) -> Option<&MockedResponses> {
        self.responses.get(name)
    }
}

impl<'a> TestCase<'a> {
    pub fn machine(&self) -> &'a str {
        self.machine
    }

    pub fn name(&self) -> &'a str {
        self.name
    }

    /// Whether this test case mocks `state`. A state it does not mock calls the real service.
    pub fn has_state(&self, state: &str) -> bool {
        self.states.contains_key(state)
    }

    /// The response to invocation `attempt` (0-based: `0` is the first invocation, `1` the
    /// first retry, and invocations inside a Map or Parallel count on) of `state`. `None` if
    /// the state is not mocked, or if it is and no key covers `attempt`; in that second case
    /// the execution must fail (the guide: "you must specify a mocked response for every
    /// invocation"), the last response is not reused.
    pub fn response(&self, state: &str, attempt: u32) -> Option<&'a MockedResponse> {
        self.responses(state)?.get(attempt)
    }

    /// What the mocked response does for `call`, a task of `state`: the response its
    /// [`TaskCall::invocation`] picks, as the task's outcome. `None` where no key covers the
    /// invocation (or the state is not mocked).
    pub fn answer(&self, state: &str, call: &TaskCall) -> Option<Result<Value, Failure>> {
        Some(
            self.response(state, call.invocation)?
                .outcome(&call.resource),
        )
    }

    /// All the responses of a mocked state.
    pub fn responses(&self, state: &str) -> Option<&'a MockedResponses> {
        self.responses.get(self.states.get(state)?)
    }

    /// The name of the mocked response `state` uses.
    pub fn response_name(&self, state: &str) -> Option<&'a str> {
        self.states.get(state).map(String::as_str)
    }

    /// The mocked states, sorted by name.
    pub fn states(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        self.states.keys().map(String::as_str)
    }
}

/// A problem with a mock configuration, or a lookup in one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("mock configuration is not valid JSON: {0}")]
    Json(#[from] JsonSyntaxError),
    #[error("{path}: key {key:?} at {at} repeats a key of the same object")]
    DuplicateKey {
        path: Pointer,
        key: String,
        at: LineCol,
    },
    #[error("{path}: expected {expected}, found {found}")]
    WrongType {
        path: Pointer,
        expected: &'static str,
        found: &'static str,
    },
    #[error("{path}: missing required field \"{field}\"")]
    MissingField { path: Pointer, field: &'static str },
    #[error("{path}: unknown field {field:?}; expected {expected}")]
    UnknownField {
        path: Pointer,
        field: String,
        expected: String,
    },
    #[error(
        "{path}: invalid invocation key {key:?}: {reason}; expected an invocation number such \
         as \"0\" or an inclusive range such as \"1-3\""
    )]
    InvalidAttemptKey {
        path: Pointer,
        key: String,
        reason: &'static str,
    },
    #[error("{path}: invocation range {key:?} ends before it starts ({first} > {last})")]
    ReversedRange {
        path: Pointer,
        key: String,
        first: u32,
        last: u32,
    },
    #[error(
        "{path}: invocations {key:?} overlap invocations {other:?} of the same mocked response"
    )]
    OverlappingAttempts {
        path: Pointer,
        key: String,
        other: String,
    },
    #[error("{path}: mocked response defines no invocations; add at least \"0\"")]
    NoAttempts { path: Pointer },
    #[error("{path}: has both \"Return\" and \"Throw\"; an invocation must have exactly one")]
    ReturnAndThrow { path: Pointer },
    #[error("{path}: has neither \"Return\" nor \"Throw\"; an invocation must have exactly one")]
    NoReturnOrThrow { path: Pointer },
    #[error("{path}: unknown mocked response {name:?}; MockedResponses defines {available}")]
    UnknownResponse {
        path: Pointer,
        name: String,
        available: String,
    },
    #[error("no state machine {name:?} in the mock configuration; it defines {available}")]
    UnknownMachine { name: String, available: String },
    #[error("state machine {machine:?} has no test case {name:?}; it defines {available}")]
    UnknownTestCase {
        machine: String,
        name: String,
        available: String,
    },
}

impl Error {
    /// The JSON pointer of the offending field, for errors about the configuration's content
    /// (turn it into a line and column with [`Positions::locate`]).
    pub fn pointer(&self) -> Option<&Pointer> {
        match self {
            Error::DuplicateKey { path, .. }
            | Error::WrongType { path, .. }
            | Error::MissingField { path, .. }
            | Error::UnknownField { path, .. }
            | Error::InvalidAttemptKey { path, .. }
            | Error::ReversedRange { path, .. }
            | Error::OverlappingAttempts { path, .. }
            | Error::NoAttempts { path }
            | Error::ReturnAndThrow { path }
            | Error::NoReturnOrThrow { path }
            | Error::UnknownResponse { path, .. } => Some(path),
            Error::Json(_) | Error::UnknownMachine { .. } | Error::UnknownTestCase { .. } => None,
        }
    }
}

/// The first repeated key of the configuration's structure (payloads under `Return` may
/// repeat keys: they are data, not configuration).
fn duplicate_key(text: &str) -> Option<Error> {
    let positions = Positions::index(text);
    positions.duplicate_keys().iter().find_map(|(path, at)| {
        let tokens: Vec<String> = path.tokens().collect();
        let in_payload =
            tokens.len() > 4 && tokens[0] == "MockedResponses" && tokens[3] == "Return";
        (!in_payload).then(|| Error::DuplicateKey {
            path: path.clone(),
            key: tokens.last().cloned().unwrap_or_default(),
            at: *at,
        })
    })
}

fn mocked_responses(value: &Value, at: &Pointer) -> Result<MockedResponses, Error> {
    let fields = object(value, at)?;
    if fields.is_empty() {
        return Err(Error::NoAttempts { path: at.clone() });
    }
    let mut entries: Vec<(Attempts, &str)> = Vec::with_capacity(fields.len());
    for (key, v) in fields {
        let at = at.child(key);
        let (first, last) = attempt_key(key, &at)?;
        entries.push((
            Attempts {
                first,
                last,
                response: mocked_response(v, &at)?,
            },
            key,
        ));
    }
    // Stable: equal starts keep document order, so the later key is the one reported.
    entries.sort_by_key(|(e, _)| e.first);
    let mut reach: Option<(u32, &str)> = None;
    for (e, key) in &entries {
        if let Some((last, other)) = reach
            && e.first <= last
        {
            return Err(Error::OverlappingAttempts {
                path: at.child(key),
                key: (*key).to_owned(),
                other: other.to_owned(),
            });
        }
        if reach.is_none_or(|(last, _)| e.last > last) {
            reach = Some((e.last, key));
        }
    }
    Ok(MockedResponses {
        entries: entries.into_iter().map(|(e, _)| e).collect(),
    })
}

/// `"3"` → `(3, 3)`, `"1-2"` → `(1, 2)`.
fn attempt_key(key: &str, at: &Pointer) -> Result<(u32, u32), Error> {
    let invalid = |reason| Error::InvalidAttemptKey {
        path: at.clone(),
        key: key.to_owned(),
        reason,
    };
    let number = |s: &str| {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid("not a non-negative integer"));
        }
        s.parse::<u32>()
            .map_err(|_| invalid("invocation number too large"))
    };
    match key.split_once('-') {
        None => number(key).map(|n| (n, n)),
        Some((first, last)) => {
            let (first, last) = (number(first)?, number(last)?);
            if first > last {
                return Err(Error::ReversedRange {
                    path: at.clone(),
                    key: key.to_owned(),
                    first,
                    last,
                });
            }
            Ok((first, last))
        }
    }
}

fn mocked_response(value: &Value, at: &Pointer) -> Result<MockedResponse, Error> {
    let fields = object(value, at)?;
    only_fields(fields, at, &["Return", "Throw"])?;
    match (fields.get("Return"), fields.get("Throw")) {
        (Some(_), Some(_)) => Err(Error::ReturnAndThrow { path: at.clone() }),
        (None, None) => Err(Error::NoReturnOrThrow { path: at.clone() }),
        (Some(v), None) => Ok(MockedResponse::Return(v.clone())),
        (None, Some(v)) => {
            let at = at.child("Throw");
            let throw = object(v, &at)?;
            only_fields(throw, &at, &["Error", "Cause"])?;
            let error = string(required(throw, &at, "Error")?, &at.child("Error"))?;
            let cause = string(required(throw, &at, "Cause")?, &at.child("Cause"))?;
            Ok(MockedResponse::Throw {
                error: error.to_owned(),
                cause: cause.to_owned(),
            })
        }
    }
}

fn object<'v>(value: &'v Value, at: &Pointer) -> Result<&'v Map<String, Value>, Error> {
    value
        .as_object()
        .ok_or_else(|| wrong_type(value, at, "an object"))
}

fn string<'v>(value: &'v Value, at: &Pointer) -> Result<&'v str, Error> {
    value
        .as_str()
        .ok_or_else(|| wrong_type(value, at, "a string"))
}

fn wrong_type(value: &Value, at: &Pointer, expected: &'static str) -> Error {
    let found = match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    Error::WrongType {
        path: at.clone(),
        expected,
        found,
    }
}

fn required<'v>(
    fields: &'v Map<String, Value>,
    at: &Pointer,
    field: &'static str,
) -> Result<&'v Value, Error> {
    fields.get(field).ok_or_else(|| Error::MissingField {
        path: at.clone(),
        field,
    })
}

fn only_fields(fields: &Map<String, Value>, at: &Pointer, allowed: &[&str]) -> Result<(), Error> {
    match fields.keys().find(|k| !allowed.contains(&k.as_str())) {
        None => Ok(()),
        Some(field) => Err(Error::UnknownField {
            path: at.child(field),
            field: field.clone(),
            expected: names(allowed.iter()),
        }),
    }
}

/// `"A", "B"`, or `no names` when empty; for messages.
fn names<T: fmt::Display>(items: impl Iterator<Item = T>) -> String {
    let list: Vec<String> = items.map(|n| format!("\"{n}\"")).collect();
    if list.is_empty() {
        "none".to_owned()
    } else {
        list.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Modeled on the developer guide's example: `LambdaSQSIntegration` with three test cases.
    const GUIDE: &str = r#"{
  "StateMachines": {
    "LambdaSQSIntegration": {
      "TestCases": {
        "HappyPath": {
          "LambdaState": "MockedLambdaSuccess",
          "SQSState": "MockedSQSSuccess"
        },
        "RetryPath": {
          "LambdaState": "MockedLambdaRetry",
          "SQSState": "MockedSQSSuccess"
        },
        "HybridPath": {
          "LambdaState": "MockedLambdaSuccess"
        }
      }
    }
  },
  "MockedResponses": {
    "MockedLambdaSuccess": {
      "0": {"Return": {"StatusCode": 200, "Payload": {"StatusCode": 200, "body": "hi"}}}
    },
    "LambdaMockedResourceNotReady": {
      "0": {"Throw": {"Error": "Lambda.ResourceNotReadyException", "Cause": "not ready"}}
    },
    "MockedSQSSuccess": {
      "0": {"Return": {"MD5OfMessageBody": "abc", "MessageId": "m-1"}}
    },
    "MockedLambdaRetry": {
      "0": {"Throw": {"Error": "Lambda.ResourceNotReadyException", "Cause": "not ready"}},
      "1-2": {"Throw": {"Error": "Lambda.TimeoutException", "Cause": "Lambda timed out."}},
      "3": {"Return": {"StatusCode": 200, "Payload": {"StatusCode": 200, "body": "hi"}}}
    }
  }
}"#;

    fn throw(error: &str, cause: &str) -> MockedResponse {
        MockedResponse::Throw {
            error: error.into(),
            cause: cause.into(),
        }
    }

    fn ptr(tokens: &[&str]) -> Pointer {
        tokens.iter().fold(Pointer::root(), |p, t| p.child(t))
    }

    /// The guide's example with `edit` applied to its JSON.
    fn parse_edited(edit: impl FnOnce(&mut Value)) -> Result<MockConfig, Error> {
        let mut v: Value = serde_json::from_str(GUIDE).unwrap();
        edit(&mut v);
        MockConfig::parse(&serde_json::to_string_pretty(&v).unwrap())
    }

    fn retry_mock(v: &mut Value) -> &mut Value {
        &mut v["MockedResponses"]["MockedLambdaRetry"]
    }

    #[test]
    fn parses_the_guide_example() {
        let config = MockConfig::parse(GUIDE).unwrap();
        assert_eq!(
            config.machines().collect::<Vec<_>>(),
            ["LambdaSQSIntegration"]
        );
        assert_eq!(
            config
                .test_cases("LambdaSQSIntegration")
                .collect::<Vec<_>>(),
            ["HappyPath", "HybridPath", "RetryPath"]
        );

        let happy = config
            .test_case("LambdaSQSIntegration", "HappyPath")
            .unwrap();
        assert_eq!(
            (happy.machine(), happy.name()),
            ("LambdaSQSIntegration", "HappyPath")
        );
        assert_eq!(
            happy.states().collect::<Vec<_>>(),
            ["LambdaState", "SQSState"]
        );
        assert_eq!(
            happy.response("SQSState", 0),
            Some(&MockedResponse::Return(
                json!({"MD5OfMessageBody": "abc", "MessageId": "m-1"})
            ))
        );
        // Not covered: the execution fails, the last response is not reused.
        assert_eq!(happy.response("SQSState", 1), None);

        let hybrid = config
            .test_case("LambdaSQSIntegration", "HybridPath")
            .unwrap();
        assert!(hybrid.has_state("LambdaState"));
        assert!(!hybrid.has_state("SQSState"));
        assert_eq!(hybrid.response("SQSState", 0), None);
        assert_eq!(
            hybrid.response_name("LambdaState"),
            Some("MockedLambdaSuccess")
        );
    }

    #[test]
    fn retry_path_walks_the_invocation_ranges() {
        let config = MockConfig::parse(GUIDE).unwrap();
        let retry = config
            .test_case("LambdaSQSIntegration", "RetryPath")
            .unwrap();
        let not_ready = throw("Lambda.ResourceNotReadyException", "not ready");
        let timeout = throw("Lambda.TimeoutException", "Lambda timed out.");
        let ok = MockedResponse::Return(
            json!({"StatusCode": 200, "Payload": {"StatusCode": 200, "body": "hi"}}),
        );
        assert_eq!(retry.response("LambdaState", 0), Some(&not_ready));
        assert_eq!(retry.response("LambdaState", 1), Some(&timeout));
        assert_eq!(retry.response("LambdaState", 2), Some(&timeout));
        assert_eq!(retry.response("LambdaState", 3), Some(&ok));
        assert_eq!(retry.response("LambdaState", 4), None);
        assert_eq!(retry.response("LambdaState", u32::MAX), None);
        assert_eq!(
            timeout.failure(),
            Some(Failure::new("Lambda.TimeoutException", "Lambda timed out."))
        );
        assert_eq!(ok.failure(), None);
        let all = retry.responses("LambdaState").unwrap();
        let ranges: Vec<_> = all.iter().map(|(a, b, _)| (a, b)).collect();
        assert_eq!(ranges, [(0, 0), (1, 2), (3, 3)]);
        assert_eq!(config.mocked_response("MockedLambdaRetry"), Some(all));
    }

    #[test]
    fn keys_may_come_in_any_order_and_leave_gaps() {
        let config = parse_edited(|v| {
            *retry_mock(v) = json!({
                "7-9": {"Return": 3},
                "0": {"Return": null},
                "4294967295": {"Return": "max"},
                "2-5": {"Return": [2]}
            });
        })
        .unwrap();
        let retry = config
            .test_case("LambdaSQSIntegration", "RetryPath")
            .unwrap();
        let got: Vec<_> = [0, 1, 2, 5, 6, 7, 9, 10, u32::MAX]
            .iter()
            .map(|&n| retry.response("LambdaState", n).cloned())
            .collect();
        let ret = |v: Value| Some(MockedResponse::Return(v));
        assert_eq!(
            got,
            [
                ret(json!(null)),
                None,
                ret(json!([2])),
                ret(json!([2])),
                None,
                ret(json!(3)),
                ret(json!(3)),
                None,
                ret(json!("max")),
            ]
        );
    }

    #[test]
    fn attempt_key_errors() {
        let cases: &[(&str, &str)] = &[
            (
                "3-1",
                "/MockedResponses/MockedLambdaRetry/3-1: invocation range \"3-1\" ends before it starts (3 > 1)",
            ),
            (
                "x",
                "/MockedResponses/MockedLambdaRetry/x: invalid invocation key \"x\": not a non-negative integer; expected an invocation number such as \"0\" or an inclusive range such as \"1-3\"",
            ),
            (
                "-1",
                "/MockedResponses/MockedLambdaRetry/-1: invalid invocation key \"-1\": not a non-negative integer; expected an invocation number such as \"0\" or an inclusive range such as \"1-3\"",
            ),
            (
                "4294967296",
                "/MockedResponses/MockedLambdaRetry/4294967296: invalid invocation key \"4294967296\": invocation number too large; expected an invocation number such as \"0\" or an inclusive range such as \"1-3\"",
            ),
        ];
        for &(key, message) in cases {
            let err = parse_edited(|v| {
                retry_mock(v)[key] = json!({"Return": 1});
            })
            .unwrap_err();
            assert_eq!(err.to_string(), message);
            assert_eq!(
                err.pointer(),
                Some(&ptr(&["MockedResponses", "MockedLambdaRetry", key]))
            );
        }
        for key in ["", "1-", "-", "1-2-3", " 1", "1 - 2", "+1", "1.0", "٣"] {
            let err = parse_edited(|v| {
                retry_mock(v)[key] = json!({"Return": 1});
            })
            .unwrap_err();
            assert!(
                matches!(err, Error::InvalidAttemptKey { .. }),
                "{key:?}: {err}"
            );
        }
    }

    #[test]
    fn overlapping_attempts() {
        let cases: &[(Value, &str, &str)] = &[
            (
                json!({"0-2": {"Return": 1}, "2": {"Return": 2}}),
                "2",
                "0-2",
            ),
            (
                json!({"1-5": {"Return": 1}, "0-1": {"Return": 2}}),
                "1-5",
                "0-1",
            ),
            (
                json!({"0-9": {"Return": 1}, "3": {"Return": 2}, "5-6": {"Return": 3}}),
                "3",
                "0-9",
            ),
            (json!({"1": {"Return": 1}, "01": {"Return": 2}}), "01", "1"),
        ];
        for (responses, key, other) in cases {
            let err = parse_edited(|v| *retry_mock(v) = responses.clone()).unwrap_err();
            assert_eq!(
                err,
                Error::OverlappingAttempts {
                    path: ptr(&["MockedResponses", "MockedLambdaRetry", key]),
                    key: (*key).to_owned(),
                    other: (*other).to_owned(),
                }
            );
        }
        let err = parse_edited(|v| {
            *retry_mock(v) = json!({"0-2": {"Return": 1}, "2": {"Return": 2}});
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "/MockedResponses/MockedLambdaRetry/2: invocations \"2\" overlap invocations \"0-2\" \
             of the same mocked response"
        );
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let text = r#"{
  "StateMachines": {"M": {"TestCases": {"C": {"S": "R"}}}},
  "MockedResponses": {
    "R": {
      "0": {"Return": {"a": 1, "a": 2}},
      "0": {"Return": 2}
    }
  }
}"#;
        let err = MockConfig::parse(text).unwrap_err();
        assert_eq!(
            err,
            Error::DuplicateKey {
                path: ptr(&["MockedResponses", "R", "0"]),
                key: "0".into(),
                at: LineCol::new(6, 7),
            }
        );
        assert_eq!(
            err.to_string(),
            "/MockedResponses/R/0: key \"0\" at 6:7 repeats a key of the same object"
        );
        // Repeated state names in a test case, and repeated test cases.
        let text = r#"{"StateMachines": {"M": {"TestCases": {"C": {"S": "R", "S": "R"}}}},
                       "MockedResponses": {"R": {"0": {"Return": 1}}}}"#;
        assert_eq!(
            MockConfig::parse(text).unwrap_err().pointer(),
            Some(&ptr(&["StateMachines", "M", "TestCases", "C", "S"]))
        );
        // Keys repeated inside a Return payload are data: serde_json keeps the last.
        let text = r#"{"StateMachines": {"M": {"TestCases": {"C": {"S": "R"}}}},
                       "MockedResponses": {"R": {"0": {"Return": {"a": 1, "a": 2}}}}}"#;
        let config = MockConfig::parse(text).unwrap();
        let case = config.test_case("M", "C").unwrap();
        assert_eq!(
            case.response("S", 0),
            Some(&MockedResponse::Return(json!({"a": 2})))
        );
    }

    #[test]
    fn return_and_throw_rules() {
        let at = "/MockedResponses/MockedLambdaRetry/0";
        let cases: &[(Value, String)] = &[
            (
                json!({"Return": 1, "Throw": {"Error": "e", "Cause": "c"}}),
                format!(
                    "{at}: has both \"Return\" and \"Throw\"; an invocation must have exactly one"
                ),
            ),
            (
                json!({}),
                format!(
                    "{at}: has neither \"Return\" nor \"Throw\"; an invocation must have exactly one"
                ),
            ),
            (
                json!({"Retrun": 1}),
                format!("{at}/Retrun: unknown field \"Retrun\"; expected \"Return\", \"Throw\""),
            ),
            (
                json!({"Throw": {"Error": "e"}}),
                format!("{at}/Throw: missing required field \"Cause\""),
            ),
            (
                json!({"Throw": {"Cause": "c"}}),
                format!("{at}/Throw: missing required field \"Error\""),
            ),
            (
                json!({"Throw": {"Error": 1, "Cause": "c"}}),
                format!("{at}/Throw/Error: expected a string, found a number"),
            ),
            (
                json!({"Throw": {"Error": "e", "Cause": null}}),
                format!("{at}/Throw/Cause: expected a string, found null"),
            ),
            (
                json!({"Throw": "Lambda.TimeoutException"}),
                format!("{at}/Throw: expected an object, found a string"),
            ),
            (
                json!({"Throw": {"Error": "e", "Cause": "c", "Extra": true}}),
                format!("{at}/Throw/Extra: unknown field \"Extra\"; expected \"Error\", \"Cause\""),
            ),
            (
                json!([1]),
                format!("{at}: expected an object, found an array"),
            ),
        ];
        for (entry, message) in cases {
            let err = parse_edited(|v| retry_mock(v)["0"] = entry.clone()).unwrap_err();
            assert_eq!(&err.to_string(), message);
        }
        // Return may be any JSON, null included.
        let config = parse_edited(|v| retry_mock(v)["0"] = json!({"Return": null})).unwrap();
        let retry = config
            .test_case("LambdaSQSIntegration", "RetryPath")
            .unwrap();
        assert_eq!(
            retry.response("LambdaState", 0),
            Some(&MockedResponse::Return(Value::Null))
        );
    }

    #[test]
    fn structure_errors() {
        let err = parse_edited(|v| *retry_mock(v) = json!({})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/MockedResponses/MockedLambdaRetry: mocked response defines no invocations; add at \
             least \"0\""
        );
        let err = parse_edited(|v| {
            v["StateMachines"]["LambdaSQSIntegration"]["TestCases"]["RetryPath"]["SQSState"] =
                json!("MockedSQSFailure");
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "/StateMachines/LambdaSQSIntegration/TestCases/RetryPath/SQSState: unknown mocked \
             response \"MockedSQSFailure\"; MockedResponses defines \
             \"LambdaMockedResourceNotReady\", \"MockedLambdaRetry\", \"MockedLambdaSuccess\", \
             \"MockedSQSSuccess\""
        );
        let err = parse_edited(|v| {
            v["StateMachines"]["LambdaSQSIntegration"]["TestCases"]["HappyPath"]["SQSState"] =
                json!(["MockedSQSSuccess"]);
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "/StateMachines/LambdaSQSIntegration/TestCases/HappyPath/SQSState: expected a \
             string, found an array"
        );
        let err = parse_edited(|v| {
            v["StateMachines"]["LambdaSQSIntegration"] = json!({"Testcases": {}});
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "/StateMachines/LambdaSQSIntegration/Testcases: unknown field \"Testcases\"; \
             expected \"TestCases\""
        );
        let err =
            parse_edited(|v| v["StateMachines"]["LambdaSQSIntegration"] = json!({})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/StateMachines/LambdaSQSIntegration: missing required field \"TestCases\""
        );
        let err = MockConfig::parse(r#"{"StateMachines": {}}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/: missing required field \"MockedResponses\""
        );
        let err = MockConfig::parse(r#"{"MockedResponses": {}}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/: missing required field \"StateMachines\""
        );
        let err = MockConfig::parse(r#"{"StateMachines": {}, "MockedResponses": {}, "X": 1}"#)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "/X: unknown field \"X\"; expected \"StateMachines\", \"MockedResponses\""
        );
        let err = MockConfig::parse("[]").unwrap_err();
        assert_eq!(err.to_string(), "/: expected an object, found an array");
        let err = MockConfig::parse(r#"{"StateMachines": [], "MockedResponses": {}}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/StateMachines: expected an object, found an array"
        );
        let err = MockConfig::parse("{\n  \"StateMachines\": {,\n}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "mock configuration is not valid JSON: 2:21: key must be a string"
        );
        assert_eq!(err.pointer(), None);

        let empty = MockConfig::parse(r#"{"StateMachines": {}, "MockedResponses": {}}"#).unwrap();
        assert_eq!(empty.machines().count(), 0);
        assert_eq!(empty.test_cases("M").count(), 0);
    }

    #[test]
    fn test_case_lookup_errors_list_the_names() {
        let config = MockConfig::parse(GUIDE).unwrap();
        let err = config.test_case("Other", "HappyPath").unwrap_err();
        assert_eq!(
            err.to_string(),
            "no state machine \"Other\" in the mock configuration; it defines \
             \"LambdaSQSIntegration\""
        );
        let err = config
            .test_case("LambdaSQSIntegration", "SadPath")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "state machine \"LambdaSQSIntegration\" has no test case \"SadPath\"; it defines \
             \"HappyPath\", \"HybridPath\", \"RetryPath\""
        );
        assert_eq!(err.pointer(), None);
        let empty = MockConfig::parse(r#"{"StateMachines": {}, "MockedResponses": {}}"#).unwrap();
        assert_eq!(
            empty.test_case("M", "C").unwrap_err().to_string(),
            "no state machine \"M\" in the mock configuration; it defines none"
        );
    }

    #[test]
    fn error_pointers_locate_in_the_source() {
        let text = GUIDE.replace("\"1-2\"", "\"2-1\"");
        let err = MockConfig::parse(&text).unwrap_err();
        let at = Positions::index(&text).locate(err.pointer().unwrap());
        assert_eq!(at, LineCol::new(31, 7));
    }

    #[test]
    fn plain_lambda_arns_take_the_payload_and_function_errors_fail() {
        let lambda = "arn:aws:lambda:us-east-1:000000000000:function:f";
        let ok =
            MockedResponse::Return(serde_json::json!({"StatusCode": 200, "Payload": {"a": 1}}));
        assert_eq!(ok.outcome(lambda), Ok(serde_json::json!({"a": 1})));
        // The optimized integration returns the whole Invoke response.
        let invoke = "arn:aws:states:::lambda:invoke";
        assert_eq!(ok.outcome(invoke).unwrap()["StatusCode"], 200);
        let err = MockedResponse::Return(serde_json::json!({"StatusCode": 200,
            "FunctionError": "Unhandled", "Payload": {"errorType": "Custom", "errorMessage": "m"}}));
        assert_eq!(err.outcome(lambda).unwrap_err().error, "Custom");
    }
}
