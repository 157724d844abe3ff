//! Following the rolling failure log like `tail -F`: the newest daily file from a
//! byte offset, waiting for a line's newline before reading it, moving on to newer
//! files as they appear and starting over when a file is truncated.
//!
//! [`Follower::poll`] is synchronous and deterministic (tests drive it over a
//! temporary directory); [`spawn`] runs it on its own thread and sends batches.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::mpsc::SyncSender;
use std::time::Duration;

use jwtauth_core::audit::log_files;

use crate::failure::Failure;

/// Bytes read per poll at most, so one poll stays short and memory stays bounded.
pub const MAX_READ: usize = 4 << 20;
/// A "line" longer than this without a newline is dropped and counted as malformed.
pub const MAX_LINE: usize = 1 << 20;

/// Where following stands, for the status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogStatus {
    /// Reading this file.
    Following(PathBuf),
    /// The directory exists but holds no failure log yet.
    NoFiles(PathBuf),
    /// The directory cannot be read (missing, permissions…); retried.
    Unavailable(String),
}

/// What one poll read.
#[derive(Debug, Default)]
pub struct Batch {
    /// Complete, well-formed lines, oldest first.
    pub failures: Vec<Failure>,
    /// Lines that were malformed, truncated or had a bad time.
    pub skipped: u64,
    /// Whether the read stopped at [`MAX_READ`] with more to come.
    pub more: bool,
}

/// Follows `<dir>/<prefix>.<YYYY-MM-DD>.jsonl`.
#[derive(Debug)]
pub struct Follower {
    dir: PathBuf,
    prefix: String,
    history_bytes: u64,
    started: bool,
    current: Option<PathBuf>,
    offset: u64,
    partial: Vec<u8>,
    discard_to_newline: bool,
}

impl Follower {
    /// A follower that, on its first poll, loads up to `history_bytes` of the most
    /// recent lines (across files), then follows.
    pub fn new(dir: &Path, prefix: &str, history_bytes: u64) -> Follower {
        Follower {
            dir: dir.to_path_buf(),
            prefix: prefix.to_owned(),
            history_bytes,
            started: false,
            current: None,
            offset: 0,
            partial: Vec::new(),
            discard_to_newline: false,
        }
    }

    /// Reads what was appended since the last poll.
    pub fn poll(&mut self) -> (Batch, LogStatus) {
        let mut batch = Batch::default();
        let files = match log_files(&self.dir, &self.prefix) {
            Ok(f) => f,
            Err(e) => return (batch, LogStatus::Unavailable(format!("{}: {e}", self.dir.display()))),
        };
        if !self.started {
            self.started = true;
            self.start_in_history(&files);
        }
        let mut budget = MAX_READ;
        loop {
            let Some(cur) = self.current.clone().or_else(|| files.first().cloned()) else {
                return (batch, LogStatus::NoFiles(self.dir.clone()));
            };
            self.current = Some(cur.clone());
            let at_end = self.read_from(&cur, &mut budget, &mut batch);
            if !at_end {
                batch.more = true;
                break;
            }
            match files.iter().find(|p| **p > cur) {
                Some(next) => {
                    // The older file is finished: a line it left without a newline never ends.
                    if !self.partial.is_empty() {
                        batch.skipped += 1;
                        self.partial.clear();
                    }
                    self.current = Some(next.clone());
                    self.offset = 0;
                    self.discard_to_newline = false;
                }
                None => break,
            }
        }
        let status = LogStatus::Following(self.current.clone().unwrap_or_default());
        (batch, status)
    }

    fn start_in_history(&mut self, files: &[PathBuf]) {
        let mut budget = self.history_bytes;
        for p in files.iter().rev() {
            let len = std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
            self.current = Some(p.clone());
            if len >= budget {
                self.offset = len - budget;
                self.discard_to_newline = self.offset > 0;
                return;
            }
            self.offset = 0;
            budget -= len;
        }
    }

