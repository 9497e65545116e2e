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
const WINDOW: Duration = Duration::from_secs(15);

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
    let (measuring, measure) = tokio::sync::watch::channel(false);
    for i in 0..CLIENTS {
        let (ws, _) = connect_async(url.as_str()).await.expect("connect");
        if i % (CLIENTS / NEVER_READ) == 0 {
            silent.push(ws);
            continue;
        }
        let mut measure = measure.clone();
        readers.push(tokio::spawn(async move {
            let mut ws = ws;
            // (arrival, seq) of each sample in the measured window.
            let mut arrivals = Vec::new();
            let _ = measure.wait_for(|on| *on).await;
            let until = Instant::now() + WINDOW;
            while let Ok(Some(Ok(frame))) =
                tokio::time::timeout(until.saturating_duration_since(Instant::now()), ws.next()).await
            {
                if let Message::Text(text) = frame
                    && let Ok(shared::ServerMsg::PerfMetrics(m)) = serde_json::from_str(text.as_str())
                {
                    arrivals.push((Instant::now(), m.seq));
                }
            }
            (ws, arrivals)
        }));
    }
    assert_eq!(silent.len(), NEVER_READ);
    assert_eq!(connections(&perfmon.api()).await, CLIENTS as u64);

    // Everyone is connected: the steady state is measured from here.
    let rss_early = rss_mb(&perfmon);
    measuring.send_replace(true);
    let mut gaps = Vec::new();
    let (mut received, mut skipped) = (0u64, 0u64);
    let mut kept = Vec::new();
    for reader in readers {
        let (ws, arrivals) = reader.await.expect("reader");
        received += arrivals.len() as u64;
        skipped += arrivals.windows(2).map(|w| w[1].1.saturating_sub(w[0].1 + 1)).sum::<u64>();
        // At 1 s for the window, with wide room for a loaded machine.
        assert!(
            arrivals.len() >= WINDOW.as_secs() as usize / 2,
            "a reader got only {} samples",
            arrivals.len()
        );
        gaps.extend(arrivals.windows(2).map(|w| w[1].0.duration_since(w[0].0).as_millis()));
        kept.push(ws);
    }
    let rss_late = rss_mb(&perfmon);
    gaps.sort_unstable();
    let mean = gaps.iter().sum::<u128>() as f64 / gaps.len() as f64;
    let (p50, p99, max) = (percentile(&gaps, 0.5), percentile(&gaps, 0.99), gaps[gaps.len() - 1]);
    println!(
        "inter-arrival ms: mean {mean:.0}, p50 {p50}, p99 {p99}, max {max}; skipped {skipped} of {received}; \
         rss {rss_early:.1} -> {rss_late:.1} MB"
    );
    // Tight latency figures belong to the benchmarks; here, the cadence holds
    // and nobody falls behind for good.
    assert!((700.0..=1500.0).contains(&mean), "readers keep the 1 s cadence: mean gap {mean:.0} ms");
    assert!(skipped * 10 <= received, "readers skipped {skipped} samples of {received}");
    assert!(rss_late <= 128.0, "server RSS {rss_late:.1} MB with {CLIENTS} clients");
    assert!(rss_late <= rss_early + 32.0, "server RSS grows: {rss_early:.1} -> {rss_late:.1} MB");

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
