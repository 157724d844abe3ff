//! The Users and Clients views' commands. What is allowed (names, roles,
//! passwords) and what a change ends (sessions, tokens) is the core's to decide;
//! the questions here only say what the core will do, before it does it.

use super::prompt::{PasswordFor, Prompt, TextStep, Then, words};
use super::{AdminRequest, App};
use crate::keymap::Command;

/// Roles typed as `+role` or `role` (add) and `-role` (remove).
pub(super) fn role_changes(input: &str) -> (Vec<String>, Vec<String>) {
    let (mut add, mut remove) = (Vec::new(), Vec::new());
    for w in words(input) {
        match w.strip_prefix('-') {
            Some(r) if !r.is_empty() => remove.push(r.to_owned()),
            Some(_) => {}
            None => {
                let r = w.strip_prefix('+').unwrap_or(&w);
                if !r.is_empty() {
                    add.push(r.to_owned());
                }
            }
        }
    }
    (add, remove)
}

/// `[Admin, Editor]`, as the CLI writes a role list.
pub fn role_list(roles: &[String]) -> String {
    format!("[{}]", roles.join(", "))
}

impl App {
    pub(super) fn run_account(&mut self, command: Command) {
        match command {
            Command::AddUser => self.prompt = Some(Prompt::text(TextStep::UserName)),
            Command::AddClient => self.prompt = Some(Prompt::text(TextStep::ClientName)),
            _ => self.on_selected_account(command),
        }
    }

    fn on_selected_account(&mut self, command: Command) {
        if let Some(u) = self.users.current().filter(|_| self.view == super::View::Users) {
            let name = u.name.clone();
            let disabled = u.disabled;
            let ends = format!("Every session and access token of {name} ends.");
            self.prompt = match command {
                Command::SetPassword => Some(Prompt::Confirm {
                    question: format!("Change the password of {name}? {ends} The new password is typed twice next."),
                    then: Then::Ask(Box::new(Prompt::password(PasswordFor::Change { name }))),
                }),
                Command::DisableUser if disabled => {
                    self.say(format!("{name} is already disabled (e enables)"), true);
                    None
                }
                Command::DisableUser => Some(Prompt::confirm(
                    format!("Disable {name}? It can no longer log in. {ends}"),
                    AdminRequest::DisableUser(name),
                )),
                Command::EnableUser if !disabled => {
                    self.say(format!("{name} is not disabled"), true);
                    None
                }
                // Not destructive: done at once, like the CLI.
                Command::EnableUser => {
                    self.requests.push(AdminRequest::EnableUser(name));
                    None
                }
                Command::ChangeRoles => Some(Prompt::text(TextStep::Roles {
                    user: name,
                    current: u.roles.clone(),
                })),
                Command::DeleteUser => Some(Prompt::confirm(
                    format!("Delete {name}? {ends} The name may later be given to a new user."),
                    AdminRequest::DeleteUser(name),
                )),
                _ => None,
            };
            return;
        }
        if let Some(c) = self.clients.current().filter(|_| self.view == super::View::Clients) {
            let id = c.client_id.clone();
            self.prompt = match command {
                Command::DisableClient if c.disabled => {
                    self.say(format!("{id} is already disabled"), true);
                    None
                }
                Command::DisableClient => Some(Prompt::confirm(
                    format!("Disable client {id}? It gets no more tokens, and the tokens it holds stop validating."),
                    AdminRequest::DisableClient(id),
                )),
                Command::RotateSecret => Some(Prompt::confirm(
                    format!(
                        "Replace the secret of {id}? The old secret stops working at once (tokens already issued stay valid). The new one is shown once."
                    ),
                    AdminRequest::RotateClientSecret(id),
                )),
                _ => None,
            };
            return;
        }
        let what = if self.view == super::View::Clients {
            "client"
        } else {
            "user"
        };
        self.say(format!("no {what} selected"), true);
    }

    /// The question before a change of roles typed as `input`.
    pub(super) fn confirm_roles(&mut self, user: String, input: &str) -> Option<Prompt> {
        let (add, remove) = role_changes(input);
        if add.is_empty() && remove.is_empty() {
            self.say("no role named: nothing changed (+role adds, -role removes)", true);
            return None;
        }
        let mut change = Vec::new();
        if !add.is_empty() {
            change.push(format!("add {}", add.join(", ")));
        }
        if !remove.is_empty() {
            change.push(format!("remove {}", remove.join(", ")));
        }
        Some(Prompt::confirm(
            format!(
                "Roles of {user}: {}? Every session and access token of {user} ends (they carry the old roles).",
                change.join("; ")
            ),
            AdminRequest::ChangeRoles {
                name: user,
                add,
                remove,
            },
        ))
    }
}
