//! The harness of the integration tests that drive the real `sluice serve` binary with real
//! clients: the `aws` CLI and boto3 from the project's venv (`$SLUICE_VENV` or
//! `~/.cache/sluice-venv`; `.ci/run` creates it), and plain HTTP where a client would only slow
//! a test down. Every test starts its own server on a free port (`--port 0`, the port read
//! from the `listening on ...` line on stderr) with its own data dir.

#![allow(dead_code)] // each test binary uses its own part of the harness

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const SEED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/seed");
pub const ROLE: &str = "arn:aws:iam::000000000000:role/sfn";
pub const PREFIX: &str = "arn:aws:states:us-east-1:000000000000";

pub fn seed(file: &str) -> String {
    format!("{SEED}/{file}")
}

// ---------------------------------------------------------------------------------------------
// The server

pub struct Server {
    pub child: Child,
    pub port: u16,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `sluice serve --port 0 --data-dir DIR ARGS...` and waits for its address.
    pub fn start(data_dir: &Path, args: &[&str]) -> Self {
        Self::start_with_env(data_dir, args, &[])
    }

    /// [`Server::start`] with extra environment variables for the server.
    pub fn start_with_env(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .arg("serve")
            .args(["--port", "0", "--data-dir"])
            .arg(data_dir)
            .args(args)
            .env_remove("SFN_MOCK_CONFIG")
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start sluice serve");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                // Keep reading to the end so the server never blocks on a full pipe.
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if let Some(port) = line
                        .strip_prefix("listening on ")
                        .and_then(|addr| addr.rsplit_once(':'))
                        .and_then(|(_, port)| port.trim().parse::<u16>().ok())
                    {
                        let _ = tx.send(port);
                    }
                    log.lock().unwrap().push(line);
                }
            });
        }
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(port) => Self { child, port, log },
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "sluice serve did not report its address; stderr:\n{}",
                    log.lock().unwrap().join("\n")
                );
            }
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `kill -9`.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then the exit status (within 15 s).
    pub fn terminate(&mut self) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "sluice serve did not exit after SIGTERM; stderr:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh, empty directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    sluice_test_util::scratch("serve", name)
}

// ---------------------------------------------------------------------------------------------
// Clients

pub use sluice_test_util::{client_env, venv};

/// `aws stepfunctions <args...>` against `server`.
pub fn aws(server: &Server, args: &[&str]) -> Output {
    sluice_test_util::aws_cli(&server.endpoint(), "stepfunctions", args)
}

pub use sluice_test_util::stdout_json as ok_json;

/// Runs an operation whose answer is empty (`{}`: the CLI prints nothing).
pub fn ok_empty(server: &Server, args: &[&str]) {
    let output = aws(server, args);
    assert!(
        output.status.success(),
        "aws {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(matches!(printed.trim(), "" | "{}"), "{printed}");
}

/// `aws stepfunctions create-state-machine` (STANDARD); returns the machine's ARN.
pub fn create_state_machine(server: &Server, name: &str, definition: &str) -> String {
    let created = ok_json(&aws(
        server,
        &[
            "create-state-machine",
            "--name",
            name,
            "--role-arn",
            ROLE,
            "--definition",
            definition,
        ],
    ));
    created["stateMachineArn"].as_str().unwrap().to_owned()
}

/// `aws stepfunctions start-execution` (no name); returns the execution's ARN.
pub fn start_execution(server: &Server, machine: &str, input: &str) -> String {
    let started = ok_json(&aws(
        server,
        &[
            "start-execution",
            "--state-machine-arn",
            machine,
            "--input",
            input,
        ],
    ));
    started["executionArn"].as_str().unwrap().to_owned()
}

/// Asserts the CLI failed with `An error occurred (<code>) when calling the <operation>
/// operation: <message prefix>...`.
pub fn assert_cli_error(output: &Output, code: &str, operation: &str, message: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "expected {code}, got success");
    assert!(
        stderr.contains(&format!(
            "An error occurred ({code}) when calling the {operation} operation: {message}"
        )),
        "expected {code} on {operation} with '{message}', got: {stderr}"
    );
}

