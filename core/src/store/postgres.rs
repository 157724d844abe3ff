//! The PostgreSQL backend: a connection pool, row locks for rotations.

use std::collections::HashMap;
use std::time::Duration;

use postgres::types::{ToSql, Type};
use postgres::{Client, GenericClient, NoTls, Statement};
use r2d2::Pool;

use super::{Row, StoreError, Tx, Val, dollar_placeholders};

/// The longest a request waits for a connection (a new one included). A server
/// that is down or unreachable makes every checkout fail this soon, so requests
/// that need the store are refused quickly (HTTP 503) rather than queueing behind
/// it; the pool keeps reconnecting in the background and the first checkout after
/// the server is back succeeds. A healthy pool hands out a connection in
/// microseconds, and one busy with millisecond transactions well within this.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(3);

pub(super) struct Postgres {
    pool: Pool<Manager>,
    url: String,
}

/// A pooled connection with its prepared statements: each statement is parsed once
/// per connection instead of once per call, halving the round trips of a rotation.
pub(super) struct Conn {
    client: Client,
    statements: HashMap<String, Statement>,
}

pub(super) struct Manager(postgres::Config);

impl r2d2::ManageConnection for Manager {
    type Connection = Conn;
    type Error = postgres::Error;

    fn connect(&self) -> Result<Conn, postgres::Error> {
        Ok(Conn {
            client: self.0.connect(NoTls)?,
            statements: HashMap::new(),
        })
    }

    fn is_valid(&self, conn: &mut Conn) -> Result<(), postgres::Error> {
        conn.client.simple_query("").map(|_| ())
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        conn.client.is_closed()
    }
}

impl Postgres {
    pub(super) fn open(url: &str, masked: &str, pool_size: u32) -> Result<Postgres, StoreError> {
        let open_err = |detail: String, fix: &str| StoreError::Open {
            url: masked.to_string(),
            detail,
            fix: fix.to_string(),
        };
        let mut config: postgres::Config = url.parse().map_err(|e| {
            open_err(
                format!("not a valid PostgreSQL URL ({e})"),
                "Write it like postgres://user@host:5432/db",
            )
        })?;
        config.connect_timeout(CHECKOUT_TIMEOUT);
        // One direct connection first: its error says why (refused, auth, no such
        // database), where the pool would only say it timed out.
        config.connect(NoTls).map_err(|e| {
            let (detail, fix) = connect_cause(&e);
            open_err(detail, fix)
        })?;
        let manager = Manager(config);
        let pool = Pool::builder()
            .max_size(pool_size)
            .min_idle(Some(1))
            // No ping on every checkout: it would add a round trip to every transaction.
            // A connection the server has closed fails at BEGIN instead (see `transaction`).
            .test_on_check_out(false)
            .connection_timeout(CHECKOUT_TIMEOUT)
            .build(manager)
            .map_err(|e| open_err(e.to_string(), "Check the server's max_connections and store.pool_size"))?;
        Ok(Postgres {
            pool,
            url: masked.to_string(),
        })
    }

    fn checkout(&self) -> Result<r2d2::PooledConnection<Manager>, StoreError> {
        self.pool
            .get()
            .map_err(|e| StoreError::Query(format!("{}: no connection: {e}", self.url)))
    }

    pub(super) fn transaction<T>(
        &self,
        mut f: impl FnMut(&mut dyn Tx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        // BEGIN is the first thing sent on the connection: when it fails, nothing
        // ran, so another connection may be tried. Nothing is retried once BEGIN
        // has succeeded.
        self.on_live_connection(|Conn { client, statements }| {
            let mut tx = match client.transaction() {
                Ok(tx) => tx,
                Err(e) => return Attempt::NothingRan(StoreError::Query(format!("{}: {e}", self.url))),
            };
            let out = f(&mut PgTx {
                client: &mut tx,
                statements,
                ran: false,
            })
            .and_then(|out| {
                tx.commit()
                    .map_err(|e| StoreError::Query(format!("{}: {e}", self.url)))?;
                Ok(out)
            });
            Attempt::Done(out)
        })
    }

    /// Runs `f` with every statement committing on its own: one round trip each, no
    /// BEGIN or COMMIT. A pooled connection the server has closed fails at the first
    /// statement; when nothing has run yet, `f` runs again on another connection.
    pub(super) fn each_statement<T>(
        &self,
        mut f: impl FnMut(&mut dyn Tx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.on_live_connection(|Conn { client, statements }| {
            let mut tx = PgTx {
                client,
                statements,
                ran: false,
            };
            match f(&mut tx) {
                Err(e) if !tx.ran && tx.client.is_closed() => Attempt::NothingRan(e),
                out => Attempt::Done(out),
            }
        })
    }

    /// Runs `attempt` on a pooled connection, and again on another one while it
    /// reports that the connection failed before anything ran. Any pooled
    /// connection may have been closed by the server (a restart, an idle timeout,
    /// an administrator) and is found out only when used; r2d2 drops it, and with
    /// the pool's size plus one attempts a healthy or fresh connection is reached.
    /// When the server is down, the checkout fails within [`CHECKOUT_TIMEOUT`].
    fn on_live_connection<T>(&self, mut attempt: impl FnMut(&mut Conn) -> Attempt<T>) -> Result<T, StoreError> {
        let mut left = self.pool.max_size() + 1;
        loop {
            left -= 1;
            let mut conn = self.checkout()?;
            match attempt(&mut conn) {
                Attempt::Done(out) => return out,
                Attempt::NothingRan(e) if left == 0 => return Err(e),
                Attempt::NothingRan(_) => {}
            }
        }
    }
}

/// How one try on a pooled connection ended.
enum Attempt<T> {
    /// Something ran (or the work failed by itself): this is the result.
    Done(Result<T, StoreError>),
    /// The connection failed before anything ran: another one may be tried.
    NothingRan(StoreError),
}

/// Statements on a transaction or, for [`Postgres::each_statement`], on the bare
/// connection. `ran` says whether one got an answer from the server.
struct PgTx<'a, C: GenericClient> {
    client: &'a mut C,
    statements: &'a mut HashMap<String, Statement>,
    ran: bool,
}

impl<C: GenericClient> PgTx<'_, C> {
    fn statement(&mut self, sql: &str) -> Result<Statement, StoreError> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self
            .client
            .prepare(&dollar_placeholders(sql))
            .map_err(|e| pg_error(&e))?;
        self.statements.insert(sql.to_string(), s.clone());
        Ok(s)
    }
}

