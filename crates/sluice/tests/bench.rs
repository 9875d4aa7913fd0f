//! Smoke test of `sluice bench` against the real binary: it starts `sluice serve`, runs every
//! workload briefly and prints a row per workload. Speed is not asserted: only that each
//! workload completed executions without errors.

use std::process::Command;

#[test]
fn bench_runs_every_workload_without_errors() {
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args([
            "bench",
            "--duration",
            "1",
            "--warmup",
            "0",
            "--clients",
            "2",
        ])
        .output()
        .expect("sluice runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    assert!(stdout.contains("fsyncs/s"), "{stdout}");
    for workload in [
        "express-pass",
        "express-task",
        "standard-pass",
        "standard-task",
    ] {
        let row = stdout
            .lines()
            .find(|line| line.split_whitespace().nth(1) == Some(workload))
            .unwrap_or_else(|| panic!("no row for {workload}:\n{stdout}"));
        // target workload clients executions/s p50 p99 p999 errors server-cpu bench-cpu
        let fields: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(fields.len(), 10, "{row}");
        assert_eq!(fields[0], "sluice", "{row}");
        assert_eq!(fields[2], "2", "{row}");
        let per_second: f64 = fields[3].parse().unwrap_or_else(|_| panic!("{row}"));
        assert!(per_second > 0.0, "{row}");
        assert_eq!(fields[7], "0", "errors in {row}\n{stdout}");
    }
}
