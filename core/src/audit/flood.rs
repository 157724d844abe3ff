//! Keeps the failure log useful under a flood. At normal rates every failure is one
//! line. Past `log.max_repeats_per_minute` lines of one reason from one client
//! address in a minute, further lines of that kind are counted instead of written,
//! and one summary line says how many ("N more like this…"). Past
//! `log.max_bytes_per_day` nothing more is written that day but one line saying so,
//! and the next day opens with a line per reason counting what was not written.
//! Metrics count every failure either way: this bounds the disk, not the counting.
//!
//! When a line cannot be written (a full or read-only disk), the sink says so once,
//! loudly, keeps serving, and counts the lost lines; it says so again when writing
//! works again.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::FailureRecord;

/// How much the failure log may write (`[log]` settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FloodLimits {
    /// Lines of one reason from one client address per minute before the rest are
    /// summarised (0: never summarise).
    pub max_repeats_per_minute: u32,
    /// Bytes written per UTC day by this process before the rest are only counted.
    pub max_bytes_per_day: u64,
}

impl Default for FloodLimits {
    fn default() -> Self {
        FloodLimits {
            max_repeats_per_minute: 20,
            max_bytes_per_day: 1 << 30,
        }
    }
}

/// More (reason, client) pairs than this in one minute share one entry per reason,
/// so a client rotating addresses cannot grow the table.
const MAX_TRACKED: usize = 10_000;

static SUPPRESSED: AtomicU64 = AtomicU64::new(0);
static LOST: AtomicU64 = AtomicU64::new(0);

/// Failure lines summarised or held back by the daily cap, in this process so far.
pub fn suppressed_lines() -> u64 {
    SUPPRESSED.load(Ordering::Relaxed)
}

/// Failure lines that could not be written (the sink failed), in this process so far.
pub fn lost_lines() -> u64 {
    LOST.load(Ordering::Relaxed)
}

#[derive(Default)]
struct State {
    minute: i64,
    /// Lines seen this minute and lines held back, per (reason, client).
    seen: HashMap<(String, String), (u32, u64)>,
    day: i64,
    bytes_today: u64,
    cap_announced: bool,
    /// Lines not written today for the daily cap, per reason.
    capped: HashMap<String, u64>,
}

/// Decides which failure lines are written. Shared by the file layer and the C
/// library's sink.
pub struct FloodGate {
    limits: FloodLimits,
    state: Mutex<State>,
}

/// The client (address without its port, IPv6 by /64): one client, many connections.
fn client_key(client: Option<&str>) -> String {
    client.map(crate::users::throttle::client_key).unwrap_or_default()
}

fn line_of(rec: &FailureRecord) -> Option<Vec<u8>> {
    let mut line = serde_json::to_vec(rec).ok()?;
    line.push(b'\n');
    Some(line)
}

fn summary(time: &str, reason: &str, client: &str, count: u64, hint: String) -> FailureRecord {
    FailureRecord {
        time: time.to_owned(),
        reason: reason.to_owned(),
        hint: Some(hint),
        client: (!client.is_empty()).then(|| client.to_owned()),
        suppressed: Some(count),
        ..FailureRecord::default()
    }
}

impl FloodGate {
    /// A gate with these limits.
    pub fn new(limits: FloodLimits) -> FloodGate {
        FloodGate {
            limits,
            state: Mutex::new(State::default()),
        }
    }

    /// The lines to write for `rec` at `now` (seconds since the Unix epoch): due
    /// summaries first, then the record's own line unless it is held back.
    pub fn admit(&self, rec: &FailureRecord, now: i64) -> Vec<Vec<u8>> {
        let mut st = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = self.roll(&mut st, now, &rec.time);
        let key = (rec.reason.clone(), client_key(rec.client.as_deref()));
        let limit = self.limits.max_repeats_per_minute;
        let key = if st.seen.len() >= MAX_TRACKED && !st.seen.contains_key(&key) {
            (key.0, "(many addresses)".to_owned())
        } else {
            key
        };
        let entry = st.seen.entry(key).or_default();
        entry.0 = entry.0.saturating_add(1);
        if limit > 0 && entry.0 > limit {
            entry.1 += 1;
            SUPPRESSED.fetch_add(1, Ordering::Relaxed);
            return out;
        }
        if let Some(line) = line_of(rec) {
            self.within_cap(&mut st, &rec.reason, &rec.time, line, &mut out);
        }
        out
    }

