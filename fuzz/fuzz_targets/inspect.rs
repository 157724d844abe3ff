//! Any string into `Verifier::inspect` (the diagnostic decoder); also, so that the
//! decoded-JSON notes are reached, the input's newline-separated parts base64url-encoded
//! into a token (header, claims, and an HS256 signature when there are two parts).
#![no_main]

use jwtauth_fuzz::{b64, es256, hs256, hs256_sign, split_parts};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    for auth in [hs256(), es256()] {
        let i = auth.verifier().inspect(&input);
        let _ = format!("{i:?}");
    }
    if data.contains(&b'\n') {
        let (header, claims) = split_parts(data);
        let signed = hs256_sign(header, claims);
        let _ = hs256().verifier().inspect(&signed);
        let unsigned = format!("{}.{}.{}", b64(header), b64(claims), b64(b"sig"));
        let _ = es256().verifier().inspect(&unsigned);
    }
});
