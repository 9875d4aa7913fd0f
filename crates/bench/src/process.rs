//! The servers the bench starts: `sluice serve` (this executable), moto's server and MiniStack
//! (each from a Python venv). Each runs as a child process that is killed and reaped when its guard drops, and whose
//! stderr is drained on a thread (the last lines are kept for error messages).

use std::collections::VecDeque;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use super::http::{Connection, Endpoint};

const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
const KEPT_LINES: usize = 30;

/// A child process, killed and reaped on drop.
pub struct Server {
    pub name: &'static str,
    pub endpoint: Endpoint,
    child: Child,
    log: Arc<Mutex<VecDeque<String>>>,
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last lines the child wrote on stderr.
    pub fn log_tail(&self) -> String {
        tail(&self.log)
    }

    /// Fails if the child has exited.
    pub fn check_running(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "{} exited ({status}); its last output:\n{}",
                self.name,
                self.log_tail()
            );
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tail(log: &Mutex<VecDeque<String>>) -> String {
    let lines = log.lock().map(|l| l.iter().cloned().collect::<Vec<_>>());
    lines.unwrap_or_default().join("\n")
}

/// Drains `stderr` on a thread, keeping the last lines; sends each line to `lines` until the
/// receiver is gone.
fn drain(
    stderr: std::process::ChildStderr,
    lines: mpsc::Sender<String>,
) -> Arc<Mutex<VecDeque<String>>> {
    let log = Arc::new(Mutex::new(VecDeque::with_capacity(KEPT_LINES)));
    let kept = Arc::clone(&log);
    std::thread::spawn(move || {
        let mut lines = Some(lines);
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Ok(mut kept) = kept.lock() {
                if kept.len() == KEPT_LINES {
                    kept.pop_front();
                }
                kept.push_back(line.clone());
            }
            if let Some(sender) = &lines
                && sender.send(line).is_err()
            {
                lines = None;
            }
        }
    });
    log
}

/// Starts `sluice serve --port 0` on `data_dir` and waits for its `listening on ADDR` line.
pub fn start_sluice(data_dir: &Path, mock_config: &Path) -> anyhow::Result<Server> {
    let args = [OsStr::new("--mock-config"), mock_config.as_os_str()];
    start_sluice_with(data_dir, &args)
}

/// Starts `sluice serve --port 0 --data-dir DATA_DIR ARGS...` and waits for its address.
pub fn start_sluice_with(data_dir: &Path, args: &[&OsStr]) -> anyhow::Result<Server> {
    let exe = std::env::current_exe().context("cannot find the sluice executable")?;
    let mut command = Command::new(exe);
    command
        .args(["serve", "--port", "0", "--data-dir"])
        .arg(data_dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if std::env::var_os("RUST_LOG").is_none() {
        // Keep the server's per-request logging off the measurement.
        command.env("RUST_LOG", "warn");
    }
    let mut child = command.spawn().context("cannot start `sluice serve`")?;
    let stderr = child.stderr.take().context("no stderr of `sluice serve`")?;
    let (sender, receiver) = mpsc::channel();
    let log = drain(stderr, sender);
    let mut server = Server {
        name: "sluice serve",
        endpoint: Endpoint::local(SocketAddr::from(([127, 0, 0, 1], 0))),
        child,
        log,
    };
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match receiver.recv_timeout(left.min(Duration::from_millis(200))) {
            Ok(line) => {
                if let Some(addr) = line.trim().strip_prefix("listening on ") {
                    let addr: SocketAddr = addr
                        .trim()
                        .parse()
                        .with_context(|| format!("`sluice serve` printed {line:?}"))?;
                    server.endpoint = Endpoint::local(addr);
                    return Ok(server);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // stderr closed: the server is gone.
                std::thread::sleep(Duration::from_millis(50));
                server.check_running()?;
                bail!("`sluice serve` closed stderr without listening");
            }
        }
        server.check_running()?;
        if Instant::now() >= deadline {
            bail!(
                "`sluice serve` did not print `listening on` within {STARTUP_TIMEOUT:?}; its output:\n{}",
                server.log_tail()
            );
        }
    }
}

/// The Python venv moto runs from: `$SLUICE_VENV`, else `$HOME/.cache/sluice-venv`.
pub fn venv_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("SLUICE_VENV") {
        return Ok(PathBuf::from(dir));
    }
    let home = std::env::var_os("HOME").context("neither SLUICE_VENV nor HOME is set")?;
    Ok(PathBuf::from(home).join(".cache").join("sluice-venv"))
}

fn venv_python(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    }
}

