//! `client_secret_basic` (RFC 6749 §2.3.1): the client id and secret in an HTTP
//! Basic `Authorization` header, each form-urlencoded (Appendix B) before base64.

use base64::Engine;

/// The client id and secret of the credentials of a Basic header (the text after
/// `Basic `): base64 of `id:secret`, each part form-urlencoded. `None` when it is
/// not base64, not UTF-8, has no `:`, or a part is not strict form-urlencoding.
pub fn basic_credentials(credentials: &str) -> Option<(String, String)> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(credentials.trim().as_bytes())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((form_decode(id)?, form_decode(secret)?))
}

/// Decodes `application/x-www-form-urlencoded` text: `+` is a space and `%XX` (two
/// hex digits, nothing else) a byte; `None` for a malformed escape or bytes that are
/// not UTF-8.
pub fn form_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = hex_digit(*bytes.get(i + 1)?)?;
                let lo = hex_digit(*bytes.get(i + 2)?)?;
                out.push(hi << 4 | lo);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

fn hex_digit(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        assert_eq!(form_decode("a%3Ab+c").as_deref(), Some("a:b c"));
        assert_eq!(form_decode("plain").as_deref(), Some("plain"));
        assert_eq!(form_decode("bad%4"), None);
        assert_eq!(form_decode("bad%zz"), None);
        assert_eq!(form_decode("%ff"), None);
    }

    #[test]
    fn a_percent_escape_is_two_hex_digits_and_nothing_else() {
        // u8::from_str_radix takes a sign: "%+A" must not decode as a newline.
        for bad in ["%+A", "%+0", "%-1", "% A", "%A", "%"] {
            assert_eq!(form_decode(bad), None, "{bad}");
        }
        assert_eq!(form_decode("%0a%7E").as_deref(), Some("\n~"));
    }

    #[test]
    fn basic_credentials_split_at_the_first_colon_after_decoding_base64() {
        // "svc%3Aa:s:e+t" in base64: the id's colon is escaped, the secret's is not.
        let cred = base64::engine::general_purpose::STANDARD.encode("svc%3Aa:s:e+t");
        assert_eq!(basic_credentials(&cred), Some(("svc:a".to_owned(), "s:e t".to_owned())));
        assert_eq!(basic_credentials("not base64!"), None);
        let no_colon = base64::engine::general_purpose::STANDARD.encode("svc");
        assert_eq!(basic_credentials(&no_colon), None);
    }
}
