//! The key lifecycle in the store: active (signs) → verify-only (validates what it
//! signed until access TTL + leeway has passed) → retired (gone from the JWKS).
//! Key changes are serialised by a store-wide lock, so two processes cannot both
//! make a key active.

use crate::crypt::MasterKey;
use crate::keys::{Algorithm, Key, KeyError, KeyMaterial, KeyRing, KeyState, Kid};
use crate::store::{Row, Store, StoreError, Tx, Val, schema::lock_keys};
use crate::{Error, JwtAuth, verify_window};
use zeroize::Zeroizing;

/// A key as the store knows it: never any private material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// Key id.
    pub kid: Kid,
    /// Its one algorithm.
    pub algorithm: Algorithm,
    /// State now (a verify-only key past `retire_after` counts as retired).
    pub state: KeyState,
    /// When it was made.
    pub created_at: i64,
    /// When it stopped signing.
    pub demoted_at: Option<i64>,
    /// When a verify-only key retires by itself.
    pub retire_after: Option<i64>,
    /// When it was retired.
    pub retired_at: Option<i64>,
}

const SELECT_KEYS: &str = "SELECT kid, alg, state, created_at, demoted_at, retire_after, retired_at, material, sealed FROM jwtauth_keys ORDER BY created_at, kid";

fn info(row: &Row, now: i64) -> Result<KeyInfo, StoreError> {
    let alg: Algorithm = row
        .text(1)?
        .parse()
        .map_err(|e: KeyError| StoreError::Data(e.to_string()))?;
    let mut state: KeyState = row
        .text(2)?
        .parse()
        .map_err(|e: KeyError| StoreError::Data(e.to_string()))?;
    let retire_after = row.opt_i64(5)?;
    if state == KeyState::VerifyOnly && retire_after.is_some_and(|t| t <= now) {
        state = KeyState::Retired;
    }
    Ok(KeyInfo {
        kid: Kid::new(row.text(0)?),
        algorithm: alg,
        state,
        created_at: row.i64(3)?,
        demoted_at: row.opt_i64(4)?,
        retire_after,
        retired_at: row.opt_i64(6)?,
    })
}

fn context(kid: &Kid, alg: Algorithm) -> Vec<u8> {
    format!("jwtauth key v1|{kid}|{alg}").into_bytes()
}

/// Every key with its times, oldest first.
pub(crate) fn list(store: &Store, now: i64) -> Result<Vec<KeyInfo>, StoreError> {
    store.write(|tx| tx.query(SELECT_KEYS, &[])?.iter().map(|r| info(r, now)).collect())
}

/// The ring of usable (active and verify-only) keys, decrypted and parsed.
pub(crate) fn load_ring(store: &Store, master: Option<&MasterKey>, now: i64) -> Result<KeyRing, StoreError> {
    let rows = store.write(|tx| tx.query(SELECT_KEYS, &[]))?;
    let mut keys = Vec::new();
    for row in &rows {
        let i = info(row, now)?;
        if i.state == KeyState::Retired {
            continue;
        }
        let stored = row.text(7)?;
        let sealed = row.i64(8)? != 0;
        let bytes = if sealed {
            let master = master.ok_or_else(|| {
                StoreError::Data(format!(
                    "key '{}' is encrypted in the store but no master key is set; set {} (or master_key_file) to the key it was stored with",
                    i.kid,
                    crate::crypt::MASTER_KEY_ENV
                ))
            })?;
            master.open(&context(&i.kid, i.algorithm), &stored).ok_or_else(|| {
                StoreError::Data(format!(
                    "key '{}' does not decrypt: the master key differs from the one it was stored with",
                    i.kid
                ))
            })?
        } else {
            Zeroizing::new(
                crate::encoding::b64_decode(stored.as_bytes())
                    .ok_or_else(|| StoreError::Data(format!("key '{}' material is corrupt", i.kid)))?,
            )
        };
        let material = if i.algorithm.is_hmac() {
            KeyMaterial::Secret(bytes)
        } else {
            KeyMaterial::Pkcs8(bytes)
        };
        let key = Key::from_parts(i.kid.clone(), i.algorithm, i.state, i.created_at, material)
            .map_err(|e| StoreError::Data(format!("key '{}': {e}", i.kid)))?;
        keys.push(key);
    }
    KeyRing::new(keys).map_err(|e| StoreError::Data(e.to_string()))
}

fn insert(tx: &mut dyn Tx, key: &Key, master: Option<&MasterKey>, now: i64) -> Result<(), StoreError> {
    let (material, sealed) = match master {
        Some(m) => (
            m.seal(&context(key.kid(), key.algorithm()), key.material().bytes())
                .map_err(|e| StoreError::Data(e.to_string()))?,
            1,
        ),
        None => (crate::encoding::b64(key.material().bytes()), 0),
    };
    tx.exec(
        "INSERT INTO jwtauth_keys (kid, alg, state, created_at, material, sealed) VALUES (?1, ?2, 'active', ?3, ?4, ?5)",
        &[
            key.kid().as_str().into(),
            key.algorithm().as_str().into(),
            Val::I64(now),
            material.into(),
            Val::I64(sealed),
        ],
    )?;
    Ok(())
}

fn demote_active(tx: &mut dyn Tx, now: i64, verify_window: i64) -> Result<(), StoreError> {
    tx.exec(
        "UPDATE jwtauth_keys SET state = 'verify_only', demoted_at = ?1, retire_after = ?2 WHERE state = 'active'",
        &[Val::I64(now), Val::I64(now.saturating_add(verify_window))],
    )?;
    Ok(())
}

