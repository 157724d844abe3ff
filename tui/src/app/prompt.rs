//! Prompts: modal dialogs that take every key while open. Each is a small state
//! machine step; Enter moves to the next step (another prompt, a confirmation or
//! a request for the store), Esc abandons it.

use std::path::PathBuf;

use jwtauth_core::Algorithm;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::{AdminRequest, App, ShownSecret};
use crate::secret::Secret;

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
    /// Choosing the algorithm of a new key.
    Algorithm {
        /// Index in [`Algorithm::ALL`].
        selected: usize,
    },
    /// A yes/no question before a change.
    Confirm {
        /// What is asked.
        question: String,
        /// What follows a yes.
        then: Then,
    },
    /// The file to export the JWKS to.
    ExportPath {
        /// What has been typed.
        input: String,
    },
    /// A line of a form: a name or roles.
    Text {
        /// Which line, and what was entered before it.
        step: TextStep,
        /// What has been typed.
        input: String,
    },
    /// A password, typed twice into a masked input.
    Password {
        /// Whose, and what it is for.
        purpose: PasswordFor,
        /// The first entry, once made; this entry must repeat it.
        first: Option<Secret>,
        /// What has been typed (never drawn).
        input: Secret,
        /// The last two entries differed (said in the dialog).
        mismatch: bool,
    },
    /// A client secret just made, shown this once.
    ShowSecret(ShownSecret),
}

/// What a yes to a confirmation leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Then {
    /// The change itself.
    Request(AdminRequest),
    /// A further prompt (the change needs more input, e.g. the new password).
    Ask(Box<Prompt>),
}

/// The text lines of the add-user, change-roles and add-client forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextStep {
    /// A new user's login name.
    UserName,
    /// A new user's roles.
    UserRoles {
        /// The name entered.
        name: String,
    },
    /// Roles to add (`+role` or `role`) and remove (`-role`).
    Roles {
        /// Whose.
        user: String,
        /// The roles listed now (shown as a reminder).
        current: Vec<String>,
    },
    /// A new client's id.
    ClientName,
    /// A new client's roles.
    ClientRoles {
        /// The id entered.
        name: String,
    },
}

/// What a password is typed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordFor {
    /// A user being added.
    NewUser {
        /// Login name.
        name: String,
        /// Roles.
        roles: Vec<String>,
    },
    /// A user's new password.
    Change {
        /// Login name.
        name: String,
    },
}

impl PasswordFor {
    /// The user's name.
    pub fn name(&self) -> &str {
        match self {
            PasswordFor::NewUser { name, .. } | PasswordFor::Change { name } => name,
        }
    }

    fn request(self, password: Secret) -> AdminRequest {
        match self {
            PasswordFor::NewUser { name, roles } => AdminRequest::AddUser { name, roles, password },
            PasswordFor::Change { name } => AdminRequest::SetPassword { name, password },
        }
    }
}

impl Prompt {
    /// A yes/no question whose yes sends `request`.
    pub fn confirm(question: impl Into<String>, request: AdminRequest) -> Prompt {
        Prompt::Confirm {
            question: question.into(),
            then: Then::Request(request),
        }
    }

    /// An empty masked password input.
    pub fn password(purpose: PasswordFor) -> Prompt {
        Prompt::Password {
            purpose,
            first: None,
            input: Secret::new(),
            mismatch: false,
        }
    }

    /// An empty line of a form.
    pub fn text(step: TextStep) -> Prompt {
        Prompt::Text {
            step,
            input: String::new(),
        }
    }
}

/// Role names typed as a list: separated by spaces or commas.
pub(super) fn words(input: &str) -> Vec<String> {
    input
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

impl App {
    pub(super) fn on_prompt_key(&mut self, prompt: Prompt, key: KeyEvent) -> Option<Prompt> {
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
            Prompt::Confirm { question, then } => match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => match then {
                    Then::Request(request) => {
                        self.requests.push(request);
                        None
                    }
                    Then::Ask(next) => Some(*next),
                },
                KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc | KeyCode::Char('q') => {
                    self.say("cancelled", false);
                    None
                }
                _ => Some(Prompt::Confirm { question, then }),
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
            Prompt::Text { step, mut input } => match key.code {
                KeyCode::Esc => {
                    self.say("cancelled", false);
                    None
                }
                KeyCode::Enter => self.text_entered(step, input),
                code => {
                    edit(&mut input, code, ctrl);
                    Some(Prompt::Text { step, input })
                }
            },
            Prompt::Password {
                purpose,
                first,
                mut input,
                mismatch,
            } => match key.code {
                KeyCode::Esc => {
                    self.say("cancelled; no password was changed", false);
                    None
                }
                // Nothing typed yet: Enter is a slip, not an empty password.
                KeyCode::Enter if input.is_empty() => Some(Prompt::Password {
                    purpose,
                    first,
                    input,
                    mismatch,
                }),
                KeyCode::Enter => match first {
                    None => Some(Prompt::Password {
                        purpose,
                        first: Some(input),
                        input: Secret::new(),
                        mismatch: false,
                    }),
                    // The CLI asks twice too, and refuses two different entries.
                    Some(first) if first == input => {
                        self.requests.push(purpose.request(input));
                        None
                    }
                    Some(_) => Some(Prompt::Password {
                        purpose,
                        first: None,
                        input: Secret::new(),
                        mismatch: true,
                    }),
                },
                code => {
                    match code {
                        KeyCode::Char('u') if ctrl => input.clear(),
                        KeyCode::Char(c) if !ctrl => input.push(c),
                        KeyCode::Backspace => {
                            input.pop();
                        }
                        _ => {}
                    }
                    Some(Prompt::Password {
                        purpose,
                        first,
                        input,
                        mismatch,
                    })
                }
            },
            // Closed only on purpose: a stray key leaves the secret in view.
            Prompt::ShowSecret(shown) => match key.code {
                KeyCode::Enter | KeyCode::Esc => {
                    self.say(
                        format!(
                            "the secret of '{}' is gone from the screen; only its hash is stored",
                            shown.client_id
                        ),
                        false,
                    );
                    None
                }
                _ => Some(Prompt::ShowSecret(shown)),
            },
        }
    }

    /// Enter on a line of a form: the next line, a confirmation, or the request.
    fn text_entered(&mut self, step: TextStep, input: String) -> Option<Prompt> {
        let name = input.trim().to_owned();
        match step {
            TextStep::UserName | TextStep::ClientName if name.is_empty() => Some(Prompt::Text { step, input }),
            TextStep::UserName => Some(Prompt::text(TextStep::UserRoles { name })),
            TextStep::UserRoles { name } => Some(Prompt::password(PasswordFor::NewUser {
                name,
                roles: words(&input),
            })),
            TextStep::ClientName => Some(Prompt::text(TextStep::ClientRoles { name })),
            TextStep::ClientRoles { name } => {
                self.requests.push(AdminRequest::AddClient {
                    name,
                    roles: words(&input),
                });
                None
            }
            TextStep::Roles { user, .. } => self.confirm_roles(user, &input),
        }
    }
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