    /// Summaries that are due at `now` even if no failure comes (called on a timer
    /// and when the log closes).
    pub fn due(&self, now: i64) -> Vec<Vec<u8>> {
        let mut st = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        self.roll(&mut st, now, &super::now_rfc3339())
    }

    /// Every summary still pending, due or not (the log is closing).
    pub fn pending(&self, now: i64) -> Vec<Vec<u8>> {
        let mut st = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Closing the minute early writes its summaries; the day's count stays.
        st.minute = now.div_euclid(60) - 1;
        let day = st.day;
        let out = self.roll(&mut st, now, &super::now_rfc3339());
        st.day = day;
        // The log is closing: give the tables' memory back.
        st.seen = HashMap::new();
        st.capped = HashMap::new();
        out
    }

    /// Writes `line` unless today's cap is reached; the first line over the cap is
    /// replaced by one saying so.
    fn within_cap(&self, st: &mut State, reason: &str, time: &str, line: Vec<u8>, out: &mut Vec<Vec<u8>>) {
        let len = line.len() as u64;
        if st.bytes_today.saturating_add(len) <= self.limits.max_bytes_per_day {
            st.bytes_today += len;
            out.push(line);
            return;
        }
        *st.capped.entry(reason.to_owned()).or_default() += 1;
        SUPPRESSED.fetch_add(1, Ordering::Relaxed);
        if !st.cap_announced {
            st.cap_announced = true;
            let rec = summary(
                time,
                reason,
                "",
                0,
                format!(
                    "log.max_bytes_per_day ({} bytes) reached: failures are counted, not written, until the end of the UTC day",
                    self.limits.max_bytes_per_day
                ),
            );
            out.extend(line_of(&rec));
        }
    }

    /// Closes the minute (and the day) that `now` has left: their summary lines.
    fn roll(&self, st: &mut State, now: i64, time: &str) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let (minute, day) = (now.div_euclid(60), now.div_euclid(86_400));
        if minute != st.minute {
            let mut held: Vec<_> = st.seen.drain().filter(|(_, (_, n))| *n > 0).collect();
            held.sort();
            for ((reason, client), (_, n)) in held {
                let from = if client.is_empty() {
                    String::new()
                } else {
                    format!(" from {client}")
                };
                let rec = summary(
                    time,
                    &reason,
                    &client,
                    n,
                    format!(
                        "{n} more failure{} like this{from} in the last minute {} not written (log.max_repeats_per_minute = {})",
                        if n == 1 { "" } else { "s" },
                        if n == 1 { "was" } else { "were" },
                        self.limits.max_repeats_per_minute
                    ),
                );
                // Summaries count against the day's bytes too.
                if let Some(line) = line_of(&rec) {
                    self.within_cap(st, &reason, time, line, &mut out);
                }
            }
            st.minute = minute;
        }
        if day != st.day {
            let mut capped: Vec<_> = st.capped.drain().collect();
            capped.sort();
            let previous = st.day;
            *st = State {
                minute: st.minute,
                seen: std::mem::take(&mut st.seen),
                day,
                ..State::default()
            };
            for (reason, n) in capped {
                let rec = summary(
                    time,
                    &reason,
                    "",
                    n,
                    format!(
                        "{n} failure{} with this reason on day {previous} (days since 1970) {} not written: log.max_bytes_per_day was reached",
                        if n == 1 { "" } else { "s" },
                        if n == 1 { "was" } else { "were" },
                    ),
                );
                if let Some(line) = line_of(&rec) {
                    self.within_cap(st, &reason, time, line, &mut out);
                }
            }
        }
        out
    }
}

/// A writer that notices when its lines cannot be written: says so once (a
/// `tracing` error, which a C host receives through its callback), counts the lost
/// lines, and says so again when writing works again.
pub struct Checked<W> {
    inner: W,
    failing: AtomicBool,
}

impl<W> Checked<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Checked<W> {
        Checked {
            inner,
            failing: AtomicBool::new(false),
        }
    }
}

