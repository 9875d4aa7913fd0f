//! sluice's integration tests, one binary (one link, one process per test under nextest).

mod activities;
mod aliases;
mod bench;
mod buckets;
mod callbacks;
mod cli;
mod common;
mod deep;
mod events;
mod functions;
mod jsonata;
mod map_runs;
mod mappings;
mod nested;
mod pipes;
mod queues;
mod redrive;
mod schedules;
mod serve;
mod streams;
mod test_state;
mod topics;
