//! The store thread: opens the store (retrying while it is unreachable), runs the
//! admin requests the app queues and reloads every list periodically, so changes
//! made by servers or other admins show up.

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use crate::admin::{Admin, AdminError, Connect, Rotation};
use crate::app::{AdminRequest, AdminUpdate, ShownSecret, StoreStatus, plural, role_list};
use crate::failure::{date_time, span};

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
                    Ok(mut a) => {
                        let ahead = a.publish_ahead();
                        admin = Some(a);
                        last_error = None;
                        if updates
                            .send(AdminUpdate::Status(StoreStatus::Connected(label.clone())))
                            .is_err()
                            || updates.send(AdminUpdate::PublishAhead(ahead)).is_err()
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
                    let update = execute(a.as_mut(), req).unwrap_or_else(|e| Some(AdminUpdate::Failed(e.0)));
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

/// Every list, in the order they are sent: the sessions last, which tells the
/// app a reload is complete.
pub fn lists(a: &mut dyn Admin) -> Result<[AdminUpdate; 5], AdminError> {
    Ok([
        AdminUpdate::Keys(a.list_keys()?),
        AdminUpdate::Issuers(a.trusted_issuers()),
        AdminUpdate::Users(a.list_users()?),
        AdminUpdate::Clients(a.list_clients()?),
        AdminUpdate::Sessions(a.list_sessions()?),
    ])
}

/// Sends fresh lists; `Ok(false)` when the app is gone.
fn reload(a: &mut dyn Admin, updates: &Sender<AdminUpdate>) -> Result<bool, AdminError> {
    Ok(lists(a)?.into_iter().all(|u| updates.send(u).is_ok()))
}

/// Runs one request; returns what to tell the user (and a secret to show once).
pub fn execute(a: &mut dyn Admin, req: AdminRequest) -> Result<Option<AdminUpdate>, AdminError> {
    let shown = |client_id: String, secret, done: String| {
        Ok(Some(AdminUpdate::Secret(ShownSecret { client_id, secret }, done)))
    };
    Ok(Some(AdminUpdate::Done(match req {
        AdminRequest::Refresh => return Ok(None),
        AdminRequest::Rotate(alg, when) => {
            let key = a.rotate_key(alg, when)?;
            match key.activates_at {
                Some(at) if key.state == jwtauth_core::KeyState::Next => {
                    let ahead = at.saturating_sub(key.created_at);
                    // The facts first: a kid is long enough to be cut off.
                    format!(
                        "published now, signs from {} UTC (in {}): {}",
                        date_time(at),
                        span(ahead),
                        key.kid
                    )
                }
                _ if when == Rotation::Now => format!(
                    "rotated now: {} is the active key; relying parties with a cached JWKS reject its tokens until they refetch",
                    key.kid
                ),
                _ => format!("rotated: {} is the active key", key.kid),
            }
        }
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
                plural(n, "public key", "public keys"),
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
            format!("revoked {} of {subject}", plural(n, "session", "sessions"))
        }
        AdminRequest::AddUser { name, roles, password } => {
            a.add_user(&name, &password, &roles)?;
            format!("user '{name}' added with roles {}", role_list(&roles))
        }
        AdminRequest::SetPassword { name, password } => {
            a.set_password(&name, &password)?;
            format!("password of '{name}' changed; its sessions and tokens are revoked")
        }
        AdminRequest::DisableUser(name) => {
            a.disable_user(&name)?;
            format!("user '{name}' disabled; its sessions and tokens are revoked")
        }
        AdminRequest::EnableUser(name) => {
            a.enable_user(&name)?;
            format!("user '{name}' enabled; it may log in again")
        }
        AdminRequest::ChangeRoles { name, add, remove } => {
            let roles = a.change_roles(&name, &add, &remove)?;
            format!(
                "user '{name}' now has roles {}; its sessions and tokens are revoked",
                role_list(&roles)
            )
        }
        AdminRequest::DeleteUser(name) => {
            a.delete_user(&name)?;
            format!("user '{name}' deleted; its sessions and tokens are revoked")
        }
        AdminRequest::AddClient { name, roles } => {
            let secret = a.add_client(&name, &roles)?;
            let done = format!("client '{name}' added: copy its secret now, it is shown only this once");
            return shown(name, secret, done);
        }
        AdminRequest::DisableClient(name) => {
            a.disable_client(&name)?;
            format!("client '{name}' disabled; its tokens are revoked")
        }
        AdminRequest::RotateClientSecret(name) => {
            let secret = a.rotate_client_secret(&name)?;
            let done = format!("client '{name}' has a new secret; the old one no longer works. Copy it now");
            return shown(name, secret, done);
        }
    })))
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
        assert_eq!(rx.recv().unwrap(), AdminUpdate::PublishAhead(600));
        assert!(matches!(rx.recv().unwrap(), AdminUpdate::Keys(k) if k.len() == 3));
        assert!(matches!(rx.recv().unwrap(), AdminUpdate::Issuers(i) if i.len() == 2));
        assert!(matches!(rx.recv().unwrap(), AdminUpdate::Users(u) if u.len() == 4));
        assert!(matches!(rx.recv().unwrap(), AdminUpdate::Clients(c) if c.len() == 2));
        assert!(matches!(rx.recv().unwrap(), AdminUpdate::Sessions(s) if s.len() == 3));
        assert!(tries.load(Ordering::SeqCst) >= 4);
        req_tx.send(AdminRequest::Rotate(None, Rotation::PublishAhead)).unwrap();
        let done = rx.recv().unwrap();
        assert!(
            matches!(&done, AdminUpdate::Done(m) if m == "published now, signs from 2026-11-28 15:10 UTC (in 10 min): k3-es256"),
            "{done:?}"
        );
        assert!(matches!(rx.recv().unwrap(), AdminUpdate::Keys(k) if k.len() == 4));
    }

    #[test]
    fn an_emergency_rotation_says_the_new_key_signs_at_once() {
        let mut a = MemoryAdmin::sample(0);
        let done = execute(&mut a, AdminRequest::Rotate(None, Rotation::Now)).unwrap();
        assert!(
            matches!(&done, Some(AdminUpdate::Done(m)) if m.starts_with("rotated now: k3-es256 is the active key; relying parties with a cached JWKS reject")),
            "{done:?}"
        );
        assert_eq!(a.keys[0].state, jwtauth_core::KeyState::Active);
    }

    #[test]
    fn a_new_client_secret_comes_back_to_be_shown_once() {
        let mut a = MemoryAdmin::sample(0);
        let req = AdminRequest::AddClient {
            name: "ledger".into(),
            roles: vec!["Reader".into()],
        };
        let Some(AdminUpdate::Secret(shown, done)) = execute(&mut a, req).unwrap() else {
            panic!("a secret to show")
        };
        assert_eq!(shown.client_id, "ledger");
        assert!(shown.secret.expose().starts_with("jwtcs_"));
        assert!(done.contains("shown only this once"), "{done}");
        assert!(
            !done.contains(shown.secret.expose()),
            "the message never holds the secret"
        );
        let Some(AdminUpdate::Secret(again, _)) =
            execute(&mut a, AdminRequest::RotateClientSecret("ledger".into())).unwrap()
        else {
            panic!("a secret to show")
        };
        assert_ne!(again.secret, shown.secret);
        let err = execute(&mut a, AdminRequest::RotateClientSecret("nobody".into())).unwrap_err();
        assert_eq!(err.0, "no client 'nobody'");
    }

    #[test]
    fn user_changes_say_what_the_core_did() {
        let mut a = MemoryAdmin::sample(0);
        let msg = |u: Option<AdminUpdate>| match u {
            Some(AdminUpdate::Done(m)) => m,
            other => panic!("{other:?}"),
        };
        let add = AdminRequest::AddUser {
            name: "dave".into(),
            roles: vec!["Viewer".into(), "Editor".into()],
            password: crate::secret::Secret::from("correct horse"),
        };
        assert_eq!(
            msg(execute(&mut a, add).unwrap()),
            "user 'dave' added with roles [Viewer, Editor]"
        );
        let roles = AdminRequest::ChangeRoles {
            name: "alice".into(),
            add: vec!["Admin".into()],
            remove: vec!["Viewer".into()],
        };
        assert_eq!(
            msg(execute(&mut a, roles).unwrap()),
            "user 'alice' now has roles [Editor, Admin]; its sessions and tokens are revoked"
        );
        assert!(a.sessions.iter().all(|s| s.subject != "alice"));
        let err = execute(&mut a, AdminRequest::DisableUser("nobody".into())).unwrap_err();
        assert_eq!(err.0, "no user 'nobody'");
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
        let msg = execute(&mut a, AdminRequest::ExportJwks(path.clone())).unwrap();
        assert!(
            matches!(&msg, Some(AdminUpdate::Done(m)) if m.starts_with("JWKS with 2 public keys")),
            "{msg:?}"
        );
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v["keys"].as_array().unwrap().len(), 2);
    }
}
