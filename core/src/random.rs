//! System randomness, with the one error every room reports when it is missing.

/// The operating system could not supply random bytes. Nothing is issued, stored
/// or generated without them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("system randomness unavailable")]
pub struct NoRandomness;

/// Fills `buf` with random bytes from the system.
pub(crate) fn fill(buf: &mut [u8]) -> Result<(), NoRandomness> {
    aws_lc_rs::rand::fill(buf).map_err(|_| NoRandomness)
}

/// `N` random bytes as unpadded base64url: ids and opaque tokens.
pub fn b64_id<const N: usize>() -> Result<String, NoRandomness> {
    let mut raw = zeroize::Zeroizing::new([0u8; N]);
    fill(&mut *raw)?;
    Ok(crate::encoding::b64(&*raw))
}
