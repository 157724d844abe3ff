//! Issuing access tokens: the [`Issuer`] signs with the ring's active key.

use std::sync::Arc;

use arc_swap::ArcSwap;
use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::{Map, Value};

use super::{IssueError, Issued, REGISTERED_CLAIMS, Rules};
use crate::clock::Clock;
use crate::encoding::b64_into;
use crate::error::clip;
use crate::keys::{Key, KeyError, KeyRing};

/// Signs access tokens with the active key of the ring, for `access_ttl`.
/// Cheap to clone; safe to share between threads.
#[derive(Clone)]
pub struct Issuer {
    ring: Arc<ArcSwap<KeyRing>>,
    rules: Arc<Rules>,
    clock: Arc<dyn Clock>,
    ttl: i64,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer")
            .field("issuer", &self.rules.issuer)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl Issuer {
    pub(crate) fn new(ring: Arc<ArcSwap<KeyRing>>, rules: Arc<Rules>, clock: Arc<dyn Clock>, ttl: i64) -> Issuer {
        Issuer {
            ring,
            rules,
            clock,
            ttl,
        }
    }

    /// Issues an access token for `subject` with `roles` and extra claims, signed
    /// by the active key, valid for `access_ttl`.
    pub fn issue(&self, subject: &str, roles: &[&str], extra: &Map<String, Value>) -> Result<Issued, IssueError> {
        let ring = self.ring.load();
        let now = self.clock.now();
        let key = ring.signer(now).ok_or(KeyError::NoActiveKey)?;
        issue(key, &self.rules, now, self.ttl, subject, roles, extra, None)
    }

    /// Like [`Issuer::issue`], for the session (refresh-token family) `session`:
    /// the token carries it as `sid`, so revoking the session revokes the token.
    pub(crate) fn issue_for_session(
        &self,
        session: &str,
        subject: &str,
        roles: &[&str],
        extra: &Map<String, Value>,
    ) -> Result<Issued, IssueError> {
        let ring = self.ring.load();
        let now = self.clock.now();
        let key = ring.signer(now).ok_or(KeyError::NoActiveKey)?;
        issue(key, &self.rules, now, self.ttl, subject, roles, extra, Some(session))
    }

    /// Seconds an issued access token lives (`access_ttl`).
    pub fn ttl(&self) -> i64 {
        self.ttl
    }
}

/// Issues a compact JWS signed by `key`, of `session` (as `sid`) if given.
#[allow(clippy::too_many_arguments)] // one private function behind both issuing calls
pub(crate) fn issue(
    key: &Key,
    rules: &Rules,
    now: i64,
    ttl: i64,
    subject: &str,
    roles: &[&str],
    extra: &Map<String, Value>,
    session: Option<&str>,
) -> Result<Issued, IssueError> {
    if subject.is_empty() {
        return Err(IssueError::EmptySubject);
    }
    // What the verifier and the failure log would have to clip or neutralise is
    // refused here, where the caller can still fix it.
    let hidden = |t: &str| {
        t.chars()
            .any(|c| c.is_control() || crate::error::is_invisible_or_reordering(c))
    };
    if subject.len() > super::MAX_SUBJECT_BYTES || hidden(subject) {
        return Err(IssueError::InvalidSubject);
    }
    if let Some(role) = roles.iter().find(|r| r.is_empty() || r.len() > 256 || hidden(r)) {
        return Err(IssueError::InvalidRole(clip(role)));
    }
    if let Some(name) = extra
        .keys()
        .find(|k| REGISTERED_CLAIMS.contains(&k.as_str()) || **k == rules.roles_claim)
    {
        return Err(IssueError::ReservedClaim(clip(name)));
    }
    let jwt_id = crate::random::b64_id::<16>()?;
    let expires_at = now.saturating_add(ttl);
    let payload = serde_json::to_vec(&OutClaims {
        rules,
        subject,
        now,
        expires_at,
        jwt_id: &jwt_id,
        session,
        roles,
        extra,
    })
    .map_err(|_| KeyError::Crypto("claims serialization failed"))?;

    let header = key.header_b64();
    let mut token = String::with_capacity(header.len() + payload.len() * 4 / 3 + 400);
    token.push_str(header);
    token.push('.');
    b64_into(&payload, &mut token);
    let signing_input_len = token.len();
    let mut sig = String::with_capacity(350);
    key.sign_into(&token.as_bytes()[..signing_input_len], &mut sig)?;
    token.push('.');
    token.push_str(&sig);
    if token.len() > rules.max_size {
        return Err(IssueError::TooLarge {
            size: token.len(),
            max: rules.max_size,
        });
    }
    Ok(Issued {
        token,
        jwt_id,
        expires_at,
        kid: key.kid().clone(),
    })
}

struct OutClaims<'a> {
    rules: &'a Rules,
    subject: &'a str,
    now: i64,
    expires_at: i64,
    jwt_id: &'a str,
    session: Option<&'a str>,
    roles: &'a [&'a str],
    extra: &'a Map<String, Value>,
}

impl Serialize for OutClaims<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(8 + usize::from(self.session.is_some()) + self.extra.len()))?;
        m.serialize_entry("iss", &self.rules.issuer)?;
        m.serialize_entry("sub", self.subject)?;
        match self.rules.audience.as_slice() {
            [one] => m.serialize_entry("aud", one)?,
            many => m.serialize_entry("aud", many)?,
        }
        m.serialize_entry("iat", &self.now)?;
        m.serialize_entry("nbf", &self.now)?;
        m.serialize_entry("exp", &self.expires_at)?;
        m.serialize_entry("jti", self.jwt_id)?;
        if let Some(sid) = self.session {
            m.serialize_entry(super::SESSION_CLAIM, sid)?;
        }
        m.serialize_entry(&self.rules.roles_claim, self.roles)?;
        for (k, v) in self.extra {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}
