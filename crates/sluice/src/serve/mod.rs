//! `sluice serve`: the Step Functions and Lambda APIs on one port, STANDARD executions durable
//! in `<data-dir>/sluice.db`, EXPRESS executions in memory, functions in
//! `<data-dir>/functions/` run by worker processes.
//!
//! Startup: effective configuration ([`config`]) → open the store and the functions → build
//! the engine (Lambda tasks run functions; a mock configuration's responses take precedence) → resume every RUNNING STANDARD execution
//! (`Engine::recover`) → bind and log `listening on <addr>` on stderr → serve. SIGTERM or
//! ctrl-c: stop accepting, let in-flight requests finish (bounded), then close the store so
//! queued commits are flushed, and stop every function worker.

mod clock;
pub mod config;
mod stats;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::ServiceExt as _;
use sluice_api::classify::Service;
use sluice_api::gateway::Gateway;
use sluice_api::sfn::Scope;
use sluice_asl::mock::MockConfig;
use sluice_engine::{Clock, Engine, EngineOptions, Integrations, MockDispatcher};
use sluice_functions::Functions;
use sluice_services::events::EventsBackend;
use sluice_services::integrations::aws_sdk::{
    AwsSdk, Casing, EventsService, LambdaService, SchedulerService, Slot, SnsService, SqsService,
    StepFunctionsService,
};
use sluice_services::integrations::lambda::LambdaIntegration;
use sluice_services::integrations::messages::MessageIntegration;
use sluice_services::lambda::{LambdaBackend, routes};
use sluice_services::mappings::Mappings;
use sluice_services::pipes::{PipesBackend, Services};
use sluice_services::scheduler::SchedulerBackend;
use sluice_services::sfn::Backend;
use sluice_services::sns::{MessageDestinations, SnsBackend, SnsEndpoints};
use sluice_services::sqs::SqsBackend;
use sluice_store::SqliteStore;

use self::config::{Flags, ServeConfig};

/// How long running executions may take to reach the end of their current step at shutdown.
const ENGINE_GRACE: Duration = Duration::from_secs(5);

/// How long event-source mapping invocations in flight may take to finish at shutdown.
const MAPPINGS_GRACE: Duration = Duration::from_secs(5);

/// How long pipes' batches in flight may take to finish at shutdown.
const PIPES_GRACE: Duration = Duration::from_secs(5);

/// How long event deliveries in flight may take to finish at shutdown (the rest resume after
/// a restart).
const EVENTS_GRACE: Duration = Duration::from_secs(5);

/// How long in-flight requests may take to finish once shutdown has begun.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A TOML configuration file (keys as `--print-config` prints them). Layers: defaults,
    /// this file, `SLUICE__<KEY>` environment variables (and `SFN_MOCK_CONFIG`), then flags.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The address to listen on, host:port (default 127.0.0.1:4566).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// The port to listen on (replaces the port of the listen address; 0 picks a free one).
    #[arg(long)]
    port: Option<u16>,
    /// The directory of durable state (default ./.sluice).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Run Wait states, retry backoff and timeouts this many times faster than real time.
    #[arg(long, value_name = "F")]
    time_scale: Option<f64>,
    /// A Step Functions Local mock configuration answering Task states
    /// (select a test case with `stateMachineArn#TestCase`).
    #[arg(long, value_name = "FILE")]
    mock_config: Option<PathBuf>,
    /// The Python interpreter (with `awslambdaric`) that runs `python3.x` functions
    /// (default `python3`; also `SLUICE_PYTHON`).
    #[arg(long, value_name = "PATH")]
    python: Option<PathBuf>,
    /// Print the effective configuration (TOML) and exit.
    #[arg(long)]
    print_config: bool,
}

