//! What Sluice's integration tests share, so each new service's tests start from one harness:
//! the real AWS clients (the venv `scripts/test` creates with the pinned `aws` CLI, boto3 and
//! awslambdaric), the environment they run in, scratch directories, and checks of their output.
//! Used as a dev-dependency only.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

/// The Python venv with the pinned test clients: `$SLUICE_VENV`, else `~/.cache/sluice-venv`.
///
/// # Panics
/// If it lacks the `aws` CLI or Python, with how to create it.
pub fn venv() -> PathBuf {
    let venv = std::env::var_os("SLUICE_VENV")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/sluice-venv"))
        })
        .expect("neither SLUICE_VENV nor HOME is set");
    assert!(
        venv.join("bin/aws").exists() && venv.join("bin/python").exists(),
        "no Python venv with the aws CLI and boto3 at {}: run the tests with `scripts/test`, \
         which creates it, or point SLUICE_VENV at one",
        venv.display()
    );
    venv
}

/// The environment of an AWS client under test: dummy credentials, no user configuration, one
/// attempt per call (a retry would hide an error), and no `sync-` host prefix for
/// StartSyncExecution (AWS serves it on `sync-states.<region>`; with `--endpoint-url` the
/// prefix would turn `127.0.0.1` into `sync-127.0.0.1`).
pub fn client_env(command: &mut Command) -> &mut Command {
    command
        .env("AWS_ACCESS_KEY_ID", "x")
        .env("AWS_SECRET_ACCESS_KEY", "x")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_PAGER", "")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_DISABLE_HOST_PREFIX_INJECTION", "true")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
}

/// `aws <service> <args...> --endpoint-url <endpoint> --output json`, in [`client_env`].
pub fn aws_cli(endpoint: &str, service: &str, args: &[&str]) -> Output {
    let mut command = Command::new(venv().join("bin/aws"));
    client_env(&mut command)
        .arg(service)
        .args(args)
        .args(["--endpoint-url", endpoint])
        .args(["--output", "json"]);
    command.output().expect("run aws")
}

/// The JSON a successful client printed.
///
/// # Panics
/// If the client failed or printed no JSON.
pub fn stdout_json(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "aws failed: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    serde_json::from_slice(&output.stdout).expect("aws printed JSON")
}

/// Asserts the CLI failed with `An error occurred (<code>) when calling the <operation>
/// operation` and a message starting with `message` (the CLI may insert a retry note before
/// the colon).
pub fn assert_cli_error(output: &Output, code: &str, operation: &str, message: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "expected {code}, got success");
    assert!(
        stderr.contains(&format!(
            "An error occurred ({code}) when calling the {operation} operation"
        )),
        "expected {code} on {operation}, got: {stderr}"
    );
    assert!(
        stderr.contains(&format!(": {message}")),
        "expected '{message}' in: {stderr}"
    );
}

/// A fresh, empty directory for one test, unique to this process: `<tmp>/sluice-<suite>-<pid>-<name>`.
pub fn scratch(suite: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sluice-{suite}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    dir
}
