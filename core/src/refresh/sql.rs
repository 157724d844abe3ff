//! The families and refresh-token tables: every statement of a session's life.

use super::claims::SessionClaims;
use super::decision::{Decision, FamilyState, decide};
use super::token::{RefreshToken, hash};
use super::{Lifetimes, SessionError, SessionInfo};
use crate::store::{Row, Store, StoreError, Tx, Val};

/// A family just started.
pub(crate) struct Started {
    pub family_id: String,
    pub token: RefreshToken,
    pub expires_at: i64,
}

/// What presenting a refresh token led to.
pub(crate) enum Outcome {
    /// Rotated: the new token, and what to issue the access token for.
    Rotated {
        subject: String,
        claims: String,
        token: RefreshToken,
        expires_at: i64,
        family_id: String,
    },
    /// Unknown token.
    Invalid,
    /// The family or token expired.
    Expired { subject: String },
    /// The family was revoked (logout, logout everywhere, or an earlier reuse).
    Revoked { subject: String },
    /// The subject is a disabled or deleted user: the family is now revoked.
    SubjectRefused { subject: String },
    /// A spent token came back: the family is now revoked.
    Reused { subject: String, family_id: String },
    /// The family rotated too often: nothing was spent; retry after this many seconds.
    Limited { subject: String, retry_after: u64 },
}

/// Spent tokens kept per family, newest first: a token this recent that comes back
/// is reuse (and revokes the family); an older one is only unknown. Pruned every
/// `PRUNE_EVERY` rotations, so a family holds at most `KEEP_SPENT + PRUNE_EVERY` rows.
const KEEP_SPENT: i64 = 32;
const PRUNE_EVERY: i64 = 16;

/// Where a session came from, as stored with its family.
pub(crate) struct Origin {
    pub client_id: Option<String>,
    pub user_agent: Option<String>,
}

/// A family to start: its id (already in the access token as `sid`), whose it
/// is, the claims it carries, whether it is a password user's, where it came from.
pub(crate) struct NewFamily<'a> {
    pub id: String,
    pub subject: &'a str,
    pub claims: &'a str,
    pub user: bool,
    pub origin: &'a Origin,
}

/// Starts a family. With `user`, only if `subject` is a user that is not
/// disabled, checked in the same transaction with the user's row locked, so a
/// disable either waits for this session (and then revokes it) or is seen here.
/// `None` when the user was refused.
pub(crate) fn start(
    store: &Store,
    family: &NewFamily<'_>,
    now: i64,
    life: Lifetimes,
) -> Result<Option<Started>, SessionError> {
    let (family_id, subject, claims, user, origin) =
        (&family.id, family.subject, family.claims, family.user, family.origin);
    let token = RefreshToken::generate()?;
    let max = now.saturating_add(life.max);
    let idle = now.saturating_add(life.idle).min(max);
    let started = store.write(|tx| {
        if user {
            let sql = format!(
                "SELECT disabled FROM jwtauth_users WHERE name = ?1{}",
                tx.for_update()
            );
            let row = tx.query(&sql, &[subject.into()])?;
            if row.first().map(|r| r.i64(0)).transpose()?.is_none_or(|d| d != 0) {
                return Ok(false);
            }
        }
        tx.exec(
            "INSERT INTO jwtauth_families (id, subject, claims, created_at, expires_at, last_used_at, idle_expires_at, generation, grace_used, client_id, user_agent)
             VALUES (?1, ?2, ?3, ?4, ?5, ?4, ?6, 0, 0, ?7, ?8)",
            &[
                family_id.as_str().into(),
                subject.into(),
                claims.into(),
                Val::I64(now),
                Val::I64(max),
                Val::I64(idle),
                origin.client_id.as_deref().into(),
                origin.user_agent.as_deref().into(),
            ],
        )?;
        tx.exec(
            "INSERT INTO jwtauth_refresh_tokens (hash, family_id, generation, issued_at) VALUES (?1, ?2, 0, ?3)",
            &[token.hash().into(), family_id.as_str().into(), Val::I64(now)],
        )?;
        Ok(true)
    })?;
    Ok(started.then_some(Started {
        family_id: family_id.clone(),
        token,
        expires_at: idle,
    }))
}

