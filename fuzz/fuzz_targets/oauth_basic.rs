//! Any bytes as the credentials of an OAuth client's `Authorization: Basic` header
//! (RFC 6749 §2.3.1) and as form-urlencoded text: `basic_credentials` and
//! `form_decode` answer without a panic, and what they accept round-trips: the
//! decoded id and secret, encoded again as a client would, decode to themselves.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jwtauth_core::clients::{basic_credentials, form_decode};
use libfuzzer_sys::fuzz_target;

/// RFC 6749 Appendix B's encoding: everything but unreserved characters escaped.
fn form_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => char::from(b).to_string(),
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(decoded) = form_decode(&text) {
        assert_eq!(form_decode(&form_encode(&decoded)).as_deref(), Some(decoded.as_str()));
        // Decoding never grows the text: each escape is three bytes for one.
        assert!(decoded.len() <= text.len());
    }
    if let Some((id, secret)) = basic_credentials(&text) {
        let again = STANDARD.encode(format!("{}:{}", form_encode(&id), form_encode(&secret)));
        assert_eq!(basic_credentials(&again), Some((id, secret)));
    }
    // The base64 of the raw input: the decoder reaches the id and secret parsing.
    let _ = basic_credentials(&STANDARD.encode(data));
});
