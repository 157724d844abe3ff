//! HS secrets: a type that never prints its value, and the check that refuses
//! short or well-known ones (the guide's first common mistake).

use std::fmt;

use serde::{Deserialize, Deserializer};
use zeroize::Zeroizing;

use super::Algorithm;

/// Secret values known from tutorials and samples; a key equal to one of them is
/// as good as public.
const PLACEHOLDER_SECRETS: &[&str] = &[
    "secret",
    "changeme",
    "change_me",
    "change-me",
    "password",
    "your_super_secure_secret_key",
    "your-super-secure-secret-key",
    "yoursupersecuresecretkey",
    "your_super_secret_key",
    "yoursupersecretkey",
    "supersecretkey",
    "super_secret_key",
    "mysecretkey",
    "my_secret_key",
    "your-256-bit-secret",
    "your-384-bit-secret",
    "your-512-bit-secret",
    "your_secret_key_here",
    "yoursecretkeyhere",
    "thisismysecretkey",
    "this_is_my_secret_key",
    "jwt_secret",
    "jwtsecret",
    "secretkey",
    "secret_key",
];

/// A secret string (HS key): zeroized on drop, never printed.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a secret value.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(Zeroizing::new(s.into()))
    }
    /// The secret's bytes (its UTF-8 encoding, as .NET's `Encoding.UTF8.GetBytes`).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret([redacted], {} bytes)", self.0.len())
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

/// Why an HS secret is refused, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WeakSecret {
    pub problem: String,
    pub fix: String,
}

/// Refuses HS secrets that are short or well known (the guide's first common mistake).
pub(crate) fn check_hs_secret(secret: &Secret, alg: Algorithm) -> Result<(), WeakSecret> {
    let s = secret.expose();
    let need = alg.min_secret_len();
    if s.len() < need {
        return Err(WeakSecret {
            problem: format!("the secret is {} bytes; {alg} needs at least {need}", s.len()),
            fix: format!("Generate one with `openssl rand -base64 {need}` and set JWTAUTH_HS_SECRET"),
        });
    }
    let lower = s.to_ascii_lowercase();
    let placeholder = PLACEHOLDER_SECRETS.iter().any(|p| {
        // A placeholder repeated or padded with digits to reach the length is still a placeholder.
        let rest = lower.replace(p, "");
        lower.contains(p) && rest.chars().all(|c| c.is_ascii_digit() || "_-!. ".contains(c))
    });
    let one_char = s.chars().all(|c| s.starts_with(c));
    if placeholder || one_char {
        return Err(WeakSecret {
            problem: "the secret is a well-known placeholder (or a single repeated character), which anyone can guess"
                .into(),
            fix: format!("Generate one with `openssl rand -base64 {need}` and set JWTAUTH_HS_SECRET"),
        });
    }
    Ok(())
}

/// Reads a key or secret file, refusing one over 64 KiB rather than reading whatever
/// the path names (`/dev/zero`) into memory. The buffer is allocated once, so no copy
/// of the secret is left behind by a reallocation, and it is wiped when dropped.
pub(crate) fn read_secret_file(path: &std::path::Path) -> std::io::Result<Zeroizing<String>> {
    use std::io::Read;
    const LIMIT: usize = 64 * 1024;
    let mut text = Zeroizing::new(String::with_capacity(LIMIT + 1));
    std::fs::File::open(path)?
        .take(LIMIT as u64 + 1)
        .read_to_string(&mut text)?;
    if text.len() > LIMIT {
        return Err(std::io::Error::other(
            "it is larger than 64 KiB, too large for a key or secret",
        ));
    }
    Ok(text)
}
