//! The key ring: key id → (algorithm, parsed verifying key, optional signing key,
//! state). Keys are parsed once when they enter the ring, never per token; the ring
//! is immutable and swapped whole by whoever holds it (the verifier, key administration).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, ParsedPublicKey, RsaKeyPair};
use aws_lc_rs::{digest, hmac};
use serde_json::json;
use zeroize::Zeroizing;

use crate::encoding::b64;

mod algorithm;
mod secret;

pub use algorithm::Algorithm;
pub use secret::Secret;
pub(crate) use secret::{check_hs_secret, read_secret_file};

/// A key id (`kid`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Kid(String);

impl Kid {
    /// Wraps a key id.
    pub fn new(s: impl Into<String>) -> Self {
        Kid(s.into())
    }
    /// The key id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Kid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyState {
    /// Published in the JWKS and verifying, but not signing yet: it starts signing
    /// at its activation instant, so relying parties have fetched it by then.
    Next,
    /// Signs new tokens and verifies.
    Active,
    /// Verifies what it signed, until its tokens have expired.
    VerifyOnly,
    /// Gone from the JWKS; its tokens fail with `unknown_kid`.
    Retired,
}

impl KeyState {
    /// The lowercase name stored and shown (`next`, `active`, `verify_only`, `retired`).
    pub const fn as_str(self) -> &'static str {
        match self {
            KeyState::Next => "next",
            KeyState::Active => "active",
            KeyState::VerifyOnly => "verify_only",
            KeyState::Retired => "retired",
        }
    }
}

impl FromStr for KeyState {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "active" => Ok(KeyState::Active),
            "verify_only" => Ok(KeyState::VerifyOnly),
            "next" => Ok(KeyState::Next),
            "retired" => Ok(KeyState::Retired),
            other => Err(KeyError::Invalid(format!(
                "unknown key state '{}'",
                crate::error::clip(other)
            ))),
        }
    }
}

/// A key that cannot be built or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Not one of [`Algorithm::ALL`].
    #[error("unsupported algorithm '{0}'")]
    UnsupportedAlgorithm(String),
    /// The key material does not fit the algorithm or is malformed.
    #[error("invalid key: {0}")]
    Invalid(String),
    /// The ring has no active key to sign with.
    #[error("no active signing key in the key ring")]
    NoActiveKey,
    /// The crypto library failed.
    #[error("crypto operation failed: {0}")]
    Crypto(&'static str),
    /// No random bytes for a new key.
    #[error(transparent)]
    Randomness(#[from] crate::random::NoRandomness),
}

/// The secret part of a key, kept so the store can persist it (encrypted).
/// Zeroized on drop; never printed.
#[derive(Clone)]
pub enum KeyMaterial {
    /// HS secret bytes.
    Secret(Zeroizing<Vec<u8>>),
    /// A PKCS#8 v1 DER private key.
    Pkcs8(Zeroizing<Vec<u8>>),
    /// Nothing secret: a key known only by its public half (a trusted issuer's,
    /// read from its JWKS). It verifies and never signs.
    PublicOnly,
}

impl KeyMaterial {
    /// The raw bytes (secret or PKCS#8 DER).
    pub fn bytes(&self) -> &[u8] {
        match self {
            KeyMaterial::Secret(b) | KeyMaterial::Pkcs8(b) => b,
            KeyMaterial::PublicOnly => &[],
        }
    }
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyMaterial([redacted])")
    }
}

enum Verifier {
    Hmac(Box<hmac::Key>),
    Public(ParsedPublicKey),
}

