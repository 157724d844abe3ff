//! Tokens already verified, so that a client presenting the same access token on
//! every request pays for its signature once (an ES256 or RS256 verification costs
//! tens of microseconds; a lookup, one fast hash of the token's signing input).
//!
//! Only tokens that passed every check are remembered, keyed by the signing input
//! itself (header and payload, found by a randomly seeded fast hash and then compared
//! byte for byte, so no two inputs can share an entry) and holding the signature as
//! presented. A digest as the key would cost as much as the HMAC an HS256 token is
//! checked with. A token is served again only when its signature is that one, byte for byte
//! (compared in constant time), or, under an ECDSA key, its other spelling
//! (r, n − s), which verifies just as well: the two spellings of one ES* token are
//! one entry, never two. Only then, and only while
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

use super::validate::check_times;
use super::{Claims, Rules};
use crate::encoding::b64_decode;
use crate::keys::{Key, KeyRing};
use crate::low_s::Curve;

struct Verified {
    key: Arc<Key>,
    /// Shared with every caller it is served to: a hit copies nothing.
    claims: Arc<Claims>,
    /// The base64url signature that was verified.
    signature: Box<[u8]>,
}

/// A bounded set of verified tokens (S3-FIFO eviction, sharded locks).
pub(crate) struct VerifiedTokens {
    /// Keyed by the signing input: only verified tokens are ever inserted, so no
    /// caller can choose what the hash table holds.
    cache: quick_cache::sync::Cache<Box<[u8]>, Arc<Verified>>,
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

/// The signing input and the base64url signature of a compact JWS (split at its
/// last dot); `None` without a dot.
fn split(token: &[u8]) -> Option<(&[u8], &[u8])> {
    let dot = token.iter().rposition(|b| *b == b'.')?;
    Some((&token[..dot], &token[dot + 1..]))
}

/// Whether `presented` is the signature `hit` was verified with: the same bytes,
/// or, under an ECDSA key, the other spelling of the same signature.
fn same_signature(hit: &Verified, presented: &[u8]) -> bool {
    if aws_lc_rs::constant_time::verify_slices_are_equal(&hit.signature, presented).is_ok() {
        return true;
    }
    let Some(curve) = Curve::of_alg(hit.key.algorithm().as_str()) else {
        return false;
    };
    match (b64_decode(&hit.signature), b64_decode(presented)) {
        (Some(ours), Some(theirs)) => crate::low_s::same_signature(curve, &ours, &theirs),
        _ => false,
    }
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
    pub(crate) fn get(&self, token: &[u8], ring: &KeyRing, rules: &Rules, now: i64) -> Option<Arc<Claims>> {
        let found = self.lookup(token, ring, rules, now);
        let counter = if found.is_some() { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    fn lookup(&self, token: &[u8], ring: &KeyRing, rules: &Rules, now: i64) -> Option<Arc<Claims>> {
        // Never hash more than a token may be: an oversized one is refused by the
        // size check before anything else reads it.
        if token.len() > rules.max_size {
            return None;
        }
        let (signing_input, signature) = split(token)?;
        let hit = self.cache.get(signing_input)?;
        if !same_signature(&hit, signature) {
            return None;
        }
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
        Some(Arc::clone(&hit.claims))
    }

    /// Remembers a token that `ring` has just verified into `claims`.
    pub(crate) fn insert(&self, token: &[u8], ring: &KeyRing, claims: &Arc<Claims>) {
        if let (Some(key), Some((signing_input, signature))) = (ring.get(claims.kid.as_str()), split(token)) {
            self.cache.insert(
                signing_input.into(),
                Arc::new(Verified {
                    key: key.clone(),
                    claims: Arc::clone(claims),
                    signature: signature.into(),
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
    fn setup() -> (KeyRing, String, Arc<Claims>) {
        setup_with(Algorithm::ES256)
    }

    fn setup_with(alg: Algorithm) -> (KeyRing, String, Arc<Claims>) {
        let ring = KeyRing::new(vec![Key::generate(alg, NOW).unwrap()]).unwrap();
        let token = issue(
            ring.active().unwrap(),
            &rules(),
            NOW,
            900,
            "alice",
            &["User"],
            &Default::default(),
            None,
        )
        .unwrap()
        .token;
        let claims = Arc::new(validate(&ring, &rules(), NOW, token.as_bytes()).unwrap());
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

    /// The token with its signature read as a P-256 one and spelt the other way,
    /// (r, n − s), made with the curve crate.
    fn twin(token: &str) -> String {
        let (input, sig64) = token.rsplit_once('.').unwrap();
        let other = crate::low_s::p256_twin(&b64_decode(sig64.as_bytes()).unwrap());
        format!("{input}.{}", crate::encoding::b64(&other))
    }

    #[test]
    fn both_spellings_of_an_ecdsa_signature_are_one_entry() {
        let (ring, token, claims) = setup();
        let other = twin(&token);
        assert_ne!(other, token);
        let v = VerifiedTokens::new(16);
        v.insert(token.as_bytes(), &ring, &claims);
        assert_eq!(v.get(other.as_bytes(), &ring, &rules(), NOW).unwrap().subject, "alice");
        v.insert(other.as_bytes(), &ring, &claims);
        assert_eq!(v.stats().entries, 1, "the twin is the same entry");
        // Any other signature over the same header and claims is not the token.
        let (input, _) = token.rsplit_once('.').unwrap();
        for sig in [&[7u8; 64][..], &[0u8; 64], &[7u8; 63], b""] {
            let forged = format!("{input}.{}", crate::encoding::b64(sig));
            assert!(v.get(forged.as_bytes(), &ring, &rules(), NOW).is_none(), "{sig:?}");
        }
        assert!(v.get(input.as_bytes(), &ring, &rules(), NOW).is_none(), "no signature");
    }

    #[test]
    fn under_another_key_type_only_the_very_signature_is_the_token() {
        // An HS512 MAC has the length of a P-256 signature: its "twin" is a forgery.
        let (ring, token, claims) = setup_with(Algorithm::HS512);
        let v = VerifiedTokens::new(16);
        v.insert(token.as_bytes(), &ring, &claims);
        assert!(v.get(token.as_bytes(), &ring, &rules(), NOW).is_some());
        assert!(v.get(twin(&token).as_bytes(), &ring, &rules(), NOW).is_none());
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
    fn another_signing_input_under_the_same_signature_is_another_token() {
        let (ring, token, claims) = setup_with(Algorithm::HS256);
        let v = VerifiedTokens::new(16);
        v.insert(token.as_bytes(), &ring, &claims);
        // The same signature behind a header and payload one character apart.
        let first_dot = token.find('.').unwrap();
        let mut forged = token.clone().into_bytes();
        forged[first_dot + 1] = if forged[first_dot + 1] == b'A' { b'B' } else { b'A' };
        assert!(v.get(&forged, &ring, &rules(), NOW).is_none());
        assert!(v.get(token.as_bytes(), &ring, &rules(), NOW).is_some());
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
            let t = issue(
                key,
                &rules(),
                NOW,
                900,
                &format!("user{i}"),
                &[],
                &Default::default(),
                None,
            )
            .unwrap();
            let claims = Arc::new(validate(&ring, &rules(), NOW, t.token.as_bytes()).unwrap());
            v.insert(t.token.as_bytes(), &ring, &claims);
        }
        assert!(v.cache.len() <= 8, "{}", v.cache.len());
    }
}
