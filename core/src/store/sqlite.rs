//! The embedded SQLite backend: one file, WAL mode, safe for several processes.

use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::Duration;

use rusqlite::hooks::Wal;
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::wal::CheckpointMode;
use rusqlite::{Connection, ErrorCode, OpenFlags, Transaction, TransactionBehavior};

use super::{Row, StoreError, Tx, Val, Wait};

pub(super) struct Sqlite {
    // SQLite allows one writer at a time; one connection per process, used under a
    // mutex, is the fastest way through and keeps every transaction serialised.
    conn: Mutex<Connection>,
    url: String,
    /// Frames in the write-ahead log after the last commit (from the WAL hook).
    wal_frames: Arc<AtomicI32>,
}

/// How long a transaction waits for the write lock another process holds.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Frames in the write-ahead log from which each commit checkpoints it (SQLite's
/// own default for its automatic checkpoint, which the WAL hook replaces).
const CHECKPOINT_FRAMES: i32 = 1000;

/// Runs `f`, through `wait` when there is one (see [`super::Store::inline`]).
fn waited<T>(wait: Option<Wait>, mut f: impl FnMut() -> T) -> T {
    let Some(wait) = wait else { return f() };
    let mut out = None;
    wait(&mut || out = Some(f()));
    // A wait that did not run its work: run it here.
    out.unwrap_or_else(f)
}

fn is_busy(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy)
}

fn open_error(url: &str, e: &rusqlite::Error) -> StoreError {
    let (detail, fix) = match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => (
            "the file is not a SQLite database or is corrupt".to_string(),
            "jwtauth has not touched it. Point store.url at another file, or restore it from a backup",
        ),
        Some(ErrorCode::CannotOpen) => (
            e.to_string(),
            "Check that the folder exists and is writable, or change store.url",
        ),
        Some(ErrorCode::DatabaseBusy) => (
            "the database stayed locked by another process".to_string(),
            "Retry; if it persists, look for a process holding a long transaction",
        ),
        _ => (e.to_string(), "Check store.url and the file's permissions"),
    };
    StoreError::Open {
        url: url.to_string(),
        detail,
        fix: fix.to_string(),
    }
}

