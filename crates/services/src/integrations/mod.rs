//! Task states' service integrations that Sluice runs in process.

pub mod lambda;
