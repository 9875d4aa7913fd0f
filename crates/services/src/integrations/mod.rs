//! Task states' service integrations that Sluice runs in process.

pub mod aws_sdk;
pub mod lambda;
pub mod messages;
