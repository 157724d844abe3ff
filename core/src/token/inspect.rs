//! `token inspect`: decode a token without trusting it, then say, under the current
//! configuration, whether it is valid and why not — the usual mistakes as a diagnostic.

use std::sync::Arc;

use base64::Engine as _;
use serde_json::Value;

use super::{Claims, Verifier};
use crate::error::AuthError;

/// What is known about a token.
#[derive(Debug)]
pub struct Inspection {
    /// The JOSE header, decoded (unverified).
    pub header: Option<Value>,
    /// The claims, decoded (unverified).
    pub claims: Option<Value>,
    /// The verdict of the real validation (nothing recorded in the failure log).
    pub verdict: Result<Claims, AuthError>,
    /// Observations about common mistakes, for humans.
    pub notes: Vec<String>,
}

fn decode_part(part: &str) -> Option<Value> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

impl Verifier {
    /// Inspects `input` (a token, or a whole `Bearer …` header value).
    pub fn inspect(&self, input: &str) -> Inspection {
        let mut notes = Vec::new();
        let mut token = input.trim();
        if token.len() != input.len() {
            notes.push("the input had surrounding whitespace (a copy-paste newline?); it was trimmed".into());
        }
        if let Some(rest) = token.strip_prefix("Bearer ").or_else(|| token.strip_prefix("bearer ")) {
            notes.push(
                "the input starts with 'Bearer ': that belongs in the Authorization header, not in the token".into(),
            );
            token = rest.trim();
        }
        if token.starts_with('"') && token.ends_with('"') && token.len() > 1 {
            notes.push("the token is wrapped in quotes (taken from JSON?); they were removed".into());
            token = &token[1..token.len() - 1];
        }
        let parts: Vec<&str> = token.split('.').collect();
        let header = parts.first().and_then(|p| decode_part(p));
        let claims = parts.get(1).and_then(|p| decode_part(p));
        if parts.len() == 5 {
            notes.push("five parts: this is an encrypted JWE, not a signed JWS".into());
        }
        let rules = self.rules();
        if let Some(h) = &header {
            if h["alg"].as_str().is_some_and(|a| a.eq_ignore_ascii_case("none")) {
                notes.push("alg is 'none': unsigned tokens are never accepted".into());
            }
            if let Some(kid) = h["kid"].as_str()
                && self.key_ring().get(kid).is_none()
            {
                notes.push(format!(
                    "kid '{}' is not in the key ring (retired, from another issuer, or another environment)",
                    crate::error::clip(kid)
                ));
            }
        }
        if let Some(c) = &claims {
            let now = self.now();
            // Unverified claims: any i64 can be there, so the arithmetic saturates.
            if let (Some(exp), Some(iat)) = (c["exp"].as_i64(), c["iat"].as_i64())
                && exp.saturating_sub(iat) > 86_400
            {
                notes.push(format!(
                    "the token lives {} h: long-lived access tokens cannot be taken back; use refresh tokens",
                    exp.saturating_sub(iat) / 3600
                ));
            }
            if let Some(exp) = c["exp"].as_i64() {
                notes.push(format!("exp is {} s from now", exp.saturating_sub(now)));
            }
            if let Some(iss) = c["iss"].as_str()
                && iss != rules.issuer
            {
                notes.push(format!(
                    "iss '{}' differs from the configured issuer '{}'",
                    crate::error::clip(iss),
                    rules.issuer
                ));
            }
            if !c[super::ROLE_URI].is_null() && rules.claims_profile != super::ClaimsProfile::Aspnet {
                notes.push(format!(
                    "roles are under the ClaimTypes.Role URI; claims_profile = \"aspnet\" reads them (roles_claim is '{}')",
                    rules.roles_claim
                ));
            } else if !c[&rules.roles_claim].is_null() {
                // nothing to say
            } else if !c["role"].is_null() || !c["roles"].is_null() {
                notes.push(format!(
                    "roles are not in the configured roles_claim '{}' (the token uses another claim name)",
                    rules.roles_claim
                ));
            }
        }
        let verdict = self
            .check(token.as_bytes())
            .map(Arc::unwrap_or_clone)
            .map_err(|r| r.error);
        if let (Err(e), Some(c)) = (&verdict, &claims)
            && e.reason == crate::error::Reason::MissingClaim
            && e.hint.contains("'sub'")
        {
            let names: Vec<&str> = super::ASPNET_IDENTIFIERS
                .iter()
                .chain(super::ASPNET_NAMES)
                .copied()
                .filter(|n| c.get(*n).is_some())
                .collect();
            if !names.is_empty() {
                let trusted = c["iss"].as_str().and_then(|i| self.trusted_rules(i)).is_some();
                notes.push(format!(
                    "the token carries its subject in '{}', as ASP.NET writes it; setting claims_profile = \"aspnet\" ({}) accepts it",
                    names.join("', '"),
                    if trusted {
                        "in this issuer's [[trusted_issuers]] entry"
                    } else {
                        "at the top level of jwtauth.toml"
                    }
                ));
            }
        }
        Inspection {
            header,
            claims,
            verdict,
            notes,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::error::Reason;
    use crate::runtime::Tokens;

    #[test]
    fn a_valid_token_pasted_with_its_bearer_prefix_is_explained_and_accepted() {
        let auth = Tokens::new(Config::default()).unwrap();
        let t = auth.issuer().issue("alice", &["Admin"], &Default::default()).unwrap();
        let i = auth.verifier().inspect(&format!("Bearer {}\n", t.token));
        assert!(i.verdict.is_ok());
        assert!(i.notes.iter().any(|n| n.contains("Bearer")), "{:?}", i.notes);
        assert_eq!(i.claims.unwrap()["sub"], "alice");
        assert_eq!(i.header.unwrap()["alg"], "ES256");
    }

    #[test]
    fn extreme_unverified_times_are_explained_without_overflow() {
        use base64::Engine as _;
        let b64 = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        let auth = Tokens::new(Config::default()).unwrap();
        for claims in [
            format!("{{\"exp\":{}}}", i64::MIN),
            format!("{{\"exp\":{},\"iat\":-1}}", i64::MAX),
            format!("{{\"exp\":{},\"iat\":{}}}", i64::MAX, i64::MIN),
        ] {
            let i = auth.verifier().inspect(&format!("{}.{}.x", b64("{}"), b64(&claims)));
            assert!(i.verdict.is_err(), "{claims}");
            assert!(
                i.notes.iter().any(|n| n.starts_with("exp is")),
                "{claims}: {:?}",
                i.notes
            );
        }
    }

    #[test]
    fn a_token_of_another_issuer_is_refused_with_its_reason() {
        let other = Tokens::new(Config::from_toml("issuer = \"https://other\"").unwrap()).unwrap();
        let t = other.issuer().issue("bob", &[], &Default::default()).unwrap();
        let auth = Tokens::new(Config::default()).unwrap();
        let i = auth.verifier().inspect(&t.token);
        let reason = i.verdict.unwrap_err().reason;
        assert!(matches!(reason, Reason::UnknownKid | Reason::WrongIssuer), "{reason}");
        assert!(i.notes.iter().any(|n| n.contains("kid")), "{:?}", i.notes);
        assert!(i.notes.iter().any(|n| n.contains("iss")), "{:?}", i.notes);
    }
}
