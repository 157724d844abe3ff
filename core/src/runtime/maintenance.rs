//! The background thread of a store-backed [`super::JwtAuth`]: reloads revocation
//! watermarks and the key ring on their intervals, reloads keys on demand, and
//! sweeps expired sessions and keys in bounded batches. Dropping the handle (with
//! the `JwtAuth`) stops it.

use std::sync::mpsc::{self, RecvTimeoutError, Sender, SyncSender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::keystore::KeyAdmin;
use crate::refresh::Sessions;
use crate::store::StoreError;

/// Sessions deleted per sweep, so one sweep never holds the store for long.
const SWEEP_BATCH: i64 = 500;
const SWEEP_EVERY: Duration = Duration::from_secs(60);

enum Cmd {
    ReloadKeys(SyncSender<bool>),
    Stop,
}

/// What the thread keeps fresh, and how often.
pub(super) struct Work {
    pub keys: KeyAdmin,
    pub sessions: Sessions,
    pub marks_every: Duration,
    pub keys_every: Duration,
}

pub(super) struct Handle {
    tx: Sender<Cmd>,
    thread: Option<JoinHandle<()>>,
}

impl Handle {
    /// A function that asks for a key reload and waits up to the given time for
    /// it; true if it happened. It fails quietly once the thread has stopped.
    pub(super) fn key_reloader(&self) -> crate::token::ReloadKeys {
        let tx = self.tx.clone();
        Box::new(move |wait| {
            let (reply, done) = mpsc::sync_channel(1);
            tx.send(Cmd::ReloadKeys(reply)).is_ok() && done.recv_timeout(wait).unwrap_or(false)
        })
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        let _ = self.tx.send(Cmd::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub(super) fn start(work: Work) -> Handle {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("jwtauth-maintenance".into())
        .spawn(move || run(&work, &rx))
        .ok();
    Handle { tx, thread }
}

fn run(work: &Work, rx: &mpsc::Receiver<Cmd>) {
    let start = Instant::now();
    let (mut next_marks, mut next_keys, mut next_sweep) =
        (start + work.marks_every, start + work.keys_every, start + SWEEP_EVERY);
    loop {
        let next = next_marks.min(next_keys).min(next_sweep);
        match rx.recv_timeout(next.saturating_duration_since(Instant::now())) {
            Ok(Cmd::Stop) | Err(RecvTimeoutError::Disconnected) => return,
            Ok(Cmd::ReloadKeys(reply)) => {
                let ok = warn_on_error("reloading keys", work.keys.reload());
                let _ = reply.send(ok);
                next_keys = Instant::now() + work.keys_every;
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        let now = Instant::now();
        if now >= next_marks {
            warn_on_error("reloading revocation watermarks", work.sessions.reload_revocations());
            // A retired key must stop validating everywhere as soon as a revoked session.
            warn_on_error("checking keys for changes", work.keys.reload_if_changed());
            next_marks = now + work.marks_every;
        }
        if now >= next_keys {
            warn_on_error("reloading keys", work.keys.reload());
            next_keys = now + work.keys_every;
        }
        if now >= next_sweep {
            warn_on_error("sweeping retired keys", work.keys.sweep());
            warn_on_error(
                "sweeping expired sessions",
                work.sessions.purge(SWEEP_BATCH).map(|_| ()),
            );
            next_sweep = now + SWEEP_EVERY;
        }
    }
}

fn warn_on_error(what: &str, r: Result<(), StoreError>) -> bool {
    match r {
        Ok(()) => true,
        Err(e) => {
            // The store may be down for a moment; the next tick retries.
            tracing::warn!("{what} failed: {e}");
            false
        }
    }
}
