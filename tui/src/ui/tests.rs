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
            client_id: None,
            issuer: None,
            suppressed: None,
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
    load(&mut app, &mut store);
    app
}

/// What the store thread sends on connecting, in its order.
fn load(app: &mut App, store: &mut MemoryAdmin) {
    app.update(Action::Admin(AdminUpdate::PublishAhead(store.publish_ahead())));
    for u in crate::worker::lists(store).unwrap() {
        app.update(Action::Admin(u));
    }
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

/// Both sizes every fix is checked at: the smallest common terminal and a roomy one.
const SIZES: [(u16, u16); 2] = [(80, 24), (120, 35)];

fn text_of(screen: &TestBackend) -> String {
    let buf = screen.buffer();
    (0..buf.area.height)
        .map(|y| (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect::<String>() + "\n")
        .collect()
}

/// Snapshots the app at both sizes, named `<name>_<w>x<h>`, and returns the screens.
fn snapshots(app: &mut App, name: &str) -> Vec<String> {
    SIZES
        .iter()
        .map(|&(w, h)| {
            let screen = render(app, w, h);
            insta::assert_snapshot!(format!("{name}_{w}x{h}"), screen);
            text_of(&screen)
        })
        .collect()
}

/// A kid as long as the ones the core makes (base64url of a SHA-256).
const LONG_KID: &str = "Zb8x0S2cV1mQ4tYp7wR9eLkJ3nH6fD5gA0uI2oPqWsE";

#[test]
fn the_confirm_dialog_always_shows_its_answers() {
    let mut app = app();
    let mut keys = app.keys.items.clone();
    keys[0].kid = jwtauth_core::Kid::new(LONG_KID);
    keys[1].kid = jwtauth_core::Kid::new(format!("{LONG_KID}-old"));
    app.update(Action::Admin(AdminUpdate::Keys(keys)));
    press(&mut app, "2r");
    for screen in snapshots(&mut app, "confirm_rotation_with_a_long_kid") {
        assert!(screen.contains("y yes  n no"), "{screen}");
        assert!(screen.contains(LONG_KID), "{screen}");
    }
}

#[test]
fn a_new_key_of_a_chosen_algorithm_is_confirmed_first() {
    let mut app = app();
    press(&mut app, "2n↓\n");
    for screen in snapshots(&mut app, "new_key_confirmation") {
        assert!(
            screen.contains("A new ES384 key is published in the JWKS now"),
            "{screen}"
        );
        assert!(screen.contains("y yes  n no"), "{screen}");
    }
}

#[test]
fn retiring_the_active_key_is_refused_without_a_question() {
    let mut app = app();
    press(&mut app, "2d");
    for screen in snapshots(&mut app, "retire_active_refused") {
        assert!(screen.contains("active key cannot be retired"), "{screen}");
        assert!(!screen.contains("confirm"), "{screen}");
    }
}

#[test]
fn after_a_retirement_re_sorts_the_list_the_selection_stays_on_the_key() {
    let mut app = app();
    let mut store = MemoryAdmin::sample(NOW);
    press(&mut app, "2jdy");
    let crate::app::AdminRequest::Retire(kid) = app.requests.remove(0) else {
        panic!("a retirement was asked for")
    };
    store.retire_key(&kid).unwrap();
    // The store lists retired keys last: the retired key moves down a row.
    let mut keys = store.list_keys().unwrap();
    keys.sort_by_key(|k| k.state == jwtauth_core::KeyState::Retired);
    keys.swap(1, 2);
    app.update(Action::Admin(AdminUpdate::Keys(keys)));
    for screen in snapshots(&mut app, "selection_follows_the_retired_key") {
        assert!(screen.contains(&format!("selected kid {kid}")), "{screen}");
    }
}

#[test]
fn the_details_pane_keeps_the_hint_when_space_is_short() {
    let mut app = app();
    let mut f = failure(NOW - 1, "expired", "alice", "10.0.0.1:50000");
    f.record.hint = Some("token expired 42 s ago (exp 1795877957, leeway 30 s)".into());
    f.record.path = Some(format!("/api/products/{}", "x".repeat(90)));
    f.record.user_agent = Some(format!("Mozilla/5.0 {}", "y".repeat(80)));
    app.update(Action::Log(LogUpdate::Batch(Batch {
        failures: vec![f],
        skipped: 0,
        more: false,
    })));
    for screen in snapshots(&mut app, "details_hint_first") {
        assert!(screen.contains("token expired 42 s ago"), "{screen}");
        assert!(screen.contains("? help"), "the hint line stays: {screen}");
    }
}

#[test]
fn the_help_fits_at_120x35_and_scrolls_at_80x24_with_this_views_keys_first() {
    use crate::keymap::{BINDINGS, PROMPT_KEYS, Scope};
    let mut app = app();
    press(&mut app, "4?");
    let screens = snapshots(&mut app, "help");
    let (small, large) = (&screens[0], &screens[1]);
    for b in BINDINGS {
        assert!(large.contains(b.help), "{} is cut:\n{large}", b.help);
    }
    assert!(!large.contains("scroll"), "nothing to scroll at 120x35:\n{large}");
    // At 80x24 the keys of every view, of prompts and of this view (Users) show at once…
    for b in BINDINGS
        .iter()
        .filter(|b| matches!(b.scope, Scope::Global | Scope::Users))
    {
        assert!(small.contains(b.help), "{} is cut:\n{small}", b.help);
    }
    for (_, what) in PROMPT_KEYS {
        assert!(small.contains(what), "{what} is cut:\n{small}");
    }
    assert!(small.contains("close") && small.contains("below"), "{small}");
    // …and the rest are a scroll away.
    let missing: Vec<_> = BINDINGS.iter().filter(|b| !small.contains(b.help)).collect();
    assert!(!missing.is_empty(), "the test needs a screen too small for everything");
    press(&mut app, "G");
    let end = text_of(&render(&mut app, 80, 24));
    for b in missing {
        assert!(end.contains(b.help), "{} never shows:\n{end}", b.help);
    }
    assert!(end.contains("0 below"), "{end}");
    assert!(app.help, "scrolling keeps the help open");
}

#[test]
fn one_of_a_thing_is_written_in_the_singular() {
    let mut app = app();
    let one_key = vec![app.keys.items[0].clone()];
    app.update(Action::Admin(AdminUpdate::Keys(one_key)));
    let one_session = vec![MemoryAdmin::sample(NOW).sessions[2].clone()];
    app.update(Action::Admin(AdminUpdate::Sessions(one_session)));
    press(&mut app, "2");
    for screen in snapshots(&mut app, "keys_one_key") {
        assert!(screen.contains(" 1 key, 1 active"), "{screen}");
    }
    press(&mut app, "3");
    for screen in snapshots(&mut app, "sessions_one_session") {
        assert!(screen.contains("1 refresh-token family of 1 subject"), "{screen}");
    }
}

#[test]
fn the_chart_title_names_its_bucket_width() {
    let mut app = app();
    let titles: Vec<String> = [(80, 24), (120, 35), (140, 35)]
        .iter()
        .map(|&(w, h)| text_of(&render(&mut app, w, h)))
        .collect();
    assert!(titles[0].contains("per 3 min, last hour"), "{}", titles[0]);
    assert!(titles[1].contains("per 2 min, last hour"), "{}", titles[1]);
    assert!(titles[2].contains("failures/min, last hour"), "{}", titles[2]);
    // The README says the same.
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let readme = readme.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        readme.contains("one column per minute on a terminal at least 130 columns wide"),
        "the README states the chart's bucket widths"
    );
}

#[test]
fn the_top_lists_have_headings_and_follow_the_filter() {
    let mut app = app();
    press(&mut app, "/s:bob\n");
    for screen in snapshots(&mut app, "top_lists_filtered") {
        assert!(screen.contains("top of 20 matching the filter"), "{screen}");
        assert!(screen.contains("reason") && screen.contains("client host"), "{screen}");
        assert!(
            !screen.contains("bad_credentials"),
            "admin's failures are filtered out: {screen}"
        );
    }
}

#[test]
fn reloading_with_r_says_what_it_found() {
    let mut app = app();
    press(&mut app, "2R");
    let mut store = MemoryAdmin::sample(NOW);
    app.update(Action::Admin(AdminUpdate::Keys(store.list_keys().unwrap())));
    app.update(Action::Admin(AdminUpdate::Sessions(store.list_sessions().unwrap())));
    for screen in snapshots(&mut app, "reloaded") {
        assert!(
            screen.contains("reloaded: 3 keys, 3 sessions, 4 users and 2 clients"),
            "{screen}"
        );
    }
}

#[test]
fn keys_show_when_a_retired_key_retired_and_unknown_kid_names_it() {
    let mut app = app();
    // k0 was retired early: its planned retirement still lies ahead.
    let mut keys = app.keys.items.clone();
    keys[2].retire_after = Some(NOW + 86_400);
    keys[2].retired_at = Some(NOW - 600);
    app.update(Action::Admin(AdminUpdate::Keys(keys)));
    let mut f = failure(NOW - 1, "unknown_kid", "alice", "10.0.0.1:50000");
    f.record.kid = Some("k0-rs256-0b11".into());
    app.update(Action::Log(LogUpdate::Batch(Batch {
        failures: vec![f],
        skipped: 0,
        more: false,
    })));
    for screen in snapshots(&mut app, "unknown_kid_of_a_retired_key") {
        assert!(
            screen.contains("key k0-rs256-0b11 was retired at 2026-11-28 14:50 UTC"),
            "{screen}"
        );
    }
    press(&mut app, "2");
    for screen in snapshots(&mut app, "keys_retired_early") {
        assert!(screen.contains("14:50"), "the past retirement is shown: {screen}");
        assert!(!screen.contains("11-29"), "not the planned one: {screen}");
    }
}

#[test]
fn the_hint_line_leaves_out_whole_hints_that_do_not_fit() {
    let mut app = app();
    press(&mut app, "/s:bob\n");
    for screen in snapshots(&mut app, "hint_line_with_a_filter") {
        let line = screen.lines().nth_back(1).unwrap().trim_end().to_owned();
        assert!(line.starts_with("filter s:bob 20 of 121"), "{line}");
        assert!(line.contains("? help"), "{line}");
        assert!(
            !line.ends_with(" q") && !line.ends_with("q q"),
            "no hint cut short: {line}"
        );
    }
}

#[test]
fn a_next_key_shows_when_it_starts_signing() {
    let mut app = app();
    let mut keys = MemoryAdmin::sample(NOW).list_keys().unwrap();
    let mut next = keys[0].clone();
    next.kid = jwtauth_core::Kid::new("k3-next-key");
    next.state = jwtauth_core::KeyState::Next;
    next.created_at = NOW;
    next.activates_at = Some(NOW + 600);
    keys.insert(0, next);
    app.update(Action::Admin(AdminUpdate::Keys(keys)));
    press(&mut app, "2↑↑↑");
    let screen = text_of(&render(&mut app, 120, 35));
    assert!(screen.contains(" next "), "{screen}");
    let expected = format!(
        "selected kid k3-next-key  signs from {}",
        crate::failure::date_time(NOW + 600)
    );
    assert!(screen.contains(&expected), "{screen}");
}

/// Asserts every screen shows each of `needles`.
fn all_show(screens: &[String], needles: &[&str]) {
    for screen in screens {
        for n in needles {
            assert!(screen.contains(n), "{n:?} is missing:\n{screen}");
        }
    }
}

#[test]
fn users_show_roles_state_sessions_and_the_selected_user() {
    let mut app = app();
    press(&mut app, "4j");
    let screens = snapshots(&mut app, "users_view");
    all_show(
        &screens,
        &[
            "4 users, 1 disabled; passwords are never shown",
            "Editor, Viewer",
            "disabled",
            "selected user alice  roles [Editor, Viewer]  2 live sessions",
            "a add",
        ],
    );
    // alice's row counts her two live sessions.
    let row = screens[0].lines().find(|l| l.starts_with("alice")).unwrap().to_owned();
    assert!(row.contains(" 2 "), "{row}");
}

#[test]
fn clients_show_roles_state_and_when_the_secret_was_made() {
    let mut app = app();
    press(&mut app, "5");
    let screens = snapshots(&mut app, "clients_view");
    all_show(
        &screens,
        &[
            "2 clients, 1 disabled; a secret is shown once",
            "billing-svc",
            "secret from",
            "selected client billing-svc  roles [Reader]",
        ],
    );
    for s in &screens {
        assert!(!s.contains("jwtcs_"), "no secret in the list:\n{s}");
    }
}

#[test]
fn the_password_input_is_masked_and_says_when_entries_differ() {
    let mut app = app();
    press(&mut app, "4adave\nViewer\nhunter22\n");
    let screens = snapshots(&mut app, "password_again");
    all_show(
        &screens,
        &["password of new user dave", "again:", "Enter next", "Esc cancel"],
    );
    press(&mut app, "hunter23");
    for s in [(80, 24), (120, 35)].map(|(w, h)| text_of(&render(&mut app, w, h))) {
        assert!(!s.contains("hunter"), "never drawn:\n{s}");
        assert!(s.contains("••••••••█"), "one mark a character:\n{s}");
    }
    press(&mut app, "\n");
    let screens = snapshots(&mut app, "password_mismatch");
    all_show(&screens, &["the passwords differ: type it again", "password:"]);
}

#[test]
fn destructive_user_changes_ask_with_a_visible_y_n() {
    let mut app = app();
    press(&mut app, "4jp");
    let screens = snapshots(&mut app, "confirm_password_change");
    all_show(&screens, &["Change the password of alice?", "y yes  n no"]);
    press(&mut app, "nX");
    let screens = snapshots(&mut app, "confirm_user_delete");
    all_show(&screens, &["Delete alice?", "y yes  n no"]);
    press(&mut app, "nd");
    all_show(
        &snapshots(&mut app, "confirm_user_disable"),
        &["Disable alice?", "y yes  n no"],
    );
}

#[test]
fn the_roles_prompt_shows_the_roles_now() {
    let mut app = app();
    press(&mut app, "4jr+Admin -Viewer");
    let screens = snapshots(&mut app, "roles_prompt");
    all_show(
        &screens,
        &[
            "roles of alice",
            "+Admin -Viewer█",
            "now [Editor, Viewer]; +role adds, -role removes",
        ],
    );
}

#[test]
fn a_client_secret_dialog_shows_the_secret_once() {
    let mut app = app();
    press(&mut app, "5");
    let secret = "jwtcs_9Zt4Qk2Lm7Xw1Rb8Vn3Ch6Dy5Fg0Jp4Ts8Ua2Ie1Ok";
    let shown = crate::app::ShownSecret {
        client_id: "ledger".into(),
        secret: crate::secret::Secret::from(secret),
    };
    app.update(Action::Admin(AdminUpdate::Secret(
        shown,
        "client 'ledger' added: copy its secret now, it is shown only this once".into(),
    )));
    let screens = snapshots(&mut app, "client_secret_shown_once");
    all_show(
        &screens,
        &[
            secret,
            "client_id      ledger",
            "never shown again",
            "Enter close",
            "shown only this once",
        ],
    );
    press(&mut app, "\n");
    for (w, h) in SIZES {
        let s = text_of(&render(&mut app, w, h));
        assert!(!s.contains("jwtcs_"), "gone once dismissed:\n{s}");
    }
}

#[test]
fn the_rotate_now_dialog_warns_and_shows_its_answers() {
    let mut app = app();
    press(&mut app, "2!");
    let screens = snapshots(&mut app, "confirm_rotate_now");
    all_show(
        &screens,
        &["EMERGENCY rotation", "WARNING:", "cached JWKS", "y yes  n no"],
    );
}

#[test]
fn a_next_key_and_the_trusted_issuers_show_in_the_keys_view() {
    let mut app = app();
    let mut store = MemoryAdmin::sample(NOW);
    store.rotate_key(None, crate::admin::Rotation::PublishAhead).unwrap();
    app.update(Action::Admin(AdminUpdate::Keys(store.list_keys().unwrap())));
    press(&mut app, "2g");
    let screens = snapshots(&mut app, "keys_next_and_issuers");
    all_show(
        &screens,
        &[
            "1 active, 1 next",
            "signs from",
            "11-28 15:10",
            "selected kid k3-es256  signs from 2026-11-28 15:10",
            "trusted issuers 2 issuers, fetched by this TUI itself",
            "https://login.example.com/  usable  2 keys: idp-2026-11 (RS256)",
            "https://idp.partner.example  UNUSABLE",
            "unreachable since",
            "last error",
            "connection refused",
            "? help",
        ],
    );
}

#[test]
fn no_trusted_issuer_is_one_line() {
    let mut app = app();
    app.update(Action::Admin(AdminUpdate::Issuers(Vec::new())));
    press(&mut app, "2");
    let s = text_of(&render(&mut app, 80, 24));
    assert!(
        s.contains("trusted issuers none configured ([[trusted_issuers]])"),
        "{s}"
    );
}

#[test]
fn one_user_one_client_one_issuer_in_the_singular() {
    let mut app = app();
    let store = MemoryAdmin::sample(NOW);
    app.update(Action::Admin(AdminUpdate::Users(vec![store.users[0].clone()])));
    app.update(Action::Admin(AdminUpdate::Clients(vec![store.clients[0].clone()])));
    app.update(Action::Admin(AdminUpdate::Issuers(vec![store.issuers[1].clone()])));
    press(&mut app, "4");
    assert!(text_of(&render(&mut app, 80, 24)).contains(" 1 user, 0 disabled"));
    press(&mut app, "5");
    assert!(text_of(&render(&mut app, 80, 24)).contains(" 1 client, 0 disabled"));
    press(&mut app, "2");
    let s = text_of(&render(&mut app, 80, 24));
    assert!(s.contains("1 issuer, fetched") && s.contains("0 keys"), "{s}");
}

#[test]
fn every_new_view_and_dialog_survives_tiny_terminals() {
    let mut app = app();
    let sequences = [
        "4", "5", "4a", "dave\n", "\n", "pw", "\x1b", "4jp", "y", "\x1b", "2!", "n", "5r", "n", "?G",
    ];
    for (w, h) in [(1, 1), (10, 3), (20, 5), (40, 10), (80, 8), (80, 24)] {
        for keys in sequences {
            for c in keys.chars() {
                let code = match c {
                    '\n' => KeyCode::Enter,
                    '\x1b' => KeyCode::Esc,
                    c => KeyCode::Char(c),
                };
                app.update(Action::Key(KeyEvent::new(code, KeyModifiers::NONE)));
            }
            render(&mut app, w, h);
        }
        press(&mut app, "?");
    }
}

#[test]
fn sessions_show_where_each_login_came_from() {
    let mut app = app();
    press(&mut app, "3");
    let screens = snapshots(&mut app, "sessions_devices");
    all_show(
        &screens,
        &[
            "via",
            "/auth/login",
            "mobile-app",
            "selected fam-01 via /auth/login  device Mozilla/5.0 (Macintosh",
        ],
    );
    // A column of devices on a wide terminal; at 80 columns the selected line says it.
    assert!(screens[1].contains("device (User-Agent)"), "{}", screens[1]);
    assert!(!screens[0].contains("device (User-Agent)"), "{}", screens[0]);
    assert!(screens[1].contains("MyApp/3.2 (iPhone"), "{}", screens[1]);
    press(&mut app, "j");
    let s = text_of(&render(&mut app, 80, 24));
    assert!(
        s.contains("selected fam-02 via mobile-app  device MyApp/3.2 (iPhone; iOS 17.1)"),
        "{s}"
    );
    press(&mut app, "j");
    let s = text_of(&render(&mut app, 80, 24));
    assert!(s.contains("device no User-Agent recorded"), "{s}");
}

#[test]
fn a_summary_line_shows_how_many_were_not_written_and_the_issuer() {
    let mut app = app();
    let mut f = failure(NOW - 1, "bad_signature", "mallory", "198.51.100.7:6000");
    f.record.hint = Some("47 more failures like this from 198.51.100.7 in the last minute were not written".into());
    f.record.suppressed = Some(47);
    f.record.issuer = Some("https://idp.example.com".into());
    app.update(Action::Log(LogUpdate::Batch(Batch {
        failures: vec![f],
        skipped: 0,
        more: false,
    })));
    for screen in snapshots(&mut app, "summary_line") {
        assert!(screen.contains("not written 47"), "{screen}");
        assert!(screen.contains("failures in"), "the top lists count the 47: {screen}");
        assert!(screen.contains("issuer https://idp.example.com"), "{screen}");
    }
}