impl<W: Write> Write for Checked<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.inner.write_all(buf).and_then(|()| self.inner.flush()) {
            Ok(()) => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    tracing::warn!(
                        "the failure log is writable again; {} failure line(s) lost so far",
                        lost_lines()
                    );
                }
                Ok(buf.len())
            }
            Err(e) => {
                LOST.fetch_add(1, Ordering::Relaxed);
                if !self.failing.swap(true, Ordering::Relaxed) {
                    tracing::error!(
                        "cannot write the failure log ({e}): failures are still refused and counted, but not logged, until it is writable again"
                    );
                }
                // Reported as written: the writer thread must keep going.
                Ok(buf.len())
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const T: i64 = 1_800_000_000 / 86_400 * 86_400 + 3600; // 01:00 UTC on some day

    fn rec(reason: &str, client: &str) -> FailureRecord {
        FailureRecord {
            time: "2027-01-15T01:00:00Z".into(),
            reason: reason.into(),
            hint: Some("h".into()),
            client: Some(client.into()),
            ..FailureRecord::default()
        }
    }

    fn parsed(lines: &[Vec<u8>]) -> Vec<FailureRecord> {
        lines.iter().map(|l| serde_json::from_slice(l).unwrap()).collect()
    }

    #[test]
    fn repeats_past_the_limit_become_one_summary_per_client_and_reason() {
        let gate = FloodGate::new(FloodLimits {
            max_repeats_per_minute: 3,
            max_bytes_per_day: 1 << 20,
        });
        let mut written = Vec::new();
        for i in 0..50 {
            // One client on many ports is one client.
            written.extend(gate.admit(&rec("bad_signature", &format!("203.0.113.9:{}", 40000 + i)), T));
        }
        written.extend(gate.admit(&rec("expired", "198.51.100.1:1"), T));
        assert_eq!(parsed(&written).len(), 4, "3 lines of the flood, 1 of another client");
        // The next minute opens with the summary.
        let next = parsed(&gate.admit(&rec("expired", "198.51.100.1:1"), T + 60));
        assert_eq!(next.len(), 2);
        assert_eq!(next[0].reason, "bad_signature");
        assert_eq!(next[0].suppressed, Some(47));
        assert_eq!(next[0].client.as_deref(), Some("203.0.113.9"));
        assert!(
            next[0]
                .hint
                .as_deref()
                .unwrap()
                .starts_with("47 more failures like this from 203.0.113.9")
        );
        assert_eq!(next[1].suppressed, None);
        // Nothing held back, nothing to summarise.
        assert!(gate.due(T + 180).is_empty());
    }

    #[test]
    fn the_daily_cap_writes_one_line_saying_so_then_counts_and_the_next_day_says_how_many() {
        let one = rec("malformed", "192.0.2.1:5");
        let len = line_of(&one).unwrap().len() as u64;
        let gate = FloodGate::new(FloodLimits {
            max_repeats_per_minute: 0,
            max_bytes_per_day: 10 * len,
        });
        let mut written = Vec::new();
        for _ in 0..100 {
            written.extend(gate.admit(&one, T));
        }
        let recs = parsed(&written);
        assert_eq!(recs.len(), 11, "ten lines and the notice");
        assert!(recs[10].hint.as_deref().unwrap().contains("log.max_bytes_per_day"));
        let tomorrow = parsed(&gate.admit(&one, T + 86_400));
        assert_eq!(tomorrow.len(), 2);
        assert_eq!(tomorrow[0].suppressed, Some(90));
        assert_eq!(tomorrow[1].reason, "malformed");
    }

    #[test]
    fn many_addresses_share_one_entry_so_the_table_stays_bounded() {
        let gate = FloodGate::new(FloodLimits {
            max_repeats_per_minute: 1,
            max_bytes_per_day: u64::MAX,
        });
        for i in 0..(MAX_TRACKED as u32 + 500) {
            let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i);
            drop(gate.admit(&rec("bad_signature", &format!("{ip}:1")), T));
        }
        assert!(gate.state.lock().unwrap().seen.len() <= MAX_TRACKED + 1);
    }

    #[test]
    fn a_failing_sink_is_counted_and_does_not_stop_the_writer() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("No space left on device"))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let before = lost_lines();
        let mut w = Checked::new(Full);
        assert_eq!(w.write(b"line\n").unwrap(), 5);
        assert_eq!(w.write(b"line\n").unwrap(), 5);
        assert!(lost_lines() >= before + 2);
    }
}
