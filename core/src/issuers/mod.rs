//! Trusted external issuers (the JwtBearer "Authority" case): their discovery
//! document and key set fetched on a background thread, cached within the bounds
//! of `Cache-Control: max-age`, kept as last known good while the issuer is
//! unreachable, and refetched on an unknown kid at most once per cooldown.
//!
//! Validation never waits on the network in steady state: it reads the current
//! key set behind an atomic pointer. Only a token naming a kid the set does not
//! have may wait (bounded) for one refetch.

mod fetch;
mod jwks;

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use serde_json::Value;

pub use fetch::{DEFAULT_MAX_AGE, MAX_AGE_BOUNDS, MAX_DOCUMENT_BYTES, check_url};
pub use jwks::MAX_KEYS;

use crate::clock::Clock;
use crate::error::clip;
use crate::keys::{Algorithm, KeyRing};

/// Where an issuer's keys are found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// An OpenID Connect discovery document whose `jwks_uri` names the key set.
    Discovery(String),
    /// The key set itself.
    Jwks(String),
}

/// How one trusted issuer is reached (checked by the configuration).
#[derive(Debug, Clone)]
pub struct IssuerSettings {
    /// The issuer's `iss`, exactly.
    pub issuer: String,
    /// Where its keys are.
    pub source: KeySource,
    /// Algorithms its keys may be pinned to (empty: those the keys name).
    pub algorithms: Vec<Algorithm>,
    /// Plain http to a host other than a loopback address.
    pub allow_http: bool,
    /// Connect and overall timeout of one fetch.
    pub fetch_timeout: Duration,
    /// How long the last key set fetched keeps working while the issuer is unreachable.
    pub last_known_good: Duration,
    /// The least time between two refetches asked for by unknown kids.
    pub refetch_cooldown: Duration,
}

/// What is known about a trusted issuer now, for `/readyz`, metrics and the TUI.
#[derive(Debug, Clone, PartialEq)]
pub struct IssuerStatus {
    /// The issuer's `iss`.
    pub issuer: String,
    /// Whether its tokens can be validated now (a key set within its last-known-good time).
    pub usable: bool,
    /// Key ids and algorithms of the current set.
    pub keys: Vec<(String, String)>,
    /// When the current set was fetched (seconds since the Unix epoch).
    pub last_fetch: Option<i64>,
    /// When the next background fetch is due.
    pub next_refresh: Option<i64>,
    /// The last failure and when it happened.
    pub last_error: Option<(i64, String)>,
    /// Since when every fetch has failed.
    pub unreachable_since: Option<i64>,
    /// Fetches attempted so far.
    pub fetches: u64,
    /// Why keys of the last set fetched were skipped.
    pub warnings: Vec<String>,
}

impl IssuerStatus {
    /// The status as JSON (for `/readyz` and the TUI).
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "issuer": self.issuer,
            "usable": self.usable,
            "keys": self.keys.iter().map(|(k, a)| serde_json::json!({"kid": k, "alg": a})).collect::<Vec<_>>(),
            "last_fetch": self.last_fetch,
            "next_refresh": self.next_refresh,
            "last_error": self.last_error.as_ref().map(|(at, e)| serde_json::json!({"at": at, "error": e})),
            "unreachable_since": self.unreachable_since,
            "fetches": self.fetches,
            "warnings": self.warnings,
        })
    }
}

/// A key set fetched, with its times.
struct Current {
    ring: Arc<KeyRing>,
    fetched_at: i64,
    /// Past this, the set is no longer used (`last_known_good` after the fetch).
    good_until: i64,
}

#[derive(Default)]
struct State {
    /// A fetch is asked for (at start, or by an unknown kid).
    pending: bool,
    fetching: bool,
    /// Counts finished fetches, so that waiters see one end.
    generation: u64,
    /// When an unknown kid last asked for a fetch.
    last_demand: Option<i64>,
    next_attempt: i64,
    last_error: Option<(i64, String)>,
    unreachable_since: Option<i64>,
    warnings: Vec<String>,
    fetches: u64,
}

