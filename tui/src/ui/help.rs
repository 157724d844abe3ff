//! The `?` screen: printed from the key binding table itself. The left column
//! holds the keys of every view and of prompts; the right one each view's own
//! keys, the current view's first. When a column is longer than the screen,
//! both scroll together (↑ ↓ PgUp PgDn) and the border says how much is left.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::theme::{DIM, HEADER, KEY};
use crate::app::{App, View};
use crate::keymap::{BINDINGS, PROMPT_KEYS, Scope};

pub(super) fn draw(frame: &mut Frame, area: Rect, app: &mut App) {
    let mut left = section(Scope::Global);
    left.push(Line::styled("Prompts", HEADER));
    for (k, what) in PROMPT_KEYS {
        left.push(entry(k, what, false));
    }
    let current = app.view.scope();
    let mut right = section(current);
    for v in View::ALL {
        if v.scope() != current {
            right.extend(section(v.scope()));
        }
    }
    let longest = left.len().max(right.len());
    let r = super::popup::centered(area, 110, u16::try_from(longest + 2).unwrap_or(u16::MAX));
    let height = usize::from(r.height.saturating_sub(2));
    let hidden = longest.saturating_sub(height);
    app.help_scroll = app.help_scroll.min(hidden);
    app.page = height.max(1);
    let scroll = app.help_scroll;
    let mut hint = vec![
        Span::styled(" ? Esc", KEY),
        Span::styled(" close ", DIM),
        Span::styled(" ✎ refused with --read-only ", DIM),
    ];
    if hidden > 0 {
        let below = hidden - scroll;
        hint.push(Span::styled(" ↑ ↓", KEY));
        hint.push(Span::styled(format!(" scroll: {scroll} above, {below} below "), DIM));
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(" keys ", HEADER))
        .title_bottom(Line::from(hint));
    let inner = block.inner(r);
    frame.render_widget(Clear, r);
    frame.render_widget(block, r);
    let [l, rt] = Layout::horizontal([Constraint::Ratio(1, 2); 2]).spacing(2).areas(inner);
    for (lines, area) in [(left, l), (right, rt)] {
        // A column that fits stays put while the other scrolls.
        let own = scroll.min(lines.len().saturating_sub(height));
        let shown: Vec<Line> = lines.into_iter().skip(own).collect();
        frame.render_widget(Paragraph::new(shown), area);
    }
}

fn section(scope: Scope) -> Vec<Line<'static>> {
    let mut lines = vec![Line::styled(scope.title(), HEADER)];
    lines.extend(
        BINDINGS
            .iter()
            .filter(|b| b.scope == scope)
            .map(|b| entry(b.label, b.help, b.writes)),
    );
    lines
}

fn entry(keys: &'static str, help: &'static str, writes: bool) -> Line<'static> {
    Line::from(vec![
        // As wide as the widest label, so each half fits at 80 columns.
        Span::styled(format!("{keys:>6} "), KEY),
        Span::raw(if writes { "✎ " } else { "  " }),
        Span::raw(help),
    ])
}