enum Signer {
    Hmac(Box<hmac::Key>),
    Rsa(RsaKeyPair, &'static dyn signature::RsaEncoding),
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
    /// A published key of another issuer.
    None,
}

/// One key of the ring: pinned to one algorithm, parsed once.
pub struct Key {
    kid: Kid,
    alg: Algorithm,
    state: KeyState,
    created_at: i64,
    verifier: Verifier,
    signer: Signer,
    material: KeyMaterial,
    public_jwk: Option<serde_json::Value>,
    /// `base64url({"alg":…,"typ":"JWT","kid":…})`, computed once.
    header_b64: String,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("state", &self.state)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

fn rng_fill(buf: &mut [u8]) -> Result<(), KeyError> {
    Ok(crate::random::fill(buf)?)
}

impl Key {
    /// Generates a fresh key for `alg` (64 random bytes for HS, 2048-bit RSA,
    /// the algorithm's curve for EC and Ed25519). Its kid is the RFC 7638 thumbprint
    /// of its public JWK (for HS, derived from the secret by HMAC, revealing nothing).
    pub fn generate(alg: Algorithm, now: i64) -> Result<Key, KeyError> {
        if alg.is_hmac() {
            let mut secret = Zeroizing::new(vec![0u8; 64]);
            rng_fill(&mut secret)?;
            return Key::build(alg, KeyMaterial::Secret(secret), None, KeyState::Active, now);
        }
        let der = if let Some((ec, _, _)) = alg.ecdsa() {
            EcdsaKeyPair::generate(ec)
                .and_then(|k| k.to_pkcs8v1())
                .map_err(|_| KeyError::Crypto("EC key generation failed"))?
                .as_ref()
                .to_vec()
        } else if alg == Algorithm::EdDSA {
            Ed25519KeyPair::generate()
                .and_then(|k| k.to_pkcs8v1())
                .map_err(|_| KeyError::Crypto("Ed25519 key generation failed"))?
                .as_ref()
                .to_vec()
        } else {
            let k =
                RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Crypto("RSA key generation failed"))?;
            k.as_der()
                .map_err(|_| KeyError::Crypto("RSA key encoding failed"))?
                .as_ref()
                .to_vec()
        };
        Key::build(
            alg,
            KeyMaterial::Pkcs8(Zeroizing::new(der)),
            None,
            KeyState::Active,
            now,
        )
    }

    /// A key from a configured HS secret, used as its UTF-8 bytes (as .NET's
    /// `Encoding.UTF8.GetBytes` does), so services set up that way interoperate.
    pub fn from_secret(alg: Algorithm, secret: &Secret, now: i64) -> Result<Key, KeyError> {
        if !alg.is_hmac() {
            return Err(KeyError::Invalid(format!("{alg} does not use a shared secret")));
        }
        check_hs_secret(secret, alg)
            .map_err(|w| KeyError::Invalid(format!("configuration key `hs_secret`: {}. {}", w.problem, w.fix)))?;
        let bytes = Zeroizing::new(secret.expose().as_bytes().to_vec());
        Key::build(alg, KeyMaterial::Secret(bytes), None, KeyState::Active, now)
    }

    /// A key from a PEM `PRIVATE KEY` (PKCS#8) block, e.g. made with
    /// `openssl genpkey`. RSA keys must have at least 2048 bits.
    pub fn from_pkcs8_pem(alg: Algorithm, pem_text: &str, now: i64) -> Result<Key, KeyError> {
        let block = pem::parse(pem_text).map_err(|e| KeyError::Invalid(format!("not a PEM file: {e}")))?;
        if block.tag() != "PRIVATE KEY" {
            return Err(KeyError::Invalid(format!(
                "PEM block is '{}', expected 'PRIVATE KEY' (PKCS#8; convert with `openssl pkcs8 -topk8 -nocrypt`)",
                crate::error::clip(block.tag())
            )));
        }
        let der = Zeroizing::new(block.into_contents());
        Key::build(alg, KeyMaterial::Pkcs8(der), None, KeyState::Active, now)
    }

    /// A verifying key from its public half (a trusted issuer's JWKS member):
    /// pinned to `alg`, never signing. `jwk` is the public JWK as published
    /// (public members only).
    pub(crate) fn from_public(
        kid: Kid,
        alg: Algorithm,
        public: ParsedPublicKey,
        jwk: serde_json::Value,
        now: i64,
    ) -> Result<Key, KeyError> {
        if alg.is_hmac() {
            return Err(KeyError::Invalid(format!("{alg} keys are never published")));
        }
        if kid.0.is_empty() || kid.0.len() > 128 {
            return Err(KeyError::Invalid("kid must be 1 to 128 characters".into()));
        }
        let header = json!({ "alg": alg.as_str(), "typ": "JWT", "kid": kid.as_str() });
        Ok(Key {
            header_b64: b64(header.to_string().as_bytes()),
            kid,
            alg,
            state: KeyState::VerifyOnly,
            created_at: now,
            verifier: Verifier::Public(public),
            signer: Signer::None,
            material: KeyMaterial::PublicOnly,
            public_jwk: Some(jwk),
        })
    }

