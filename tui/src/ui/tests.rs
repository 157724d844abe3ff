//! Every view drawn to a test backend at a fixed time, compared with snapshots.

use jwtauth_core::audit::FailureRecord;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::draw;
use crate::admin::Admin;
use crate::admin::memory::MemoryAdmin;
use crate::app::{Action, AdminUpdate, App, StoreStatus};
use crate::failure::Failure;
use crate::follow::{Batch, LogStatus, LogUpdate};

/// 2026-11-28T15:00:00Z.
const NOW: i64 = 1_795_878_000;

fn failure(at: i64, reason: &str, subject: &str, client: &str) -> Failure {
    let t = time::OffsetDateTime::from_unix_timestamp(at).unwrap();
    Failure {
        seq: 0,
        at,
        reason: reason.parse().ok(),
        record: FailureRecord {
            time: t.format(&time::format_description::well_known::Rfc3339).unwrap(),
            reason: reason.into(),
            hint: Some(format!("{reason}: sample hint")),
            kid: Some("k2-es256".into()),
            subject: Some(subject.into()),
            subject_verified: Some(reason != "bad_signature"),
            fingerprint: Some("a1b2c3d4e5f6".into()),
            client: Some(client.into()),
            method: Some("GET".into()),
            path: Some("/api/products".into()),
            user_agent: Some("curl/8.5.0".into()),
            request_id: Some("req-0001".into()),
        },
    }
}

/// An hour of background noise, then a brute force on `admin` in the last minutes.
fn sample() -> Vec<Failure> {
    let mut v = Vec::new();
    for m in 0..60 {
        let at = NOW - 3600 + m * 60;
        v.push(failure(at, "expired", "alice", "10.0.0.1:50000"));
        if m % 3 == 0 {
            v.push(failure(at + 10, "wrong_audience", "bob", "10.0.0.2:50001"));
        }
    }
    for i in 0..40 {
        v.push(failure(
            NOW - 180 + i * 4,
            "bad_credentials",
            "admin",
            "203.0.113.9:41000",
        ));
    }
    v.push(failure(NOW - 2, "bad_signature", "mallory", "198.51.100.7:6000"));
    v
}

fn app() -> App {
    let mut app = App::new(1000, false, NOW);
    app.update(Action::Log(LogUpdate::Status(LogStatus::Following(
        "logs/failures.2026-11-28.jsonl".into(),
    ))));
    app.update(Action::Log(LogUpdate::Batch(Batch {
        failures: sample(),
        skipped: 2,
        more: false,
    })));
    let mut store = MemoryAdmin::sample(NOW);
    app.update(Action::Admin(AdminUpdate::Status(StoreStatus::Connected(
        "sqlite://jwtauth.db".into(),
    ))));
    app.update(Action::Admin(AdminUpdate::Keys(store.list_keys().unwrap())));
    app.update(Action::Admin(AdminUpdate::Sessions(store.list_sessions().unwrap())));
    app
}

fn press(app: &mut App, keys: &str) {
    for c in keys.chars() {
        let code = match c {
            '\n' => KeyCode::Enter,
            '↑' => KeyCode::Up,
            '↓' => KeyCode::Down,
            c => KeyCode::Char(c),
        };
        app.update(Action::Key(KeyEvent::new(code, KeyModifiers::NONE)));
    }
}

fn render(app: &mut App, w: u16, h: u16) -> TestBackend {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| draw(f, app)).unwrap();
    t.backend().clone()
}

#[test]
fn failures_view_80x24() {
    let mut app = app();
    insta::assert_snapshot!(render(&mut app, 80, 24));
}

#[test]
fn failures_view_wide_shows_an_hour_by_minute() {
    let mut app = app();
    insta::assert_snapshot!(render(&mut app, 140, 45));
}

