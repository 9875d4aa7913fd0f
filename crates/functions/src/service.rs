//! [`Functions`]: the registry and the worker pools behind one cheap-to-clone handle — what
//! the Lambda API and the engine's Task dispatch call. Versions and aliases: `versions`; event
//! invoke configs: `event_configs`; `Event` invocations run here, journaled by
//! [`crate::events`].

use crate::LambdaArns as _;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use base64::Engine as _;
use tokio::sync::Semaphore;

use crate::events::{Condition, Event, Journal, invocation_record};
use sluice_clock::Clock;

use crate::function::{Function, FunctionName, Qualifier, Scope, Settings, limits};
use crate::logs::LogBuffer;
use crate::memory::Limiter;
use crate::pool::{Pool, PoolStats, Reply, Spec};
use crate::registry::Registry;
use crate::{Error, Options};

mod event_configs;
mod versions;

pub use versions::AliasUpdate;

/// The unpublished version of a function, the one updates change.
pub const LATEST: &str = "$LATEST";

/// The key under which an invocation's idempotency key reaches the handler, in the client
/// context's `custom` map: `context.client_context.custom["sluice-idempotency-key"]` in
/// Python, `context.clientContext.custom["sluice-idempotency-key"]` in Node. AWS has no such
/// field; Sluice's Task dispatches set it ([`crate::task::idempotency_key`]).
pub const IDEMPOTENCY_KEY: &str = "sluice-idempotency-key";

/// How to invoke.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvokeOptions {
    /// A version (`$LATEST`, `1`, ...) or an alias; `$LATEST` when `None`.
    pub qualifier: Option<String>,
    /// `X-Amz-Client-Context` (base64 JSON), passed to the runtime decoded, as
    /// `Lambda-Runtime-Client-Context`.
    pub client_context: Option<String>,
    /// A key the handler can dedupe deliveries by, added to the client context as
    /// `custom[IDEMPOTENCY_KEY]` ([`IDEMPOTENCY_KEY`]).
    pub idempotency_key: Option<String>,
}

/// A completed invocation: the function's result, or the error document it failed with.
#[derive(Debug, Clone, PartialEq)]
pub struct Invoked {
    pub request_id: String,
    /// The result, or the error document when `function_error` is set.
    pub payload: Bytes,
    /// The error's type (`errorType`) when the function failed; Lambda answers
    /// `X-Amz-Function-Error: Unhandled` then.
    pub function_error: Option<String>,
    /// `X-Amz-Executed-Version`: the version that ran (`$LATEST`, or the number an alias
    /// routed to).
    pub executed_version: String,
}

/// The functions of a data dir and their workers, as seen from one region: every operation
/// acts on that region's functions and names them with its ARNs ([`Functions::in_region`]
/// gives another region's view). Clones share everything.
#[derive(Clone)]
pub struct Functions {
    inner: Arc<Inner>,
    /// The region this handle acts in, its partition, and the account.
    scope: Arc<Scope>,
}

struct Inner {
    registry: Registry,
    options: Arc<Options>,
    /// The configured region: where functions of data dirs from before regions live, and
    /// journaled events that name no region.
    home: Arc<Scope>,
    /// Per function, the pools of the versions that have run.
    pools: Mutex<ByRegion<FunctionPools>>,
    /// Sluice's Node.js runtime interface client, in the data dir.
    node_bootstrap: std::path::PathBuf,
    /// The durable queue of Event invocations.
    events: Journal,
    /// Events accepted before a restart and not done, until [`Functions::resume_events`].
    recovered: Mutex<Vec<Event>>,
    /// Per function, how many of its events may invoke at once (the rest wait here rather
    /// than be throttled).
    event_slots: Mutex<ByRegion<Arc<Semaphore>>>,
    /// Shut down: no new pool, no new invocation.
    closed: AtomicBool,
    /// The time events are accepted, retried and aged on.
    clock: Clock,
    /// How workers are held to their `MemorySize`.
    memory: Arc<Limiter>,
    /// Event invocations in flight (journaled: aborted at shutdown, resumed after a restart).
    tasks: sluice_runtime::Tasks,
    /// Where invocation records for queue and topic destinations go, once wired.
    destinations: std::sync::OnceLock<Arc<dyn Destinations>>,
}

/// Where the functions send invocation records for SQS queue and SNS topic destinations: the
/// wiring provides it (the queues live elsewhere).
pub trait Destinations: Send + Sync + 'static {
    /// Sends `record` (an invocation record, JSON) to the queue or topic `arn` names, durably
    /// before it returns.
    fn send<'a>(
        &'a self,
        arn: &'a str,
        record: String,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>>;
}

/// Values per function: by region, then by name (looked up without allocating).
struct ByRegion<T>(HashMap<String, HashMap<String, T>>);

impl<T> Default for ByRegion<T> {
    fn default() -> Self {
        Self(HashMap::new())
    }
}

impl<T> ByRegion<T> {
    fn get(&self, region: &str, name: &str) -> Option<&T> {
        self.0.get(region).and_then(|r| r.get(name))
    }

