//! Every key binding, as data: the event loop looks keys up here and the `?`
//! screen prints this same table.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// Leave.
    Quit,
    /// Show or hide the key list.
    Help,
    /// Next view.
    NextView,
    /// Previous view.
    PrevView,
    /// The failures view.
    ShowFailures,
    /// The keys view.
    ShowKeys,
    /// The sessions view.
    ShowSessions,
    /// The users view.
    ShowUsers,
    /// The clients view.
    ShowClients,
    /// Select the previous row.
    Up,
    /// Select the next row.
    Down,
    /// A page up.
    PageUp,
    /// A page down.
    PageDown,
    /// The first row.
    Top,
    /// The last row.
    Bottom,
    /// Start typing a filter.
    Filter,
    /// Clear the filter.
    ClearFilter,
    /// Follow new failures, or pause.
    ToggleFollow,
    /// Show or hide the details pane.
    ToggleDetails,
    /// Show or hide the chart and top lists.
    ToggleChart,
    /// A new key of a chosen algorithm (a publish-ahead rotation to that algorithm).
    NewKey,
    /// Rotate: a new key of the current algorithm, published now and signing
    /// after `key_publish_ahead` (asks first).
    RotateKey,
    /// Emergency rotation: the new key signs at once (asks first, with a warning).
    RotateNow,
    /// Retire the selected key.
    RetireKey,
    /// Export the JWKS to a file.
    ExportJwks,
    /// Revoke the selected session.
    RevokeSession,
    /// Revoke every session of the selected subject.
    RevokeSubject,
    /// Reload everything from the store now.
    Refresh,
    /// Add a user: name, roles, password typed twice.
    AddUser,
    /// Change the selected user's password (asks first; ends its sessions).
    SetPassword,
    /// Disable the selected user (asks first; ends its sessions).
    DisableUser,
    /// Enable the selected user.
    EnableUser,
    /// Add or remove roles of the selected user (asks first; ends its sessions).
    ChangeRoles,
    /// Delete the selected user (asks first).
    DeleteUser,
    /// Register a service client; its secret is shown once.
    AddClient,
    /// Disable the selected client (asks first).
    DisableClient,
    /// Replace the selected client's secret; the new one is shown once (asks first).
    RotateSecret,
}

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every view.
    Global,
    /// Failures view.
    Failures,
    /// Keys view.
    Keys,
    /// Sessions view.
    Sessions,
    /// Users view.
    Users,
    /// Clients view.
    Clients,
}

