//! store's integration tests, one binary (one link, one process per test under nextest).

mod common;
mod conformance;
mod crash;
mod model;
