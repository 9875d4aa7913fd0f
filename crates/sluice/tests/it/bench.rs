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
        "express-pass-jsonata",
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

#[test]
fn bench_functions_runs_every_workload_without_errors() {
    let venv = std::env::var_os("SLUICE_VENV")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|home| std::path::PathBuf::from(home).join(".cache/sluice-venv"))
        })
        .expect("neither SLUICE_VENV nor HOME is set");
    let python = venv.join("bin/python");
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args([
            "bench",
            "--functions",
            "--duration",
            "0.5",
            "--warmup",
            "0",
            "--clients",
            "2",
            "--pool",
            "1",
            "--python",
        ])
        .arg(&python)
        .output()
        .expect("sluice runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    for workload in [
        "api-baseline",
        "native-1c",
        "native-1w",
        "python-1c",
        "python-1w",
        "python-pool",
        "seed-express",
        "seed-standard",
    ] {
        let row = stdout
            .lines()
            .find(|line| line.split_whitespace().next() == Some(workload))
            .unwrap_or_else(|| panic!("no row for {workload}:\n{stdout}"));
        // workload clients workers per-second p50 p99 p999 errors server workers bench
        let fields: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(fields.len(), 11, "{row}");
        let per_second: f64 = fields[3].parse().unwrap_or_else(|_| panic!("{row}"));
        assert!(per_second > 0.0, "{row}");
        assert_eq!(fields[7], "0", "errors in {row}\n{stdout}");
    }
    assert!(
        stdout.contains("Runtime API round trip (native-1c - api-baseline): p50 "),
        "{stdout}"
    );
}

#[test]
fn bench_mappings_drains_the_queue_for_each_batch_size() {
    let venv = std::env::var_os("SLUICE_VENV")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|home| std::path::PathBuf::from(home).join(".cache/sluice-venv"))
        })
        .expect("neither SLUICE_VENV nor HOME is set");
    let python = venv.join("bin/python");
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args([
            "bench",
            "--mappings",
            "--messages",
            "200",
            "--duration",
            "20",
            "--clients",
            "2",
            "--pool",
            "2",
            "--python",
        ])
        .arg(&python)
        .output()
        .expect("sluice runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    for batch in ["1", "10"] {
        let row = stdout
            .lines()
            .find(|line| line.split_whitespace().next() == Some(batch))
            .unwrap_or_else(|| panic!("no row for batch {batch}:\n{stdout}"));
        // batch-size events/s events time batches pollers server-cpu
        let fields: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(fields.len(), 7, "{row}");
        let per_second: f64 = fields[1].parse().unwrap_or_else(|_| panic!("{row}"));
        assert!(per_second > 0.0, "{row}");
        assert_eq!(fields[2], "200", "every message delivered: {row}\n{stdout}");
    }
}

#[test]
fn bench_queues_runs_every_workload_without_errors() {
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args([
            "bench",
            "--queues",
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
    assert!(
        out.status.success(),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for workload in [
        "send",
        "send-batch-10",
        "send-receive-delete",
        "send-to-long-poll",
        "publish-3-queues",
        "publish-3-queues-raw",
    ] {
        let row = stdout
            .lines()
            .find(|line| line.split_whitespace().next() == Some(workload))
            .unwrap_or_else(|| panic!("no row for {workload}:\n{stdout}"));
        // workload messages/s p50 p99 errors moto-rate ratio
        let fields: Vec<&str> = row.split_whitespace().collect();
        let rate: f64 = fields[1].parse().unwrap_or_else(|_| panic!("{row}"));
        assert!(rate > 0.0, "{row}");
        assert_eq!(fields[4], "0", "no errors: {row}\n{stdout}");
    }
}

#[test]
fn bench_schedules_reports_every_fire_on_time() {
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["bench", "--schedules", "--fires", "20"])
        .output()
        .expect("sluice runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // fires p50 p99 max missing
    let row = stdout.lines().last().unwrap_or_default();
    let fields: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(fields[0], "20", "every fire delivered: {stdout}");
    assert_eq!(fields[4], "0", "{stdout}");
    let max_ms: f64 = fields[3].trim_end_matches("ms").parse().unwrap();
    // Generous for a loaded CI box; an idle one fires within milliseconds.
    assert!(max_ms < 1000.0, "{stdout}");
}
