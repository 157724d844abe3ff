//! Versioned migrations, the same SQL on every backend.

use std::collections::BTreeMap;

use super::{Store, StoreError, Tx, Val};

/// One migration: portable SQL, or a step that computes what SQL cannot (written
/// once, over [`Tx`], so it too is the same on every backend).
enum Step {
    Sql(&'static str),
    Code(fn(&mut dyn Tx) -> Result<(), StoreError>),
}

use Step::{Code, Sql};

/// Migrations in order; index + 1 is the schema version they bring.
const MIGRATIONS: &[Step] = &[
    // 1: keys, refresh-token families, spent and current refresh tokens, watermarks.
    Sql("CREATE TABLE jwtauth_keys (
        kid TEXT PRIMARY KEY,
        alg TEXT NOT NULL,
        state TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        demoted_at BIGINT,
        retire_after BIGINT,
        retired_at BIGINT,
        material TEXT NOT NULL,
        sealed BIGINT NOT NULL
    );
    CREATE TABLE jwtauth_families (
        id TEXT PRIMARY KEY,
        subject TEXT NOT NULL,
        claims TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        last_used_at BIGINT NOT NULL,
        idle_expires_at BIGINT NOT NULL,
        generation BIGINT NOT NULL,
        grace_used BIGINT NOT NULL,
        revoked_at BIGINT,
        revoked_reason TEXT
    );
    CREATE INDEX jwtauth_families_subject ON jwtauth_families (subject);
    CREATE INDEX jwtauth_families_idle ON jwtauth_families (idle_expires_at);
    CREATE TABLE jwtauth_refresh_tokens (
        hash TEXT PRIMARY KEY,
        family_id TEXT NOT NULL,
        generation BIGINT NOT NULL,
        issued_at BIGINT NOT NULL
    );
    CREATE INDEX jwtauth_refresh_tokens_family ON jwtauth_refresh_tokens (family_id);
    CREATE TABLE jwtauth_revocations (
        subject TEXT PRIMARY KEY,
        revoked_before BIGINT NOT NULL
    );"),
    // 2: users (argon2id hashes). Until 0.1 this step also created the sample
    // API's products table; stores made then keep it, and the server adopts it.
    Sql("CREATE TABLE jwtauth_users (
        name TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        roles TEXT NOT NULL,
        disabled BIGINT NOT NULL,
        created_at BIGINT NOT NULL
    );"),
    // 3: store-wide settings every process agrees on, such as the longest access-token
    // lifetime any of them accepts (watermarks are kept that long).
    Sql("CREATE TABLE jwtauth_settings (
        name TEXT PRIMARY KEY,
        value BIGINT NOT NULL
    );"),
    // 4: service clients (secrets as SHA-256), and the instant a published `next`
    // key starts signing.
    Sql("CREATE TABLE jwtauth_clients (
        client_id TEXT PRIMARY KEY,
        secret_hash TEXT NOT NULL,
        roles TEXT NOT NULL,
        disabled BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        secret_created_at BIGINT NOT NULL
    );
    ALTER TABLE jwtauth_keys ADD COLUMN activates_at BIGINT;"),
    // 5: where a session came from (the OAuth client it authenticated as, the
    // User-Agent of its login), so administrators can tell devices apart.
    Sql("ALTER TABLE jwtauth_families ADD COLUMN client_id TEXT;
    ALTER TABLE jwtauth_families ADD COLUMN user_agent TEXT;"),
    // 6: a revoked family revokes its access tokens (their `sid`): every process
    // reloads the families revoked lately, by this index.
    Sql("CREATE INDEX jwtauth_families_revoked ON jwtauth_families (revoked_at);"),
    // 7: usernames are unique caselessly (NFKC and Unicode case folding): `Admin`
    // cannot be added beside `admin`, and a login by either spelling finds the one
    // user. The name is kept as entered; its key is computed here, since SQL has
    // no Unicode folding.
    Code(name_keys),
];

/// The schema version this build writes.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

/// Brings the schema up to [`LATEST`]; refuses a newer one. Safe to run from several
/// processes at once: each step runs in a transaction, and a loser of a race retries.
pub(crate) fn migrate(store: &Store) -> Result<(), StoreError> {
    let mut last = None;
    for _ in 0..3 {
        match migrate_once(store) {
            Ok(()) => return Ok(()),
            // A newer schema or data a step refuses: the same on every retry.
            Err(e @ (StoreError::TooNew { .. } | StoreError::Data(_))) => return Err(e),
            Err(e) => last = Some(e),
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Err(last.unwrap_or_else(|| StoreError::Query("migration failed".into())))
}

/// Migration 7: `name_key` on every user, then a unique index on it. Users whose
/// names fold to one key (made before names were compared caselessly) refuse the
/// migration, naming them: which of them is the real account is for a person to
/// say, and the whole migration rolls back, so the previous jwtauth still opens
/// the store to delete the others.
fn name_keys(tx: &mut dyn Tx) -> Result<(), StoreError> {
    tx.batch("ALTER TABLE jwtauth_users ADD COLUMN name_key TEXT")?;
    let mut by_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in tx.query("SELECT name FROM jwtauth_users ORDER BY name", &[])? {
        let name = row.text(0)?;
        by_key.entry(crate::fold::name_key(&name)).or_default().push(name);
    }
    let clashes: Vec<String> = by_key
        .values()
        .filter(|names| names.len() > 1)
        .map(|names| {
            names
                .iter()
                .map(|n| format!("'{}'", crate::error::clip(n)))
                .collect::<Vec<_>>()
                .join(" and ")
        })
        .collect();
    if !clashes.is_empty() {
        return Err(StoreError::Data(format!(
            "users {} differ only by letter case or width, and user names are now compared caselessly. Nothing was changed: with the jwtauth version that made this store, delete all but one of each (`jwtauth-server user delete NAME`), then start this version again",
            clashes.join("; ")
        )));
    }
    for (key, names) in &by_key {
        for name in names {
            tx.exec(
                "UPDATE jwtauth_users SET name_key = ?1 WHERE name = ?2",
                &[key.as_str().into(), name.as_str().into()],
            )?;
        }
    }
    tx.batch("CREATE UNIQUE INDEX jwtauth_users_name_key ON jwtauth_users (name_key)")
}

fn migrate_once(store: &Store) -> Result<(), StoreError> {
    store.write(|tx| {
        tx.batch("CREATE TABLE IF NOT EXISTS jwtauth_schema (version BIGINT NOT NULL)")?;
        let rows = tx.query(&format!("SELECT version FROM jwtauth_schema{}", tx.for_update()), &[])?;
        let current = match rows.first() {
            Some(r) => r.i64(0)?,
            None => {
                tx.exec("INSERT INTO jwtauth_schema (version) VALUES (?1)", &[Val::I64(0)])?;
                0
            }
        };
        if current > LATEST {
            return Err(StoreError::TooNew {
                url: store.url().to_string(),
                found: current,
                supported: LATEST,
            });
        }
        for (i, step) in MIGRATIONS
            .iter()
            .enumerate()
            .skip(usize::try_from(current).unwrap_or(0))
        {
            match step {
                Sql(sql) => tx.batch(sql)?,
                Code(run) => run(tx)?,
            }
            tx.exec("UPDATE jwtauth_schema SET version = ?1", &[Val::I64(i as i64 + 1)])?;
        }
        Ok(())
    })
}

/// Applies an application's migrations, recorded in `jwtauth_extensions` by name.
pub(super) fn migrate_extension(store: &Store, name: &str, migrations: &[&str]) -> Result<(), StoreError> {
    let valid =
        (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
    if !valid {
        return Err(StoreError::Query(format!(
            "extension name '{}' must be 1 to 64 letters, digits, '_', '-' or '.'",
            crate::error::clip(name)
        )));
    }
    let mut last = None;
    for _ in 0..3 {
        match migrate_extension_once(store, name, migrations) {
            Ok(()) => return Ok(()),
            Err(e @ StoreError::TooNew { .. }) => return Err(e),
            Err(e) => last = Some(e),
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Err(last.unwrap_or_else(|| StoreError::Query("migration failed".into())))
}

fn migrate_extension_once(store: &Store, name: &str, migrations: &[&str]) -> Result<(), StoreError> {
    store.write(|tx| {
        tx.batch("CREATE TABLE IF NOT EXISTS jwtauth_extensions (name TEXT PRIMARY KEY, version BIGINT NOT NULL)")?;
        // The schema row is the store-wide lock: concurrent migrators queue here.
        lock_keys(tx)?;
        let rows = tx.query("SELECT version FROM jwtauth_extensions WHERE name = ?1", &[name.into()])?;
        let current = match rows.first() {
            Some(r) => r.i64(0)?,
            None => {
                tx.exec(
                    "INSERT INTO jwtauth_extensions (name, version) VALUES (?1, 0)",
                    &[name.into()],
                )?;
                0
            }
        };
        let known = i64::try_from(migrations.len()).unwrap_or(i64::MAX);
        if current > known {
            return Err(StoreError::TooNew {
                url: format!("{} (extension '{name}')", store.url()),
                found: current,
                supported: known,
            });
        }
        for (i, sql) in migrations
            .iter()
            .enumerate()
            .skip(usize::try_from(current).unwrap_or(0))
        {
            tx.batch(sql)?;
            tx.exec(
                "UPDATE jwtauth_extensions SET version = ?1 WHERE name = ?2",
                &[Val::I64(i as i64 + 1), name.into()],
            )?;
        }
        Ok(())
    })
}

/// Takes the store-wide lock that serialises key changes (the schema row).
pub(crate) fn lock_keys(tx: &mut dyn super::Tx) -> Result<(), StoreError> {
    tx.query(&format!("SELECT version FROM jwtauth_schema{}", tx.for_update()), &[])
        .map(|_| ())
}
