//! The trusted issuers section of the keys view. It shows what *this* process
//! knows: the TUI fetches each issuer's keys itself when its configuration names
//! `[[trusted_issuers]]`, so a server's view (its `/readyz`) may differ.

use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};

use super::theme::{DIM, ERROR, HEADER, OK};
use super::when;
use crate::admin::IssuerStatus;
use crate::app::plural;

/// The section's lines: a title, then per issuer a line of facts and its keys, a
/// line of fetch times, and its last error when there is one.
pub(super) fn lines(issuers: &[IssuerStatus], wide: bool) -> Vec<Line<'static>> {
    if issuers.is_empty() {
        return vec![Line::from(vec![
            Span::styled(" trusted issuers ", HEADER),
            Span::styled("none configured ([[trusted_issuers]])", DIM),
        ])];
    }
    let mut out = vec![Line::from(vec![
        Span::styled(" trusted issuers ", HEADER),
        Span::styled(
            format!(
                "{}, fetched by this TUI itself, not by the server",
                plural(issuers.len(), "issuer", "issuers")
            ),
            DIM,
        ),
    ])];
    for i in issuers {
        let keys = i
            .keys
            .iter()
            .map(|(kid, alg)| format!("{kid} ({alg})"))
            .collect::<Vec<_>>()
            .join(", ");
        out.push(Line::from(vec![
            Span::raw(format!(" {}  ", i.issuer)),
            if i.usable {
                Span::styled("usable", OK)
            } else {
                Span::styled("UNUSABLE", ERROR)
            },
            Span::styled(format!("  {}", plural(i.keys.len(), "key", "keys")), DIM),
            Span::raw(if keys.is_empty() {
                String::new()
            } else {
                format!(": {keys}")
            }),
        ]));
        let mut times = vec![
            Span::styled("   fetched ", DIM),
            Span::raw(when(i.last_fetch, wide)),
            Span::styled("  next refresh ", DIM),
            Span::raw(when(i.next_refresh, wide)),
        ];
        if let Some(since) = i.unreachable_since {
            times.push(Span::styled("  unreachable since ", DIM));
            times.push(Span::styled(when(Some(since), wide), Style::new().fg(Color::Red)));
        }
        out.push(Line::from(times));
        if let Some((at, error)) = &i.last_error {
            out.push(Line::from(vec![
                Span::styled("   last error ", DIM),
                Span::raw(when(Some(*at), wide)),
                Span::styled(": ", DIM),
                Span::styled(error.clone(), Style::new().fg(Color::Red)),
            ]));
        }
    }
    out
}
