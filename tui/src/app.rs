//! The application state and the one place it changes: [`App::update`] applies an
//! [`Action`] (a key, a tick, news from the log or the store). No I/O and no
//! drawing here; requests for the store are queued in [`App::requests`] for the
//! event loop to hand to the store thread.

use std::path::PathBuf;

use jwtauth_core::{Algorithm, KeyState};
use ratatui::crossterm::event::{KeyCode, KeyEvent};

use crate::admin::{ClientInfo, IssuerStatus, KeyInfo, Rotation, SessionInfo, UserInfo};
use crate::follow::{LogStatus, LogUpdate};
use crate::keymap::{self, Command, Scope};
use crate::secret::Secret;

mod accounts;
mod failures;
mod keys;
mod prompt;
pub use accounts::role_list;
pub use failures::Failures;
pub use prompt::{PasswordFor, Prompt, TextStep, Then};

/// The views, in tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// The failure log (default).
    Failures,
    /// Signing keys and trusted issuers.
    Keys,
    /// Refresh-token families.
    Sessions,
    /// Users who log in with a password.
    Users,
    /// OAuth service clients.
    Clients,
}

impl View {
    /// In tab order.
    pub const ALL: [View; 5] = [View::Failures, View::Keys, View::Sessions, View::Users, View::Clients];

    /// Tab title.
    pub fn title(self) -> &'static str {
        match self {
            View::Failures => "Failures",
            View::Keys => "Keys",
            View::Sessions => "Sessions",
            View::Users => "Users",
            View::Clients => "Clients",
        }
    }

    /// The bindings of this view.
    pub fn scope(self) -> Scope {
        match self {
            View::Failures => Scope::Failures,
            View::Keys => Scope::Keys,
            View::Sessions => Scope::Sessions,
            View::Users => Scope::Users,
            View::Clients => Scope::Clients,
        }
    }

    fn index(self) -> usize {
        View::ALL.iter().position(|v| *v == self).unwrap_or(0)
    }
}

/// What the store thread is asked to do. `Debug` never shows a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminRequest {
    /// Reload everything.
    Refresh,
    /// Rotate to a new key (of the algorithm, or the configured one).
    Rotate(Option<Algorithm>, Rotation),
    /// Retire a key.
    Retire(String),
    /// Write the JWKS to a file.
    ExportJwks(PathBuf),
    /// Revoke a session.
    RevokeSession(String),
    /// Revoke every session of a subject.
    RevokeSubject(String),
    /// Add a user.
    AddUser {
        /// Login name.
        name: String,
        /// Roles.
        roles: Vec<String>,
        /// Typed twice alike.
        password: Secret,
    },
    /// Change a user's password (ends its sessions).
    SetPassword {
        /// Login name.
        name: String,
        /// Typed twice alike.
        password: Secret,
    },
    /// Disable a user (ends its sessions).
    DisableUser(String),
    /// Let a disabled user log in again.
    EnableUser(String),
    /// Add and remove roles (ends the user's sessions).
    ChangeRoles {
        /// Login name.
        name: String,
        /// Roles to add.
        add: Vec<String>,
        /// Roles to remove.
        remove: Vec<String>,
    },
    /// Delete a user (ends its sessions).
    DeleteUser(String),
    /// Register a service client; its secret comes back to be shown once.
    AddClient {
        /// Client id.
        name: String,
        /// Roles.
        roles: Vec<String>,
    },
    /// Disable a client.
    DisableClient(String),
    /// Replace a client's secret; the new one comes back to be shown once.
    RotateClientSecret(String),
}

/// Whether the store can be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreStatus {
    /// Not tried yet.
    Connecting,
    /// Open; the masked URL.
    Connected(String),
    /// Unreachable; retried.
    Unavailable(String),
}

/// A client secret just made, to be shown once and then forgotten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownSecret {
    /// Whose.
    pub client_id: String,
    /// The secret.
    pub secret: Secret,
}

/// What the store thread reports.
#[derive(Debug, Clone, PartialEq)]
pub enum AdminUpdate {
    /// Reachability changed.
    Status(StoreStatus),
    /// `key_publish_ahead` in seconds (sent once the store is open).
    PublishAhead(i64),
    /// The keys, newest first.
    Keys(Vec<KeyInfo>),
    /// The trusted issuers, as this process sees them.
    Issuers(Vec<IssuerStatus>),
    /// The users.
    Users(Vec<UserInfo>),
    /// The service clients.
    Clients(Vec<ClientInfo>),
    /// The sessions; sent last of a reload.
    Sessions(Vec<SessionInfo>),
    /// A request succeeded; what to tell the user.
    Done(String),
    /// A request made a secret: show it once, and say `done`.
    Secret(ShownSecret, String),
    /// A request failed; why.
    Failed(String),
}

