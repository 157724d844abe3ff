//! [`Secret`]: a password being typed or a client secret about to be shown once.
//! It is never drawn by `Debug`, and its bytes are overwritten before its memory
//! is given back: when it grows, shrinks, is cleared or dropped.

use std::fmt;

/// Text nobody may read in a log, a panic message or freed memory.
///
/// Kept as UTF-8 bytes in a `Vec`, because a `Vec`'s spare capacity can be
/// overwritten without `unsafe` (a `String`'s cannot), so a character taken back
/// with Backspace does not stay behind in the buffer.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(Vec<u8>);

/// Room for a typical password without growing (each growth copies).
const INITIAL: usize = 64;

impl Secret {
    /// An empty secret.
    pub fn new() -> Secret {
        Secret(Vec::with_capacity(INITIAL))
    }

    /// The text, to hand to the core or to show once.
    pub fn expose(&self) -> &str {
        // Only whole characters are ever added, so this is always valid UTF-8.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// How many characters (what a masked input shows).
    pub fn chars(&self) -> usize {
        self.expose().chars().count()
    }

    /// Whether nothing was typed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Appends a character, moving to a larger buffer by hand so the old one is
    /// wiped rather than freed with the text in it.
    pub fn push(&mut self, c: char) {
        let mut buf = [0u8; 4];
        let bytes = c.encode_utf8(&mut buf).as_bytes();
        if self.0.len() + bytes.len() > self.0.capacity() {
            let mut grown = Vec::with_capacity((self.0.capacity() * 2).max(INITIAL));
            grown.extend_from_slice(&self.0);
            wipe(&mut self.0);
            self.0 = grown;
        }
        self.0.extend_from_slice(bytes);
        buf.fill(0);
        std::hint::black_box(&buf);
    }

    /// Removes the last character; returns whether there was one.
    pub fn pop(&mut self) -> bool {
        let Some(c) = self.expose().chars().next_back() else {
            return false;
        };
        let keep = self.0.len() - c.len_utf8();
        self.0.truncate(keep);
        wipe_spare(&mut self.0);
        true
    }

    /// Empties it.
    pub fn clear(&mut self) {
        self.0.truncate(0);
        wipe_spare(&mut self.0);
    }
}

impl From<&str> for Secret {
    fn from(text: &str) -> Secret {
        let mut s = Secret(Vec::with_capacity(text.len().max(INITIAL)));
        s.0.extend_from_slice(text.as_bytes());
        s
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

/// Zeroes the whole buffer, text and spare capacity.
fn wipe(v: &mut Vec<u8>) {
    v.fill(0);
    v.truncate(0);
    wipe_spare(v);
}

/// Zeroes the capacity past the text. `black_box` keeps the compiler from
/// dropping writes that nothing reads afterwards.
fn wipe_spare(v: &mut Vec<u8>) {
    for b in v.spare_capacity_mut() {
        b.write(0);
    }
    std::hint::black_box(&v);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_text() {
        let s = Secret::from("hunter2-and-more");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(format!("{:?}", Some(s.clone())), "Some(Secret(***))");
    }

    #[test]
    fn typing_and_backspace_edit_whole_characters() {
        let mut s = Secret::new();
        for c in "pässwörd€".chars() {
            s.push(c);
        }
        assert_eq!(s.chars(), 9);
        assert!(s.pop());
        assert_eq!(s.expose(), "pässwörd");
        // Growing past the first buffer keeps every character.
        for _ in 0..100 {
            s.push('é');
        }
        assert_eq!(s.chars(), 108);
        s.clear();
        assert!(s.is_empty() && !s.pop());
    }
}
