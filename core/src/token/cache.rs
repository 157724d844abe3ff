//! Tokens already verified, so that a client presenting the same access token on
//! every request pays for its signature once (an ES256 or RS256 verification costs
//! tens of microseconds; a lookup, one SHA-256 of the token).
//!
//! Only tokens that passed every check are remembered, keyed by the SHA-256 of the
//! whole token. A remembered token is served again only while
//! - the key that verified it is still in the ring, the same key object: a reload,
//!   a rotation or a retirement builds new key objects, and every remembered token
//!   is then verified afresh;
//! - its `exp`, `nbf` and `iat` still hold at the current time (they are checked
//!   again on every use).
//!
//! Everything else a token is checked for (issuer, audience, algorithm, types,
//! sizes) cannot change while the same configuration is in use. Revocation is
//! checked by the caller on every use, remembered or not. A failed token is never
//! remembered, so every failure is verified and logged in full.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_lc_rs::digest;

use super::validate::check_times;
use super::{Claims, Rules};
use crate::keys::{Key, KeyRing};

struct Verified {
    key: Arc<Key>,
    claims: Claims,
}

/// A bounded set of verified tokens (S3-FIFO eviction, sharded locks).
pub(crate) struct VerifiedTokens {
    cache: quick_cache::sync::Cache<[u8; 32], Arc<Verified>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// How the verified-token cache has done since start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    /// Tokens served from the cache (signature not checked again).
    pub hits: u64,
    /// Tokens verified in full (new, expired from the cache, or their key changed).
    pub misses: u64,
    /// Tokens remembered now.
    pub entries: u64,
}

fn fingerprint(token: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, token);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

impl VerifiedTokens {
    /// Remembers up to `capacity` tokens.
    pub(crate) fn new(capacity: usize) -> VerifiedTokens {
        VerifiedTokens {
            cache: quick_cache::sync::Cache::new(capacity),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Hits, misses and size so far.
    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            entries: self.cache.len() as u64,
        }
    }

