use super::*;
use crate::failure::Failure;
use crate::follow::Batch;
use jwtauth_core::audit::FailureRecord;

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
    let mut m = crate::admin::memory::MemoryAdmin::sample(NOW);
    app.update(Action::Admin(AdminUpdate::Keys(m.keys.clone())));
    app.update(Action::Admin(AdminUpdate::Sessions(
        crate::admin::Admin::list_sessions(&mut m).unwrap(),
    )));
    app
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
    assert_eq!(app.requests, vec![AdminRequest::Rotate(Some(Algorithm::ES384))]);
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
    let mut m = crate::admin::memory::MemoryAdmin::sample(NOW);
    app.update(Action::Admin(AdminUpdate::Keys(m.keys.clone())));
    app.update(Action::Admin(AdminUpdate::Sessions(
        crate::admin::Admin::list_sessions(&mut m).unwrap(),
    )));
    assert_eq!(
        app.message.as_ref().map(|m| m.text.as_str()),
        Some("reloaded: 3 keys and 3 sessions")
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
    assert_eq!(app.requests, vec![AdminRequest::Rotate(Some(Algorithm::ES256))]);
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
