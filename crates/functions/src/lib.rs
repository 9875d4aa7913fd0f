//! Functions: AWS Lambda functions run for real, as long-lived worker processes.
//!
//! This crate owns what a function is and how it runs; it speaks no AWS API (the Lambda API's
//! wire is `sluice-api`'s, the Task integration the binary's):
//!
//! - [`Registry`]: functions persisted under `<data-dir>/functions/<region>/<name>/`
//!   (configuration as JSON, the unpacked code beside it, published versions and aliases),
//!   atomic writes; a function is its region and its name;
//!   [`archive`] unpacks deployment packages safely (zip-slip, symlinks, AWS's size limits).
//! - [`runtime_api`]: the Lambda Runtime API a worker talks to (one loopback listener per
//!   worker).
//! - `pool`: per function version, the backlog of invocations and the worker processes that take
//!   them — scale up on backlog to the concurrency limit, down to zero when idle; timeouts,
//!   crashes and init failures become AWS's errors (`Sandbox.Timedout`, `Runtime.ExitError`);
//!   `memory` enforces `MemorySize` (`Runtime.OutOfMemory`).
//! - [`Functions`]: the handle the API and the engine use, on one region's functions
//!   ([`Functions::in_region`] for another's) — create, update, delete, versions
//!   and aliases ([`Functions::publish_version`], [`Functions::create_alias`], ...), and
//!   [`Functions::invoke`] (qualifiers resolved, aliases routed by weight).
//! - [`task`]: what a Step Functions Task sees of an invocation (`lambda:invoke`'s result
//!   document, handler errors as Task failures).
//! - `events`: `Event` invocations, journaled and retried as their [`event_config`] says, on
//!   the server's [`Clock`]; their invocation records go to Lambda destinations.
//! - [`logs`]: each function's log lines, in memory and in its folder.
//!
//! It must not block the async runtime on a worker (every wait is async) and never panics on
//! what a client or a worker sends. Start at [`Functions`].

pub mod archive;
mod error;
pub mod event_config;
mod events;
pub mod function;
mod ids;
pub mod logs;
mod memory;
mod options;
mod pool;
mod registry;
pub mod runtime_api;
mod runtimes;
mod service;
pub mod task;

pub use error::Error;
pub use event_config::{DestinationChange, EventInvokeConfig, EventInvokeConfigChange};
pub use function::{
    Alias, Function, FunctionName, LambdaArns, Qualifier, RuntimeKind, Scope, Settings,
    parse_function_name, valid_alias_name, valid_region,
};
pub use ids::uuid_v4;
pub use memory::MemoryLimit;
pub use options::Options;
pub use pool::{PoolStats, Reply};
pub use registry::Registry;
pub use service::{
    AliasUpdate, Destinations, Functions, IDEMPOTENCY_KEY, InvokeOptions, Invoked, LATEST,
};
pub use sluice_clock::Clock;

#[cfg(test)]
mod tests;
