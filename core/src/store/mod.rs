//! Persistent state behind one [`Store`]: keys, refresh-token families and
//! revocation watermarks, in an embedded SQLite file (the default) or PostgreSQL
//! (several instances sharing state).
//!
//! The domain logic (rotation, reuse detection, key lifecycle) is written once, over
//! a small transaction interface ([`Tx`]) that each backend implements; the SQL is
//! portable (no backend-specific functions), so PostgreSQL-protocol databases serve too.
//!
//! Every call is blocking. From async code call it through `spawn_blocking`: the
//! PostgreSQL client refuses to run on an async worker thread. A SQLite store's
//! transaction is a few writes to a local file, cheaper than the two thread hops
//! of `spawn_blocking`: [`Store::inline`] runs such calls on the executor's own
//! thread and hands only their waits to a function like tokio's `block_in_place`.
//!
//! # Keeping an application's own tables in the store
//!
//! An application may keep its tables beside jwtauth's, in the same file or
//! database, with migrations of its own: [`Store::migrate_extension`] applies them
//! once, in order, recorded under the application's name, and [`Store::write`]
//! runs its statements in a transaction. jwtauth never touches those tables.
//!
//! ```
//! use jwtauth_core::store::{Store, Val};
//!
//! let dir = tempfile::tempdir()?;
//! let store = Store::open(&format!("sqlite://{}/app.db", dir.path().display()), 1)?;
//! store.migrate_extension("notes", &["CREATE TABLE notes (id BIGINT PRIMARY KEY, body TEXT NOT NULL)"])?;
//! store.write(|tx| tx.exec("INSERT INTO notes (id, body) VALUES (?1, ?2)", &[Val::I64(1), "hello".into()]))?;
//! let rows = store.write(|tx| tx.query("SELECT body FROM notes", &[]))?;
//! assert_eq!(rows[0].text(0)?, "hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(feature = "postgres")]
mod postgres;
mod schema;
mod sqlite;

use std::cell::Cell;
use std::fmt;

pub use schema::LATEST as SCHEMA_VERSION;
pub(crate) use schema::{lock_keys, migrate};

/// The URL as shown to people: the password masked, a SQLite path made absolute
/// (so a message says which file, whatever the working directory).
pub fn url_shown(url: &str) -> String {
    match url.strip_prefix("sqlite://") {
        Some(path) => match std::path::absolute(path) {
            Ok(abs) => format!("sqlite://{}", abs.display()),
            Err(_) => url.to_string(),
        },
        None => url_masked(url),
    }
}

/// Creates `path` for writing, readable and writable by its owner only (0600);
/// fails if it exists.
pub(crate) fn private_file(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
}

/// Creates the folder `dir` and its missing parents owner-only (0700).
pub(crate) fn private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

/// Warns (once per call) when `path` can be read or written by its group or by
/// others: it holds keys, password hashes or refresh-token hashes, or failures.
/// Returns whether it can.
pub fn warn_if_shared(path: &std::path::Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(
                    "{} is readable by users other than its owner (mode {mode:o}); it holds secrets. Run `chmod {} {}`",
                    path.display(),
                    if meta.is_dir() { "700" } else { "600" },
                    path.display()
                );
                return true;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    false
}

/// Masks the password of a connection URL (`postgres://user:***@host/db`) so it can
/// be shown in errors and logs.
pub fn url_masked(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// A store that cannot be opened or used, with what to do about it.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store cannot be opened or reached.
    #[error("cannot open store {url}: {detail}. {fix}")]
    Open {
        /// The URL, password masked.
        url: String,
        /// What went wrong.
        detail: String,
        /// What to do.
        fix: String,
    },
    /// No store exists there, and this open may not create one.
    #[error("no jwtauth store at {url}. {fix}")]
    Missing {
        /// The URL (absolute path, password masked).
        url: String,
        /// What to do.
        fix: String,
    },
    /// The database was written by a newer jwtauth.
    #[error(
        "store {url} has schema version {found}, newer than this jwtauth supports ({supported}); upgrade jwtauth (nothing was changed)"
    )]
    TooNew {
        /// The URL, password masked.
        url: String,
        /// Version in the database.
        found: i64,
        /// Latest version this build knows.
        supported: i64,
    },
    /// A query failed.
    #[error("store query failed: {0}")]
    Query(String),
    /// Stored data cannot be used (e.g. a key that does not decrypt).
    #[error("stored data is unusable: {0}")]
    Data(String),
}

/// A value bound to or read from SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    /// An integer (`BIGINT`).
    I64(i64),
    /// Text.
    Text(String),
    /// `NULL`.
    Null,
}

impl From<i64> for Val {
    fn from(v: i64) -> Self {
        Val::I64(v)
    }
}
impl From<&str> for Val {
    fn from(v: &str) -> Self {
        Val::Text(v.to_owned())
    }
}
impl From<Option<&str>> for Val {
    fn from(v: Option<&str>) -> Val {
        v.map_or(Val::Null, Val::from)
    }
}

