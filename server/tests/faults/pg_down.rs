//! PostgreSQL stopped under load (a private cluster, `pg_ctl stop -m immediate`):
//! requests that need it get a prompt 503, token validation keeps working, and
//! the server recovers by itself when PostgreSQL is back.

use std::time::{Duration, Instant};

use crate::harness::{Env, PrivateCluster, client, login, me, refresh, signed_in, skip, within};

/// How long the load runs against the stopped database.
const OUTAGE: Duration = Duration::from_secs(4);
/// The slowest answer accepted while it is down: the pool's checkout bound (3 s)
/// plus the retries over connections it closed, with room for a loaded machine.
const SLOWEST: Duration = Duration::from_secs(8);

#[derive(Default)]
struct Seen {
    statuses: Vec<u16>,
    slowest: Duration,
    bodies: Vec<serde_json::Value>,
}

impl Seen {
    fn add(&mut self, started: Instant, answer: (u16, serde_json::Value)) {
        self.slowest = self.slowest.max(started.elapsed());
        self.statuses.push(answer.0);
        if answer.0 != 200 && self.bodies.len() < 3 {
            self.bodies.push(answer.1);
        }
    }
}

#[test]
fn postgresql_stopped_under_load_gives_503_keeps_validating_and_recovers_by_itself() {
    let _one_at_a_time = crate::harness::serial();
    let test = "the PostgreSQL-stopped test";
    let cluster = match PrivateCluster::create() {
        Ok(c) => c,
        Err(why) => return skip(test, &why),
    };
    let dir = tempfile::tempdir().unwrap();
    let env = Env::new(dir.path(), &cluster.url(), &[]);
    env.prepare();
    let server = env.serve();
    let c = client();
    let (access, refresh_token) = signed_in(&c, &server.base);

    cluster.stop_immediate();
    let (mut logins, mut refreshes, mut validations) = (Seen::default(), Seen::default(), Seen::default());
    let end = Instant::now() + OUTAGE;
    std::thread::scope(|s| {
        let load = move |f: &(dyn Fn() -> (u16, serde_json::Value) + Sync), pause: u64| {
            let mut seen = Seen::default();
            while Instant::now() < end {
                let t = Instant::now();
                seen.add(t, f());
                std::thread::sleep(Duration::from_millis(pause));
            }
            seen
        };
        let base = &server.base;
        let (c, access, refresh_token) = (&c, &access, &refresh_token);
        let l = s.spawn(move || load(&|| login(c, base).unwrap(), 50));
        let r = s.spawn(move || load(&|| refresh(c, base, refresh_token).unwrap(), 50));
        let v = s.spawn(move || load(&|| me(c, base, access).unwrap(), 5));
        logins = l.join().unwrap();
        refreshes = r.join().unwrap();
        validations = v.join().unwrap();
    });
    let ready = c.get(server.url("/readyz")).send().unwrap().status().as_u16();

    cluster.start().unwrap();
    let back = Instant::now();
    let recovered = within(Duration::from_secs(30), || {
        matches!(login(&c, &server.base), Ok((200, _))).then(|| back.elapsed())
    });
    // The refresh token refused while the store was down was not spent.
    let (after, body) = refresh(&c, &server.base, &refresh_token).unwrap();

    eprintln!(
        "FAULTS postgresql stopped {OUTAGE:?}: logins {} (slowest {} ms), refreshes {} (slowest {} ms), validations {} (slowest {} ms), recovery {} ms after PostgreSQL was back",
        logins.statuses.len(),
        logins.slowest.as_millis(),
        refreshes.statuses.len(),
        refreshes.slowest.as_millis(),
        validations.statuses.len(),
        validations.slowest.as_millis(),
        recovered.map_or(-1, |d| d.as_millis() as i64),
    );
    for (what, seen) in [("login", &logins), ("refresh", &refreshes)] {
        assert!(!seen.statuses.is_empty());
        assert!(
            seen.statuses.iter().all(|s| *s == 503),
            "{what} while PostgreSQL is down: {:?} {:?}",
            seen.statuses,
            seen.bodies
        );
        assert_eq!(seen.bodies[0]["error"], "unavailable", "{:?}", seen.bodies);
        assert!(seen.slowest < SLOWEST, "{what} took {:?}", seen.slowest);
    }
    assert!(
        validations.statuses.iter().all(|s| *s == 200),
        "validation while PostgreSQL is down: {:?}",
        validations.bodies
    );
    assert_eq!(ready, 503, "not ready without the store");
    assert!(
        recovered.is_some(),
        "no login succeeded within 30 s of PostgreSQL's return"
    );
    assert_eq!(after, 200, "{body}");
    let err = server.stderr();
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(server.terminate(), 0);
}
