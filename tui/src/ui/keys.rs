//! The keys view: every key's public facts.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Row, Table, TableState};

use super::theme::{self, DIM, HEADER};
use crate::app::{App, plural};
use crate::failure::date_time;

pub(super) fn draw(frame: &mut Frame, area: Rect, app: &mut App) {
    let [title, table, selected] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(0), Constraint::Length(1)]).areas(area);
    let active = app
        .keys
        .items
        .iter()
        .filter(|k| k.state == jwtauth_core::KeyState::Active)
        .count();
    frame.render_widget(
        Line::from(vec![
            Span::styled(" signing keys ", HEADER),
            Span::styled(
                format!(
                    "{}, {active} active; public facts only, never key material",
                    plural(app.keys.items.len(), "key", "keys")
                ),
                DIM,
            ),
        ]),
        title,
    );
    app.page = usize::from(table.height.saturating_sub(1)).max(1);
    if app.keys.items.is_empty() {
        let text = if app.keys.loaded {
            "no keys in the store"
        } else {
            "waiting for the store…"
        };
        frame.render_widget(super::placeholder(text), table);
        return;
    }
    // Narrow terminals drop the year so the kid keeps some room.
    let wide = area.width >= 100;
    let fmt = |t: i64| {
        let s = date_time(t);
        if wide {
            s
        } else {
            s.get(5..).unwrap_or_default().to_owned()
        }
    };
    let when = |t: Option<i64>| t.map(fmt).unwrap_or_else(|| "–".into());
    let tw = if wide { 16 } else { 11 };
    let rows = app.keys.items.iter().map(|k| {
        Row::new(vec![
            Line::raw(k.kid.as_str()),
            Line::raw(k.algorithm.as_str()),
            Line::styled(
                k.state.as_str().replace('_', "-"),
                Style::new().fg(theme::key_state_color(k.state)),
            ),
            Line::raw(fmt(k.created_at)),
            Line::raw(when(k.demoted_at)),
            Line::raw(when(k.retirement())),
        ])
    });
    let widths = [
        Constraint::Fill(1),
        Constraint::Length(6),
        Constraint::Length(11),
        Constraint::Length(tw),
        Constraint::Length(tw),
        Constraint::Length(tw),
    ];
    let t = Table::new(rows, widths)
        .header(Row::new(["kid", "alg", "state", "created", "demoted", "retirement"]).style(HEADER))
        .row_highlight_style(theme::SELECTED);
    let mut state = TableState::default().with_selected(Some(app.keys.selected));
    frame.render_stateful_widget(t, table, &mut state);
    if let Some(k) = app.keys.current() {
        let mut line = vec![Span::styled(" selected kid ", DIM), Span::raw(k.kid.as_str())];
        // A `next` key is published but not signing yet: say when it starts.
        if k.state == jwtauth_core::KeyState::Next
            && let Some(at) = k.activates_at
        {
            line.push(Span::styled("  signs from ", DIM));
            line.push(Span::raw(date_time(at)));
        }
        frame.render_widget(Line::from(line), selected);
    }
}
