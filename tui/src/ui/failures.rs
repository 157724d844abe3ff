//! The failures view: chart and top lists, the table, the details pane.

use jwtauth_core::{KeyState, Reason};
use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table, TableState, Widget, Wrap};

use super::theme::{self, DIM, HEADER, MATCH};
use crate::admin::KeyInfo;
use crate::app::{App, Failures};
use crate::failure::{Failure, clock_time, date_time};
use crate::filter::{Field, Filter, split_matches};
use crate::stats::{Counts, WINDOW_MINUTES};

pub(super) fn draw(frame: &mut Frame, area: Rect, app: &mut App) {
    let f = &mut app.failures;
    let chart_h = if f.chart && area.height >= 16 {
        if area.height >= 40 { 12 } else { 7 }
    } else {
        0
    };
    let details_h = if f.details && area.height >= 12 { 7 } else { 0 };
    let [chart, table, details] = Layout::vertical([
        Constraint::Length(chart_h),
        Constraint::Min(3),
        Constraint::Length(details_h),
    ])
    .areas(area);
    if chart_h > 0 {
        draw_chart_panel(frame, chart, f, app.now);
    }
    app.page = usize::from(table.height.saturating_sub(1)).max(1);
    draw_table(frame, table, f);
    if details_h > 0 {
        draw_details(frame, details, &app.failures, &app.keys.items);
    }
}

fn draw_chart_panel(frame: &mut Frame, area: Rect, f: &Failures, now: i64) {
    // One column per minute when there is room (130 columns and more), else one per
    // two minutes (100 and more), else one per three; the title says which.
    let per_col = match area.width {
        130.. => 1,
        100..130 => 2,
        _ => 3,
    };
    let cols = WINDOW_MINUTES / per_col;
    let chart_w = u16::try_from(cols).unwrap_or(60) + 2 + 5;
    let [chart, tops] = Layout::horizontal([Constraint::Length(chart_w), Constraint::Min(0)]).areas(area);
    let series = f.per_minute.series(now);
    let columns: Vec<Counts> = series
        .chunks(per_col)
        .map(|c| {
            let mut sum = [0u32; crate::stats::REASON_SLOTS];
            for m in c {
                for (s, n) in sum.iter_mut().zip(m) {
                    *s += n;
                }
            }
            sum
        })
        .collect();
    let title = match per_col {
        1 => " failures/min, last hour ".to_owned(),
        n => format!(" per {n} min, last hour "),
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(title, HEADER));
    let inner = block.inner(chart);
    frame.render_widget(block, chart);
    frame.render_widget(StackedBars { columns: &columns }, inner);

    // The top lists count what the table shows: the failures that pass the filter.
    // A flood's summary line counts as the failures it stands for: then the title
    // says both numbers.
    let (failures, lines, which) = if f.filter.is_empty() {
        (f.top().total(), f.ring.len(), "held")
    } else {
        (f.top().total(), f.visible.len(), "matching the filter")
    };
    let title = if failures == lines as u64 {
        format!(" top of {lines} {which} ")
    } else {
        format!(" top of {failures} failures in {lines} lines {which} ")
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(title, HEADER));
    let inner = block.inner(tops);
    frame.render_widget(block, tops);
    let n = usize::from(inner.height.saturating_sub(1));
    let lists = Layout::horizontal([Constraint::Fill(5), Constraint::Fill(4), Constraint::Fill(3)])
        .spacing(1)
        .split(inner);
    let t = f.top();
    let reasons = t.top_reasons(n);
    let hosts = t.top_hosts(n);
    let subjects = t.top_subjects(n);
    frame.render_widget(top_list("reason", &reasons, true), lists[0]);
    frame.render_widget(top_list("client host", &hosts, false), lists[1]);
    frame.render_widget(top_list("subject", &subjects, false), lists[2]);
}

