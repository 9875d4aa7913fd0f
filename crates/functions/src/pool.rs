//! [`Pool`]: the worker processes of one function version (`$LATEST` or a published version)
//! and the invocations waiting for them.
//!
//! Invocations wait in a FIFO backlog; workers pull them through the Runtime API
//! ([`crate::runtime_api`]), each on its own loopback port. The pool grows when the backlog is
//! longer than the workers ready to take from it (starting, idle, or just done), up to the
//! function's concurrency limit, and a worker idle for `idle-timeout-seconds` is stopped, so an
//! unused function costs no process.
//!
//! A worker is stopped (its process group killed) when it exceeds the function's timeout
//! (its invocation fails with `Sandbox.Timedout`), when it is idle too long, when it does not
//! ask for work within `init-timeout-seconds`, when the function changes (after its current
//! invocation) or on shutdown. A worker that exits fails its invocation with
//! `Runtime.ExitError`; one that goes over the function's `MemorySize` ([`crate::memory`]) is
//! killed and fails its invocation with `Runtime.OutOfMemory`; one that fails before its first
//! invocation (an init error such as
//! `Runtime.ImportModuleError`, or a crash) fails the oldest waiting invocation with that
//! error, as AWS fails the invocation whose cold start failed. Replacements start while
//! invocations wait.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use serde_json::json;
use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;

use crate::function::{Function, RuntimeKind, Scope};
use crate::logs::LogBuffer;
use crate::memory::{Enforced, Limiter, Watch};
use crate::{Error, Options, runtime_api};

/// What a function answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// The handler's result, as the runtime posted it.
    Response(Bytes),
    /// The function failed: `payload` is the error document (`errorMessage`, `errorType`,
    /// ...) and `error_type` its type.
    Error { error_type: String, payload: Bytes },
}

impl Reply {
    /// An error reply with a document of just `errorType` and `errorMessage`, as the Lambda
    /// service writes its own (`Sandbox.Timedout`, `Runtime.ExitError`).
    pub(crate) fn service_error(error_type: &str, message: String) -> Self {
        let payload = json!({ "errorType": error_type, "errorMessage": message });
        Reply::Error {
            error_type: error_type.to_owned(),
            payload: Bytes::from(payload.to_string()),
        }
    }

    /// The reply for an error document a runtime posted (`/error`, `/init/error`): the
    /// document itself when it is a JSON object, else one made of its text; the type from
    /// the document, else the `Lambda-Runtime-Function-Error-Type` header, else `Unhandled`.
    pub(crate) fn from_posted(body: Bytes, header_type: Option<&str>) -> Self {
        if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(&body) {
            let error_type = map
                .get("errorType")
                .and_then(|t| t.as_str())
                .or(header_type)
                .unwrap_or("Unhandled")
                .to_owned();
            return Reply::Error {
                error_type,
                payload: body,
            };
        }
        let error_type = header_type.unwrap_or("Unhandled");
        let payload = json!({
            "errorMessage": String::from_utf8_lossy(&body),
            "errorType": error_type,
        });
        Reply::Error {
            error_type: error_type.to_owned(),
            payload: Bytes::from(payload.to_string()),
        }
    }
}

/// Runs `awslambdaric` as `python -m awslambdaric HANDLER` does, without its thread polling:
/// for `AWS_EXECUTION_ENV` python3.12 and later it calls the Runtime API's `next` from a
/// thread pool created per invocation, so that the main thread can take SIGTERM while it
/// waits; Sluice stops workers with SIGKILL, and the thread cost about 0.35 ms per invocation
/// (a third of a no-op invocation's time; `sluice bench --functions`). Versions without the
/// setting run unchanged.
const PYTHON_LAUNCHER: &str = "\
import runpy, sys
try:
    from awslambdaric import lambda_config
    lambda_config.LambdaConfigProvider.SUPPORTED_THREADPOLLING_ENVS = frozenset()
except Exception:
    pass
sys.argv = ['awslambdaric'] + sys.argv[1:]
runpy.run_module('awslambdaric', run_name='__main__', alter_sys=True)
";

/// What a worker runs: the function (version) as it was when the worker started.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    pub function: Function,
    pub code: PathBuf,
    pub arn: String,
    /// Sluice's Node.js runtime interface client (`crate::runtimes`).
    pub node_bootstrap: PathBuf,
}