    /// Rebuilds a key from stored parts (the store's reload path).
    pub fn from_parts(
        kid: Kid,
        alg: Algorithm,
        state: KeyState,
        created_at: i64,
        material: KeyMaterial,
    ) -> Result<Key, KeyError> {
        Key::build(alg, material, Some(kid), state, created_at)
    }

    fn build(
        alg: Algorithm,
        material: KeyMaterial,
        kid: Option<Kid>,
        state: KeyState,
        created_at: i64,
    ) -> Result<Key, KeyError> {
        let (verifier, signer, public_jwk) = match (&material, alg) {
            (KeyMaterial::Secret(s), a) if a.is_hmac() => {
                let h = a.hmac_alg().ok_or(KeyError::Crypto("hmac"))?;
                if s.len() < a.min_secret_len() {
                    return Err(KeyError::Invalid(format!(
                        "{a} secret is {} bytes, needs at least {}",
                        s.len(),
                        a.min_secret_len()
                    )));
                }
                (
                    Verifier::Hmac(Box::new(hmac::Key::new(h, s))),
                    Signer::Hmac(Box::new(hmac::Key::new(h, s))),
                    None,
                )
            }
            (KeyMaterial::Pkcs8(der), a) if !a.is_hmac() => {
                let verification = a.verification().ok_or(KeyError::Crypto("verification"))?;
                let rejected = |what: &str, e: aws_lc_rs::error::KeyRejected| {
                    KeyError::Invalid(format!("not a valid {what} PKCS#8 key for {a}: {e}"))
                };
                let (signer, public_bytes, jwk) = if let Some(enc) = a.rsa_encoding() {
                    let kp = RsaKeyPair::from_pkcs8(der).map_err(|e| rejected("RSA", e))?;
                    if kp.public_modulus_len() < 256 {
                        return Err(KeyError::Invalid(format!(
                            "RSA key has {} bits; {a} needs at least 2048",
                            kp.public_modulus_len() * 8
                        )));
                    }
                    let pk = kp.public_key();
                    let jwk = json!({
                        "kty": "RSA",
                        "n": b64(pk.modulus().big_endian_without_leading_zero()),
                        "e": b64(pk.exponent().big_endian_without_leading_zero()),
                    });
                    let bytes = pk.as_ref().to_vec();
                    (Signer::Rsa(kp, enc), bytes, jwk)
                } else if let Some((ec, crv, len)) = a.ecdsa() {
                    let kp = EcdsaKeyPair::from_pkcs8(ec, der).map_err(|e| rejected("EC", e))?;
                    let point = kp.public_key().as_ref().to_vec();
                    // Uncompressed SEC1 point: 0x04 || x || y.
                    if point.len() != 1 + 2 * len {
                        return Err(KeyError::Invalid(format!("unexpected {crv} public key length")));
                    }
                    let jwk = json!({
                        "kty": "EC",
                        "crv": crv,
                        "x": b64(&point[1..1 + len]),
                        "y": b64(&point[1 + len..]),
                    });
                    (Signer::Ecdsa(kp), point, jwk)
                } else {
                    let kp = Ed25519KeyPair::from_pkcs8(der).map_err(|e| rejected("Ed25519", e))?;
                    let pk = kp.public_key().as_ref().to_vec();
                    let jwk = json!({ "kty": "OKP", "crv": "Ed25519", "x": b64(&pk) });
                    (Signer::Ed25519(kp), pk, jwk)
                };
                let parsed = ParsedPublicKey::new(verification, &public_bytes)
                    .map_err(|e| KeyError::Invalid(format!("public key rejected: {e}")))?;
                (Verifier::Public(parsed), signer, Some(jwk))
            }
            (KeyMaterial::PublicOnly, _) => {
                return Err(KeyError::Invalid(
                    "a public key alone cannot be rebuilt from stored parts".into(),
                ));
            }
            (KeyMaterial::Secret(_), a) => {
                return Err(KeyError::Invalid(format!(
                    "{a} needs a private key, not a shared secret"
                )));
            }
            (KeyMaterial::Pkcs8(_), a) => {
                return Err(KeyError::Invalid(format!(
                    "{a} needs a shared secret, not a private key"
                )));
            }
        };
        let kid = match kid {
            Some(k) => k,
            None => Kid(match (&public_jwk, &signer) {
                (Some(jwk), _) => thumbprint(jwk),
                (None, Signer::Hmac(k)) => {
                    let tag = hmac::sign(k, b"jwtauth key id v1");
                    format!("hs-{}", &b64(tag.as_ref())[..16])
                }
                (None, _) => return Err(KeyError::Crypto("kid")),
            }),
        };
        if kid.0.is_empty() || kid.0.len() > 128 {
            return Err(KeyError::Invalid("kid must be 1 to 128 characters".into()));
        }
        let header = json!({ "alg": alg.as_str(), "typ": "JWT", "kid": kid.as_str() });
        let header_b64 = b64(header.to_string().as_bytes());
        Ok(Key {
            kid,
            alg,
            state,
            created_at,
            verifier,
            signer,
            material,
            public_jwk,
            header_b64,
        })
    }

