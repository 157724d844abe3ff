//! Command line: `serve` (the default) and the administration subcommands.

use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use jwtauth_core::{Algorithm, Config, JwtAuth, KeyState, OpenOptions};

#[derive(Parser)]
#[command(
    name = "jwtauth-server",
    version,
    about = "JWT authentication server and its administration"
)]
struct Cli {
    /// Configuration file (else $JWTAUTH_CONFIG, else ./jwtauth.toml, else defaults).
    #[arg(long, short, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (the default).
    Serve {
        /// Also serve the products list without authentication at
        /// /bench/unprotected-products (the benchmark's baseline; never in production).
        #[arg(long, hide = true)]
        bench_baseline_route: bool,
    },
    /// Create the store and its first key and admin, without serving (the admin
    /// commands and the TUI only open a store that exists).
    Init,
    /// Manage users.
    #[command(subcommand)]
    User(UserCmd),
    /// Manage service clients (the client_credentials grant).
    #[command(subcommand)]
    Client(ClientCmd),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Diagnose tokens.
    #[command(subcommand)]
    Token(TokenCmd),
}

#[derive(Subcommand)]
enum UserCmd {
    /// Add a user; the password is read from a prompt, or from stdin when piped.
    Add {
        /// Login name.
        name: String,
        /// Role (repeat for several).
        #[arg(long)]
        role: Vec<String>,
    },
    /// List users.
    List,
    /// Disable a user and end its sessions.
    Disable {
        /// Login name.
        name: String,
    },
    /// Let a disabled user log in again.
    Enable {
        /// Login name.
        name: String,
    },
    /// Change a user's password (prompt, or stdin when piped) and end its sessions.
    Passwd {
        /// Login name.
        name: String,
    },
    /// Add or remove roles; the user's sessions end (their tokens carry the old roles).
    Roles {
        /// Login name.
        name: String,
        /// Role to add (repeat for several).
        #[arg(long)]
        add: Vec<String>,
        /// Role to remove (repeat for several).
        #[arg(long)]
        remove: Vec<String>,
    },
    /// Delete a user and end its sessions.
    Delete {
        /// Login name.
        name: String,
    },
}

