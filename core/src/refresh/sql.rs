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

/// Whether `subject` may still be issued tokens by a family: not a disabled user,
/// and, for a password user's session (`user`), a user that still exists. Read
/// without a lock: a disable that commits after this revokes the family and sets
/// the watermark, so what this rotation issues dies with it.
fn subject_allowed(tx: &mut dyn Tx, subject: &str, user: bool) -> Result<bool, StoreError> {
    let row = tx.query("SELECT disabled FROM jwtauth_users WHERE name = ?1", &[subject.into()])?;
    Ok(match row.first() {
        Some(r) => r.i64(0)? == 0,
        None => !user,
    })
}

/// Spends `presented` and returns a new token, atomically: of two concurrent calls
/// with one token, in threads or processes, exactly one rotates.
pub(crate) fn rotate(
    store: &Store,
    presented: &str,
    now: i64,
    life: Lifetimes,
    family_allowed: &dyn Fn(&str) -> Result<(), u64>,
) -> Result<Outcome, SessionError> {
    let next = RefreshToken::generate()?;
    let presented_hash = hash(presented);
    store
        .write(|tx| {
            // One round trip: the token's generation and its family, the family row locked.
            let sql = format!(
                "SELECT f.subject, f.claims, f.expires_at, f.idle_expires_at, f.generation, f.grace_used, f.revoked_at,
                    f.last_used_at, f.id, t.generation
             FROM jwtauth_refresh_tokens t JOIN jwtauth_families f ON f.id = t.family_id
             WHERE t.hash = ?1{}",
                tx.for_update()
            );
            let Some(fam) = tx.query(&sql, &[presented_hash.as_str().into()])?.into_iter().next() else {
                return Ok(Outcome::Invalid);
            };
            let (family_id, token_gen) = (fam.text(8)?, fam.i64(9)?);
            let subject = fam.text(0)?;
            let (expires_at, idle_expires_at, generation) = (fam.i64(2)?, fam.i64(3)?, fam.i64(4)?);
            let (grace_used, revoked_at, last_used_at) = (fam.i64(5)? != 0, fam.opt_i64(6)?, fam.i64(7)?);
            let claims = fam.text(1)?;
            let user = SessionClaims::from_json(&claims)?.user;
            let family = FamilyState {
                expires_at,
                idle_expires_at,
                generation,
                grace_used,
                revoked: revoked_at.is_some(),
                last_used_at,
                subject_allowed: revoked_at.is_some() || subject_allowed(tx, &subject, user)?,
            };
            let in_grace = match decide(&family, token_gen, now, life.grace) {
                Decision::Revoked => return Ok(Outcome::Revoked { subject }),
                Decision::SubjectRefused => {
                    tx.exec(
                        "UPDATE jwtauth_families SET revoked_at = ?1, revoked_reason = 'disabled' WHERE id = ?2",
                        &[Val::I64(now), family_id.as_str().into()],
                    )?;
                    return Ok(Outcome::SubjectRefused { subject });
                }
                Decision::Expired => return Ok(Outcome::Expired { subject }),
                Decision::Reuse => {
                    tx.exec(
                        "UPDATE jwtauth_families SET revoked_at = ?1, revoked_reason = 'reuse' WHERE id = ?2",
                        &[Val::I64(now), family_id.as_str().into()],
                    )?;
                    return Ok(Outcome::Reused { subject, family_id });
                }
                Decision::Rotate { in_grace } => in_grace,
            };
            // Reuse is always detected; only a rotation is throttled.
            if let Err(retry_after) = family_allowed(&family_id) {
                return Ok(Outcome::Limited { subject, retry_after });
            }
            let new_gen = generation + 1;
            let new_idle = now.saturating_add(life.idle).min(expires_at);
            let changed = tx.exec(
                "UPDATE jwtauth_families SET generation = ?1, last_used_at = ?2, idle_expires_at = ?3, grace_used = ?4
             WHERE id = ?5 AND generation = ?6 AND revoked_at IS NULL",
                &[
                    Val::I64(new_gen),
                    Val::I64(now),
                    Val::I64(new_idle),
                    Val::I64(i64::from(in_grace)),
                    family_id.as_str().into(),
                    Val::I64(generation),
                ],
            )?;
            if changed != 1 {
                // The row lock makes this unreachable; fail closed if it ever is not.
                return Err(StoreError::Data("concurrent rotation detected".into()));
            }
            tx.exec(
                "INSERT INTO jwtauth_refresh_tokens (hash, family_id, generation, issued_at) VALUES (?1, ?2, ?3, ?4)",
                &[
                    next.hash().into(),
                    family_id.as_str().into(),
                    Val::I64(new_gen),
                    Val::I64(now),
                ],
            )?;
            if new_gen % PRUNE_EVERY == 0 {
                tx.exec(
                    "DELETE FROM jwtauth_refresh_tokens WHERE family_id = ?1 AND generation < ?2",
                    &[family_id.as_str().into(), Val::I64(new_gen - KEEP_SPENT)],
                )?;
            }
            Ok(Outcome::Rotated {
                subject,
                claims: claims.clone(),
                token: next.clone(),
                expires_at: new_idle,
                family_id,
            })
        })
        .map_err(SessionError::from)
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
