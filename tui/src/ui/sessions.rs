//! The sessions view: refresh-token families grouped by subject.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Row, Table, TableState};

use super::theme::{self, DIM, HEADER};
use crate::app::{App, plural};
use crate::failure::date_time;

pub(super) fn draw(frame: &mut Frame, area: Rect, app: &mut App) {
    let [title, table] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    let items = &app.sessions.items;
    let subjects = {
        let mut s: Vec<&str> = items.iter().map(|x| x.subject.as_str()).collect();
        s.dedup();
        s.len()
    };
    frame.render_widget(
        Line::from(vec![
            Span::styled(" sessions ", HEADER),
            Span::styled(
                format!(
                    "{} of {}",
                    plural(items.len(), "refresh-token family", "refresh-token families"),
                    plural(subjects, "subject", "subjects")
                ),
                DIM,
            ),
        ]),
        title,
    );
    app.page = usize::from(table.height.saturating_sub(1)).max(1);
    if items.is_empty() {
        let text = if app.sessions.loaded {
            "no live sessions"
        } else {
            "waiting for the store…"
        };
        frame.render_widget(super::placeholder(text), table);
        return;
    }
    // Rows come sorted by subject: name the subject once per group.
    let rows = items.iter().enumerate().map(|(i, s)| {
        let first = i == 0 || items[i - 1].subject != s.subject;
        Row::new(vec![
            if first {
                Line::styled(s.subject.as_str(), HEADER)
            } else {
                Line::raw("")
            },
            Line::raw(s.family_id.as_str()),
            Line::raw(date_time(s.started_at)),
            Line::raw(date_time(s.last_used_at)),
            Line::raw(date_time(s.expires_at)),
        ])
    });
    let widths = [
        Constraint::Fill(1),
        Constraint::Fill(1),
        Constraint::Length(16),
        Constraint::Length(16),
        Constraint::Length(16),
    ];
    let t = Table::new(rows, widths)
        .header(Row::new(["subject", "family", "started", "last used", "expires"]).style(HEADER))
        .row_highlight_style(theme::SELECTED);
    let mut state = TableState::default().with_selected(Some(app.sessions.selected));
    frame.render_stateful_widget(t, table, &mut state);
}