impl From<String> for Val {
    fn from(v: String) -> Self {
        Val::Text(v)
    }
}

/// One result row.
#[derive(Debug, Clone)]
pub struct Row(pub Vec<Val>);

impl Row {
    /// Column `i` as an integer; an error when it is anything else.
    pub fn i64(&self, i: usize) -> Result<i64, StoreError> {
        match self.0.get(i) {
            Some(Val::I64(v)) => Ok(*v),
            other => Err(StoreError::Data(format!(
                "column {i}: expected an integer, found {other:?}"
            ))),
        }
    }
    /// Column `i` as an integer or `NULL`.
    pub fn opt_i64(&self, i: usize) -> Result<Option<i64>, StoreError> {
        match self.0.get(i) {
            Some(Val::Null) => Ok(None),
            _ => self.i64(i).map(Some),
        }
    }
    /// Column `i` as text, `None` for `NULL`.
    pub fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        match self.0.get(i) {
            Some(Val::Null) => Ok(None),
            _ => self.text(i).map(Some),
        }
    }
    /// Column `i` as text; an error when it is anything else.
    pub fn text(&self, i: usize) -> Result<String, StoreError> {
        match self.0.get(i) {
            Some(Val::Text(v)) => Ok(v.clone()),
            other => Err(StoreError::Data(format!("column {i}: expected text, found {other:?}"))),
        }
    }
}

/// A transaction. SQL uses `?1`, `?2` … placeholders on every backend; write
/// portable SQL (`BIGINT`, `TEXT`, no backend-specific functions).
pub trait Tx {
    /// Runs a statement; returns the number of rows changed.
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, StoreError>;
    /// Runs a query.
    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>, StoreError>;
    /// `" FOR UPDATE"` where row locks exist; empty where the whole transaction
    /// already holds the write lock (SQLite's `BEGIN IMMEDIATE`).
    fn for_update(&self) -> &'static str;
    /// Runs a batch of statements without parameters (migrations).
    fn batch(&mut self, sql: &str) -> Result<(), StoreError>;
}

/// How a thread that must not be held up waits: it is given the waiting part of a
/// store call and runs it once, on this thread, after handing its other work
/// elsewhere. On a tokio worker: `|wait| tokio::task::block_in_place(wait)`.
pub type Wait = fn(&mut dyn FnMut());

thread_local! {
    /// The [`Wait`] of the [`Store::inline`] call running on this thread.
    static WAIT: Cell<Option<Wait>> = const { Cell::new(None) };
}

/// Puts back the [`Wait`] that was in force when [`Store::inline`] was called,
/// however `f` ends.
struct Restore(Option<Wait>);

impl Drop for Restore {
    fn drop(&mut self) {
        WAIT.set(self.0);
    }
}

enum Backend {
    Sqlite(sqlite::Sqlite),
    #[cfg(feature = "postgres")]
    Postgres(postgres::Postgres),
}

/// The persistent store, opened from `store.url`. Thread-safe; share it in an `Arc`.
pub struct Store {
    backend: Backend,
    url: String,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").field("url", &self.url).finish()
    }
}

impl Store {
    /// Opens `sqlite://PATH` or `postgres://…` and applies pending migrations.
    /// A foreign or corrupt file, a newer schema or an unreachable server is an
    /// error naming the URL (password masked) and what to do; nothing is reset.
    pub fn open(url: &str, pool_size: u32) -> Result<Store, StoreError> {
        Store::open_as(url, pool_size, true)
    }

    /// Opens a store that must exist already (an administration tool's open): a
    /// missing SQLite file or a database without jwtauth's tables is an error naming
    /// the absolute path, and nothing is created. Pending migrations are applied.
    pub fn open_existing(url: &str, pool_size: u32) -> Result<Store, StoreError> {
        Store::open_as(url, pool_size, false)
    }

    fn open_as(url: &str, pool_size: u32, create: bool) -> Result<Store, StoreError> {
        let masked = url_shown(url);
        let missing = |url: &str| {
            StoreError::Missing {
            url: url.to_string(),
            fix: "Only `jwtauth-server serve` or `jwtauth-server init` create a store: run one of them with this configuration, or point store.url (or --config) at the store you meant".into(),
        }
        };
        if !create
            && let Some(path) = url.strip_prefix("sqlite://")
            && !std::path::Path::new(path).is_file()
        {
            return Err(missing(&masked));
        }
        let backend = if let Some(path) = url.strip_prefix("sqlite://") {
            Backend::Sqlite(sqlite::Sqlite::open(path, &masked)?)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            #[cfg(feature = "postgres")]
            {
                Backend::Postgres(postgres::Postgres::open(url, &masked, pool_size)?)
            }
            #[cfg(not(feature = "postgres"))]
            {
                let _ = pool_size;
                return Err(StoreError::Open {
                    url: masked,
                    detail: "this build has no PostgreSQL support".into(),
                    fix: "Build jwtauth with the `postgres` feature, or use sqlite://".into(),
                });
            }
        } else {
            return Err(StoreError::Open {
                url: masked,
                detail: "unknown scheme".into(),
                fix: "Use sqlite://PATH or postgres://user@host/db".into(),
            });
        };
        let store = Store { backend, url: masked };
        if !create && !store.has_schema()? {
            return Err(missing(&store.url));
        }
        migrate(&store)?;
        Ok(store)
    }

