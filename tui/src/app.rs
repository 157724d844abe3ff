//! The application state and the one place it changes: [`App::update`] applies an
//! [`Action`] (a key, a tick, news from the log or the store). No I/O and no
//! drawing here; requests for the store are queued in [`App::requests`] for the
//! event loop to hand to the store thread.

use std::path::PathBuf;

use jwtauth_core::{Algorithm, KeyState};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::admin::{KeyInfo, SessionInfo};
use crate::follow::{LogStatus, LogUpdate};
use crate::keymap::{self, Command, Scope};

mod failures;
pub use failures::Failures;

/// The three views.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// The failure log (default).
    Failures,
    /// Signing keys.
    Keys,
    /// Refresh-token families.
    Sessions,
}

impl View {
    /// In tab order.
    pub const ALL: [View; 3] = [View::Failures, View::Keys, View::Sessions];

    /// Tab title.
    pub fn title(self) -> &'static str {
        match self {
            View::Failures => "Failures",
            View::Keys => "Keys",
            View::Sessions => "Sessions",
        }
    }

    fn scope(self) -> Scope {
        match self {
            View::Failures => Scope::Failures,
            View::Keys => Scope::Keys,
            View::Sessions => Scope::Sessions,
        }
    }

    fn index(self) -> usize {
        View::ALL.iter().position(|v| *v == self).unwrap_or(0)
    }
}

/// What the store thread is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminRequest {
    /// Reload keys and sessions.
    Refresh,
    /// Rotate to a new active key.
    Rotate(Option<Algorithm>),
    /// Retire a key.
    Retire(String),
    /// Write the JWKS to a file.
    ExportJwks(PathBuf),
    /// Revoke a session.
    RevokeSession(String),
    /// Revoke every session of a subject.
    RevokeSubject(String),
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

/// What the store thread reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminUpdate {
    /// Reachability changed.
    Status(StoreStatus),
    /// The keys, newest first.
    Keys(Vec<KeyInfo>),
    /// The sessions.
    Sessions(Vec<SessionInfo>),
    /// A request succeeded; what to tell the user.
    Done(String),
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

/// A modal prompt; while one is open it gets every key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    /// Typing a filter; `previous` is restored on Esc.
    Filter {
        /// What has been typed.
        input: String,
        /// The filter text before.
        previous: String,
    },
    /// Choosing the algorithm of a new active key.
    Algorithm {
        /// Index in [`Algorithm::ALL`].
        selected: usize,
    },
    /// A yes/no question before a change.
    Confirm {
        /// What is asked.
        question: String,
        /// What is done on yes.
        request: AdminRequest,
    },
    /// The file to export the JWKS to.
    ExportPath {
        /// What has been typed.
        input: String,
    },
}

/// A message in the status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The text.
    pub text: String,
    /// Whether it reports a failure.
    pub error: bool,
}

