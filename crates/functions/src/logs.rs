//! [`LogBuffer`]: the recent log lines of one function, bounded in bytes, each tagged with the
//! request id of the invocation that printed it (as CloudWatch Logs keeps them per stream).
//!
//! Lines are kept in memory (reads are served from there) and, when the buffer is
//! [opened](LogBuffer::open) on a folder, appended to a file as they come, so they outlive a
//! restart:
//!
//! ```text
//! <data-dir>/functions/<name>/logs/current.log    one JSON record a line: {"seq", "request-id", "text"}
//! <data-dir>/functions/<name>/logs/previous.log   the file before the last rotation
//! ```
//!
//! Each line is one `write` to a file opened for appending: a crash (even `kill -9`) loses at
//! most the line being written, and a torn last line is skipped and cut off when the file is
//! opened again. When `current.log` reaches the buffer's capacity it becomes `previous.log`
//! (replacing the one before), so a function's logs take at most about twice the capacity on
//! disk. Opening reads both files back, oldest first, keeping the newest lines within the
//! capacity and the sequence numbers they had. Write failures are logged once and the buffer
//! goes on in memory.

use std::collections::VecDeque;
use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

const CURRENT: &str = "current.log";
const PREVIOUS: &str = "previous.log";
/// The smallest size a log file grows to before it is rotated.
const MIN_ROTATE_BYTES: u64 = 64 << 10;

/// One line: its sequence number (1, 2, ... per function, never reused: `sluice logs
/// --follow` asks for the lines after the last it saw), the request id it belongs to (`None`:
/// printed while no invocation ran, e.g. at init) and the text without its newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub seq: u64,
    pub request_id: Option<Arc<str>>,
    pub text: String,
}

/// One line of a log file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Record<'a> {
    seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none", borrow)]
    request_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    text: std::borrow::Cow<'a, str>,
}

/// The file lines are appended to.
#[derive(Debug)]
struct LogFile {
    dir: PathBuf,
    file: std::fs::File,
    /// Bytes in `current.log`.
    written: u64,
    rotate_at: u64,
}

/// The newest lines of a function, at most `capacity` bytes of text.
#[derive(Debug)]
pub struct LogBuffer {
    lines: VecDeque<LogLine>,
    bytes: usize,
    capacity: usize,
    /// The sequence number of the last line pushed.
    last_seq: u64,
    /// Where lines are persisted, if anywhere.
    file: Option<LogFile>,
}

impl LogBuffer {
    /// A buffer in memory only.
    pub fn new(capacity: usize) -> Self {
        Self {
            lines: VecDeque::new(),
            bytes: 0,
            capacity,
            last_seq: 0,
            file: None,
        }
    }

    /// A buffer persisted in `dir` (created if missing), holding the lines persisted there
    /// before. If `dir` cannot be used the buffer lives in memory only (logged).
    pub fn open(dir: &Path, capacity: usize) -> Self {
        let mut buffer = Self::new(capacity);
        match buffer.load(dir) {
            Ok(file) => buffer.file = Some(file),
            Err(error) => tracing::warn!(
                dir = %dir.display(), %error,
                "cannot keep function logs on disk; keeping them in memory only"
            ),
        }
        buffer
    }