    fn get_mut(&mut self, region: &str, name: &str) -> Option<&mut T> {
        self.0.get_mut(region).and_then(|r| r.get_mut(name))
    }

    fn get_or_insert_with(&mut self, region: &str, name: &str, make: impl FnOnce() -> T) -> &mut T {
        self.0
            .entry(region.to_owned())
            .or_default()
            .entry(name.to_owned())
            .or_insert_with(make)
    }

    fn remove(&mut self, region: &str, name: &str) -> Option<T> {
        self.0.get_mut(region).and_then(|r| r.remove(name))
    }

    fn drain(&mut self) -> impl Iterator<Item = T> + '_ {
        self.0.drain().flat_map(|(_, r)| r.into_values())
    }
}

/// The workers of one function: a pool per version (`$LATEST`, `1`, ...), each version running
/// its own code, and the log they share (persisted in the function's `logs/` folder, read back
/// when the function is first used after a restart).
struct FunctionPools {
    versions: HashMap<String, Arc<Pool>>,
    logs: Arc<Mutex<LogBuffer>>,
}

impl FunctionPools {
    fn logs(&self) -> std::sync::MutexGuard<'_, LogBuffer> {
        self.logs.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Functions {
    /// Opens the functions of `<data_dir>/functions` (created if missing), events on wall
    /// time; the handle acts in `scope`, the configured region. No worker starts before an
    /// invocation.
    pub fn open(data_dir: &Path, options: Options, scope: Scope) -> Result<Self, Error> {
        Self::open_with_clock(data_dir, options, scope, Clock::system())
    }

    /// [`Functions::open`] with the clock `Event` invocations run on (their retry delays and
    /// ages): `sluice serve` passes the engine's, which `--time-scale` scales.
    pub fn open_with_clock(
        data_dir: &Path,
        options: Options,
        scope: Scope,
        clock: Clock,
    ) -> Result<Self, Error> {
        let registry = Registry::open(data_dir, &scope.region)?;
        let node_bootstrap = crate::runtimes::install(data_dir)?;
        let (events, recovered) = Journal::open(data_dir)?;
        let memory = Arc::new(Limiter::detect(options.memory_limit));
        let scope = Arc::new(scope);
        Ok(Self {
            scope: Arc::clone(&scope),
            inner: Arc::new(Inner {
                registry,
                options: Arc::new(options),
                home: scope,
                pools: Mutex::default(),
                node_bootstrap,
                events,
                recovered: Mutex::new(recovered),
                event_slots: Mutex::default(),
                closed: AtomicBool::new(false),
                clock,
                memory,
                tasks: sluice_runtime::Tasks::new("functions"),
                destinations: std::sync::OnceLock::new(),
            }),
        })
    }

    /// The region this handle acts in (with its partition and the account).
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// The region this handle acts in.
    pub fn region(&self) -> &str {
        &self.scope.region
    }

    /// This service as seen from `region`: its functions, ARNs in its partition.
    pub fn in_region(&self, region: &str) -> Functions {
        if region == self.scope.region {
            return self.clone();
        }
        let scope = if region == self.inner.home.region {
            Arc::clone(&self.inner.home)
        } else {
            Arc::new(Scope::new(region, self.scope.account.clone()))
        };
        Functions {
            inner: Arc::clone(&self.inner),
            scope,
        }
    }

    /// The view of the region `named` names (a full ARN's), else this one.
    pub fn of(&self, named: &FunctionName) -> Functions {
        match &named.region {
            Some(region) => self.in_region(region),
            None => self.clone(),
        }
    }

    /// The configured region's view.
    pub fn home(&self) -> Functions {
        Functions {
            inner: Arc::clone(&self.inner),
            scope: Arc::clone(&self.inner.home),
        }
    }

    pub fn options(&self) -> &Options {
        &self.inner.options
    }

    /// `arn:aws:lambda:<region>:<account>:function:<name>`.
    pub fn arn(&self, name: &str) -> String {
        self.scope.function_arn(name)
    }

    /// `ResourceNotFoundException` for `name` (with `:qualifier` when given).
    pub fn not_found(&self, name: &str, qualifier: Option<&str>) -> Error {
        let arn = match qualifier {
            Some(q) => format!("{}:{q}", self.arn(name)),
            None => self.arn(name),
        };
        Error::NotFound { arn }
    }

    /// `$LATEST` of the function `name`.
    pub fn get(&self, name: &str) -> Result<Function, Error> {
        self.inner
            .registry
            .get(self.region(), name)
            .ok_or_else(|| self.not_found(name, None))
    }

    /// Every function (`$LATEST`) of this region, by name.
    pub fn list(&self) -> Vec<Function> {
        self.inner.registry.list(self.region())
    }

    /// Where `function`'s code is unpacked.
    pub fn code_path(&self, function: &Function) -> std::path::PathBuf {
        self.inner.registry.code_path(self.region(), function)
    }

    /// The deployment package of `function` (`$LATEST` or a version, as [`Functions::resolve`]
    /// gives it): the zip its code was uploaded as, or, for code unpacked before Sluice kept
    /// zips, one rebuilt from its folder ([`crate::archive::pack`]). Reads the disk: call it off
    /// the async runtime.
    pub fn package(&self, function: &Function) -> Result<Vec<u8>, Error> {
        let path = self.inner.registry.package_path(self.region(), function);
        match std::fs::read(&path) {
            Ok(zip) => Ok(zip),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let code = self.code_path(function);
                if !code.is_dir() {
                    // Replaced by an update since it was resolved.
                    return Err(self.not_found(&function.name, Some(&function.version)));
                }
                crate::archive::pack(&code)
            }
            Err(e) => Err(Error::io(format!("read {}", path.display()), e)),
        }
    }

