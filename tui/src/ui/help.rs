//! The `?` screen: printed from the key binding table itself.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::theme::{DIM, HEADER, KEY};
use crate::keymap::{BINDINGS, PROMPT_KEYS, Scope};

pub(super) fn draw(frame: &mut Frame, area: Rect) {
    let r = super::popup::centered(area, 110, 26);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(" keys ", HEADER))
        .title_bottom(Line::from(vec![
            Span::styled(" ? Esc", KEY),
            Span::styled(" close ", DIM),
        ]));
    let inner = block.inner(r);
    frame.render_widget(Clear, r);
    frame.render_widget(block, r);
    let [left, right] = Layout::horizontal([Constraint::Ratio(1, 2); 2]).spacing(2).areas(inner);
    let mut l = section(Scope::Global);
    let mut rt = Vec::new();
    for s in [Scope::Failures, Scope::Keys, Scope::Sessions] {
        rt.extend(section(s));
    }
    rt.push(Line::styled("Prompts", HEADER));
    for (k, what) in PROMPT_KEYS {
        rt.push(entry(k, what, false));
    }
    l.push(Line::raw(""));
    l.push(Line::styled("✎ refused with --read-only", DIM));
    frame.render_widget(Paragraph::new(l), left);
    frame.render_widget(Paragraph::new(rt), right);
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
