//! engine's integration tests, one binary (one link, one process per test under nextest).

mod callbacks;
mod common;
mod nested;
mod objects;
mod redrive;
mod retention;
mod run;
mod service;