    /// CreateFunction: `zip` is the deployment package.
    pub fn create(&self, name: &str, settings: &Settings, zip: &[u8]) -> Result<Function, Error> {
        let function =
            self.inner
                .registry
                .create(self.region(), name, settings, zip, chrono::Utc::now())?;
        // Whatever a deleted namesake left (its log) is not this function's.
        if let Some(stale) = self.pools().remove(self.region(), name) {
            stale.logs().detach();
        }
        Ok(function)
    }

    /// UpdateFunctionCode. Workers of `$LATEST`'s old code finish their invocation and stop;
    /// published versions keep theirs.
    pub fn update_code(&self, name: &str, zip: &[u8]) -> Result<Function, Error> {
        let function = self.inner.registry.update_code(
            self.region(),
            name,
            zip,
            chrono::Utc::now(),
            || self.not_found(name, None),
        )?;
        self.reconfigure(&function);
        Ok(function)
    }

    /// UpdateFunctionConfiguration.
    pub fn update_configuration(&self, name: &str, settings: &Settings) -> Result<Function, Error> {
        let function = self.inner.registry.update(
            self.region(),
            name,
            chrono::Utc::now(),
            || self.not_found(name, None),
            |f| settings.apply(f),
        )?;
        self.reconfigure(&function);
        Ok(function)
    }

    /// PutFunctionConcurrency (`Some`) and DeleteFunctionConcurrency (`None`). The limit is
    /// the function's; each version's pool is held to it on its own.
    pub fn set_reserved_concurrency(
        &self,
        name: &str,
        reserved: Option<u32>,
    ) -> Result<Function, Error> {
        let function = self.inner.registry.update(
            self.region(),
            name,
            chrono::Utc::now(),
            || self.not_found(name, None),
            |f| {
                f.reserved_concurrency = reserved;
                Ok(())
            },
        )?;
        self.reconfigure(&function);
        let published: Vec<Arc<Pool>> = self
            .pools()
            .get(self.region(), name)
            .map(|p| {
                p.versions
                    .iter()
                    .filter(|(version, _)| *version != LATEST)
                    .map(|(_, pool)| Arc::clone(pool))
                    .collect()
            })
            .unwrap_or_default();
        for pool in published {
            pool.set_reserved_concurrency(reserved);
        }
        Ok(function)
    }

    /// DeleteFunction: the function, its versions and aliases; its workers are stopped and
    /// its waiting invocations fail.
    pub fn delete(&self, name: &str) -> Result<(), Error> {
        self.inner
            .registry
            .delete(self.region(), name, || self.not_found(name, None))?;
        let pools = self.pools().remove(self.region(), name);
        if let Some(pools) = pools {
            pools.logs().detach();
            for (_, pool) in pools.versions {
                tokio::spawn(async move { pool.shutdown(Duration::from_secs(5)).await });
            }
        }
        Ok(())
    }

    /// Invokes `name` (the version or alias `options.qualifier` names) synchronously
    /// (RequestResponse) and waits for the result.
    pub async fn invoke(
        &self,
        name: &str,
        payload: Bytes,
        options: InvokeOptions,
    ) -> Result<Invoked, Error> {
        let request_id: Arc<str> = Arc::from(crate::ids::uuid_v4());
        self.invoke_as(name, payload, options, request_id).await
    }

    /// [`Functions::invoke`] with the given request id.
    async fn invoke_as(
        &self,
        name: &str,
        payload: Bytes,
        options: InvokeOptions,
        request_id: Arc<str>,
    ) -> Result<Invoked, Error> {
        let (pool, version) = self.pool_for(name, options.qualifier.as_deref())?;
        if payload.len() > limits::MAX_SYNC_PAYLOAD {
            return Err(Error::PayloadTooLarge {
                limit: limits::MAX_SYNC_PAYLOAD,
            });
        }
        let client_context = runtime_client_context(
            options.client_context.as_deref(),
            options.idempotency_key.as_deref(),
        )?;
        let invoked_arn = options
            .qualifier
            .as_deref()
            .map(|q| Arc::from(self.scope.qualified_arn(name, q)));
        let reply = pool
            .invoke(
                Arc::clone(&request_id),
                payload,
                client_context,
                invoked_arn,
            )
            .await?;
        let (payload, function_error) = match reply {
            Reply::Response(payload) => (payload, None),
            Reply::Error {
                error_type,
                payload,
            } => (payload, Some(error_type)),
        };
        Ok(Invoked {
            request_id: request_id.to_string(),
            payload,
            function_error,
            executed_version: version,
        })
    }

