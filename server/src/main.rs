//! `jwtauth-server`: serve the API (default) or administer users, keys and tokens.

mod cli;

use jwtauth_server::serve::run as serve_run;

/// Threads of the blocking pool (store and password hashing).
const BLOCKING_THREADS: usize = 16;

fn main() -> std::process::ExitCode {
    cli::main()
}
