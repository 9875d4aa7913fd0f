//! `sluice run DEFINITION --input JSON|@FILE [--mock-config FILE --test-case NAME]`

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sluice_asl::Failure;
use sluice_asl::interpreter::{self, Host, Options, Status};
use sluice_asl::mock::{MockConfig, TestCase};
use sluice_asl::step::TaskCall;
use sluice_asl::validate::validate;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The state machine definition (Amazon States Language JSON).
    definition: PathBuf,
    /// The execution input: inline JSON, or `@FILE` to read it from a file.
    #[arg(long, default_value = "{}")]
    input: String,
    /// A Step Functions Local mock configuration file that supplies Task results.
    #[arg(long, requires = "test_case")]
    mock_config: Option<PathBuf>,
    /// The test case of the mock configuration to use.
    #[arg(long, requires = "mock_config")]
    test_case: Option<String>,
    /// The state machine's name in the mock configuration (default: the definition file's stem).
    #[arg(long)]
    state_machine: Option<String>,
    /// Skip Wait states and retry delays instead of sleeping (time still advances virtually).
    #[arg(long)]
    no_wait: bool,
    /// Also print the execution history (AWS event types) under `"history"`.
    #[arg(long)]
    history: bool,
    /// The payload size limit in bytes (AWS: 262144); 0 disables it.
    #[arg(long, default_value_t = interpreter::DEFAULT_MAX_PAYLOAD_BYTES)]
    max_payload_bytes: usize,
    /// Exit with status 1 when the execution does not succeed (default: 0 whenever it ran).
    #[arg(long)]
    fail_on_error: bool,
    /// Seed for States.UUID, States.MathRandom and retry jitter.
    #[arg(long, default_value_t = 0x5EED)]
    seed: u64,
}

/// [`main`] on a thread with the stack execution data of any depth needs.
pub fn on_execution_stack(args: Args) -> anyhow::Result<ExitCode> {
    std::thread::Builder::new()
        .name("sluice-run".into())
        .stack_size(sluice_asl::json::EXECUTION_STACK)
        .spawn(move || main(args))
        .context("cannot start the execution thread")?
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

pub fn main(args: Args) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.definition)
        .with_context(|| format!("cannot read {}", args.definition.display()))?;
    let validation = validate(&text);
    let Some(machine) = validation.machine else {
        for d in &validation.diagnostics {
            let (file, line, column) = (args.definition.display(), d.line, d.column);
            eprintln!("{file}:{line}:{column}: {}", d.diagnostic);
        }
        bail!(
            "{} is not a valid state machine definition",
            args.definition.display()
        );
    };
    let input = read_input(&args.input)?;
    let machine_name = match &args.state_machine {
        Some(n) => n.clone(),
        None => stem(&args.definition),
    };
    let mock_text = match &args.mock_config {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read mock config {}", path.display()))?,
        ),
        None => None,
    };
    let mock = match &mock_text {
        Some(text) => Some(MockConfig::parse(text).context("invalid mock config")?),
        None => None,
    };
    let case = match (&mock, &args.test_case) {
        (Some(config), Some(case)) => Some(config.test_case(&machine_name, case)?),
        _ => None,
    };
    let mut host = MockHost {
        case,
        machine_name: machine_name.clone(),
        case_name: args.test_case.clone(),
        virtual_now: (args.no_wait).then(Utc::now),
    };
    let mut options = Options {
        max_payload_bytes: (args.max_payload_bytes > 0).then_some(args.max_payload_bytes),
        seed: args.seed,
        ..Options::default()
    };
    options.execution.state_machine_name = machine_name.clone();
    options.execution.state_machine_id =
        format!("arn:aws:states:us-east-1:000000000000:stateMachine:{machine_name}");
    options.execution.name = "run".into();
    options.execution.id =
        format!("arn:aws:states:us-east-1:000000000000:execution:{machine_name}:run");

    let outcome = interpreter::run(&machine, input, &mut host, options);
    let mut out = json!({ "status": outcome.status.as_str() });
    match (&outcome.output, &outcome.failure) {
        (Some(output), _) => out["output"] = output.clone(),
        (None, Some(f)) => {
            // As DescribeExecution: a Fail state without Error/Cause has none to show.
            if !f.error.is_empty() {
                out["error"] = json!(f.error);
            }
            if !f.cause.is_empty() {
                out["cause"] = json!(f.cause);
            }
        }
        (None, None) => {}
    }
    if args.history {
        out["history"] = serde_json::to_value(&outcome.history)?;
    }
    println!("{}", serde_json::to_string(&out)?);
    // Like `aws stepfunctions start-sync-execution`: the command succeeded whatever the
    // execution's status, which is in the output. `--fail-on-error` is for shell pipelines.
    Ok(
        if args.fail_on_error && outcome.status != Status::Succeeded {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        },
    )
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn read_input(arg: &str) -> anyhow::Result<Value> {
    let (text, origin) = match arg.strip_prefix('@') {
        Some(file) => (
            std::fs::read_to_string(file)
                .with_context(|| format!("cannot read input file {file}"))?,
            file.to_owned(),
        ),
        None => (arg.to_owned(), "--input".to_owned()),
    };
    sluice_asl::json::parse(&text).with_context(|| format!("{origin} is not valid JSON"))
}

/// Tasks answered from a Step Functions Local mock configuration; time real or virtual.
struct MockHost<'c> {
    case: Option<TestCase<'c>>,
    machine_name: String,
    case_name: Option<String>,
    /// `Some` with `--no-wait`: a clock that sleeping advances instantly.
    virtual_now: Option<DateTime<Utc>>,
}

impl Host for MockHost<'_> {
    fn run_task(&mut self, state: &str, call: &TaskCall) -> Result<Value, Failure> {
        let this = call.invocation;
        let no_mock = || {
            if call.resource.contains(":states:startExecution") {
                return Failure::runtime(format!(
                    "State '{state}' starts a nested execution ({}): `sluice run` runs one \
                     execution alone; nested executions need `sluice serve` (or a mocked \
                     response in the test case)",
                    call.resource
                ));
            }
            Failure::runtime(format!(
                "No mocked response for state '{state}' (invocation #{this}) in test case '{}' of \
                 state machine '{}': Sluice runs Task states only from a mock configuration \
                 (--mock-config FILE --test-case NAME)",
                self.case_name.as_deref().unwrap_or("<none>"),
                self.machine_name,
            ))
        };
        let Some(case) = &self.case else {
            return Err(no_mock());
        };
        case.answer(state, call).unwrap_or_else(|| Err(no_mock()))
    }

    fn now(&mut self) -> DateTime<Utc> {
        self.virtual_now.unwrap_or_else(Utc::now)
    }

    fn sleep_until(&mut self, until: DateTime<Utc>) {
        match &mut self.virtual_now {
            Some(now) => *now = (*now).max(until),
            None => {
                if let Ok(d) = (until - Utc::now()).to_std() {
                    std::thread::sleep(d);
                }
            }
        }
    }
}