    /// Reads the lines persisted in `dir` and opens `current.log` for appending.
    fn load(&mut self, dir: &Path) -> std::io::Result<LogFile> {
        std::fs::create_dir_all(dir)?;
        for name in [PREVIOUS, CURRENT] {
            let file = match std::fs::File::open(dir.join(name)) {
                Ok(file) => file,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            for line in std::io::BufReader::new(file).split(b'\n') {
                let line = line?;
                // A torn line (a crash mid-append) parses as nothing.
                let Ok(record) = serde_json::from_slice::<Record<'_>>(&line) else {
                    continue;
                };
                if record.seq <= self.last_seq {
                    continue;
                }
                self.last_seq = record.seq - 1;
                self.push_in_memory(
                    record.request_id.map(|id| Arc::from(id.as_ref())),
                    record.text.into_owned(),
                );
            }
        }
        let path = dir.join(CURRENT);
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)?;
        let written = cut_torn_tail(&mut file)?;
        Ok(LogFile {
            dir: dir.to_owned(),
            file,
            written,
            rotate_at: (self.capacity as u64).max(MIN_ROTATE_BYTES),
        })
    }

    /// Stops persisting (the function is deleted; its folder goes).
    pub fn detach(&mut self) {
        self.file = None;
    }

    /// Appends a line, dropping the oldest ones beyond the capacity, and persists it.
    pub fn push(&mut self, request_id: Option<Arc<str>>, text: String) {
        if let Some(file) = &mut self.file {
            let record = Record {
                seq: self.last_seq + 1,
                request_id: request_id.as_deref().map(std::borrow::Cow::Borrowed),
                text: std::borrow::Cow::Borrowed(&text),
            };
            if let Err(error) = file.append(&record) {
                tracing::warn!(
                    dir = %file.dir.display(), %error,
                    "cannot write function logs; keeping them in memory only"
                );
                self.file = None;
            }
        }
        self.push_in_memory(request_id, text);
    }

    fn push_in_memory(&mut self, request_id: Option<Arc<str>>, text: String) {
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
        // Sequence numbers grow from the front: skip to the first after `after`.
        let skip = self.lines.partition_point(|l| l.seq <= after);
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

impl LogFile {
    /// Appends `record` as one line (one `write`), rotating the file first when it is full.
    fn append(&mut self, record: &Record<'_>) -> std::io::Result<()> {
        if self.written >= self.rotate_at {
            std::fs::rename(self.dir.join(CURRENT), self.dir.join(PREVIOUS))?;
            self.file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .open(self.dir.join(CURRENT))?;
            self.written = 0;
        }
        let mut line = serde_json::to_vec(record).map_err(std::io::Error::other)?;
        line.push(b'\n');
        self.file.write_all(&line)?;
        self.written += line.len() as u64;
        Ok(())
    }
}

/// Cuts a torn last line (no newline: a crash mid-append) off `file`, so that appends start on
/// a line of their own; returns the file's length.
fn cut_torn_tail(file: &mut std::fs::File) -> std::io::Result<u64> {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(0);
    }
    // Look back for the last newline, a block at a time.
    let mut end = len;
    let mut block = vec![0u8; 64 << 10];
    while end > 0 {
        let start = end.saturating_sub(block.len() as u64);
        let chunk = &mut block[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(chunk)?;
        if let Some(i) = chunk.iter().rposition(|b| *b == b'\n') {
            let keep = start + i as u64 + 1;
            if keep < len {
                file.set_len(keep)?;
            }
            return Ok(keep);
        }
        end = start;
    }
    file.set_len(0)?;
    Ok(0)
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

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sluice-logs-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn lines_outlive_a_reopen_with_their_sequence_numbers() {
        let dir = scratch("reopen");
        let a: Arc<str> = Arc::from("a");
        {
            let mut logs = LogBuffer::open(&dir, 1 << 20);
            logs.push(None, "init".into());
            logs.push(Some(a.clone()), "START a".into());
            logs.push(Some(a.clone()), "say \"hi\" 🐟".into());
        }
        // A crash mid-append leaves a torn line.
        let current = dir.join(CURRENT);
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&current)
            .unwrap();
        file.write_all(br#"{"seq":4,"request-id":"a","te"#).unwrap();
        drop(file);
        let mut logs = LogBuffer::open(&dir, 1 << 20);
        assert_eq!(logs.last_seq(), 3);
        assert_eq!(logs.of_request("a"), "START a\nsay \"hi\" 🐟\n");
        assert_eq!(logs.since(2, None)[0].seq, 3);
        // Appends after the cut start on a line of their own, numbered on.
        logs.push(Some(a), "END a".into());
        drop(logs);
        let logs = LogBuffer::open(&dir, 1 << 20);
        let texts: Vec<String> = logs.since(0, None).into_iter().map(|l| l.text).collect();
        assert_eq!(texts, ["init", "START a", "say \"hi\" 🐟", "END a"]);
        assert_eq!(logs.last_seq(), 4);
        assert_eq!(logs.tail(1)[0].request_id.as_deref(), Some("a"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn files_rotate_and_stay_bounded() {
        let dir = scratch("rotate");
        let line = "x".repeat(1000);
        {
            let mut logs = LogBuffer::open(&dir, 100_000);
            for _ in 0..1000 {
                logs.push(None, line.clone());
            }
            assert_eq!(logs.last_seq(), 1000);
        }
        let on_disk: u64 = [CURRENT, PREVIOUS]
            .iter()
            .map(|f| std::fs::metadata(dir.join(f)).unwrap().len())
            .sum();
        assert!(
            on_disk <= 2 * (MIN_ROTATE_BYTES.max(100_000) + 1100),
            "{on_disk}"
        );
        let logs = LogBuffer::open(&dir, 100_000);
        let kept = logs.since(0, None);
        assert_eq!(logs.last_seq(), 1000);
        assert_eq!(kept.last().unwrap().seq, 1000);
        assert!(kept.windows(2).all(|w| w[1].seq == w[0].seq + 1));
        assert_eq!(logs.since(999, None).len(), 1);
        assert!(kept.len() >= 50 && kept.len() <= 100, "{}", kept.len());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_buffer_that_cannot_persist_works_in_memory() {
        let dir = scratch("unusable");
        std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
        std::fs::write(&dir, b"a file, not a folder").unwrap();
        let mut logs = LogBuffer::open(&dir, 100);
        logs.push(None, "still here".into());
        assert_eq!(logs.tail(1)[0].text, "still here");
        let _ = std::fs::remove_file(&dir);
    }
}
