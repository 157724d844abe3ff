//! Caseless keys for names: two names that a person would call the same
//! (`admin`, `Admin`, `ＡＤＭＩＮ`) get one key, so they cannot be two accounts
//! and share one throttle bucket.

use icu_casemap::CaseMapper;
use icu_normalizer::{ComposingNormalizerBorrowed, DecomposingNormalizerBorrowed};

/// Input longer than this (in characters) is cut before folding: no real name is
/// that long, and folding stays cheap whatever a client sends.
const MAX_FOLDED_CHARS: usize = 256;

/// The caseless key of `name`: Unicode compatibility caseless matching (Unicode
/// §3.13, D146), written as NFKC(fold(NFKC(fold(NFD(name))))) with full case
/// folding. Equal keys mean the names match; the key is never shown.
///
/// ```
/// # use jwtauth_core::users::name_key;
/// assert_eq!(name_key("Admin"), name_key("admin"));
/// assert_eq!(name_key("ＡＤＭＩＮ"), "admin"); // fullwidth letters
/// assert_eq!(name_key("STRASSE"), name_key("straße"));
/// assert_ne!(name_key("alice"), name_key("alicia"));
/// ```
pub fn name_key(name: &str) -> String {
    let cut: String = name.chars().take(MAX_FOLDED_CHARS).collect();
    let fold = CaseMapper::new();
    let nfkc = ComposingNormalizerBorrowed::new_nfkc();
    let nfd = DecomposingNormalizerBorrowed::new_nfd().normalize(&cut);
    let once = nfkc.normalize(&fold.fold_string(&nfd)).into_owned();
    nfkc.normalize(&fold.fold_string(&once)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_width_and_compatibility_forms_fold_to_one_key() {
        assert_eq!(name_key("ADMIN"), "admin");
        assert_eq!(name_key("admin"), "admin");
        // Kelvin sign and long s fold to plain letters.
        assert_eq!(name_key("\u{212A}ate"), "kate");
        assert_eq!(name_key("\u{17F}am"), "sam");
        // Composed and decomposed spellings are one name.
        assert_eq!(name_key("Jos\u{E9}"), name_key("Jose\u{301}"));
        assert_eq!(name_key("ΣΊΣΥΦΟΣ"), name_key("σίσυφος"));
    }

    #[test]
    fn folding_a_huge_input_is_bounded() {
        let key = name_key(&"A".repeat(1_000_000));
        assert_eq!(key.len(), MAX_FOLDED_CHARS);
    }
}
