//! Prompts drawn over the view: algorithm choice, confirmation, export path,
//! form lines, the masked password input and the secret shown once.

use jwtauth_core::Algorithm;
use jwtauth_core::users::MIN_PASSWORD_CHARS;
use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, List, ListState, Paragraph, Wrap};

use super::theme::{self, DIM, ERROR, HEADER, KEY};
use crate::app::{PasswordFor, Prompt, TextStep, role_list};

/// What a password input draws for each character typed: never the character.
pub const MASK: char = '•';

/// `Enter next  Esc cancel`-style key hints for a popup's bottom border.
fn keys_hint(pairs: &[(&'static str, &'static str)]) -> Line<'static> {
    let mut spans = Vec::new();
    for (i, (k, what)) in pairs.iter().enumerate() {
        spans.push(Span::raw(if i == 0 { " " } else { "  " }));
        spans.push(Span::styled(*k, KEY));
        spans.push(Span::styled(format!(" {what}"), DIM));
    }
    spans.push(Span::raw(" "));
    Line::from(spans)
}

/// A popup of a form: its lines, and the keys to go on or give up.
fn form(frame: &mut Frame, area: Rect, title: String, lines: Vec<Line<'static>>) {
    boxed(
        frame,
        area,
        60,
        title,
        lines,
        keys_hint(&[("Enter", "next"), ("Esc", "cancel")]),
    );
}

/// A bordered popup of `w` columns holding `lines` (wrapped to its width), sized
/// to them so its bottom border, which carries the keys, is always in view.
fn boxed(frame: &mut Frame, area: Rect, w: u16, title: String, lines: Vec<Line<'static>>, hint: Line<'static>) {
    let w = w.min(area.width);
    let inner = usize::from(w.saturating_sub(2)).max(1);
    let rows: usize = lines.iter().map(|l| l.width().max(1).div_ceil(inner)).sum();
    let h = u16::try_from(rows).unwrap_or(u16::MAX).saturating_add(2);
    let r = centered(area, w, h);
    frame.render_widget(Clear, r);
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .title(Span::styled(title, HEADER))
                .title_bottom(hint),
        ),
        r,
    );
}