fn top_list<'a>(heading: &'static str, items: &[(&'a str, u32)], colored: bool) -> Paragraph<'a> {
    let head = Line::from(vec![Span::styled("   n ", DIM), Span::styled(heading, HEADER)]);
    let lines: Vec<Line> = std::iter::once(head)
        .chain(items.iter().map(|(name, n)| {
            let style = if colored {
                Style::new().fg(theme::reason_name_color(name))
            } else {
                Style::new()
            };
            Line::from(vec![
                Span::styled(format!("{:>4} ", compact(*n)), DIM),
                Span::styled(*name, style),
            ])
        }))
        .collect();
    Paragraph::new(lines)
}

/// Failures per time slot, stacked by reason, with the peak written on the left.
struct StackedBars<'a> {
    columns: &'a [Counts],
}

impl Widget for StackedBars<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.width < 6 || area.height == 0 {
            return;
        }
        let max = self.columns.iter().map(|c| c.iter().sum::<u32>()).max().unwrap_or(0);
        let axis = 5u16;
        buf.set_string(area.x, area.y, format!("{:>4}", compact(max)), DIM);
        buf.set_string(area.x, area.y + area.height - 1, format!("{:>4}", 0), DIM);
        if max == 0 {
            return;
        }
        let h = u32::from(area.height);
        for (i, counts) in self.columns.iter().enumerate() {
            let x = area.x + axis + u16::try_from(i).unwrap_or(u16::MAX);
            if x >= area.right() {
                break;
            }
            let total: u32 = counts.iter().sum();
            if total == 0 {
                continue;
            }
            // Each row stands for max/h failures; a row is drawn in the colour of the
            // reason found at the middle of its band, so the stack keeps reason order.
            for row in 0..h {
                let mid2 = (2 * row + 1) * max; // twice the middle value, times h
                let y = area.y + area.height - 1 - u16::try_from(row).unwrap_or(0);
                if u64::from(mid2) > 2 * u64::from(total) * u64::from(h) {
                    if row == 0 {
                        // Small but not zero: show a sliver.
                        buf.set_string(x, y, "▁", Style::new().fg(theme::slot_color(top_slot(counts))));
                    }
                    break;
                }
                let target = u64::from(mid2);
                let mut acc = 0u64;
                let mut color = theme::slot_color(0);
                for (s, &n) in counts.iter().enumerate() {
                    acc += 2 * u64::from(n) * u64::from(h);
                    if n > 0 && acc >= target {
                        color = theme::slot_color(s);
                        break;
                    }
                }
                buf.set_string(x, y, "█", Style::new().fg(color));
            }
        }
    }
}

fn top_slot(c: &Counts) -> usize {
    c.iter().enumerate().max_by_key(|(_, n)| **n).map_or(0, |(i, _)| i)
}

fn compact(n: u32) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=999_999 => format!("{}k", n / 1000),
        _ => format!("{}M", n / 1_000_000),
    }
}

fn draw_table(frame: &mut Frame, area: Rect, f: &mut Failures) {
    let height = usize::from(area.height.saturating_sub(1));
    let len = f.visible.len();
    f.offset = super::scroll(f.offset, f.selected, height, len);
    // Narrow terminals leave the fingerprint to the details pane.
    let wide = area.width >= 100;
    let mut titles = vec!["time", "reason", "subject", "client", "request", "kid"];
    let mut widths = vec![
        Constraint::Length(8),
        Constraint::Length(if wide { 17 } else { 15 }),
        Constraint::Fill(1),
        Constraint::Length(if wide { 21 } else { 15 }),
        Constraint::Fill(2),
        Constraint::Length(8),
    ];
    if wide {
        titles.push("fingerprint");
        widths.push(Constraint::Length(12));
    }
    let header = Row::new(titles).style(HEADER);
    let filter = &f.filter;
    let rows: Vec<Row> = (f.offset..(f.offset + height).min(len))
        .filter_map(|pos| f.visible_at(pos))
        .map(|e| row(e, filter, wide))
        .collect();
    let table = Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .row_highlight_style(theme::SELECTED);
    if len == 0 {
        let text = if f.ring.is_empty() {
            "no failures yet: waiting for the log…"
        } else {
            "no failure matches the filter"
        };
        frame.render_widget(table, area);
        let [_, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
        frame.render_widget(super::placeholder(text), rest);
        return;
    }
    let mut state = TableState::default().with_selected(Some(f.selected - f.offset));
    frame.render_stateful_widget(table, area, &mut state);
}

fn highlighted<'a>(text: &'a str, filter: &Filter, field: Field, base: Style) -> Line<'a> {
    let needles: Vec<&str> = filter.highlights(field).collect();
    if needles.is_empty() {
        return Line::styled(text, base);
    }
    Line::from(
        split_matches(text, &needles)
            .into_iter()
            .map(|(s, m)| Span::styled(s, if m { MATCH } else { base }))
            .collect::<Vec<_>>(),
    )
}

