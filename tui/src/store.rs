//! The real [`Admin`]: a thin adapter over a store-backed [`JwtAuth`]. Every rule
//! (what rotation does, that the active key cannot be retired, which sessions are
//! live) is the core's; this file only translates.

use jwtauth_core::{Algorithm, Config, JwtAuth, KeyState, OpenOptions};

use crate::admin::{Admin, AdminError, Connect, KeyInfo, SessionInfo};

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

impl Admin for CoreAdmin {
    fn list_keys(&mut self) -> Result<Vec<KeyInfo>, AdminError> {
        // Shown in life order: the active key, then verify-only, then retired; newest first within.
        let rank = |s: KeyState| match s {
            KeyState::Active => 0,
            KeyState::VerifyOnly => 1,
            _ => 2,
        };
        let mut keys = self.0.keys().list()?;
        keys.sort_by(|a, b| rank(a.state).cmp(&rank(b.state)).then(b.created_at.cmp(&a.created_at)));
        Ok(keys)
    }

    fn rotate_key(&mut self, alg: Option<Algorithm>) -> Result<String, AdminError> {
        Ok(self.0.keys().rotate_now(alg)?.to_string())
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
        let new = admin.rotate_key(Some(Algorithm::EdDSA)).unwrap();
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
        let es = admin.rotate_key(Some(Algorithm::ES256)).unwrap();
        drop(admin);
        // The TUI reconnects (after an outage, or started again).
        let mut admin = CoreAdmin::open(cfg).unwrap();
        let keys = admin.list_keys().unwrap();
        assert_eq!(keys[0].kid.as_str(), es, "{keys:?}");
        assert_eq!(keys[0].state, KeyState::Active);
        assert!(
            keys.iter()
                .any(|k| k.kid.as_str() == hs_kid && k.state == KeyState::VerifyOnly)
        );
    }

    #[test]
    fn an_unopenable_store_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("jwtauth.db"), b"not a database at all, just text").unwrap();
        let mut connect = connect(config(dir.path()));
        assert!(connect().is_err());
    }
}
