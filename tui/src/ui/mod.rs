//! Drawing: reads the [`App`] and draws a frame. The only state it touches is the
//! scroll offset and page size, which depend on the terminal's size.

mod accounts;
mod failures;
mod help;
mod issuers;
mod keys;
mod popup;
mod sessions;
pub mod theme;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Table, TableState, Tabs};

use crate::app::{App, Listing, Prompt, StoreStatus, View};
use crate::failure::date_time;
use crate::follow::LogStatus;
use theme::{DIM, ERROR, KEY, OK};

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, app: &mut App) {
    let [top, body, hint, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    draw_tabs(frame, top, app);
    match app.view {
        View::Failures => failures::draw(frame, body, app),
        View::Keys => keys::draw(frame, body, app),
        View::Sessions => sessions::draw(frame, body, app),
        View::Users => accounts::draw_users(frame, body, app),
        View::Clients => accounts::draw_clients(frame, body, app),
    }
    draw_hint(frame, hint, app);
    draw_status(frame, status, app);
    match &app.prompt {
        Some(Prompt::Filter { .. }) | None => {}
        Some(p) => popup::draw(frame, body, p),
    }
    if app.help {
        help::draw(frame, frame.area(), app);
    }
}

fn draw_tabs(frame: &mut Frame, area: Rect, app: &App) {
    let titles: Vec<String> = View::ALL
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{} {}", i + 1, v.title()))
        .collect();
    let selected = View::ALL.iter().position(|v| *v == app.view);
    let f = &app.failures;
    let mut right = vec![if f.follow {
        Span::styled("● FOLLOW", OK)
    } else {
        Span::styled("‖ PAUSED", theme::ERROR)
    }];
    right.push(Span::raw(format!(" {}/{} ", f.ring.len(), f.ring.capacity())));
    if app.read_only {
        right.push(Span::styled("READ-ONLY ", KEY));
    }
    let right = Line::from(right).right_aligned();
    let width = u16::try_from(right.width()).unwrap_or(u16::MAX);
    let [left_area, right_area] = Layout::horizontal([Constraint::Min(0), Constraint::Length(width)]).areas(area);
    // Every tab stays readable: on a narrow terminal the product name goes first,
    // then the padding around each title.
    const LABEL: u16 = 9;
    let names: usize = titles.iter().map(|t| t.chars().count()).sum::<usize>() + titles.len() - 1;
    let padded = u16::try_from(names + 2 * titles.len()).unwrap_or(u16::MAX);
    let (label, pad) = if LABEL + padded <= left_area.width {
        (true, " ")
    } else {
        (false, if padded <= left_area.width { " " } else { "" })
    };
    let tabs = Tabs::new(titles)
        .select(selected)
        .highlight_style(theme::SELECTED)
        .padding(pad, pad)
        .divider("│");
    let skip = if label { LABEL } else { 0 };
    if label {
        frame.render_widget(Line::from(Span::styled(" jwtauth ", theme::HEADER)), left_area);
    }
    frame.render_widget(
        tabs,
        Rect {
            x: left_area.x + skip.min(left_area.width),
            width: left_area.width.saturating_sub(skip),
            ..left_area
        },
    );
    frame.render_widget(right, right_area);
}

fn draw_hint(frame: &mut Frame, area: Rect, app: &App) {
    if let Some(Prompt::Filter { input, .. }) = &app.prompt {
        let f = &app.failures;
        let line = Line::from(vec![
            Span::styled("/", KEY),
            Span::raw(input.clone()),
            Span::styled("█", DIM),
            Span::styled(format!("  {} of {} match", f.visible.len(), f.ring.len()), DIM),
        ]);
        frame.render_widget(line, area);
        return;
    }
    if let Some(msg) = &app.message {
        let style = if msg.error { ERROR } else { OK };
        frame.render_widget(Line::styled(msg.text.as_str(), style), area);
        return;
    }
    let mut spans = Vec::new();
    if app.view == View::Failures && !app.failures.filter.is_empty() {
        let f = &app.failures;
        spans.push(Span::styled("filter ", DIM));
        spans.push(Span::styled(f.filter_text.clone(), theme::MATCH));
        spans.push(Span::styled(format!(" {} of {}  ", f.visible.len(), f.ring.len()), DIM));
    }
    let hints: &[(&str, &str)] = match app.view {
        View::Failures => &[
            ("?", "help"),
            ("/", "filter"),
            ("f", "follow"),
            ("Enter", "details"),
            ("Tab", "view"),
            ("q", "quit"),
        ],
        View::Keys => &[
            ("?", "help"),
            ("n", "new"),
            ("r", "rotate"),
            ("!", "rotate now"),
            ("d", "retire"),
            ("e", "export JWKS"),
            ("q", "quit"),
        ],
        View::Sessions => &[
            ("?", "help"),
            ("d", "revoke"),
            ("D", "revoke subject"),
            ("R", "reload"),
            ("q", "quit"),
        ],
        View::Users => &[
            ("?", "help"),
            ("a", "add"),
            ("p", "passwd"),
            ("d", "disable"),
            ("e", "enable"),
            ("r", "roles"),
            ("X", "delete"),
            ("q", "quit"),
        ],
        View::Clients => &[
            ("?", "help"),
            ("a", "add"),
            ("d", "disable"),
            ("r", "new secret"),
            ("q", "quit"),
        ],
    };
    // Whole hints only: the ones that do not fit are left out rather than cut
    // mid-word (`?` lists them all).
    let mut used: usize = spans.iter().map(Span::width).sum();
    for (k, what) in hints {
        let hint = format!(" {what}  ");
        let w = k.chars().count() + hint.chars().count();
        if used + w > usize::from(area.width) + 2 {
            break;
        }
        used += w;
        spans.push(Span::styled(*k, KEY));
        spans.push(Span::styled(hint, DIM));
    }
    frame.render_widget(Line::from(spans), area);
}

fn draw_status(frame: &mut Frame, area: Rect, app: &App) {
    let [left, right] = Layout::horizontal([Constraint::Fill(1); 2]).spacing(1).areas(area);
    let mut spans = vec![Span::styled("log ", DIM)];
    spans.push(match &app.log_status {
        LogStatus::Following(p) => Span::raw(file_name(p)),
        LogStatus::NoFiles(_) => Span::styled("no log files yet", DIM),
        LogStatus::Unavailable(why) => Span::styled(format!("unavailable: {why} (retrying)"), ERROR),
    });
    if app.failures.skipped > 0 {
        spans.push(Span::styled(format!(" skipped {}", app.failures.skipped), theme::ERROR));
    }
    frame.render_widget(Line::from(spans), left);
    let store = vec![
        Span::styled("store ", DIM),
        match &app.store_status {
            StoreStatus::Connecting => Span::styled("connecting…", DIM),
            StoreStatus::Connected(url) => Span::raw(url.clone()),
            StoreStatus::Unavailable(why) => Span::styled(format!("unavailable: {why} (retrying)"), ERROR),
        },
    ];
    frame.render_widget(Line::from(store).style(Style::new()), right);
}

fn file_name(p: &std::path::Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Keeps `selected` within `height` rows starting at `offset`; returns the new offset.
fn scroll(offset: usize, selected: usize, height: usize, len: usize) -> usize {
    let height = height.max(1);
    let mut offset = offset.min(len.saturating_sub(height));
    if selected < offset {
        offset = selected;
    } else if selected >= offset + height {
        offset = selected + 1 - height;
    }
    offset
}

/// `Paragraph` with a single dim line, for empty tables.
fn placeholder(text: &str) -> Paragraph<'_> {
    Paragraph::new(Line::styled(text, DIM))
}

/// A view's title line: its name in bold, then facts in dim.
fn title_line(name: &str, facts: String) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!(" {name} "), theme::HEADER),
        Span::styled(facts, DIM),
    ])
}