/// `POST /sluice/clock {"advanceSeconds": seconds}`.
pub fn advance_clock(port: u16, seconds: u64) {
    let body = serde_json::json!({ "advanceSeconds": seconds }).to_string();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let request = format!(
        "POST /sluice/clock HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}

/// One Step Functions call over a plain socket: (HTTP status, body).
pub fn call(port: u16, operation: &str, body: &Value) -> std::io::Result<(u16, Value)> {
    call_target(port, &format!("AWSStepFunctions.{operation}"), body)
}

/// One AWS JSON 1.0 call (`X-Amz-Target: target`) over a plain socket: (HTTP status, body).
pub fn call_target(port: u16, target: &str, body: &Value) -> std::io::Result<(u16, Value)> {
    let body = serde_json::to_vec(body).unwrap();
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    let head = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Type: application/x-amz-json-1.0\r\nX-Amz-Target: {target}\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(&body)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of headers"))?;
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status"))?;
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "unexpected chunked response"
    );
    let body = serde_json::from_slice(&response[split + 4..])
        .map_err(|e| std::io::Error::other(format!("body is not JSON: {e}")))?;
    Ok((status, body))
}

/// [`call`] that must succeed.
pub fn call_ok(port: u16, operation: &str, body: Value) -> Value {
    match call(port, operation, &body) {
        Ok((200, body)) => body,
        Ok((status, body)) => panic!("{operation} failed with HTTP {status}: {body}"),
        Err(error) => panic!("{operation}: {error}"),
    }
}

/// Polls DescribeExecution until the execution is no longer RUNNING.
pub fn wait_done(port: u16, execution_arn: &str, timeout: Duration) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let described = call_ok(
            port,
            "DescribeExecution",
            json!({ "executionArn": execution_arn }),
        );
        if described["status"] != "RUNNING" {
            return described;
        }
        assert!(
            Instant::now() < deadline,
            "{execution_arn} still RUNNING after {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every event of an execution, through GetExecutionHistory's pagination.
pub fn history(port: u16, execution_arn: &str) -> Vec<Value> {
    let mut events = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut request = json!({ "executionArn": execution_arn, "maxResults": 1000 });
        if let Some(token) = &token {
            request["nextToken"] = json!(token);
        }
        let page = call_ok(port, "GetExecutionHistory", request);
        events.extend(page["events"].as_array().unwrap().iter().cloned());
        match page["nextToken"].as_str() {
            Some(next) => token = Some(next.to_string()),
            None => return events,
        }
    }
}

pub fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

/// The start of every boto3 script: a Step Functions client for `$ENDPOINT` with dummy
/// credentials, no retries and no `sync-` host prefix, and the usual imports.
pub const BOTO3_PRELUDE: &str = r#"
import datetime, json, os, sys, time
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

sfn = boto3.client(
    "stepfunctions",
    endpoint_url=os.environ["ENDPOINT"],
    region_name="us-east-1",
    aws_access_key_id="x",
    aws_secret_access_key="x",
    config=Config(inject_host_prefix=False, retries={"max_attempts": 1}),
)
role = "arn:aws:iam::000000000000:role/sfn"
"#;

/// Runs [`BOTO3_PRELUDE`] + `body` with the venv's Python against `server` (extra `env` for
/// the script) and asserts that it succeeded and printed `OK`.
pub fn run_boto3(server: &Server, body: &str, env: &[(&str, &str)]) {
    let script = std::env::temp_dir().join(format!(
        "sluice-boto3-{}-{}.py",
        std::process::id(),
        server.port
    ));
    std::fs::write(&script, format!("{BOTO3_PRELUDE}{body}")).unwrap();
    let mut command = Command::new(venv().join("bin/python"));
    client_env(&mut command)
        .arg(&script)
        .env("ENDPOINT", server.endpoint())
        .envs(env.iter().copied());
    let output = command.output().expect("run python");
    let _ = std::fs::remove_file(&script);
    assert!(
        output.status.success(),
        "boto3 script failed:\n{}\n{}\nserver:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        server.log()
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "OK");
}