    /// The claims of `token` if it was verified before and still holds under `ring`
    /// at `now`; `None` means: verify it in full.
    pub(crate) fn get(&self, token: &[u8], ring: &KeyRing, rules: &Rules, now: i64) -> Option<Claims> {
        let found = self.lookup(token, ring, rules, now);
        let counter = if found.is_some() { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    fn lookup(&self, token: &[u8], ring: &KeyRing, rules: &Rules, now: i64) -> Option<Claims> {
        // Never hash more than a token may be: an oversized one is refused by the
        // size check before anything else reads it.
        if token.len() > rules.max_size {
            return None;
        }
        let hit = self.cache.get(&fingerprint(token))?;
        // One cache serves our tokens and trusted issuers': a hit counts only
        // under the rules of the issuer that verified it.
        if hit.claims.issuer != rules.issuer {
            return None;
        }
        let key = ring.get(hit.claims.kid.as_str())?;
        if !Arc::ptr_eq(key, &hit.key) {
            return None;
        }
        let c = &hit.claims;
        check_times(rules, now, c.expires_at, c.not_before, c.issued_at).ok()?;
        Some(hit.claims.clone())
    }

    /// Remembers a token that `ring` has just verified into `claims`.
    pub(crate) fn insert(&self, token: &[u8], ring: &KeyRing, claims: &Claims) {
        if let Some(key) = ring.get(claims.kid.as_str()) {
            self.cache.insert(
                fingerprint(token),
                Arc::new(Verified {
                    key: key.clone(),
                    claims: claims.clone(),
                }),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::keys::{Algorithm, KeyState};
    use crate::token::{issue, validate};

    const NOW: i64 = 1_800_000_000;

    fn rules() -> Rules {
        Rules {
            issuer: "https://issuer".into(),
            audience: vec!["api".into()],
            leeway: 30,
            max_size: 8192,
            roles_claim: "roles".into(),
            max_lifetime: 86_400,
            claims_profile: Default::default(),
            max_token_age: None,
        }
    }

    /// A ring with one ES256 key, a token it signed (valid 15 minutes) and its claims.
    fn setup() -> (KeyRing, String, Claims) {
        let ring = KeyRing::new(vec![Key::generate(Algorithm::ES256, NOW).unwrap()]).unwrap();
        let token = issue(
            ring.active().unwrap(),
            &rules(),
            NOW,
            900,
            "alice",
            &["User"],
            &Default::default(),
        )
        .unwrap()
        .token;
        let claims = validate(&ring, &rules(), NOW, token.as_bytes()).unwrap();
        (ring, token, claims)
    }

    #[test]
    fn a_verified_token_is_served_again_with_the_same_claims() {
        let (ring, token, claims) = setup();
        let v = VerifiedTokens::new(16);
        assert!(
            v.get(token.as_bytes(), &ring, &rules(), NOW).is_none(),
            "nothing remembered yet"
        );
        v.insert(token.as_bytes(), &ring, &claims);
        let again = v.get(token.as_bytes(), &ring, &rules(), NOW + 60).unwrap();
        assert_eq!(again.subject, "alice");
        assert_eq!(again.kid, claims.kid);
        // Any other bytes are another token, however close.
        let mut other = token.clone().into_bytes();
        let last = other.len() - 1;
        other[last] = if other[last] == b'A' { b'B' } else { b'A' };
        assert!(v.get(&other, &ring, &rules(), NOW).is_none());
    }

    #[test]
    fn an_oversized_token_is_not_even_hashed() {
        let (ring, token, claims) = setup();
        let v = VerifiedTokens::new(16);
        v.insert(token.as_bytes(), &ring, &claims);
        let small = Rules {
            max_size: token.len() - 1,
            ..rules()
        };
        assert!(v.get(token.as_bytes(), &ring, &small, NOW).is_none());
    }

    #[test]
    fn times_are_checked_again_on_every_use() {
        let (ring, token, claims) = setup();
        let v = VerifiedTokens::new(16);
        v.insert(token.as_bytes(), &ring, &claims);
        assert!(
            v.get(token.as_bytes(), &ring, &rules(), NOW + 900 + 29).is_some(),
            "within the leeway"
        );
        assert!(
            v.get(token.as_bytes(), &ring, &rules(), NOW + 900 + 30).is_none(),
            "expired"
        );
        assert!(
            v.get(token.as_bytes(), &ring, &rules(), NOW - 31).is_none(),
            "issued in the future"
        );
    }

    #[test]
    fn a_new_ring_means_verifying_afresh() {
        let (ring, token, claims) = setup();
        let v = VerifiedTokens::new(16);
        v.insert(token.as_bytes(), &ring, &claims);
        // The same key, reloaded: a new key object.
        let reloaded = KeyRing::new(vec![ring.active().unwrap().with_state(KeyState::Active).unwrap()]).unwrap();
        assert!(v.get(token.as_bytes(), &reloaded, &rules(), NOW).is_none());
        // Retired: gone from the usable keys.
        let retired = KeyRing::new(vec![ring.active().unwrap().with_state(KeyState::Retired).unwrap()]).unwrap();
        assert!(v.get(token.as_bytes(), &retired, &rules(), NOW).is_none());
        assert!(
            v.get(token.as_bytes(), &ring, &rules(), NOW).is_some(),
            "the old ring still knows it"
        );
    }

    #[test]
    fn memory_is_bounded() {
        let (ring, _, _) = setup();
        let v = VerifiedTokens::new(8);
        let key = ring.active().unwrap();
        for i in 0..100 {
            let t = issue(key, &rules(), NOW, 900, &format!("user{i}"), &[], &Default::default()).unwrap();
            let claims = validate(&ring, &rules(), NOW, t.token.as_bytes()).unwrap();
            v.insert(t.token.as_bytes(), &ring, &claims);
        }
        assert!(v.cache.len() <= 8, "{}", v.cache.len());
    }
}
