//! Amazon States Language (ASL), pure.
//!
//! This crate owns the language every Sluice pipeline is written in: parsing and validating
//! state machine definitions (every problem reported with the JSON pointer of the offending
//! field and, through [`source::Positions`], its line and column), JSONPath and intrinsic
//! function evaluation, Choice rules, Retry and Catch decisions, and the step core
//! ([`step`]) that turns "this state received this input" into the next [`step::Action`].
//!
//! It must not do I/O, read clocks, draw randomness on its own or `await`: time and entropy
//! enter as data (`step::Context`, [`Random`]), so every decision is deterministic and can be
//! replayed, unit-tested, property-tested and fuzzed. The engine persists and acts on what this
//! crate decides.
//!
//! Start with [`definition::StateMachine::parse`] and [`step::Machine`].

pub mod choice;
pub mod definition;
pub mod diagnostics;
pub mod driver;
pub mod error;
pub mod express;
pub mod history;
pub mod interpreter;
pub mod intrinsics;
pub mod items;
pub mod json;
pub mod map_run;
pub mod mock;
pub mod path;
pub mod query;
pub mod random;
pub mod references;
pub mod source;
pub mod step;
pub mod task_token;
pub mod template;
pub mod test_state;
pub mod timestamp;
pub mod validate;
pub mod variables;

pub use diagnostics::{Diagnostic, Diagnostics, Pointer, Severity};
pub use error::{Failure, names};
pub use random::{Random, SplitMix64};
pub use variables::Variables;

use serde_json::Value;

/// The roots a path or intrinsic can read from: `$` (the state's current data), `$$` (the
/// context object) and `$name` (a workflow variable).
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// `$`: the effective input of the step being evaluated.
    pub input: &'a Value,
    /// `$$`: the context object (`Execution`, `State`, `StateMachine`, `Task`, `Map`).
    pub context: &'a Value,
    /// `$name`: the variables visible to the state.
    pub variables: Option<&'a Variables>,
}

impl<'a> Scope<'a> {
    pub fn new(input: &'a Value, context: &'a Value) -> Self {
        Self {
            input,
            context,
            variables: None,
        }
    }

    /// The same scope, with `$name` reading `variables`.
    pub fn with_variables(self, variables: &'a Variables) -> Self {
        Self {
            variables: Some(variables),
            ..self
        }
    }

    /// The value of variable `$name`.
    pub fn variable(&self, name: &str) -> Option<&'a Value> {
        self.variables.and_then(|v| v.get(name))
    }
}

/// A value's compact JSON text. Writes through `io::Write` into one buffer: `Value`'s
/// `Display` goes through `fmt::Write` and costs noticeably more on hot paths (history events).
pub fn json_text(value: &Value) -> String {
    let mut out = Vec::with_capacity(128);
    // Serializing a `Value` into a Vec cannot fail, and the output is UTF-8.
    let _ = serde_json::to_writer(&mut out, value);
    String::from_utf8(out).unwrap_or_default()
}

/// The length of a value's compact JSON text, without building it.
pub fn json_len(value: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}
