//! jwtauth-tui: the admin terminal UI. It follows the failure log, shows signing
//! keys, trusted issuers, sessions, users and service clients, and changes them
//! through the core.
//!
//! Laid out like ratatui's examples: [`app`] holds pure state changed only by
//! actions, [`ui`] draws it, and the binary's event loop turns keys, ticks and
//! news from the I/O threads ([`follow`], [`worker`]) into actions.

pub mod admin;
pub mod app;
pub mod failure;
pub mod filter;
pub mod follow;
pub mod keymap;
pub mod ring;
pub mod secret;
pub mod stats;
pub mod store;
pub mod ui;
pub mod worker;
