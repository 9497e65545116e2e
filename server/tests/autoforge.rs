//! AutoForge's PerfMon panel (AutoForgeAI/autoforge pull request #181, commit
//! 0d905b2: `ui/src/lib/types.ts`, `ui/src/hooks/useWebSocket.ts`) against the
//! real server: its facts, written down here as the client has them, held
//! against every message the server sends a client through a run's life.
//!
//! - The client's `switch (message.type)` handles `agent_status` and
//!   `perf_metrics` (and `pong`); it ignores other types such as `history`.
//! - `WSAgentStatusMessage { type: 'agent_status'; status: AgentStatus }` is the
//!   only source of its Live badge: `isAgentLive = status === 'running' ||
//!   status === 'paused'`.
//! - `AgentStatus = 'stopped' | 'running' | 'paused' | 'crashed' | 'loading'`
//!   (`loading` is the client's own, before the first `agent_status`).
//! - `PerfMetrics`: `timestamp: string` (stale 10 s after `Date.parse` of it),
//!   `run: { status: AgentStatus; pid: number | null; started_at: string | null }`,
//!   `tokens: { available: boolean; current_run: number | null; total_session:
//!   number | null }`, `cpu: { percent: number | null }`, `memory: { used_gb,
//!   total_gb, percent: number | null }`, `gpu: { available: boolean; percent,
//!   vram_used_gb, vram_total_gb: number | null }` — none optional: the panel
//!   reads them unguarded.
//! - "Live telemetry not available" shows until the first `perf_metrics`.

use std::process::Command;
use std::time::Duration;

use futures_util::SinkExt;
use serde_json::{Value, json};
use server::cli::client::Method;
use server::testkit::{Client, TestServer, call, connect, fast_config, next_text_within};
use tokio_tungstenite::tungstenite::Message;

/// AutoForge's `AgentStatus`, less the client-side `loading`.
const AGENT_STATUS: [&str; 4] = ["stopped", "running", "paused", "crashed"];

/// How long one message may take on a loaded machine.
const LIMIT: Duration = Duration::from_secs(10);

/// The next text message as JSON, skipping protocol frames, held to
/// AutoForge's facts.
async fn next(client: &mut Client) -> Value {
    let value: Value = serde_json::from_str(&next_text_within(client, LIMIT).await).expect("JSON");
    assert_autoforge_reads(&value);
    value
}

fn kind(msg: &Value) -> &str {
    msg["type"].as_str().unwrap_or_default()
}

/// Reads until an `agent_status` saying `status`; every `perf_metrics` on the
/// way must still show another status (the badge is never behind the sample).
async fn agent_status_becomes(client: &mut Client, status: &str) {
    for _ in 0..60 {
        let msg = next(client).await;
        match kind(&msg) {
            "agent_status" if msg["status"] == status => {
                // The sample that shows the new status comes right after.
                let sample = next(client).await;
                assert_eq!(kind(&sample), "perf_metrics", "{sample}");
                assert_eq!(sample["run"]["status"], status, "{sample}");
                return;
            }
            "perf_metrics" => assert_ne!(msg["run"]["status"], status, "a sample said {status} first"),
            _ => {}
        }
    }
    panic!("no agent_status {status} within 60 messages");
}

fn is_number_or_null(v: &Value) -> bool {
    v.is_number() || v.is_null()
}