/// A token's family and generation, and the family's subject as a user (`disabled`,
/// `NULL` when no such user), in one statement the backends share. Read without a
/// lock: the rotation's write is a compare-and-set on the generation (which every
/// change of the rotation state moves) and on the family being unrevoked, so a
/// rotation, logout or disable that commits after this read makes the write miss.
const LOOKUP: &str =
    "SELECT f.subject, f.claims, f.expires_at, f.idle_expires_at, f.generation, f.grace_used, f.revoked_at,
        f.last_used_at, f.id, t.generation, u.disabled
     FROM jwtauth_refresh_tokens t JOIN jwtauth_families f ON f.id = t.family_id
     LEFT JOIN jwtauth_users u ON u.name = f.subject
     WHERE t.hash = ?1";

/// The family's move to the next generation, if nothing moved it since it was read.
macro_rules! advance_family {
    () => {
        "UPDATE jwtauth_families SET generation = ?1, last_used_at = ?2, idle_expires_at = ?3, grace_used = ?4
         WHERE id = ?5 AND generation = ?6 AND revoked_at IS NULL"
    };
}

/// The next token of a family (SQLite, inside the rotation's transaction).
const INSERT_TOKEN: &str =
    "INSERT INTO jwtauth_refresh_tokens (hash, family_id, generation, issued_at) VALUES (?1, ?2, ?3, ?4)";

/// Spent tokens older than the kept ones (SQLite, inside the rotation's transaction).
const PRUNE: &str = "DELETE FROM jwtauth_refresh_tokens WHERE family_id = ?1 AND generation < ?2";

/// On PostgreSQL the family's move, its next token (and, with `PRUNE_EVERY`, the
/// pruning of old spent tokens) are one statement, so one round trip that commits
/// all or nothing: the token is inserted only when the compare-and-set won.
const ADVANCE_PG: &str = concat!(
    "WITH f AS (",
    advance_family!(),
    " RETURNING id)
     INSERT INTO jwtauth_refresh_tokens (hash, family_id, generation, issued_at)
     SELECT CAST(?7 AS TEXT), id, CAST(?1 AS BIGINT), CAST(?2 AS BIGINT) FROM f"
);
const ADVANCE_AND_PRUNE_PG: &str = concat!(
    "WITH f AS (",
    advance_family!(),
    " RETURNING id),
     p AS (DELETE FROM jwtauth_refresh_tokens WHERE family_id IN (SELECT id FROM f) AND generation < CAST(?8 AS BIGINT))
     INSERT INTO jwtauth_refresh_tokens (hash, family_id, generation, issued_at)
     SELECT CAST(?7 AS TEXT), id, CAST(?1 AS BIGINT), CAST(?2 AS BIGINT) FROM f"
);

/// Looks taken by one refresh at most: each look after the first follows a lost
/// compare-and-set, so the token it reads is spent (grace or reuse) or revoked.
const ATTEMPTS: usize = 4;

/// The family throttle, spent at most once per refresh however often the store
/// work runs again (a retried connection, a lost compare-and-set): its first
/// verdict is kept.
pub(crate) struct SpendOnce<'a> {
    allowed: &'a dyn Fn(&str) -> Result<(), u64>,
    verdict: Option<(String, Result<(), u64>)>,
}

