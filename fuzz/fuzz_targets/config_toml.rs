//! Any string as `jwtauth.toml` text: `Config::from_toml` must answer Ok or Err.
#![no_main]

use jwtauth_core::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Config::from_toml(text) {
        Ok(c) => {
            let _ = c.rules();
            let _ = format!("{c:?}");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