fn quiet_ok(command: &mut Command) -> bool {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Makes sure the venv exists and has `moto[server]`; returns its Python and moto's version.
pub fn ensure_moto(venv: &Path) -> anyhow::Result<(PathBuf, String)> {
    ensure_package(
        venv,
        "moto[server]",
        "import moto.server, flask, flask_cors",
        "import moto; print(moto.__version__)",
    )
}

/// Makes sure `venv` exists and can run `import_check`, installing `package` with pip when
/// it cannot; returns its Python and what `print_version` prints.
fn ensure_package(
    venv: &Path,
    package: &str,
    import_check: &str,
    print_version: &str,
) -> anyhow::Result<(PathBuf, String)> {
    let python = venv_python(venv);
    if !python.exists() {
        eprintln!("bench: creating the Python venv {}", venv.display());
        let created = quiet_ok(Command::new("python3").args(["-m", "venv"]).arg(venv));
        if !created {
            bail!(
                "cannot create a Python venv at {} (is python3 installed?)",
                venv.display()
            );
        }
    }
    let importable = |python: &Path| quiet_ok(Command::new(python).args(["-c", import_check]));
    if !importable(&python) {
        eprintln!(
            "bench: installing {package} into {} (pip install '{package}')",
            venv.display()
        );
        let output = Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                package,
            ])
            .stdin(Stdio::null())
            .output()
            .context("cannot run pip")?;
        if !output.status.success() || !importable(&python) {
            bail!(
                "pip install '{package}' into {} failed:\n{}",
                venv.display(),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
    let version = Command::new(&python)
        .args(["-c", print_version])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    Ok((python, version))
}

fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
    Ok(listener.local_addr()?.port())
}

/// Starts `python -m moto.server` on a free port of 127.0.0.1 and turns its Step Functions
/// execution on (`POST /moto-api/config` with `{"stepfunctions": {"execute_state_machine":
/// true}}`, moto's server-mode equivalent of `mock_aws(config=...)`): without it moto stores
/// executions but never runs their definitions.
pub fn start_moto(python: &Path) -> anyhow::Result<Server> {
    let port = free_port()?;
    let mut child = Command::new(python)
        .args(["-m", "moto.server", "-H", "127.0.0.1", "-p"])
        .arg(port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start moto's server")?;
    let stderr = child.stderr.take().context("no stderr of moto's server")?;
    // Nobody listens to the lines: moto logs one per request.
    let (sender, _) = mpsc::channel();
    let log = drain(stderr, sender);
    let mut server = Server {
        name: "moto server",
        endpoint: Endpoint::local(SocketAddr::from(([127, 0, 0, 1], port))),
        child,
        log,
    };
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    let config = br#"{"stepfunctions": {"execute_state_machine": true}}"#;
    loop {
        server.check_running()?;
        let mut connection = Connection::new(&server.endpoint);
        match connection.request("POST", "/moto-api/config", "application/json", config) {
            Ok(response) if (200..300).contains(&response.status) => return Ok(server),
            Ok(response) => bail!(
                "moto refused its configuration (HTTP {}): {}",
                response.status,
                String::from_utf8_lossy(&response.body)
            ),
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Err(error) => bail!(
                "moto's server did not answer within {STARTUP_TIMEOUT:?} ({error}); its output:\n{}",
                server.log_tail()
            ),
        }
    }
}

/// MiniStack's venv: `$SLUICE_MINISTACK_VENV`, else `$HOME/.cache/sluice-ministack`. Its own
/// venv, because MiniStack brings its own boto3 and the test venv's clients are pinned.
pub fn ministack_venv_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("SLUICE_MINISTACK_VENV") {
        return Ok(PathBuf::from(dir));
    }
    let home = std::env::var_os("HOME").context("neither SLUICE_MINISTACK_VENV nor HOME is set")?;
    Ok(PathBuf::from(home).join(".cache").join("sluice-ministack"))
}

/// Makes sure the venv exists and has `ministack` (PyPI); returns its Python and the version.
pub fn ensure_ministack(venv: &Path) -> anyhow::Result<(PathBuf, String)> {
    ensure_package(
        venv,
        "ministack",
        "import ministack.app",
        "import importlib.metadata as m; print(m.version('ministack'))",
    )
}

/// Starts MiniStack's gateway on a free port of 127.0.0.1 (`GATEWAY_PORT`, `BIND_HOST`) and
/// waits for its health page.
pub fn start_ministack(python: &Path) -> anyhow::Result<Server> {
    let port = free_port()?;
    let mut child = Command::new(python)
        .args(["-c", "from ministack.app import main; main()"])
        .env("GATEWAY_PORT", port.to_string())
        .env("BIND_HOST", "127.0.0.1")
        .env("LOG_LEVEL", "WARNING")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start MiniStack")?;
    let stderr = child.stderr.take().context("no stderr of MiniStack")?;
    let (sender, _) = mpsc::channel();
    let log = drain(stderr, sender);
    let mut server = Server {
        name: "MiniStack",
        endpoint: Endpoint::local(SocketAddr::from(([127, 0, 0, 1], port))),
        child,
        log,
    };
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        server.check_running()?;
        let mut connection = Connection::new(&server.endpoint);
        match connection.request("GET", "/_localstack/health", "application/json", b"") {
            Ok(response) if (200..300).contains(&response.status) => return Ok(server),
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Ok(response) => bail!("MiniStack's health page answered HTTP {}", response.status),
            Err(error) => bail!(
                "MiniStack did not answer within {STARTUP_TIMEOUT:?} ({error}); its output:\n{}",
                server.log_tail()
            ),
        }
    }
}