impl<'a> SpendOnce<'a> {
    pub(crate) fn new(allowed: &'a dyn Fn(&str) -> Result<(), u64>) -> SpendOnce<'a> {
        SpendOnce { allowed, verdict: None }
    }

    fn spend(&mut self, family_id: &str) -> Result<(), u64> {
        match &self.verdict {
            Some((family, verdict)) if family == family_id => *verdict,
            _ => {
                let verdict = (self.allowed)(family_id);
                self.verdict = Some((family_id.to_owned(), verdict));
                verdict
            }
        }
    }
}

/// Spends the token whose hash is `presented_hash` and returns a new token,
/// atomically: of two concurrent calls with one token, in threads or processes,
/// exactly one rotates. On SQLite in one transaction under the write lock; on
/// PostgreSQL in two statements (the lookup, then one compare-and-set writing the
/// family and the next token), and a call that loses the compare-and-set looks
/// again and finds its token spent.
///
/// On PostgreSQL, when the caller already knows the token's family
/// (`known_family`, remembered from when this process issued the token), a plain
/// rotation is tried first as one statement ([`ROTATE_KNOWN_PG`]) after the family's
/// throttle; anything else it does not cover (grace, reuse, expiry, a refused
/// subject, a lost race) leaves the store untouched and takes the path above.
pub(crate) fn rotate(
    store: &Store,
    presented_hash: &str,
    known_family: Option<&str>,
    now: i64,
    life: Lifetimes,
    family_allowed: &dyn Fn(&str) -> Result<(), u64>,
) -> Result<Outcome, SessionError> {
    let next = RefreshToken::generate()?;
    let one_statement = store.commits_each_statement();
    let mut limit = SpendOnce::new(family_allowed);
    store
        .each_statement(|tx| {
            if one_statement
                && let Some(family) = known_family
                && limit.spend(family).is_ok()
                && let Some(outcome) = rotate_known(tx, presented_hash, family, &next, now, life)?
            {
                return Ok(outcome);
            }
            for _ in 0..ATTEMPTS {
                let step = Step {
                    presented_hash,
                    next: &next,
                    now,
                    life,
                    one_statement,
                };
                if let Some(outcome) = step.run(tx, &mut limit)? {
                    return Ok(outcome);
                }
            }
            // Every look lost to another rotation of the same family: fail closed.
            Err(StoreError::Data("concurrent rotation detected".into()))
        })
        .map_err(SessionError::from)
}

/// A plain rotation of a token whose family is known, in one statement
/// (PostgreSQL): the token must be its family's current one, the family neither
/// revoked nor expired, its subject an enabled user; then the family advances, the
/// next token is written and, every `PRUNE_EVERY` generations, old spent ones
/// dropped. Each condition is the [`decide`] rule for `Rotate { in_grace: false }`;
/// a client's session (no user row) is left to the general path. Nothing is
/// written unless every condition holds, and the generation compare-and-set makes
/// a concurrent rotation of the same family win or lose as a whole.
const ROTATE_KNOWN_PG: &str = "WITH t AS (
        SELECT family_id, generation FROM jwtauth_refresh_tokens WHERE hash = ?1 AND family_id = ?2
     ),
     f AS (
        UPDATE jwtauth_families fam
        SET generation = fam.generation + 1, last_used_at = CAST(?3 AS BIGINT),
            idle_expires_at = LEAST(CAST(?3 AS BIGINT) + CAST(?4 AS BIGINT), fam.expires_at), grace_used = 0
        FROM t
        WHERE fam.id = t.family_id AND fam.generation = t.generation AND fam.revoked_at IS NULL
          AND CAST(?3 AS BIGINT) < fam.expires_at AND CAST(?3 AS BIGINT) < fam.idle_expires_at
          AND EXISTS (SELECT 1 FROM jwtauth_users u WHERE u.name = fam.subject AND u.disabled = 0)
        RETURNING fam.id, fam.subject, fam.claims, fam.generation, fam.idle_expires_at
     ),
     i AS (
        INSERT INTO jwtauth_refresh_tokens (hash, family_id, generation, issued_at)
        SELECT CAST(?5 AS TEXT), id, generation, CAST(?3 AS BIGINT) FROM f
     ),
     p AS (
        DELETE FROM jwtauth_refresh_tokens
        WHERE family_id IN (SELECT id FROM f WHERE generation % CAST(?6 AS BIGINT) = 0)
          AND generation < (SELECT generation FROM f) - CAST(?7 AS BIGINT)
     )
     SELECT subject, claims, idle_expires_at FROM f";

