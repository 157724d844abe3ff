//! `jwtauth-server`: serve the API (default) or administer users, keys and tokens.

mod cli;

use jwtauth_server::serve::run as serve_run;

fn main() -> std::process::ExitCode {
    cli::main()
}
