//! `sluice serve`'s configuration: one typed struct, filled in layers, each overriding the last:
//!
//! 1. the defaults below ([`ServeConfig::default`]);
//! 2. a TOML file (`--config FILE`), keys in kebab-case as in `--print-config`'s output;
//! 3. the environment: `SFN_MOCK_CONFIG` (as Step Functions Local reads it) and
//!    `SLUICE_PYTHON` (`functions.python`), then `SLUICE__<KEY>` with the key in upper snake
//!    case and `__` between levels (`SLUICE__LISTEN`, `SLUICE__DATA_DIR`,
//!    `SLUICE__STORE__READERS`, `SLUICE__FUNCTIONS__MAX_BACKLOG`);
//! 4. command-line flags (`--listen`, `--port`, `--data-dir`, `--time-scale`, `--mock-config`,
//!    `--python`).
//!
//! Unknown keys are errors in every layer, so a typo never silently falls back to a default.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};
use sluice_engine::REDRIVABLE_PERIOD;
use sluice_store::SqliteOptions;

const DAY_SECS: u64 = 24 * 3600;

/// The prefix of configuration environment variables; `__` separates nesting levels.
pub const ENV_PREFIX: &str = "SLUICE__";
/// The environment variable Step Functions Local reads its mock configuration path from.
pub const SFN_MOCK_CONFIG: &str = "SFN_MOCK_CONFIG";
/// The environment variable naming the Python that runs `python3.x` functions
/// (`functions.python`).
pub const SLUICE_PYTHON: &str = "SLUICE_PYTHON";

/// Everything `sluice serve` can be told. `sluice serve --print-config` prints the effective
/// value of every field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct ServeConfig {
    /// The address the API listens on, `host:port`; port 0 picks a free port (the bound address
    /// is logged as `listening on ...`). Default `127.0.0.1:4566`, the port AWS emulators use.
    pub listen: String,
    /// Where durable state lives: the SQLite database `<data-dir>/sluice.db` (created if
    /// missing). Default `./.sluice`.
    pub data_dir: PathBuf,
    /// The region in the ARNs the server makes. Default `us-east-1`.
    pub region: String,
    /// The 12-digit account id in the ARNs the server makes. Default `000000000000`.
    pub account: String,
    /// How many times faster than the wall clock the engine's clock runs: Wait states, retry
    /// backoff and timeouts take `1/time-scale` of their nominal wall time. Default 1.0.
    pub time_scale: f64,
    /// A Step Functions Local mock configuration (JSON) that answers Task states; executions
    /// select a test case with `stateMachineArn#TestCase`. Also read from `SFN_MOCK_CONFIG`.
    /// Default: none (Task states fail with `States.Runtime`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mock_config: Option<PathBuf>,
    /// How many ended EXPRESS executions are kept in memory for DescribeExecution and
    /// GetExecutionHistory (AWS keeps none). Default 10000.
    pub express_retention: usize,
    /// How many days a closed STANDARD execution (SUCCEEDED, FAILED, TIMED_OUT, ABORTED) is
    /// kept after it stopped, on the engine's clock (`time-scale`, `/sluice/clock`); then it is
    /// deleted with its history, as AWS answers ExecutionDoesNotExist for it. At least 14 (AWS
    /// redrives an execution up to 14 days after it stopped); 0 keeps every execution forever.
    /// Default 90, as AWS.
    pub execution_retention_days: u32,
    /// The largest payload (execution input, state output) in bytes, as AWS's 256 KiB quota;
    /// 0 disables the check. Default 262144.
    pub max_payload_bytes: usize,
    /// Tuning of the embedded SQLite store (group commit, readers, checkpoints).
    pub store: SqliteOptions,
    /// Lambda functions: the Python that runs them, pool sizes, idle and init timeouts.
    pub functions: sluice_functions::Options,
    /// Kinesis data streams: whether AWS's per-shard throughput is enforced
    /// (`streams.throughput-limits`, default false).
    pub streams: sluice_streams::Options,
    /// S3 buckets: the largest object segment kept in the store rather than in a file of its
    /// own (`buckets.inline-max-bytes`, default 65536).
    pub buckets: sluice_buckets::Options,
    /// Payloads past the 256 KiB quota, beyond AWS (`large-payloads.*`): off by default.
    pub large_payloads: LargePayloads,
}

