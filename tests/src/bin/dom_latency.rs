//! Sample-to-DOM latency of the release frontend in headless Chromium: the time
//! from a `perf_metrics` frame's arrival at the page's WebSocket to the panel's
//! CPU text changing, over at least 100 samples (p50/p99/max).
//!
//! How: after the page loads, a script wraps `window.WebSocket` so each frame's
//! arrival time is recorded (by a listener registered before the app's own), and a
//! MutationObserver records when the CPU text changes; the server is restarted on
//! the same port so the app reconnects through the wrapper. Each change is matched
//! to the latest frame that carried the new value. The server pushes every 100 ms
//! so the run takes seconds, not minutes.
//!
//! `cargo run --release -p tests --bin dom_latency` after
//! `trunk build --release --config trunk.toml` (`scripts/bench.sh` does both).

use std::time::Duration;

use server::testkit::TestServer;
use tests::{ChromeDriver, browser, dist_dir};

const INSTRUMENT: &str = r#"
const Original = window.WebSocket;
window.__frames = [];
window.__changes = [];
function Wrapped(url, protocols) {
  const ws = protocols === undefined ? new Original(url) : new Original(url, protocols);
  // Registered before the app sets its handler, so it runs first.
  ws.addEventListener('message', (e) => window.__frames.push([performance.now(), e.data]));
  return ws;
}
Wrapped.prototype = Original.prototype;
for (const k of ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED']) Wrapped[k] = Original[k];
window.WebSocket = Wrapped;
const cpu = document.querySelector("[data-testid='cpu-value']");
new MutationObserver(() => window.__changes.push([performance.now(), cpu.textContent]))
  .observe(cpu, { subtree: true, characterData: true, childList: true });
return true;
"#;

const COLLECT: &str = r#"
const frames = window.__frames.map(([t, data]) => {
  try { const m = JSON.parse(data); return m.type === 'perf_metrics' && m.cpu.percent != null ? [t, m.cpu.percent.toFixed(1) + ' %'] : null; }
  catch (_) { return null; }
}).filter((f) => f);
const latencies = [];
for (const [t, text] of window.__changes) {
  let best = null;
  for (const [tf, value] of frames) { if (tf <= t && value === text) best = tf; }
  if (best !== null) latencies.push(t - best);
}
return latencies;
"#;

fn config(dist: std::path::PathBuf) -> server::Config {
    server::Config {
        static_dir: Some(dist),
        live_interval: Duration::from_millis(100),
        idle_interval: Duration::from_millis(100),
        ..server::Config::default()
    }
}

#[tokio::main]
async fn main() {
    let dist = dist_dir();
    let first = TestServer::start(config(dist.clone())).await;
    let addr = first.addr;
    let driver = ChromeDriver::start();
    let client = browser(&driver).await;
    tests::open_panel(&client, &format!("http://{addr}/?project=dom")).await;
    client.execute(INSTRUMENT, vec![]).await.expect("instrument the page");

    // Restart on the same port: the app reconnects through the wrapper.
    first.stop().await;
    let mut second = None;
    for _ in 0..50 {
        if std::net::TcpListener::bind(addr).is_ok() {
            second = Some(TestServer::start_on(addr, config(dist.clone())).await);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let second = second.expect("the port frees up");

    let mut latencies: Vec<f64> = Vec::new();
    for _ in 0..120 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let value = client.execute(COLLECT, vec![]).await.expect("collect");
        latencies = serde_json::from_value(value).expect("a list of numbers");
        if latencies.len() >= 100 {
            break;
        }
    }
    assert!(latencies.len() >= 100, "only {} samples changed the panel", latencies.len());
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
    println!("| samples | p50 | p99 | max |");
    println!("|---:|---:|---:|---:|");
    println!("| {} | {:.2} ms | {:.2} ms | {:.2} ms |", latencies.len(), pct(0.5), pct(0.99), pct(1.0));
    client.close().await.expect("close the browser");
    second.stop().await;
}