    /// Invokes `name` asynchronously (Event): checks it exists and the payload's size,
    /// journals the event durably (`crate::events`), then runs it in the background, retried
    /// as AWS retries events; the result is only logged. Returns the request id, the same for
    /// every attempt. The client context is not passed on, as on AWS.
    pub async fn invoke_event(
        &self,
        name: &str,
        payload: Bytes,
        options: InvokeOptions,
    ) -> Result<String, Error> {
        self.pool_for(name, options.qualifier.as_deref())?;
        runtime_client_context(options.client_context.as_deref(), None)?;
        if payload.len() > limits::MAX_ASYNC_PAYLOAD {
            return Err(Error::PayloadTooLarge {
                limit: limits::MAX_ASYNC_PAYLOAD,
            });
        }
        let event = self.new_event(name, options.qualifier.clone(), &payload);
        self.inner.events.put(event.clone()).await?;
        let request_id = event.id.clone();
        self.inner
            .tasks
            .spawn("event", self.clone().run_event(event, payload));
        Ok(request_id)
    }

    /// Runs the events accepted before a restart that had not finished (call once, from
    /// within the async runtime). Returns how many.
    pub fn resume_events(&self) -> usize {
        let events = std::mem::take(
            &mut *self
                .inner
                .recovered
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        let count = events.len();
        for event in events {
            let Ok(payload) = base64::engine::general_purpose::STANDARD.decode(&event.payload)
            else {
                self.inner.events.done(&event.id);
                continue;
            };
            let functions = self.of_event(&event);
            self.inner
                .tasks
                .spawn("event", functions.run_event(event, Bytes::from(payload)));
        }
        count
    }

    /// The view of the region `event`'s function lives in (journals from before regions name
    /// none: the configured one).
    fn of_event(&self, event: &Event) -> Functions {
        match &event.region {
            Some(region) => self.in_region(region),
            None => self.home(),
        }
    }

    /// An event of `name` (`qualifier`) of this region, accepted now.
    fn new_event(&self, name: &str, qualifier: Option<String>, payload: &[u8]) -> Event {
        let now = self.inner.clock.now_ms();
        Event {
            id: crate::ids::uuid_v4(),
            region: Some(self.region().to_owned()),
            function: name.to_owned(),
            qualifier,
            payload: base64::engine::general_purpose::STANDARD.encode(payload),
            accepted_ms: now,
            retries: 0,
            due_ms: now,
            invokes: 0,
            hops: 0,
        }
    }

    /// One event, to its end: invoked when due (at most the function's default concurrency of
    /// its events at once), retried on function errors and throttles as AWS does (the
    /// qualifier's event invoke config, read at each decision), then its invocation record
    /// sent to the config's destination and the event marked done in the journal. Leaves it
    /// journaled when the service shuts down.
    async fn run_event(self, mut event: Event, payload: Bytes) {
        let name = event.function.clone();
        let request_id: Arc<str> = Arc::from(event.id.as_str());
        let clock = self.inner.clock.clone();
        let mut backoff =
            sluice_types::Backoff::new(Duration::from_secs(1), Duration::from_secs(300));
        // The last reply of the function, for the invocation record.
        let mut last: Option<Invoked> = None;
        let outcome = loop {
            clock.sleep_until(event.due_ms).await;
            if self.inner.closed.load(Ordering::Acquire) {
                return;
            }
            let policy = self.event_policy(&event);
            if clock.now_ms() - event.accepted_ms > policy.max_age_ms {
                tracing::warn!(
                    function = %name, request_id = %request_id,
                    "event invocation older than its maximum age; discarded"
                );
                break Some((Condition::EventAgeExceeded, last));
            }
            let slots = self.event_slots(&name);
            let Ok(slot) = slots.acquire().await else {
                return;
            };
            let result = self
                .invoke_as(
                    &name,
                    payload.clone(),
                    InvokeOptions {
                        qualifier: event.qualifier.clone(),
                        ..InvokeOptions::default()
                    },
                    Arc::clone(&request_id),
                )
                .await;
            drop(slot);
            let now = clock.now_ms();
            match result {
                Ok(invoked) => {
                    event.invokes += 1;
                    if invoked.function_error.is_none() {
                        break Some((Condition::Success, Some(invoked)));
                    }
                    let error_type = invoked.function_error.clone();
                    if event.retries >= policy.retries {
                        tracing::warn!(
                            function = %name, request_id = %request_id, error_type,
                            "event invocation failed after its retries; discarded"
                        );
                        break Some((Condition::RetriesExhausted, Some(invoked)));
                    }
                    let delay = self.inner.options.event_retry_delay(event.retries + 1);
                    let due_ms = now.saturating_add(delay.as_millis() as i64);
                    if due_ms - event.accepted_ms > policy.max_age_ms {
                        tracing::warn!(
                            function = %name, request_id = %request_id, error_type,
                            "event invocation failed and would be too old for a retry; discarded"
                        );
                        break Some((Condition::EventAgeExceeded, Some(invoked)));
                    }
                    event.retries += 1;
                    event.due_ms = due_ms;
                    tracing::info!(
                        function = %name, request_id = %request_id, error_type,
                        retry = event.retries, "event invocation failed; retrying in {delay:?}"
                    );
                    self.inner.events.retry(&event);
                    last = Some(invoked);
                }
                Err(Error::ShuttingDown) => return,
                Err(Error::TooManyRequests { .. } | Error::Io { .. }) => {
                    // Throttled, or Sluice failed: again later (the age check above ends it).
                    event.due_ms = now.saturating_add(backoff.next_delay().as_millis() as i64);
                }
                Err(error) => {
                    tracing::warn!(
                        function = %name, request_id = %request_id, %error,
                        "event invocation cannot run; discarded"
                    );
                    break None;
                }
            }
        };
        match outcome {
            Some((condition, reply)) => {
                self.finish_event(&event, &payload, condition, reply.as_ref())
                    .await;
            }
            None => self.inner.events.done(&event.id),
        }
    }

    /// [`Functions::run_event`] boxed, to spawn from within itself (a destination's event).
    fn run_event_boxed(
        self,
        event: Event,
        payload: Bytes,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        Box::pin(self.run_event(event, payload))
    }

    /// The retries and the age an event gets: its qualifier's event invoke config, else the
    /// service's defaults.
    fn event_policy(&self, event: &Event) -> EventPolicy {
        let config = self.event_config(&event.function, event.qualifier.as_deref());
        let options = &self.inner.options;
        EventPolicy {
            retries: config
                .as_ref()
                .and_then(|c| c.maximum_retry_attempts)
                .unwrap_or(options.event_retries),
            max_age_ms: config
                .as_ref()
                .and_then(|c| c.maximum_event_age_in_seconds)
                .map_or_else(
                    || options.event_max_age().as_millis() as i64,
                    |s| i64::from(s) * 1000,
                ),
        }
    }

    /// Ends `event`: its invocation record goes to the destination its config names for
    /// `condition` (as an event of that function, accepted in the same journal record that
    /// marks this one done), else it is only marked done.
    async fn finish_event(
        &self,
        event: &Event,
        payload: &[u8],
        condition: Condition,
        reply: Option<&Invoked>,
    ) {
        let config = self.event_config(&event.function, event.qualifier.as_deref());
        let destination = config.and_then(|c| match condition {
            Condition::Success => c.on_success,
            Condition::RetriesExhausted | Condition::EventAgeExceeded => c.on_failure,
        });
        let Some(destination) = destination else {
            self.inner.events.done(&event.id);
            return;
        };
        let function_arn = self.scope.qualified_arn(
            &event.function,
            event.qualifier.as_deref().unwrap_or(LATEST),
        );
        let record = invocation_record(
            event,
            &function_arn,
            condition,
            payload,
            reply,
            self.inner.clock.now_ms(),
        );
        if crate::event_config::is_message_destination(&destination) {
            self.send_record(event, &destination, record).await;
            return;
        }
        let (next, record) = match self.destination_event(event, &destination, record) {
            Ok(next) => next,
            Err(error) => {
                tracing::warn!(
                    function = %event.function, request_id = %event.id, %destination, %error,
                    "cannot send the invocation record to its destination"
                );
                self.inner.events.done(&event.id);
                return;
            }
        };
        match self.inner.events.done_then(&event.id, next.clone()).await {
            Ok(()) => {
                let functions = self.of_event(&next);
                self.inner
                    .tasks
                    .spawn("event", functions.run_event_boxed(next, record));
            }
            // Not recorded: the event stays journaled and runs again after a restart.
            Err(error) => tracing::warn!(
                function = %event.function, request_id = %event.id, %error,
                "cannot journal the invocation record for its destination"
            ),
        }
    }

    /// Wires where queue and topic destinations' records go (once).
    pub fn set_destinations(&self, destinations: Arc<dyn Destinations>) {
        let _ = self.inner.destinations.set(destinations);
    }

    /// Sends `record` to a queue or topic destination, then marks `event` done: at least
    /// once (a crash between the two runs the event again).
    async fn send_record(&self, event: &Event, destination: &str, record: serde_json::Value) {
        let sent = match self.inner.destinations.get() {
            Some(destinations) => {
                destinations
                    .send(destination, trimmed_record(record).to_string())
                    .await
            }
            None => Err("no queues or topics are wired".to_owned()),
        };
        if let Err(error) = sent {
            tracing::warn!(
                function = %event.function, request_id = %event.id, %destination, %error,
                "cannot send the invocation record to its destination"
            );
        }
        self.inner.events.done(&event.id);
    }

    /// The event that delivers `record` (the invocation record of `source`) to the function
    /// `destination` (a function ARN, maybe qualified) names, and its payload. A record over
    /// the Event payload limit loses its `responsePayload`, then its `requestPayload`.
    fn destination_event(
        &self,
        source: &Event,
        destination: &str,
        record: serde_json::Value,
    ) -> Result<(Event, Bytes), Error> {
        if source.hops >= MAX_DESTINATION_HOPS {
            return Err(Error::invalid(format!(
                "the event went through {MAX_DESTINATION_HOPS} destinations in a row: a \
                 recursive loop, stopped"
            )));
        }
        let named = crate::event_config::function_destination(&self.scope, destination)
            .ok_or_else(|| {
                Error::invalid(format!("The destination ARN {destination} is invalid."))
            })?;
        let functions = self.of(&named);
        let (name, qualifier) = (named.name, named.qualifier);
        functions.target(&name, qualifier.as_deref())?;
        let payload = trimmed_record(record).to_string();
        if payload.len() > limits::MAX_ASYNC_PAYLOAD {
            return Err(Error::PayloadTooLarge {
                limit: limits::MAX_ASYNC_PAYLOAD,
            });
        }
        let mut event = functions.new_event(&name, qualifier, payload.as_bytes());
        event.hops = source.hops + 1;
        Ok((event, Bytes::from(payload)))
    }

    /// The gate of `name`'s events.
    fn event_slots(&self, name: &str) -> Arc<Semaphore> {
        let mut slots = self
            .inner
            .event_slots
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let permits = self.inner.options.default_concurrency.max(1) as usize;
        Arc::clone(
            slots.get_or_insert_with(self.region(), name, || Arc::new(Semaphore::new(permits))),
        )
    }

    /// Checks that `name` (and `qualifier`) can be invoked, without invoking (DryRun).
    pub fn check_invocable(&self, name: &str, qualifier: Option<&str>) -> Result<(), Error> {
        self.pool_for(name, qualifier).map(|_| ())
    }

    /// The kept log lines of invocation `request_id` of `name` (START, output, END, REPORT).
    pub fn logs(&self, name: &str, request_id: &str) -> String {
        match self.pools().get(self.region(), name) {
            Some(pools) => pools.logs().of_request(request_id),
            None => String::new(),
        }
    }

    /// The kept log lines of `name` after sequence number `after` (0: all), of invocation
    /// `request_id` only when given (`sluice logs`). Lines live in memory, per function, within
    /// `log-buffer-bytes`, and in the function's `logs/` folder, read back after a restart.
    pub fn log_lines(
        &self,
        name: &str,
        after: u64,
        request_id: Option<&str>,
    ) -> Result<Vec<crate::logs::LogLine>, Error> {
        self.get(name)?;
        let mut pools = self.pools();
        let pools = self.function_pools(&mut pools, name);
        Ok(pools.logs().since(after, request_id))
    }

    /// How many workers `name` has now, all versions together.
    pub fn stats(&self, name: &str) -> PoolStats {
        let mut total = PoolStats::default();
        if let Some(pools) = self.pools().get(self.region(), name) {
            for pool in pools.versions.values() {
                let stats = pool.stats();
                total.workers += stats.workers;
                total.busy += stats.busy;
                total.queued += stats.queued;
            }
        }
        total
    }

    /// Stops every worker (waiting at most `grace` for them to die).
    pub async fn shutdown(&self, grace: Duration) {
        self.inner.closed.store(true, Ordering::Release);
        // Journaled event invocations stop now and run again after a restart.
        self.inner.tasks.shutdown(Duration::ZERO).await;
        let pools: Vec<Arc<Pool>> = self
            .pools()
            .drain()
            .flat_map(|pools| pools.versions.into_values())
            .collect::<Vec<_>>();
        for pool in pools {
            pool.shutdown(grace).await;
        }
    }

    fn pools(&self) -> std::sync::MutexGuard<'_, ByRegion<FunctionPools>> {
        self.inner.pools.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn spec(&self, function: &Function) -> Spec {
        Spec {
            code: self.code_path(function),
            arn: self.arn(&function.name),
            function: function.clone(),
            node_bootstrap: self.inner.node_bootstrap.clone(),
        }
    }

    /// The version an invocation of `name` with `qualifier` runs: `$LATEST`, the version, or
    /// the version the alias routes this invocation to (weighted, at random). Carries the
    /// function's reserved concurrency. `Function not found: <ARN>:<qualifier>` otherwise.
    fn target(&self, name: &str, qualifier: Option<&str>) -> Result<Function, Error> {
        let not_found = || self.not_found(name, Some(qualifier.unwrap_or(LATEST)));
        self.inner
            .registry
            .with(self.region(), name, |entry| {
                let version = match qualifier.map(Qualifier::parse) {
                    None | Some(Qualifier::Latest) => return Ok(entry.latest.clone()),
                    Some(Qualifier::Version(n)) => entry.versions.get(&n),
                    Some(Qualifier::Alias(alias)) => {
                        let alias = entry.aliases.get(alias).ok_or_else(not_found)?;
                        let routed = if alias.routing.is_empty() {
                            &alias.function_version
                        } else {
                            alias.route(crate::ids::random_unit())
                        };
                        entry.version(routed)
                    }
                    Some(Qualifier::Nothing) => None,
                };
                let mut function = version.ok_or_else(not_found)?.clone();
                function.reserved_concurrency = entry.latest.reserved_concurrency;
                Ok(function)
            })
            .unwrap_or_else(|| Err(not_found()))
    }

    /// The pool of the version an invocation of `name` with `qualifier` runs (created on first
    /// use), and that version.
    fn pool_for(&self, name: &str, qualifier: Option<&str>) -> Result<(Arc<Pool>, String), Error> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(Error::ShuttingDown);
        }
        let function = self.target(name, qualifier)?;
        function.runtime_kind()?;
        let mut pools = self.pools();
        if let Some(pool) = pools
            .get(self.region(), name)
            .and_then(|p| p.versions.get(&function.version))
        {
            return Ok((Arc::clone(pool), function.version));
        }
        let pools = self.function_pools(&mut pools, name);
        let pool = Pool::new(
            Arc::clone(&self.inner.options),
            Arc::clone(&self.inner.memory),
            (*self.scope).clone(),
            self.spec(&function),
            Arc::clone(&pools.logs),
        );
        pools
            .versions
            .insert(function.version.clone(), Arc::clone(&pool));
        Ok((pool, function.version))
    }

    /// The pools of `name` (created, with its log read back from its folder, on first use).
    fn function_pools<'a>(
        &self,
        pools: &'a mut ByRegion<FunctionPools>,
        name: &str,
    ) -> &'a mut FunctionPools {
        pools.get_or_insert_with(self.region(), name, || {
            let dir = self
                .inner
                .registry
                .function_dir(self.region(), name)
                .join("logs");
            let logs = LogBuffer::open(&dir, self.inner.options.log_buffer_bytes);
            FunctionPools {
                versions: HashMap::new(),
                logs: Arc::new(Mutex::new(logs)),
            }
        })
    }

    /// `$LATEST` of `function.name` changed: its workers are replaced.
    fn reconfigure(&self, function: &Function) {
        let pool = self
            .pools()
            .get(self.region(), &function.name)
            .and_then(|p| p.versions.get(LATEST))
            .cloned();
        if let Some(pool) = pool {
            pool.reconfigure(self.spec(function));
        }
    }

    /// Stops the workers of version `version` of `name` (deleted).
    fn drop_pool(&self, name: &str, version: &str) {
        let pool = self
            .pools()
            .get_mut(self.region(), name)
            .and_then(|p| p.versions.remove(version));
        if let Some(pool) = pool {
            tokio::spawn(async move { pool.shutdown(Duration::from_secs(5)).await });
        }
    }
}