struct Shared {
    settings: IssuerSettings,
    clock: Arc<dyn Clock>,
    current: ArcSwapOption<Current>,
    state: Mutex<State>,
    /// Wakes the fetching thread.
    wake: Condvar,
    /// Wakes those waiting for a fetch to end.
    done: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One trusted issuer: its current key set and the thread that keeps it fresh.
/// Cheap to clone; the thread ends (within a second) once every clone is dropped.
#[derive(Clone)]
pub struct TrustedIssuer(Arc<Shared>);

impl std::fmt::Debug for TrustedIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustedIssuer")
            .field("issuer", &self.0.settings.issuer)
            .finish_non_exhaustive()
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// Seconds since the Unix epoch as an RFC 3339 instant, for hints.
fn instant(t: i64) -> String {
    let at = std::time::UNIX_EPOCH + Duration::from_secs(u64::try_from(t).unwrap_or(0));
    humantime::format_rfc3339_seconds(at).to_string()
}

impl TrustedIssuer {
    /// Starts fetching in the background at once; a failure is not fatal (tokens
    /// of this issuer then fail with a hint saying why, until a fetch succeeds).
    pub fn start(settings: IssuerSettings, clock: Arc<dyn Clock>) -> TrustedIssuer {
        let shared = Arc::new(Shared {
            settings,
            clock,
            current: ArcSwapOption::empty(),
            state: Mutex::new(State {
                pending: true,
                ..State::default()
            }),
            wake: Condvar::new(),
            done: Condvar::new(),
        });
        let weak = Arc::downgrade(&shared);
        let name = format!("jwtauth-issuer-{}", shared.settings.issuer.len());
        let spawned = std::thread::Builder::new().name(name).spawn(move || run(weak));
        if let Err(e) = spawned {
            let now = shared.clock.now();
            let mut st = shared.lock();
            st.pending = false;
            st.last_error = Some((now, format!("no thread to fetch keys with: {e}")));
            st.unreachable_since = Some(now);
        }
        TrustedIssuer(shared)
    }

    /// The issuer's `iss`.
    pub fn issuer(&self) -> &str {
        &self.0.settings.issuer
    }

    /// The settings.
    pub fn settings(&self) -> &IssuerSettings {
        &self.0.settings
    }

    /// The key set to validate with now, or why there is none.
    pub fn keys(&self, now: i64) -> Result<Arc<KeyRing>, String> {
        if let Some(c) = &*self.0.current.load()
            && now <= c.good_until
        {
            return Ok(c.ring.clone());
        }
        Err(self.why_unusable(now))
    }

    fn why_unusable(&self, now: i64) -> String {
        let st = self.0.lock();
        let issuer = clip(&self.0.settings.issuer);
        let cause = match (&st.unreachable_since, &st.last_error) {
            (Some(since), Some((_, e))) => format!("issuer unreachable since {} ({e})", instant(*since)),
            _ if st.pending || st.fetching => "its key set is still being fetched".to_string(),
            _ => "no key set has been fetched".to_string(),
        };
        match &*self.0.current.load() {
            Some(c) if now > c.good_until => format!(
                "the key set of trusted issuer '{issuer}' fetched at {} is past its last_known_good time; {cause}",
                instant(c.fetched_at)
            ),
            _ => format!("trusted issuer '{issuer}' has no usable key set: {cause}"),
        }
    }

    /// Whether [`TrustedIssuer::refetch`] would fetch (or wait for a fetch) now.
    pub fn refetch_due(&self) -> bool {
        let st = self.0.lock();
        st.pending || st.fetching || self.cooled_down(&st, self.0.clock.now())
    }

    fn cooled_down(&self, st: &State, now: i64) -> bool {
        st.last_demand
            .is_none_or(|t| now.saturating_sub(t) >= secs(self.0.settings.refetch_cooldown))
    }