fn params(vals: &[Val]) -> Vec<Box<dyn ToSql + Sync>> {
    vals.iter()
        .map(|v| -> Box<dyn ToSql + Sync> {
            match v {
                Val::I64(i) => Box::new(*i),
                Val::Text(s) => Box::new(s.clone()),
                Val::Null => Box::new(Option::<String>::None),
            }
        })
        .collect()
}

fn pg_error(e: &postgres::Error) -> StoreError {
    // The database error's message is more useful than the wrapper's "db error".
    match e.as_db_error() {
        Some(db) => StoreError::Query(format!("{}: {}", db.code().code(), db.message())),
        None => StoreError::Query(e.to_string()),
    }
}

impl<C: GenericClient> Tx for PgTx<'_, C> {
    fn exec(&mut self, sql: &str, vals: &[Val]) -> Result<u64, StoreError> {
        let owned = params(vals);
        let refs: Vec<&(dyn ToSql + Sync)> = owned.iter().map(|b| b.as_ref()).collect();
        let stmt = self.statement(sql)?;
        let n = self.client.execute(&stmt, &refs).map_err(|e| pg_error(&e))?;
        self.ran = true;
        Ok(n)
    }

    fn query(&mut self, sql: &str, vals: &[Val]) -> Result<Vec<Row>, StoreError> {
        let owned = params(vals);
        let refs: Vec<&(dyn ToSql + Sync)> = owned.iter().map(|b| b.as_ref()).collect();
        let stmt = self.statement(sql)?;
        let rows = self.client.query(&stmt, &refs).map_err(|e| pg_error(&e))?;
        self.ran = true;
        rows.iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| {
                        let ty = r.columns()[i].type_();
                        let v = if *ty == Type::INT8 {
                            r.try_get::<_, Option<i64>>(i).map(|o| o.map_or(Val::Null, Val::I64))
                        } else if *ty == Type::INT4 {
                            r.try_get::<_, Option<i32>>(i)
                                .map(|o| o.map_or(Val::Null, |v| Val::I64(v.into())))
                        } else {
                            r.try_get::<_, Option<String>>(i)
                                .map(|o| o.map_or(Val::Null, Val::Text))
                        };
                        v.map_err(|e| StoreError::Data(e.to_string()))
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(Row)
            })
            .collect()
    }

    fn for_update(&self) -> &'static str {
        " FOR UPDATE"
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        self.client.batch_execute(sql).map_err(|e| pg_error(&e))?;
        self.ran = true;
        Ok(())
    }
}

/// Why a first connection failed, in the words of the fix: nothing listening,
/// authentication refused, or no such database.
fn connect_cause(e: &postgres::Error) -> (String, &'static str) {
    use postgres::error::SqlState;
    if let Some(code) = e.code() {
        if *code == SqlState::INVALID_PASSWORD || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION {
            return (
                format!("authentication failed ({e})"),
                "Check the user and password in store.url (and pg_hba.conf on the server)",
            );
        }
        if *code == SqlState::INVALID_CATALOG_NAME {
            return (
                format!("the database does not exist ({e})"),
                "Create it (`createdb NAME`) or correct the database name in store.url",
            );
        }
    }
    let io = std::error::Error::source(e).and_then(|s| s.downcast_ref::<std::io::Error>());
    match io.map(std::io::Error::kind) {
        Some(std::io::ErrorKind::ConnectionRefused) => (
            format!("connection refused: nothing listens at that address ({e})"),
            "Start PostgreSQL (is it running there?), or correct the host and port in store.url",
        ),
        Some(std::io::ErrorKind::TimedOut) => (
            format!("the connection timed out ({e})"),
            "Check that the host is reachable (firewall, address) and PostgreSQL is running",
        ),
        _ => (
            e.to_string(),
            "Check that PostgreSQL is running and reachable at that address, and the user, password and database",
        ),
    }
}
