use super::*;
use crate::admin::Admin;
use crate::admin::memory::MemoryAdmin;
use crate::failure::Failure;
use crate::follow::Batch;
use jwtauth_core::audit::FailureRecord;
use ratatui::crossterm::event::KeyModifiers;

const NOW: i64 = 1_795_878_000;

fn fail(at: i64, reason: &str, subject: &str) -> Failure {
    Failure {
        seq: 0,
        at,
        reason: reason.parse().ok(),
        record: FailureRecord {
            time: String::new(),
            reason: reason.into(),
            subject: Some(subject.into()),
            client: Some("10.0.0.1:1".into()),
            ..Default::default()
        },
    }
}

fn batch(fs: Vec<Failure>) -> Action {
    Action::Log(LogUpdate::Batch(Batch {
        failures: fs,
        skipped: 0,
        more: false,
    }))
}

fn key(c: KeyCode) -> Action {
    Action::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

fn typed(app: &mut App, s: &str) {
    for c in s.chars() {
        app.update(key(KeyCode::Char(c)));
    }
}

#[test]
fn following_selects_the_newest_and_moving_up_pauses() {
    let mut app = App::new(100, false, NOW);
    app.update(batch((0..5).map(|i| fail(NOW + i, "expired", "a")).collect()));
    assert_eq!(app.failures.selected, 4);
    app.update(key(KeyCode::Up));
    assert!(!app.failures.follow);
    assert_eq!(app.failures.selected, 3);
    app.update(batch(vec![fail(NOW, "revoked", "b")]));
    assert_eq!(app.failures.selected, 3, "paused: the selection stays");
    assert_eq!(app.failures.selected_failure().map(|f| f.at), Some(NOW + 3));
    app.update(key(KeyCode::Char('G')));
    assert!(app.failures.follow, "the end resumes following");
    app.update(key(KeyCode::Char('f')));
    assert!(!app.failures.follow);
}

#[test]
fn a_full_ring_drops_the_oldest_and_the_selection_keeps_its_failure() {
    let mut app = App::new(3, false, NOW);
    app.update(batch((0..3).map(|i| fail(NOW + i, "expired", "a")).collect()));
    app.update(key(KeyCode::Char('k'))); // pause on NOW+1
    app.update(batch(vec![fail(NOW + 3, "expired", "a")]));
    assert_eq!(app.failures.ring.len(), 3);
    assert_eq!(app.failures.selected_failure().map(|f| f.at), Some(NOW + 1));
    assert_eq!(app.failures.tallies.top_reasons(1), vec![("expired", 3)]);
    assert_eq!(app.failures.total, 4);
}

#[test]
fn filter_as_you_type_and_escape_restores_the_previous_filter() {
    let mut app = App::new(100, false, NOW);
    app.update(batch(vec![
        fail(NOW, "expired", "alice"),
        fail(NOW, "wrong_audience", "bob"),
        fail(NOW, "expired", "bob"),
    ]));
    app.update(key(KeyCode::Char('/')));
    typed(&mut app, "s:bob");
    assert_eq!(app.failures.visible.len(), 2);
    typed(&mut app, " !expired");
    assert_eq!(app.failures.visible.len(), 1);
    assert_eq!(
        app.failures.selected_failure().map(|f| f.record.reason.as_str()),
        Some("wrong_audience")
    );
    app.update(key(KeyCode::Enter));
    assert!(app.prompt.is_none());
    // A new failure is filtered as it arrives.
    app.update(batch(vec![
        fail(NOW, "wrong_audience", "bob"),
        fail(NOW, "expired", "bob"),
    ]));
    assert_eq!(app.failures.visible.len(), 2);
    // Keys typed in the prompt are text, not commands.
    app.update(key(KeyCode::Char('/')));
    typed(&mut app, "q");
    assert!(!app.quit);
    app.update(key(KeyCode::Esc));
    assert_eq!(app.failures.filter_text, "s:bob !expired");
    app.update(key(KeyCode::Char('x')));
    assert_eq!(app.failures.visible.len(), 5);
}

fn with_store() -> App {
    let mut app = App::new(10, false, NOW);
    load(&mut app, &mut MemoryAdmin::sample(NOW));
    app
}

/// What the store thread sends on connecting, in its order.
fn load(app: &mut App, m: &mut MemoryAdmin) {
    app.update(Action::Admin(AdminUpdate::PublishAhead(m.publish_ahead())));
    for u in crate::worker::lists(m).unwrap() {
        app.update(Action::Admin(u));
    }
}

#[test]
fn a_new_key_asks_for_the_algorithm_then_queues_a_rotation_to_it() {
    let mut app = with_store();
    app.update(key(KeyCode::Char('2')));
    app.update(key(KeyCode::Char('n')));
    assert_eq!(
        app.prompt,
        Some(Prompt::Algorithm {
            selected: 9 // ES256, the active key's
        })
    );
    app.update(key(KeyCode::Down));
    app.update(key(KeyCode::Enter));
    assert!(
        app.requests.is_empty(),
        "Enter chooses; the rotation is asked about first"
    );
    assert!(matches!(&app.prompt, Some(Prompt::Confirm { question, .. }) if question.contains("new ES384 key")));
    // A second Enter (a reflex) does not say yes.
    app.update(key(KeyCode::Enter));
    assert!(app.requests.is_empty());
    app.update(key(KeyCode::Char('y')));
    assert_eq!(
        app.requests,
        vec![AdminRequest::Rotate(Some(Algorithm::ES384), Rotation::PublishAhead)]
    );
}

#[test]
fn retiring_the_active_or_a_retired_key_is_refused_at_once() {
    let mut app = with_store();
    app.update(key(KeyCode::Char('2')));
    assert_eq!(app.keys.current().map(|k| k.state), Some(KeyState::Active));
    app.update(key(KeyCode::Char('d')));
    assert!(app.prompt.is_none(), "no question whose answer would be no");
    assert!(
        app.message
            .as_ref()
            .is_some_and(|m| m.error && m.text.contains("active key cannot be retired"))
    );
    app.update(key(KeyCode::Char('G')));
    assert_eq!(app.keys.current().map(|k| k.state), Some(KeyState::Retired));
    app.update(key(KeyCode::Char('d')));
    assert!(app.prompt.is_none());
    assert!(app.message.as_ref().is_some_and(|m| m.text.contains("already retired")));
    assert!(app.requests.is_empty());
}

#[test]
fn the_selection_follows_its_key_when_the_list_re_sorts() {
    let mut app = with_store();
    app.update(key(KeyCode::Char('2')));
    app.update(key(KeyCode::Char('j')));
    assert_eq!(app.keys.current().map(|k| k.kid.as_str()), Some("k1-es256-19c0"));
    // The store answers with another order (as after a retirement moves a key down).
    let mut keys = app.keys.items.clone();
    keys.reverse();
    app.update(Action::Admin(AdminUpdate::Keys(keys)));
    assert_eq!(app.keys.current().map(|k| k.kid.as_str()), Some("k1-es256-19c0"));
    // A selected item that is gone leaves the selection on its row, within the list.
    let one = vec![app.keys.items[0].clone()];
    app.update(Action::Admin(AdminUpdate::Keys(one)));
    assert_eq!(app.keys.selected, 0);
}

#[test]
fn reloading_says_so_and_then_what_it_found() {
    let mut app = with_store();
    app.update(key(KeyCode::Char('R')));
    assert_eq!(app.requests, vec![AdminRequest::Refresh]);
    assert!(app.message.as_ref().is_some_and(|m| m.text.contains("reloading")));
    load(&mut app, &mut MemoryAdmin::sample(NOW));
    assert_eq!(
        app.message.as_ref().map(|m| m.text.as_str()),
        Some("reloaded: 3 keys, 3 sessions, 4 users and 2 clients")
    );
    // The periodic reload that follows says nothing.
    app.message = None;
    app.update(Action::Admin(AdminUpdate::Sessions(Vec::new())));
    assert!(app.message.is_none());
}

#[test]
fn counts_are_written_in_the_singular_for_one() {
    assert_eq!(plural(1, "key", "keys"), "1 key");
    assert_eq!(plural(0, "key", "keys"), "0 keys");
    assert_eq!(plural(2, "session", "sessions"), "2 sessions");
}

#[test]
fn the_top_lists_count_only_what_passes_the_filter() {
    let mut app = App::new(3, false, NOW);
    app.update(batch(vec![
        fail(NOW, "expired", "alice"),
        fail(NOW, "wrong_audience", "bob"),
        fail(NOW, "expired", "bob"),
    ]));
    assert_eq!(app.failures.top().top_subjects(5), vec![("bob", 2), ("alice", 1)]);
    app.update(key(KeyCode::Char('/')));
    typed(&mut app, "r:expired");
    app.update(key(KeyCode::Enter));
    let mut subjects = app.failures.top().top_subjects(5);
    subjects.sort();
    assert_eq!(subjects, vec![("alice", 1), ("bob", 1)]);
    assert_eq!(app.failures.top().top_reasons(5), vec![("expired", 2)]);
    // The ring is full: the oldest (alice's) leaves the counts as it leaves the ring.
    app.update(batch(vec![fail(NOW, "expired", "carol")]));
    let mut subjects = app.failures.top().top_subjects(5);
    subjects.sort();
    assert_eq!(subjects, vec![("bob", 1), ("carol", 1)]);
    app.update(key(KeyCode::Char('x')));
    assert_eq!(app.failures.top().top_reasons(1), vec![("expired", 2)]);
}

#[test]
fn rotating_keeps_the_algorithm_and_asks_first() {
    let mut app = with_store();
    app.update(key(KeyCode::Char('2')));
    app.update(key(KeyCode::Char('r')));
    assert!(
        matches!(&app.prompt, Some(Prompt::Confirm { question, .. }) if question.contains("k2-es256-7f3a turns verify-only"))
    );
    app.update(key(KeyCode::Char('y')));
    assert_eq!(
        app.requests,
        vec![AdminRequest::Rotate(Some(Algorithm::ES256), Rotation::PublishAhead)]
    );
}

#[test]
fn retiring_needs_a_yes() {
    let mut app = with_store();
    app.update(key(KeyCode::Char('2')));
    app.update(key(KeyCode::Char('j')));
    app.update(key(KeyCode::Char('d')));
    assert!(matches!(&app.prompt, Some(Prompt::Confirm { question, .. }) if question.contains("k1-es256-19c0")));
    app.update(key(KeyCode::Char('n')));
    assert!(app.requests.is_empty() && app.prompt.is_none());
    app.update(key(KeyCode::Char('d')));
    app.update(key(KeyCode::Char('y')));
    assert_eq!(app.requests, vec![AdminRequest::Retire("k1-es256-19c0".into())]);
}

#[test]
fn read_only_refuses_every_change_but_export() {
    let mut app = with_store();
    app.read_only = true;
    app.update(key(KeyCode::Char('2')));
    for c in ['n', 'r', 'd'] {
        app.update(key(KeyCode::Char(c)));
        assert!(app.prompt.is_none(), "{c}");
    }
    assert!(
        app.message
            .as_ref()
            .is_some_and(|m| m.error && m.text.contains("read-only"))
    );
    app.update(key(KeyCode::Char('3')));
    app.update(key(KeyCode::Char('D')));
    assert!(app.prompt.is_none());
    app.update(key(KeyCode::Char('2')));
    app.update(key(KeyCode::Char('e')));
    app.update(key(KeyCode::Enter));
    assert_eq!(app.requests, vec![AdminRequest::ExportJwks("jwks.json".into())]);
}

#[test]
fn sessions_are_grouped_by_subject_and_a_subject_can_be_revoked() {
    let mut app = with_store();
    app.update(key(KeyCode::Tab));
    app.update(key(KeyCode::Tab));
    assert_eq!(app.view, View::Sessions);
    let subjects: Vec<_> = app.sessions.items.iter().map(|s| s.subject.as_str()).collect();
    assert_eq!(subjects, vec!["alice", "alice", "bob"]);
    app.update(key(KeyCode::Char('D')));
    assert!(
        matches!(&app.prompt, Some(Prompt::Confirm { question, .. }) if question.contains("alice (2 sessions listed)"))
    );
    app.update(key(KeyCode::Char('y')));
    assert_eq!(app.requests, vec![AdminRequest::RevokeSubject("alice".into())]);
}

#[test]
fn help_opens_and_closes_and_q_or_esc_quit() {
    let mut app = App::new(10, false, NOW);
    app.update(key(KeyCode::Char('?')));
    assert!(app.help);
    app.update(key(KeyCode::Esc));
    assert!(!app.help && !app.quit);
    app.update(key(KeyCode::Esc));
    assert!(app.quit);
    let mut app = App::new(10, false, NOW);
    app.update(key(KeyCode::Char('q')));
    assert!(app.quit);
}

fn press(app: &mut App, keys: &str) {
    for c in keys.chars() {
        let code = match c {
            '\n' => KeyCode::Enter,
            '\x1b' => KeyCode::Esc,
            c => KeyCode::Char(c),
        };
        app.update(key(code));
    }
}

#[test]
fn tab_cycles_through_all_five_views_and_each_has_a_hotkey() {
    let mut app = with_store();
    let mut seen = vec![app.view];
    for _ in 0..5 {
        app.update(key(KeyCode::Tab));
        seen.push(app.view);
    }
    assert_eq!(
        seen,
        [
            View::Failures,
            View::Keys,
            View::Sessions,
            View::Users,
            View::Clients,
            View::Failures
        ]
    );
    press(&mut app, "4");
    assert_eq!(app.view, View::Users);
    press(&mut app, "5");
    assert_eq!(app.view, View::Clients);
    app.update(key(KeyCode::BackTab));
    assert_eq!(app.view, View::Users);
}

#[test]
fn adding_a_user_asks_name_roles_then_the_password_twice() {
    let mut app = with_store();
    press(&mut app, "4a");
    press(&mut app, "\n");
    assert_eq!(app.prompt, Some(Prompt::text(TextStep::UserName)), "a name is needed");
    press(&mut app, "dave\nEditor, Viewer\n");
    assert!(matches!(&app.prompt, Some(Prompt::Password { first: None, .. })));
    // Keys typed into the password are text, not commands.
    press(&mut app, "q1 long pw\n");
    assert!(!app.quit);
    assert!(matches!(&app.prompt, Some(Prompt::Password { first: Some(_), .. })));
    assert!(app.requests.is_empty(), "asked twice, like the CLI");
    press(&mut app, "q1 long pw\n");
    assert_eq!(
        app.requests,
        vec![AdminRequest::AddUser {
            name: "dave".into(),
            roles: vec!["Editor".into(), "Viewer".into()],
            password: Secret::from("q1 long pw"),
        }]
    );
    assert!(app.prompt.is_none());
    let shown = format!("{:?}", app.requests);
    assert!(!shown.contains("q1 long pw"), "Debug never shows the password: {shown}");
}

#[test]
fn two_different_passwords_start_the_password_over() {
    let mut app = with_store();
    press(&mut app, "4adave\n\nfirst-password\nsecond-password\n");
    let Some(Prompt::Password {
        first, input, mismatch, ..
    }) = &app.prompt
    else {
        panic!("still asking: {:?}", app.prompt)
    };
    assert!(first.is_none() && input.is_empty() && *mismatch);
    assert!(app.requests.is_empty());
    // Backspace edits the masked input.
    press(&mut app, "abcdefghX");
    app.update(key(KeyCode::Backspace));
    press(&mut app, "\nabcdefgh\n");
    assert!(matches!(&app.requests[..], [AdminRequest::AddUser { password, .. }] if password.expose() == "abcdefgh"));
}

#[test]
fn a_new_password_is_asked_about_before_it_is_typed() {
    let mut app = with_store();
    press(&mut app, "4jp");
    assert!(
        matches!(&app.prompt, Some(Prompt::Confirm { question, .. }) if question.contains("Change the password of alice? Every session and access token of alice ends."))
    );
    press(&mut app, "y");
    assert!(
        matches!(&app.prompt, Some(Prompt::Password { purpose: PasswordFor::Change { name }, .. }) if name == "alice")
    );
    press(&mut app, "new secret 1\x1b");
    assert!(app.prompt.is_none() && app.requests.is_empty());
    assert!(
        app.message
            .as_ref()
            .is_some_and(|m| m.text.contains("no password was changed"))
    );
    press(&mut app, "pynew secret 1\nnew secret 1\n");
    assert_eq!(
        app.requests,
        vec![AdminRequest::SetPassword {
            name: "alice".into(),
            password: Secret::from("new secret 1"),
        }]
    );
}

#[test]
fn disable_delete_and_roles_need_a_yes_and_enable_is_at_once() {
    let mut app = with_store();
    press(&mut app, "4j");
    press(&mut app, "dn");
    assert!(app.requests.is_empty());
    press(&mut app, "d");
    assert!(matches!(&app.prompt, Some(Prompt::Confirm { question, .. }) if question.starts_with("Disable alice?")));
    press(&mut app, "y");
    press(&mut app, "Xy");
    press(&mut app, "r");
    assert!(
        matches!(&app.prompt, Some(Prompt::Text { step: TextStep::Roles { user, current }, .. }) if user == "alice" && current == &["Editor", "Viewer"])
    );
    press(&mut app, "+Admin -Viewer,Auditor\n");
    assert!(
        matches!(&app.prompt, Some(Prompt::Confirm { question, .. }) if question.starts_with("Roles of alice: add Admin, Auditor; remove Viewer?"))
    );
    press(&mut app, "y");
    assert_eq!(
        app.requests,
        vec![
            AdminRequest::DisableUser("alice".into()),
            AdminRequest::DeleteUser("alice".into()),
            AdminRequest::ChangeRoles {
                name: "alice".into(),
                add: vec!["Admin".into(), "Auditor".into()],
                remove: vec!["Viewer".into()],
            },
        ]
    );
    app.requests.clear();
    // Nothing typed: nothing to ask about.
    press(&mut app, "r - +\n");
    assert!(app.prompt.is_none() && app.requests.is_empty());
    assert!(
        app.message
            .as_ref()
            .is_some_and(|m| m.error && m.text.contains("no role named"))
    );
    // Enabling is not destructive: no question; asked of an enabled user, it says so.
    press(&mut app, "e");
    assert!(app.message.as_ref().is_some_and(|m| m.text == "alice is not disabled"));
    press(&mut app, "Ge");
    assert_eq!(app.requests, vec![AdminRequest::EnableUser("carol".into())]);
    press(&mut app, "d");
    assert!(app.prompt.is_none());
    assert!(
        app.message
            .as_ref()
            .is_some_and(|m| m.text.contains("carol is already disabled"))
    );
}

#[test]
fn the_user_selection_follows_its_name_when_the_list_changes() {
    let mut app = with_store();
    press(&mut app, "4jj");
    assert_eq!(app.users.current().map(|u| u.name.as_str()), Some("bob"));
    let mut users = app.users.items.clone();
    users.remove(0);
    users.reverse();
    app.update(Action::Admin(AdminUpdate::Users(users)));
    assert_eq!(app.users.current().map(|u| u.name.as_str()), Some("bob"));
    let mut clients = app.clients.items.clone();
    press(&mut app, "5j");
    assert_eq!(app.clients.current().map(|c| c.client_id.as_str()), Some("reports"));
    clients.reverse();
    app.update(Action::Admin(AdminUpdate::Clients(clients)));
    assert_eq!(app.clients.current().map(|c| c.client_id.as_str()), Some("reports"));
}

#[test]
fn a_client_secret_is_shown_once_and_gone_once_dismissed() {
    let mut app = with_store();
    press(&mut app, "5aledger\nReader Writer\n");
    assert_eq!(
        app.requests,
        vec![AdminRequest::AddClient {
            name: "ledger".into(),
            roles: vec!["Reader".into(), "Writer".into()],
        }]
    );
    assert!(app.prompt.is_none());
    // The operator opened the help meanwhile: the secret comes in front of it.
    press(&mut app, "?");
    let secret = "jwtcs_9Zt4Qk2Lm7Xw1Rb8Vn3Ch6Dy5Fg0Jp4Ts8Ua2Ie1Ok";
    let shown = crate::app::ShownSecret {
        client_id: "ledger".into(),
        secret: Secret::from(secret),
    };
    app.update(Action::Admin(AdminUpdate::Secret(
        shown,
        "client 'ledger' added".into(),
    )));
    assert!(!app.help);
    assert!(matches!(&app.prompt, Some(Prompt::ShowSecret(s)) if s.secret.expose() == secret));
    assert!(!format!("{app:?}").contains(secret), "never in Debug");
    // A stray key does not close it; `q` does not quit from under it.
    press(&mut app, "jq");
    assert!(matches!(&app.prompt, Some(Prompt::ShowSecret(_))) && !app.quit);
    press(&mut app, "\n");
    assert!(app.prompt.is_none());
    assert!(
        app.message
            .as_ref()
            .is_some_and(|m| m.text.contains("only its hash is stored"))
    );
}

#[test]
fn a_client_secret_rotation_and_a_disable_ask_first() {
    let mut app = with_store();
    press(&mut app, "5r");
    assert!(
        matches!(&app.prompt, Some(Prompt::Confirm { question, .. }) if question.contains("The old secret stops working at once"))
    );
    press(&mut app, "ydy");
    assert_eq!(
        app.requests,
        vec![
            AdminRequest::RotateClientSecret("billing-svc".into()),
            AdminRequest::DisableClient("billing-svc".into()),
        ]
    );
    press(&mut app, "jd");
    assert!(app.prompt.is_none());
    assert!(
        app.message
            .as_ref()
            .is_some_and(|m| m.text == "reports is already disabled")
    );
}

#[test]
fn a_rotation_says_when_the_key_signs_and_an_emergency_one_warns() {
    let mut app = with_store();
    press(&mut app, "2r");
    let Some(Prompt::Confirm { question, .. }) = &app.prompt else {
        panic!("{:?}", app.prompt)
    };
    assert!(
        question.contains(
            "published in the JWKS now and starts signing at 2026-11-28 15:10 UTC (in 10 min, key_publish_ahead)"
        ),
        "{question}"
    );
    press(&mut app, "y!");
    let Some(Prompt::Confirm { question, .. }) = &app.prompt else {
        panic!("{:?}", app.prompt)
    };
    assert!(question.contains("signs at once"), "{question}");
    assert!(
        question.contains("WARNING: relying parties with a cached JWKS reject its tokens"),
        "{question}"
    );
    press(&mut app, "y");
    assert_eq!(
        app.requests,
        vec![
            AdminRequest::Rotate(Some(Algorithm::ES256), Rotation::PublishAhead),
            AdminRequest::Rotate(Some(Algorithm::ES256), Rotation::Now),
        ]
    );
    // A pending next key is named: the rotation withdraws it.
    let mut m = MemoryAdmin::sample(NOW);
    let next = m.rotate_key(None, Rotation::PublishAhead).unwrap();
    app.update(Action::Admin(AdminUpdate::Keys(m.keys.clone())));
    press(&mut app, "r");
    assert!(
        matches!(&app.prompt, Some(Prompt::Confirm { question, .. }) if question.contains(&format!("The pending next key {} is withdrawn.", next.kid)))
    );
    press(&mut app, "n");
    // With key_publish_ahead = 0 the question says the key signs at once.
    app.update(Action::Admin(AdminUpdate::PublishAhead(0)));
    press(&mut app, "r");
    assert!(
        matches!(&app.prompt, Some(Prompt::Confirm { question, .. }) if question.contains("key_publish_ahead is 0: a new ES256 key signs at once"))
    );
}

#[test]
fn read_only_refuses_user_and_client_changes() {
    let mut app = with_store();
    app.read_only = true;
    for keys in ["4a", "4p", "4d", "4e", "4r", "4X", "5a", "5d", "5r", "2!"] {
        press(&mut app, keys);
        assert!(app.prompt.is_none(), "{keys}");
        assert!(
            app.message
                .as_ref()
                .is_some_and(|m| m.error && m.text.contains("read-only"))
        );
    }
    assert!(app.requests.is_empty());
}

#[test]
fn an_empty_list_says_nothing_is_selected() {
    let mut app = App::new(10, false, NOW);
    app.update(Action::Admin(AdminUpdate::Users(Vec::new())));
    press(&mut app, "4d");
    assert!(app.prompt.is_none());
    assert!(app.message.as_ref().is_some_and(|m| m.text == "no user selected"));
    press(&mut app, "5r");
    assert!(app.message.as_ref().is_some_and(|m| m.text == "no client selected"));
    // Adding needs no selection.
    press(&mut app, "a");
    assert_eq!(app.prompt, Some(Prompt::text(TextStep::ClientName)));
}