fn rotate_known(
    tx: &mut dyn Tx,
    presented_hash: &str,
    family: &str,
    next: &RefreshToken,
    now: i64,
    life: Lifetimes,
) -> Result<Option<Outcome>, StoreError> {
    let params = [
        presented_hash.into(),
        family.into(),
        Val::I64(now),
        Val::I64(life.idle),
        next.hash().into(),
        Val::I64(PRUNE_EVERY),
        Val::I64(KEEP_SPENT),
    ];
    let Some(row) = tx.query(ROTATE_KNOWN_PG, &params)?.into_iter().next() else {
        return Ok(None);
    };
    Ok(Some(Outcome::Rotated {
        subject: row.text(0)?,
        claims: row.text(1)?,
        token: next.clone(),
        expires_at: row.i64(2)?,
        family_id: family.to_owned(),
    }))
}

/// One look at a presented token and what it leads to.
struct Step<'a> {
    presented_hash: &'a str,
    next: &'a RefreshToken,
    now: i64,
    life: Lifetimes,
    one_statement: bool,
}

impl Step<'_> {
    /// The outcome, or `None` when a concurrent rotation moved the family first.
    fn run(&self, tx: &mut dyn Tx, limit: &mut SpendOnce<'_>) -> Result<Option<Outcome>, StoreError> {
        let now = self.now;
        let Some(fam) = tx.query(LOOKUP, &[self.presented_hash.into()])?.into_iter().next() else {
            return Ok(Some(Outcome::Invalid));
        };
        let (family_id, token_gen) = (fam.text(8)?, fam.i64(9)?);
        let subject = fam.text(0)?;
        let (expires_at, idle_expires_at, generation) = (fam.i64(2)?, fam.i64(3)?, fam.i64(4)?);
        let (grace_used, revoked_at, last_used_at) = (fam.i64(5)? != 0, fam.opt_i64(6)?, fam.i64(7)?);
        let claims = fam.text(1)?;
        let user = SessionClaims::from_json(&claims)?.user;
        // Not a disabled user, and for a password user's session a user that still exists.
        let subject_allowed = match fam.opt_i64(10)? {
            Some(disabled) => disabled == 0,
            None => !user,
        };
        let family = FamilyState {
            expires_at,
            idle_expires_at,
            generation,
            grace_used,
            revoked: revoked_at.is_some(),
            last_used_at,
            subject_allowed,
        };
        let in_grace = match decide(&family, token_gen, now, self.life.grace) {
            Decision::Revoked => return Ok(Some(Outcome::Revoked { subject })),
            Decision::SubjectRefused => {
                revoke_in(tx, &family_id, now, "disabled")?;
                return Ok(Some(Outcome::SubjectRefused { subject }));
            }
            Decision::Expired => return Ok(Some(Outcome::Expired { subject })),
            Decision::Reuse => {
                revoke_in(tx, &family_id, now, "reuse")?;
                return Ok(Some(Outcome::Reused { subject, family_id }));
            }
            Decision::Rotate { in_grace } => in_grace,
        };
        // Reuse is always detected; only a rotation is throttled.
        if let Err(retry_after) = limit.spend(&family_id) {
            return Ok(Some(Outcome::Limited { subject, retry_after }));
        }
        let new_gen = generation + 1;
        let new_idle = now.saturating_add(self.life.idle).min(expires_at);
        let prune = new_gen % PRUNE_EVERY == 0;
        let mut params = vec![
            Val::I64(new_gen),
            Val::I64(now),
            Val::I64(new_idle),
            Val::I64(i64::from(in_grace)),
            family_id.as_str().into(),
            Val::I64(generation),
        ];
        let won = if self.one_statement {
            params.push(self.next.hash().into());
            if prune {
                params.push(Val::I64(new_gen - KEEP_SPENT));
            }
            let sql = if prune { ADVANCE_AND_PRUNE_PG } else { ADVANCE_PG };
            tx.exec(sql, &params)? == 1
        } else {
            let won = tx.exec(advance_family!(), &params)? == 1;
            if won {
                tx.exec(
                    INSERT_TOKEN,
                    &[
                        self.next.hash().into(),
                        family_id.as_str().into(),
                        Val::I64(new_gen),
                        Val::I64(now),
                    ],
                )?;
                if prune {
                    tx.exec(PRUNE, &[family_id.as_str().into(), Val::I64(new_gen - KEEP_SPENT)])?;
                }
            }
            won
        };
        if !won {
            return Ok(None);
        }
        Ok(Some(Outcome::Rotated {
            subject,
            claims,
            token: self.next.clone(),
            expires_at: new_idle,
            family_id,
        }))
    }
}