/// A rectangle of at most `w`×`h` centred in `area`.
pub(super) fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let [v] = Layout::vertical([Constraint::Length(h.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [r] = Layout::horizontal([Constraint::Length(w.min(area.width))])
        .flex(Flex::Center)
        .areas(v);
    r
}

pub(super) fn draw(frame: &mut Frame, area: Rect, prompt: &Prompt) {
    match prompt {
        Prompt::Filter { .. } => {}
        Prompt::Algorithm { selected } => {
            let title = " new active key: algorithm ";
            let r = centered(area, 44, u16::try_from(Algorithm::ALL.len()).unwrap_or(13) + 3);
            let items: Vec<Line> = Algorithm::ALL.iter().map(|a| Line::raw(format!(" {a}"))).collect();
            let list = List::new(items)
                .block(
                    Block::default()
                        .borders(Borders::ALL)
                        .title(Span::styled(title, HEADER))
                        .title_bottom(Line::from(vec![
                            Span::styled(" Enter", KEY),
                            Span::styled(" choose ", DIM),
                            Span::styled("Esc", KEY),
                            Span::styled(" cancel ", DIM),
                        ])),
                )
                .highlight_style(theme::SELECTED);
            let mut state = ListState::default().with_selected(Some(*selected));
            frame.render_widget(Clear, r);
            frame.render_stateful_widget(list, r, &mut state);
        }
        Prompt::Confirm { question, .. } => {
            // Wrapped here, so the popup is as tall as the question and the answer
            // keys in its border are never pushed out of sight.
            let w = 60u16.min(area.width);
            let lines = wrap(question, usize::from(w.saturating_sub(2)))
                .into_iter()
                .map(Line::raw)
                .collect();
            boxed(
                frame,
                area,
                w,
                " confirm ".to_owned(),
                lines,
                keys_hint(&[("y", "yes"), ("n", "no")]),
            );
        }
        Prompt::Text { step, input } => {
            let (title, note) = match step {
                TextStep::UserName => (
                    " new user: login name ".to_owned(),
                    "roles and password come next".to_owned(),
                ),
                TextStep::UserRoles { name } => (
                    format!(" new user {name}: roles "),
                    "separated by spaces or commas; none is fine".to_owned(),
                ),
                TextStep::Roles { user, current } => (
                    format!(" roles of {user} "),
                    format!("now {}; +role adds, -role removes", role_list(current)),
                ),
                TextStep::ClientName => (
                    " new service client: client id ".to_owned(),
                    "the sub of its tokens; roles come next".to_owned(),
                ),
                TextStep::ClientRoles { name } => (
                    format!(" new client {name}: roles "),
                    "separated by spaces or commas; its secret is shown next, once".to_owned(),
                ),
            };
            let lines = vec![
                Line::from(vec![Span::raw(input.clone()), Span::styled("█", DIM)]),
                Line::styled(note, DIM),
            ];
            form(frame, area, title, lines);
        }
        Prompt::Password {
            purpose,
            first,
            input,
            mismatch,
        } => {
            let title = match purpose {
                PasswordFor::NewUser { .. } => format!(" password of new user {} ", purpose.name()),
                PasswordFor::Change { .. } => format!(" new password of {} ", purpose.name()),
            };
            let label = if first.is_some() { "again:    " } else { "password: " };
            let mut lines = vec![Line::from(vec![
                Span::styled(label, DIM),
                Span::raw(MASK.to_string().repeat(input.chars())),
                Span::styled("█", DIM),
            ])];
            if *mismatch {
                lines.push(Line::styled("the passwords differ: type it again", ERROR));
            }
            lines.push(Line::styled(
                format!("at least {MIN_PASSWORD_CHARS} characters; typed twice, never shown"),
                DIM,
            ));
            form(frame, area, title, lines);
        }
        Prompt::ShowSecret(shown) => {
            let lines = vec![
                Line::from(vec![
                    Span::styled("client_id      ", DIM),
                    Span::raw(shown.client_id.clone()),
                ]),
                Line::styled("client_secret", DIM),
                Line::raw(shown.secret.expose().to_owned()),
                Line::raw(""),
                Line::styled("Copy it now: it is never shown again; only its hash is stored.", KEY),
            ];
            boxed(
                frame,
                area,
                66,
                " client secret, shown once ".to_owned(),
                lines,
                keys_hint(&[("Enter", "close")]),
            );
        }
        Prompt::ExportPath { input } => {
            let r = centered(area, 60, 5);
            let text = vec![
                Line::from(vec![Span::raw(input.as_str()), Span::styled("█", DIM)]),
                Line::styled("public keys only; the file is overwritten", DIM),
            ];
            frame.render_widget(Clear, r);
            frame.render_widget(
                Paragraph::new(text).block(
                    Block::default()
                        .borders(Borders::ALL)
                        .title(Span::styled(" export the JWKS to ", HEADER)),
                ),
                r,
            );
        }
    }
}

/// `text` broken into lines of at most `width` characters at spaces (a word longer
/// than a line is cut), for popups that size themselves to their text.
pub(super) fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let used = cur.chars().count();
            let sep = usize::from(used > 0);
            if used + sep + word.len() <= width {
                if sep == 1 {
                    cur.push(' ');
                }
                cur.extend(word.iter());
                break;
            }
            if used > 0 {
                lines.push(std::mem::take(&mut cur));
                continue;
            }
            let rest = word.split_off(width);
            lines.push(word.into_iter().collect());
            word = rest;
        }
    }
    if !cur.is_empty() || lines.is_empty() {
        lines.push(cur);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wrap_breaks_at_spaces_and_cuts_only_overlong_words() {
        assert_eq!(wrap("Retire key abc (ES256)?", 12), vec!["Retire key", "abc (ES256)?"]);
        assert_eq!(wrap("0123456789abc", 5), vec!["01234", "56789", "abc"]);
        assert_eq!(wrap("", 10), vec![""]);
        assert_eq!(wrap("a b", 0), vec!["a", "b"]);
    }
}
