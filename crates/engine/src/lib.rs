//! The execution engine: performs what `sluice-asl`'s resumable executions ask for — tasks,
//! timers, the execution deadline — asynchronously and concurrently, on a clock the engine owns.
//!
//! It decides nothing about the language (that is `sluice-asl`'s `driver::Execution` and step
//! core); it owns time ([`Clock`]: scaled, advanceable), task dispatch ([`Dispatch`]) and, for
//! STANDARD executions, persistence (`sluice-store`). Start at [`run`]; a server runs its tasks
//! through [`Integrations`], a registry of Task integrations by service.

mod activities;
mod dispatch;
mod effects;
mod integrations;
pub mod payloads;
mod run;
mod service;

pub use activities::ActivityTask;
pub use dispatch::{Dispatch, MockDispatcher, NoDispatcher, Task};
pub use integrations::{Integration, Integrations, TaskFuture, key_of};
pub use run::{Finished, run};
pub use service::{
    CallbackError, DEFAULT_EXECUTION_RETENTION, Engine, EngineError, EngineOptions, ExecutionInput,
    MapRunView, REDRIVABLE_PERIOD, StatusObserver, redrivable,
};
pub use sluice_clock::Clock;