/// Revokes one family for `why`, unless it is revoked already (the first reason stays).
/// A single statement: atomic on its own, inside a transaction or not.
fn revoke_in(tx: &mut dyn Tx, family_id: &str, now: i64, why: &str) -> Result<u64, StoreError> {
    tx.exec(
        "UPDATE jwtauth_families SET revoked_at = ?1, revoked_reason = ?3 WHERE id = ?2 AND revoked_at IS NULL",
        &[Val::I64(now), family_id.into(), why.into()],
    )
}

/// Revokes the family of `presented` (logout). Returns its id, or `None` for an unknown token.
pub(crate) fn revoke(store: &Store, presented: &str, now: i64) -> Result<Option<String>, StoreError> {
    let h = hash(presented);
    store.write(|tx| {
        let rows = tx.query(
            "SELECT f.id FROM jwtauth_refresh_tokens t JOIN jwtauth_families f ON f.id = t.family_id WHERE t.hash = ?1",
            &[h.as_str().into()],
        )?;
        let Some(row) = rows.first() else { return Ok(None) };
        let family_id = row.text(0)?;
        tx.exec(
            "UPDATE jwtauth_families SET revoked_at = ?1, revoked_reason = 'logout' WHERE id = ?2 AND revoked_at IS NULL",
            &[Val::I64(now), family_id.as_str().into()],
        )?;
        Ok(Some(family_id))
    })
}

/// Revokes one family by id (administration).
pub(crate) fn revoke_family(store: &Store, family_id: &str, now: i64) -> Result<bool, StoreError> {
    store.write(|tx| {
        tx.exec(
            "UPDATE jwtauth_families SET revoked_at = ?1, revoked_reason = 'admin' WHERE id = ?2 AND revoked_at IS NULL",
            &[Val::I64(now), family_id.into()],
        )
    })
    .map(|n| n > 0)
}

/// Revokes every family of `subject` and sets its watermark to `now`: access tokens
/// issued before `now`, and those of the families revoked, fail with `revoked`.
/// Returns the ids of the families revoked.
pub(crate) fn revoke_subject(store: &Store, subject: &str, now: i64) -> Result<Vec<String>, StoreError> {
    store.write(|tx| revoke_subject_in(tx, subject, now, "logout_all"))
}

fn revoke_subject_in(tx: &mut dyn Tx, subject: &str, now: i64, why: &str) -> Result<Vec<String>, StoreError> {
    let revoked = tx.query(
        "UPDATE jwtauth_families SET revoked_at = ?1, revoked_reason = ?3 WHERE subject = ?2 AND revoked_at IS NULL
         RETURNING id",
        &[Val::I64(now), subject.into(), why.into()],
    )?;
    tx.exec(
        "INSERT INTO jwtauth_revocations (subject, revoked_before) VALUES (?1, ?2)
         ON CONFLICT (subject) DO UPDATE SET revoked_before = excluded.revoked_before",
        &[subject.into(), Val::I64(now)],
    )?;
    revoked.iter().map(|r| r.text(0)).collect()
}

