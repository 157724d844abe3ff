//! The key table: every statement of the key lifecycle. Key changes are
//! serialised by a store-wide lock, so two processes cannot both make a key active.

use zeroize::Zeroizing;

use super::{KeyAdminError, KeyInfo, MasterKey};
use crate::keys::{Algorithm, Key, KeyError, KeyMaterial, KeyRing, KeyState, Kid};
use crate::store::{Row, Store, StoreError, Tx, Val, lock_keys};

const SELECT_KEYS: &str = "SELECT kid, alg, state, created_at, demoted_at, retire_after, retired_at, material, sealed, activates_at FROM jwtauth_keys ORDER BY created_at, kid";

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
        activates_at: row.opt_i64(9)?,
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
    let mut next_at = None;
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
        if i.state == KeyState::Next {
            next_at = i.activates_at.or(Some(i.created_at));
        }
        keys.push(key);
    }
    let ring = KeyRing::new(keys).map_err(|e| StoreError::Data(e.to_string()))?;
    Ok(match next_at {
        Some(at) => ring.next_signs_from(at),
        None => ring,
    })
}

/// What decides the ring: each key's stored state and times, and which time-driven
/// changes (a `next` key's activation, a verify-only key's retirement) are due at
/// `now`. The ring is reloaded only when this changes.
pub(crate) fn ring_version(store: &Store, now: i64) -> Result<String, StoreError> {
    let rows = store.write(|tx| {
        tx.query(
            "SELECT kid, state, retired_at, activates_at, retire_after FROM jwtauth_keys ORDER BY kid",
            &[],
        )
    })?;
    let mut version = String::new();
    for r in &rows {
        let due = |t: Option<i64>| if t.is_some_and(|t| t <= now) { 'd' } else { '-' };
        version.push_str(&format!(
            "{}|{}|{:?}|{:?}|{}{};",
            r.text(0)?,
            r.text(1)?,
            r.opt_i64(2)?,
            r.opt_i64(3)?,
            due(r.opt_i64(3)?),
            due(r.opt_i64(4)?)
        ));
    }
    Ok(version)
}

/// Makes a `next` key whose instant has come the active key, and the active key
/// verify-only from that instant (not from whenever this runs), under the key lock.
fn promote_due_in(tx: &mut dyn Tx, now: i64, verify_window: i64) -> Result<(), StoreError> {
    let due = tx.query(
        "SELECT kid, activates_at FROM jwtauth_keys WHERE state = 'next' AND activates_at <= ?1",
        &[Val::I64(now)],
    )?;
    let Some(row) = due.first() else { return Ok(()) };
    let (kid, at) = (row.text(0)?, row.i64(1)?);
    demote_active(tx, at, verify_window)?;
    tx.exec(
        "UPDATE jwtauth_keys SET state = 'active' WHERE kid = ?1",
        &[kid.as_str().into()],
    )?;
    Ok(())
}

/// Persists the activation of a due `next` key, if there is one.
pub(crate) fn promote_due(store: &Store, now: i64, verify_window: i64) -> Result<(), StoreError> {
    let due = store.write(|tx| {
        Ok(!tx
            .query(
                "SELECT kid FROM jwtauth_keys WHERE state = 'next' AND activates_at <= ?1",
                &[Val::I64(now)],
            )?
            .is_empty())
    })?;
    if due {
        store.write(|tx| {
            lock_keys(tx)?;
            promote_due_in(tx, now, verify_window)
        })?;
    }
    Ok(())
}

fn insert(tx: &mut dyn Tx, key: &Key, master: Option<&MasterKey>, now: i64) -> Result<(), StoreError> {
    insert_as(tx, key, master, now, None)
}

/// Inserts `key` as the active key, or as the `next` key signing from `activates_at`.
fn insert_as(
    tx: &mut dyn Tx,
    key: &Key,
    master: Option<&MasterKey>,
    now: i64,
    activates_at: Option<i64>,
) -> Result<(), StoreError> {
    let (material, sealed) = match master {
        Some(m) => (
            m.seal(&context(key.kid(), key.algorithm()), key.material().bytes())
                .map_err(|e| StoreError::Data(e.to_string()))?,
            1,
        ),
        None => (crate::encoding::b64(key.material().bytes()), 0),
    };
    let state = if activates_at.is_some() { "next" } else { "active" };
    tx.exec(
        "INSERT INTO jwtauth_keys (kid, alg, state, created_at, material, sealed) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        &[
            key.kid().as_str().into(),
            key.algorithm().as_str().into(),
            state.into(),
            Val::I64(now),
            material.into(),
            Val::I64(sealed),
        ],
    )?;
    if let Some(at) = activates_at {
        tx.exec(
            "UPDATE jwtauth_keys SET activates_at = ?1 WHERE kid = ?2",
            &[Val::I64(at), key.kid().as_str().into()],
        )?;
    }
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

/// Creates a new key for `alg`. With `ahead` > 0 it is the `next` key: published
/// now, signing from `now + ahead`, when the active key becomes verify-only (a
/// `next` key waiting already is retired: it never signed). With `ahead` = 0 it is
/// active at once and the old active key verify-only.
pub(crate) fn rotate(
    store: &Store,
    master: Option<&MasterKey>,
    alg: Algorithm,
    now: i64,
    verify_window: i64,
    ahead: i64,
) -> Result<Kid, KeyAdminError> {
    if alg.is_hmac() {
        // A generated HS secret could not be shared with other services; HS keys come from configuration.
        return Err(KeyAdminError::SharedSecret(alg));
    }
    let key = Key::generate(alg, now)?.with_state(KeyState::Next)?;
    store.write(|tx| {
        lock_keys(tx)?;
        promote_due_in(tx, now, verify_window)?;
        tx.exec(
            "UPDATE jwtauth_keys SET state = 'retired', retired_at = ?1 WHERE state = 'next'",
            &[Val::I64(now)],
        )?;
        if ahead > 0 {
            insert_as(tx, &key, master, now, Some(now.saturating_add(ahead)))
        } else {
            demote_active(tx, now, verify_window)?;
            insert(tx, &key, master, now)
        }
    })?;
    Ok(key.kid().clone())
}

/// Retires a verify-only key now. The active key cannot be retired (rotate first).
pub(crate) fn retire(store: &Store, kid: &str, now: i64, verify_window: i64) -> Result<(), KeyAdminError> {
    store.write(|tx| {
        lock_keys(tx)?;
        promote_due_in(tx, now, verify_window)?;
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
