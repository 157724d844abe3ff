//! Drives refresh-token rotation from a separate process: used by the multi-process
//! tests (races, SIGKILL in mid-rotation) and handy for loading a store by hand.
//!
//! ```text
//! cargo run -p jwtauth-core --example session_worker -- race  STORE_URL TOKEN GO_FILE
//! cargo run -p jwtauth-core --example session_worker -- chain STORE_URL TOKEN
//! ```
//! `race` waits until GO_FILE exists, refreshes TOKEN once and prints `ok` or the
//! failure reason. `chain` refreshes forever, printing each new refresh token as soon
//! as the call returns it (so a reader knows it was committed).

use std::io::Write;
use std::path::Path;

use jwtauth_core::{Config, JwtAuth, RequestInfo};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [mode, url, token, rest @ ..] = args.as_slice() else {
        return Err("usage: session_worker race|chain STORE_URL TOKEN [GO_FILE]".into());
    };
    // The tests' PostgreSQL schemas hold throwaway keys; SQLite seals beside the file.
    let unsealed = if url.starts_with("postgres") {
        "allow_unsealed_keys = true\n"
    } else {
        ""
    };
    let config = Config::from_toml(&format!(
        "access_ttl = \"10m\"\nrefresh_idle_ttl = \"1d\"\nrefresh_max_ttl = \"7d\"\n{unsealed}[store]\nurl = \"{url}\"\npool_size = 2\n"
    ))?;
    let auth = JwtAuth::open(config)?;
    let mut out = std::io::stdout().lock();
    match mode.as_str() {
        "race" => {
            let go = rest.first().ok_or("race needs GO_FILE")?;
            writeln!(out, "ready")?;
            out.flush()?;
            while !Path::new(go).exists() {
                std::thread::yield_now();
            }
            match auth.sessions().refresh(token, &RequestInfo::default()) {
                Ok(_) => writeln!(out, "ok")?,
                Err(e) => writeln!(out, "{}", e.reason().map_or("error", |r| r.as_str()))?,
            }
        }
        "chain" => {
            let mut current = token.clone();
            loop {
                let pair = auth.sessions().refresh(&current, &RequestInfo::default())?;
                current = pair.refresh_token.expose().to_string();
                writeln!(out, "{current}")?;
                out.flush()?;
            }
        }
        other => return Err(format!("unknown mode {other}").into()),
    }
    Ok(())
}