/// Executions whose inputs, outputs and task results may exceed AWS's 256 KiB quota; what
/// they persist past it is kept as objects of a bucket and read back whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct LargePayloads {
    /// Makes large payloads available: machines tagged `sluice:large-payloads` = `true` get
    /// them (or every machine, with `all-machines`). Default false: AWS's
    /// `States.DataLimitExceeded` for every machine.
    pub enabled: bool,
    /// Every machine, tagged or not.
    pub all_machines: bool,
    /// The bucket that keeps them (created when first needed).
    pub bucket: String,
    /// The largest payload an opted-in execution may carry. Default 64 MiB.
    pub max_bytes: usize,
}

impl Default for LargePayloads {
    fn default() -> Self {
        Self {
            enabled: false,
            all_machines: false,
            bucket: "sluice-large-payloads".into(),
            max_bytes: 64 * 1024 * 1024,
        }
    }
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:4566".into(),
            data_dir: PathBuf::from("./.sluice"),
            region: "us-east-1".into(),
            account: "000000000000".into(),
            time_scale: 1.0,
            mock_config: None,
            express_retention: 10_000,
            execution_retention_days: 90,
            max_payload_bytes: 262_144,
            store: SqliteOptions::default(),
            functions: sluice_functions::Options::default(),
            streams: sluice_streams::Options::default(),
            buckets: sluice_buckets::Options::default(),
            large_payloads: LargePayloads::default(),
        }
    }
}

/// The command-line layer: what the flags set (`None` leaves the value of earlier layers).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Flags {
    pub listen: Option<String>,
    /// Replaces the port of `listen`.
    pub port: Option<u16>,
    pub data_dir: Option<PathBuf>,
    pub time_scale: Option<f64>,
    pub mock_config: Option<PathBuf>,
    pub python: Option<PathBuf>,
}

