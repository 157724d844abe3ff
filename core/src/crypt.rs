//! Key material at rest: sealed with ChaCha20-Poly1305 under a master key from
//! `JWTAUTH_MASTER_KEY` or `master_key_file`.

use std::fmt;

use aws_lc_rs::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use zeroize::Zeroizing;

use crate::config::ConfigError;

/// The environment variable holding the master key.
pub const MASTER_KEY_ENV: &str = "JWTAUTH_MASTER_KEY";

/// A 256-bit key that seals signing keys before they are stored.
pub struct MasterKey(LessSafeKey);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

const FIX: &str = "Generate one with `openssl rand -base64 32`";

impl MasterKey {
    /// Parses 32 bytes written as base64 (standard or URL-safe, padded or not) or as 64 hex digits.
    pub fn parse(text: &str) -> Result<MasterKey, ConfigError> {
        let t = text.trim();
        let bytes: Option<Zeroizing<Vec<u8>>> = decode_hex(t).or_else(|| {
            [
                &base64::engine::general_purpose::STANDARD,
                &base64::engine::general_purpose::STANDARD_NO_PAD,
                &base64::engine::general_purpose::URL_SAFE,
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            ]
            .iter()
            .find_map(|e| e.decode(t).ok())
            .map(Zeroizing::new)
        });
        let bytes = bytes.ok_or_else(|| ConfigError::Invalid {
            key: "master_key",
            problem: "the master key is neither base64 nor hex".into(),
            fix: FIX.into(),
        })?;
        if bytes.len() != 32 {
            return Err(ConfigError::Invalid {
                key: "master_key",
                problem: format!("the master key is {} bytes; it must be exactly 32", bytes.len()),
                fix: FIX.into(),
            });
        }
        let key = UnboundKey::new(&CHACHA20_POLY1305, &bytes).map_err(|_| ConfigError::Invalid {
            key: "master_key",
            problem: "the master key was rejected".into(),
            fix: FIX.into(),
        })?;
        Ok(MasterKey(LessSafeKey::new(key)))
    }

    /// The master key from `master_key_file` if configured, else from
    /// `JWTAUTH_MASTER_KEY`; `None` when neither is set.
    pub fn from_config(config: &crate::Config) -> Result<Option<MasterKey>, ConfigError> {
        if let Some(path) = &config.master_key_file {
            let text = crate::config::read_secret_file(path).map_err(|e| ConfigError::Invalid {
                key: "master_key_file",
                problem: format!("{} cannot be read: {e}", path.display()),
                fix: "Point it at a readable file holding the key".into(),
            })?;
            return MasterKey::parse(&text).map(Some);
        }
        match std::env::var(MASTER_KEY_ENV) {
            Ok(v) if !v.trim().is_empty() => MasterKey::parse(&Zeroizing::new(v)).map(Some),
            _ => Ok(None),
        }
    }

    /// Seals `plain`, binding it to `context` (the key's kid and algorithm), as
    /// base64url(nonce ‖ ciphertext ‖ tag).
    pub(crate) fn seal(&self, context: &[u8], plain: &[u8]) -> Result<String, crate::keys::KeyError> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| crate::keys::KeyError::Crypto("no randomness"))?;
        let mut buf = Zeroizing::new(plain.to_vec());
        self.0
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(context), &mut *buf)
            .map_err(|_| crate::keys::KeyError::Crypto("sealing failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(crate::encoding::b64(&out))
    }

    /// Opens what [`MasterKey::seal`] produced; fails if the key, context or data differ.
    pub(crate) fn open(&self, context: &[u8], sealed: &str) -> Option<Zeroizing<Vec<u8>>> {
        let raw = crate::encoding::b64_decode(sealed.as_bytes())?;
        if raw.len() < NONCE_LEN + 16 {
            return None;
        }
        let nonce = Nonce::try_assume_unique_for_key(&raw[..NONCE_LEN]).ok()?;
        let mut buf = Zeroizing::new(raw[NONCE_LEN..].to_vec());
        let len = self.0.open_in_place(nonce, Aad::from(context), &mut buf).ok()?.len();
        buf.truncate(len);
        Some(buf)
    }
}

fn decode_hex(t: &str) -> Option<Zeroizing<Vec<u8>>> {
    if t.len() != 64 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..32)
        .map(|i| u8::from_str_radix(&t[2 * i..2 * i + 2], 16).ok())
        .collect::<Option<Vec<u8>>>()
        .map(Zeroizing::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

    #[test]
    fn seal_open_round_trip_bound_to_context() {
        let k = MasterKey::parse(KEY).unwrap();
        let sealed = k.seal(b"kid1|ES256", b"private").unwrap();
        assert!(!sealed.contains("private"));
        assert_eq!(k.open(b"kid1|ES256", &sealed).unwrap().as_slice(), b"private");
        assert!(k.open(b"kid2|ES256", &sealed).is_none(), "context is bound");
        let other = MasterKey::parse(&"ab".repeat(32)).unwrap();
        assert!(other.open(b"kid1|ES256", &sealed).is_none(), "wrong key");
        assert!(k.open(b"kid1|ES256", "garbage").is_none());
    }

    #[test]
    fn master_key_must_be_32_bytes() {
        assert!(MasterKey::parse("c2hvcnQ=").unwrap_err().to_string().contains("32"));
        assert!(MasterKey::parse("not base64 !!").is_err());
        assert!(MasterKey::parse(&"0f".repeat(32)).is_ok());
    }
}