    /// The URL with its password masked.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Runs `f` in one transaction that holds the write lock (SQLite) or may take row
    /// locks (PostgreSQL); commits when `f` returns `Ok`, rolls back otherwise.
    pub fn write<T>(&self, f: impl FnMut(&mut dyn Tx) -> Result<T, StoreError>) -> Result<T, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.transaction(f),
            #[cfg(feature = "postgres")]
            Backend::Postgres(p) => p.transaction(f),
        }
    }

    /// Runs `f` for work that is correct statement by statement, each write a
    /// compare-and-set on what an earlier statement read: on PostgreSQL every
    /// statement commits on its own (one round trip each, no BEGIN or COMMIT); on
    /// SQLite they all run in one transaction holding the write lock, cheaper there
    /// than one transaction per statement. Rolls back (SQLite) when `f` fails.
    pub(crate) fn each_statement<T>(
        &self,
        f: impl FnMut(&mut dyn Tx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.transaction(f),
            #[cfg(feature = "postgres")]
            Backend::Postgres(p) => p.each_statement(f),
        }
    }

    /// Whether this store's calls may run on an async executor's own thread through
    /// [`Store::inline`]: an embedded SQLite file, whose transactions neither cross a
    /// network nor wait except for a lock or a checkpoint. PostgreSQL calls wait
    /// for the server at every statement: run them on a blocking pool.
    pub fn runs_inline(&self) -> bool {
        matches!(self.backend, Backend::Sqlite(_))
    }

    /// Whether a transaction started now would wait for another call of this process
    /// (the SQLite connection is in use); always `false` for a pooled store.
    pub fn busy(&self) -> bool {
        match &self.backend {
            Backend::Sqlite(s) => s.busy(),
            #[cfg(feature = "postgres")]
            Backend::Postgres(_) => false,
        }
    }

    /// Runs `f` on this thread; every wait of a SQLite store call it makes (for the
    /// connection another thread holds, for the write lock another process holds,
    /// for a checkpoint of the log) is run through `wait`, so a caller on an async
    /// executor's thread holds up nothing else while it waits. The store calls are
    /// otherwise unchanged: same transactions, same errors. Only for a store that
    /// [`Store::runs_inline`]; a PostgreSQL call inside `f` would still block.
    pub fn inline<T>(wait: Wait, f: impl FnOnce() -> T) -> T {
        let _restore = Restore(WAIT.replace(Some(wait)));
        f()
    }

    /// Whether [`Store::each_statement`] commits statement by statement
    /// (PostgreSQL), so that a write spanning two tables must be one statement.
    pub(crate) fn commits_each_statement(&self) -> bool {
        match &self.backend {
            Backend::Sqlite(_) => false,
            #[cfg(feature = "postgres")]
            Backend::Postgres(_) => true,
        }
    }

    /// Whether jwtauth's schema table is there (the store was made by jwtauth). Asks
    /// the catalog: a failed statement would abort a PostgreSQL transaction.
    fn has_schema(&self) -> Result<bool, StoreError> {
        let sql = match &self.backend {
            Backend::Sqlite(_) => "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'jwtauth_schema'",
            #[cfg(feature = "postgres")]
            Backend::Postgres(_) => {
                "SELECT table_name FROM information_schema.tables WHERE table_name = 'jwtauth_schema' AND table_schema = current_schema()"
            }
        };
        self.write(|tx| Ok(!tx.query(sql, &[])?.is_empty()))
    }

    /// Applies an application's own `migrations` (see the module docs): those not
    /// yet applied under `name`, in order, each in a transaction. Safe to run from
    /// several processes at once. A store that has applied more of them than given
    /// (a newer application wrote it) is refused, naming both versions.
    pub fn migrate_extension(&self, name: &str, migrations: &[&str]) -> Result<(), StoreError> {
        schema::migrate_extension(self, name, migrations)
    }

    /// Checks that the store answers (for readiness probes).
    pub fn ping(&self) -> Result<(), StoreError> {
        self.write(|tx| tx.query("SELECT version FROM jwtauth_schema", &[]).map(|_| ()))
    }
}

/// Turns `?N` placeholders into PostgreSQL's `$N`.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) fn dollar_placeholders(sql: &str) -> String {
    sql.replace('?', "$")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_url_password_is_masked() {
        assert_eq!(
            url_masked("postgres://u:hunter2@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(url_masked("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(url_masked("sqlite://x.db"), "sqlite://x.db");
    }
}