/// The most destinations in a row an event's records go through (as AWS stops recursive loops
/// after 16 invocations): a record of an event that far down a chain is not delivered.
const MAX_DESTINATION_HOPS: u32 = 16;

/// How an event is retried and aged.
struct EventPolicy {
    /// Retries after function errors (`MaximumRetryAttempts`).
    retries: u32,
    /// `MaximumEventAgeInSeconds`, in ms.
    max_age_ms: i64,
}

/// The client context a runtime gets (`Lambda-Runtime-Client-Context`: JSON, as Lambda
/// decodes the API's base64): `given` (base64 JSON, `X-Amz-Client-Context`) with
/// `idempotency_key` added as `custom[IDEMPOTENCY_KEY]` (kept out when `given` has a `custom`
/// that is not an object). AWS's `InvalidRequestContentException` when `given` is not base64
/// JSON of an object.
fn runtime_client_context(
    given: Option<&str>,
    idempotency_key: Option<&str>,
) -> Result<Option<String>, Error> {
    let invalid = || Error::InvalidRequestContent {
        message: "Client context must be a valid Base64-encoded JSON object.".into(),
    };
    let mut context = match given {
        None => serde_json::Map::new(),
        Some(text) => {
            let json = base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|_| invalid())?;
            match serde_json::from_slice(&json) {
                Ok(serde_json::Value::Object(map)) => map,
                _ => return Err(invalid()),
            }
        }
    };
    if let Some(key) = idempotency_key {
        let custom = context
            .entry("custom")
            .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
        if let serde_json::Value::Object(custom) = custom {
            custom.insert(IDEMPOTENCY_KEY.into(), key.into());
        }
    } else if given.is_none() {
        return Ok(None);
    }
    Ok(Some(ascii_json(
        &serde_json::Value::Object(context).to_string(),
    )))
}

