//! Issues an access token with the laptop defaults (or `jwtauth.toml` and the
//! `JWTAUTH_*` environment), validates it, and shows the JWKS and what a token sent
//! without the "Bearer " prefix gets.
//!
//! `cargo run -p jwtauth-core --example quickstart`

use jwtauth_core::{Config, RequestInfo, Tokens};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::load(None)?;
    let _log = jwtauth_core::audit::init(config.log())?;
    let auth = Tokens::new(config)?;

    let issued = auth.issuer().issue("alice", &["Admin"], &Default::default())?;
    println!(
        "issued by key {} (expires at {}):\n{}\n",
        issued.kid, issued.expires_at, issued.token
    );

    let claims = auth
        .verifier()
        .validate_header(Some(&format!("Bearer {}", issued.token)), &RequestInfo::default())?;
    println!(
        "valid: sub={} roles={:?} aud={:?}\n",
        claims.subject(),
        claims.roles(),
        claims.audience()
    );

    match auth
        .verifier()
        .validate_header(Some(&issued.token), &RequestInfo::default())
    {
        Ok(_) => println!("unexpected: a bare token was accepted"),
        Err(e) => println!("without the prefix: {e}\n"),
    }
    println!("JWKS: {}", serde_json::to_string_pretty(&auth.verifier().jwks())?);
    println!(
        "\nfailures are logged as JSON lines under {}",
        auth.config().log().dir.display()
    );
    Ok(())
}
