//! The real [`Admin`]: a thin adapter over a store-backed [`JwtAuth`]. Every rule
//! (what rotation does, that the active key cannot be retired, which sessions are
//! live, which names and passwords are acceptable, whose sessions end) is the
//! core's; this file only translates.

use jwtauth_core::{Algorithm, Config, JwtAuth, KeyState, OpenOptions};

use crate::admin::{Admin, AdminError, ClientInfo, Connect, IssuerStatus, KeyInfo, Rotation, SessionInfo, UserInfo};
use crate::secret::Secret;

/// Most sessions listed at once.
pub const SESSION_LIMIT: usize = 10_000;

/// [`Admin`] over the store named by `store.url`.
#[derive(Debug)]
pub struct CoreAdmin(JwtAuth);

impl CoreAdmin {
    /// Opens the store (SQLite file or PostgreSQL) named by the configuration.
    ///
    /// A service makes a configured `hs_secret` or `key_file` the active key when it
    /// opens the store. An admin tool opening (and reopening after an outage) must
    /// not do that: it would undo every rotation made here or by another admin. So
    /// the store is opened as an administration tool opens it.
    pub fn open(config: Config) -> Result<CoreAdmin, AdminError> {
        Ok(CoreAdmin(JwtAuth::open_with(config, OpenOptions::admin())?))
    }
}

/// What the CLI says when the core found no such user to change.
fn no_user(name: &str) -> AdminError {
    AdminError(format!("no user '{name}'"))
}

