//! The boundary every exported function crosses: a panic guard, and checked
//! conversions of C arguments (NULL, UTF-8, lengths) into Rust values, so no entry
//! point dereferences a pointer it did not check.

use std::ffi::{CStr, CString, c_char};
use std::ptr::NonNull;

use crate::status::Failure;

/// Runs `$body` (a block evaluating to `Result<(), Failure>`) behind a panic guard:
/// clears this thread's last error, turns a `Failure` into its status (storing the
/// hint) and a caught panic into `Internal`. No panic unwinds into C.
macro_rules! entry {
    ($body:block) => {{
        $crate::status::clear_last_error();
        let run = || -> Result<(), $crate::status::Failure> { $body };
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
            Ok(Ok(())) => $crate::status::jwtauth_status::Ok,
            Ok(Err(failure)) => failure.report(),
            Err(_) => $crate::status::Failure::panicked().report(),
        }
    }};
}
pub(crate) use entry;

/// Like [`entry!`] for functions that return nothing (the `_free` functions): a
/// panic is swallowed, since there is no status to report it through.
macro_rules! entry_void {
    ($body:block) => {{
        let run = || $body;
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run));
    }};
}
pub(crate) use entry_void;

/// A required, NUL-terminated UTF-8 string argument.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that stays valid and unchanged
/// for `'a`.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, name: &str) -> Result<&'a str, Failure> {
    // SAFETY: forwarded from the caller.
    unsafe { utf8_arg(p, name) }?.ok_or_else(|| Failure::invalid(format!("{name} is NULL")))
}

/// An optional string argument: NULL and "" are `None` (so languages without
/// nullable strings can pass ""); otherwise it must be UTF-8.
///
/// # Safety
/// As for [`str_arg`].
pub(crate) unsafe fn opt_str_arg<'a>(p: *const c_char, name: &str) -> Result<Option<&'a str>, Failure> {
    // SAFETY: forwarded from the caller.
    Ok(unsafe { utf8_arg(p, name) }?.filter(|s| !s.is_empty()))
}

/// A string argument: NULL is `None`; otherwise it must be UTF-8.
///
/// # Safety
/// As for [`str_arg`].
unsafe fn utf8_arg<'a>(p: *const c_char, name: &str) -> Result<Option<&'a str>, Failure> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL and NUL-terminated per the caller's contract.
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
    std::str::from_utf8(bytes).map(Some).map_err(|e| {
        Failure::invalid(format!(
            "{name} is not valid UTF-8 (bad byte at offset {})",
            e.valid_up_to()
        ))
    })
}

/// A required NUL-terminated argument taken as bytes (tokens: any bytes are
/// accepted and judged by the core, so a hostile token is a failure reason, not an
/// argument error).
///
/// # Safety
/// As for [`str_arg`].
pub(crate) unsafe fn bytes_arg<'a>(p: *const c_char, name: &str) -> Result<&'a [u8], Failure> {
    if p.is_null() {
        return Err(Failure::invalid(format!("{name} is NULL")));
    }
    // SAFETY: non-NULL and NUL-terminated per the caller's contract.
    Ok(unsafe { CStr::from_ptr(p) }.to_bytes())
}

/// A required argument given as a pointer and a length (tokens, so that bindings
/// pass their own bytes without a NUL-terminated copy). Any bytes are accepted and
/// judged by the core, a NUL byte included (it makes the token `MALFORMED`). NULL is
/// allowed when `len` is 0 (an empty token, as `""` is).
///
/// # Safety
/// `p` is NULL or points to `len` bytes that stay valid and unchanged for `'a`.
pub(crate) unsafe fn bytes_len_arg<'a>(p: *const u8, len: usize, name: &str) -> Result<&'a [u8], Failure> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Failure::invalid(format!("{name} is NULL but its length is {len}")));
    }
    if len > isize::MAX as usize {
        return Err(Failure::invalid(format!("{name} length {len} is out of range")));
    }
    // SAFETY: non-NULL, `len` bytes per the caller's contract, and the size fits isize.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// Like `bytes_len_arg` for `len` UTF-16 code units (a token from a runtime whose
/// strings are UTF-16).
///
/// # Safety
/// `p` is NULL or points to `len` aligned code units that stay valid and unchanged for `'a`.
pub(crate) unsafe fn units_len_arg<'a>(p: *const u16, len: usize, name: &str) -> Result<&'a [u16], Failure> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Failure::invalid(format!("{name} is NULL but its length is {len}")));
    }
    if len > isize::MAX as usize / 2 {
        return Err(Failure::invalid(format!("{name} length {len} is out of range")));
    }
    if !p.is_aligned() {
        return Err(Failure::invalid(format!("{name} is not aligned to 2 bytes")));
    }
    // SAFETY: non-NULL, aligned, `len` code units per the caller's contract, and the
    // size in bytes fits isize.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// An object C holds a pointer to, and what a call holds of it while it runs.
pub(crate) trait Object {
    /// The object itself, or for a handle its runtime, held by the call.
    type InUse<'a>
    where
        Self: 'a;

    /// What the call uses, or why it cannot (a closed handle).
    fn in_use(&self) -> Result<Self::InUse<'_>, Failure>;
}

/// Objects that are used as they are (immutable, freed by their `_free`).
macro_rules! plain_objects {
    ($($t:ty),*) => {
        $(impl Object for $t {
            type InUse<'a> = &'a $t;

            fn in_use(&self) -> Result<&$t, Failure> {
                Ok(self)
            }
        })*
    };
}