/// The rows of a list view under `header`, the selected one highlighted; while
/// there are none, why (`none` once the store answered). Sets the page size.
fn list_table(frame: &mut Frame, area: Rect, app_page: &mut usize, table: ListTable<'_>) {
    *app_page = usize::from(area.height.saturating_sub(1)).max(1);
    if table.rows.is_empty() {
        let text = if table.loaded {
            table.none
        } else {
            "waiting for the store…"
        };
        frame.render_widget(placeholder(text), area);
        return;
    }
    let t = Table::new(table.rows, table.widths)
        .header(Row::new(table.header.to_vec()).style(theme::HEADER))
        .row_highlight_style(theme::SELECTED);
    let mut state = TableState::default().with_selected(Some(table.selected));
    frame.render_stateful_widget(t, area, &mut state);
}

/// What [`list_table`] draws.
struct ListTable<'a> {
    rows: Vec<Row<'a>>,
    header: &'a [&'a str],
    widths: &'a [Constraint],
    selected: usize,
    loaded: bool,
    none: &'a str,
}

impl<'a> ListTable<'a> {
    /// `rows` of `list` under `header`; `none` says why an answered list is empty.
    fn of<T>(
        list: &Listing<T>,
        header: &'a [&'a str],
        widths: &'a [Constraint],
        rows: Vec<Row<'a>>,
        none: &'a str,
    ) -> Self {
        ListTable {
            rows,
            header,
            widths,
            selected: list.selected,
            loaded: list.loaded,
            none,
        }
    }
}

/// The line under a list naming the selected item and its roles.
fn selected_line(what: &str, name: &str, roles: &[String]) -> Vec<Span<'static>> {
    vec![
        Span::styled(format!(" selected {what} "), DIM),
        Span::raw(name.to_owned()),
        Span::styled("  roles ", DIM),
        Span::raw(crate::app::role_list(roles)),
    ]
}

/// `MM-DD HH:MM` on narrow terminals, `YYYY-MM-DD HH:MM` on wide ones; `–` for none.
fn when(t: Option<i64>, wide: bool) -> String {
    match t {
        Some(t) if wide => date_time(t),
        Some(t) => date_time(t).get(5..).unwrap_or_default().to_owned(),
        None => "–".into(),
    }
}

/// Width of [`when`]'s text.
fn when_width(wide: bool) -> u16 {
    if wide { 16 } else { 11 }
}

#[cfg(test)]
mod tests;
