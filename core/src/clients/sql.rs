//! The client table: every statement about service clients.

use super::ClientInfo;
use crate::store::{Row, Store, StoreError, Val};

const COLUMNS: &str = "client_id, roles, disabled, created_at, secret_created_at";

fn info(row: &Row) -> Result<ClientInfo, StoreError> {
    let roles: Vec<String> =
        serde_json::from_str(&row.text(1)?).map_err(|e| StoreError::Data(format!("client roles are corrupt: {e}")))?;
    Ok(ClientInfo {
        client_id: row.text(0)?,
        roles,
        disabled: row.i64(2)? != 0,
        created_at: row.i64(3)?,
        secret_created_at: row.i64(4)?,
    })
}

/// Adds a client unless a client or a user has the name; false when one has.
pub(super) fn insert(store: &Store, name: &str, hash: &str, roles: &str, now: i64) -> Result<bool, StoreError> {
    store.write(|tx| {
        let taken = !tx
            .query("SELECT client_id FROM jwtauth_clients WHERE client_id = ?1", &[name.into()])?
            .is_empty()
            || !tx
                .query(
                    "SELECT name FROM jwtauth_users WHERE name_key = ?1",
                    &[crate::fold::name_key(name).into()],
                )?
                .is_empty();
        if taken {
            return Ok(false);
        }
        tx.exec(
            "INSERT INTO jwtauth_clients (client_id, secret_hash, roles, disabled, created_at, secret_created_at) VALUES (?1, ?2, ?3, 0, ?4, ?4)",
            &[name.into(), hash.into(), roles.into(), Val::I64(now)],
        )?;
        Ok(true)
    })
}

pub(super) fn list(store: &Store) -> Result<Vec<ClientInfo>, StoreError> {
    let rows = store.write(|tx| {
        tx.query(
            &format!("SELECT {COLUMNS} FROM jwtauth_clients ORDER BY client_id"),
            &[],
        )
    })?;
    rows.iter().map(info).collect()
}

/// The client and its stored secret hash.
pub(super) fn get(store: &Store, client_id: &str) -> Result<Option<(ClientInfo, String)>, StoreError> {
    let rows = store.write(|tx| {
        tx.query(
            &format!("SELECT {COLUMNS}, secret_hash FROM jwtauth_clients WHERE client_id = ?1"),
            &[client_id.into()],
        )
    })?;
    match rows.first() {
        Some(r) => Ok(Some((info(r)?, r.text(5)?))),
        None => Ok(None),
    }
}

pub(super) fn disable(store: &Store, client_id: &str) -> Result<bool, StoreError> {
    let n = store.write(|tx| {
        tx.exec(
            "UPDATE jwtauth_clients SET disabled = 1 WHERE client_id = ?1",
            &[client_id.into()],
        )
    })?;
    Ok(n > 0)
}

pub(super) fn set_secret(store: &Store, client_id: &str, hash: &str, now: i64) -> Result<bool, StoreError> {
    let n = store.write(|tx| {
        tx.exec(
            "UPDATE jwtauth_clients SET secret_hash = ?1, secret_created_at = ?2 WHERE client_id = ?3",
            &[hash.into(), Val::I64(now), client_id.into()],
        )
    })?;
    Ok(n > 0)
}
