//! api's integration tests, one binary (one link, one process per test under nextest).

mod decoder;
mod protocol;
#[cfg(all(feature = "sqs", feature = "sns"))]
mod query;
