//! Colours and styles in one place.

use jwtauth_core::{KeyState, Reason};
use ratatui::style::{Color, Modifier, Style};

use crate::stats::{REASON_SLOTS, slot};

/// Colour of each reason slot (see [`crate::stats::slot`]): related reasons get
/// related hues so a burst reads at a glance.
const REASON_COLORS: [Color; REASON_SLOTS] = [
    Color::Gray,         // unknown
    Color::Blue,         // missing_token
    Color::LightBlue,    // bad_scheme
    Color::Cyan,         // malformed
    Color::LightCyan,    // too_large
    Color::LightRed,     // alg_not_allowed
    Color::Magenta,      // unknown_kid
    Color::Red,          // bad_signature
    Color::Yellow,       // expired
    Color::LightYellow,  // not_yet_valid
    Color::LightMagenta, // wrong_issuer
    Color::Indexed(208), // wrong_audience
    Color::Indexed(141), // missing_claim
    Color::Green,        // revoked
    Color::LightGreen,   // insufficient_role
    Color::Indexed(39),  // refresh_invalid
    Color::Indexed(178), // refresh_expired
    Color::Indexed(160), // refresh_reused
    Color::Indexed(202), // bad_credentials
    Color::Indexed(99),  // rate_limited
];

/// Colour of a reason slot.
pub fn slot_color(i: usize) -> Color {
    REASON_COLORS.get(i).copied().unwrap_or(Color::Gray)
}

/// Colour of a reason (unknown names are grey).
pub fn reason_color(reason: Option<Reason>) -> Color {
    slot_color(slot(reason))
}

/// Colour of a reason given by name.
pub fn reason_name_color(name: &str) -> Color {
    reason_color(name.parse().ok())
}

/// Colour of a key state.
pub fn key_state_color(s: KeyState) -> Color {
    match s {
        KeyState::Active => Color::Green,
        KeyState::VerifyOnly => Color::Yellow,
        KeyState::Next => Color::Cyan,
        _ => Color::DarkGray,
    }
}

/// Filter matches.
pub const MATCH: Style = Style::new().fg(Color::Black).bg(Color::Yellow);
/// The selected row.
pub const SELECTED: Style = Style::new().add_modifier(Modifier::REVERSED);
/// Table headers and titles.
pub const HEADER: Style = Style::new().add_modifier(Modifier::BOLD);
/// Secondary text.
pub const DIM: Style = Style::new().fg(Color::DarkGray);
/// Errors in the status line.
pub const ERROR: Style = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);
/// Good news in the status line.
pub const OK: Style = Style::new().fg(Color::Green);
/// Keys in help and hints.
pub const KEY: Style = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);
