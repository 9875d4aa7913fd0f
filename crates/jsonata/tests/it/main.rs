//! jsonata's integration tests, one binary (one link, one process per test under nextest).

mod aws;
mod budget;
mod language;
mod props;
mod suite;