impl ServeConfig {
    /// The effective configuration: defaults, then `file` (TOML), then the variables of `env`
    /// that concern Sluice, then `flags`.
    pub fn load<I>(file: Option<&Path>, env: I, flags: &Flags) -> anyhow::Result<Self>
    where
        I: IntoIterator<Item = (String, String)>,
    {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read config file {}", path.display()))?;
                toml::from_str::<toml::Table>(&text)
                    .with_context(|| format!("invalid config file {}", path.display()))?
            }
            None => toml::Table::new(),
        };
        if let Some(path) = file {
            // Checked on its own so that an error names the file rather than the environment.
            Self::from_table(table.clone())
                .with_context(|| format!("invalid config file {}", path.display()))?;
        }
        apply_env(&mut table, env)?;
        let mut config = Self::from_table(table).context("invalid configuration")?;
        config.apply_flags(flags);
        config.check()?;
        Ok(config)
    }

    fn from_table(table: toml::Table) -> anyhow::Result<Self> {
        Ok(Self::deserialize(toml::Value::Table(table))?)
    }

    fn apply_flags(&mut self, flags: &Flags) {
        if let Some(listen) = &flags.listen {
            self.listen.clone_from(listen);
        }
        if let Some(port) = flags.port {
            self.listen = with_port(&self.listen, port);
        }
        if let Some(dir) = &flags.data_dir {
            self.data_dir.clone_from(dir);
        }
        if let Some(scale) = flags.time_scale {
            self.time_scale = scale;
        }
        if let Some(path) = &flags.mock_config {
            self.mock_config = Some(path.clone());
        }
        if let Some(python) = &flags.python {
            self.functions.python.clone_from(python);
        }
    }

    /// Rules serde cannot express.
    fn check(&self) -> anyhow::Result<()> {
        if !(self.time_scale.is_finite() && self.time_scale > 0.0) {
            bail!(
                "time-scale must be a positive number, not {}",
                self.time_scale
            );
        }
        if self.account.len() != 12 || !self.account.bytes().all(|b| b.is_ascii_digit()) {
            bail!("account must be 12 digits, not '{}'", self.account);
        }
        if self.region.is_empty()
            || !self
                .region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            bail!(
                "region must be lower-case letters, digits and '-', not '{}'",
                self.region
            );
        }
        if self.listen.is_empty() {
            bail!("listen must be an address, host:port");
        }
        if self.execution_retention_days != 0
            && u64::from(self.execution_retention_days) < REDRIVABLE_PERIOD.as_secs() / DAY_SECS
        {
            bail!(
                "execution-retention-days must be 0 (keep forever) or at least {} (executions \
                 can be redriven for that long after they stop), not {}",
                REDRIVABLE_PERIOD.as_secs() / DAY_SECS,
                self.execution_retention_days
            );
        }
        if self.store.readers == 0 || self.store.max_group_commits == 0 {
            bail!("store.readers and store.max-group-commits must be at least 1");
        }
        self.functions.check().map_err(anyhow::Error::msg)?;
        Ok(())
    }

    /// The configuration as TOML, every field with its effective value (`--print-config`).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot print: {e}\n"))
    }

    /// `execution-retention-days` as the engine takes it (`None`: forever).
    pub fn execution_retention(&self) -> Option<Duration> {
        (self.execution_retention_days > 0)
            .then(|| Duration::from_secs(u64::from(self.execution_retention_days) * DAY_SECS))
    }

    /// `max-payload-bytes` as the engine takes it (`None`: unlimited).
    pub fn payload_limit(&self) -> Option<usize> {
        (self.max_payload_bytes > 0).then_some(self.max_payload_bytes)
    }
}

/// `listen` with its port replaced (`[::1]:4566` + 0 → `[::1]:0`).
fn with_port(listen: &str, port: u16) -> String {
    let host = match listen.rsplit_once(':') {
        // A bare IPv6 address without brackets has colons but no port.
        Some((host, tail))
            if !tail.contains(']') && (!host.contains(':') || host.ends_with(']')) =>
        {
            host
        }
        _ => listen,
    };
    format!("{host}:{port}")
}

/// Overlays the environment's `SFN_MOCK_CONFIG` and `SLUICE__*` variables onto `table`. A
/// variable's text is typed after the default value of its key (integer, float, boolean,
/// string), so `SLUICE__DATA_DIR=123` stays a path and `SLUICE__TIME_SCALE=x` is an error.
fn apply_env<I>(table: &mut toml::Table, env: I) -> anyhow::Result<()>
where
    I: IntoIterator<Item = (String, String)>,
{
    let defaults = toml::Table::try_from(ServeConfig::default())?;
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k == SFN_MOCK_CONFIG || k == SLUICE_PYTHON || k.starts_with(ENV_PREFIX))
        .collect();
    // SFN_MOCK_CONFIG and SLUICE_PYTHON first, so that SLUICE__* variables win; then a stable
    // order.
    vars.sort_by_key(|(k, _)| (k != SFN_MOCK_CONFIG && k != SLUICE_PYTHON, k.clone()));
    for (name, raw) in vars {
        let path: Vec<String> = if name == SFN_MOCK_CONFIG {
            vec!["mock-config".into()]
        } else if name == SLUICE_PYTHON {
            vec!["functions".into(), "python".into()]
        } else {
            name[ENV_PREFIX.len()..]
                .split("__")
                .map(|part| part.to_ascii_lowercase().replace('_', "-"))
                .collect()
        };
        if path.iter().any(String::is_empty) {
            bail!("{name}: malformed configuration variable name");
        }
        let value = typed(&defaults, &path, &raw)
            .with_context(|| format!("{name}={raw}: not a valid value"))?;
        insert(table, &path, value).with_context(|| format!("{name}: cannot apply"))?;
    }
    Ok(())
}