    /// The key id.
    pub fn kid(&self) -> &Kid {
        &self.kid
    }
    /// The one algorithm this key is used with.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }
    /// Where the key is in its life.
    pub fn state(&self) -> KeyState {
        self.state
    }
    /// When the key was made (seconds since the Unix epoch).
    pub fn created_at(&self) -> i64 {
        self.created_at
    }
    /// The secret material, for the store to persist encrypted.
    pub fn material(&self) -> &KeyMaterial {
        &self.material
    }
    /// Whether `other` is this very key: same kid, algorithm, state, creation and
    /// material (secret or private key, or the published public key).
    fn same_as(&self, other: &Key) -> bool {
        self.kid == other.kid
            && self.alg == other.alg
            && self.state == other.state
            && self.created_at == other.created_at
            && self.public_jwk == other.public_jwk
            && aws_lc_rs::constant_time::verify_slices_are_equal(self.material.bytes(), other.material.bytes()).is_ok()
    }

    /// The same key in another state (rotation and retirement).
    pub fn with_state(&self, state: KeyState) -> Result<Key, KeyError> {
        if matches!(self.material, KeyMaterial::PublicOnly) {
            return Err(KeyError::Invalid("another issuer's key has no lifecycle here".into()));
        }
        Key::build(
            self.alg,
            self.material.clone(),
            Some(self.kid.clone()),
            state,
            self.created_at,
        )
    }

    /// The public JWK (RFC 7517) with `kid`, `alg` and `use`; `None` for HS keys,
    /// whose secret must never be published.
    pub fn public_jwk(&self) -> Option<serde_json::Value> {
        let mut jwk = self.public_jwk.clone()?;
        if let Some(obj) = jwk.as_object_mut() {
            obj.insert("kid".into(), self.kid.as_str().into());
            obj.insert("alg".into(), self.alg.as_str().into());
            obj.insert("use".into(), "sig".into());
        }
        Some(jwk)
    }

    pub(crate) fn header_b64(&self) -> &str {
        &self.header_b64
    }

    /// Checks `signature` over `message` in constant time (HMAC) or with the parsed public key.
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match &self.verifier {
            Verifier::Hmac(k) => hmac::verify(k, message, signature).is_ok(),
            Verifier::Public(p) => p.verify_sig(message, signature).is_ok(),
        }
    }

    /// Signs `message`, appending the base64url signature to `out`.
    pub(crate) fn sign_into(&self, message: &[u8], out: &mut String) -> Result<(), KeyError> {
        match &self.signer {
            Signer::Hmac(k) => crate::encoding::b64_into(hmac::sign(k, message).as_ref(), out),
            Signer::Ecdsa(k) => {
                let sig = k
                    .sign(&SystemRandom::new(), message)
                    .map_err(|_| KeyError::Crypto("ECDSA signing failed"))?;
                crate::encoding::b64_into(sig.as_ref(), out);
            }
            Signer::Ed25519(k) => crate::encoding::b64_into(k.sign(message).as_ref(), out),
            Signer::Rsa(k, enc) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(*enc, &SystemRandom::new(), message, &mut sig)
                    .map_err(|_| KeyError::Crypto("RSA signing failed"))?;
                crate::encoding::b64_into(&sig, out);
            }
            Signer::None => return Err(KeyError::Invalid("another issuer's key cannot sign".into())),
        }
        Ok(())
    }
}

