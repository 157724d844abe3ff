//! `jwtauth-tui`: follow the failure log; manage signing keys, sessions, users and
//! service clients; see the trusted issuers as this process fetches them.

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::Parser;
use jwtauth_core::Config;
use jwtauth_tui::app::{Action, AdminRequest, AdminUpdate, App};
use jwtauth_tui::follow::{self, Follower, LogUpdate};
use jwtauth_tui::{store, ui, worker};
use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{self, Event, KeyEventKind};

/// Admin terminal for jwtauth: failures as they happen, signing keys, trusted
/// issuers, sessions, users and service clients.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The jwtauth.toml to read (default: $JWTAUTH_CONFIG, else ./jwtauth.toml, else defaults).
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Watch only: nothing in the store can be changed.
    #[arg(long)]
    read_only: bool,
    /// How many failures are kept in memory (older ones are dropped).
    #[arg(long, value_name = "N", default_value_t = 50_000, value_parser = clap::value_parser!(u32).range(1..))]
    ring_size: u32,
}

/// Bytes of log history read at start per failure kept (a line is ~300 bytes).
const HISTORY_BYTES_PER_FAILURE: u64 = 512;
/// How often the log is polled for new lines.
const LOG_POLL: Duration = Duration::from_millis(200);
/// Batches (of at most 4 MiB of log each) waiting for the screen; bounds memory.
const LOG_BACKLOG: usize = 8;
/// How long the loop waits for a key before looking at the I/O channels again.
const TICK: Duration = Duration::from_millis(100);

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = Config::load(args.config.as_deref()).context("reading the configuration")?;
    let ring_size = args.ring_size as usize;

    let (log_tx, log_rx) = mpsc::sync_channel(LOG_BACKLOG);
    let history = u64::from(args.ring_size) * HISTORY_BYTES_PER_FAILURE;
    follow::spawn(
        Follower::new(&config.log().dir, &config.log().file_prefix, history),
        LOG_POLL,
        log_tx,
    )
    .context("starting the log follower")?;

    let (req_tx, req_rx) = mpsc::channel();
    let (upd_tx, upd_rx) = mpsc::channel();
    let label = jwtauth_core::store::url_shown(config.store().url());
    let timing = worker::Timing {
        refresh: Duration::from_secs(2),
        retry: Duration::from_secs(3),
    };
    worker::spawn(store::connect(config), label, timing, req_rx, upd_tx).context("starting the store thread")?;

    let app = App::new(ring_size, args.read_only, now());
    // try_init also installs a panic hook that restores the terminal before the message.
    let mut terminal = ratatui::try_init().context("setting up the terminal")?;
    let result = run(&mut terminal, app, &log_rx, &upd_rx, &req_tx);
    ratatui::restore();
    result
}

fn run(
    terminal: &mut DefaultTerminal,
    mut app: App,
    log_rx: &Receiver<LogUpdate>,
    upd_rx: &Receiver<AdminUpdate>,
    req_tx: &Sender<AdminRequest>,
) -> anyhow::Result<()> {
    loop {
        terminal.draw(|f| ui::draw(f, &mut app))?;
        if event::poll(TICK)? {
            // Take every pending input before drawing again.
            loop {
                if let Event::Key(key) = event::read()?
                    && key.kind == KeyEventKind::Press
                {
                    app.update(Action::Key(key));
                }
                if app.quit || !event::poll(Duration::ZERO)? {
                    break;
                }
            }
        }
        // Bounded per frame, so keys stay responsive while the log is read fast.
        for u in log_rx.try_iter().take(LOG_BACKLOG) {
            app.update(Action::Log(u));
        }
        while let Ok(u) = upd_rx.try_recv() {
            app.update(Action::Admin(u));
        }
        app.update(Action::Tick(now()));
        for r in app.requests.drain(..) {
            // The store thread only stops when this loop does.
            let _ = req_tx.send(r);
        }
        if app.quit {
            return Ok(());
        }
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
