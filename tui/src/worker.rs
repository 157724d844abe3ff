//! The store thread: opens the store (retrying while it is unreachable), runs the
//! admin requests the app queues and reloads keys and sessions periodically, so
//! changes made by servers or other admins show up.

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use crate::admin::{Admin, AdminError, Connect};
use crate::app::{AdminRequest, AdminUpdate, StoreStatus};

/// Timing of the store thread.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// How often keys and sessions are reloaded.
    pub refresh: Duration,
    /// How long to wait before trying an unreachable store again.
    pub retry: Duration,
}

/// Runs the store thread until either channel is closed.
pub fn spawn(
    mut connect: Connect,
    label: String,
    timing: Timing,
    requests: Receiver<AdminRequest>,
    updates: Sender<AdminUpdate>,
) -> std::io::Result<()> {
    std::thread::Builder::new().name("store".into()).spawn(move || {
        let mut admin: Option<Box<dyn Admin>> = None;
        let mut last_error = None;
        loop {
            let Some(a) = admin.as_mut() else {
                match connect() {
                    Ok(a) => {
                        admin = Some(a);
                        last_error = None;
                        if updates
                            .send(AdminUpdate::Status(StoreStatus::Connected(label.clone())))
                            .is_err()
                        {
                            return;
                        }
                        continue;
                    }
                    Err(e) => {
                        if last_error.as_ref() != Some(&e.0) {
                            last_error = Some(e.0.clone());
                            if updates
                                .send(AdminUpdate::Status(StoreStatus::Unavailable(e.0)))
                                .is_err()
                            {
                                return;
                            }
                        }
                        match requests.recv_timeout(timing.retry) {
                            Ok(_) => {
                                let msg = "the store is unavailable; nothing was changed".to_owned();
                                if updates.send(AdminUpdate::Failed(msg)).is_err() {
                                    return;
                                }
                            }
                            Err(RecvTimeoutError::Timeout) => {}
                            Err(RecvTimeoutError::Disconnected) => return,
                        }
                        continue;
                    }
                }
            };
            // Load the lists first (on connect and after every request), then wait.
            match reload(a.as_mut(), &updates) {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => {
                    admin = None;
                    if updates
                        .send(AdminUpdate::Status(StoreStatus::Unavailable(e.0.clone())))
                        .is_err()
                    {
                        return;
                    }
                    last_error = Some(e.0);
                    continue;
                }
            }
            match requests.recv_timeout(timing.refresh) {
                Ok(req) => {
                    let update = match execute(a.as_mut(), req) {
                        Ok(Some(done)) => Some(AdminUpdate::Done(done)),
                        Ok(None) => None,
                        Err(e) => Some(AdminUpdate::Failed(e.0)),
                    };
                    if let Some(u) = update
                        && updates.send(u).is_err()
                    {
                        return;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    })?;
    Ok(())
}

/// Sends fresh lists; `Ok(false)` when the app is gone.
fn reload(a: &mut dyn Admin, updates: &Sender<AdminUpdate>) -> Result<bool, AdminError> {
    let keys = a.list_keys()?;
    let sessions = a.list_sessions()?;
    Ok(updates.send(AdminUpdate::Keys(keys)).is_ok() && updates.send(AdminUpdate::Sessions(sessions)).is_ok())
}

/// Runs one request; returns what to tell the user.
pub fn execute(a: &mut dyn Admin, req: AdminRequest) -> Result<Option<String>, AdminError> {
    Ok(Some(match req {
        AdminRequest::Refresh => return Ok(None),
        AdminRequest::Rotate(alg) => format!("rotated: {} is the active key", a.rotate_key(alg)?),
        AdminRequest::Retire(kid) => {
            a.retire_key(&kid)?;
            format!("retired key {kid}")
        }
        AdminRequest::ExportJwks(path) => {
            let jwks = a.jwks()?;
            let n = jwks["keys"].as_array().map_or(0, Vec::len);
            let text = serde_json::to_string_pretty(&jwks)?;
            std::fs::write(&path, text + "\n").map_err(|e| AdminError(format!("{}: {e}", path.display())))?;
            format!(
                "JWKS with {} written to {}",
                crate::app::plural(n, "public key", "public keys"),
                path.display()
            )
        }
        AdminRequest::RevokeSession(id) => {
            a.revoke_session(&id)?;
            format!("revoked session {id}")
        }
        AdminRequest::RevokeSubject(subject) => {
            let n = a.revoke_subject(&subject)?;
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            format!("revoked {} of {subject}", crate::app::plural(n, "session", "sessions"))
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::memory::MemoryAdmin;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::{Arc, mpsc};

    fn timing() -> Timing {
        Timing {
            refresh: Duration::from_secs(60),
            retry: Duration::from_millis(5),
        }
    }

    #[test]
    fn an_unreachable_store_is_reported_and_retried_until_it_opens() {
        let tries = Arc::new(AtomicU32::new(0));
        let t = tries.clone();
        let connect: Connect = Box::new(move || {
            if t.fetch_add(1, Ordering::SeqCst) < 3 {
                Err(AdminError("connection refused".into()))
            } else {
                Ok(Box::new(MemoryAdmin::sample(1_795_878_000)) as Box<dyn Admin>)
            }
        });
        let (req_tx, req_rx) = mpsc::channel();
        let (tx, rx) = mpsc::channel();
        spawn(connect, "sqlite://x.db".into(), timing(), req_rx, tx).unwrap();
        assert_eq!(
            rx.recv().unwrap(),
            AdminUpdate::Status(StoreStatus::Unavailable("connection refused".into()))
        );
        assert_eq!(
            rx.recv().unwrap(),
            AdminUpdate::Status(StoreStatus::Connected("sqlite://x.db".into()))
        );
        assert!(matches!(rx.recv().unwrap(), AdminUpdate::Keys(k) if k.len() == 3));
        assert!(matches!(rx.recv().unwrap(), AdminUpdate::Sessions(s) if s.len() == 3));
        assert!(tries.load(Ordering::SeqCst) >= 4);
        req_tx.send(AdminRequest::Rotate(None)).unwrap();
        assert!(matches!(rx.recv().unwrap(), AdminUpdate::Done(m) if m.starts_with("rotated: k3-es256")));
        assert!(matches!(rx.recv().unwrap(), AdminUpdate::Keys(k) if k.len() == 4));
    }

    #[test]
    fn a_refused_change_is_reported_not_fatal() {
        let mut a = MemoryAdmin::sample(0);
        let err = execute(&mut a, AdminRequest::Retire("k2-es256-7f3a".into())).unwrap_err();
        assert!(err.0.contains("active key cannot be retired"), "{err}");
        assert!(execute(&mut a, AdminRequest::Retire("k1-es256-19c0".into())).is_ok());
    }

    #[test]
    fn jwks_export_writes_the_public_document() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwks.json");
        let mut a = MemoryAdmin::sample(0);
        let msg = execute(&mut a, AdminRequest::ExportJwks(path.clone()))
            .unwrap()
            .unwrap();
        assert!(msg.starts_with("JWKS with 2 public keys"), "{msg}");
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v["keys"].as_array().unwrap().len(), 2);
    }
}
