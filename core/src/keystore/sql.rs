//! The key table: every statement of the key lifecycle. Key changes are
//! serialised by a store-wide lock, so two processes cannot both make a key active.

use zeroize::Zeroizing;

use super::{KeyAdminError, KeyInfo, MasterKey};
use crate::keys::{Algorithm, Key, KeyError, KeyMaterial, KeyRing, KeyState, Kid};
use crate::store::{Row, Store, StoreError, Tx, Val, lock_keys};

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
                    super::MASTER_KEY_ENV
                ))
            })?;
            master.open(&context(&i.kid, i.algorithm), &stored).ok_or_else(|| {
                StoreError::Data(format!(
                    "key '{}' does not decrypt: the master key differs from the one it was stored with; set {} (or master_key_file) to that key",
                    i.kid,
                    super::MASTER_KEY_ENV
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
) -> Result<Kid, KeyAdminError> {
    if alg.is_hmac() {
        // A generated HS secret could not be shared with other services; HS keys come from configuration.
        return Err(KeyAdminError::SharedSecret(alg));
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
pub(crate) fn retire(store: &Store, kid: &str, now: i64) -> Result<(), KeyAdminError> {
    store.write(|tx| {
        lock_keys(tx)?;
        let rows = tx.query("SELECT state FROM jwtauth_keys WHERE kid = ?1", &[kid.into()])?;
        match rows.first().map(|r| r.text(0)).transpose()?.as_deref() {
            None => Ok(Err(KeyAdminError::UnknownKid(crate::error::clip(kid)))),
            Some("active") => Ok(Err(KeyAdminError::ActiveKey)),
            Some(_) => {
                tx.exec(
                    "UPDATE jwtauth_keys SET state = 'retired', retired_at = ?1, material = '', sealed = 0 WHERE kid = ?2 AND state <> 'retired'",
                    &[Val::I64(now), kid.into()],
                )?;
                Ok(Ok(()))
            }
        }
    })?
}

/// Persists the retirement of verify-only keys whose window has passed, and wipes
/// the private material of every retired key (a retired key never signs or
/// verifies again, so nothing of it needs keeping but its times).
pub(crate) fn sweep(store: &Store, now: i64) -> Result<u64, StoreError> {
    store.write(|tx| {
        let n = tx.exec(
            "UPDATE jwtauth_keys SET state = 'retired', retired_at = ?1 WHERE state = 'verify_only' AND retire_after <= ?1",
            &[Val::I64(now)],
        )?;
        tx.exec(
            "UPDATE jwtauth_keys SET material = '', sealed = 0 WHERE state = 'retired' AND material <> ''",
            &[],
        )?;
        Ok(n)
    })
}

/// How many usable (not retired) keys are stored unsealed.
pub(crate) fn count_unsealed(store: &Store, now: i64) -> Result<u64, StoreError> {
    let rows = store.write(|tx| tx.query(SELECT_KEYS, &[]))?;
    let mut n = 0;
    for row in &rows {
        if info(row, now)?.state != KeyState::Retired && row.i64(8)? == 0 {
            n += 1;
        }
    }
    Ok(n)
}

/// Seals every usable key stored unsealed under `master`, in one transaction
/// holding the key lock. Returns how many were sealed.
pub(crate) fn seal_all(store: &Store, master: &MasterKey, now: i64) -> Result<u64, StoreError> {
    store.write(|tx| {
        lock_keys(tx)?;
        let rows = tx.query(SELECT_KEYS, &[])?;
        let mut n = 0;
        for row in &rows {
            let i = info(row, now)?;
            if i.state == KeyState::Retired || row.i64(8)? != 0 {
                continue;
            }
            let plain = Zeroizing::new(
                crate::encoding::b64_decode(row.text(7)?.as_bytes())
                    .ok_or_else(|| StoreError::Data(format!("key '{}' material is corrupt", i.kid)))?,
            );
            let sealed = master
                .seal(&context(&i.kid, i.algorithm), &plain)
                .map_err(|e| StoreError::Data(e.to_string()))?;
            tx.exec(
                "UPDATE jwtauth_keys SET material = ?1, sealed = 1 WHERE kid = ?2 AND sealed = 0",
                &[sealed.into(), i.kid.as_str().into()],
            )?;
            n += 1;
        }
        Ok(n)
    })
}