    /// Reads `path` from the offset; returns whether its end was reached.
    fn read_from(&mut self, path: &Path, budget: &mut usize, batch: &mut Batch) -> bool {
        let Ok(mut file) = File::open(path) else {
            return true; // removed by retention meanwhile: move on
        };
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if len < self.offset {
            // Truncated in place: start over.
            self.offset = 0;
            self.partial.clear();
            self.discard_to_newline = false;
        }
        if len == self.offset {
            return true;
        }
        if file.seek(SeekFrom::Start(self.offset)).is_err() {
            return true;
        }
        let want = usize::try_from(len - self.offset).unwrap_or(usize::MAX).min(*budget);
        let mut buf = Vec::with_capacity(want);
        let n = match file.take(want as u64).read_to_end(&mut buf) {
            Ok(n) => n,
            Err(_) => return true,
        };
        *budget -= n;
        self.offset += n as u64;
        self.consume(&buf, batch);
        self.offset >= len
    }

    fn consume(&mut self, mut buf: &[u8], batch: &mut Batch) {
        if self.discard_to_newline {
            match buf.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    buf = &buf[i + 1..];
                    self.discard_to_newline = false;
                }
                None => return,
            }
        }
        while let Some(i) = buf.iter().position(|&b| b == b'\n') {
            let line = &buf[..i];
            buf = &buf[i + 1..];
            if self.partial.is_empty() {
                parse_into(line, batch);
            } else {
                self.partial.extend_from_slice(line);
                let whole = std::mem::take(&mut self.partial);
                parse_into(&whole, batch);
            }
        }
        self.partial.extend_from_slice(buf);
        if self.partial.len() > MAX_LINE {
            batch.failures.push(Failure::oversized(&self.partial, unix_now()));
            self.partial.clear();
            self.discard_to_newline = true;
        }
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn parse_into(line: &[u8], batch: &mut Batch) {
    if line.len() > MAX_LINE {
        batch.failures.push(Failure::oversized(line, unix_now()));
        return;
    }
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    match Failure::parse(line) {
        Ok(f) => batch.failures.push(f),
        Err(_) => batch.skipped += 1,
    }
}

/// A message from the log thread.
#[derive(Debug)]
pub enum LogUpdate {
    /// New lines.
    Batch(Batch),
    /// Following changed state.
    Status(LogStatus),
}

