//! Task tokens: what a `.waitForTaskToken` Task hands out in `$$.Task.Token`, and what
//! SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat bring back.
//!
//! A token names the task it was made for — the execution, the thread, the id of the task's
//! `TaskScheduled` event (one attempt of the task) — plus 128 bits drawn from the execution's
//! randomness, so that it can be routed to its execution without any registry and told apart
//! from any other token. It is opaque to callers (URL-safe base64, as AWS's tokens are opaque
//! base64 text) and stays valid across restarts: the execution's snapshot keeps it. A text that
//! does not decode was never a token (`InvalidToken`); one that decodes but names no task the
//! execution still waits for belongs to a task that has ended.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::Random;

/// The format version, the first byte of every token.
const VERSION: u8 = 1;
/// Version, nonce, thread, scheduled event id.
const HEADER: usize = 1 + 16 + 8 + 8;

/// What a task token says about its task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskToken {
    /// The execution's ARN.
    pub execution: String,
    /// The thread running the task (`driver::ThreadId`).
    pub thread: usize,
    /// The id of the task's `TaskScheduled` event.
    pub scheduled: u64,
}

impl TaskToken {
    /// The token text for this task, with 128 bits drawn from `random`.
    pub fn encode(&self, random: &mut dyn Random) -> String {
        let mut bytes = Vec::with_capacity(HEADER + self.execution.len());
        bytes.push(VERSION);
        bytes.extend_from_slice(&random.next_u64().to_be_bytes());
        bytes.extend_from_slice(&random.next_u64().to_be_bytes());
        bytes.extend_from_slice(&(self.thread as u64).to_be_bytes());
        bytes.extend_from_slice(&self.scheduled.to_be_bytes());
        bytes.extend_from_slice(self.execution.as_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// What `token` says, or `None` if it is not a token this format produces.
    pub fn decode(token: &str) -> Option<TaskToken> {
        let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
        if bytes.len() < HEADER || bytes[0] != VERSION {
            return None;
        }
        let word = |at: usize| -> Option<u64> {
            Some(u64::from_be_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
        };
        let thread = usize::try_from(word(17)?).ok()?;
        let scheduled = word(25)?;
        let execution = std::str::from_utf8(&bytes[HEADER..]).ok()?.to_owned();
        Some(TaskToken {
            execution,
            thread,
            scheduled,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SplitMix64;

    const ARN: &str = "arn:aws:states:us-east-1:000000000000:execution:m:run-1";

    #[test]
    fn a_token_round_trips_and_names_its_task() {
        let task = TaskToken {
            execution: ARN.into(),
            thread: 7,
            scheduled: 42,
        };
        let token = task.encode(&mut SplitMix64(1));
        assert_eq!(TaskToken::decode(&token), Some(task.clone()));
        assert!(
            token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "URL-safe: {token}"
        );
        assert!(token.len() < 1024, "within AWS's token length");
        assert_ne!(
            token,
            task.encode(&mut SplitMix64(2)),
            "two draws, two tokens"
        );
    }

    #[test]
    fn anything_else_is_not_a_token() {
        for text in [
            "",
            "NoSuchTaskToken",
            "not base64 at all!",
            "AAAA",
            &URL_SAFE_NO_PAD.encode([VERSION; HEADER - 1]),
            &URL_SAFE_NO_PAD.encode([2u8; HEADER + 4]),
        ] {
            assert_eq!(TaskToken::decode(text), None, "{text:?}");
        }
    }
}
