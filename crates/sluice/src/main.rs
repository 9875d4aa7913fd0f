//! The `sluice` binary: one subcommand per role. Thin by design: parse the command line, load
//! files, call the crates, print.

#[cfg(test)]
mod architecture;
mod logs;
mod queues;
mod run;
mod schedules;
mod serve;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The server allocates and frees many small JSON trees per request on several threads:
/// glibc's allocator took about a third of its CPU (perf, EXPRESS workload); mimalloc made
/// StartSyncExecution 1.7–2.6× faster.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Sluice: a real-time event-pipeline engine that runs Amazon States Language state machines.
#[derive(Debug, Parser)]
#[command(name = "sluice", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate state machine definitions; prints every problem as `file:line:col: path: message`.
    Validate(validate::Args),
    /// Run one execution of a state machine in process and print its result as JSON.
    Run(run::Args),
    /// Serve the Step Functions and Lambda APIs for the aws CLI and SDKs: STANDARD executions
    /// durable in --data-dir, EXPRESS executions in memory, functions run by worker processes.
    Serve(serve::Args),
    /// Benchmark `sluice serve` (or --endpoint) on the seed pipeline: EXPRESS and STANDARD
    /// throughput and latency, the data dir's fsync rate, and with --moto the ratios to moto.
    Bench(sluice_bench::Args),
    /// Print a running server's recent log lines of one function (its workers' stdout and
    /// stderr, START/END/REPORT), grouped by request id; --follow for new ones.
    Logs(logs::Args),
    /// A running server's queues and topics at a glance: depth, in flight, delayed, the oldest
    /// message's age, traffic and dead letters; deliveries per subscription. --watch redraws.
    Queues(queues::Args),
    /// A running server's schedules (EventBridge Scheduler) with their next fire times and
    /// what their fires did. --watch redraws.
    Schedules(schedules::Args),
    /// The Runtime API loop `sluice bench --functions` runs as a `provided` function's
    /// bootstrap (an echo).
    #[command(hide = true)]
    BenchRuntime,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate(args) => validate::main(args),
        Command::Run(args) => run::on_execution_stack(args),
        Command::Serve(args) => serve::main(args),
        Command::Bench(args) => sluice_bench::main(args),
        Command::Logs(args) => logs::main(args),
        Command::Queues(args) => queues::main(args),
        Command::Schedules(args) => schedules::main(args),
        Command::BenchRuntime => sluice_bench::functions::runtime_main(),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("sluice: {error:#}");
            ExitCode::from(2)
        }
    }
}