impl Scope {
    /// Heading on the help screen.
    pub fn title(self) -> &'static str {
        match self {
            Scope::Global => "Everywhere",
            Scope::Failures => "Failures",
            Scope::Keys => "Keys",
            Scope::Sessions => "Sessions",
            Scope::Users => "Users",
            Scope::Clients => "Clients",
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    /// Keys that trigger it.
    pub keys: &'static [KeyCode],
    /// How the keys are written on the help screen.
    pub label: &'static str,
    /// What it does.
    pub command: Command,
    /// Where.
    pub scope: Scope,
    /// Whether it changes the store (refused with `--read-only`).
    pub writes: bool,
    /// One line for the help screen.
    pub help: &'static str,
}

const fn b(
    keys: &'static [KeyCode],
    label: &'static str,
    command: Command,
    scope: Scope,
    writes: bool,
    help: &'static str,
) -> Binding {
    Binding {
        keys,
        label,
        command,
        scope,
        writes,
        help,
    }
}

use Command as C;
use KeyCode as K;
use Scope as S;

/// The table.
pub const BINDINGS: &[Binding] = &[
    b(
        &[K::Char('q'), K::Esc],
        "q Esc",
        C::Quit,
        S::Global,
        false,
        "quit (Esc: close prompt)",
    ),
    b(&[K::Char('?')], "?", C::Help, S::Global, false, "this help"),
    b(&[K::Tab], "Tab", C::NextView, S::Global, false, "next view"),
    b(&[K::BackTab], "S-Tab", C::PrevView, S::Global, false, "previous view"),
    b(&[K::Char('1')], "1", C::ShowFailures, S::Global, false, "failures view"),
    b(&[K::Char('2')], "2", C::ShowKeys, S::Global, false, "keys view"),
    b(&[K::Char('3')], "3", C::ShowSessions, S::Global, false, "sessions view"),
    b(&[K::Char('4')], "4", C::ShowUsers, S::Global, false, "users view"),
    b(&[K::Char('5')], "5", C::ShowClients, S::Global, false, "clients view"),
    b(&[K::Up, K::Char('k')], "↑ k", C::Up, S::Global, false, "previous row"),
    b(&[K::Down, K::Char('j')], "↓ j", C::Down, S::Global, false, "next row"),
    b(&[K::PageUp], "PgUp", C::PageUp, S::Global, false, "page up"),
    b(&[K::PageDown], "PgDn", C::PageDown, S::Global, false, "page down"),
    b(
        &[K::Home, K::Char('g')],
        "Home g",
        C::Top,
        S::Global,
        false,
        "first row",
    ),
    b(
        &[K::End, K::Char('G')],
        "End G",
        C::Bottom,
        S::Global,
        false,
        "last row",
    ),
    b(
        &[K::Char('/')],
        "/",
        C::Filter,
        S::Failures,
        false,
        "filter: r: s: a: text, !not",
    ),
    b(
        &[K::Char('x')],
        "x",
        C::ClearFilter,
        S::Failures,
        false,
        "clear the filter",
    ),
    b(
        &[K::Char('f')],
        "f",
        C::ToggleFollow,
        S::Failures,
        false,
        "follow new failures / pause",
    ),
    b(
        &[K::Enter],
        "Enter",
        C::ToggleDetails,
        S::Failures,
        false,
        "show / hide the details pane",
    ),
    b(
        &[K::Char('c')],
        "c",
        C::ToggleChart,
        S::Failures,
        false,
        "show / hide chart and tops",
    ),
    b(
        &[K::Char('n')],
        "n",
        C::NewKey,
        S::Keys,
        true,
        "new key: choose alg (asks)",
    ),
    b(
        &[K::Char('r')],
        "r",
        C::RotateKey,
        S::Keys,
        true,
        "rotate, same algorithm (asks)",
    ),
    b(
        &[K::Char('!')],
        "!",
        C::RotateNow,
        S::Keys,
        true,
        "rotate now: emergency (asks)",
    ),
    b(
        &[K::Char('d')],
        "d",
        C::RetireKey,
        S::Keys,
        true,
        "retire selected key (asks)",
    ),
    b(
        &[K::Char('e')],
        "e",
        C::ExportJwks,
        S::Keys,
        false,
        "export the JWKS to a file",
    ),
    b(
        &[K::Char('d')],
        "d",
        C::RevokeSession,
        S::Sessions,
        true,
        "revoke selected session",
    ),
    b(
        &[K::Char('D')],
        "D",
        C::RevokeSubject,
        S::Sessions,
        true,
        "revoke subject's sessions",
    ),
    b(
        &[K::Char('a')],
        "a",
        C::AddUser,
        S::Users,
        true,
        "add a user (password twice)",
    ),
    b(
        &[K::Char('p')],
        "p",
        C::SetPassword,
        S::Users,
        true,
        "new password (asks)",
    ),
    b(
        &[K::Char('d')],
        "d",
        C::DisableUser,
        S::Users,
        true,
        "disable, ends sessions (asks)",
    ),
    b(
        &[K::Char('e')],
        "e",
        C::EnableUser,
        S::Users,
        true,
        "enable a disabled user",
    ),
    b(
        &[K::Char('r')],
        "r",
        C::ChangeRoles,
        S::Users,
        true,
        "add / remove roles (asks)",
    ),
    b(
        &[K::Delete, K::Char('X')],
        "Del X",
        C::DeleteUser,
        S::Users,
        true,
        "delete the user (asks)",
    ),
    b(
        &[K::Char('a')],
        "a",
        C::AddClient,
        S::Clients,
        true,
        "add a client, secret once",
    ),
    b(
        &[K::Char('d')],
        "d",
        C::DisableClient,
        S::Clients,
        true,
        "disable the client (asks)",
    ),
    b(
        &[K::Char('r')],
        "r",
        C::RotateSecret,
        S::Clients,
        true,
        "new secret, shown once (asks)",
    ),
    b(
        &[K::Char('R')],
        "R",
        C::Refresh,
        S::Global,
        false,
        "reload from the store now",
    ),
];

/// Keys understood in prompts (filter, choices, confirmations); listed by `?` too.
pub const PROMPT_KEYS: &[(&str, &str)] = &[
    ("Enter", "apply / next / close"),
    ("Esc", "cancel"),
    ("y n", "yes / no to a confirmation"),
    ("↑ ↓", "choose an algorithm"),
];

/// The binding for a key press in `scope`: the view's own bindings first.
pub fn lookup(key: KeyEvent, scope: Scope) -> Option<&'static Binding> {
    let code = match key.code {
        // Shift+letter arrives as the upper-case char; other modifiers are not ours.
        K::Char(c) if key.modifiers.contains(KeyModifiers::CONTROL) => {
            return (c == 'c').then_some(&BINDINGS[0]);
        }
        code => code,
    };
    let hit = |s: Scope| BINDINGS.iter().find(|b| b.scope == s && b.keys.contains(&code));
    hit(scope).or_else(|| hit(Scope::Global))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    #[test]
    fn a_key_means_one_thing_per_scope() {
        for (i, a) in BINDINGS.iter().enumerate() {
            for b in &BINDINGS[i + 1..] {
                let clash = a.keys.iter().any(|k| b.keys.contains(k))
                    && (a.scope == b.scope || a.scope == Scope::Global || b.scope == Scope::Global);
                assert!(!clash, "{:?} and {:?} share a key", a.command, b.command);
            }
        }
    }