/// One invocation waiting for a worker.
struct Pending {
    request_id: Arc<str>,
    payload: Bytes,
    client_context: Option<String>,
    /// The ARN the caller invoked (qualified when it named a version or alias); the function's
    /// unqualified ARN when `None`.
    invoked_arn: Option<Arc<str>>,
    reply: oneshot::Sender<Reply>,
}

/// The invocation a worker runs.
struct Running {
    request_id: Arc<str>,
    reply: oneshot::Sender<Reply>,
    started: Instant,
    timer: tokio::task::AbortHandle,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    /// Started; has not asked for work yet.
    Starting,
    /// Waiting in `next` since then.
    Idle(Instant),
    /// Running an invocation.
    Busy,
    /// Answered its invocation; about to ask for the next.
    Done,
    /// Being killed.
    Stopping,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopReason {
    Timeout,
    Idle,
    InitTimeout,
    Replaced,
    Shutdown,
    /// Over the function's `MemorySize`.
    OutOfMemory,
}

struct Worker {
    generation: u64,
    status: Status,
    current: Option<Running>,
    /// The request the worker ran last (log lines printed between invocations go there).
    last_request: Option<Arc<str>>,
    /// What the runtime posted to `/init/error`, if it did.
    init_error: Option<Reply>,
    served: u64,
    stop_reason: Option<StopReason>,
    kill: Arc<Notify>,
    /// Its stdout and stderr.
    outputs: Vec<Arc<Output>>,
    /// Its memory watch, when the RSS watch holds it to `MemorySize`.
    memory: Option<Arc<Watch>>,
}

/// One output pipe of a worker (stdout or stderr), non-blocking. Its reader task logs lines as
/// they come; an answer drains it first (`Pool::drain_outputs`), so that what a handler
/// printed before it answered is logged under its invocation, before `END`.
struct Output {
    pipe: tokio::io::unix::AsyncFd<std::fs::File>,
    /// A line begun and not ended yet. Held while the pipe is read: lines are logged once,
    /// whole and in order, by whichever thread read them.
    partial: Mutex<Vec<u8>>,
}

/// A line longer than this is logged in pieces.
const MAX_LOG_LINE: usize = 256 * 1024;

impl Output {
    fn new(fd: std::os::fd::OwnedFd) -> std::io::Result<Self> {
        use std::os::fd::AsRawFd as _;
        // SAFETY: fcntl(2) on a descriptor this function owns; no memory is passed.
        let set = unsafe {
            let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
            flags != -1
                && libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) != -1
        };
        if !set {
            return Err(std::io::Error::last_os_error());
        }
        let file = std::fs::File::from(fd);
        let interest = tokio::io::Interest::READABLE;
        // SAFETY: the File owns the descriptor and the AsyncFd owns the File for its whole
        // life; it is never swapped for another.
        let pipe = unsafe { tokio::io::unix::AsyncFd::register_with_interest(file, interest) }?;
        Ok(Self {
            pipe,
            partial: Mutex::new(Vec::new()),
        })
    }
}

struct State {
    spec: Arc<Spec>,
    generation: u64,
    queue: VecDeque<Pending>,
    workers: HashMap<u64, Worker>,
    next_worker: u64,
    closed: bool,
}

/// How many workers a pool has, by what they do (tests, stats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    pub workers: usize,
    pub busy: usize,
    pub queued: usize,
}

/// The workers and backlog of one function version.
pub(crate) struct Pool {
    options: Arc<Options>,
    memory: Arc<Limiter>,
    scope: Scope,
    state: Mutex<State>,
    /// Wakes workers waiting in `next` when an invocation is queued.
    work: Notify,
    /// The function's log, shared by the pools of all its versions.
    logs: Arc<Mutex<LogBuffer>>,
    /// Signalled whenever a worker is gone (shutdown waits on it).
    exited: Notify,
}