/// Disables the user `name` and revokes its sessions and access tokens in one
/// transaction: a login that has not committed its session yet either holds the
/// user's row (this waits, then revokes its session) or sees the user disabled.
/// Returns the ids of the families revoked, or `None` when there is no such user.
pub(crate) fn disable_user(store: &Store, name: &str, now: i64) -> Result<Option<Vec<String>>, StoreError> {
    store.write(|tx| {
        if tx.exec("UPDATE jwtauth_users SET disabled = 1 WHERE name = ?1", &[name.into()])? == 0 {
            return Ok(None);
        }
        revoke_subject_in(tx, name, now, "disabled").map(Some)
    })
}

/// Records that this process accepts access tokens living up to `horizon` seconds,
/// keeping the largest value any process recorded; returns that value.
pub(crate) fn record_horizon(store: &Store, horizon: i64) -> Result<i64, StoreError> {
    store.write(|tx| {
        tx.exec(
            "INSERT INTO jwtauth_settings (name, value) VALUES ('watermark_horizon', ?1)
             ON CONFLICT (name) DO UPDATE SET value = CASE WHEN excluded.value > jwtauth_settings.value
                 THEN excluded.value ELSE jwtauth_settings.value END",
            &[Val::I64(horizon)],
        )?;
        tx.query(
            "SELECT value FROM jwtauth_settings WHERE name = 'watermark_horizon'",
            &[],
        )?
        .first()
        .map_or(Ok(horizon), |r| r.i64(0))
    })
}

/// Subject watermarks, and families revoked, after `since` (older ones cannot
/// matter: those tokens expired).
pub(crate) type RevocationMarks = (Vec<(String, i64)>, Vec<(String, i64)>);

/// The [`RevocationMarks`] after `since`. The watermarks are read first: a
/// watermark seen here was committed with the families it revoked, so the second
/// read sees those families too, and a session's token from the watermark's
/// second is never let through for want of its family.
pub(crate) fn revocation_marks(store: &Store, since: i64) -> Result<RevocationMarks, StoreError> {
    store.write(|tx| {
        let pairs = |rows: Vec<Row>| -> Result<Vec<(String, i64)>, StoreError> {
            rows.iter().map(|r| Ok((r.text(0)?, r.i64(1)?))).collect()
        };
        let subjects = pairs(tx.query(
            "SELECT subject, revoked_before FROM jwtauth_revocations WHERE revoked_before > ?1",
            &[Val::I64(since)],
        )?)?;
        let families = pairs(tx.query(
            "SELECT id, revoked_at FROM jwtauth_families WHERE revoked_at > ?1",
            &[Val::I64(since)],
        )?)?;
        Ok((subjects, families))
    })
}

fn session(r: &Row) -> Result<SessionInfo, StoreError> {
    Ok(SessionInfo {
        family_id: r.text(0)?,
        subject: r.text(1)?,
        started_at: r.i64(2)?,
        last_used_at: r.i64(3)?,
        expires_at: r.i64(4)?,
        max_expires_at: r.i64(5)?,
        generation: r.i64(6)?,
        client_id: r.opt_text(7)?,
        user_agent: r.opt_text(8)?,
    })
}

/// Live (not revoked, not expired) families, most recently used first.
pub(crate) fn list(store: &Store, subject: Option<&str>, now: i64, limit: i64) -> Result<Vec<SessionInfo>, StoreError> {
    store.write(|tx| {
        tx.query(
            "SELECT id, subject, created_at, last_used_at, idle_expires_at, expires_at, generation, client_id, user_agent
             FROM jwtauth_families
             WHERE revoked_at IS NULL AND idle_expires_at > ?1 AND (?2 = '' OR subject = ?2)
             ORDER BY last_used_at DESC, id LIMIT ?3",
            &[Val::I64(now), subject.unwrap_or("").into(), Val::I64(limit)],
        )?
        .iter()
        .map(session)
        .collect()
    })
}