/// Everything that can happen to the app.
#[derive(Debug)]
pub enum Action {
    /// A key was pressed.
    Key(KeyEvent),
    /// Time passed; the wall clock now (Unix seconds).
    Tick(i64),
    /// News from the log thread.
    Log(LogUpdate),
    /// News from the store thread.
    Admin(AdminUpdate),
}

/// A message in the status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The text.
    pub text: String,
    /// Whether it reports a failure.
    pub error: bool,
}

/// A list with a selection (keys, sessions, users, clients).
#[derive(Debug)]
pub struct Listing<T> {
    /// The rows.
    pub items: Vec<T>,
    /// Selected row.
    pub selected: usize,
    /// Whether the store answered at least once.
    pub loaded: bool,
}

impl<T> Default for Listing<T> {
    fn default() -> Self {
        Listing {
            items: Vec::new(),
            selected: 0,
            loaded: false,
        }
    }
}

impl<T> Listing<T> {
    /// Takes a fresh list. The selection stays on the same item (by `id`) wherever it
    /// moved, so a list that re-sorts after a change never shifts the selection onto
    /// another item; an item that is gone leaves the selection at its row.
    fn replace<K: PartialEq>(&mut self, items: Vec<T>, id: impl Fn(&T) -> K) {
        let was = self.current().map(&id);
        self.items = items;
        self.loaded = true;
        let found = was.and_then(|k| self.items.iter().position(|t| id(t) == k));
        self.selected = found.unwrap_or(self.selected).min(self.items.len().saturating_sub(1));
    }

    /// The selected row.
    pub fn current(&self) -> Option<&T> {
        self.items.get(self.selected)
    }
}

/// The whole state.
#[derive(Debug)]
pub struct App {
    /// The view shown.
    pub view: View,
    /// The open prompt.
    pub prompt: Option<Prompt>,
    /// Whether the help screen is shown.
    pub help: bool,
    /// `--read-only`.
    pub read_only: bool,
    /// Failures.
    pub failures: Failures,
    /// Keys.
    pub keys: Listing<KeyInfo>,
    /// Sessions, by subject.
    pub sessions: Listing<SessionInfo>,
    /// Users, by name.
    pub users: Listing<UserInfo>,
    /// Service clients, by id.
    pub clients: Listing<ClientInfo>,
    /// Trusted issuers as this process sees them.
    pub issuers: Vec<IssuerStatus>,
    /// `key_publish_ahead` in seconds, once the store said.
    pub publish_ahead: Option<i64>,
    /// First line of the help screen's view sections (they scroll when they do not fit).
    pub help_scroll: usize,
    /// The log follower's state.
    pub log_status: LogStatus,
    /// The store's state.
    pub store_status: StoreStatus,
    /// The last message.
    pub message: Option<Message>,
    /// Wall clock (Unix seconds), moved by ticks.
    pub now: i64,
    /// Rows per page of the current table (set when drawn).
    pub page: usize,
    /// Set when the user asked to quit.
    pub quit: bool,
    /// Requests for the store thread, drained by the event loop.
    pub requests: Vec<AdminRequest>,
    /// Set by `R` until the reloaded lists arrive, to say so.
    reload_asked: bool,
}

impl App {
    /// A fresh state holding at most `ring_size` failures.
    pub fn new(ring_size: usize, read_only: bool, now: i64) -> App {
        App {
            view: View::Failures,
            prompt: None,
            help: false,
            read_only,
            failures: Failures::new(ring_size),
            keys: Listing::default(),
            sessions: Listing::default(),
            users: Listing::default(),
            clients: Listing::default(),
            issuers: Vec::new(),
            publish_ahead: None,
            help_scroll: 0,
            log_status: LogStatus::NoFiles(PathBuf::new()),
            store_status: StoreStatus::Connecting,
            message: None,
            now,
            page: 10,
            quit: false,
            requests: Vec::new(),
            reload_asked: false,
        }
    }