    #[test]
    fn lookup_prefers_the_view_then_global() {
        assert_eq!(
            lookup(key(K::Char('d')), Scope::Keys).map(|b| b.command),
            Some(C::RetireKey)
        );
        assert_eq!(
            lookup(key(K::Char('d')), Scope::Sessions).map(|b| b.command),
            Some(C::RevokeSession)
        );
        assert_eq!(lookup(key(K::Char('d')), Scope::Failures).map(|b| b.command), None);
        assert_eq!(lookup(key(K::Char('j')), Scope::Keys).map(|b| b.command), Some(C::Down));
        let ctrl_c = KeyEvent::new(K::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(lookup(ctrl_c, Scope::Failures).map(|b| b.command), Some(C::Quit));
    }

    #[test]
    fn every_write_is_scoped_to_a_view_of_the_store() {
        for b in BINDINGS.iter().filter(|b| b.writes) {
            assert!(
                matches!(b.scope, Scope::Keys | Scope::Sessions | Scope::Users | Scope::Clients),
                "{:?}",
                b.command
            );
        }
    }

    #[test]
    fn the_same_letter_does_each_view_its_own_thing() {
        assert_eq!(
            lookup(key(K::Char('r')), Scope::Keys).map(|b| b.command),
            Some(C::RotateKey)
        );
        assert_eq!(
            lookup(key(K::Char('r')), Scope::Users).map(|b| b.command),
            Some(C::ChangeRoles)
        );
        assert_eq!(
            lookup(key(K::Char('r')), Scope::Clients).map(|b| b.command),
            Some(C::RotateSecret)
        );
        assert_eq!(
            lookup(key(K::Delete), Scope::Users).map(|b| b.command),
            Some(C::DeleteUser)
        );
        assert_eq!(
            lookup(key(K::Char('4')), Scope::Keys).map(|b| b.command),
            Some(C::ShowUsers)
        );
    }
}