impl Sqlite {
    pub(super) fn open(path: &str, url: &str) -> Result<Sqlite, StoreError> {
        if let Some(parent) = Path::new(path).parent().filter(|p| !p.as_os_str().is_empty())
            && !parent.exists()
        {
            super::private_dir(parent).map_err(|e| StoreError::Open {
                url: url.to_string(),
                detail: format!("cannot create folder {}: {e}", parent.display()),
                fix: "Check permissions or change store.url".into(),
            })?;
        }
        // The file holds signing keys and password and refresh-token hashes: a new
        // one is owner-only, and SQLite gives its -wal and -shm files the same mode.
        // An existing one readable by others is used, with a warning.
        match super::private_file(Path::new(path)) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                super::warn_if_shared(Path::new(path));
            }
            Err(e) => {
                return Err(StoreError::Open {
                    url: url.to_string(),
                    detail: format!("cannot create {path}: {e}"),
                    fix: "Check that the folder exists and is writable, or change store.url".into(),
                });
            }
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags).map_err(|e| open_error(url, &e))?;
        // SQLite opens a file it cannot write read-only, without an error; every
        // write would fail later, on a login. Refuse it here, saying why.
        if conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false) {
            return Err(StoreError::Open {
                url: url.to_string(),
                detail: "the file is read-only (its permissions, or a read-only filesystem)".into(),
                fix: "jwtauth writes to it on every login and refresh: make the file and its folder writable by this user (SQLite keeps -wal and -shm files beside it), or point store.url at a writable place".into(),
            });
        }
        conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| open_error(url, &e))?;
        conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
            .map_err(|e| open_error(url, &e))?;
        // Reading the schema proves the file is a database before anything is written.
        let tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(|e| open_error(url, &e))?;
        if !tables.is_empty() && !tables.iter().any(|t| t == "jwtauth_schema") {
            return Err(StoreError::Open {
                url: url.to_string(),
                detail: format!(
                    "the file is a SQLite database of another application (tables: {})",
                    crate::error::clip(&tables.join(", "))
                ),
                fix: "jwtauth has not touched it. Point store.url at a new or jwtauth file".into(),
            });
        }
        // WAL lets readers run beside the writer across processes; synchronous=NORMAL
        // in WAL mode keeps every commit across a process crash (SIGKILL), losing at
        // most the last commits on power loss.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| open_error(url, &e))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| open_error(url, &e))?;
        // The log is checkpointed after the commit that fills it past
        // CHECKPOINT_FRAMES, as SQLite itself would, but by `transaction`, so that the
        // checkpoint (which syncs the file) can wait off an executor's thread.
        let wal_frames = Arc::new(AtomicI32::new(0));
        let seen = wal_frames.clone();
        conn.wal_hook(Some(move |_: &mut Wal, frames: std::ffi::c_int| {
            seen.store(frames, Ordering::Relaxed);
            Ok(())
        }))
        .map_err(|e| open_error(url, &e))?;
        Ok(Sqlite {
            conn: Mutex::new(conn),
            url: url.to_string(),
            wal_frames,
        })
    }

    /// Whether another thread of this process holds the connection now.
    pub(super) fn busy(&self) -> bool {
        matches!(self.conn.try_lock(), Err(TryLockError::WouldBlock))
    }

    fn lock(&self, wait: Option<Wait>) -> MutexGuard<'_, Connection> {
        // A poisoned lock only means another thread panicked mid-call; the
        // transaction it held was rolled back when it unwound, so the connection is usable.
        match self.conn.try_lock() {
            Ok(conn) => conn,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => waited(wait, || self.conn.lock().unwrap_or_else(|p| p.into_inner())),
        }
    }

    /// BEGIN IMMEDIATE: takes the write lock, waiting up to BUSY_TIMEOUT for another
    /// process to release it, that wait through `wait`.
    fn begin<'c>(conn: &'c Connection, wait: Option<Wait>) -> rusqlite::Result<Transaction<'c>> {
        if wait.is_none() {
            return Transaction::new_unchecked(conn, TransactionBehavior::Immediate);
        }
        conn.busy_timeout(Duration::ZERO)?;
        let first = Transaction::new_unchecked(conn, TransactionBehavior::Immediate);
        conn.busy_timeout(BUSY_TIMEOUT)?;
        match first {
            Err(e) if is_busy(&e) => waited(wait, || {
                Transaction::new_unchecked(conn, TransactionBehavior::Immediate)
            }),
            other => other,
        }
    }

    pub(super) fn transaction<T>(
        &self,
        mut f: impl FnMut(&mut dyn Tx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let wait = super::WAIT.get();
        let conn = self.lock(wait);
        let tx = Sqlite::begin(&conn, wait).map_err(|e| query_error(&self.url, &e))?;
        let mut wrapped = SqliteTx(&tx);
        let out = f(&mut wrapped)?;
        tx.commit().map_err(|e| query_error(&self.url, &e))?;
        if self.wal_frames.load(Ordering::Relaxed) >= CHECKPOINT_FRAMES {
            // What SQLite's automatic checkpoint does: as much as readers allow, never
            // failing the commit (a checkpoint cut short is tried again at the next one).
            let _ = waited(wait, || conn.wal_checkpoint_v2(None::<&str>, CheckpointMode::PASSIVE));
        }
        Ok(out)
    }
}

fn query_error(url: &str, e: &rusqlite::Error) -> StoreError {
    StoreError::Query(format!("{url}: {e}"))
}

struct SqliteTx<'a>(&'a rusqlite::Transaction<'a>);

fn to_sql(params: &[Val]) -> Vec<SqlValue> {
    params
        .iter()
        .map(|p| match p {
            Val::I64(v) => SqlValue::Integer(*v),
            Val::Text(s) => SqlValue::Text(s.clone()),
            Val::Null => SqlValue::Null,
        })
        .collect()
}

impl Tx for SqliteTx<'_> {
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, StoreError> {
        let mut stmt = self
            .0
            .prepare_cached(sql)
            .map_err(|e| StoreError::Query(e.to_string()))?;
        let n = stmt
            .execute(rusqlite::params_from_iter(to_sql(params)))
            .map_err(|e| StoreError::Query(e.to_string()))?;
        Ok(n as u64)
    }

    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>, StoreError> {
        let mut stmt = self
            .0
            .prepare_cached(sql)
            .map_err(|e| StoreError::Query(e.to_string()))?;
        let cols = stmt.column_count();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(to_sql(params)))
            .map_err(|e| StoreError::Query(e.to_string()))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(|e| StoreError::Query(e.to_string()))? {
            let mut vals = Vec::with_capacity(cols);
            for i in 0..cols {
                vals.push(match r.get_ref(i).map_err(|e| StoreError::Query(e.to_string()))? {
                    ValueRef::Null => Val::Null,
                    ValueRef::Integer(v) => Val::I64(v),
                    ValueRef::Text(t) => Val::Text(String::from_utf8_lossy(t).into_owned()),
                    other => {
                        return Err(StoreError::Data(format!(
                            "unexpected column type {:?}",
                            other.data_type()
                        )));
                    }
                });
            }
            out.push(Row(vals));
        }
        Ok(out)
    }

    fn for_update(&self) -> &'static str {
        ""
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        self.0.execute_batch(sql).map_err(|e| StoreError::Query(e.to_string()))
    }
}