fn row<'a>(e: &'a Failure, filter: &Filter, wide: bool) -> Row<'a> {
    let r = &e.record;
    let color = Style::new().fg(theme::reason_color(e.reason));
    let request = match (&r.method, &r.path) {
        (Some(m), Some(p)) => format!("{m} {p}"),
        (None, Some(p)) => p.clone(),
        (Some(m), None) => m.clone(),
        (None, None) => String::new(),
    };
    let opt = |s: &'a Option<String>| s.as_deref().unwrap_or("");
    let mut cells = vec![
        Line::styled(clock_time(e.at), DIM),
        highlighted(&r.reason, filter, Field::Reason, color),
        highlighted(opt(&r.subject), filter, Field::Subject, Style::new()),
        highlighted(opt(&r.client), filter, Field::Address, Style::new()),
        owned_highlight(request, filter),
        highlighted(opt(&r.kid), filter, Field::Any, DIM),
    ];
    if wide {
        cells.push(highlighted(opt(&r.fingerprint), filter, Field::Any, DIM));
    }
    Row::new(cells)
}

fn owned_highlight(text: String, filter: &Filter) -> Line<'static> {
    let needles: Vec<&str> = filter.highlights(Field::Any).collect();
    let spans: Vec<Span<'static>> = split_matches(&text, &needles)
        .into_iter()
        .map(|(s, m)| Span::styled(s.to_owned(), if m { MATCH } else { Style::new() }))
        .collect();
    Line::from(spans)
}

fn draw_details(frame: &mut Frame, area: Rect, f: &Failures, keys: &[KeyInfo]) {
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(" details ", HEADER));
    let Some(e) = f.selected_failure() else {
        frame.render_widget(super::placeholder("nothing selected").block(block), area);
        return;
    };
    let r = &e.record;
    let field = |name: &'static str, value: Option<&str>| -> Vec<Span<'_>> {
        vec![
            Span::styled(format!("{name} "), DIM),
            Span::raw(value.unwrap_or("–").to_owned()),
            Span::raw("  "),
        ]
    };
    let verified = match r.subject_verified {
        Some(true) => " (verified)",
        Some(false) => " (unverified)",
        None => "",
    };
    let subject = r.subject.as_ref().map(|s| format!("{s}{verified}"));
    let color = Style::new().fg(theme::reason_color(e.reason));
    // What went wrong comes first: when the pane is short (80x24) or a line wraps,
    // the lines cut off at the bottom are the request's context, never the hint.
    let mut lines = vec![Line::from(vec![
        Span::styled(r.reason.as_str(), color),
        Span::raw("  "),
        Span::styled(r.hint.as_deref().unwrap_or("–"), HEADER),
    ])];
    if let Some(note) = retired_key_note(e, keys) {
        lines.push(Line::styled(note, DIM));
    }
    // Who judged it and how many like it went unwritten belong with the hint.
    let suppressed = r.suppressed.map(|n| n.to_string());
    let judged: Vec<_> = [
        ("issuer", r.issuer.as_deref()),
        ("oauth client", r.client_id.as_deref()),
        ("not written", suppressed.as_deref()),
    ]
    .into_iter()
    .filter(|(_, v)| v.is_some())
    .flat_map(|(name, v)| field(name, v))
    .collect();
    if !judged.is_empty() {
        lines.push(Line::from(judged));
    }
    lines.extend([
        Line::from([field("time", Some(&r.time)), field("subject", subject.as_deref())].concat()),
        Line::from(
            [
                field("client", r.client.as_deref()),
                field("method", r.method.as_deref()),
                field("path", r.path.as_deref()),
            ]
            .concat(),
        ),
        Line::from(
            [
                field("kid", r.kid.as_deref()),
                field("fingerprint", r.fingerprint.as_deref()),
                field("request id", r.request_id.as_deref()),
            ]
            .concat(),
        ),
        Line::from(field("user agent", r.user_agent.as_deref())),
    ]);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block), area);
}

/// For an `unknown_kid` naming a key the store holds as retired: when it retired,
/// which is what the operator needs (the token outlived its key, or was replayed).
fn retired_key_note(e: &Failure, keys: &[KeyInfo]) -> Option<String> {
    if e.reason != Some(Reason::UnknownKid) {
        return None;
    }
    let kid = e.record.kid.as_deref()?;
    let k = keys
        .iter()
        .find(|k| k.kid.as_str() == kid && k.state == KeyState::Retired)?;
    Some(match k.retired_at.or(k.retire_after) {
        Some(t) => format!("key {kid} was retired at {} UTC", date_time(t)),
        None => format!("key {kid} is retired"),
    })
}