plain_objects!(crate::claims::jwtauth_claims, crate::tokens::jwtauth_tokens);

/// A required pointer to an object owned by the caller (a handle, claims…), and
/// what the call holds of it: for a handle its runtime in this process, so a
/// closed handle is `CLOSED` and one inherited through `fork()` is opened afresh
/// first (see `lifecycle`).
///
/// # Safety
/// `p` is NULL or points to a live `T` made by this library, not freed during `'a`
/// (a handle's memory never is).
pub(crate) unsafe fn ref_arg<'a, T: Object>(p: *const T, name: &str) -> Result<T::InUse<'a>, Failure> {
    // SAFETY: forwarded from the caller.
    let object: &'a T = unsafe { p.as_ref() }.ok_or_else(|| Failure::invalid(format!("{name} is NULL")))?;
    object.in_use()
}

/// An array of `len` strings (`const char *const *`); NULL is allowed when `len` is 0.
///
/// # Safety
/// `p` is NULL or points to `len` pointers, each NULL or a NUL-terminated string,
/// all valid for `'a`.
pub(crate) unsafe fn str_array_arg<'a>(
    p: *const *const c_char,
    len: usize,
    name: &str,
) -> Result<Vec<&'a str>, Failure> {
    if len == 0 {
        return Ok(Vec::new());
    }
    if p.is_null() {
        return Err(Failure::invalid(format!("{name} is NULL but its length is {len}")));
    }
    if len > isize::MAX as usize / size_of::<*const c_char>() {
        return Err(Failure::invalid(format!("{name} length {len} is out of range")));
    }
    // SAFETY: non-NULL, `len` elements per the caller's contract, and the byte size fits isize.
    let items = unsafe { std::slice::from_raw_parts(p, len) };
    items
        .iter()
        .enumerate()
        // SAFETY: each element is NULL or a NUL-terminated string per the caller's contract.
        .map(|(i, s)| unsafe { str_arg(*s, &format!("{name}[{i}]")) })
        .collect()
}

/// An out-parameter: checked for NULL before any work, written once on success.
pub(crate) struct Out<T>(NonNull<T>);

impl<T> Out<T> {
    /// # Safety
    /// `p` is NULL or valid for writing a `T` (its current content is not read).
    pub unsafe fn new(p: *mut T, name: &str) -> Result<Out<T>, Failure> {
        NonNull::new(p)
            .map(Out)
            .ok_or_else(|| Failure::invalid(format!("{name} (out-parameter) is NULL")))
    }

    /// Writes the result, without reading or dropping what was there.
    pub fn set(self, value: T) {
        // SAFETY: `new`'s contract: valid for writes; `write` does not read the old value.
        unsafe { self.0.as_ptr().write(value) }
    }
}

/// A string handed to C, to be freed with `jwtauth_string_free`.
pub(crate) fn owned_c_string(s: String, what: &str) -> Result<*mut c_char, Failure> {
    CString::new(s).map(CString::into_raw).map_err(|_| {
        Failure::new(
            crate::jwtauth_status::TypeMismatch,
            format!("{what} holds a NUL character"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{jwtauth_status, last_error_ptr};

    fn last_error() -> String {
        // SAFETY: this thread's slot, read before any other call.
        unsafe { CStr::from_ptr(last_error_ptr()) }
            .to_string_lossy()
            .into_owned()
    }

    #[allow(clippy::panic)]
    fn panicking() -> jwtauth_status {
        entry!({ panic!("boom") })
    }

    #[test]
    fn a_panic_becomes_internal_and_never_unwinds() {
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let status = panicking();
        std::panic::set_hook(hook);
        assert_eq!(status, jwtauth_status::Internal);
        assert!(last_error().contains("panic"), "{}", last_error());
    }

    #[test]
    fn null_and_non_utf8_arguments_are_invalid() {
        // SAFETY: NULL, and a NUL-terminated literal.
        unsafe {
            assert_eq!(
                str_arg(std::ptr::null(), "x").unwrap_err().status,
                jwtauth_status::InvalidArgument
            );
            assert_eq!(opt_str_arg(std::ptr::null(), "x").unwrap(), None);
            assert_eq!(opt_str_arg(c"".as_ptr(), "x").unwrap(), None);
            assert_eq!(opt_str_arg(c"ES256".as_ptr(), "x").unwrap(), Some("ES256"));
            let bad = c"ab\xffcd";
            let e = str_arg(bad.as_ptr(), "name").unwrap_err();
            assert!(e.hint.contains("offset 2"), "{}", e.hint);
            assert!(str_array_arg(std::ptr::null(), 1, "roles").is_err());
            assert!(str_array_arg(std::ptr::null(), 0, "roles").unwrap().is_empty());
            assert!(Out::<u8>::new(std::ptr::null_mut(), "out").is_err());
            assert_eq!(bytes_len_arg(std::ptr::null(), 0, "token").unwrap(), b"");
            let e = bytes_len_arg(std::ptr::null(), 3, "token").unwrap_err();
            assert_eq!(e.status, jwtauth_status::InvalidArgument);
            assert!(e.hint.contains("NULL"), "{}", e.hint);
            assert_eq!(bytes_len_arg(b"a\0b".as_ptr(), 3, "token").unwrap(), b"a\0b");
            let e = bytes_len_arg(b"x".as_ptr(), usize::MAX, "token").unwrap_err();
            assert!(e.hint.contains("out of range"), "{}", e.hint);
        }
    }
}