/// Makes sure the store has an active key. A configured key (HS secret or key
/// file) the store has never seen becomes the active key, so changing the secret
/// rotates to it; one the store already knows is left in the state it is in, so a
/// rotation made later (by the TUI or another instance) survives a restart. With
/// no active key at all, the configured key is (re)activated, or else a new key for
/// `alg` is generated.
pub(crate) fn ensure_active(
    store: &Store,
    master: Option<&MasterKey>,
    configured: Option<Key>,
    alg: Algorithm,
    now: i64,
    verify_window: i64,
) -> Result<(), StoreError> {
    let generated = match &configured {
        Some(_) => None,
        None => {
            let has_active = store.write(|tx| {
                Ok(!tx
                    .query("SELECT kid FROM jwtauth_keys WHERE state = 'active'", &[])?
                    .is_empty())
            })?;
            if has_active {
                return Ok(());
            }
            // Generated outside the transaction: RSA generation takes a while.
            Some(Key::generate(alg, now).map_err(|e| StoreError::Data(e.to_string()))?)
        }
    };
    store.write(|tx| {
        lock_keys(tx)?;
        let no_active = tx.query("SELECT kid FROM jwtauth_keys WHERE state = 'active'", &[])?.is_empty();
        match (&configured, &generated) {
            (Some(key), _) => {
                let known = !tx
                    .query("SELECT kid FROM jwtauth_keys WHERE kid = ?1", &[key.kid().as_str().into()])?
                    .is_empty();
                if !known {
                    demote_active(tx, now, verify_window)?;
                    insert(tx, key, master, now)?;
                } else if no_active {
                    tx.exec(
                        "UPDATE jwtauth_keys SET state = 'active', demoted_at = NULL, retire_after = NULL, retired_at = NULL WHERE kid = ?1",
                        &[key.kid().as_str().into()],
                    )?;
                }
                Ok(())
            }
            (None, Some(key)) if no_active => insert(tx, key, master, now),
            _ => Ok(()),
        }
    })
}

/// Creates a new active key for `alg` and demotes the old one to verify-only.
pub(crate) fn rotate(
    store: &Store,
    master: Option<&MasterKey>,
    alg: Algorithm,
    now: i64,
    verify_window: i64,
) -> Result<Kid, crate::Error> {
    if alg.is_hmac() {
        // A generated HS secret could not be shared with other services; HS keys come from configuration.
        return Err(crate::Error::Refused(format!(
            "{alg} keys are shared secrets taken from hs_secret; rotate them by changing the secret, or rotate to an asymmetric algorithm"
        )));
    }
    let key = Key::generate(alg, now)?;
    store.write(|tx| {
        lock_keys(tx)?;
        demote_active(tx, now, verify_window)?;
        insert(tx, &key, master, now)
    })?;
    Ok(key.kid().clone())
}

/// Retires a verify-only key now. The active key cannot be retired (rotate first).
pub(crate) fn retire(store: &Store, kid: &str, now: i64) -> Result<(), crate::Error> {
    let outcome = store.write(|tx| {
        lock_keys(tx)?;
        let rows = tx.query("SELECT state FROM jwtauth_keys WHERE kid = ?1", &[kid.into()])?;
        match rows.first().map(|r| r.text(0)).transpose()?.as_deref() {
            None => Ok(Err(format!("no key has kid '{}'", crate::error::clip(kid)))),
            Some("active") => Ok(Err(
                "the active key cannot be retired: rotate to a new key first, then retire this one".to_string(),
            )),
            Some(_) => {
                tx.exec(
                    "UPDATE jwtauth_keys SET state = 'retired', retired_at = ?1 WHERE kid = ?2 AND state <> 'retired'",
                    &[Val::I64(now), kid.into()],
                )?;
                Ok(Ok(()))
            }
        }
    })?;
    outcome.map_err(crate::Error::Refused)
}

/// Persists the retirement of verify-only keys whose window has passed.
pub(crate) fn sweep(store: &Store, now: i64) -> Result<u64, StoreError> {
    store.write(|tx| {
        tx.exec(
            "UPDATE jwtauth_keys SET state = 'retired', retired_at = ?1 WHERE state = 'verify_only' AND retire_after <= ?1",
            &[Val::I64(now)],
        )
    })
}

/// Key administration over the store.
impl JwtAuth {
    /// Every stored key with its lifecycle times (no private material).
    pub fn keys(&self) -> Result<Vec<KeyInfo>, Error> {
        Ok(list(self.store_or_err()?, self.now())?)
    }

    /// Creates a new active key (of `algorithm`, default the configured one), demotes
    /// the old one to verify-only, and reloads the ring. Other processes sharing the
    /// store pick it up on their next reload or at the first token naming it.
    pub fn rotate_key(&self, algorithm: Option<Algorithm>) -> Result<Kid, Error> {
        let store = self.store_or_err()?;
        let c = &self.inner.config;
        let kid = rotate(
            store,
            self.inner.master.as_ref(),
            algorithm.unwrap_or(c.algorithm),
            self.now(),
            verify_window(c),
        )?;
        self.inner.reload_keys()?;
        Ok(kid)
    }

    /// Retires a verify-only key at once (e.g. a compromised one): it leaves the
    /// JWKS and its tokens fail with `unknown_kid`. The active key cannot be retired.
    pub fn retire_key(&self, kid: &str) -> Result<(), Error> {
        retire(self.store_or_err()?, kid, self.now())?;
        self.inner.reload_keys()?;
        Ok(())
    }

    /// Reloads the key ring from the store now.
    pub fn reload_keys(&self) -> Result<(), Error> {
        Ok(self.inner.reload_keys()?)
    }
}
