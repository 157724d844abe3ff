//! The sessions view: refresh-token families grouped by subject, with where each
//! login came from (the OAuth client or /auth/login, and the User-Agent), so an
//! admin can tell one device's session from another's.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Row;

use super::theme::{DIM, HEADER};
use super::{ListTable, list_table, title_line, when, when_width};
use crate::admin::SessionInfo;
use crate::app::{App, plural};

/// How the session was started: its OAuth client, or the login endpoint.
fn via(s: &SessionInfo) -> &str {
    s.client_id.as_deref().unwrap_or("/auth/login")
}

pub(super) fn draw(frame: &mut Frame, area: Rect, app: &mut App) {
    let [title, table, selected] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(0), Constraint::Length(1)]).areas(area);
    let items = &app.sessions.items;
    let subjects = {
        let mut s: Vec<&str> = items.iter().map(|x| x.subject.as_str()).collect();
        s.dedup();
        s.len()
    };
    frame.render_widget(
        title_line(
            "sessions",
            format!(
                "{} of {}",
                plural(items.len(), "refresh-token family", "refresh-token families"),
                plural(subjects, "subject", "subjects")
            ),
        ),
        title,
    );
    // The device gets a column where there is room; the selected session's line
    // below the table names it on every terminal.
    let device = area.width >= 120;
    let wide = area.width >= 160;
    // Rows come sorted by subject: name the subject once per group.
    let rows = items
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let first = i == 0 || items[i - 1].subject != s.subject;
            let mut cells = vec![
                if first {
                    Line::styled(s.subject.clone(), HEADER)
                } else {
                    Line::raw("")
                },
                Line::raw(s.family_id.clone()),
                Line::raw(via(s).to_owned()),
            ];
            if device {
                cells.push(Line::raw(s.user_agent.clone().unwrap_or_else(|| "–".into())));
            }
            cells.extend([
                Line::raw(when(Some(s.started_at), wide)),
                Line::raw(when(Some(s.last_used_at), wide)),
                Line::raw(when(Some(s.expires_at), wide)),
            ]);
            Row::new(cells)
        })
        .collect();
    let tw = Constraint::Length(when_width(wide));
    let mut widths = vec![Constraint::Fill(1), Constraint::Fill(1), Constraint::Length(12)];
    let mut header = vec!["subject", "family", "via"];
    if device {
        widths.push(Constraint::Fill(2));
        header.push("device (User-Agent)");
    }
    widths.extend([tw, tw, tw]);
    header.extend(["started", "last used", "expires"]);
    let t = ListTable::of(&app.sessions, &header, &widths, rows, "no live sessions");
    list_table(frame, table, &mut app.page, t);
    if let Some(s) = app.sessions.current() {
        let agent = s.user_agent.as_deref().unwrap_or("no User-Agent recorded");
        frame.render_widget(
            Line::from(vec![
                Span::styled(" selected ", DIM),
                Span::raw(s.family_id.clone()),
                Span::styled(" via ", DIM),
                Span::raw(via(s).to_owned()),
                Span::styled("  device ", DIM),
                Span::raw(agent.to_owned()),
            ]),
            selected,
        );
    }
}
