//! asl's integration tests, one binary (one link, one process per test under nextest).

mod cases;
mod common;
mod deep_payloads;
mod items;
mod jsonata_variables;
mod long_definitions;
mod semantics;
mod validation;