#[derive(Subcommand)]
enum ClientCmd {
    /// Register a service client; prints its id and secret once (only a hash is kept).
    Add {
        /// Client id (also the `sub` of its tokens).
        name: String,
        /// Role (repeat for several).
        #[arg(long)]
        role: Vec<String>,
        /// Print {"client_id":…,"client_secret":…} on stdout.
        #[arg(long)]
        json: bool,
    },
    /// List clients.
    List,
    /// Disable a client; its tokens stop validating.
    Disable {
        /// Client id.
        name: String,
    },
    /// Replace a client's secret; prints the new one once, the old one stops working.
    RotateSecret {
        /// Client id.
        name: String,
        /// Print {"client_id":…,"client_secret":…} on stdout.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum KeysCmd {
    /// List keys and their lifecycle.
    List,
    /// Publish a new key now; it starts signing after key_publish_ahead, when the
    /// active key becomes verify-only and keeps verifying until its tokens expire.
    Rotate {
        /// Algorithm of the new key (default: the configured one): HS256, HS384, HS512,
        /// RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512 or EdDSA.
        #[arg(long, value_parser = parse_algorithm)]
        alg: Option<Algorithm>,
        /// Sign with the new key at once (an emergency): relying parties that cached
        /// the JWKS refuse its tokens until they fetch it again.
        #[arg(long)]
        now: bool,
    },
    /// Retire a verify-only or next key (e.g. a compromised one); every server
    /// sharing the store refuses it within revocation_staleness.
    Retire {
        /// Key id (base64url: it may start with `-`).
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
    /// Seal every key stored unencrypted under the configured master key, in one transaction.
    Seal,
}

#[derive(Subcommand)]
enum TokenCmd {
    /// Decode a token and explain why it is or is not valid here.
    Inspect {
        /// The token (or a whole `Bearer …` value); `-` reads it from stdin, which
        /// keeps it out of the shell history and the process list.
        token: String,
    },
}

/// An algorithm by its exact JOSE name (the names are case-sensitive, as in
/// `jwtauth.toml`); a near miss is answered with the name meant, anything else with
/// the list of names.
fn parse_algorithm(s: &str) -> Result<Algorithm, String> {
    if let Ok(a) = s.parse() {
        return Ok(a);
    }
    if let Some(a) = Algorithm::ALL.iter().find(|a| a.as_str().eq_ignore_ascii_case(s)) {
        return Err(format!("did you mean {a}? (algorithm names are case-sensitive)"));
    }
    let names: Vec<&str> = Algorithm::ALL.iter().map(|a| a.as_str()).collect();
    Err(format!(
        "not an algorithm jwtauth knows; use one of {}",
        names.join(", ")
    ))
}

/// Whether log lines on stderr may carry colours: only on a terminal, and never
/// when `NO_COLOR` is set to anything (https://no-color.org).
fn colour_stderr() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// What logging needs kept until the end: the failure log's writer, and the access-log
/// lines still waiting for stderr (both written out when dropped).
struct LogGuard {
    _failures: jwtauth_core::audit::FailureLogGuard,
    _stderr: jwtauth_server::logs::Flush,
}

fn init_logging(config: &Config) -> anyhow::Result<LogGuard> {
    use tracing_subscriber::prelude::*;
    let (failures, failures_guard) = jwtauth_core::audit::file_layer(config.log())?;
    // Failure events go to the failure log only. One filter whose directives are all
    // static, so the interest of each callsite is settled once, not on every event.
    let quiet_failures = format!("{}=off", jwtauth_core::audit::TARGET)
        .parse()
        .context("the failure target's filter directive")?;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info".into())
        .add_directive(quiet_failures);
    let (writer, stderr_guard) = jwtauth_server::logs::Stderr::new();
    // Colours for a person at a terminal; elsewhere (a file, a pipe, journald) the
    // plain layout, which writes access-log lines cheaply. Either one, boxed: an
    // absent (`None`) layer would take an interest in every span and event, and the
    // registry would build them all even with the log off.
    let stderr = if colour_stderr() {
        let layer = tracing_subscriber::fmt::layer().with_writer(writer).with_ansi(true);
        layer.with_filter(filter).boxed()
    } else {
        let layer = tracing_subscriber::fmt::layer()
            .with_writer(writer)
            .with_ansi(false)
            .event_format(jwtauth_server::logs::Plain::default())
            .fmt_fields(jwtauth_server::logs::PlainFields);
        layer.with_filter(filter).boxed()
    };
    tracing_subscriber::registry()
        .with(failures)
        .with(stderr)
        .try_init()
        .context("installing the logger")?;
    Ok(LogGuard {
        _failures: failures_guard,
        _stderr: stderr_guard,
    })
}

fn read_password() -> anyhow::Result<zeroizing::Password> {
    if std::io::stdin().is_terminal() {
        let a = rpassword::prompt_password("Password: ")?;
        let b = rpassword::prompt_password("Again: ")?;
        if a != b {
            bail!("the passwords differ");
        }
        Ok(zeroizing::Password(a))
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Ok(zeroizing::Password(line.trim_end_matches(['\r', '\n']).to_owned()))
    }
}

/// The token piped to `token inspect -`, bounded: anything past the largest
/// `max_token_size` is refused by the size check anyway.
fn read_token() -> anyhow::Result<String> {
    const BOUND: u64 = 1024 * 1024 + 1;
    let mut raw = Vec::new();
    std::io::stdin().lock().take(BOUND).read_to_end(&mut raw)?;
    let text = String::from_utf8(raw).map_err(|_| anyhow::anyhow!("the token on stdin is not UTF-8"))?;
    Ok(text.trim().to_owned())
}

mod zeroizing {
    /// A password read from the person; not printed by `Debug`.
    pub struct Password(pub String);
    impl Drop for Password {
        fn drop(&mut self) {
            // Overwrite before the allocation is freed.
            let len = self.0.len();
            self.0.clear();
            self.0.extend(std::iter::repeat_n('\0', len));
        }
    }
}

fn when(t: Option<i64>) -> String {
    t.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|d| d.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| "-".into())
}

/// A key state as people read it (`verify-only`), like the TUI and the README.
fn state_name(state: KeyState) -> String {
    state.as_str().replace('_', "-")
}

/// The time claims of a decoded token, each as epoch seconds and in ISO 8601 (UTC).
fn claim_times(claims: &serde_json::Value) -> Vec<String> {
    ["iat", "nbf", "exp"]
        .iter()
        .filter_map(|name| {
            let v = claims.get(*name)?;
            let shown = match v.as_i64() {
                Some(t) => match time::OffsetDateTime::from_unix_timestamp(t)
                    .ok()
                    .and_then(|d| d.format(&time::format_description::well_known::Rfc3339).ok())
                {
                    Some(iso) => format!("{t} = {iso}"),
                    None => format!("{t} (not a representable date)"),
                },
                None => format!("{v} (not a number of seconds)"),
            };
            Some(format!("{name:<3} {shown}"))
        })
        .collect()
}

fn admin(config: Config, command: Command) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if let Command::Init = command {
        let auth = JwtAuth::open(config).context("creating the store")?;
        if let Some(password) = auth.users().bootstrap_admin()? {
            jwtauth_server::serve::show_first_password(&auth.config().log().dir, password.expose())?;
        }
        writeln!(out, "store {} is ready", auth.store().url())?;
        return Ok(());
    }
    // Administration opens what exists and creates nothing: run in the wrong folder,
    // it says which store it looked for instead of making a new one. Only key
    // administration hears about keys stored unsealed; user and client commands do not.
    let options = OpenOptions::admin().warn_at_rest(matches!(command, Command::Keys(_)));
    let auth = JwtAuth::open_with(config, options).context("opening jwtauth")?;
    match command {
        Command::Serve { .. } | Command::Init => bail!("not an administration command"),
        Command::User(UserCmd::Add { name, role }) => {
            let password = read_password()?;
            let roles: Vec<&str> = role.iter().map(String::as_str).collect();
            auth.users().add(&name, &password.0, &roles)?;
            writeln!(out, "user '{name}' added with roles [{}]", roles.join(", "))?;
        }
        Command::User(UserCmd::List) => {
            writeln!(out, "{:<24} {:<9} {:<26} ROLES", "NAME", "STATE", "CREATED")?;
            for u in auth.users().list()? {
                let state = if u.disabled { "disabled" } else { "active" };
                writeln!(
                    out,
                    "{:<24} {:<9} {:<26} {}",
                    u.name,
                    state,
                    when(Some(u.created_at)),
                    u.roles.join(",")
                )?;
            }
        }
        Command::User(UserCmd::Disable { name }) => {
            if !auth.users().disable(&name)? {
                bail!("no user '{name}'");
            }
            writeln!(out, "user '{name}' disabled; its sessions and tokens are revoked")?;
        }
        Command::User(UserCmd::Enable { name }) => {
            if !auth.users().enable(&name)? {
                bail!("no user '{name}'");
            }
            writeln!(out, "user '{name}' enabled; it may log in again")?;
        }
        Command::User(UserCmd::Passwd { name }) => {
            let key = jwtauth_core::users::name_key(&name);
            if !auth
                .users()
                .list()?
                .iter()
                .any(|u| jwtauth_core::users::name_key(&u.name) == key)
            {
                bail!("no user '{name}'");
            }
            let password = read_password()?;
            if !auth.users().set_password(&name, &password.0)? {
                bail!("no user '{name}'");
            }
            writeln!(out, "password of '{name}' changed; its sessions and tokens are revoked")?;
        }
        Command::User(UserCmd::Roles { name, add, remove }) => {
            if add.is_empty() && remove.is_empty() {
                bail!("name a role to --add or --remove");
            }
            let add: Vec<&str> = add.iter().map(String::as_str).collect();
            let remove: Vec<&str> = remove.iter().map(String::as_str).collect();
            let Some(roles) = auth.users().change_roles(&name, &add, &remove)? else {
                bail!("no user '{name}'");
            };
            writeln!(
                out,
                "user '{name}' now has roles [{}]; its sessions and tokens are revoked",
                roles.join(", ")
            )?;
        }
        Command::User(UserCmd::Delete { name }) => {
            if !auth.users().delete(&name)? {
                bail!("no user '{name}'");
            }
            writeln!(out, "user '{name}' deleted; its sessions and tokens are revoked")?;
        }
        Command::Client(cmd) => client(&auth, cmd, &mut out)?,
        Command::Keys(KeysCmd::List) => {
            writeln!(
                out,
                "{:<45} {:<6} {:<12} {:<26} {:<26} RETIREMENT",
                "KID", "ALG", "STATE", "CREATED", "SIGNS FROM"
            )?;
            for k in auth.keys().list()? {
                let signs_from = if k.state == KeyState::Next {
                    k.activates_at
                } else {
                    None
                };
                writeln!(
                    out,
                    "{:<45} {:<6} {:<12} {:<26} {:<26} {}",
                    k.kid.as_str(),
                    k.algorithm.to_string(),
                    state_name(k.state),
                    when(Some(k.created_at)),
                    when(signs_from),
                    when(k.retirement())
                )?;
            }
        }
        Command::Keys(KeysCmd::Rotate { alg, now }) => {
            if now || auth.keys().publish_ahead() == 0 {
                let kid = auth.keys().rotate_now(alg)?;
                writeln!(out, "new active key {}", kid.as_str())?;
                if now {
                    let _ = writeln!(
                        std::io::stderr(),
                        "warning: the new key signs at once; relying parties that cached the JWKS refuse its tokens until they fetch it again"
                    );
                }
            } else {
                let kid = auth.keys().rotate(alg)?;
                let at = auth
                    .keys()
                    .list()?
                    .into_iter()
                    .find(|k| k.kid == kid)
                    .and_then(|k| k.activates_at);
                writeln!(
                    out,
                    "new key {} published; it signs at {} (unix time {})",
                    kid.as_str(),
                    when(at),
                    at.unwrap_or_default()
                )?;
            }
        }
        Command::Keys(KeysCmd::Retire { kid }) => {
            auth.keys().retire(&kid)?;
            writeln!(out, "key {kid} retired")?;
        }
        Command::Keys(KeysCmd::Seal) => {
            let n = auth.keys().seal_all()?;
            let left = auth.keys().unsealed_count()?;
            writeln!(
                out,
                "sealed {n} key{} under the master key; {left} left unsealed",
                if n == 1 { "" } else { "s" }
            )?;
        }
        Command::Token(TokenCmd::Inspect { token }) => {
            let token = if token == "-" { read_token()? } else { token };
            let i = auth.verifier().inspect(&token);
            let show = |v: &Option<serde_json::Value>| {
                v.as_ref()
                    .and_then(|v| serde_json::to_string_pretty(v).ok())
                    .unwrap_or_else(|| "(not decodable)".into())
            };
            writeln!(out, "header (unverified):\n{}", show(&i.header))?;
            writeln!(out, "claims (unverified):\n{}", show(&i.claims))?;
            if let Some(c) = &i.claims {
                let times = claim_times(c);
                if !times.is_empty() {
                    writeln!(out, "times (UTC):")?;
                    for t in times {
                        writeln!(out, "  {t}")?;
                    }
                }
            }
            for n in &i.notes {
                writeln!(out, "note: {n}")?;
            }
            match i.verdict {
                Ok(c) => writeln!(
                    out,
                    "VALID: subject '{}', roles [{}], key {}",
                    c.subject(),
                    c.roles().join(", "),
                    c.kid().as_str()
                )?,
                Err(e) => {
                    writeln!(out, "INVALID: {}: {}", e.reason.as_str(), e.hint)?;
                    out.flush()?;
                    std::process::exit(2);
                }
            }
        }
    }
    Ok(())
}