/// Runs `follower` on its own thread, polling every `interval` (at once while
/// behind), until the receiver is dropped. The channel is bounded, so a reader
/// faster than the screen waits instead of piling batches up in memory.
pub fn spawn(mut follower: Follower, interval: Duration, tx: SyncSender<LogUpdate>) -> std::io::Result<()> {
    std::thread::Builder::new().name("log-follower".into()).spawn(move || {
        let mut last_status = None;
        loop {
            let (batch, status) = follower.poll();
            let more = batch.more;
            if last_status.as_ref() != Some(&status) {
                last_status = Some(status.clone());
                if tx.send(LogUpdate::Status(status)).is_err() {
                    return;
                }
            }
            if (!batch.failures.is_empty() || batch.skipped > 0) && tx.send(LogUpdate::Batch(batch)).is_err() {
                return;
            }
            if !more {
                std::thread::sleep(interval);
            }
        }
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn line(sec: u32, reason: &str) -> String {
        format!("{{\"time\":\"2026-11-28T15:00:{sec:02}Z\",\"reason\":\"{reason}\",\"hint\":\"h\"}}\n")
    }

    fn append(dir: &Path, day: &str, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(format!("failures.{day}.jsonl")))
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    fn reasons(b: &Batch) -> Vec<String> {
        b.failures.iter().map(|f| f.record.reason.clone()).collect()
    }

    #[test]
    fn missing_directory_is_reported_and_later_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("logs");
        let mut f = Follower::new(&dir, "failures", 1 << 20);
        assert!(matches!(f.poll().1, LogStatus::Unavailable(_)));
        std::fs::create_dir(&dir).unwrap();
        assert_eq!(f.poll().1, LogStatus::NoFiles(dir.clone()));
        append(&dir, "2026-11-28", &line(1, "expired"));
        let (b, st) = f.poll();
        assert_eq!(reasons(&b), vec!["expired"]);
        assert!(matches!(st, LogStatus::Following(p) if p.ends_with("failures.2026-11-28.jsonl")));
    }

    #[test]
    fn a_partial_last_line_waits_for_its_newline() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        let whole = line(2, "expired");
        let (head, tail) = whole.split_at(20);
        append(d, "2026-11-28", &line(1, "revoked"));
        append(d, "2026-11-28", head);
        let mut f = Follower::new(d, "failures", 1 << 20);
        let (b, _) = f.poll();
        assert_eq!(reasons(&b), vec!["revoked"]);
        assert_eq!(b.skipped, 0);
        append(d, "2026-11-28", tail);
        let (b, _) = f.poll();
        assert_eq!(reasons(&b), vec!["expired"]);
        assert_eq!(f.poll().0.failures.len(), 0, "nothing read twice");
    }

    #[test]
    fn a_line_too_long_to_hold_is_a_cut_entry_not_a_silent_loss() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        let huge = format!(
            "{{\"time\":\"2026-11-27T10:00:00Z\",\"reason\":\"expired\",\"path\":\"/{}\"}}\n",
            "p".repeat(3 * MAX_LINE)
        );
        append(d, "2026-11-27", &line(1, "expired"));
        let mut f = Follower::new(d, "failures", 1 << 20);
        assert_eq!(f.poll().0.failures.len(), 1);
        append(d, "2026-11-27", &huge);
        append(d, "2026-11-27", &line(2, "wrong_audience"));
        let mut got = Vec::new();
        for _ in 0..10 {
            got.extend(f.poll().0.failures);
        }
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].record.reason, "(line too long)");
        assert_eq!(got[0].at, crate::failure::parse_time("2026-11-27T10:00:00Z").unwrap());
        assert!(
            got[0]
                .record
                .hint
                .as_deref()
                .unwrap()
                .contains("more than 1048576 bytes")
        );
        assert_eq!(got[1].record.reason, "wrong_audience");
    }

    #[test]
    fn follows_across_daily_rotation_and_counts_the_cut_line_of_the_old_file() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        append(d, "2026-11-27", &line(1, "expired"));
        let mut f = Follower::new(d, "failures", 1 << 20);
        assert_eq!(f.poll().0.failures.len(), 1);
        append(d, "2026-11-27", "{\"time\":\"2026-11-27T23:59:59Z\",\"rea");
        append(d, "2026-11-28", &line(2, "wrong_audience"));
        append(d, "2026-11-28", "not json\n");
        let (b, st) = f.poll();
        assert_eq!(reasons(&b), vec!["wrong_audience"]);
        assert_eq!(b.skipped, 2, "the cut line and the garbage line");
        assert!(matches!(st, LogStatus::Following(p) if p.ends_with("failures.2026-11-28.jsonl")));
        append(d, "2026-11-28", &line(3, "bad_signature"));
        assert_eq!(reasons(&f.poll().0), vec!["bad_signature"]);
    }

    #[test]
    fn truncation_starts_the_file_over() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        append(d, "2026-11-28", &line(1, "expired").repeat(3));
        let mut f = Follower::new(d, "failures", 1 << 20);
        assert_eq!(f.poll().0.failures.len(), 3);
        std::fs::write(d.join("failures.2026-11-28.jsonl"), line(4, "revoked")).unwrap();
        assert_eq!(reasons(&f.poll().0), vec!["revoked"]);
    }

    #[test]
    fn history_is_bounded_and_starts_on_a_line_boundary() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        let l = line(1, "expired");
        append(d, "2026-11-26", &l.repeat(10));
        append(d, "2026-11-27", &l.repeat(10));
        append(d, "2026-11-28", &line(2, "revoked").repeat(2));
        // Budget: the two newest lines, the last three of the day before, and half a line.
        let budget = (2 * l.len() + 3 * l.len() + l.len() / 2) as u64;
        let mut f = Follower::new(d, "failures", budget);
        let (b, _) = f.poll();
        assert_eq!(b.skipped, 0, "the cut first line is skipped silently");
        assert_eq!(reasons(&b), vec!["expired", "expired", "expired", "revoked", "revoked"]);
    }

    #[test]
    fn the_thread_sends_status_and_batches() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        append(d, "2026-11-28", &line(1, "expired"));
        let (tx, rx) = std::sync::mpsc::sync_channel(4);
        spawn(Follower::new(d, "failures", 1 << 20), Duration::from_millis(10), tx).unwrap();
        let mut got = Vec::new();
        while got.len() < 2 {
            match rx.recv().unwrap() {
                LogUpdate::Status(s) => assert!(matches!(s, LogStatus::Following(_))),
                LogUpdate::Batch(b) => got.extend(reasons(&b)),
            }
            if got.len() == 1 {
                append(d, "2026-11-28", &line(2, "revoked"));
            }
        }
        assert_eq!(got, vec!["expired", "revoked"]);
    }
}
