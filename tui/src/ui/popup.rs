//! Prompts drawn over the view: algorithm choice, confirmation, export path.

use jwtauth_core::Algorithm;
use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, List, ListState, Paragraph};

use super::theme::{self, DIM, HEADER, KEY};
use crate::app::Prompt;

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
            // Sized to the wrapped question, and the answer keys sit in the border,
            // so no question is long enough to push them out of sight.
            let w = 60u16.min(area.width);
            let lines = wrap(question, usize::from(w.saturating_sub(2)));
            let h = u16::try_from(lines.len()).unwrap_or(u16::MAX).saturating_add(2);
            let r = centered(area, w, h);
            let text: Vec<Line> = lines.into_iter().map(Line::raw).collect();
            frame.render_widget(Clear, r);
            frame.render_widget(
                Paragraph::new(text).block(
                    Block::default()
                        .borders(Borders::ALL)
                        .title(Span::styled(" confirm ", HEADER))
                        .title_bottom(Line::from(vec![
                            Span::styled(" y", KEY),
                            Span::styled(" yes  ", DIM),
                            Span::styled("n", KEY),
                            Span::styled(" no ", DIM),
                        ])),
                ),
                r,
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