impl Pool {
    pub(crate) fn new(
        options: Arc<Options>,
        memory: Arc<Limiter>,
        scope: Scope,
        spec: Spec,
        logs: Arc<Mutex<LogBuffer>>,
    ) -> Arc<Self> {
        Arc::new(Self {
            options,
            memory,
            scope,
            state: Mutex::new(State {
                spec: Arc::new(spec),
                generation: 0,
                queue: VecDeque::new(),
                workers: HashMap::new(),
                next_worker: 0,
                closed: false,
            }),
            work: Notify::new(),
            logs,
            exited: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn log(&self, request_id: Option<Arc<str>>, text: String) {
        self.logs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(request_id, text);
    }

    pub(crate) fn stats(&self) -> PoolStats {
        let state = self.lock();
        PoolStats {
            workers: state.workers.len(),
            busy: state
                .workers
                .values()
                .filter(|w| w.status == Status::Busy)
                .count(),
            queued: state.queue.len(),
        }
    }

    /// Runs the function on `payload` and waits for its reply.
    pub(crate) async fn invoke(
        self: &Arc<Self>,
        request_id: Arc<str>,
        payload: Bytes,
        client_context: Option<String>,
        invoked_arn: Option<Arc<str>>,
    ) -> Result<Reply, Error> {
        let (reply, replied) = oneshot::channel();
        {
            let mut state = self.lock();
            if state.closed {
                return Err(Error::ShuttingDown);
            }
            let limit = self.limit(&state);
            let ready = ready_workers(&state);
            if limit == 0
                || (ready <= state.queue.len()
                    && state.workers.len() >= limit
                    && state.queue.len() >= self.options.max_backlog)
            {
                return Err(Error::TooManyRequests {
                    reason: if state.spec.function.reserved_concurrency.is_some() {
                        "ReservedFunctionConcurrentInvocationLimitExceeded"
                    } else {
                        "ConcurrentInvocationLimitExceeded"
                    },
                });
            }
            state.queue.push_back(Pending {
                request_id,
                payload,
                client_context,
                invoked_arn,
                reply,
            });
            self.scale(&mut state);
        }
        self.work.notify_waiters();
        replied.await.map_err(|_| Error::ShuttingDown)
    }

    /// The most workers at once.
    fn limit(&self, state: &State) -> usize {
        state
            .spec
            .function
            .reserved_concurrency
            .unwrap_or(self.options.default_concurrency) as usize
    }

    /// Starts workers for the invocations no ready worker will take, within the limit.
    fn scale(self: &Arc<Self>, state: &mut State) {
        if state.closed {
            return;
        }
        // Invocations whose caller went away need no worker.
        state.queue.retain(|p| !p.reply.is_closed());
        let wanted = state.queue.len().saturating_sub(ready_workers(state));
        let room = self.limit(state).saturating_sub(state.workers.len());
        for _ in 0..wanted.min(room) {
            self.start_worker(state);
        }
    }

    fn start_worker(self: &Arc<Self>, state: &mut State) {
        let id = state.next_worker;
        state.next_worker += 1;
        let kill = Arc::new(Notify::new());
        state.workers.insert(
            id,
            Worker {
                generation: state.generation,
                status: Status::Starting,
                current: None,
                last_request: None,
                init_error: None,
                served: 0,
                stop_reason: None,
                kill: Arc::clone(&kill),
                outputs: Vec::new(),
                memory: None,
            },
        );
        let pool = Arc::clone(self);
        let spec = Arc::clone(&state.spec);
        tokio::spawn(async move { pool.run_worker(id, spec, kill).await });
    }

    /// A worker's life: its Runtime API listener, its process, its end.
    async fn run_worker(self: Arc<Self>, id: u64, spec: Arc<Spec>, kill: Arc<Notify>) {
        let listener = match tokio::net::TcpListener::bind(("127.0.0.1", 0)).await {
            Ok(listener) => listener,
            Err(error) => {
                self.worker_gone(id, Gone::NotStarted(format!("no loopback port: {error}")));
                return;
            }
        };
        let address = match listener.local_addr() {
            Ok(address) => address,
            Err(error) => {
                self.worker_gone(id, Gone::NotStarted(format!("no loopback port: {error}")));
                return;
            }
        };
        let router = runtime_api::router(Arc::clone(&self), id);
        // Small request/response exchanges on loopback: no Nagle delay.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        let mut command = match self.command(&spec, &address.to_string()) {
            Ok(command) => command,
            Err(gone) => {
                server.abort();
                self.worker_gone(id, gone);
                return;
            }
        };
        let limit = self.memory.prepare(spec.function.memory_size);
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(error) => {
                server.abort();
                limit.attach(None);
                let program = command
                    .as_std()
                    .get_program()
                    .to_string_lossy()
                    .into_owned();
                self.worker_gone(
                    id,
                    Gone::InvalidEntrypoint(format!("cannot run {program}: {error}")),
                );
                return;
            }
        };
        let pid = child.id();
        tracing::debug!(function = %spec.function.name, worker = id, pid, %address, "worker started");
        let limit = limit.attach(pid);
        let watch = match &limit {
            Enforced::Watch(watch) => Some(Arc::clone(watch)),
            _ => None,
        };
        let pipes = [
            child.stdout.take().and_then(|o| o.into_owned_fd().ok()),
            child.stderr.take().and_then(|o| o.into_owned_fd().ok()),
        ];
        let outputs: Vec<Arc<Output>> = pipes
            .into_iter()
            .flatten()
            .filter_map(|fd| match Output::new(fd) {
                Ok(output) => Some(Arc::new(output)),
                Err(error) => {
                    tracing::warn!(%error, "cannot read a worker's output; its lines are lost");
                    None
                }
            })
            .collect();
        if let Some(worker) = self.lock().workers.get_mut(&id) {
            worker.outputs.clone_from(&outputs);
            worker.memory.clone_from(&watch);
        }
        for output in outputs {
            tokio::spawn(Arc::clone(&self).read_output(id, output));
        }
        {
            let pool = Arc::clone(&self);
            let init_timeout = self.options.init_timeout();
            tokio::spawn(async move {
                tokio::time::sleep(init_timeout).await;
                pool.init_timed_out(id);
            });
        }
        let over_memory = async {
            match &watch {
                Some(watch) => watch.until_over().await,
                None => std::future::pending().await,
            }
        };
        let status = tokio::select! {
            status = child.wait() => status,
            () = kill.notified() => {
                kill_group(pid);
                let _ = child.start_kill();
                child.wait().await
            }
            peak = over_memory => {
                self.out_of_memory(id, peak);
                kill_group(pid);
                let _ = child.start_kill();
                child.wait().await
            }
        };
        // The process may have left children behind in its group.
        kill_group(pid);
        server.abort();
        if let Enforced::Cgroup(cgroup) = limit {
            if cgroup.oom_killed() {
                self.out_of_memory(id, u64::from(spec.function.memory_size) << 20);
            }
            cgroup.remove();
        }
        match status {
            Ok(status) => self.worker_gone(id, Gone::Exited(status)),
            Err(error) => self.worker_gone(id, Gone::NotStarted(format!("wait: {error}"))),
        }
    }

    /// The command that runs a worker of `spec`, with the environment Lambda sets.
    fn command(&self, spec: &Spec, runtime_api: &str) -> Result<tokio::process::Command, Gone> {
        let function = &spec.function;
        let kind = function
            .runtime_kind()
            .map_err(|e| Gone::InvalidEntrypoint(e.to_string()))?;
        let handler = function.handler.clone().unwrap_or_default();
        let mut command = match kind {
            RuntimeKind::Python => {
                let mut command = tokio::process::Command::new(&self.options.python);
                command.args(["-c", PYTHON_LAUNCHER, &handler]);
                command.env("PYTHONPATH", &spec.code);
                command.env("PYTHONUNBUFFERED", "1");
                command
            }
            RuntimeKind::Provided => {
                let bootstrap = spec.code.join("bootstrap");
                if !bootstrap.is_file() {
                    return Err(Gone::InvalidEntrypoint(
                        "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]"
                            .into(),
                    ));
                }
                tokio::process::Command::new(bootstrap)
            }
            RuntimeKind::Node => {
                let mut command = tokio::process::Command::new(&self.options.node);
                command.arg(&spec.node_bootstrap);
                command.env("NODE_PATH", &spec.code);
                command
            }
        };
        let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into());
        command
            .current_dir(&spec.code)
            .env_clear()
            .env("PATH", path)
            .env("LANG", "en_US.UTF-8")
            .env("TZ", ":UTC")
            .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
            .env("AWS_LAMBDA_FUNCTION_NAME", &function.name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", &function.version)
            .env(
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                function.memory_size.to_string(),
            )
            .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", function.name),
            )
            .env("AWS_LAMBDA_LOG_STREAM_NAME", &function.version)
            .env(
                "AWS_EXECUTION_ENV",
                format!("AWS_Lambda_{}", function.runtime),
            )
            .env("_HANDLER", &handler)
            .env("LAMBDA_TASK_ROOT", &spec.code)
            .env("LAMBDA_RUNTIME_DIR", &spec.code)
            .env("AWS_REGION", &self.scope.region)
            .env("AWS_DEFAULT_REGION", &self.scope.region)
            .env("AWS_ACCESS_KEY_ID", "sluice")
            .env("AWS_SECRET_ACCESS_KEY", "sluice")
            .env("AWS_SESSION_TOKEN", "sluice")
            .envs(&function.environment)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        #[cfg(unix)]
        command.process_group(0);
        Ok(command)
    }