/// A list with a selection (keys, sessions).
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
            AdminUpdate::Keys(k) => self.keys.replace(k, |k| k.kid.clone()),
            AdminUpdate::Sessions(mut s) => {
                s.sort_by(|a, b| a.subject.cmp(&b.subject).then(b.started_at.cmp(&a.started_at)));
                self.sessions.replace(s, |s| s.family_id.clone());
                // The store thread sends the keys, then the sessions: both are in.
                if std::mem::take(&mut self.reload_asked) {
                    let text = format!(
                        "reloaded: {} and {}",
                        plural(self.keys.items.len(), "key", "keys"),
                        plural(self.sessions.items.len(), "session", "sessions")
                    );
                    self.say(text, false);
                }
            }
            AdminUpdate::Done(text) => self.message = Some(Message { text, error: false }),
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
            match binding.command {
                Command::Quit if key.code == KeyCode::Esc => self.help = false,
                Command::Help => self.help = false,
                Command::Quit => self.quit = true,
                _ => {}
            }
            return;
        }
        if binding.writes && self.read_only {
            self.say("read-only: keys and sessions cannot be changed", true);
            return;
        }
        self.run(binding.command);
    }

    fn run(&mut self, command: Command) {
        let n_views = View::ALL.len();
        match command {
            Command::Quit => self.quit = true,
            Command::Help => self.help = true,
            Command::NextView => self.view = View::ALL[(self.view.index() + 1) % n_views],
            Command::PrevView => self.view = View::ALL[(self.view.index() + n_views - 1) % n_views],
            Command::ShowFailures => self.view = View::Failures,
            Command::ShowKeys => self.view = View::Keys,
            Command::ShowSessions => self.view = View::Sessions,
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
                    self.prompt = Some(Prompt::Confirm {
                        question: format!(
                            "Retire key {} ({})? Its tokens will fail with unknown_kid.",
                            k.kid, k.algorithm
                        ),
                        request,
                    });
                }
            }
            Command::ExportJwks => {
                self.prompt = Some(Prompt::ExportPath {
                    input: "jwks.json".into(),
                })
            }
            Command::RevokeSession => {
                if let Some(s) = self.sessions.current() {
                    self.prompt = Some(Prompt::Confirm {
                        question: format!("Revoke session {} of {}?", s.family_id, s.subject),
                        request: AdminRequest::RevokeSession(s.family_id.clone()),
                    });
                }
            }
            Command::RevokeSubject => {
                if let Some(s) = self.sessions.current() {
                    let n = self.sessions.items.iter().filter(|x| x.subject == s.subject).count();
                    self.prompt = Some(Prompt::Confirm {
                        question: format!(
                            "Revoke every session of {} ({} listed)?",
                            s.subject,
                            plural(n, "session", "sessions")
                        ),
                        request: AdminRequest::RevokeSubject(s.subject.clone()),
                    });
                }
            }
            Command::Refresh => {
                self.requests.push(AdminRequest::Refresh);
                self.reload_asked = true;
                self.say("reloading keys and sessions…", false);
            }
        }
    }

    /// The question before a rotation to `alg` (`None`: the configured algorithm).
    fn confirm_rotation(&self, alg: Option<Algorithm>) -> Prompt {
        let current = self.keys.items.iter().find(|k| k.state == KeyState::Active);
        let new = alg.map_or_else(|| "configured algorithm".to_owned(), |a| a.to_string());
        let question = match current {
            Some(k) => format!(
                "Rotate? A new {new} key becomes active; {} turns verify-only until its tokens expire.",
                k.kid
            ),
            None => format!("Make a new {new} key the active one?"),
        };
        Prompt::Confirm {
            question,
            request: AdminRequest::Rotate(alg),
        }
    }

    fn active_algorithm(&self) -> Option<Algorithm> {
        self.keys
            .items
            .iter()
            .find(|k| k.state == KeyState::Active)
            .map(|k| k.algorithm)
    }

    fn move_by(&mut self, delta: isize) {
        let (selected, len) = match self.view {
            View::Failures => (&mut self.failures.selected, self.failures.visible.len()),
            View::Keys => (&mut self.keys.selected, self.keys.items.len()),
            View::Sessions => (&mut self.sessions.selected, self.sessions.items.len()),
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

    fn on_prompt_key(&mut self, prompt: Prompt, key: KeyEvent) -> Option<Prompt> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match prompt {
            Prompt::Filter { mut input, previous } => match key.code {
                KeyCode::Enter => None,
                KeyCode::Esc => {
                    self.failures.set_filter(&previous);
                    None
                }
                code => {
                    if edit(&mut input, code, ctrl) {
                        self.failures.set_filter(&input);
                    }
                    Some(Prompt::Filter { input, previous })
                }
            },
            Prompt::Algorithm { selected } => {
                let last = Algorithm::ALL.len() - 1;
                match key.code {
                    KeyCode::Esc | KeyCode::Char('q') => None,
                    KeyCode::Up | KeyCode::Char('k') => Some(Prompt::Algorithm {
                        selected: selected.saturating_sub(1),
                    }),
                    KeyCode::Down | KeyCode::Char('j') => Some(Prompt::Algorithm {
                        selected: (selected + 1).min(last),
                    }),
                    // A rotation is not undone by another: ask, like `r` does.
                    KeyCode::Enter => Some(self.confirm_rotation(Some(Algorithm::ALL[selected.min(last)]))),
                    _ => Some(Prompt::Algorithm { selected }),
                }
            }
            // Only `y` says yes: Enter, typed a moment earlier to choose (an algorithm),
            // must not also confirm the change it leads to.
            Prompt::Confirm { question, request } => match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => {
                    self.requests.push(request);
                    None
                }
                KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc | KeyCode::Char('q') => {
                    self.say("cancelled", false);
                    None
                }
                _ => Some(Prompt::Confirm { question, request }),
            },
            Prompt::ExportPath { mut input } => match key.code {
                KeyCode::Esc => None,
                KeyCode::Enter if !input.trim().is_empty() => {
                    self.requests
                        .push(AdminRequest::ExportJwks(PathBuf::from(input.trim())));
                    None
                }
                code => {
                    edit(&mut input, code, ctrl);
                    Some(Prompt::ExportPath { input })
                }
            },
        }
    }
}

/// `1 key`, `2 keys`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Line editing for prompts; returns whether the text changed.
fn edit(input: &mut String, code: KeyCode, ctrl: bool) -> bool {
    match code {
        KeyCode::Char('u') if ctrl => {
            input.clear();
            true
        }
        KeyCode::Char(c) if !ctrl => {
            input.push(c);
            true
        }
        KeyCode::Backspace => input.pop().is_some(),
        _ => false,
    }
}

#[cfg(test)]
mod tests;
