//! [`LogBuffer`]: the recent log lines of one function, bounded in bytes, each tagged with the
//! request id of the invocation that printed it (as CloudWatch Logs keeps them per stream).

use std::collections::VecDeque;
use std::sync::Arc;

/// One line: the request id it belongs to (`None`: printed while no invocation ran, e.g. at
/// init) and the text without its newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub request_id: Option<Arc<str>>,
    pub text: String,
}

/// The newest lines of a function, at most `capacity` bytes of text.
#[derive(Debug)]
pub struct LogBuffer {
    lines: VecDeque<LogLine>,
    bytes: usize,
    capacity: usize,
}

impl LogBuffer {
    pub fn new(capacity: usize) -> Self {
        Self {
            lines: VecDeque::new(),
            bytes: 0,
            capacity,
        }
    }

    /// Appends a line, dropping the oldest ones beyond the capacity.
    pub fn push(&mut self, request_id: Option<Arc<str>>, text: String) {
        self.bytes += text.len() + 1;
        self.lines.push_back(LogLine { request_id, text });
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
}
