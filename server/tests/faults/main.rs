//! Crash and fault tests of the real `jwtauth-server` binary over real sockets:
//! `kill -9` under a mixed load and restart on the same store (SQLite and
//! PostgreSQL), PostgreSQL stopped under load (a private cluster, never the shared
//! one), and a read-only or full disk for the SQLite file and the failure log.
//!
//! Tests that need root (mounts) or a private PostgreSQL cluster skip with a printed
//! reason; `JWTAUTH_REQUIRE_FAULTS=1` turns every skip into a failure (as in CI).
//! `JWTAUTH_FAULTS_KILLS` and `JWTAUTH_FAULTS_CLIENTS` lengthen the kill runs.
//! Each test prints one `FAULTS …` line of figures (run with `--nocapture`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/binary.rs"]
mod binary;
mod disk;
mod harness;
mod kill;
mod pg_down;
