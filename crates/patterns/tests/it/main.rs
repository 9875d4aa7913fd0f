//! sluice-patterns' integration tests: operators from AWS's documented examples, errors with
//! AWS's messages, SNS attributes, depth, and properties.

mod deep;
mod errors;
mod operators;
mod props;
mod sns;
