//! Many clients, some of which never read: the readers keep their cadence, the
//! server's memory stays bounded, and abrupt disconnects leave nothing behind.
//! Runs the real `perfmon` binary so its memory is measured alone.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use server::cli::client::Method;
use server::testkit::{Perfmon, call, connections, eventually};
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;

const CLIENTS: usize = 1000;
const NEVER_READ: usize = 100;
const WINDOW: Duration = Duration::from_secs(20);

/// Resident memory of the server in MB.
fn rss_mb(perfmon: &Perfmon) -> f64 {
    perfmon.usage().1 as f64 / 1e6
}

fn percentile(sorted: &[u128], p: f64) -> u128 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_clients_with_a_hundred_that_never_read() {
    let perfmon = Perfmon::serve(
        Path::new(env!("CARGO_BIN_EXE_perfmon")),
        &["--max-connections", "4096", "--static-dir", "/nonexistent"],
    )
    .await;
    let addr = perfmon.addr;
    // A live run, so the cadence is 1 s.
    let mut run = Command::new("sleep").arg("120").spawn().expect("spawn a run");
    call(
        &perfmon.api(),
        Method::POST,
        "/api/projects/load/run",
        Some(serde_json::json!({ "pid": run.id() })),
    )
    .await
    .expect("register");

    let url = format!("ws://{addr}/ws/projects/load");
    let mut silent = Vec::with_capacity(NEVER_READ);
    let mut readers = Vec::with_capacity(CLIENTS - NEVER_READ);
    let started = Instant::now();
    for i in 0..CLIENTS {
        let (ws, _) = connect_async(url.as_str()).await.expect("connect");
        if i % (CLIENTS / NEVER_READ) == 0 {
            silent.push(ws);
            continue;
        }
        readers.push(tokio::spawn(async move {
            let mut ws = ws;
            let mut arrivals = Vec::new();
            let deadline = started + WINDOW;
            while let Ok(Some(Ok(frame))) =
                tokio::time::timeout(deadline.saturating_duration_since(Instant::now()), ws.next()).await
            {
                if let Message::Text(text) = frame
                    && text.as_str().starts_with(r#"{"type":"perf_metrics""#)
                {
                    arrivals.push(Instant::now());
                }
            }
            (ws, arrivals)
        }));
    }
    assert_eq!(silent.len(), NEVER_READ);
    assert_eq!(connections(&perfmon.api()).await, CLIENTS as u64);

    tokio::time::sleep(Duration::from_secs(5)).await;
    let rss_early = rss_mb(&perfmon);
    let mut gaps = Vec::new();
    let mut kept = Vec::new();
    for reader in readers {
        let (ws, arrivals) = reader.await.expect("reader");
        // The first seconds include connecting everyone; judge the steady state.
        let steady: Vec<Instant> =
            arrivals.into_iter().filter(|t| t.duration_since(started) > Duration::from_secs(6)).collect();
        assert!(steady.len() >= 10, "a reader got only {} samples in the steady window", steady.len());
        gaps.extend(steady.windows(2).map(|w| w[1].duration_since(w[0]).as_millis()));
        kept.push(ws);
    }
    let rss_late = rss_mb(&perfmon);
    gaps.sort_unstable();
    let mean = gaps.iter().sum::<u128>() as f64 / gaps.len() as f64;
    let (p50, p99, max) = (percentile(&gaps, 0.5), percentile(&gaps, 0.99), gaps[gaps.len() - 1]);
    println!(
        "inter-arrival ms: mean {mean:.0}, p50 {p50}, p99 {p99}, max {max}; rss {rss_early:.1} -> {rss_late:.1} MB"
    );
    assert!((900.0..=1100.0).contains(&mean), "readers keep the 1 s cadence: mean gap {mean:.0} ms");
    assert!(p99 <= 1600, "p99 gap {p99} ms");
    assert!(rss_late <= 64.0, "server RSS {rss_late:.1} MB with {CLIENTS} clients");
    assert!(rss_late <= rss_early + 20.0, "server RSS grows: {rss_early:.1} -> {rss_late:.1} MB");

    // Everyone vanishes at once, without a close handshake.
    drop(kept);
    drop(silent);
    let api = perfmon.api();
    eventually(Duration::from_secs(30), "abrupt disconnects leave no connection behind", || async {
        (connections(&api).await == 0).then_some(())
    })
    .await;
    let _ = run.kill();
    let _ = run.wait();
}
