//! Refresh tokens (RFC 9700 §4.14): opaque, 256 random bits, stored only as their
//! SHA-256. The tokens of one login form a family whose rotation state is a
//! generation counter that only moves forward; presenting a spent token revokes
//! the whole family.

use std::collections::HashMap;
use std::fmt;

use aws_lc_rs::digest;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::audit::{self, RequestInfo};
use crate::error::{AuthError, Reason};
use crate::store::{Row, Store, StoreError, Val};
use crate::{Error, JwtAuth, TokenPair, secs};

/// An opaque refresh token. Its `Debug` shows a fingerprint, never the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken(Zeroizing<String>);

impl RefreshToken {
    fn generate() -> Result<RefreshToken, StoreError> {
        let mut raw = Zeroizing::new([0u8; 32]);
        aws_lc_rs::rand::fill(&mut *raw).map_err(|_| StoreError::Data("system randomness unavailable".into()))?;
        Ok(RefreshToken(Zeroizing::new(crate::encoding::b64(&*raw))))
    }

    /// Wraps a token received from a client.
    pub fn new(token: impl Into<String>) -> RefreshToken {
        RefreshToken(Zeroizing::new(token.into()))
    }

    /// The token, to hand to the client.
    pub fn expose(&self) -> &str {
        &self.0
    }

    fn hash(&self) -> String {
        hash(self.expose())
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RefreshToken({})", crate::audit::fingerprint(self.0.as_bytes()))
    }
}

fn hash(token: &str) -> String {
    digest::digest(&digest::SHA256, token.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A refresh-token family as listed for administrators (no token material).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// Family id.
    pub family_id: String,
    /// Whose session.
    pub subject: String,
    /// Login time.
    pub started_at: i64,
    /// Last refresh (or the login).
    pub last_used_at: i64,
    /// When the current refresh token expires (idle or absolute, whichever is first).
    pub expires_at: i64,
    /// Absolute end of the family.
    pub max_expires_at: i64,
    /// How many rotations so far.
    pub generation: i64,
}

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
    /// A spent token came back: the family is now revoked.
    Reused { subject: String, family_id: String },
}

/// Lifetimes of refresh tokens, in seconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lifetimes {
    pub idle: i64,
    pub max: i64,
    pub grace: i64,
}

pub(crate) fn start(
    store: &Store,
    subject: &str,
    claims: &str,
    now: i64,
    life: Lifetimes,
) -> Result<Started, StoreError> {
    let token = RefreshToken::generate()?;
    let mut id = [0u8; 16];
    aws_lc_rs::rand::fill(&mut id).map_err(|_| StoreError::Data("system randomness unavailable".into()))?;
    let family_id = crate::encoding::b64(&id);
    let max = now.saturating_add(life.max);
    let idle = now.saturating_add(life.idle).min(max);
    store.write(|tx| {
        tx.exec(
            "INSERT INTO jwtauth_families (id, subject, claims, created_at, expires_at, last_used_at, idle_expires_at, generation, grace_used)
             VALUES (?1, ?2, ?3, ?4, ?5, ?4, ?6, 0, 0)",
            &[
                family_id.as_str().into(),
                subject.into(),
                claims.into(),
                Val::I64(now),
                Val::I64(max),
                Val::I64(idle),
            ],
        )?;
        tx.exec(
            "INSERT INTO jwtauth_refresh_tokens (hash, family_id, generation, issued_at) VALUES (?1, ?2, 0, ?3)",
            &[token.hash().into(), family_id.as_str().into(), Val::I64(now)],
        )?;
        Ok(())
    })?;
    Ok(Started {
        family_id,
        token,
        expires_at: idle,
    })
}