/// Every fact AutoForge's client relies on, for one message.
fn assert_autoforge_reads(msg: &Value) {
    match kind(msg) {
        "agent_status" => {
            let status = msg["status"].as_str().expect("agent_status.status is a string");
            assert!(AGENT_STATUS.contains(&status), "status {status} is not AutoForge's");
        }
        "perf_metrics" => {
            let timestamp = msg["timestamp"].as_str().expect("timestamp: string");
            assert!(timestamp.ends_with('Z'), "UTC, as Date.parse reads it: {timestamp}");
            chrono::DateTime::parse_from_rfc3339(timestamp).expect("RFC 3339");
            let run = &msg["run"];
            let status = run["status"].as_str().expect("run.status: string");
            assert!(AGENT_STATUS.contains(&status), "run.status {status} is not AutoForge's");
            assert!(run["pid"].is_number() || run["pid"].is_null(), "run.pid: number | null");
            assert!(run["started_at"].is_string() || run["started_at"].is_null());
            let object = |name: &str, fields: &[&str]| {
                let section = msg[name].as_object().unwrap_or_else(|| panic!("{name} is an object"));
                for field in fields {
                    assert!(section.contains_key(*field), "{name}.{field} is sent (null, never missing)");
                }
                section.clone()
            };
            object("run", &["status", "pid", "started_at"]);
            let tokens = object("tokens", &["available", "current_run", "total_session"]);
            assert!(tokens["available"].is_boolean());
            assert!(is_number_or_null(&tokens["current_run"]) && is_number_or_null(&tokens["total_session"]));
            let cpu = object("cpu", &["percent"]);
            assert!(is_number_or_null(&cpu["percent"]));
            let memory = object("memory", &["used_gb", "total_gb", "percent"]);
            assert!(["used_gb", "total_gb", "percent"].iter().all(|f| is_number_or_null(&memory[*f])));
            let gpu = object("gpu", &["available", "percent", "vram_used_gb", "vram_total_gb"]);
            assert!(gpu["available"].is_boolean());
            assert!(["percent", "vram_used_gb", "vram_total_gb"].iter().all(|f| is_number_or_null(&gpu[*f])));
        }
        // Ignored by AutoForge's client.
        "history" | "pong" => {}
        other => panic!("a message AutoForge's client does not know: {other}: {msg}"),
    }
}

#[tokio::test]
async fn autoforges_panel_gets_its_status_its_data_at_once_and_its_fields() {
    let server = TestServer::start(fast_config()).await;
    let api = server.api();

    // The first message on connect is the status: no run yet, stopped.
    let mut watcher = connect(server.addr, "af").await;
    let first = next(&mut watcher).await;
    assert_eq!(first, json!({ "type": "agent_status", "status": "stopped" }));
    let mut seen = 0;
    while seen < 3 {
        if kind(&next(&mut watcher).await) == "perf_metrics" {
            seen += 1;
        }
    }

    // A client that ignores `history` (AutoForge's) has a sample at once: the
    // newest, right after the history, not the next tick's.
    let mut late = connect(server.addr, "af").await;
    let status = next(&mut late).await;
    assert_eq!((kind(&status), &status["status"]), ("agent_status", &json!("stopped")));
    let history = next(&mut late).await;
    assert_eq!(kind(&history), "history");
    let last_seq = history["samples"].as_array().and_then(|s| s.last()).map(|s| s["seq"].clone());
    let newest = next(&mut late).await;
    assert_eq!(kind(&newest), "perf_metrics");
    let (newest_seq, last_seq) = (newest["seq"].as_u64(), last_seq.and_then(|s| s.as_u64()));
    assert!(
        newest_seq.zip(last_seq).is_some_and(|(n, l)| n == l || n == l + 1),
        "the newest sample ({newest_seq:?}) follows the history (last {last_seq:?}) at once"
    );
    assert!(newest["cpu_detail"].is_object(), "and whole: with the machine in depth the replay leaves out");

    // A run's life: running, paused, running, stopped (gone, exit unknown),
    // crashed (its exit reported: 3). Each status change reaches the client as
    // an `agent_status` before the sample that shows it.
    let mut child = Command::new("sleep").arg("60").spawn().expect("spawn sleep");
    let run = call(&api, Method::POST, "/api/projects/af/run", Some(json!({ "pid": child.id() })))
        .await
        .expect("registered");
    let run_id = run["run_id"].as_str().expect("a run id").to_owned();
    agent_status_becomes(&mut watcher, "running").await;
    call(&api, Method::POST, "/api/projects/af/run/pause", None).await.expect("paused");
    agent_status_becomes(&mut watcher, "paused").await;
    call(&api, Method::POST, "/api/projects/af/run/resume", None).await.expect("resumed");
    agent_status_becomes(&mut watcher, "running").await;
    let _ = child.kill();
    let _ = child.wait();
    agent_status_becomes(&mut watcher, "stopped").await;
    let path = format!("/api/projects/af/runs/{run_id}/exit");
    call(&api, Method::POST, &path, Some(json!({ "exit_code": 3 }))).await.expect("exit recorded");
    agent_status_becomes(&mut watcher, "crashed").await;

    // The client's keep-alive.
    watcher.send(Message::Text(r#"{"type":"ping"}"#.into())).await.expect("ping");
    let mut answered = false;
    for _ in 0..20 {
        if kind(&next(&mut watcher).await) == "pong" {
            answered = true;
            break;
        }
    }
    assert!(answered, "ping gets pong");
    server.stop().await;
}
