//! The store under a month of history: 30 days of 1 Hz samples (an 8-core
//! machine with one GPU, two disks and two interfaces, every figure of the
//! machine in depth read, a run live a quarter of the time) written through the
//! real writer thread, with the store's clock moved along so roll-ups and pruning
//! run as they would. Prints a table: the database's size, the writer's cost per
//! sample, the hub's hand-off cost, and query times for 1 h, 24 h, 7 d and 30 d
//! at about 2,000 points. `cargo bench -p server --bench store` (a few minutes;
//! with `PERFMON_BENCH_KEEP_DB` set, the database is left for a look inside;
//! `PERFMON_BENCH_QUERY_DB=DIR` runs only the queries, over a database kept
//! before).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use chrono::DateTime;
use server::sampling::TreeReading;
use server::store::{HistoryQuery, Retention, Store, StoreConfig};
use server::{Record, Recorder, RunSummary};

#[path = "support/machine.rs"]
mod machine;
use machine::sample;

const DAY_MS: i64 = 86_400_000;

fn main() {
    let days = 30;
    let t0 = 1_790_000_000_000 - 1_790_000_000_000 % DAY_MS;
    let samples = days * 86_400;
    let end = t0 + samples * 1000;
    if let Some(dir) = std::env::var_os("PERFMON_BENCH_QUERY_DB") {
        // Only the queries, over a month written by an earlier run.
        let config = StoreConfig { dir: dir.into(), retention: Retention::default() };
        let store = Store::open_with_clock(&config, Arc::new(move || end)).expect("store");
        queries(&store, end);
        store.close(Duration::from_secs(30));
        return;
    }
    let dir = std::env::temp_dir().join(format!("perfmon-bench-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let now = Arc::new(AtomicI64::new(0));
    let clock_now = now.clone();
    let config = StoreConfig { dir: dir.clone(), retention: Retention::default() };
    let store =
        Store::open_with_clock(&config, Arc::new(move || clock_now.load(Ordering::Relaxed))).expect("store");

    let mut handoff = Duration::ZERO;
    let mut run: Option<RunSummary> = None;
    let started = Instant::now();
    for i in 0..samples {
        let ms = t0 + i * 1000;
        // A run of six hours starting every day at 18:00.
        let hour = (i / 3600) % 24;
        if hour == 18 && run.is_none() {
            let summary = RunSummary::started(
                format!("4242-{i}"),
                "bench".into(),
                Some("nightly".into()),
                4242,
                DateTime::from_timestamp_millis(ms).expect("instant"),
            );
            store.record(Record::Run(summary.clone()));
            run = Some(summary);
        } else if hour == 0
            && let Some(mut ended) = run.take()
        {
            ended.end(DateTime::from_timestamp_millis(ms).expect("instant"), shared::api::RunOutcome::Exited);
            store.record(Record::Run(ended));
        }
        let tree = TreeReading {
            cpu_percent: Some(40.0),
            rss_bytes: 3 << 30,
            process_count: 12,
            ..TreeReading::default()
        };
        let runs = match run.as_mut() {
            Some(summary) => {
                summary.add_tick(&tree, 1.0, 8);
                vec![(summary.clone(), tree)]
            }
            None => Vec::new(),
        };
        let record = Record::Tick { sample: Arc::new(sample(ms, i)), runs };
        let at = Instant::now();
        store.record(record);
        handoff += at.elapsed();
        // Wait for the writer every ten simulated minutes: a real second never
        // outruns it, and the queue must not drop what the benchmark measures.
        if i % 600 == 599 {
            now.store(ms, Ordering::Relaxed);
            assert!(store.flush(Duration::from_secs(120)), "the writer keeps up");
        }
    }
    now.store(end, Ordering::Relaxed);
    assert!(store.flush(Duration::from_secs(300)));
    let elapsed = started.elapsed();
    assert_eq!(store.health().dropped_samples, 0);

    let size: u64 = std::fs::read_dir(&dir)
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("perfmon.db"))
        .map(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
        .sum();

    println!("| measure | value | target |");
    println!("|---|---:|---:|");
    println!("| samples written (30 days at 1 Hz) | {samples} | |");
    println!("| database size after 30 days (with WAL) | {:.1} MB | ≤ 100 MB |", size as f64 / 1e6);
    println!(
        "| writer: whole run, per sample (insert, roll-ups, pruning) | {:.1} µs | |",
        elapsed.as_secs_f64() * 1e6 / samples as f64
    );
    println!("| hub → store hand-off per tick | {:.2} µs | |", handoff.as_secs_f64() * 1e6 / samples as f64);
    queries(&store, end);
    store.close(Duration::from_secs(30));
    drop(store);
    // Kept when asked, to look inside (`sqlite3 FILE "SELECT name, sum(pgsize)
    // FROM dbstat GROUP BY name"` gives each table's share), or to query again.
    if std::env::var_os("PERFMON_BENCH_KEEP_DB").is_some() {
        println!("\nkept: {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// The history queries over the month ending at `end`: a row each.
fn queries(store: &Store, end: i64) {
    // The dashboard's queries (the figures it charts), then a month of every
    // kept figure (`all=true`).
    let ranges = [
        ("1 h", 3_600_000, false),
        ("24 h", DAY_MS, false),
        ("7 d", 7 * DAY_MS, false),
        ("30 d", 30 * DAY_MS, false),
        ("30 d, every figure", 30 * DAY_MS, true),
    ];
    for (name, span, all) in ranges {
        let q = HistoryQuery {
            from_ms: end - span,
            to_ms: end,
            step_s: None,
            project: Some("bench".into()),
            run_id: None,
            points: 2_000,
            all,
        };
        let mut times = Vec::new();
        let mut points = 0;
        let mut tier = String::new();
        let mut series = 0;
        for _ in 0..15 {
            let at = Instant::now();
            let h = store.history(&q).expect("history");
            times.push(at.elapsed());
            points = h.timestamps.len();
            tier = h.tier;
            series = h.series.len();
        }
        times.sort();
        println!(
            "| query {name} ({points} points × {series} series, {tier} tier, median of 15) | {:.1} ms | ≤ 50 ms |",
            times[times.len() / 2].as_secs_f64() * 1e3
        );
    }
}
