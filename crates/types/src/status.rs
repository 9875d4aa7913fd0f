//! [`ExecutionStatus`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A workflow execution's status, spelled on the wire and in the store as the Step Functions
/// API spells it (`RUNNING`, `TIMED_OUT`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
    /// Redriven, not yet running again (AWS shows it between the redrive and the first step).
    PendingRedrive,
}

impl ExecutionStatus {
    /// Every status, in the API model's order.
    pub const ALL: [Self; 6] = [
        Self::Running,
        Self::Succeeded,
        Self::Failed,
        Self::TimedOut,
        Self::Aborted,
        Self::PendingRedrive,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Running => "RUNNING",
            Self::Succeeded => "SUCCEEDED",
            Self::Failed => "FAILED",
            Self::TimedOut => "TIMED_OUT",
            Self::Aborted => "ABORTED",
            Self::PendingRedrive => "PENDING_REDRIVE",
        }
    }

    /// Whether the execution has ended (it may still be redriven).
    pub const fn is_closed(self) -> bool {
        !matches!(self, Self::Running | Self::PendingRedrive)
    }
}

impl fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status no execution has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownStatus(pub String);

impl fmt::Display for UnknownStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown execution status '{}'", self.0)
    }
}

impl std::error::Error for UnknownStatus {}

impl FromStr for ExecutionStatus {
    type Err = UnknownStatus;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| UnknownStatus(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_back_as_written() {
        for status in ExecutionStatus::ALL {
            assert_eq!(status.as_str().parse::<ExecutionStatus>(), Ok(status));
            // serde and `as_str` agree.
            assert_eq!(
                serde_json::to_string(&status).unwrap(),
                format!("\"{status}\"")
            );
        }
        assert!("running".parse::<ExecutionStatus>().is_err());
        assert!(ExecutionStatus::TimedOut.is_closed());
        assert!(!ExecutionStatus::PendingRedrive.is_closed());
    }
}
