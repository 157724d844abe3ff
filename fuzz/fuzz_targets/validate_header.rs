//! Any bytes as an `Authorization` header value (lossy UTF-8) and as a raw token,
//! against an HS256 and an ES256 runtime.
#![no_main]

use jwtauth_core::RequestInfo;
use jwtauth_fuzz::{es256, hs256};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let header = String::from_utf8_lossy(data);
    let req = RequestInfo {
        client: Some("127.0.0.1:1"),
        path: Some("/fuzz"),
        ..RequestInfo::default()
    };
    for auth in [hs256(), es256()] {
        let _ = auth.verifier().validate_header(Some(&header), &req);
        // No store, so this never answers None; it takes the same checks without the reload wait.
        let _ = auth.verifier().check_header(Some(&header), &req);
        // The raw-token entry point skips the bearer character filter: arbitrary bytes reach the parser.
        let _ = auth.verifier().validate(data);
    }
});
