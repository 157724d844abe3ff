//! The signing key: `algorithm`, the HS secret (inline or from a file), the PEM
//! key file, and the master key that seals stored keys.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::ConfigError;
use super::raw::RawConfig;
use crate::keys::{Algorithm, Secret, check_hs_secret, read_secret_file};
use crate::keystore::{MASTER_KEY_ENV, MasterKey};

/// The checked signing settings.
pub(super) struct Signing {
    pub algorithm: Algorithm,
    pub hs_secret: Option<Secret>,
    pub key_file: Option<PathBuf>,
    pub master_key_file: Option<PathBuf>,
}

pub(super) fn signing(raw: &RawConfig, resolve: &dyn Fn(PathBuf) -> PathBuf) -> Result<Signing, ConfigError> {
    let algorithm: Algorithm = raw.algorithm.parse().map_err(|_| {
        ConfigError::invalid(
            "algorithm",
            format!("'{}' is not a supported algorithm", crate::error::clip(&raw.algorithm)),
            format!(
                "Use one of {}",
                Algorithm::ALL.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", ")
            ),
        )
    })?;

    let hs_secret = match (raw.hs_secret.clone(), raw.hs_secret_file.clone()) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::invalid(
                "hs_secret",
                "both hs_secret and hs_secret_file are set",
                "Keep one of them",
            ));
        }
        (Some(s), None) => Some(s),
        (None, Some(path)) => {
            let path = resolve(path);
            let text = read_secret_file(&path).map_err(|e| {
                ConfigError::invalid(
                    "hs_secret_file",
                    format!("{} cannot be read: {e}", path.display()),
                    "Point it at a readable UTF-8 file that holds the secret",
                )
            })?;
            Some(Secret::new(text.trim_end_matches(['\r', '\n'])))
        }
        (None, None) => None,
    };
    match (&hs_secret, algorithm.is_hmac()) {
        (Some(secret), true) => {
            check_hs_secret(secret, algorithm).map_err(|w| ConfigError::invalid("hs_secret", w.problem, w.fix))?
        }
        (None, true) => {
            return Err(ConfigError::invalid(
                "hs_secret",
                format!("algorithm is {algorithm} but no secret is set"),
                format!(
                    "Set JWTAUTH_HS_SECRET (or hs_secret_file) to at least {} random bytes, e.g. the output of `openssl rand -base64 {}`",
                    algorithm.min_secret_len(),
                    algorithm.min_secret_len()
                ),
            ));
        }
        (Some(_), false) => {
            return Err(ConfigError::invalid(
                "hs_secret",
                format!("a secret is set but algorithm is {algorithm}, which does not use one"),
                "Set algorithm = \"HS256\" (or HS384/HS512) to use the secret, or remove it",
            ));
        }
        (None, false) => {}
    }
    if raw.key_file.is_some() && algorithm.is_hmac() {
        return Err(ConfigError::invalid(
            "key_file",
            format!("a key file is set but algorithm is {algorithm}, which uses hs_secret"),
            "Remove key_file, or choose the asymmetric algorithm of the key",
        ));
    }

    Ok(Signing {
        algorithm,
        hs_secret,
        key_file: raw.key_file.clone().map(resolve),
        master_key_file: raw.master_key_file.clone().map(resolve),
    })
}

/// The master key from `master_key_file` if configured, else from
/// `JWTAUTH_MASTER_KEY`; `None` when neither is set.
pub(super) fn master_key(file: Option<&Path>) -> Result<Option<MasterKey>, ConfigError> {
    let invalid = |key: &'static str| {
        move |e: crate::keystore::MasterKeyError| ConfigError::Invalid {
            key,
            problem: e.problem,
            fix: e.fix,
        }
    };
    if let Some(path) = file {
        let text = read_secret_file(path).map_err(|e| ConfigError::Invalid {
            key: "master_key_file",
            problem: format!("{} cannot be read: {e}", path.display()),
            fix: "Point it at a readable file holding the key".into(),
        })?;
        return MasterKey::parse(&text).map(Some).map_err(invalid("master_key"));
    }
    match std::env::var(MASTER_KEY_ENV) {
        Ok(v) if !v.trim().is_empty() => MasterKey::parse(&Zeroizing::new(v))
            .map(Some)
            .map_err(invalid("master_key")),
        _ => Ok(None),
    }
}
