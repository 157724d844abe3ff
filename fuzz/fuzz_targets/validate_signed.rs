//! Header and claims (split at the first newline) signed with the HS256 secret, so
//! the fuzzer gets past the signature check into claims parsing and checking.
#![no_main]

use jwtauth_fuzz::{hs256, hs256_sign, split_parts};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (header, claims) = split_parts(data);
    let token = hs256_sign(header, claims);
    let auth = hs256();
    if let Ok(c) = auth.verifier().validate(&token) {
        let _ = c.to_json(&auth.verifier().rules().roles_claim);
        let _ = auth.verifier().require_role(&c, "Admin", &Default::default());
    }
    let _ = auth
        .verifier()
        .validate_header(Some(&format!("Bearer {token}")), &Default::default());
});