    /// Asks for a fetch because a token named a kid the set does not have, at most
    /// once per `refetch_cooldown` (a fetch already under way is waited for
    /// instead), and waits up to `wait` for it. True when a fetch ended meanwhile.
    pub fn refetch(&self, wait: Duration) -> bool {
        let now = self.0.clock.now();
        let mut st = self.0.lock();
        let start = st.generation;
        if !(st.pending || st.fetching) {
            if !self.cooled_down(&st, now) {
                return false;
            }
            st.last_demand = Some(now);
            st.pending = true;
            self.0.wake.notify_all();
        }
        let deadline = Instant::now() + wait;
        while st.generation == start {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            st = self
                .0
                .done
                .wait_timeout(st, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }

    /// What is known now.
    pub fn status(&self) -> IssuerStatus {
        let now = self.0.clock.now();
        let current = self.0.current.load_full();
        let st = self.0.lock();
        IssuerStatus {
            issuer: self.0.settings.issuer.clone(),
            usable: current.as_ref().is_some_and(|c| now <= c.good_until),
            keys: current
                .as_ref()
                .map(|c| {
                    c.ring
                        .keys()
                        .iter()
                        .map(|k| (k.kid().to_string(), k.algorithm().to_string()))
                        .collect()
                })
                .unwrap_or_default(),
            last_fetch: current.as_ref().map(|c| c.fetched_at),
            next_refresh: (!st.pending && !st.fetching).then_some(st.next_attempt),
            last_error: st.last_error.clone(),
            unreachable_since: st.unreachable_since,
            fetches: st.fetches,
            warnings: st.warnings.clone(),
        }
    }
}

/// The fetching thread: a fetch when one is asked for or due, else a short sleep.
/// It holds the issuer only weakly between rounds, so it ends when the issuer is dropped.
fn run(weak: Weak<Shared>) {
    let mut fetcher = None;
    let mut jwks_url = None;
    loop {
        let Some(shared) = weak.upgrade() else { return };
        {
            let st = shared.lock();
            let due = st.pending || shared.clock.now() >= st.next_attempt;
            if !due {
                // Wake at least twice a second: the clock may be a test's, moved by hand.
                let _ = shared
                    .wake
                    .wait_timeout(st, Duration::from_millis(500))
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            }
        }
        {
            let mut st = shared.lock();
            st.pending = false;
            st.fetching = true;
        }
        let settings = &shared.settings;
        if fetcher.is_none() {
            fetcher = Some(fetch::Fetcher::new(settings.fetch_timeout, settings.allow_http));
        }
        let result = match &fetcher {
            Some(Ok(f)) => fetch_keys(settings, f, &mut jwks_url, shared.clock.now()),
            Some(Err(e)) => Err(e.clone()),
            None => Err("no HTTP client".into()),
        };
        let now = shared.clock.now();
        let mut st = shared.lock();
        st.fetching = false;
        st.fetches += 1;
        match result {
            Ok((keys, max_age)) => {
                if keys.warnings != st.warnings {
                    for w in &keys.warnings {
                        tracing::warn!(issuer = %settings.issuer, "trusted issuer key set: {w}");
                    }
                }
                st.warnings = keys.warnings;
                // A ring of verify-only keys: unique kids, none active.
                match KeyRing::new(keys.keys) {
                    Ok(ring) => {
                        let ring = match shared.current.load().as_ref() {
                            Some(previous) => ring.keeping_unchanged(&previous.ring),
                            None => ring,
                        };
                        shared.current.store(Some(Arc::new(Current {
                            ring: Arc::new(ring),
                            fetched_at: now,
                            good_until: now.saturating_add(secs(settings.last_known_good)),
                        })));
                        st.last_error = None;
                        st.unreachable_since = None;
                        // Refresh before expiry, so validation never waits on it.
                        let age = max_age.unwrap_or(DEFAULT_MAX_AGE);
                        st.next_attempt = now.saturating_add(age - age / 5);
                    }
                    Err(e) => failed(&mut st, settings, now, e.to_string()),
                }
            }
            Err(e) => failed(&mut st, settings, now, e),
        }
        st.generation += 1;
        shared.done.notify_all();
    }
}

fn failed(st: &mut State, settings: &IssuerSettings, now: i64, error: String) {
    tracing::warn!(issuer = %settings.issuer, "fetching the trusted issuer's keys failed: {error}");
    st.last_error = Some((now, error));
    st.unreachable_since.get_or_insert(now);
    st.next_attempt = now.saturating_add(secs(settings.refetch_cooldown).max(1));
}

/// One round: the discovery document (the first time, or after a failure), then
/// the key set. Returns the keys and the set's `max-age`.
fn fetch_keys(
    settings: &IssuerSettings,
    fetcher: &fetch::Fetcher,
    jwks_url: &mut Option<reqwest::Url>,
    now: i64,
) -> Result<(jwks::KeySet, Option<i64>), String> {
    let url = match (&settings.source, jwks_url.clone()) {
        (_, Some(u)) => u,
        (KeySource::Jwks(u), None) => check_url(u, settings.allow_http)?,
        (KeySource::Discovery(d), None) => {
            let url = discover(settings, fetcher, d)?;
            *jwks_url = Some(url.clone());
            url
        }
    };
    let result = fetcher
        .get(&url)
        .and_then(|doc| Ok((jwks::parse(&doc.body, &settings.algorithms, now)?, doc.max_age)));
    if result.is_err() && matches!(settings.source, KeySource::Discovery(_)) {
        // The issuer may have moved its keys: discover again next time.
        *jwks_url = None;
    }
    result
}

/// Reads the discovery document: its `issuer` must be ours exactly, its
/// `jwks_uri` https by the same rules as every URL fetched.
fn discover(settings: &IssuerSettings, fetcher: &fetch::Fetcher, url: &str) -> Result<reqwest::Url, String> {
    let url = check_url(url, settings.allow_http)?;
    let doc = fetcher.get(&url)?;
    let doc = crate::encoding::parse_object(&doc.body)
        .map_err(|e| format!("the discovery document is not a JSON object: {e}"))?;
    match doc.get("issuer") {
        Some(Value::String(i)) if *i == settings.issuer => {}
        Some(Value::String(i)) => {
            return Err(format!(
                "the discovery document names issuer '{}', not the configured '{}'; refused (check `issuer`, including any trailing slash)",
                clip(i),
                clip(&settings.issuer)
            ));
        }
        _ => return Err("the discovery document has no issuer".into()),
    }
    match doc.get("jwks_uri") {
        Some(Value::String(u)) => check_url(u, settings.allow_http).map_err(|e| format!("jwks_uri: {e}")),
        _ => Err("the discovery document has no jwks_uri".into()),
    }
}
