//! The execution engine: performs what `sluice-asl`'s resumable executions ask for — tasks,
//! timers, the execution deadline — asynchronously and concurrently, on a clock the engine owns.
//!
//! It decides nothing about the language (that is `sluice-asl`'s `driver::Execution` and step
//! core); it owns time ([`Clock`]: scaled, advanceable), task dispatch ([`Dispatch`]) and, for
//! STANDARD executions, persistence (next: `sluice-store`). Start at [`run`].

mod activities;
mod clock;
mod dispatch;
mod effects;
mod run;
mod service;

pub use activities::ActivityTask;
pub use clock::Clock;
pub use dispatch::{Dispatch, MockDispatcher, NoDispatcher, Task};
pub use run::{Finished, run};
pub use service::{
    CallbackError, DEFAULT_EXECUTION_RETENTION, Engine, EngineError, EngineOptions, ExecutionInput,
    MapRunView, REDRIVABLE_PERIOD, redrivable,
};