/// Spends `presented` and returns a new token, atomically: of two concurrent calls
/// with one token, in threads or processes, exactly one rotates.
pub(crate) fn rotate(store: &Store, presented: &str, now: i64, life: Lifetimes) -> Result<Outcome, StoreError> {
    let next = RefreshToken::generate()?;
    let presented_hash = hash(presented);
    store.write(|tx| {
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
        if revoked_at.is_some() {
            return Ok(Outcome::Revoked { subject });
        }
        if now >= expires_at || now >= idle_expires_at {
            return Ok(Outcome::Expired { subject });
        }
        let in_grace = life.grace > 0
            && token_gen + 1 == generation
            && !grace_used
            && now.saturating_sub(last_used_at) <= life.grace;
        if token_gen != generation && !in_grace {
            tx.exec(
                "UPDATE jwtauth_families SET revoked_at = ?1, revoked_reason = 'reuse' WHERE id = ?2",
                &[Val::I64(now), family_id.as_str().into()],
            )?;
            return Ok(Outcome::Reused { subject, family_id });
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
        Ok(Outcome::Rotated {
            subject,
            claims: fam.text(1)?,
            token: next.clone(),
            expires_at: new_idle,
            family_id,
        })
    })
}

/// Revokes the family of `presented` (logout). Returns its subject, or `None` for an unknown token.
pub(crate) fn revoke(store: &Store, presented: &str, now: i64) -> Result<Option<String>, StoreError> {
    let h = hash(presented);
    store.write(|tx| {
        let rows = tx.query(
            "SELECT f.id, f.subject FROM jwtauth_refresh_tokens t JOIN jwtauth_families f ON f.id = t.family_id WHERE t.hash = ?1",
            &[h.as_str().into()],
        )?;
        let Some(row) = rows.first() else { return Ok(None) };
        tx.exec(
            "UPDATE jwtauth_families SET revoked_at = ?1, revoked_reason = 'logout' WHERE id = ?2 AND revoked_at IS NULL",
            &[Val::I64(now), row.text(0)?.into()],
        )?;
        Ok(Some(row.text(1)?))
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
/// issued at or before `now` fail with `revoked`. Returns the number of families revoked.
pub(crate) fn revoke_subject(store: &Store, subject: &str, now: i64) -> Result<u64, StoreError> {
    store.write(|tx| {
        let n = tx.exec(
            "UPDATE jwtauth_families SET revoked_at = ?1, revoked_reason = 'logout_all' WHERE subject = ?2 AND revoked_at IS NULL",
            &[Val::I64(now), subject.into()],
        )?;
        tx.exec(
            "INSERT INTO jwtauth_revocations (subject, revoked_before) VALUES (?1, ?2)
             ON CONFLICT (subject) DO UPDATE SET revoked_before = excluded.revoked_before",
            &[subject.into(), Val::I64(now)],
        )?;
        Ok(n)
    })
}

/// Watermarks newer than `since` (older ones cannot matter: those tokens expired).
pub(crate) fn watermarks(store: &Store, since: i64) -> Result<Vec<(String, i64)>, StoreError> {
    store.write(|tx| {
        tx.query(
            "SELECT subject, revoked_before FROM jwtauth_revocations WHERE revoked_before > ?1",
            &[Val::I64(since)],
        )?
        .iter()
        .map(|r| Ok((r.text(0)?, r.i64(1)?)))
        .collect()
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
    })
}

/// Live (not revoked, not expired) families, most recently used first.
pub(crate) fn list(store: &Store, subject: Option<&str>, now: i64, limit: i64) -> Result<Vec<SessionInfo>, StoreError> {
    store.write(|tx| {
        tx.query(
            "SELECT id, subject, created_at, last_used_at, idle_expires_at, expires_at, generation FROM jwtauth_families
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
/// with their tokens, and watermarks older than `watermark_horizon`. Bounded, so a
/// sweep never holds the store for long.
pub(crate) fn purge(store: &Store, before: i64, watermark_horizon: i64, limit: i64) -> Result<u64, StoreError> {
    store.write(|tx| {
        let ids = tx.query(
            "SELECT id FROM jwtauth_families WHERE idle_expires_at < ?1 OR revoked_at < ?1 LIMIT ?2",
            &[Val::I64(before), Val::I64(limit)],
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

/// Sessions: login, refresh with rotation and reuse detection, logout.
impl JwtAuth {
    fn lifetimes(&self) -> Lifetimes {
        let c = &self.inner.config;
        Lifetimes {
            idle: secs(c.refresh_idle_ttl),
            max: secs(c.refresh_max_ttl),
            grace: secs(c.refresh_reuse_grace),
        }
    }

    /// Starts a session (a login): an access token and the first refresh token of a
    /// new family. Roles and extra claims are kept with the family and carried into
    /// every refreshed access token.
    pub fn start_session(&self, subject: &str, roles: &[&str], extra: &Map<String, Value>) -> Result<TokenPair, Error> {
        let store = self.store_or_err()?;
        // Issue first: it checks the subject and extra claims before anything is stored.
        let access = self.issue(subject, roles, extra)?;
        let claims = serde_json::json!({ "roles": roles, "extra": extra }).to_string();
        let started = start(store, subject, &claims, self.now(), self.lifetimes())?;
        Ok(TokenPair {
            access,
            refresh_token: started.token,
            refresh_expires_at: started.expires_at,
            family_id: started.family_id,
        })
    }

    /// Spends a refresh token and returns a new pair (rotation). A spent token
    /// presented again revokes its whole family and fails with `refresh_reused`;
    /// every failure is recorded in the failure log.
    pub fn refresh(&self, refresh_token: &str, request: &RequestInfo<'_>) -> Result<TokenPair, Error> {
        let store = self.store_or_err()?;
        let fail = |reason: Reason, hint: String, subject: Option<&str>| -> Error {
            let e = AuthError::new(reason, hint);
            let fp = audit::fingerprint(refresh_token.as_bytes());
            audit::record(&audit::FailureEvent {
                reason,
                hint: &e.hint,
                kid: None,
                subject,
                subject_verified: subject.is_some(),
                fingerprint: Some(&fp),
                request: *request,
            });
            Error::Auth(e)
        };
        if refresh_token.is_empty() || refresh_token.len() > 512 {
            return Err(fail(
                Reason::RefreshInvalid,
                "refresh token is empty or too long".into(),
                None,
            ));
        }
        match rotate(store, refresh_token, self.now(), self.lifetimes())? {
            Outcome::Rotated {
                subject,
                claims,
                token,
                expires_at,
                family_id,
            } => {
                let stored: Value = serde_json::from_str(&claims)
                    .map_err(|e| StoreError::Data(format!("session claims are corrupt: {e}")))?;
                let roles: Vec<&str> = stored["roles"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let empty = Map::new();
                let extra = stored["extra"].as_object().unwrap_or(&empty);
                let access = self.issue(&subject, &roles, extra)?;
                Ok(TokenPair {
                    access,
                    refresh_token: token,
                    refresh_expires_at: expires_at,
                    family_id,
                })
            }
            Outcome::Invalid => Err(fail(Reason::RefreshInvalid, "unknown refresh token".into(), None)),
            Outcome::Expired { subject } => Err(fail(
                Reason::RefreshExpired,
                "the refresh token or its session expired; log in again".into(),
                Some(&subject),
            )),
            Outcome::Revoked { subject } => Err(fail(
                Reason::Revoked,
                "the session was revoked (logout or reuse); log in again".into(),
                Some(&subject),
            )),
            Outcome::Reused { subject, family_id } => Err(fail(
                Reason::RefreshReused,
                format!("a spent refresh token was presented again; session {family_id} is revoked"),
                Some(&subject),
            )),
        }
    }

    /// Logout: revokes the family of `refresh_token`. Returns whether the token was known.
    pub fn revoke(&self, refresh_token: &str) -> Result<bool, Error> {
        let store = self.store_or_err()?;
        Ok(revoke(store, refresh_token, self.now())?.is_some())
    }

    /// Revokes one session by family id (administration).
    pub fn revoke_family(&self, family_id: &str) -> Result<bool, Error> {
        Ok(revoke_family(self.store_or_err()?, family_id, self.now())?)
    }

    /// Logout everywhere: revokes every session of `subject`, and access tokens
    /// issued to it at or before this second fail with `revoked` (in this process at
    /// once, in others within `revocation_staleness`). Returns the sessions revoked.
    pub fn revoke_subject(&self, subject: &str) -> Result<u64, Error> {
        let store = self.store_or_err()?;
        let now = self.now();
        let n = revoke_subject(store, subject, now)?;
        self.inner.watermarks.rcu(|m| {
            let mut m = HashMap::clone(m);
            m.insert(subject.to_string(), now);
            m
        });
        Ok(n)
    }

    /// Live sessions, most recently used first, optionally of one subject.
    pub fn sessions(&self, subject: Option<&str>, limit: usize) -> Result<Vec<SessionInfo>, Error> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        Ok(list(self.store_or_err()?, subject, self.now(), limit)?)
    }
}