/// `raw` typed like the default value at `path` (a string when there is none).
fn typed(defaults: &toml::Table, path: &[String], raw: &str) -> anyhow::Result<toml::Value> {
    let mut current: Option<&toml::Value> = None;
    let mut table = Some(defaults);
    for key in path {
        current = table.and_then(|t| t.get(key));
        table = current.and_then(toml::Value::as_table);
    }
    Ok(match current {
        Some(toml::Value::Integer(_)) => {
            toml::Value::Integer(raw.trim().parse().context("expected an integer")?)
        }
        Some(toml::Value::Float(_)) => {
            toml::Value::Float(raw.trim().parse().context("expected a number")?)
        }
        Some(toml::Value::Boolean(_)) => {
            toml::Value::Boolean(raw.trim().parse().context("expected true or false")?)
        }
        Some(toml::Value::Table(_)) => bail!("expected a key inside this table"),
        _ => toml::Value::String(raw.to_string()),
    })
}

fn insert(table: &mut toml::Table, path: &[String], value: toml::Value) -> anyhow::Result<()> {
    let (last, parents) = path.split_last().context("empty key")?;
    let mut current = table;
    for key in parents {
        let entry = current
            .entry(key.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = match entry {
            toml::Value::Table(t) => t,
            _ => bail!("{key} is not a table"),
        };
    }
    current.insert(last.clone(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Vec<(String, String)> {
        vars.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn file(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sluice-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let config = ServeConfig::load(None, env(&[]), &Flags::default()).unwrap();
        assert_eq!(config, ServeConfig::default());
        assert_eq!(config.listen, "127.0.0.1:4566");
        assert_eq!(config.data_dir, PathBuf::from("./.sluice"));
        assert_eq!(config.region, "us-east-1");
        assert_eq!(config.account, "000000000000");
        assert_eq!(config.time_scale, 1.0);
        assert_eq!(config.mock_config, None);
        assert_eq!(config.express_retention, 10_000);
        assert_eq!(config.execution_retention_days, 90);
        assert_eq!(
            config.execution_retention(),
            Some(Duration::from_secs(90 * 24 * 3600))
        );
        assert_eq!(config.max_payload_bytes, 262_144);
        assert_eq!(config.payload_limit(), Some(262_144));
        assert_eq!(config.store, SqliteOptions::default());
    }

    #[test]
    fn the_file_overrides_defaults() {
        let path = file(
            "file.toml",
            "listen = \"0.0.0.0:9000\"\ntime-scale = 10\nregion = \"eu-west-1\"\n\
             max-payload-bytes = 0\n[store]\nreaders = 2\n",
        );
        let config = ServeConfig::load(Some(&path), env(&[]), &Flags::default()).unwrap();
        assert_eq!(config.listen, "0.0.0.0:9000");
        assert_eq!(config.time_scale, 10.0);
        assert_eq!(config.region, "eu-west-1");
        assert_eq!(config.payload_limit(), None);
        assert_eq!(config.store.readers, 2);
        assert_eq!(
            config.store.max_group_commits,
            SqliteOptions::default().max_group_commits
        );
        assert_eq!(config.account, "000000000000");
    }

    #[test]
    fn the_file_rejects_unknown_keys_and_bad_types() {
        let path = file("typo.toml", "lisen = \"0.0.0.0:9000\"\n");
        let error = ServeConfig::load(Some(&path), env(&[]), &Flags::default()).unwrap_err();
        let text = format!("{error:#}");
        assert!(
            text.contains("typo.toml") && text.contains("lisen"),
            "{text}"
        );
        let path = file("types.toml", "[store]\nreaders = \"many\"\n");
        assert!(ServeConfig::load(Some(&path), env(&[]), &Flags::default()).is_err());
        let missing = PathBuf::from("/nonexistent/sluice.toml");
        assert!(ServeConfig::load(Some(&missing), env(&[]), &Flags::default()).is_err());
    }

    #[test]
    fn the_environment_overrides_the_file() {
        let path = file(
            "env.toml",
            "listen = \"0.0.0.0:9000\"\ndata-dir = \"/from/file\"\n",
        );
        let config = ServeConfig::load(
            Some(&path),
            env(&[
                ("SLUICE__LISTEN", "127.0.0.1:7000"),
                ("SLUICE__DATA_DIR", "123"),
                ("SLUICE__TIME_SCALE", "2.5"),
                ("SLUICE__EXPRESS_RETENTION", "5"),
                ("SLUICE__STORE__READERS", "3"),
                ("PATH", "/usr/bin"),
                ("SLUICEX", "ignored"),
            ]),
            &Flags::default(),
        )
        .unwrap();
        assert_eq!(config.listen, "127.0.0.1:7000");
        assert_eq!(config.data_dir, PathBuf::from("123"));
        assert_eq!(config.time_scale, 2.5);
        assert_eq!(config.express_retention, 5);
        assert_eq!(config.store.readers, 3);
    }

    #[test]
    fn the_environment_rejects_unknown_keys_and_bad_values() {
        for vars in [
            [("SLUICE__LISTN", "x")],
            [("SLUICE__TIME_SCALE", "fast")],
            [("SLUICE__STORE__NOPE", "1")],
            [("SLUICE__STORE", "1")],
            [("SLUICE__TIME_SCALE", "0")],
        ] {
            assert!(
                ServeConfig::load(None, env(&vars), &Flags::default()).is_err(),
                "{vars:?}"
            );
        }
    }

    #[test]
    fn the_execution_retention_is_zero_or_at_least_the_redrive_window() {
        let load = |days: &str| {
            ServeConfig::load(
                None,
                env(&[("SLUICE__EXECUTION_RETENTION_DAYS", days)]),
                &Flags::default(),
            )
        };
        assert_eq!(load("0").unwrap().execution_retention(), None);
        assert_eq!(
            load("14").unwrap().execution_retention(),
            Some(Duration::from_secs(14 * 24 * 3600))
        );
        assert_eq!(load("365").unwrap().execution_retention_days, 365);
        let error = format!("{:#}", load("13").unwrap_err());
        assert!(
            error.contains("execution-retention-days must be 0 (keep forever) or at least 14"),
            "{error}"
        );
        assert!(load("-1").is_err());
        assert!(load("90d").is_err());
        let path = file("retention.toml", "execution-retention-days = 30\n");
        let config = ServeConfig::load(Some(&path), env(&[]), &Flags::default()).unwrap();
        assert_eq!(config.execution_retention_days, 30);
    }

    #[test]
    fn sfn_mock_config_is_read_and_sluice_variables_win() {
        let config = ServeConfig::load(
            None,
            env(&[("SFN_MOCK_CONFIG", "/mocks/a.json")]),
            &Flags::default(),
        )
        .unwrap();
        assert_eq!(config.mock_config, Some(PathBuf::from("/mocks/a.json")));
        let config = ServeConfig::load(
            None,
            env(&[
                ("SLUICE__MOCK_CONFIG", "/mocks/b.json"),
                ("SFN_MOCK_CONFIG", "/mocks/a.json"),
            ]),
            &Flags::default(),
        )
        .unwrap();
        assert_eq!(config.mock_config, Some(PathBuf::from("/mocks/b.json")));
    }

    #[test]
    fn flags_override_everything() {
        let path = file(
            "flags.toml",
            "listen = \"0.0.0.0:9000\"\ntime-scale = 3.0\n",
        );
        let flags = Flags {
            listen: None,
            port: Some(0),
            data_dir: Some(PathBuf::from("/tmp/d")),
            time_scale: Some(100.0),
            mock_config: Some(PathBuf::from("m.json")),
            python: Some(PathBuf::from("/venv/bin/python")),
        };
        let config = ServeConfig::load(
            Some(&path),
            env(&[
                ("SLUICE__LISTEN", "127.0.0.1:7000"),
                ("SFN_MOCK_CONFIG", "env.json"),
            ]),
            &flags,
        )
        .unwrap();
        assert_eq!(config.listen, "127.0.0.1:0");
        assert_eq!(config.data_dir, PathBuf::from("/tmp/d"));
        assert_eq!(config.time_scale, 100.0);
        assert_eq!(config.mock_config, Some(PathBuf::from("m.json")));
        assert_eq!(config.functions.python, PathBuf::from("/venv/bin/python"));

        let flags = Flags {
            listen: Some("[::1]:80".into()),
            port: Some(81),
            ..Flags::default()
        };
        let config = ServeConfig::load(None, env(&[]), &flags).unwrap();
        assert_eq!(config.listen, "[::1]:81");
        let flags = Flags {
            time_scale: Some(-1.0),
            ..Flags::default()
        };
        assert!(ServeConfig::load(None, env(&[]), &flags).is_err());
    }

    #[test]
    fn functions_settings_come_from_every_layer() {
        let config = ServeConfig::load(None, env(&[]), &Flags::default()).unwrap();
        assert_eq!(config.functions, sluice_functions::Options::default());
        assert_eq!(config.functions.python, PathBuf::from("python3"));
        let path = file(
            "functions.toml",
            "[functions]\ndefault-concurrency = 4\nidle-timeout-seconds = 1.5\n",
        );
        let config = ServeConfig::load(
            Some(&path),
            env(&[
                ("SLUICE_PYTHON", "/a/python"),
                ("SLUICE__FUNCTIONS__MAX_BACKLOG", "0"),
            ]),
            &Flags::default(),
        )
        .unwrap();
        assert_eq!(config.functions.default_concurrency, 4);
        assert_eq!(config.functions.idle_timeout_seconds, 1.5);
        assert_eq!(config.functions.max_backlog, 0);
        assert_eq!(config.functions.python, PathBuf::from("/a/python"));
        let config = ServeConfig::load(
            None,
            env(&[
                ("SLUICE_PYTHON", "/a/python"),
                ("SLUICE__FUNCTIONS__PYTHON", "/b/python"),
            ]),
            &Flags::default(),
        )
        .unwrap();
        assert_eq!(config.functions.python, PathBuf::from("/b/python"));
        let bad = env(&[("SLUICE__FUNCTIONS__IDLE_TIMEOUT_SECONDS", "0")]);
        assert!(ServeConfig::load(None, bad, &Flags::default()).is_err());
    }

    #[test]
    fn with_port_replaces_or_appends_the_port() {
        assert_eq!(with_port("127.0.0.1:4566", 0), "127.0.0.1:0");
        assert_eq!(with_port("localhost", 5), "localhost:5");
        assert_eq!(with_port("[::1]:4566", 7), "[::1]:7");
        assert_eq!(with_port("[::1]", 7), "[::1]:7");
    }

    #[test]
    fn printed_config_reads_back_unchanged() {
        let mut config = ServeConfig {
            mock_config: Some(PathBuf::from("/m.json")),
            time_scale: 60.0,
            ..ServeConfig::default()
        };
        config.store.readers = 7;
        let text = config.to_toml();
        assert!(text.contains("listen = \"127.0.0.1:4566\""), "{text}");
        assert!(text.contains("[store]"), "{text}");
        let path = file("printed.toml", &text);
        let back = ServeConfig::load(Some(&path), env(&[]), &Flags::default()).unwrap();
        assert_eq!(back, config);
    }
}
