//! One failure as the TUI holds it: the log line read back by the core's
//! [`FailureRecord`], plus what the views need precomputed (time, reason, sequence).

use jwtauth_core::Reason;
use jwtauth_core::audit::FailureRecord;

/// A failure read from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Position in the stream of everything read since start; never reused, so
    /// views can refer to an event after older ones were dropped from the ring.
    pub seq: u64,
    /// `time` as seconds since the Unix epoch.
    pub at: i64,
    /// The reason, when the line names a known one (a newer writer may know more).
    pub reason: Option<Reason>,
    /// The line as written.
    pub record: FailureRecord,
}

/// Why a log line was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadLine {
    /// Not a JSON object with the failure log's members (or cut short).
    Malformed,
    /// `time` is not an RFC 3339 time.
    BadTime,
}

impl Failure {
    /// Parses one complete line of the failure log (without its newline).
    pub fn parse(line: &[u8]) -> Result<Failure, BadLine> {
        let record: FailureRecord = serde_json::from_slice(line).map_err(|_| BadLine::Malformed)?;
        let at = parse_time(&record.time).ok_or(BadLine::BadTime)?;
        Ok(Failure {
            seq: 0,
            at,
            reason: record.reason.parse().ok(),
            record,
        })
    }

    /// An entry for a line too long to hold (over [`crate::follow::MAX_LINE`]
    /// bytes): its time when the start of the line names one (else `now`), no
    /// reason, and a hint with the start of the line, so it is seen, not dropped.
    pub fn oversized(start: &[u8], now: i64) -> Failure {
        let text = String::from_utf8_lossy(&start[..start.len().min(160)]).into_owned();
        let time = text
            .split_once("\"time\":\"")
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(t, _)| t.to_owned())
            .filter(|t| parse_time(t).is_some());
        let at = time.as_deref().and_then(parse_time).unwrap_or(now);
        Failure {
            seq: 0,
            at,
            reason: None,
            record: FailureRecord {
                time: time.unwrap_or_default(),
                reason: "(line too long)".into(),
                hint: Some(format!(
                    "a log line of more than {} bytes, shown cut: {}",
                    crate::follow::MAX_LINE,
                    jwtauth_core::error::clip(&text)
                )),
                ..FailureRecord::default()
            },
        }
    }

    /// The client's host without the port: what "top addresses" groups by.
    pub fn client_host(&self) -> Option<&str> {
        self.record.client.as_deref().map(host_of)
    }

    /// How many failures the line stands for: one, or a flood summary's count.
    pub fn weight(&self) -> u32 {
        self.record
            .suppressed
            .map_or(1, |n| u32::try_from(n).unwrap_or(u32::MAX).max(1))
    }
}

/// `127.0.0.1:51234` → `127.0.0.1`, `[::1]:443` → `::1`; anything else unchanged.
pub fn host_of(addr: &str) -> &str {
    if let Some(rest) = addr.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match addr.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => addr,
    }
}

/// RFC 3339 → seconds since the Unix epoch.
pub fn parse_time(s: &str) -> Option<i64> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(time::OffsetDateTime::unix_timestamp)
}

/// `HH:MM:SS` of a Unix time in UTC.
pub fn clock_time(at: i64) -> String {
    let s = at.rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// `YYYY-MM-DD HH:MM` of a Unix time in UTC (for keys and sessions).
pub fn date_time(at: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(at) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute()
        ),
        Err(_) => "?".into(),
    }
}

/// A length of time in its largest whole unit that is exact enough to read:
/// `45 s`, `10 min`, `1 h 30 min`, `2 d`.
pub fn span(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86_400 if s % 3600 >= 60 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        3600..86_400 => format!("{} h", s / 3600),
        _ if s % 86_400 >= 3600 => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
        _ => format!("{} d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_logged_line_parses_with_time_and_reason() {
        let f = Failure::parse(
            br#"{"time":"2026-11-28T15:04:05.123456789Z","reason":"expired","hint":"h","client":"10.0.0.7:5123"}"#,
        )
        .unwrap();
        assert_eq!(f.at, 1_795_878_245);
        assert_eq!(f.reason, Some(Reason::Expired));
        assert_eq!(f.client_host(), Some("10.0.0.7"));
    }

    #[test]
    fn truncated_or_foreign_lines_are_refused_not_panicked_on() {
        assert_eq!(
            Failure::parse(br#"{"time":"2026-11-28T15:04:05Z","reas"#),
            Err(BadLine::Malformed)
        );
        assert_eq!(Failure::parse(b"hello"), Err(BadLine::Malformed));
        assert_eq!(
            Failure::parse(br#"{"time":"yesterday","reason":"expired"}"#),
            Err(BadLine::BadTime)
        );
    }

    #[test]
    fn unknown_reason_is_kept_as_text() {
        let f = Failure::parse(br#"{"time":"2026-11-28T15:04:05Z","reason":"from_the_future"}"#).unwrap();
        assert_eq!(f.reason, None);
        assert_eq!(f.record.reason, "from_the_future");
    }

    #[test]
    fn host_drops_the_port_of_v4_and_v6_addresses() {
        assert_eq!(host_of("[2001:db8::1]:443"), "2001:db8::1");
        assert_eq!(host_of("2001:db8::1"), "2001:db8::1");
        assert_eq!(host_of("example"), "example");
        assert_eq!(clock_time(1_795_878_245), "15:04:05");
        assert_eq!(date_time(1_795_878_245), "2026-11-28 15:04");
    }

    #[test]
    fn spans_read_in_their_largest_unit() {
        assert_eq!(span(-5), "0 s");
        assert_eq!(span(45), "45 s");
        assert_eq!(span(600), "10 min");
        assert_eq!(span(3600), "1 h");
        assert_eq!(span(5400), "1 h 30 min");
        assert_eq!(span(2 * 86_400), "2 d");
        assert_eq!(span(86_400 + 7200), "1 d 2 h");
    }
}