    /// Applies one action.
    pub fn update(&mut self, action: Action) {
        match action {
            Action::Key(key) => self.on_key(key),
            Action::Tick(now) => self.now = now,
            Action::Log(LogUpdate::Batch(b)) => self.failures.ingest(b),
            Action::Log(LogUpdate::Status(s)) => self.log_status = s,
            Action::Admin(u) => self.on_admin(u),
        }
    }

    fn on_admin(&mut self, u: AdminUpdate) {
        match u {
            AdminUpdate::Status(s) => self.store_status = s,
            AdminUpdate::PublishAhead(secs) => self.publish_ahead = Some(secs),
            AdminUpdate::Keys(k) => self.keys.replace(k, |k| k.kid.clone()),
            AdminUpdate::Issuers(i) => self.issuers = i,
            AdminUpdate::Users(u) => self.users.replace(u, |u| u.name.clone()),
            AdminUpdate::Clients(c) => self.clients.replace(c, |c| c.client_id.clone()),
            AdminUpdate::Sessions(mut s) => {
                s.sort_by(|a, b| a.subject.cmp(&b.subject).then(b.started_at.cmp(&a.started_at)));
                self.sessions.replace(s, |s| s.family_id.clone());
                // The store thread sends the sessions last: every list is in.
                if std::mem::take(&mut self.reload_asked) {
                    let text = format!(
                        "reloaded: {}, {}, {} and {}",
                        plural(self.keys.items.len(), "key", "keys"),
                        plural(self.sessions.items.len(), "session", "sessions"),
                        plural(self.users.items.len(), "user", "users"),
                        plural(self.clients.items.len(), "client", "clients")
                    );
                    self.say(text, false);
                }
            }
            AdminUpdate::Done(text) => self.message = Some(Message { text, error: false }),
            AdminUpdate::Secret(shown, text) => {
                // Nothing may hide it: it is shown this once. A prompt being typed
                // into is dropped (the operator sees why: the secret is in front).
                self.help = false;
                self.prompt = Some(Prompt::ShowSecret(shown));
                self.say(text, false);
            }
            AdminUpdate::Failed(text) => {
                self.reload_asked = false;
                self.message = Some(Message { text, error: true });
            }
        }
    }

    fn say(&mut self, text: impl Into<String>, error: bool) {
        self.message = Some(Message {
            text: text.into(),
            error,
        });
    }

    fn on_key(&mut self, key: KeyEvent) {
        // A message stays until the next key.
        self.message = None;
        if let Some(prompt) = self.prompt.take() {
            self.prompt = self.on_prompt_key(prompt, key);
            return;
        }
        let Some(binding) = keymap::lookup(key, self.view.scope()) else {
            return;
        };
        if self.help {
            let page = self.page.max(1);
            match binding.command {
                Command::Quit if key.code == KeyCode::Esc => self.help = false,
                Command::Help => self.help = false,
                Command::Quit => self.quit = true,
                // The drawing code keeps the scroll within what there is to see.
                Command::Up => self.help_scroll = self.help_scroll.saturating_sub(1),
                Command::Down => self.help_scroll = self.help_scroll.saturating_add(1),
                Command::PageUp => self.help_scroll = self.help_scroll.saturating_sub(page),
                Command::PageDown => self.help_scroll = self.help_scroll.saturating_add(page),
                Command::Top => self.help_scroll = 0,
                Command::Bottom => self.help_scroll = usize::MAX,
                _ => {}
            }
            return;
        }
        if binding.writes && self.read_only {
            self.say("read-only: nothing in the store can be changed", true);
            return;
        }
        self.run(binding.command);
    }