#[test]
fn failures_view_filtered_and_paused() {
    let mut app = app();
    press(&mut app, "/s:admin !203.0.113.9\n");
    assert_eq!(app.failures.visible.len(), 0);
    press(&mut app, "/");
    app.update(Action::Key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)));
    press(&mut app, "a:10.0.0.2\n↑↑");
    assert!(!app.failures.follow);
    insta::assert_snapshot!(render(&mut app, 100, 30));
}

#[test]
fn failures_view_waiting_for_a_missing_log_directory() {
    let mut app = App::new(1000, false, NOW);
    app.update(Action::Log(LogUpdate::Status(LogStatus::Unavailable(
        "logs: No such file or directory (os error 2)".into(),
    ))));
    app.update(Action::Admin(AdminUpdate::Status(StoreStatus::Unavailable(
        "connection refused".into(),
    ))));
    insta::assert_snapshot!(render(&mut app, 80, 24));
}

#[test]
fn keys_view() {
    let mut app = app();
    press(&mut app, "2j");
    insta::assert_snapshot!(render(&mut app, 100, 24));
}

#[test]
fn keys_view_choosing_an_algorithm_for_a_new_key() {
    let mut app = app();
    press(&mut app, "2n");
    insta::assert_snapshot!(render(&mut app, 80, 24));
}

#[test]
fn keys_view_confirming_rotation() {
    let mut app = app();
    press(&mut app, "2r");
    insta::assert_snapshot!(render(&mut app, 80, 24));
}

#[test]
fn keys_view_confirming_retirement() {
    let mut app = app();
    press(&mut app, "2jd");
    insta::assert_snapshot!(render(&mut app, 80, 24));
}

#[test]
fn keys_view_read_only_refuses() {
    let mut app = app();
    app.read_only = true;
    press(&mut app, "2r");
    insta::assert_snapshot!(render(&mut app, 80, 24));
}

#[test]
fn sessions_view() {
    let mut app = app();
    press(&mut app, "3j");
    insta::assert_snapshot!(render(&mut app, 80, 24));
}

#[test]
fn help_lists_every_binding() {
    let mut app = app();
    press(&mut app, "?");
    let screen = render(&mut app, 120, 30);
    let text = screen.to_string();
    for b in crate::keymap::BINDINGS {
        assert!(text.contains(b.help), "{} missing from help", b.help);
    }
    insta::assert_snapshot!(screen);
}

#[test]
fn help_at_80x24() {
    let mut app = app();
    press(&mut app, "?");
    insta::assert_snapshot!(render(&mut app, 80, 24));
}

#[test]
fn tiny_terminals_do_not_panic() {
    let mut app = app();
    for (w, h) in [(1, 1), (10, 3), (20, 5), (40, 10), (80, 8)] {
        for view in ["1", "2", "3", "?"] {
            press(&mut app, view);
            render(&mut app, w, h);
            if view == "?" {
                press(&mut app, "?");
            }
        }
    }
}

#[test]
fn matches_are_highlighted_and_reasons_coloured() {
    use ratatui::style::Color;
    let mut app = app();
    press(&mut app, "/s:bob\n");
    let screen = render(&mut app, 100, 30);
    let buf = screen.buffer();
    let row_of = |needle: &str| {
        (0..buf.area.height).find(|&y| {
            let line: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol().to_owned()).collect();
            line.starts_with(needle)
        })
    };
    // The last table row is the newest bob failure: "14:57:10 wrong_audience bob …".
    let y = row_of("14:57:10").expect("bob's newest failure is shown");
    let line: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol().to_owned()).collect();
    let at = |s: &str| u16::try_from(line.find(s).unwrap()).unwrap();
    assert_eq!(buf[(at("bob"), y)].bg, Color::Yellow, "the match is highlighted");
    assert_eq!(buf[(at("10.0.0.2"), y)].bg, Color::Reset, "other cells are not");
    assert_eq!(
        buf[(at("wrong_audience"), y)].fg,
        super::theme::reason_name_color("wrong_audience")
    );
    assert_ne!(
        super::theme::reason_name_color("wrong_audience"),
        super::theme::reason_name_color("expired")
    );
}
