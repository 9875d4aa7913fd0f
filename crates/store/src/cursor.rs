//! Pagination tokens: opaque to callers, shared by every backend so that a token means the
//! same position whatever stores it. A token remembers which listing it belongs to (a hash of
//! the execution ARN or of the filter) so that one handed out for another listing is
//! [`Error::InvalidToken`] rather than a silently wrong page.

use serde::{Deserialize, Serialize};
use sluice_types::page_token;

use crate::{Error, ExecutionFilter, ExecutionStatus};

/// Where the next page of a listing starts (exclusive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Cursor {
    /// State machines, ordered by `(name, arn)`: the last one returned.
    Machines { name: String, arn: String },
    /// Executions, newest first by `(start_ms, arn)`: the last one returned.
    Executions {
        scope: u64,
        start_ms: i64,
        arn: String,
    },
    /// History events of one execution: the last id returned, in the listing's direction.
    Events { scope: u64, reverse: bool, id: u64 },
}

/// The kind of listing store tokens belong to ([`sluice_types::page_token`]).
const TOKEN_KIND: &str = "store";

impl Cursor {
    pub(crate) fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        page_token::encode(TOKEN_KIND, &json)
    }

    pub(crate) fn decode(token: &str) -> Result<Self, Error> {
        let json = page_token::decode(TOKEN_KIND, token).ok_or(Error::InvalidToken)?;
        serde_json::from_slice(&json).map_err(|_| Error::InvalidToken)
    }
}

/// The position after which a state-machine listing resumes.
pub(crate) fn machines_after(token: Option<&str>) -> Result<Option<(String, String)>, Error> {
    match token.map(Cursor::decode).transpose()? {
        None => Ok(None),
        Some(Cursor::Machines { name, arn }) => Ok(Some((name, arn))),
        Some(_) => Err(Error::InvalidToken),
    }
}

/// The position after which an execution listing resumes.
pub(crate) fn executions_after(
    filter: &ExecutionFilter,
    token: Option<&str>,
) -> Result<Option<(i64, String)>, Error> {
    match token.map(Cursor::decode).transpose()? {
        None => Ok(None),
        Some(Cursor::Executions {
            scope,
            start_ms,
            arn,
        }) if scope == filter_scope(filter) => Ok(Some((start_ms, arn))),
        Some(_) => Err(Error::InvalidToken),
    }
}

/// The event id after which a history listing resumes.
pub(crate) fn events_after(
    execution_arn: &str,
    reverse: bool,
    token: Option<&str>,
) -> Result<Option<u64>, Error> {
    match token.map(Cursor::decode).transpose()? {
        None => Ok(None),
        Some(Cursor::Events {
            scope,
            reverse: r,
            id,
        }) if scope == fnv1a(&[execution_arn]) && r == reverse => Ok(Some(id)),
        Some(_) => Err(Error::InvalidToken),
    }
}

pub(crate) fn machines_token(last: &crate::StateMachineRecord) -> String {
    Cursor::Machines {
        name: last.name.clone(),
        arn: last.arn.clone(),
    }
    .encode()
}

pub(crate) fn executions_token(filter: &ExecutionFilter, last: &crate::ExecutionRecord) -> String {
    Cursor::Executions {
        scope: filter_scope(filter),
        start_ms: last.start_ms,
        arn: last.arn.clone(),
    }
    .encode()
}

pub(crate) fn events_token(execution_arn: &str, reverse: bool, last_id: u64) -> String {
    Cursor::Events {
        scope: fnv1a(&[execution_arn]),
        reverse,
        id: last_id,
    }
    .encode()
}

fn filter_scope(filter: &ExecutionFilter) -> u64 {
    let machine = filter.state_machine_arn.as_deref();
    let status = filter.status.map(ExecutionStatus::as_str);
    let mut parts = vec![
        if machine.is_some() { "m" } else { "-" },
        machine.unwrap_or_default(),
        if status.is_some() { "s" } else { "-" },
        status.unwrap_or_default(),
    ];
    // Appended only when set, so tokens of filters without it keep their meaning.
    match filter.redriven {
        None => {}
        Some(true) => parts.push("r"),
        Some(false) => parts.push("n"),
    }
    fnv1a(&parts)
}

/// FNV-1a over the parts, each followed by a 0 byte: stable across builds and platforms.
fn fnv1a(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &byte in part.as_bytes().iter().chain(&[0]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let cursor = Cursor::Executions {
            scope: 7,
            start_ms: -3,
            arn: "arn:aws:states:us-east-1:123:execution:m:\"x\"|y".into(),
        };
        let valid = cursor.encode();
        assert_eq!(Cursor::decode(&valid), Ok(cursor));
        // A well-formed token of another kind of listing (an API page token).
        let foreign = sluice_types::page_token::encode("sfn-page", b"{}");
        for bad in [
            "",
            "s1",
            "s1.zz.0",
            "xyz",
            &valid[..valid.len() - 1],
            &foreign,
        ] {
            assert_eq!(Cursor::decode(bad), Err(Error::InvalidToken), "{bad}");
        }
    }

    #[test]
    fn a_token_belongs_to_its_listing() {
        let token = events_token("a", false, 3);
        assert_eq!(events_after("a", false, Some(&token)), Ok(Some(3)));
        assert_eq!(
            events_after("b", false, Some(&token)),
            Err(Error::InvalidToken)
        );
        assert_eq!(
            events_after("a", true, Some(&token)),
            Err(Error::InvalidToken)
        );
        assert_eq!(machines_after(Some(&token)), Err(Error::InvalidToken));
        let all = ExecutionFilter::default();
        let running = ExecutionFilter {
            status: Some(ExecutionStatus::Running),
            ..ExecutionFilter::default()
        };
        assert_ne!(filter_scope(&all), filter_scope(&running));
        let redriven = ExecutionFilter {
            redriven: Some(true),
            ..ExecutionFilter::default()
        };
        let not_redriven = ExecutionFilter {
            redriven: Some(false),
            ..ExecutionFilter::default()
        };
        assert_ne!(filter_scope(&all), filter_scope(&redriven));
        assert_ne!(filter_scope(&redriven), filter_scope(&not_redriven));
    }
}
