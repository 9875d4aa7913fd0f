//! api's integration tests, one binary (one link, one process per test under nextest).

mod decoder;
mod protocol;
