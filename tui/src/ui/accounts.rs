//! The users and clients views: who may get tokens, with what roles, and whether
//! they are disabled. Never a password, a hash or a client secret.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Row;

use super::theme::DIM;
use super::{ListTable, list_table, selected_line, title_line, when, when_width};
use crate::app::{App, plural};

/// `active` in green or `disabled` in grey.
fn state(disabled: bool) -> Line<'static> {
    if disabled {
        Line::styled("disabled", Style::new().fg(Color::DarkGray))
    } else {
        Line::styled("active", Style::new().fg(Color::Green))
    }
}

/// Title, table and the selected item's line, with the table's area between.
fn areas(area: Rect) -> [Rect; 3] {
    Layout::vertical([Constraint::Length(1), Constraint::Min(0), Constraint::Length(1)]).areas(area)
}

pub(super) fn draw_users(frame: &mut Frame, area: Rect, app: &mut App) {
    let [title, table, selected] = areas(area);
    let users = &app.users.items;
    let disabled = users.iter().filter(|u| u.disabled).count();
    frame.render_widget(
        title_line(
            "users",
            format!(
                "{}, {disabled} disabled; passwords are never shown",
                plural(users.len(), "user", "users")
            ),
        ),
        title,
    );
    let wide = area.width >= 100;
    // Live sessions per user, from the sessions list: what a disable or a new
    // password would end.
    let sessions = |name: &str| app.sessions.items.iter().filter(|s| s.subject == name).count();
    let rows = users
        .iter()
        .map(|u| {
            Row::new(vec![
                Line::raw(u.name.clone()),
                Line::raw(u.roles.join(", ")),
                state(u.disabled),
                Line::raw(sessions(&u.name).to_string()),
                Line::raw(when(Some(u.created_at), wide)),
            ])
        })
        .collect();
    let widths = [
        Constraint::Fill(1),
        Constraint::Fill(2),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(when_width(wide)),
    ];
    let header = ["name", "roles", "state", "sessions", "created"];
    let t = ListTable::of(&app.users, &header, &widths, rows, "no users yet (a adds one)");
    list_table(frame, table, &mut app.page, t);
    if let Some(u) = app.users.current() {
        let mut line = selected_line("user", &u.name, &u.roles);
        let n = sessions(&u.name);
        line.push(Span::styled(
            format!("  {}", plural(n, "live session", "live sessions")),
            DIM,
        ));
        frame.render_widget(Line::from(line), selected);
    }
}

pub(super) fn draw_clients(frame: &mut Frame, area: Rect, app: &mut App) {
    let [title, table, selected] = areas(area);
    let clients = &app.clients.items;
    let disabled = clients.iter().filter(|c| c.disabled).count();
    frame.render_widget(
        title_line(
            "service clients",
            format!(
                "{}, {disabled} disabled; a secret is shown once, when it is made",
                plural(clients.len(), "client", "clients")
            ),
        ),
        title,
    );
    let wide = area.width >= 100;
    let rows = clients
        .iter()
        .map(|c| {
            Row::new(vec![
                Line::raw(c.client_id.clone()),
                Line::raw(c.roles.join(", ")),
                state(c.disabled),
                Line::raw(when(Some(c.created_at), wide)),
                Line::raw(when(Some(c.secret_created_at), wide)),
            ])
        })
        .collect();
    let tw = when_width(wide);
    let widths = [
        Constraint::Fill(1),
        Constraint::Fill(1),
        Constraint::Length(8),
        Constraint::Length(tw),
        Constraint::Length(tw),
    ];
    let header = ["client id", "roles", "state", "created", "secret from"];
    let none = "no service clients yet (a adds one)";
    let t = ListTable::of(&app.clients, &header, &widths, rows, none);
    list_table(frame, table, &mut app.page, t);
    if let Some(c) = app.clients.current() {
        frame.render_widget(Line::from(selected_line("client", &c.client_id, &c.roles)), selected);
    }
}