/// RFC 7638 JWK thumbprint (SHA-256, base64url) of a public JWK.
pub(crate) fn thumbprint(jwk: &serde_json::Value) -> String {
    // Required members only, in lexicographic order, no whitespace.
    let members: &[&str] = match jwk["kty"].as_str() {
        Some("RSA") => &["e", "kty", "n"],
        Some("EC") => &["crv", "kty", "x", "y"],
        _ => &["crv", "kty", "x"],
    };
    let canonical: serde_json::Map<String, serde_json::Value> =
        members.iter().map(|m| ((*m).to_string(), jwk[*m].clone())).collect();
    let text = serde_json::Value::Object(canonical).to_string();
    b64(digest::digest(&digest::SHA256, text.as_bytes()).as_ref())
}

/// An immutable set of keys; replaced whole, never edited in place.
#[derive(Debug, Default, Clone)]
pub struct KeyRing {
    keys: Vec<Arc<Key>>,
    /// When the `next` key starts signing (seconds since the Unix epoch).
    next_at: Option<i64>,
}

impl KeyRing {
    /// A ring of these keys. At most one may be active; kids must be unique.
    pub fn new(keys: Vec<Key>) -> Result<KeyRing, KeyError> {
        let keys: Vec<Arc<Key>> = keys.into_iter().map(Arc::new).collect();
        if keys.iter().filter(|k| k.state == KeyState::Active).count() > 1 {
            return Err(KeyError::Invalid("more than one active key".into()));
        }
        for (i, k) in keys.iter().enumerate() {
            if keys[..i].iter().any(|o| o.kid == k.kid) {
                return Err(KeyError::Invalid(format!("duplicate kid '{}'", k.kid)));
            }
        }
        Ok(KeyRing { keys, next_at: None })
    }

    /// The same ring, with its `next` key signing from `at` on. Every process that
    /// loaded the ring switches at that instant by its own clock, without a reload.
    #[must_use]
    pub fn next_signs_from(mut self, at: i64) -> KeyRing {
        self.next_at = Some(at);
        self
    }

    /// This ring, holding on to `previous`'s key objects for every key that did not
    /// change. Tokens remembered by the verified-token cache stay remembered across
    /// a reload (the cache keys on the object), so a reload on an unknown kid, or a
    /// trusted issuer's refetch, costs only the keys that changed.
    #[must_use]
    pub fn keeping_unchanged(mut self, previous: &KeyRing) -> KeyRing {
        for key in &mut self.keys {
            if let Some(old) = previous.keys.iter().find(|old| old.same_as(key)) {
                *key = old.clone();
            }
        }
        self
    }

    /// The `next` key and the instant it starts signing, if one is published.
    pub fn next(&self) -> Option<(&Arc<Key>, i64)> {
        let key = self.keys.iter().find(|k| k.state == KeyState::Next)?;
        Some((key, self.next_at?))
    }

    /// The key that signs at `now`: the `next` key once its instant has come, else
    /// the active key.
    pub fn signer(&self, now: i64) -> Option<&Arc<Key>> {
        match self.next() {
            Some((key, at)) if now >= at => Some(key),
            _ => self.active(),
        }
    }

    /// Every key, retired ones included.
    pub fn keys(&self) -> &[Arc<Key>] {
        &self.keys
    }

    /// The key that signs new tokens.
    pub fn active(&self) -> Option<&Arc<Key>> {
        self.keys.iter().find(|k| k.state == KeyState::Active)
    }

    /// The usable (not retired) key with this kid.
    pub fn get(&self, kid: &str) -> Option<&Arc<Key>> {
        self.keys
            .iter()
            .find(|k| k.kid.0 == kid && k.state != KeyState::Retired)
    }

    /// Usable keys pinned to `alg` (for tokens without a kid).
    pub fn pinned_to(&self, alg: Algorithm) -> impl Iterator<Item = &Arc<Key>> {
        self.keys
            .iter()
            .filter(move |k| k.alg == alg && k.state != KeyState::Retired)
    }

    /// The JWKS (RFC 7517 §5): public keys of active and verify-only asymmetric keys.
    /// HS secrets and private members never appear.
    pub fn jwks(&self) -> serde_json::Value {
        let keys: Vec<serde_json::Value> = self
            .keys
            .iter()
            .filter(|k| k.state != KeyState::Retired)
            .filter_map(|k| k.public_jwk())
            .collect();
        json!({ "keys": keys })
    }
}

#[cfg(test)]
mod tests;