/// `json` with every non-ASCII character escaped (`\uXXXX`), so that it is a valid header
/// value. Outside strings JSON is ASCII already.
fn ascii_json(json: &str) -> String {
    if json.is_ascii() {
        return json.to_owned();
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// An invocation record within the Event payload limit: it loses its `responsePayload`, then
/// its `requestPayload`, as AWS trims them.
fn trimmed_record(mut record: serde_json::Value) -> serde_json::Value {
    for member in ["responsePayload", "requestPayload"] {
        if record.to_string().len() <= limits::MAX_ASYNC_PAYLOAD {
            break;
        }
        if let Some(map) = record.as_object_mut() {
            map.remove(member);
        }
    }
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(text: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(text)
    }

    #[tokio::test]
    async fn destination_events_trim_large_records_and_stop_loops() {
        let dir = std::env::temp_dir().join(format!("sluice-service-{}-dest", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let functions = Functions::open(
            &dir,
            Options::default(),
            Scope::new("us-east-1", "000000000000"),
        )
        .unwrap();
        let zip = crate::archive::tests::zip_of(&[("h.py", b"", 0o644)]);
        let settings = Settings {
            runtime: Some("python3.12".into()),
            handler: Some("h.handler".into()),
            role: Some("arn:aws:iam::000000000000:role/r".into()),
            ..Settings::default()
        };
        functions.create("dest", &settings, &zip).unwrap();
        let source = functions.new_event("src", None, b"{}");
        let arn = "arn:aws:lambda:us-east-1:000000000000:function:dest";
        let big = "x".repeat(limits::MAX_ASYNC_PAYLOAD);
        let record = serde_json::json!({
            "version": "1.0",
            "requestPayload": {"small": true},
            "responsePayload": big,
        });
        let (event, payload) = functions.destination_event(&source, arn, record).unwrap();
        assert_eq!((event.function.as_str(), event.hops), ("dest", 1));
        let delivered: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(
            delivered,
            serde_json::json!({"version": "1.0", "requestPayload": {"small": true}})
        );
        // A destination in another region: an event of that region's function.
        functions
            .in_region("us-west-2")
            .create("dest", &settings, &zip)
            .unwrap();
        let west = arn.replace("us-east-1", "us-west-2");
        let (event, _) = functions
            .destination_event(&source, &west, serde_json::json!({}))
            .unwrap();
        assert_eq!(event.region.as_deref(), Some("us-west-2"));
        assert!(
            functions
                .destination_event(
                    &source,
                    &arn.replace("us-east-1", "eu-west-1"),
                    serde_json::json!({})
                )
                .is_err()
        );
        // An alias that does not exist, another account, a deleted function: not delivered.
        for bad in [
            format!("{arn}:nope"),
            arn.replace("000000000000", "111111111111"),
            "arn:aws:lambda:us-east-1:000000000000:function:gone".into(),
        ] {
            assert!(
                functions
                    .destination_event(&source, &bad, serde_json::json!({}))
                    .is_err(),
                "{bad}"
            );
        }
        // The 16th destination in a row is the last.
        let mut deep = source;
        deep.hops = MAX_DESTINATION_HOPS - 1;
        let (event, _) = functions
            .destination_event(&deep, arn, serde_json::json!({}))
            .unwrap();
        assert_eq!(event.hops, MAX_DESTINATION_HOPS);
        let error = functions
            .destination_event(&event, arn, serde_json::json!({}))
            .unwrap_err();
        assert!(error.to_string().contains("recursive loop"), "{error}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn client_contexts_are_decoded_and_carry_the_idempotency_key() {
        assert_eq!(runtime_client_context(None, None).unwrap(), None);
        assert_eq!(
            runtime_client_context(None, Some("k")).unwrap().unwrap(),
            r#"{"custom":{"sluice-idempotency-key":"k"}}"#
        );
        let given = b64(r#"{"custom": {"a": "b"}, "env": {"x": "y"}}"#);
        assert_eq!(
            runtime_client_context(Some(&given), None).unwrap().unwrap(),
            r#"{"custom":{"a":"b"},"env":{"x":"y"}}"#
        );
        assert_eq!(
            runtime_client_context(Some(&given), Some("k"))
                .unwrap()
                .unwrap(),
            r#"{"custom":{"a":"b","sluice-idempotency-key":"k"},"env":{"x":"y"}}"#
        );
        let accents = b64(r#"{"custom": {"who": "Zoë 🐟"}}"#);
        let header = runtime_client_context(Some(&accents), None)
            .unwrap()
            .unwrap();
        assert_eq!(header, r#"{"custom":{"who":"Zo\u00eb \ud83d\udc1f"}}"#);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&header).unwrap()["custom"]["who"],
            "Zoë 🐟"
        );
        for bad in ["not base64!", &b64("[1]"), &b64("{")] {
            let error = runtime_client_context(Some(bad), None).unwrap_err();
            assert_eq!(error.code(), "InvalidRequestContentException");
            assert_eq!(
                error.to_string(),
                "Client context must be a valid Base64-encoded JSON object."
            );
        }
    }
}