fn client(auth: &JwtAuth, cmd: ClientCmd, out: &mut impl Write) -> anyhow::Result<()> {
    let secret_out = |out: &mut dyn Write, id: &str, secret: &str, json: bool| -> anyhow::Result<()> {
        if json {
            writeln!(out, "{}", serde_json::json!({"client_id": id, "client_secret": secret}))?;
        } else {
            writeln!(out, "client_id:     {id}\nclient_secret: {secret}")?;
            let _ = writeln!(
                std::io::stderr(),
                "The secret is shown only this once; only its hash is stored."
            );
        }
        Ok(())
    };
    match cmd {
        ClientCmd::Add { name, role, json } => {
            let roles: Vec<&str> = role.iter().map(String::as_str).collect();
            let c = auth.clients().add(&name, &roles)?;
            secret_out(out, &c.client_id, c.secret.expose(), json)?;
        }
        ClientCmd::List => {
            writeln!(
                out,
                "{:<24} {:<9} {:<26} {:<26} ROLES",
                "CLIENT_ID", "STATE", "CREATED", "SECRET FROM"
            )?;
            for c in auth.clients().list()? {
                let state = if c.disabled { "disabled" } else { "active" };
                writeln!(
                    out,
                    "{:<24} {:<9} {:<26} {:<26} {}",
                    c.client_id,
                    state,
                    when(Some(c.created_at)),
                    when(Some(c.secret_created_at)),
                    c.roles.join(",")
                )?;
            }
        }
        ClientCmd::Disable { name } => {
            auth.clients().disable(&name)?;
            writeln!(out, "client '{name}' disabled; its tokens are revoked")?;
        }
        ClientCmd::RotateSecret { name, json } => {
            let secret = auth.clients().rotate_secret(&name)?;
            secret_out(out, &name, secret.expose(), json)?;
        }
    }
    Ok(())
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = (|| -> anyhow::Result<()> {
        let config = Config::load(cli.config.as_deref())?;
        let _guard = init_logging(&config)?;
        match cli.command.unwrap_or(Command::Serve {
            bench_baseline_route: false,
        }) {
            Command::Serve { bench_baseline_route } => {
                // Store calls are short and SQLite serialises writers anyway: a small blocking
                // pool keeps threads (and their malloc arenas) from piling up under load.
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .max_blocking_threads(crate::BLOCKING_THREADS)
                    .build()?;
                let state = runtime.block_on(crate::serve_run(config, bench_baseline_route))?;
                drop(runtime);
                drop(state);
                Ok(())
            }
            other => admin(config, other),
        }
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "jwtauth-server: {e:#}");
            ExitCode::FAILURE
        }
    }
}
