//! An in-memory [`Admin`] for state and snapshot tests: enough behaviour to drive
//! the views, none of the core's rules beyond what the views display.

use super::*;
use jwtauth_core::{KeyState, Kid};

/// Keys, sessions, users, clients and issuers in vectors.
#[derive(Debug, Default, Clone)]
pub struct MemoryAdmin {
    /// Keys, newest first.
    pub keys: Vec<KeyInfo>,
    /// Sessions.
    pub sessions: Vec<SessionInfo>,
    /// Users, by name.
    pub users: Vec<UserInfo>,
    /// Passwords as set, by user name (a test looks; the core stores hashes).
    pub passwords: Vec<(String, String)>,
    /// Clients, by id.
    pub clients: Vec<ClientInfo>,
    /// Trusted issuers as this process sees them.
    pub issuers: Vec<IssuerStatus>,
    /// `key_publish_ahead` in seconds.
    pub publish_ahead: i64,
    /// "Now" for new keys, users and clients.
    pub now: i64,
    next: u32,
}

fn no_user(name: &str) -> AdminError {
    AdminError(format!("no user '{name}'"))
}

fn no_client(name: &str) -> AdminError {
    AdminError(format!("no client '{name}'"))
}

impl MemoryAdmin {
    /// A fixed sample: three keys, three sessions, four users, two clients, two
    /// trusted issuers (one unreachable).
    pub fn sample(now: i64) -> MemoryAdmin {
        let key = |kid: &str, alg, state, created, demoted: Option<i64>| KeyInfo {
            kid: Kid::new(kid),
            algorithm: alg,
            state,
            created_at: created,
            demoted_at: demoted,
            retire_after: demoted.map(|d| d + 900),
            retired_at: (state == KeyState::Retired).then(|| demoted.unwrap_or(created) + 900),
            activates_at: None,
        };
        let session =
            |id: &str, subject: &str, started: i64, used: i64, client: Option<&str>, agent: Option<&str>| SessionInfo {
                family_id: id.into(),
                subject: subject.into(),
                started_at: started,
                last_used_at: used,
                expires_at: used + 14 * 86_400,
                max_expires_at: started + 30 * 86_400,
                generation: (used - started) / 900,
                client_id: client.map(str::to_owned),
                user_agent: agent.map(str::to_owned),
            };
        let user = |name: &str, roles: &[&str], disabled, created| UserInfo {
            name: name.into(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            disabled,
            created_at: created,
        };
        let client = |id: &str, roles: &[&str], disabled, created, secret| ClientInfo {
            client_id: id.into(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            disabled,
            created_at: created,
            secret_created_at: secret,
        };
        MemoryAdmin {
            keys: vec![
                key("k2-es256-7f3a", Algorithm::ES256, KeyState::Active, now - 3600, None),
                key(
                    "k1-es256-19c0",
                    Algorithm::ES256,
                    KeyState::VerifyOnly,
                    now - 86_400,
                    Some(now - 3600),
                ),
                key(
                    "k0-rs256-0b11",
                    Algorithm::RS256,
                    KeyState::Retired,
                    now - 90 * 86_400,
                    Some(now - 30 * 86_400),
                ),
            ],
            sessions: vec![
                session(
                    "fam-01",
                    "alice",
                    now - 7200,
                    now - 60,
                    None,
                    Some(
                        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 Version/17.2 Safari/605.1.15",
                    ),
                ),
                session(
                    "fam-02",
                    "alice",
                    now - 86_400,
                    now - 3600,
                    Some("mobile-app"),
                    Some("MyApp/3.2 (iPhone; iOS 17.1)"),
                ),
                session("fam-03", "bob", now - 600, now - 600, None, None),
            ],
            users: vec![
                user("admin", &["Admin"], false, now - 200 * 86_400),
                user("alice", &["Editor", "Viewer"], false, now - 30 * 86_400),
                user("bob", &["Viewer"], false, now - 7 * 86_400),
                user("carol", &["Viewer"], true, now - 60 * 86_400),
            ],
            passwords: Vec::new(),
            clients: vec![
                client("billing-svc", &["Reader"], false, now - 10 * 86_400, now - 86_400),
                client("reports", &[], true, now - 40 * 86_400, now - 40 * 86_400),
            ],
            issuers: vec![
                IssuerStatus {
                    issuer: "https://login.example.com/".into(),
                    usable: true,
                    keys: vec![
                        ("idp-2026-11".into(), "RS256".into()),
                        ("idp-2026-10".into(), "RS256".into()),
                    ],
                    last_fetch: Some(now - 120),
                    next_refresh: Some(now + 480),
                    last_error: None,
                    unreachable_since: None,
                    fetches: 3,
                    warnings: Vec::new(),
                },
                IssuerStatus {
                    issuer: "https://idp.partner.example".into(),
                    usable: false,
                    keys: Vec::new(),
                    last_fetch: None,
                    next_refresh: Some(now + 30),
                    last_error: Some((now - 30, "connection refused".into())),
                    unreachable_since: Some(now - 3600),
                    fetches: 12,
                    warnings: Vec::new(),
                },
            ],
            publish_ahead: 600,
            now,
            next: 3,
        }
    }

    fn user_mut(&mut self, name: &str) -> Result<&mut UserInfo, AdminError> {
        self.users
            .iter_mut()
            .find(|u| u.name == name)
            .ok_or_else(|| no_user(name))
    }

    fn client_mut(&mut self, name: &str) -> Result<&mut ClientInfo, AdminError> {
        self.clients
            .iter_mut()
            .find(|c| c.client_id == name)
            .ok_or_else(|| no_client(name))
    }

    fn end_sessions(&mut self, subject: &str) {
        self.sessions.retain(|s| s.subject != subject);
    }

    fn new_secret(&mut self) -> Secret {
        self.next += 1;
        Secret::from(format!("jwtcs_memory-secret-{}", self.next).as_str())
    }
}

impl Admin for MemoryAdmin {
    fn list_keys(&mut self) -> Result<Vec<KeyInfo>, AdminError> {
        Ok(self.keys.clone())
    }
    fn publish_ahead(&mut self) -> i64 {
        self.publish_ahead
    }
    fn rotate_key(&mut self, alg: Option<Algorithm>, when: Rotation) -> Result<KeyInfo, AdminError> {
        let now = self.now;
        // A pending next key is replaced, as the core does.
        self.keys.retain(|k| k.state != KeyState::Next);
        let next = when == Rotation::PublishAhead && self.publish_ahead > 0;
        if !next {
            for k in self.keys.iter_mut().filter(|k| k.state == KeyState::Active) {
                k.state = KeyState::VerifyOnly;
                k.demoted_at = Some(now);
                k.retire_after = Some(now + 900);
            }
        }
        let alg = alg.unwrap_or(Algorithm::ES256);
        let kid = format!("k{}-{}", self.next, alg.as_str().to_ascii_lowercase());
        self.next += 1;
        let key = KeyInfo {
            kid: Kid::new(kid),
            algorithm: alg,
            state: if next { KeyState::Next } else { KeyState::Active },
            created_at: now,
            demoted_at: None,
            retire_after: None,
            retired_at: None,
            activates_at: Some(if next { now + self.publish_ahead } else { now }),
        };
        self.keys.insert(0, key.clone());
        Ok(key)
    }
    fn retire_key(&mut self, kid: &str) -> Result<(), AdminError> {
        let k = self
            .keys
            .iter_mut()
            .find(|k| k.kid.as_str() == kid)
            .ok_or_else(|| AdminError(format!("no key has kid '{kid}'")))?;
        if k.state == KeyState::Active {
            return Err(AdminError("the active key cannot be retired".into()));
        }
        k.state = KeyState::Retired;
        Ok(())
    }
    fn jwks(&mut self) -> Result<serde_json::Value, AdminError> {
        let keys: Vec<_> = self
            .keys
            .iter()
            .filter(|k| k.state != KeyState::Retired)
            .map(|k| serde_json::json!({ "kid": k.kid.as_str(), "alg": k.algorithm.as_str() }))
            .collect();
        Ok(serde_json::json!({ "keys": keys }))
    }
    fn trusted_issuers(&mut self) -> Vec<IssuerStatus> {
        self.issuers.clone()
    }
    fn list_sessions(&mut self) -> Result<Vec<SessionInfo>, AdminError> {
        Ok(self.sessions.clone())
    }
    fn revoke_session(&mut self, family_id: &str) -> Result<(), AdminError> {
        self.sessions.retain(|s| s.family_id != family_id);
        Ok(())
    }
    fn revoke_subject(&mut self, subject: &str) -> Result<u64, AdminError> {
        let before = self.sessions.len();
        self.end_sessions(subject);
        Ok((before - self.sessions.len()) as u64)
    }
    fn list_users(&mut self) -> Result<Vec<UserInfo>, AdminError> {
        Ok(self.users.clone())
    }
    fn add_user(&mut self, name: &str, password: &Secret, roles: &[String]) -> Result<(), AdminError> {
        if self.users.iter().any(|u| u.name == name) {
            return Err(AdminError(format!("user '{name}' already exists")));
        }
        self.users.push(UserInfo {
            name: name.into(),
            roles: roles.to_vec(),
            disabled: false,
            created_at: self.now,
        });
        self.users.sort_by(|a, b| a.name.cmp(&b.name));
        self.passwords.push((name.into(), password.expose().into()));
        Ok(())
    }
    fn set_password(&mut self, name: &str, password: &Secret) -> Result<(), AdminError> {
        self.user_mut(name)?;
        self.passwords.push((name.into(), password.expose().into()));
        self.end_sessions(name);
        Ok(())
    }
    fn disable_user(&mut self, name: &str) -> Result<(), AdminError> {
        self.user_mut(name)?.disabled = true;
        self.end_sessions(name);
        Ok(())
    }
    fn enable_user(&mut self, name: &str) -> Result<(), AdminError> {
        self.user_mut(name)?.disabled = false;
        Ok(())
    }
    fn change_roles(&mut self, name: &str, add: &[String], remove: &[String]) -> Result<Vec<String>, AdminError> {
        let u = self.user_mut(name)?;
        for r in add {
            if !u.roles.contains(r) {
                u.roles.push(r.clone());
            }
        }
        u.roles.retain(|r| !remove.contains(r));
        let roles = u.roles.clone();
        self.end_sessions(name);
        Ok(roles)
    }
    fn delete_user(&mut self, name: &str) -> Result<(), AdminError> {
        self.user_mut(name)?;
        self.users.retain(|u| u.name != name);
        self.end_sessions(name);
        Ok(())
    }
    fn list_clients(&mut self) -> Result<Vec<ClientInfo>, AdminError> {
        Ok(self.clients.clone())
    }
    fn add_client(&mut self, name: &str, roles: &[String]) -> Result<Secret, AdminError> {
        if self.clients.iter().any(|c| c.client_id == name) || self.users.iter().any(|u| u.name == name) {
            return Err(AdminError(format!(
                "'{name}' is already the name of a client or a user"
            )));
        }
        self.clients.push(ClientInfo {
            client_id: name.into(),
            roles: roles.to_vec(),
            disabled: false,
            created_at: self.now,
            secret_created_at: self.now,
        });
        self.clients.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        Ok(self.new_secret())
    }
    fn disable_client(&mut self, name: &str) -> Result<(), AdminError> {
        self.client_mut(name)?.disabled = true;
        Ok(())
    }
    fn rotate_client_secret(&mut self, name: &str) -> Result<Secret, AdminError> {
        let now = self.now;
        self.client_mut(name)?.secret_created_at = now;
        Ok(self.new_secret())
    }
}
