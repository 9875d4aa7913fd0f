//! [`Options`]: how the functions service runs workers (`[functions]` in `sluice serve`'s
//! configuration).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::MemoryLimit;

/// The functions service's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct Options {
    /// The Python interpreter that runs `python3.x` functions with `awslambdaric <handler>`
    /// (as `-m awslambdaric` does); it must have `awslambdaric` installed. Also read from
    /// `SLUICE_PYTHON`. Default `python3`.
    pub python: PathBuf,
    /// The Node.js that runs `nodejs*` functions (with Sluice's own runtime interface client).
    /// Default `node`.
    pub node: PathBuf,
    /// The most workers of one function at once when the function reserves no concurrency
    /// (PutFunctionConcurrency). Default 10.
    pub default_concurrency: u32,
    /// How many invocations may wait for a worker once a function runs at its concurrency
    /// limit; beyond, invocations fail with `TooManyRequestsException`. 0 is AWS's behavior
    /// (no waiting). Default 100.
    pub max_backlog: usize,
    /// A worker that has had no invocation for this many seconds is stopped (pools scale down
    /// to zero). Default 300.
    pub idle_timeout_seconds: f64,
    /// A worker that has not asked for its first invocation this many seconds after it was
    /// started is stopped, failing the invocation that waited for it. Default 10 (AWS's init
    /// phase limit).
    pub init_timeout_seconds: f64,
    /// How many times an Event invocation that fails with a function error is retried when
    /// the function's event invoke config sets no `MaximumRetryAttempts` (0 to 2). Default 2,
    /// AWS's.
    pub event_retries: u32,
    /// The n-th retry of a failed Event invocation runs n times this many seconds after the
    /// failure (AWS: about one minute, then two), on the server's clock (`--time-scale`).
    /// Default 60.
    pub event_retry_delay_seconds: f64,
    /// An Event invocation older than this many seconds (on the server's clock) is not run
    /// again when the function's event invoke config sets no `MaximumEventAgeInSeconds`.
    /// Default 21600 (6 hours), AWS's.
    pub event_max_age_seconds: f64,
    /// Log lines kept per function for `LogType: Tail` and `sluice logs`, in bytes (the oldest
    /// are dropped first), in memory and in the function's `logs/` folder (rotated at this
    /// size: at most about twice it on disk). Default 1048576.
    pub log_buffer_bytes: usize,
    /// How a function's `MemorySize` is enforced (a worker over it is killed and its invocation
    /// fails with `Runtime.OutOfMemory`): `auto` (a cgroup v2 child cgroup per worker where
    /// Sluice may create one, else `watch`), `watch` (Sluice reads each worker's peak resident
    /// memory every 100 ms and after invocations long enough to have crossed the limit), or
    /// `off`. The log says at startup which one runs. Default `auto`.
    pub memory_limit: MemoryLimit,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            python: PathBuf::from("python3"),
            node: PathBuf::from("node"),
            default_concurrency: 10,
            max_backlog: 100,
            idle_timeout_seconds: 300.0,
            init_timeout_seconds: 10.0,
            event_retries: 2,
            event_retry_delay_seconds: 60.0,
            event_max_age_seconds: 21_600.0,
            log_buffer_bytes: 1 << 20,
            memory_limit: MemoryLimit::Auto,
        }
    }
}

impl Options {
    /// Rules serde cannot express, as a message naming the key.
    pub fn check(&self) -> Result<(), String> {
        let positive = |name: &str, value: f64| {
            if value.is_finite() && value > 0.0 {
                Ok(())
            } else {
                Err(format!(
                    "functions.{name} must be a positive number, not {value}"
                ))
            }
        };
        positive("idle-timeout-seconds", self.idle_timeout_seconds)?;
        positive("init-timeout-seconds", self.init_timeout_seconds)?;
        positive("event-retry-delay-seconds", self.event_retry_delay_seconds)?;
        positive("event-max-age-seconds", self.event_max_age_seconds)?;
        if self.event_retries > 2 {
            return Err(format!(
                "functions.event-retries must be 0, 1 or 2 (AWS's MaximumRetryAttempts), not {}",
                self.event_retries
            ));
        }
        if self.python.as_os_str().is_empty() {
            return Err("functions.python must name an interpreter".into());
        }
        if self.node.as_os_str().is_empty() {
            return Err("functions.node must name an interpreter".into());
        }
        Ok(())
    }

    pub(crate) fn idle_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.idle_timeout_seconds.clamp(0.001, 1e9))
    }

    /// How long after a function error the `retry`-th retry (1-based) of an Event runs.
    pub(crate) fn event_retry_delay(&self, retry: u32) -> Duration {
        Duration::from_secs_f64(
            (self.event_retry_delay_seconds * f64::from(retry.max(1))).clamp(0.001, 1e9),
        )
    }

    pub(crate) fn event_max_age(&self) -> Duration {
        Duration::from_secs_f64(self.event_max_age_seconds.clamp(0.001, 1e9))
    }

    pub(crate) fn init_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.init_timeout_seconds.clamp(0.001, 1e9))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_check_and_bad_values_do_not() {
        assert!(Options::default().check().is_ok());
        let bad = Options {
            idle_timeout_seconds: 0.0,
            ..Options::default()
        };
        assert!(bad.check().unwrap_err().contains("idle-timeout-seconds"));
        let text = toml_roundtrip(&Options::default());
        assert_eq!(text, Options::default());
    }

    fn toml_roundtrip(options: &Options) -> Options {
        let json = serde_json::to_value(options).unwrap();
        serde_json::from_value(json).unwrap()
    }
}