    /// Copies a worker's output into the function's log as it comes, each line under the
    /// invocation it belongs to.
    async fn read_output(self: Arc<Self>, id: u64, output: Arc<Output>) {
        loop {
            let Ok(mut ready) = output.pipe.readable().await else {
                return;
            };
            if self.drain_output(id, &output) {
                return;
            }
            // Readiness that came after the drain's last read is kept (tokio tracks it).
            ready.clear_ready();
        }
    }

    /// Reads what `output` holds now, without waiting, and logs its complete lines (at the end
    /// of the output, the rest too). Returns whether the output ended.
    fn drain_output(&self, id: u64, output: &Output) -> bool {
        use std::io::Read as _;
        let mut partial = output.partial.lock().unwrap_or_else(|e| e.into_inner());
        let mut buf = [0u8; 16 * 1024];
        let mut tag = None;
        let mut tag = |pool: &Self| -> Option<Arc<str>> {
            tag.get_or_insert_with(|| {
                let state = pool.lock();
                state.workers.get(&id).and_then(|w| {
                    w.current
                        .as_ref()
                        .map(|r| Arc::clone(&r.request_id))
                        .or_else(|| w.last_request.clone())
                })
            })
            .clone()
        };
        let ended = loop {
            match output.pipe.get_ref().read(&mut buf) {
                Ok(0) => break true,
                Ok(n) => {
                    partial.extend_from_slice(&buf[..n]);
                    let mut start = 0;
                    while let Some(end) = partial[start..].iter().position(|b| *b == b'\n') {
                        let line = &partial[start..start + end];
                        let line = line.strip_suffix(b"\r").unwrap_or(line);
                        let text = String::from_utf8_lossy(line).into_owned();
                        self.log(tag(self), text);
                        start += end + 1;
                    }
                    partial.drain(..start);
                    if partial.len() > MAX_LOG_LINE {
                        let text = String::from_utf8_lossy(&partial).into_owned();
                        self.log(tag(self), text);
                        partial.clear();
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break false,
                Err(_) => break true,
            }
        };
        if ended && !partial.is_empty() {
            let text = String::from_utf8_lossy(&partial).into_owned();
            self.log(tag(self), text);
            partial.clear();
        }
        ended
    }

    /// Logs what worker `id` printed so far (before its answer, timeout or end is logged).
    fn drain_outputs(&self, id: u64) {
        let outputs = match self.lock().workers.get(&id) {
            Some(worker) => worker.outputs.clone(),
            None => return,
        };
        for output in &outputs {
            self.drain_output(id, output);
        }
    }

    /// `GET /runtime/invocation/next` of worker `id`: the next invocation, once there is one.
    pub(crate) async fn next(self: &Arc<Self>, id: u64) -> Option<Invocation> {
        loop {
            let notified = self.work.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let idle_until = {
                let mut state = self.lock();
                let generation = state.generation;
                let timeout_secs = state.spec.function.timeout;
                let version = Arc::clone(&state.spec);
                let worker = state.workers.get_mut(&id)?;
                if worker.status == Status::Stopping {
                    return None;
                }
                if worker.generation != generation {
                    stop(worker, StopReason::Replaced);
                    return None;
                }
                if let Some(running) = worker.current.take() {
                    // Asked for more without answering: the invocation gets no result.
                    running.timer.abort();
                    let _ = running.reply.send(Reply::service_error(
                        "Runtime.InvalidResponse",
                        format!(
                            "RequestId: {} Error: Runtime asked for the next invocation without \
                             answering this one",
                            running.request_id
                        ),
                    ));
                }
                while let Some(pending) = state.queue.pop_front() {
                    if pending.reply.is_closed() {
                        continue;
                    }
                    let now = Instant::now();
                    let timeout = Duration::from_secs(u64::from(timeout_secs));
                    let timer = {
                        let pool = Arc::clone(self);
                        let request_id = Arc::clone(&pending.request_id);
                        tokio::spawn(async move {
                            tokio::time::sleep(timeout).await;
                            pool.timed_out(id, &request_id);
                        })
                        .abort_handle()
                    };
                    let worker = state.workers.get_mut(&id)?;
                    worker.status = Status::Busy;
                    worker.served += 1;
                    worker.last_request = Some(Arc::clone(&pending.request_id));
                    worker.current = Some(Running {
                        request_id: Arc::clone(&pending.request_id),
                        reply: pending.reply,
                        started: now,
                        timer,
                    });
                    drop(state);
                    self.log(
                        Some(Arc::clone(&pending.request_id)),
                        format!(
                            "START RequestId: {} Version: {}",
                            pending.request_id, version.function.version
                        ),
                    );
                    let deadline_ms =
                        chrono::Utc::now().timestamp_millis() + i64::from(timeout_secs) * 1000;
                    return Some(Invocation {
                        request_id: pending.request_id,
                        payload: pending.payload,
                        deadline_ms,
                        function_arn: match pending.invoked_arn {
                            Some(arn) => arn.to_string(),
                            None => version.arn.clone(),
                        },
                        client_context: pending.client_context,
                        trace_id: crate::ids::trace_id(deadline_ms / 1000),
                    });
                }
                let worker = state.workers.get_mut(&id)?;
                let since = match worker.status {
                    Status::Idle(since) => since,
                    _ => Instant::now(),
                };
                worker.status = Status::Idle(since);
                since + self.options.idle_timeout()
            };
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep_until(idle_until) => {
                    let mut state = self.lock();
                    let queued = !state.queue.is_empty();
                    if let Some(worker) = state.workers.get_mut(&id)
                        && matches!(worker.status, Status::Idle(_))
                        && !queued
                    {
                        stop(worker, StopReason::Idle);
                        return None;
                    }
                }
            }
        }
    }

    /// `POST /runtime/invocation/{id}/response` or `/error` of worker `id`. `Err` when the
    /// request id is not the worker's current invocation.
    pub(crate) fn answer(&self, id: u64, request_id: &str, reply: Reply) -> Result<(), ()> {
        self.drain_outputs(id);
        if let Some(peak) = self.over_memory_at_answer(id, request_id) {
            // Killed as it would have been before answering: the invocation fails with
            // `Runtime.OutOfMemory` when the worker is gone.
            self.out_of_memory(id, peak);
            return Ok(());
        }
        let running = {
            let mut state = self.lock();
            let Some(worker) = state.workers.get_mut(&id) else {
                return Err(());
            };
            match &worker.current {
                Some(running) if &*running.request_id == request_id => {}
                _ => return Err(()),
            }
            worker.status = Status::Done;
            worker.current.take().ok_or(())?
        };
        running.timer.abort();
        self.finish_log(&running.request_id, running.started.elapsed());
        let _ = running.reply.send(reply);
        Ok(())
    }

    /// With the RSS watch: whether worker `id`, answering `request_id`, went over its limit
    /// while running it (its peak, if so). Read only when the invocation ran long enough to
    /// have crossed the limit since the last reading (`Watch::may_have_crossed`).
    fn over_memory_at_answer(&self, id: u64, request_id: &str) -> Option<u64> {
        let watch = {
            let state = self.lock();
            let worker = state.workers.get(&id)?;
            let watch = worker.memory.as_ref()?;
            let running = worker
                .current
                .as_ref()
                .filter(|r| &*r.request_id == request_id)?;
            if !watch.may_have_crossed(running.started, worker.served == 1) {
                return None;
            }
            Arc::clone(watch)
        };
        watch.over()
    }

    /// Worker `id` went over its `MemorySize` (`peak` bytes): stopped as out of memory.
    fn out_of_memory(&self, id: u64, peak: u64) {
        let mut state = self.lock();
        let memory = state.spec.function.memory_size;
        if let Some(worker) = state.workers.get_mut(&id) {
            tracing::info!(
                worker = id,
                peak_mib = peak >> 20,
                memory_size_mb = memory,
                "worker over its memory size; stopping it"
            );
            if worker.status == Status::Stopping {
                // Killed by the kernel after Sluice began to stop it for another reason.
                if worker.stop_reason.is_none() {
                    worker.stop_reason = Some(StopReason::OutOfMemory);
                }
            } else {
                stop(worker, StopReason::OutOfMemory);
            }
        }
    }

    fn finish_log(&self, request_id: &Arc<str>, elapsed: Duration) {
        let memory = self.lock().spec.function.memory_size;
        let ms = elapsed.as_secs_f64() * 1000.0;
        self.log(
            Some(Arc::clone(request_id)),
            format!("END RequestId: {request_id}"),
        );
        self.log(
            Some(Arc::clone(request_id)),
            format!(
                "REPORT RequestId: {request_id}\tDuration: {ms:.2} ms\tBilled Duration: {} ms\t\
                 Memory Size: {memory} MB",
                ms.ceil() as u64
            ),
        );
    }

    /// `POST /runtime/init/error` of worker `id`.
    pub(crate) fn init_error(&self, id: u64, reply: Reply) {
        let mut state = self.lock();
        if let Some(worker) = state.workers.get_mut(&id) {
            worker.init_error = Some(reply);
        }
    }

    /// The function's timeout passed while worker `id` ran `request_id`.
    fn timed_out(&self, id: u64, request_id: &Arc<str>) {
        self.drain_outputs(id);
        let (running, timeout) = {
            let mut state = self.lock();
            let timeout = state.spec.function.timeout;
            let Some(worker) = state.workers.get_mut(&id) else {
                return;
            };
            match &worker.current {
                Some(running) if running.request_id == *request_id => {}
                _ => return,
            }
            let running = worker.current.take();
            stop(worker, StopReason::Timeout);
            (running, timeout)
        };
        if let Some(running) = running {
            tracing::info!(worker = id, %request_id, "invocation timed out; stopping the worker");
            self.log(
                Some(Arc::clone(request_id)),
                format!(
                    "{} {request_id} Task timed out after {timeout}.00 seconds",
                    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ")
                ),
            );
            self.finish_log(request_id, running.started.elapsed());
            let _ = running.reply.send(Reply::service_error(
                "Sandbox.Timedout",
                format!("RequestId: {request_id} Error: Task timed out after {timeout}.00 seconds"),
            ));
        }
    }

    fn init_timed_out(&self, id: u64) {
        let mut state = self.lock();
        if let Some(worker) = state.workers.get_mut(&id)
            && worker.status == Status::Starting
        {
            stop(worker, StopReason::InitTimeout);
        }
    }

    /// Worker `id` is gone: fail what it was running (or, if it never ran anything, the oldest
    /// waiting invocation) and start replacements for the backlog.
    fn worker_gone(self: &Arc<Self>, id: u64, gone: Gone) {
        let mut failed: Vec<(Running, Reply)> = Vec::new();
        let mut cold_start_failure: Option<(Pending, Reply)> = None;
        self.drain_outputs(id);
        {
            let mut state = self.lock();
            let Some(mut worker) = state.workers.remove(&id) else {
                return;
            };
            tracing::debug!(worker = id, ?gone, reason = ?worker.stop_reason, "worker gone");
            if let Some(running) = worker.current.take() {
                let reply = gone.reply(&running.request_id, worker.stop_reason);
                failed.push((running, reply));
            } else if worker.served == 0
                && !matches!(
                    worker.stop_reason,
                    Some(StopReason::Idle | StopReason::Replaced | StopReason::Shutdown)
                )
            {
                // The cold start failed: the invocation it was started for fails with it.
                while let Some(pending) = state.queue.pop_front() {
                    if pending.reply.is_closed() {
                        continue;
                    }
                    let reply = match worker.init_error.take() {
                        Some(reply) => reply,
                        None => gone.reply(&pending.request_id, worker.stop_reason),
                    };
                    cold_start_failure = Some((pending, reply));
                    break;
                }
            }
            self.scale(&mut state);
        }
        for (running, reply) in failed {
            running.timer.abort();
            if matches!(&reply, Reply::Error { error_type, .. } if error_type == OUT_OF_MEMORY) {
                // As Lambda logs a sandbox killed for its memory.
                let request_id = &running.request_id;
                self.log(
                    Some(Arc::clone(request_id)),
                    format!(
                        "RequestId: {request_id} Error: Runtime exited with error: signal: killed"
                    ),
                );
                self.log(Some(Arc::clone(request_id)), OUT_OF_MEMORY.to_owned());
            }
            self.finish_log(&running.request_id, running.started.elapsed());
            let _ = running.reply.send(reply);
        }
        if let Some((pending, reply)) = cold_start_failure {
            let _ = pending.reply.send(reply);
        }
        self.exited.notify_waiters();
    }

    /// New configuration or code: workers started from now on run `spec`; idle ones stop now,
    /// busy ones after their invocation.
    pub(crate) fn reconfigure(self: &Arc<Self>, spec: Spec) {
        let mut state = self.lock();
        state.spec = Arc::new(spec);
        state.generation += 1;
        for worker in state.workers.values_mut() {
            if matches!(worker.status, Status::Idle(_) | Status::Starting) {
                stop(worker, StopReason::Replaced);
            }
        }
        self.scale(&mut state);
    }

    /// PutFunctionConcurrency of a published version's function: the new limit, without
    /// replacing its workers (the version's code and configuration have not changed).
    pub(crate) fn set_reserved_concurrency(self: &Arc<Self>, reserved: Option<u32>) {
        let mut state = self.lock();
        let mut spec = (*state.spec).clone();
        spec.function.reserved_concurrency = reserved;
        state.spec = Arc::new(spec);
        self.scale(&mut state);
    }

    /// Stops every worker and fails waiting invocations; returns once the workers are gone
    /// (or after `grace`).
    pub(crate) async fn shutdown(&self, grace: Duration) {
        let deadline = Instant::now() + grace;
        let pending: Vec<Pending> = {
            let mut state = self.lock();
            state.closed = true;
            for worker in state.workers.values_mut() {
                stop(worker, StopReason::Shutdown);
            }
            state.queue.drain(..).collect()
        };
        drop(pending);
        loop {
            let exited = self.exited.notified();
            tokio::pin!(exited);
            exited.as_mut().enable();
            if self.lock().workers.is_empty() {
                return;
            }
            if tokio::time::timeout_at(deadline, exited).await.is_err() {
                return;
            }
        }
    }
}

/// Workers that will take queued invocations without a new start.
fn ready_workers(state: &State) -> usize {
    state
        .workers
        .values()
        .filter(|w| {
            w.generation == state.generation
                && matches!(w.status, Status::Starting | Status::Idle(_) | Status::Done)
        })
        .count()
}

fn stop(worker: &mut Worker, reason: StopReason) {
    if worker.status == Status::Stopping {
        return;
    }
    worker.status = Status::Stopping;
    worker.stop_reason = Some(reason);
    worker.kill.notify_one();
}

/// Kills the process group `pid` leads (workers start their own group).
fn kill_group(pid: Option<u32>) {
    #[cfg(unix)]
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok())
        && pid > 0
    {
        // SAFETY: kill(2) has no memory effects; a stale group id fails with ESRCH.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    #[cfg(not(unix))]
    let _ = pid;
}

/// The error of an invocation whose worker went over its `MemorySize`.
const OUT_OF_MEMORY: &str = "Runtime.OutOfMemory";

/// How a worker ended.
#[derive(Debug)]
enum Gone {
    Exited(ExitStatus),
    /// The runtime's entry point cannot be run (no bootstrap, no interpreter).
    InvalidEntrypoint(String),
    /// Sluice could not start it.
    NotStarted(String),
}

impl Gone {
    /// The error of an invocation that this end failed.
    fn reply(&self, request_id: &str, reason: Option<StopReason>) -> Reply {
        match (self, reason) {
            (_, Some(StopReason::InitTimeout)) => Reply::service_error(
                "Sandbox.Timedout",
                format!(
                    "RequestId: {request_id} Error: Runtime did not ask for an invocation within its init timeout"
                ),
            ),
            (_, Some(StopReason::OutOfMemory)) => Reply::service_error(
                OUT_OF_MEMORY,
                format!("RequestId: {request_id} Error: Runtime exited with error: signal: killed"),
            ),
            (Gone::Exited(status), _) => Reply::service_error(
                "Runtime.ExitError",
                format!("RequestId: {request_id} Error: {}", exit_message(*status)),
            ),
            (Gone::InvalidEntrypoint(why), _) => Reply::service_error(
                "Runtime.InvalidEntrypoint",
                format!("RequestId: {request_id} Error: {why}"),
            ),
            (Gone::NotStarted(why), _) => Reply::service_error(
                "Runtime.Unknown",
                format!("RequestId: {request_id} Error: {why}"),
            ),
        }
    }
}

/// AWS's words for a runtime's exit (Go's `ExitError` text).
fn exit_message(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return if code == 0 {
            "Runtime exited without providing a reason".into()
        } else {
            format!("Runtime exited with error: exit status {code}")
        };
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            let name = match signal {
                libc::SIGKILL => "killed",
                libc::SIGSEGV => "segmentation fault",
                libc::SIGABRT => "aborted",
                libc::SIGTERM => "terminated",
                libc::SIGINT => "interrupt",
                libc::SIGBUS => "bus error",
                libc::SIGFPE => "floating point exception",
                libc::SIGILL => "illegal instruction",
                _ => return format!("Runtime exited with error: signal: {signal}"),
            };
            return format!("Runtime exited with error: signal: {name}");
        }
    }
    "Runtime exited without providing a reason".into()
}

/// An invocation handed to a worker by `next`.
pub(crate) struct Invocation {
    pub request_id: Arc<str>,
    pub payload: Bytes,
    pub deadline_ms: i64,
    pub function_arn: String,
    pub client_context: Option<String>,
    pub trace_id: String,
}
