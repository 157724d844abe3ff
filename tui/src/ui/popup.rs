//! Prompts drawn over the view: algorithm choice, confirmation, export path.

use jwtauth_core::Algorithm;
use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, List, ListState, Paragraph, Wrap};

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
            let r = centered(area, 60, 6);
            let text = vec![
                Line::raw(question.as_str()),
                Line::raw(""),
                Line::from(vec![
                    Span::styled("y", KEY),
                    Span::styled(" yes   ", DIM),
                    Span::styled("n", KEY),
                    Span::styled(" no", DIM),
                ]),
            ];
            frame.render_widget(Clear, r);
            frame.render_widget(
                Paragraph::new(text).wrap(Wrap { trim: true }).block(
                    Block::default()
                        .borders(Borders::ALL)
                        .title(Span::styled(" confirm ", HEADER)),
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
