//! [`LogBuffer`]: the recent log lines of one function, bounded in bytes, each tagged with the
//! request id of the invocation that printed it (as CloudWatch Logs keeps them per stream).

use std::collections::VecDeque;
use std::sync::Arc;

/// One line: its sequence number (1, 2, ... per function, never reused: `sluice logs
/// --follow` asks for the lines after the last it saw), the request id it belongs to (`None`:
/// printed while no invocation ran, e.g. at init) and the text without its newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub seq: u64,
    pub request_id: Option<Arc<str>>,
    pub text: String,
}

/// The newest lines of a function, at most `capacity` bytes of text.
#[derive(Debug)]
pub struct LogBuffer {
    lines: VecDeque<LogLine>,
    bytes: usize,
    capacity: usize,
    /// The sequence number of the last line pushed.
    last_seq: u64,
}

impl LogBuffer {
    pub fn new(capacity: usize) -> Self {
        Self {
            lines: VecDeque::new(),
            bytes: 0,
            capacity,
            last_seq: 0,
        }
    }

    /// Appends a line, dropping the oldest ones beyond the capacity.
    pub fn push(&mut self, request_id: Option<Arc<str>>, text: String) {
        self.bytes += text.len() + 1;
        self.last_seq += 1;
        self.lines.push_back(LogLine {
            seq: self.last_seq,
            request_id,
            text,
        });
        while self.bytes > self.capacity {
            match self.lines.pop_front() {
                Some(line) => self.bytes -= line.text.len() + 1,
                None => break,
            }
        }
    }

    /// Every kept line of the invocation `request_id`, newline-terminated.
    pub fn of_request(&self, request_id: &str) -> String {
        let mut out = String::new();
        for line in &self.lines {
            if line.request_id.as_deref() == Some(request_id) {
                out.push_str(&line.text);
                out.push('\n');
            }
        }
        out
    }

    /// The kept lines after sequence number `after`, oldest first, only those of `request_id`
    /// when given.
    pub fn since(&self, after: u64, request_id: Option<&str>) -> Vec<LogLine> {
        // Sequence numbers grow by one from the front: skip to the first after `after`.
        let first = self.lines.front().map_or(0, |l| l.seq);
        let skip = match after.checked_sub(first) {
            Some(n) => usize::try_from(n + 1).unwrap_or(usize::MAX),
            None => 0,
        };
        self.lines
            .iter()
            .skip(skip)
            .filter(|l| request_id.is_none_or(|id| l.request_id.as_deref() == Some(id)))
            .cloned()
            .collect()
    }

    /// The sequence number of the newest line (0 before any).
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// The last `n` lines kept (all requests), oldest first.
    pub fn tail(&self, n: usize) -> Vec<LogLine> {
        let skip = self.lines.len().saturating_sub(n);
        self.lines.iter().skip(skip).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_lines_within_capacity() {
        let mut logs = LogBuffer::new(20);
        let a: Arc<str> = Arc::from("a");
        logs.push(Some(a.clone()), "first line".into());
        logs.push(Some(a), "second".into());
        assert_eq!(logs.of_request("a"), "first line\nsecond\n");
        logs.push(None, "third!".into());
        assert_eq!(logs.of_request("a"), "second\n");
        assert_eq!(logs.tail(1)[0].text, "third!");
        assert_eq!(logs.of_request("b"), "");
    }

    #[test]
    fn lines_since_a_sequence_number() {
        let mut logs = LogBuffer::new(20);
        let a: Arc<str> = Arc::from("a");
        for text in ["one", "two", "three", "four", "five", "six"] {
            logs.push(Some(a.clone()), text.into());
        }
        logs.push(None, "init".into());
        // 20 bytes keep the last four lines: seq 4 to 7.
        let texts = |lines: Vec<LogLine>| lines.into_iter().map(|l| l.text).collect::<Vec<_>>();
        assert_eq!(texts(logs.since(0, None)), ["four", "five", "six", "init"]);
        assert_eq!(texts(logs.since(5, None)), ["six", "init"]);
        assert_eq!(texts(logs.since(5, Some("a"))), ["six"]);
        assert_eq!(logs.since(7, None), []);
        assert_eq!(logs.since(99, None), []);
        assert_eq!(logs.since(0, None)[0].seq, 4);
        assert_eq!(logs.last_seq(), 7);
    }
}