/// `Ok` when the core found the user it was asked to change.
fn found(exists: bool, name: &str) -> Result<(), AdminError> {
    if exists { Ok(()) } else { Err(no_user(name)) }
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

impl Admin for CoreAdmin {
    fn list_keys(&mut self) -> Result<Vec<KeyInfo>, AdminError> {
        // Shown in life order: the next key, the active one, then verify-only, then
        // retired; newest first within.
        let rank = |s: KeyState| match s {
            KeyState::Next => 0,
            KeyState::Active => 1,
            KeyState::VerifyOnly => 2,
            _ => 3,
        };
        let mut keys = self.0.keys().list()?;
        keys.sort_by(|a, b| rank(a.state).cmp(&rank(b.state)).then(b.created_at.cmp(&a.created_at)));
        Ok(keys)
    }

    fn publish_ahead(&mut self) -> i64 {
        self.0.keys().publish_ahead()
    }

    fn rotate_key(&mut self, alg: Option<Algorithm>, when: Rotation) -> Result<KeyInfo, AdminError> {
        let keys = self.0.keys();
        let kid = match when {
            Rotation::PublishAhead => keys.rotate(alg)?,
            Rotation::Now => keys.rotate_now(alg)?,
        };
        keys.list()?
            .into_iter()
            .find(|k| k.kid == kid)
            .ok_or_else(|| AdminError(format!("key {kid} was made but is not listed")))
    }

    fn retire_key(&mut self, kid: &str) -> Result<(), AdminError> {
        Ok(self.0.keys().retire(kid)?)
    }

    fn jwks(&mut self) -> Result<serde_json::Value, AdminError> {
        // Changes made by other processes since the last periodic reload count too.
        self.0.keys().reload()?;
        Ok(self.0.verifier().jwks())
    }

    fn list_sessions(&mut self) -> Result<Vec<SessionInfo>, AdminError> {
        Ok(self.0.sessions().list(None, SESSION_LIMIT)?)
    }

    fn revoke_session(&mut self, family_id: &str) -> Result<(), AdminError> {
        if self.0.sessions().revoke_family(family_id)? {
            Ok(())
        } else {
            Err(AdminError(format!("session {family_id} is no longer live")))
        }
    }

    fn revoke_subject(&mut self, subject: &str) -> Result<u64, AdminError> {
        Ok(self.0.sessions().revoke_subject(subject)?)
    }

    fn trusted_issuers(&mut self) -> Vec<IssuerStatus> {
        self.0.verifier().trusted_issuers()
    }

    fn list_users(&mut self) -> Result<Vec<UserInfo>, AdminError> {
        Ok(self.0.users().list()?)
    }

    fn add_user(&mut self, name: &str, password: &Secret, roles: &[String]) -> Result<(), AdminError> {
        Ok(self.0.users().add(name, password.expose(), &strs(roles))?)
    }

    fn set_password(&mut self, name: &str, password: &Secret) -> Result<(), AdminError> {
        found(self.0.users().set_password(name, password.expose())?, name)
    }

    fn disable_user(&mut self, name: &str) -> Result<(), AdminError> {
        found(self.0.users().disable(name)?, name)
    }

    fn enable_user(&mut self, name: &str) -> Result<(), AdminError> {
        found(self.0.users().enable(name)?, name)
    }

    fn change_roles(&mut self, name: &str, add: &[String], remove: &[String]) -> Result<Vec<String>, AdminError> {
        let roles = self.0.users().change_roles(name, &strs(add), &strs(remove))?;
        roles.ok_or_else(|| no_user(name))
    }

    fn delete_user(&mut self, name: &str) -> Result<(), AdminError> {
        found(self.0.users().delete(name)?, name)
    }

    fn list_clients(&mut self) -> Result<Vec<ClientInfo>, AdminError> {
        Ok(self.0.clients().list()?)
    }

    fn add_client(&mut self, name: &str, roles: &[String]) -> Result<Secret, AdminError> {
        let c = self.0.clients().add(name, &strs(roles))?;
        Ok(Secret::from(c.secret.expose()))
    }

    fn disable_client(&mut self, name: &str) -> Result<(), AdminError> {
        Ok(self.0.clients().disable(name)?)
    }

    fn rotate_client_secret(&mut self, name: &str) -> Result<Secret, AdminError> {
        Ok(Secret::from(self.0.clients().rotate_secret(name)?.expose()))
    }
}

/// Opens the store on the store thread, again after each failure.
pub fn connect(config: Config) -> Connect {
    Box::new(move || CoreAdmin::open(config.clone()).map(|a| Box::new(a) as Box<dyn Admin>))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &std::path::Path) -> Config {
        Config::from_toml(&format!(
            "store.url = \"sqlite://{}\"\nlog.dir = \"{}\"\n",
            dir.join("jwtauth.db").display(),
            dir.join("logs").display()
        ))
        .unwrap()
    }

    #[test]
    fn an_admin_tool_never_creates_the_store_it_looks_for() {
        let dir = tempfile::tempdir().unwrap();
        let err = CoreAdmin::open(config(dir.path())).unwrap_err();
        assert!(err.0.contains("no jwtauth store at sqlite:///"), "{err}");
        assert!(err.0.contains("jwtauth-server init"), "{err}");
        assert!(!dir.path().join("jwtauth.db").exists());
    }

    #[test]
    fn rotation_and_retirement_go_through_the_core() {
        let dir = tempfile::tempdir().unwrap();
        // The server made the store.
        drop(JwtAuth::open(config(dir.path())).unwrap());
        let mut admin = CoreAdmin::open(config(dir.path())).unwrap();
        let keys = admin.list_keys().unwrap();
        assert_eq!(keys.len(), 1);
        let first = keys[0].kid.to_string();
        let new = admin
            .rotate_key(Some(Algorithm::EdDSA), Rotation::Now)
            .unwrap()
            .kid
            .to_string();
        let keys = admin.list_keys().unwrap();
        assert_eq!(keys[0].kid.as_str(), new, "the active key first");
        assert_eq!((keys[0].state, keys[0].algorithm), (KeyState::Active, Algorithm::EdDSA));
        assert_eq!(keys[1].state, KeyState::VerifyOnly);
        let err = admin.retire_key(&new).unwrap_err();
        assert!(err.0.contains("active key cannot be retired"), "{err}");
        admin.retire_key(&first).unwrap();
        let jwks = admin.jwks().unwrap();
        let kids: Vec<_> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].clone())
            .collect();
        assert_eq!(kids, vec![serde_json::json!(new)]);
        assert!(!jwks.to_string().contains("\"d\""), "no private members");
    }

    #[test]
    fn sessions_are_listed_and_revoked_through_the_core() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path());
        let auth = JwtAuth::open(cfg.clone()).unwrap();
        let a = auth.sessions().start("alice", &[], &Default::default()).unwrap();
        auth.sessions().start("alice", &[], &Default::default()).unwrap();
        auth.sessions().start("bob", &[], &Default::default()).unwrap();
        let mut admin = CoreAdmin::open(cfg).unwrap();
        assert_eq!(admin.list_sessions().unwrap().len(), 3);
        admin.revoke_session(&a.family_id).unwrap();
        assert!(admin.revoke_session(&a.family_id).is_err());
        assert_eq!(admin.revoke_subject("alice").unwrap(), 1);
        let left: Vec<_> = admin.list_sessions().unwrap().into_iter().map(|s| s.subject).collect();
        assert_eq!(left, vec!["bob"]);
    }

    #[test]
    fn reopening_does_not_undo_a_rotation_away_from_the_configured_key() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config::from_toml(&format!(
            "store.url = \"sqlite://{}\"\nalgorithm = \"HS256\"\nhs_secret = \"{}\"\n",
            dir.path().join("jwtauth.db").display(),
            "k7Qz2vLx9Pw4Rt8Ys1Ua6Ib3Oc5Ed0Fg"
        ))
        .unwrap();
        // The server opened the store: its HS key is active.
        let hs_kid = JwtAuth::open(cfg.clone()).unwrap().keys().list().unwrap()[0]
            .kid
            .to_string();
        let mut admin = CoreAdmin::open(cfg.clone()).unwrap();
        let es = admin.rotate_key(Some(Algorithm::ES256), Rotation::Now).unwrap().kid;
        drop(admin);
        // The TUI reconnects (after an outage, or started again).
        let mut admin = CoreAdmin::open(cfg).unwrap();
        let keys = admin.list_keys().unwrap();
        assert_eq!(keys[0].kid, es, "{keys:?}");
        assert_eq!(keys[0].state, KeyState::Active);
        assert!(
            keys.iter()
                .any(|k| k.kid.as_str() == hs_kid && k.state == KeyState::VerifyOnly)
        );
    }

    #[test]
    fn a_rotation_publishes_ahead_and_an_emergency_one_signs_at_once() {
        let dir = tempfile::tempdir().unwrap();
        drop(JwtAuth::open(config(dir.path())).unwrap());
        let mut admin = CoreAdmin::open(config(dir.path())).unwrap();
        let first = admin.list_keys().unwrap()[0].kid.clone();
        let ahead = admin.publish_ahead();
        assert_eq!(ahead, 600, "the default key_publish_ahead");
        let next = admin.rotate_key(None, Rotation::PublishAhead).unwrap();
        assert_eq!(next.state, KeyState::Next);
        assert_eq!(next.activates_at, Some(next.created_at + ahead));
        let keys = admin.list_keys().unwrap();
        assert_eq!(keys[0].kid, next.kid, "the next key first: {keys:?}");
        assert_eq!((keys[1].kid.clone(), keys[1].state), (first.clone(), KeyState::Active));
        // Published at once.
        let jwks = admin.jwks().unwrap().to_string();
        assert!(jwks.contains(next.kid.as_str()), "{jwks}");
        let now = admin.rotate_key(None, Rotation::Now).unwrap();
        assert_eq!(now.state, KeyState::Active);
        let keys = admin.list_keys().unwrap();
        let state = |kid: &jwtauth_core::Kid| keys.iter().find(|k| &k.kid == kid).map(|k| k.state);
        assert_eq!(state(&first), Some(KeyState::VerifyOnly));
        assert_eq!(
            state(&next.kid),
            Some(KeyState::Retired),
            "the pending next key is withdrawn"
        );
    }

    #[test]
    fn users_are_changed_through_the_core_and_a_new_password_ends_sessions() {
        let dir = tempfile::tempdir().unwrap();
        let auth = JwtAuth::open(config(dir.path())).unwrap();
        let mut admin = CoreAdmin::open(config(dir.path())).unwrap();
        let roles = vec!["Editor".to_owned()];
        admin
            .add_user("dave", &Secret::from("correct horse battery"), &roles)
            .unwrap();
        let err = admin
            .add_user("dave", &Secret::from("correct horse battery"), &[])
            .unwrap_err();
        assert!(err.0.contains("already exists"), "{err}");
        let err = admin.add_user("erin", &Secret::from("short"), &[]).unwrap_err();
        assert!(err.0.contains("too short"), "the core's rule: {err}");
        let users = admin.list_users().unwrap();
        assert_eq!(users.iter().map(|u| u.name.as_str()).collect::<Vec<_>>(), ["dave"]);
        assert_eq!(users[0].roles, roles);

        auth.sessions().start("dave", &["Editor"], &Default::default()).unwrap();
        admin
            .set_password("dave", &Secret::from("a new long password"))
            .unwrap();
        assert!(
            admin.list_sessions().unwrap().is_empty(),
            "a new password ends every session"
        );
        let login = jwtauth_core::Login::new().unwrap();
        let request = jwtauth_core::RequestInfo::default();
        let logs_in = |password: &str| login.login(auth.users(), "dave", password, None, &request).is_ok();
        assert!(logs_in("a new long password"));
        assert!(!logs_in("correct horse battery"), "the old password no longer works");

        admin.disable_user("dave").unwrap();
        assert!(admin.list_users().unwrap()[0].disabled);
        admin.enable_user("dave").unwrap();
        assert!(!admin.list_users().unwrap()[0].disabled);
        let now = admin
            .change_roles("dave", &["Admin".to_owned()], &["Editor".to_owned()])
            .unwrap();
        assert_eq!(now, ["Admin"]);
        admin.delete_user("dave").unwrap();
        assert!(admin.list_users().unwrap().is_empty());
        for e in [
            admin.disable_user("dave").unwrap_err(),
            admin.enable_user("dave").unwrap_err(),
            admin.set_password("dave", &Secret::from("long enough pw")).unwrap_err(),
            admin.change_roles("dave", &["A".to_owned()], &[]).unwrap_err(),
            admin.delete_user("dave").unwrap_err(),
        ] {
            assert_eq!(e.0, "no user 'dave'");
        }
    }

    #[test]
    fn a_client_secret_is_made_by_the_core_and_authenticates() {
        let dir = tempfile::tempdir().unwrap();
        let auth = JwtAuth::open(config(dir.path())).unwrap();
        let mut admin = CoreAdmin::open(config(dir.path())).unwrap();
        let secret = admin.add_client("billing", &["Reader".to_owned()]).unwrap();
        assert!(secret.expose().starts_with(jwtauth_core::clients::SECRET_PREFIX));
        let request = jwtauth_core::RequestInfo::default();
        assert!(
            auth.clients()
                .authenticate("billing", secret.expose(), &request)
                .is_ok()
        );
        let new = admin.rotate_client_secret("billing").unwrap();
        assert!(
            auth.clients()
                .authenticate("billing", secret.expose(), &request)
                .is_err()
        );
        assert!(auth.clients().authenticate("billing", new.expose(), &request).is_ok());
        admin.disable_client("billing").unwrap();
        let listed = admin.list_clients().unwrap();
        assert_eq!((listed[0].client_id.as_str(), listed[0].disabled), ("billing", true));
        assert!(admin.disable_client("nobody").is_err());
    }

    #[test]
    fn a_configured_trusted_issuer_is_fetched_by_this_process() {
        let dir = tempfile::tempdir().unwrap();
        drop(JwtAuth::open(config(dir.path())).unwrap());
        // Port 9 (discard) on loopback: nothing answers, so the fetch fails.
        let toml = format!(
            "store.url = \"sqlite://{}\"\n[[trusted_issuers]]\nissuer = \"https://idp.test\"\naudience = \"api\"\njwks_url = \"http://127.0.0.1:9/jwks.json\"\nfetch_timeout = \"1s\"\n",
            dir.path().join("jwtauth.db").display()
        );
        let mut admin = CoreAdmin::open(Config::from_toml(&toml).unwrap()).unwrap();
        let start = std::time::Instant::now();
        let status = loop {
            let s = admin.trusted_issuers();
            assert_eq!(s.len(), 1);
            if s[0].last_error.is_some() || start.elapsed() > std::time::Duration::from_secs(10) {
                break s.into_iter().next().unwrap();
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        assert_eq!(status.issuer, "https://idp.test");
        assert!(!status.usable);
        assert!(status.last_error.is_some(), "{status:?}");
        assert!(status.unreachable_since.is_some(), "{status:?}");
    }

    #[test]
    fn an_unopenable_store_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("jwtauth.db"), b"not a database at all, just text").unwrap();
        let mut connect = connect(config(dir.path()));
        assert!(connect().is_err());
    }
}
