//! Any bytes as one line of the failure log, read back by the TUI.
#![no_main]

use jwtauth_tui::failure::{Failure, clock_time, date_time, host_of};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = Failure::parse(data) {
        let _ = f.client_host();
        let _ = clock_time(f.at);
        let _ = date_time(f.at);
        if let Some(r) = f.reason {
            let _ = r.as_str();
        }
    }
    let _ = host_of(&String::from_utf8_lossy(data));
});
