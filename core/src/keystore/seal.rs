//! Key material at rest: sealed with ChaCha20-Poly1305 under a master key from
//! `JWTAUTH_MASTER_KEY` or `master_key_file` (the configuration reads them).

use std::fmt;

use aws_lc_rs::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use zeroize::Zeroizing;

/// A 256-bit key that seals signing keys before they are stored.
pub struct MasterKey(LessSafeKey);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

const FIX: &str = "Generate one with `openssl rand -base64 32`";

/// A master key that cannot be used, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem}. {fix}")]
pub struct MasterKeyError {
    /// What is wrong (never the key's value).
    pub problem: String,
    /// What to do.
    pub fix: String,
}

fn bad(problem: impl Into<String>) -> MasterKeyError {
    MasterKeyError {
        problem: problem.into(),
        fix: FIX.into(),
    }
}

impl MasterKey {
    /// Parses 32 bytes written as base64 (standard or URL-safe, padded or not) or as 64 hex digits.
    pub fn parse(text: &str) -> Result<MasterKey, MasterKeyError> {
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
        let bytes = bytes.ok_or_else(|| bad("the master key is neither base64 nor hex"))?;
        if bytes.len() != 32 {
            return Err(bad(format!(
                "the master key is {} bytes; it must be exactly 32",
                bytes.len()
            )));
        }
        let key = UnboundKey::new(&CHACHA20_POLY1305, &bytes).map_err(|_| bad("the master key was rejected"))?;
        Ok(MasterKey(LessSafeKey::new(key)))
    }

    /// Seals `plain`, binding it to `context` (the key's kid and algorithm), as
    /// base64url(nonce ‖ ciphertext ‖ tag).
    pub(crate) fn seal(&self, context: &[u8], plain: &[u8]) -> Result<String, crate::keys::KeyError> {
        let mut nonce = [0u8; NONCE_LEN];
        crate::random::fill(&mut nonce)?;
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

/// Reads the master key at `path`, or generates one there (32 random bytes in
/// base64, owner-only) when the file does not exist. Two processes starting at once
/// agree: the key is written to a private temporary file and linked into place,
/// so the loser of the race reads the winner's complete file. Returns the key and
/// whether it was generated now.
pub fn load_or_generate(path: &std::path::Path) -> Result<(MasterKey, bool), MasterKeyError> {
    let io = |what: &str, e: std::io::Error| MasterKeyError {
        problem: format!("the master key file {} cannot be {what}: {e}", path.display()),
        fix: "Check the folder's permissions, or set master_key_file to a key you generated".into(),
    };
    let read = || -> Result<MasterKey, MasterKeyError> {
        let text = crate::keys::read_secret_file(path).map_err(|e| io("read", e))?;
        crate::store::warn_if_shared(path);
        MasterKey::parse(&text).map_err(|e| MasterKeyError {
            problem: format!("{}: {}", path.display(), e.problem),
            fix: e.fix,
        })
    };
    if path.exists() {
        return read().map(|k| (k, false));
    }
    let mut bytes = Zeroizing::new([0u8; 32]);
    crate::random::fill(&mut *bytes).map_err(|e| bad(e.to_string()))?;
    let text = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(*bytes) + "\n");
    let suffix = crate::random::b64_id::<6>().map_err(|e| bad(e.to_string()))?;
    let tmp = path.with_extension(format!("tmp-{suffix}"));
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
            crate::store::private_dir(dir)?;
        }
        let mut f = crate::store::private_file(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(io("written", e));
    }
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => read().map(|k| (k, true)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read().map(|k| (k, false)),
        Err(e) => Err(io("written", e)),
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