/// Deletes up to `limit` families that expired or were revoked before `before`,
/// with their tokens, and watermarks older than `watermark_horizon`. A revoked
/// family is its access tokens' revocation mark too: it is kept as long as a
/// watermark. Bounded, so a sweep never holds the store for long.
pub(crate) fn purge(store: &Store, before: i64, now: i64, own_horizon: i64, limit: i64) -> Result<u64, StoreError> {
    store.write(|tx| {
        // Another process may accept longer-lived tokens: keep watermarks for the
        // longest lifetime any process sharing the store has recorded.
        let stored = tx
            .query(
                "SELECT value FROM jwtauth_settings WHERE name = 'watermark_horizon'",
                &[],
            )?
            .first()
            .map(|r| r.i64(0))
            .transpose()?
            .unwrap_or(0);
        let watermark_horizon = now.saturating_sub(own_horizon.max(stored));
        let ids = tx.query(
            "SELECT id FROM jwtauth_families WHERE (idle_expires_at < ?1 OR revoked_at < ?1)
             AND (revoked_at IS NULL OR revoked_at < ?3) LIMIT ?2",
            &[Val::I64(before), Val::I64(limit), Val::I64(watermark_horizon)],
        )?;
        for row in &ids {
            let id = row.text(0)?;
            tx.exec(
                "DELETE FROM jwtauth_refresh_tokens WHERE family_id = ?1",
                &[id.as_str().into()],
            )?;
            tx.exec("DELETE FROM jwtauth_families WHERE id = ?1", &[id.into()])?;
        }
        tx.exec(
            "DELETE FROM jwtauth_revocations WHERE revoked_before < ?1",
            &[Val::I64(watermark_horizon)],
        )?;
        Ok(ids.len() as u64)
    })
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[test]
    fn the_family_throttle_is_spent_once_however_often_the_store_work_runs() {
        let spent = Cell::new(0);
        let allowed = |_: &str| {
            spent.set(spent.get() + 1);
            if spent.get() == 1 { Ok(()) } else { Err(7) }
        };
        let mut limit = SpendOnce::new(&allowed);
        // A retried connection or a lost compare-and-set runs the step again: it
        // reads the first verdict, and the limiter is asked once.
        for _ in 0..ATTEMPTS {
            assert_eq!(limit.spend("family"), Ok(()));
        }
        assert_eq!(spent.get(), 1);

        let refused = |_: &str| Err(3);
        let mut limit = SpendOnce::new(&refused);
        assert_eq!(limit.spend("family"), Err(3));
        assert_eq!(limit.spend("family"), Err(3));
    }

    /// A fresh schema on the test PostgreSQL server (`JWTAUTH_TEST_PG_URL`), opened
    /// with a user `ann`; None when the server is unreachable, unless
    /// `JWTAUTH_REQUIRE_PG=1` asks for it.
    #[cfg(feature = "postgres")]
    fn postgres_with_user() -> Option<(crate::JwtAuth, String, postgres::Client)> {
        let base =
            std::env::var("JWTAUTH_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let mut admin = match postgres::Client::connect(&base, postgres::NoTls) {
            Ok(c) => c,
            Err(e) if std::env::var("JWTAUTH_REQUIRE_PG").is_ok_and(|v| v == "1") => {
                panic!("PostgreSQL at {base} is required but unreachable: {e}")
            }
            Err(_) => return None,
        };
        let schema = format!(
            "jt_rotate_{}",
            crate::random::b64_id::<6>()
                .ok()?
                .to_lowercase()
                .replace(['-', '_'], "x")
        );
        admin.batch_execute(&format!("CREATE SCHEMA {schema}")).ok()?;
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
        let config = crate::Config::from_toml(&format!(
            "allow_unsealed_keys = true\nrefresh_idle_ttl = \"1d\"\n[store]\nurl = \"{url}\"\npool_size = 2\n"
        ))
        .ok()?;
        let auth = crate::JwtAuth::open(config).ok()?;
        let cheap = crate::users::HashCost {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        };
        auth.users()
            .add_with_cost("ann", "ann's long password", &[], cheap)
            .ok()?;
        Some((auth, schema, admin))
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn the_one_statement_rotation_rotates_only_what_the_general_rules_would() {
        let Some((auth, schema, mut admin)) = postgres_with_user() else {
            return;
        };
        let store = auth.store();
        let life = Lifetimes {
            idle: 86_400,
            max: 7 * 86_400,
            grace: 0,
        };
        let pair = auth
            .sessions()
            .start_for_user("ann", &[], &crate::audit::RequestInfo::default())
            .unwrap()
            .unwrap();
        let family = pair.family_id.clone();
        let now = crate::clock::Clock::now(&crate::clock::SystemClock);
        let generation = |admin: &mut postgres::Client| -> i64 {
            admin
                .query_one(
                    &format!("SELECT generation FROM {schema}.jwtauth_families WHERE id = $1"),
                    &[&family],
                )
                .unwrap()
                .get(0)
        };
        let run = |presented: &str, family: &str, now: i64| {
            let next = RefreshToken::generate().unwrap();
            let outcome = store
                .each_statement(|tx| rotate_known(tx, &hash(presented), family, &next, now, life))
                .unwrap();
            (outcome, next)
        };
        let first = pair.refresh_token.expose().to_owned();

        // The family's current token rotates: the family moves on, the next token is stored.
        let (outcome, second) = run(&first, &family, now);
        let Some(Outcome::Rotated {
            subject, expires_at, ..
        }) = outcome
        else {
            panic!("a current token of an enabled user's live family did not rotate");
        };
        assert_eq!((subject.as_str(), expires_at), ("ann", now + 86_400));
        assert_eq!(generation(&mut admin), 1);
        let stored: i64 = admin
            .query_one(
                &format!("SELECT count(*) FROM {schema}.jwtauth_refresh_tokens WHERE hash = $1 AND generation = 1"),
                &[&second.hash()],
            )
            .unwrap()
            .get(0);
        assert_eq!(stored, 1, "the next token was not stored");

        // Nothing else rotates here, and nothing is written: a spent token (reuse or
        // grace is the general path's to judge), another family's id, an expired
        // family, a disabled user, a revoked family.
        let second = second.expose().to_owned();
        assert!(run(&first, &family, now).0.is_none(), "a spent token rotated");
        assert!(
            run(&second, "another-family", now).0.is_none(),
            "the wrong family rotated"
        );
        assert!(
            run(&second, &family, now + 86_400).0.is_none(),
            "an idle-expired family rotated"
        );
        admin
            .execute(
                &format!("UPDATE {schema}.jwtauth_users SET disabled = 1 WHERE name = 'ann'"),
                &[],
            )
            .unwrap();
        assert!(
            run(&second, &family, now).0.is_none(),
            "a disabled user's family rotated"
        );
        admin
            .execute(
                &format!("UPDATE {schema}.jwtauth_users SET disabled = 0 WHERE name = 'ann'"),
                &[],
            )
            .unwrap();
        admin
            .execute(
                &format!("UPDATE {schema}.jwtauth_families SET revoked_at = 1 WHERE id = $1"),
                &[&family],
            )
            .unwrap();
        assert!(run(&second, &family, now).0.is_none(), "a revoked family rotated");
        assert_eq!(generation(&mut admin), 1, "a refused rotation moved the family");
        admin
            .execute(
                &format!("UPDATE {schema}.jwtauth_families SET revoked_at = NULL WHERE id = $1"),
                &[&family],
            )
            .unwrap();
        assert!(matches!(run(&second, &family, now).0, Some(Outcome::Rotated { .. })));
        assert_eq!(generation(&mut admin), 2);
        drop(auth);
        let _ = admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"));
    }
}