    fn run(&mut self, command: Command) {
        let n_views = View::ALL.len();
        match command {
            Command::Quit => self.quit = true,
            Command::Help => {
                self.help = true;
                self.help_scroll = 0;
            }
            Command::NextView => self.view = View::ALL[(self.view.index() + 1) % n_views],
            Command::PrevView => self.view = View::ALL[(self.view.index() + n_views - 1) % n_views],
            Command::ShowFailures => self.view = View::Failures,
            Command::ShowKeys => self.view = View::Keys,
            Command::ShowSessions => self.view = View::Sessions,
            Command::ShowUsers => self.view = View::Users,
            Command::ShowClients => self.view = View::Clients,
            Command::Up => self.move_by(-1),
            Command::Down => self.move_by(1),
            Command::PageUp => self.move_by(-(self.page.max(1) as isize)),
            Command::PageDown => self.move_by(self.page.max(1) as isize),
            Command::Top => self.move_by(isize::MIN),
            Command::Bottom => self.move_by(isize::MAX),
            Command::Filter => {
                self.prompt = Some(Prompt::Filter {
                    input: self.failures.filter_text.clone(),
                    previous: self.failures.filter_text.clone(),
                })
            }
            Command::ClearFilter => self.failures.set_filter(""),
            Command::ToggleFollow => {
                let f = &mut self.failures;
                f.follow = !f.follow;
                if f.follow {
                    f.selected = f.visible.len().saturating_sub(1);
                }
            }
            Command::ToggleDetails => self.failures.details = !self.failures.details,
            Command::ToggleChart => self.failures.chart = !self.failures.chart,
            Command::NewKey => {
                let selected = Algorithm::ALL
                    .iter()
                    .position(|a| Some(*a) == self.active_algorithm())
                    .unwrap_or(0);
                self.prompt = Some(Prompt::Algorithm { selected });
            }
            Command::RotateKey => {
                let alg = self.active_algorithm();
                self.prompt = Some(self.confirm_rotation(alg));
            }
            Command::RotateNow => {
                let alg = self.active_algorithm();
                self.prompt = Some(self.confirm_rotation_now(alg));
            }
            Command::RetireKey => {
                // Refused at once rather than after a question the core would answer
                // with no; the core still refuses on its own.
                match self.keys.current().map(|k| k.state) {
                    Some(KeyState::Active) => {
                        self.say(
                            "the active key cannot be retired: rotate first (r), then retire the old key",
                            true,
                        );
                        return;
                    }
                    Some(KeyState::Retired) => {
                        self.say("this key is already retired", true);
                        return;
                    }
                    _ => {}
                }
                if let Some(k) = self.keys.current() {
                    let request = AdminRequest::Retire(k.kid.to_string());
                    self.prompt = Some(Prompt::confirm(
                        format!(
                            "Retire key {} ({})? Its tokens will fail with unknown_kid.",
                            k.kid, k.algorithm
                        ),
                        request,
                    ));
                }
            }
            Command::ExportJwks => {
                self.prompt = Some(Prompt::ExportPath {
                    input: "jwks.json".into(),
                })
            }
            Command::RevokeSession => {
                if let Some(s) = self.sessions.current() {
                    self.prompt = Some(Prompt::confirm(
                        format!("Revoke session {} of {}?", s.family_id, s.subject),
                        AdminRequest::RevokeSession(s.family_id.clone()),
                    ));
                }
            }
            Command::RevokeSubject => {
                if let Some(s) = self.sessions.current() {
                    let n = self.sessions.items.iter().filter(|x| x.subject == s.subject).count();
                    self.prompt = Some(Prompt::confirm(
                        format!(
                            "Revoke every session of {} ({} listed)?",
                            s.subject,
                            plural(n, "session", "sessions")
                        ),
                        AdminRequest::RevokeSubject(s.subject.clone()),
                    ));
                }
            }
            Command::Refresh => {
                self.requests.push(AdminRequest::Refresh);
                self.reload_asked = true;
                self.say("reloading from the store…", false);
            }
            Command::AddUser
            | Command::SetPassword
            | Command::DisableUser
            | Command::EnableUser
            | Command::ChangeRoles
            | Command::DeleteUser
            | Command::AddClient
            | Command::DisableClient
            | Command::RotateSecret => self.run_account(command),
        }
    }

    fn move_by(&mut self, delta: isize) {
        let (selected, len) = match self.view {
            View::Failures => (&mut self.failures.selected, self.failures.visible.len()),
            View::Keys => (&mut self.keys.selected, self.keys.items.len()),
            View::Sessions => (&mut self.sessions.selected, self.sessions.items.len()),
            View::Users => (&mut self.users.selected, self.users.items.len()),
            View::Clients => (&mut self.clients.selected, self.clients.items.len()),
        };
        let last = len.saturating_sub(1);
        *selected = selected.saturating_add_signed(delta).min(last);
        let at_end = *selected == last;
        if self.view == View::Failures {
            // Moving up pauses following; moving down onto the newest resumes it.
            if delta < 0 {
                self.failures.follow = false;
            } else if at_end {
                self.failures.follow = true;
            }
        }
    }
}

/// `1 key`, `2 keys`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests;
