//! ECDSA signatures in their low-S spelling.
//!
//! An ECDSA signature (r, s) has a twin, (r, n − s), that verifies just as well
//! under the same key and message. Other issuers' signers (and aws-lc-rs) produce
//! either, so both are accepted; but one token must not count as two. The
//! verified-token cache and the token fingerprint treat the twins as one token
//! through [`low_s`]. The curve arithmetic is RustCrypto's (`normalize_s`).

/// A curve of the ES* algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Curve {
    /// ES256.
    P256,
    /// ES384.
    P384,
    /// ES512.
    P521,
}

impl Curve {
    /// The curve of a JOSE `alg` name, for the ES* algorithms only.
    pub(crate) fn of_alg(alg: &str) -> Option<Curve> {
        match alg {
            "ES256" => Some(Curve::P256),
            "ES384" => Some(Curve::P384),
            "ES512" => Some(Curve::P521),
            _ => None,
        }
    }
}

/// The low-S spelling of a fixed-width `r ‖ s` signature on `curve`: the
/// signature itself when its `s` is already low, its twin when `s` is high.
/// `None` when `sig` is no such signature (wrong length, `r` or `s` zero or not
/// below the group order).
pub(crate) fn low_s(curve: Curve, sig: &[u8]) -> Option<Vec<u8>> {
    // One line per curve: each has its own types, the same two calls.
    macro_rules! normalised {
        ($curve:ident) => {
            $curve::ecdsa::Signature::from_slice(sig)
                .ok()
                .map(|s| s.normalize_s().to_bytes().to_vec())
        };
    }
    match curve {
        Curve::P256 => normalised!(p256),
        Curve::P384 => normalised!(p384),
        Curve::P521 => normalised!(p521),
    }
}

/// Whether two signatures on `curve` are the same signature, spelt either way.
pub(crate) fn same_signature(curve: Curve, a: &[u8], b: &[u8]) -> bool {
    match (low_s(curve, a), low_s(curve, b)) {
        (Some(a), Some(b)) => aws_lc_rs::constant_time::verify_slices_are_equal(&a, &b).is_ok(),
        _ => false,
    }
}

/// The twin of a P-256 signature, (r, n − s), made with the curve crate.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) fn p256_twin(sig: &[u8]) -> Vec<u8> {
    let (r, s) = p256::ecdsa::Signature::from_slice(sig).unwrap().split_scalars();
    p256::ecdsa::Signature::from_scalars(r, -s).unwrap().to_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn signature() -> Vec<u8> {
        use aws_lc_rs::rand::SystemRandom;
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref()).unwrap();
        key.sign(&rng, b"message").unwrap().as_ref().to_vec()
    }

    #[test]
    fn twins_have_one_low_s_spelling() {
        let sig = signature();
        let other = p256_twin(&sig);
        assert_ne!(sig, other);
        let low = low_s(Curve::P256, &sig).unwrap();
        assert_eq!(low_s(Curve::P256, &other).unwrap(), low);
        assert!(low == sig || low == other, "the low spelling is one of the two");
        assert!(same_signature(Curve::P256, &sig, &other));
        assert!(same_signature(Curve::P256, &sig, &sig));
    }

    #[test]
    fn other_signatures_and_garbage_are_not_the_same() {
        let (a, b) = (signature(), signature());
        assert!(!same_signature(Curve::P256, &a, &b));
        assert_eq!(low_s(Curve::P256, &a[..63]), None, "wrong length");
        assert_eq!(low_s(Curve::P384, &a), None, "another curve's length");
        assert_eq!(low_s(Curve::P256, &[0u8; 64]), None, "r and s zero");
        assert_eq!(low_s(Curve::P256, &[0xff; 64]), None, "not below the order");
        assert!(!same_signature(Curve::P256, &[0u8; 64], &[0u8; 64]));
    }

    #[test]
    fn only_es_algorithms_have_a_curve() {
        assert_eq!(Curve::of_alg("ES256"), Some(Curve::P256));
        assert_eq!(Curve::of_alg("ES384"), Some(Curve::P384));
        assert_eq!(Curve::of_alg("ES512"), Some(Curve::P521));
        for alg in ["HS512", "EdDSA", "RS256", "es256", ""] {
            assert_eq!(Curve::of_alg(alg), None, "{alg}");
        }
    }
}
