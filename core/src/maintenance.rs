//! The background thread of a store-backed [`crate::JwtAuth`]: reloads revocation
//! watermarks and the key ring on their intervals, reloads keys on demand, and
//! sweeps expired sessions in bounded batches. It holds only a weak reference, so
//! dropping the `JwtAuth` ends it.

use std::sync::Weak;
use std::sync::mpsc::{self, RecvTimeoutError, Sender, SyncSender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::Inner;

/// Sessions deleted per sweep, so one sweep never holds the store for long.
const SWEEP_BATCH: i64 = 500;
const SWEEP_EVERY: Duration = Duration::from_secs(60);

enum Cmd {
    ReloadKeys(SyncSender<bool>),
    Stop,
}

pub(crate) struct Handle {
    tx: Sender<Cmd>,
    thread: Option<JoinHandle<()>>,
}

impl Handle {
    /// Asks for a key reload and waits up to `wait` for it; true if it happened.
    pub(crate) fn reload_keys(&self, wait: Duration) -> bool {
        let (reply, done) = mpsc::sync_channel(1);
        self.tx.send(Cmd::ReloadKeys(reply)).is_ok() && done.recv_timeout(wait).unwrap_or(false)
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

pub(crate) fn start(inner: Weak<Inner>) -> Handle {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("jwtauth-maintenance".into())
        .spawn(move || run(inner, rx))
        .ok();
    Handle { tx, thread }
}

fn run(inner: Weak<Inner>, rx: mpsc::Receiver<Cmd>) {
    let Some((marks_every, keys_every)) = inner.upgrade().map(|i| i.tick_intervals()) else {
        return;
    };
    let start = Instant::now();
    let (mut next_marks, mut next_keys, mut next_sweep) =
        (start + marks_every, start + keys_every, start + SWEEP_EVERY);
    loop {
        let next = next_marks.min(next_keys).min(next_sweep);
        let cmd = rx.recv_timeout(next.saturating_duration_since(Instant::now()));
        let Some(inner) = inner.upgrade() else { return };
        match cmd {
            Ok(Cmd::Stop) | Err(RecvTimeoutError::Disconnected) => return,
            Ok(Cmd::ReloadKeys(reply)) => {
                let ok = warn_on_error("reloading keys", inner.reload_keys());
                let _ = reply.send(ok);
                next_keys = Instant::now() + keys_every;
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        let now = Instant::now();
        if now >= next_marks {
            warn_on_error("reloading revocation watermarks", inner.reload_watermarks());
            next_marks = now + marks_every;
        }
        if now >= next_keys {
            warn_on_error("reloading keys", inner.reload_keys());
            next_keys = now + keys_every;
        }
        if now >= next_sweep {
            warn_on_error("sweeping expired sessions", inner.sweep(SWEEP_BATCH).map(|_| ()));
            next_sweep = now + SWEEP_EVERY;
        }
    }
}

fn warn_on_error(what: &str, r: Result<(), crate::StoreError>) -> bool {
    match r {
        Ok(()) => true,
        Err(e) => {
            // The store may be down for a moment; the next tick retries.
            tracing::warn!("{what} failed: {e}");
            false
        }
    }
}