pub fn main(args: Args) -> anyhow::Result<ExitCode> {
    let flags = Flags {
        listen: args.listen,
        port: args.port,
        data_dir: args.data_dir,
        time_scale: args.time_scale,
        mock_config: args.mock_config,
        python: args.python,
    };
    let env = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
    let config = ServeConfig::load(args.config.as_deref(), env, &flags)?;
    if args.print_config {
        print!("{}", config.to_toml());
        return Ok(ExitCode::SUCCESS);
    }
    init_logging();
    // Execution data may be nested as deep as the payload quota allows, and serde_json's
    // operations on it recurse per level: every thread that handles it, the server itself
    // included (it resumes executions), gets the stack for that.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(sluice_asl::json::EXECUTION_STACK)
        .build()
        .context("cannot start the async runtime")?;
    runtime
        .block_on(async { tokio::spawn(serve(config)).await })
        .context("the server stopped unexpectedly")??;
    Ok(ExitCode::SUCCESS)
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// The wall time from which `--time-scale` runs, kept in the data dir so timers persisted by a
/// previous process stay on the same scaled timeline after a restart.
fn clock_origin(data_dir: &std::path::Path) -> anyhow::Result<i64> {
    let path = data_dir.join("clock-origin");
    if let Ok(text) = std::fs::read_to_string(&path)
        && let Ok(origin) = text.trim().parse()
    {
        return Ok(origin);
    }
    let origin = chrono::Utc::now().timestamp_millis();
    std::fs::write(&path, origin.to_string())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(origin)
}

async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
    let db = config.data_dir.join("sluice.db");
    let store = SqliteStore::open(&db, config.store.clone())
        .with_context(|| format!("cannot open the store {}", db.display()))?;
    let clock = Clock::scaled_since(clock_origin(&config.data_dir)?, config.time_scale);
    let buckets = sluice_buckets::Buckets::open(
        store.clone(),
        clock.clone(),
        &config.data_dir.join("buckets"),
        config.buckets,
    )
    .await
    .map_err(|e| anyhow::anyhow!("cannot open the buckets: {e}"))?;
    let large_payloads =
        config
            .large_payloads
            .enabled
            .then(|| sluice_engine::payloads::LargePayloads {
                store: Arc::new(sluice_services::s3::sdk::PayloadBucket::new(
                    buckets.clone(),
                    config.large_payloads.bucket.clone(),
                    config.region.clone(),
                    config.account.clone(),
                )),
                threshold: config.payload_limit().unwrap_or(262_144),
                max_bytes: config.large_payloads.max_bytes,
                all_machines: config.large_payloads.all_machines,
            });
    let options = EngineOptions {
        max_payload_bytes: config.payload_limit(),
        express_retention: config.express_retention,
        execution_retention: config.execution_retention(),
        large_payloads,
    };
    let scope = Scope::new(config.region.clone(), config.account.clone());
    // Event invocations retry and age on the engine's clock (`--time-scale`, /sluice/clock).
    let functions = Functions::open_with_clock(
        &config.data_dir,
        config.functions.clone(),
        scope.clone(),
        clock.clone(),
    )
    .with_context(|| format!("cannot open the functions in {}", config.data_dir.display()))?;
    // `aws-sdk:sfn` calls the Step Functions API that runs on this engine: its handler is set
    // once the API exists.
    let mut sdk = AwsSdk::new();
    let step_functions_sdk = sdk.register("sfn", "Sfn", Casing::Camel);
    let broker = sluice_broker::Broker::open(store.clone(), clock.clone(), scope.clone())
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the queues: {e}"))?;
    let broker_tasks = broker.tasks().clone();
    broker.set_endpoints(Arc::new(SnsEndpoints::new(functions.clone())));
    functions.set_destinations(Arc::new(MessageDestinations::new(broker.clone())));
    // Once their queue and topic destinations are wired.
    let events = functions.resume_events();
    if events > 0 {
        tracing::info!(events, "resumed event invocations");
    }
    let streams =
        sluice_streams::Streams::open(store.clone(), clock.clone(), scope.clone(), config.streams)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open the streams: {e}"))?;
    let stream_tasks = streams.tasks().clone();
    let sns = Arc::new(SnsBackend::new(broker.clone()));
    let mappings = Mappings::open(
        store.clone(),
        broker.clone(),
        streams.clone(),
        functions.clone(),
        scope.clone(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("cannot load the event-source mappings: {e}"))?;
    let mapping_tasks = mappings.tasks().clone();
    let s3_sdk = Arc::new(sluice_services::s3::sdk::S3Sdk::new(
        buckets.clone(),
        config.account.clone(),
    ));
    let lambda = Arc::new(
        LambdaBackend::new(functions.clone())
            .with_mappings(mappings.clone())
            .with_code_source(s3_sdk.clone()),
    );
    sdk.register("lambda", "Lambda", Casing::Pascal)
        .set(Arc::new(LambdaService(Arc::clone(&lambda))));
    let sqs = Arc::new(SqsBackend::new(broker, scope.clone()));
    let sqs_service: Arc<SqsService<_>> = Arc::new(SqsService(Arc::clone(&sqs)));
    let sns_service: Arc<SnsService<_>> = Arc::new(SnsService(Arc::clone(&sns)));
    sdk.register("sqs", "Sqs", Casing::Pascal)
        .set(sqs_service.clone());
    sdk.register("sns", "Sns", Casing::Pascal)
        .set(sns_service.clone());
    // Pipes call Step Functions through the same API as `aws-sdk:sfn`, set once it exists.
    let pipes_step_functions = Slot::new();
    let pipes = PipesBackend::open(
        store.clone(),
        sns.broker().clone(),
        mappings.clone(),
        functions.clone(),
        Services {
            step_functions: pipes_step_functions.clone(),
            sqs: sqs_service.clone(),
            sns: sns_service.clone(),
        },
        scope.clone(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("cannot load the pipes: {e}"))?;
    let pipe_tasks = pipes.tasks().clone();
    let kinesis = Arc::new(sluice_services::kinesis::KinesisBackend::new(streams));
    let kinesis_service: Arc<dyn sluice_services::integrations::aws_sdk::JsonService> = Arc::new(
        sluice_services::integrations::aws_sdk::KinesisService(Arc::clone(&kinesis)),
    );
    sdk.register("kinesis", "Kinesis", Casing::Pascal)
        .set(Arc::clone(&kinesis_service));
    // Rules deliver to every kind of target, an event bus included (their own API, set once
    // it exists), and to state machines once the Step Functions API exists.
    let targets_step_functions = Slot::new();
    let events_slot = Slot::new();
    let targets = sluice_services::targets::Targets::new(
        functions.clone(),
        sqs_service.clone(),
        sns_service.clone(),
        kinesis_service,
        targets_step_functions.clone(),
        events_slot.clone(),
    );
    let events = Arc::new(
        EventsBackend::open(store.clone(), clock.clone(), scope.clone(), targets.clone())
            .await
            .map_err(|e| anyhow::anyhow!("cannot load the event buses and rules: {e}"))?,
    );
    let events_tasks = events.tasks().clone();
    let events_service: Arc<EventsService<_>> = Arc::new(EventsService(Arc::clone(&events)));
    events_slot.set(events_service.clone());
    sdk.register("eventbridge", "EventBridge", Casing::Pascal)
        .set(events_service.clone());
    let scheduler_sdk = sdk.register("scheduler", "Scheduler", Casing::Pascal);
    sdk.register("s3", "S3", Casing::Pascal).set(s3_sdk);
    // Shared by Task states' `aws-sdk:` resources and the schedules' targets.
    let sdk = Arc::new(sdk);
    let s3_targets = targets.clone();
    let bucket_tasks = sluice_services::s3::notifications::run(buckets.clone(), targets.clone());
    let scheduler = SchedulerBackend::open(
        store.clone(),
        clock.clone(),
        targets,
        Arc::clone(&sdk),
        scope.clone(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("cannot load the schedules: {e}"))?;
    let scheduler_tasks = scheduler.tasks().clone();
    scheduler_sdk.set(Arc::new(SchedulerService(Arc::new(scheduler.clone()))));
    let mut integrations = Integrations::new()
        .register(
            "lambda",
            Arc::new(LambdaIntegration::new(functions.clone())),
        )
        .register("sqs", Arc::new(MessageIntegration::sqs(sqs_service)))
        .register("sns", Arc::new(MessageIntegration::sns(sns_service)))
        .register(
            "events",
            Arc::new(MessageIntegration::events(events_service)),
        )
        .register("aws-sdk", sdk);
    if let Some(path) = &config.mock_config {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read mock config {}", path.display()))?;
        let mock = MockConfig::parse(&text)
            .with_context(|| format!("invalid mock config {}", path.display()))?;
        integrations = integrations.with_mock(MockDispatcher::new(mock));
    }
    let engine = Engine::new(store.clone(), integrations, clock, options);
    // STANDARD executions' status changes become events on the default bus, as on AWS.
    engine.set_status_observer(Arc::new(
        sluice_services::events::status::StatusEvents::new((*events).clone()),
    ));
    let engine_tasks = engine.tasks().clone();
    let pollers = mappings.resume();
    if pollers > 0 {
        tracing::info!(pollers, "resumed event-source mappings");
    }
    // Sluice's own routes over the functions: their logs, the mappings' and pipes' counters.
    let function_routes = routes::router(functions.clone())
        .merge(sluice_services::counters::flows(
            mappings,
            functions.clone(),
            pipes.clone(),
        ))
        .merge(sluice_services::counters::schedules(scheduler.clone()));
    let apis = Apis {
        kinesis: sluice_api::kinesis_routes::router(kinesis),
        s3: sluice_services::s3::router(sluice_services::s3::S3Backend::new(
            buckets,
            config.region.clone(),
            config.account.clone(),
            Some(s3_targets),
        )),
        events,
        lambda,
        sqs,
        sns,
        pipes,
        scheduler,
        step_functions_sdk,
        pipes_step_functions,
        targets_step_functions,
    };
    let result = run(&config, engine, scope, function_routes, apis).await;
    // In order: pipes and event-source mapping pollers (an invocation in flight finishes and its
    // messages are deleted; the rest come back after their visibility timeout), executions
    // stop between steps (they resume after a restart), message move tasks between two
    // messages, then the functions and their workers, then the store.
    pipe_tasks.shutdown(PIPES_GRACE).await;
    events_tasks.shutdown(EVENTS_GRACE).await;
    // A delivery in flight finishes; pending ones stay in the store for the next start.
    scheduler_tasks.shutdown(PIPES_GRACE).await;
    bucket_tasks.shutdown(PIPES_GRACE).await;
    mapping_tasks.shutdown(MAPPINGS_GRACE).await;
    engine_tasks.shutdown(ENGINE_GRACE).await;
    broker_tasks.shutdown(Duration::from_secs(5)).await;
    stream_tasks.shutdown(Duration::from_secs(5)).await;
    functions.shutdown(Duration::from_secs(5)).await;
    // Flush and close whatever happened: every acknowledged commit is already durable, and
    // queued ones are written before `close` returns.
    if let Err(error) = store.close().await {
        tracing::warn!(%error, "closing the store");
    }
    tracing::info!("stopped");
    result
}

async fn run(
    config: &ServeConfig,
    engine: Engine<SqliteStore, Integrations>,
    scope: Scope,
    function_routes: axum::Router,
    apis: Apis,
) -> anyhow::Result<()> {
    let Apis {
        kinesis,
        s3,
        events,
        lambda,
        sqs,
        sns,
        pipes,
        scheduler,
        step_functions_sdk,
        pipes_step_functions,
        targets_step_functions,
    } = apis;
    let resumed = engine
        .recover()
        .await
        .map_err(|e| anyhow::anyhow!("cannot recover executions: {e}"))?;
    if resumed > 0 {
        tracing::info!(resumed, "resumed running executions");
    }
    engine.start_purge();
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let address = listener.local_addr().context("no local address")?;
    // On stderr whatever RUST_LOG says: scripts and tests read the port from it.
    eprintln!("listening on {address}");
    tracing::info!(
        data_dir = %config.data_dir.display(),
        time_scale = config.time_scale,
        mock_config = ?config.mock_config,
        "sluice serve ready"
    );
    let clock = engine.clock().clone();
    let store = engine.store().clone();
    let sqs = sluice_api::sqs_routes::router(sqs);
    sns.broker().set_endpoint(format!("http://{address}"));
    let certificate = sluice_services::sns::certificate_route(sns.broker().clone());
    let queue_stats = sluice_services::counters::queues(sns.broker().clone());
    let sns = sluice_api::sns_routes::router(sns);
    let lambda = sluice_api::lambda::router(lambda);
    let backend = Arc::new(Backend::new(engine, scope));
    step_functions_sdk.set(Arc::new(StepFunctionsService(Arc::clone(&backend))));
    pipes_step_functions.set(Arc::new(StepFunctionsService(Arc::clone(&backend))));
    targets_step_functions.set(Arc::new(StepFunctionsService(Arc::clone(&backend))));
    // Once every service a rule's target may be is there.
    let deliveries = events.resume();
    if deliveries > 0 {
        tracing::info!(deliveries, "resumed event deliveries");
    }
    let events = sluice_api::events_routes::router(events);
    // Once the Step Functions API they may call exists.
    let polling = pipes.resume();
    if polling > 0 {
        tracing::info!(polling, "resumed pipes");
    }
    let pipes = sluice_api::pipes_routes::router(Arc::new(pipes));
    // Once every API a target may call exists: fires missed while the server was down happen
    // now, once each.
    let resumed = scheduler.resume().await;
    if resumed > 0 {
        tracing::info!(resumed, "resumed schedule deliveries");
    }
    let scheduler = sluice_api::scheduler_routes::router(Arc::new(scheduler));
    let step_functions = sluice_api::http::routes(backend);
    let own = step_functions
        .clone()
        .merge(clock::router(clock))
        .merge(stats::router(store))
        .merge(function_routes)
        .merge(certificate)
        .merge(queue_stats);
    let router = Gateway::new()
        .service(Service::StepFunctions, step_functions)
        .service(Service::Lambda, lambda)
        .service(Service::Sqs, sqs)
        .service(Service::Sns, sns)
        .service(Service::Pipes, pipes)
        .service(Service::Scheduler, scheduler)
        .service(Service::Kinesis, kinesis)
        .service(Service::EventBridge, events)
        .service(Service::S3, s3)
        .service(Service::Sluice, own)
        .into_service()
        .into_make_service();
    let (stopping_tx, stopping_rx) = tokio::sync::watch::channel(false);
    let server = axum::serve(listener, router).with_graceful_shutdown(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: no new connections; draining in-flight requests");
        let _ = stopping_tx.send(true);
    });
    let mut stopping = stopping_rx;
    let served = tokio::spawn(async move { server.await });
    tokio::select! {
        joined = served => {
            joined.context("server task failed")?.context("server failed")?;
        }
        () = async {
            let _ = stopping.wait_for(|s| *s).await;
            tokio::time::sleep(DRAIN_TIMEOUT).await;
        } => {
            tracing::warn!("in-flight requests did not finish in {DRAIN_TIMEOUT:?}; closing anyway");
        }
    }
    Ok(())
}

/// The APIs `run` serves besides Step Functions'.
struct Apis {
    kinesis: axum::Router,
    s3: axum::Router,
    events: Arc<EventsBackend<SqliteStore>>,
    lambda: Arc<LambdaBackend>,
    sqs: Arc<SqsBackend<SqliteStore>>,
    sns: Arc<SnsBackend<SqliteStore>>,
    pipes: PipesBackend,
    scheduler: SchedulerBackend<SqliteStore>,
    step_functions_sdk: Slot,
    pipes_step_functions: Slot,
    targets_step_functions: Slot,
}

/// Resolves on SIGTERM or ctrl-c (SIGINT).
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
