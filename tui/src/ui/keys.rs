//! The keys view: every key's public facts, then the trusted issuers as this
//! process sees them.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Row;

use super::theme::{self, DIM};
use super::{ListTable, list_table, title_line, when, when_width};
use crate::app::{App, plural};
use crate::failure::date_time;
use jwtauth_core::KeyState;

pub(super) fn draw(frame: &mut Frame, area: Rect, app: &mut App) {
    let wide = area.width >= 100;
    // The creation time only where the kid keeps room beside it.
    let created = area.width >= 120;
    let issuer_lines = super::issuers::lines(&app.issuers, wide);
    // The key list keeps at least half the view; the issuers get the rest they need.
    let issuers_h = u16::try_from(issuer_lines.len())
        .unwrap_or(u16::MAX)
        .min(area.height / 2);
    let [title, table, selected, issuers] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
        Constraint::Length(issuers_h),
    ])
    .areas(area);
    let keys = &app.keys.items;
    let active = keys.iter().filter(|k| k.state == KeyState::Active).count();
    let next = keys.iter().filter(|k| k.state == KeyState::Next).count();
    let pending = if next > 0 {
        format!(", {next} next")
    } else {
        String::new()
    };
    frame.render_widget(
        title_line(
            "signing keys",
            format!(
                "{}, {active} active{pending}; public facts only, never key material",
                plural(keys.len(), "key", "keys")
            ),
        ),
        title,
    );
    // Narrow terminals drop the year, and the creation time, so the kid keeps some room.
    let rows = keys
        .iter()
        .map(|k| {
            let mut cells = vec![
                Line::raw(k.kid.to_string()),
                Line::raw(k.algorithm.as_str()),
                Line::styled(
                    k.state.as_str().replace('_', "-"),
                    Style::new().fg(theme::key_state_color(k.state)),
                ),
            ];
            if created {
                cells.push(Line::raw(when(Some(k.created_at), wide)));
            }
            cells.extend([
                Line::raw(when(k.activates_at, wide)),
                Line::raw(when(k.demoted_at, wide)),
                Line::raw(when(k.retirement(), wide)),
            ]);
            Row::new(cells)
        })
        .collect();
    let tw = Constraint::Length(when_width(wide));
    let mut widths = vec![Constraint::Fill(1), Constraint::Length(6), Constraint::Length(11)];
    let mut header = vec!["kid", "alg", "state"];
    if created {
        widths.push(tw);
        header.push("created");
    }
    widths.extend([tw, tw, tw]);
    header.extend(["signs from", "demoted", "retirement"]);
    let t = ListTable::of(&app.keys, &header, &widths, rows, "no keys in the store");
    list_table(frame, table, &mut app.page, t);
    if let Some(k) = app.keys.current() {
        let mut line = vec![Span::styled(" selected kid ", DIM), Span::raw(k.kid.to_string())];
        // A `next` key is published but not signing yet: say when it starts.
        if k.state == KeyState::Next
            && let Some(at) = k.activates_at
        {
            line.push(Span::styled("  signs from ", DIM));
            line.push(Span::raw(date_time(at)));
        }
        frame.render_widget(Line::from(line), selected);
    }
    frame.render_widget(ratatui::widgets::Paragraph::new(issuer_lines), issuers);
}
