//! Following under load: 10,000 new failures per second into a 100,000-failure
//! ring, a filter in force, and a frame drawn to a test backend.
//!
//! `cargo bench -p jwtauth-tui --bench follow`

#![allow(missing_docs)]

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use jwtauth_tui::app::{Action, App};
use jwtauth_tui::failure::Failure;
use jwtauth_tui::follow::{Batch, LogUpdate};
use jwtauth_tui::ui;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const NOW: i64 = 1_795_878_000;
const RING: usize = 100_000;
const PER_SECOND: usize = 10_000;
const REASONS: [&str; 5] = [
    "expired",
    "bad_signature",
    "wrong_audience",
    "bad_credentials",
    "unknown_kid",
];

fn lines(n: usize, start: usize) -> Vec<Vec<u8>> {
    (start..start + n)
        .map(|i| {
            format!(
                concat!(
                    r#"{{"time":"2026-11-28T15:{:02}:{:02}.123456Z","reason":"{}","hint":"token expired 42 s ago","#,
                    r#""kid":"k{}","subject":"user{}","subject_verified":true,"fingerprint":"a1b2c3d4e5f6","#,
                    r#""client":"10.0.{}.{}:5{:04}","method":"GET","path":"/api/products","user_agent":"bench/1"}}"#
                ),
                (i / 60) % 60,
                i % 60,
                REASONS[i % REASONS.len()],
                i % 3,
                i % 997,
                (i / 256) % 256,
                i % 256,
                i % 10_000
            )
            .into_bytes()
        })
        .collect()
}

fn parse(lines: &[Vec<u8>]) -> Vec<Failure> {
    lines.iter().filter_map(|l| Failure::parse(l).ok()).collect()
}

fn full_app() -> App {
    let mut app = App::new(RING, false, NOW + 3600);
    app.update(Action::Log(LogUpdate::Batch(Batch {
        failures: parse(&lines(RING, 0)),
        ..Batch::default()
    })));
    app.failures.set_filter("!expired a:10.0");
    app
}

fn bench(c: &mut Criterion) {
    let second = lines(PER_SECOND, RING);
    let mut g = c.benchmark_group("follow");
    g.sample_size(20);

    g.bench_function("parse 10k lines", |b| b.iter(|| parse(&second)));

    let mut app = full_app();
    let parsed = parse(&second);
    g.bench_function("ingest 10k into a full 100k ring, filtered", |b| {
        b.iter_batched(
            || parsed.clone(),
            |failures| {
                app.update(Action::Log(LogUpdate::Batch(Batch {
                    failures,
                    ..Batch::default()
                })))
            },
            BatchSize::LargeInput,
        )
    });

    g.bench_function("refilter 100k", |b| {
        b.iter(|| app.failures.set_filter("s:user12 !expired"));
    });

    for (w, h) in [(80u16, 24u16), (200, 60)] {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test backend");
        g.bench_function(format!("frame {w}x{h} with 100k held"), |b| {
            b.iter(|| terminal.draw(|f| ui::draw(f, &mut app)).map(|_| ()))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
