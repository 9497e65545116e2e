//! Remote write (`perfmon serve --remote-write URL`) against the real engines
//! and against a receiver the test controls.
//!
//! - Prometheus 2.42 (`--web.enable-remote-write-receiver`) and
//!   VictoriaMetrics 1.79, from Debian, unpacked by scripts/setup.sh and
//!   started here on loopback: PerfMon pushes, their query APIs return its
//!   series with the host label; each receiver is stopped for 30 s and
//!   started again, and the series has no gap; two PerfMons with different
//!   host labels land as two hosts; every query of the Grafana dashboard
//!   returns data from Prometheus.
//! - A receiver the test controls: one answering 400 does not wedge the
//!   sender; credentials arrive and never show in `/api/health`; a receiver
//!   down across a PerfMon restart still gets everything.
//! - Settings PerfMon refuses before it starts.
//!
//! Every `perfmon` is the built binary on fake GPUs (the `fake-nvml` crate),
//! so the GPU families are there as on a GPU machine.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fake_nvml::{Config, Device, FakeGpus, GIB};
use serde_json::{Value, json};
use server::cli::client::Method;
use server::fleet::wire;
use server::testkit::{Perfmon, Sandbox, Scratch, Sleeper, call, eventually, free_port};

#[path = "support/engines.rs"]
mod engines;
#[path = "support/grafana.rs"]
mod grafana;

use engines::{Engine, Kind};

const PERFMON: &str = env!("CARGO_BIN_EXE_perfmon");

/// How long a receiver is down in the outage tests (the issue's 30 s).
const OUTAGE_MS: u64 = 30_000;

/// Fake GPUs, one holding memory for `pid`; the environment that gives them
/// to a perfmon.
fn gpus(dir: &Path, pid: u32) -> (FakeGpus, Vec<(String, String)>) {
    let config = Config {
        devices: vec![Device::h100(35, 10)],
        processes: vec![(pid, 0, 2 * GIB)],
        ..Config::default()
    };
    let fake = FakeGpus::new(dir, &config);
    let env = fake.env().into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    (fake, env)
}

/// A perfmon pushing to `url` every second as `host`.
async fn pushing(url: &str, host: &str, extra: &[&str], env: &[(String, String)]) -> Perfmon {
    let mut args = vec!["--remote-write", url, "--remote-write-interval", "1s", "--host-label", host];
    args.extend_from_slice(extra);
    Perfmon::serve_with(Path::new(PERFMON), &args, env).await
}

async fn health(perfmon: &Perfmon) -> Value {
    call(&perfmon.api(), Method::GET, "/api/health", None).await.expect("health")
}

/// The one receiver's state in `/api/health`.
async fn pushed(perfmon: &Perfmon) -> Value {
    let health = health(perfmon).await;
    let receivers = health["remote_write"].as_array().cloned().unwrap_or_default();
    assert_eq!(receivers.len(), 1, "one receiver: {health}");
    receivers[0].clone()
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Stops `engine` until `perfmon` has been kept from pushing for
/// [`OUTAGE_MS`] (its health says how far behind it is), then starts it
/// again and waits until `perfmon` has caught up. The outage's start and
/// end, unix ms.
async fn outage(engine: &mut Engine, perfmons: &[&Perfmon]) -> (i64, i64) {
    let down = now_ms();
    tokio::task::block_in_place(|| engine.stop());
    for perfmon in perfmons {
        eventually(Duration::from_secs(90), "the push held back for the whole outage", || async {
            let state = pushed(perfmon).await;
            (state["state"] == "retrying" && state["lag_ms"].as_u64() >= Some(OUTAGE_MS)).then_some(())
        })
        .await;
    }
    let up = now_ms();
    tokio::task::block_in_place(|| engine.restart());
    for perfmon in perfmons {
        eventually(Duration::from_secs(90), "the push caught up after the outage", || async {
            let state = pushed(perfmon).await;
            let caught_up =
                state["state"] == "live" && state["lag_ms"].as_u64().is_some_and(|lag| lag < 5_000);
            (caught_up && state["last_error"].is_null()).then_some(())
        })
        .await;
    }
    (down, up)
}

/// The ticks `perfmon` stored with a CPU figure between `from` and `to`
/// (unix ms), read from its database.
fn stored_ticks(perfmon: &Perfmon, from: i64, to: i64) -> Vec<i64> {
    let db = perfmon.sandbox().data_dir().join(server::store::DB_FILE);
    let conn = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap_or_else(|err| panic!("{}: {err}", db.display()));
    let mut statement = conn
        .prepare("SELECT ts FROM host_raw WHERE ts BETWEEN ?1 AND ?2 AND cpu IS NOT NULL ORDER BY ts")
        .expect("a query");
    statement.query_map([from, to], |row| row.get(0)).expect("rows").map(|ts| ts.expect("a time")).collect()
}

/// Whether every tick of `stored` is in `received`, `stored` covering the
/// outage `from`..`to`; what is missing.
fn missing(stored: &[i64], received: &[i64], from: i64, to: i64) -> Result<(), String> {
    if stored.first().is_none_or(|first| *first > from) || stored.last().is_none_or(|last| *last < to) {
        return Err(format!("the store has not got the outage's ticks yet: {stored:?}"));
    }
    let received: BTreeSet<i64> = received.iter().copied().collect();
    let lost: Vec<i64> = stored.iter().copied().filter(|ts| !received.contains(ts)).collect();
    if lost.is_empty() {
        Ok(())
    } else {
        Err(format!("{} of {} stored ticks not received: {lost:?}", lost.len(), stored.len()))
    }
}

/// Waits (up to 30 s: an engine makes what it was just sent searchable
/// within a second or two) until `engine` holds every tick `perfmon` stored
/// from before the outage `down`..`up` to after it, under `selector`; fails
/// the test naming the ticks missing.
async fn assert_no_gap(engine: &Engine, perfmon: &Perfmon, selector: &str, down: i64, up: i64) {
    let (from, to) = (down - 60_000, up + 2_000);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let stored = stored_ticks(perfmon, from, to);
        let samples = tokio::task::block_in_place(|| engine.samples(selector, from, to));
        let received: Vec<i64> = samples.iter().map(|(ts, _)| *ts).collect();
        match missing(&stored, &received, down, up) {
            Ok(()) => return,
            Err(why) => assert!(tokio::time::Instant::now() < deadline, "{selector}: {why}"),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[test]
fn the_grafana_dashboard_is_well_formed() {
    grafana::check_structure().expect("the dashboard's structure");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_gets_every_sample_through_an_outage_and_every_dashboard_query_has_data() {
    let scratch = Scratch::new("fleet-prometheus");
    let mut prometheus = tokio::task::block_in_place(|| {
        Engine::start(Kind::Prometheus, &scratch.join("prometheus"), free_port())
    });
    let run = Sleeper::start();
    let (_gpus, env) = gpus(&scratch.join("gpus"), run.0.id());
    let perfmon = pushing(&prometheus.write_url(), "alpha", &["--remote-write-label", "team=ml"], &env).await;
    let started = now_ms();
    let api = perfmon.api();
    call(&api, Method::POST, "/api/projects/fleet/run", Some(json!({ "pid": run.0.id() })))
        .await
        .expect("registered");
    // A run long enough to be judged, which ends while the test runs (most
    // likely during the outage, which then sends its outcome from the store).
    let mut finished = perfmon
        .sandbox()
        .tokio_command(PERFMON)
        .args(["run", "--project", "fleet-done", "--", "sh", "-c", "sleep 12; exit 3"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("perfmon run");

    let cpu = r#"perfmon_cpu_usage_percent{host="alpha",team="ml"}"#;
    eventually(Duration::from_secs(60), "PerfMon's series in Prometheus", || async {
        (!tokio::task::block_in_place(|| prometheus.query(cpu)).is_empty()).then_some(())
    })
    .await;

    let (down, up) = outage(&mut prometheus, &[&perfmon]).await;
    assert_no_gap(&prometheus, &perfmon, cpu, down, up).await;

    assert_eq!(finished.wait().await.expect("the run ended").code(), Some(3));
    let code = r#"perfmon_run_last_exit_code{host="alpha",project="fleet-done"}"#;
    eventually(Duration::from_secs(60), "the finished run's exit code in Prometheus", || async {
        let result = tokio::task::block_in_place(|| prometheus.query(code));
        result.first().is_some_and(|s| s["value"][1] == "3").then_some(())
    })
    .await;

    // Every panel's every query, as Grafana sends it for this host, has data
    // over the test's span; and the runs' annotation query.
    let (start, end) = (started / 1000 - 5, now_ms() / 1000 + 1);
    let verdict = r#"perfmon_run_last_verdict_share_percent{host="alpha",project="fleet-done"}"#;
    eventually(Duration::from_secs(30), "the finished run's verdict in Prometheus", || async {
        (!tokio::task::block_in_place(|| prometheus.query(verdict)).is_empty()).then_some(())
    })
    .await;
    let empty: Vec<String> = tokio::task::block_in_place(|| {
        grafana::queries("alpha")
            .into_iter()
            .filter(|q| prometheus.query_range(&q.expr, start, now_ms() / 1000 + 1, 5).is_empty())
            .map(|q| format!("{}: {}", q.panel, q.expr))
            .collect()
    });
    assert!(empty.is_empty(), "dashboard queries without data:\n{}", empty.join("\n"));
    for expr in grafana::annotation_queries("alpha") {
        let runs = tokio::task::block_in_place(|| prometheus.query_range(&expr, start, end, 5));
        let ids: BTreeSet<&str> = runs.iter().filter_map(|s| s["metric"]["run_id"].as_str()).collect();
        assert!(ids.len() >= 2, "both runs draw an annotation region: {expr}: {runs:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn victoria_metrics_gets_two_hosts_and_every_sample_through_an_outage() {
    let scratch = Scratch::new("fleet-victoria");
    let mut vm = tokio::task::block_in_place(|| {
        Engine::start(Kind::VictoriaMetrics, &scratch.join("vm"), free_port())
    });
    let run = Sleeper::start();
    let (_gpus, env) = gpus(&scratch.join("gpus"), run.0.id());
    let url = vm.write_url();
    let (a, b) = tokio::join!(pushing(&url, "box-a", &[], &env), pushing(&url, "box-b", &[], &env));
    // Each keeps a run live, so each samples every second.
    for perfmon in [&a, &b] {
        call(&perfmon.api(), Method::POST, "/api/projects/fleet/run", Some(json!({ "pid": run.0.id() })))
            .await
            .expect("registered");
    }
    eventually(Duration::from_secs(60), "two hosts in VictoriaMetrics", || async {
        let hosts = tokio::task::block_in_place(|| vm.query("count by (host) (perfmon_cpu_usage_percent)"));
        let names: BTreeSet<&str> = hosts.iter().filter_map(|s| s["metric"]["host"].as_str()).collect();
        (names == BTreeSet::from(["box-a", "box-b"])).then_some(())
    })
    .await;

    let (down, up) = outage(&mut vm, &[&a, &b]).await;
    for (host, perfmon) in [("box-a", &a), ("box-b", &b)] {
        let selector = format!(r#"perfmon_cpu_usage_percent{{host="{host}"}}"#);
        assert_no_gap(&vm, perfmon, &selector, down, up).await;
    }
    // The GPU and the run arrive with their labels.
    let gpu = tokio::task::block_in_place(|| vm.query(r#"perfmon_gpu_memory_used_bytes{host="box-a"}"#));
    assert_eq!(gpu.len(), 1, "{gpu:?}");
    assert_eq!(gpu[0]["metric"]["name"], "NVIDIA H100 80GB HBM3");
    let live = tokio::task::block_in_place(|| vm.query(r#"perfmon_run_live{host="box-b",project="fleet"}"#));
    assert_eq!(live.first().map(|s| s["value"][1].clone()), Some(json!("1")), "{live:?}");
}

/// What the test's receiver was sent.
#[derive(Default)]
struct Received {
    /// Requests answered so far.
    requests: usize,
    /// The decoded requests it accepted.
    accepted: Vec<wire::WriteRequest>,
    /// The `Authorization` headers it saw.
    authorization: BTreeSet<String>,
}

/// What the receiver's handler holds: the record, and the answer by request.
type ReceiverState = (Arc<Mutex<Received>>, Arc<dyn Fn(usize) -> u16 + Send + Sync>);

/// A receiver on loopback that answers each request with what `answer`
/// says for the request's number (from 0), decoding what it accepts.
async fn receiver(answer: impl Fn(usize) -> u16 + Send + Sync + 'static) -> (String, Arc<Mutex<Received>>) {
    let received = Arc::new(Mutex::new(Received::default()));
    let answer: Arc<dyn Fn(usize) -> u16 + Send + Sync> = Arc::new(answer);
    let state = (received.clone(), answer);
    let app = axum::Router::new().route(
        "/receive",
        axum::routing::post(
            |axum::extract::State((received, answer)): axum::extract::State<ReceiverState>,
             headers: axum::http::HeaderMap,
             body: axum::body::Bytes| async move {
                let mut r = received.lock().expect("the receiver's record");
                let status = answer(r.requests);
                r.requests += 1;
                if let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
                    r.authorization.insert(auth.to_owned());
                }
                assert_eq!(headers.get("content-encoding").map(|v| v.as_bytes()), Some(&b"snappy"[..]));
                if status == 204 {
                    r.accepted.push(wire::decode(&body).expect("a remote-write body"));
                }
                (axum::http::StatusCode::from_u16(status).expect("a status"), "out of order sample")
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let url = format!("http://{}/receive", listener.local_addr().expect("an address"));
    tokio::spawn(async move { axum::serve(listener, app.with_state(state)).await });
    (url, received)
}

/// Every sample time of `perfmon_cpu_usage_percent` in `requests`.
fn cpu_times(requests: &[wire::WriteRequest]) -> Vec<i64> {
    requests
        .iter()
        .flat_map(|r| &r.timeseries)
        .filter(|s| s.labels.iter().any(|l| l.name == "__name__" && l.value == "perfmon_cpu_usage_percent"))
        .flat_map(|s| s.samples.iter().map(|sample| sample.timestamp))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_refusing_batches_does_not_wedge_the_sender_and_credentials_stay_secret() {
    let (url, received) = receiver(|n| if n < 3 { 400 } else { 204 }).await;
    let scratch = Scratch::new("fleet-refusing");
    let token = scratch.join("token");
    std::fs::write(&token, "s3cret-token\n").expect("the token file");
    let token = token.display().to_string();
    let perfmon = pushing(&url, "box", &["--remote-write-bearer-token-file", &token], &[]).await;
    eventually(Duration::from_secs(60), "batches accepted after three refused", || async {
        let r = received.lock().expect("the record");
        (r.accepted.len() >= 2).then_some(())
    })
    .await;
    let state = pushed(&perfmon).await;
    assert_eq!(state["batches_skipped"], 3, "{state}");
    assert!(state["samples_sent"].as_u64() > Some(0), "{state}");
    assert_eq!(state["receiver"], url.trim_end_matches("/receive"), "the origin only");
    let health = health(&perfmon).await.to_string();
    assert!(!health.contains("s3cret") && !health.contains("/receive"), "{health}");
    assert!(!health.contains("out of order"), "the receiver's answer is logged, not shown: {health}");
    let r = received.lock().expect("the record");
    assert_eq!(r.authorization, BTreeSet::from(["Bearer s3cret-token".to_owned()]));
    let series = &r.accepted[0].timeseries;
    assert!(series.iter().all(|s| s.labels.iter().any(|l| l.name == "host" && l.value == "box")));
    let times = cpu_times(&r.accepted);
    assert!(times.windows(2).all(|w| w[0] < w[1]), "oldest first, never twice: {times:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_down_across_a_restart_still_gets_what_was_sampled_before_it() {
    let up = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (url, received) = {
        let up = up.clone();
        receiver(move |_| if up.load(std::sync::atomic::Ordering::SeqCst) { 204 } else { 503 }).await
    };
    // A sample a second, run or not.
    let args = [
        "--remote-write",
        url.as_str(),
        "--remote-write-interval",
        "1s",
        "--host-label",
        "box",
        "--idle-interval-ms",
        "1000",
    ];
    let first = Perfmon::serve(Path::new(PERFMON), &args).await;
    let started = now_ms();
    eventually(Duration::from_secs(30), "the push retrying a 503", || async {
        let state = pushed(&first).await;
        (state["state"] == "retrying" && state["last_error"] == "HTTP 503").then_some(())
    })
    .await;
    // A few ticks stored while the receiver refuses them all.
    eventually(Duration::from_secs(30), "ticks stored before the restart", || async {
        (stored_ticks(&first, started, now_ms()).len() >= 3).then_some(())
    })
    .await;
    let sandbox: Sandbox = first.sandbox().clone();
    let status = tokio::task::block_in_place(|| first.terminate(Duration::from_secs(20)));
    assert!(status.success(), "{status}");
    let restarted = now_ms();

    up.store(true, std::sync::atomic::Ordering::SeqCst);
    let again = Perfmon::serve_in(&sandbox, Path::new(PERFMON), &args[..]).await;
    let times = eventually(Duration::from_secs(60), "samples from before the restart", || async {
        let times = cpu_times(&received.lock().expect("the record").accepted);
        times.iter().any(|t| *t > restarted).then_some(times)
    })
    .await;
    assert!(
        times[0] <= started + 2_500 && times[0] < restarted,
        "the first sample sent ({}) is from the first server's start ({started}) on, before the restart \
         ({restarted})",
        times[0]
    );
    assert!(times.windows(2).all(|w| w[0] < w[1]), "oldest first, never twice: {times:?}");
    let before = stored_ticks(&again, started, restarted);
    assert!(before.len() >= 3, "the first server stored ticks: {before:?}");
    let received: BTreeSet<i64> = times.iter().copied().collect();
    let lost: Vec<&i64> = before.iter().filter(|ts| !received.contains(ts)).collect();
    assert!(lost.is_empty(), "ticks stored before the restart and never sent: {lost:?}");
    drop(again);
}

#[test]
fn settings_remote_write_cannot_use_are_refused_before_the_start() {
    for (args, said) in [
        (vec!["--remote-write", "ftp://vm/api/v1/write"], "http:// or https://"),
        (vec!["--remote-write", "https://me:hunter2@vm/api/v1/write"], "credentials in a URL"),
        (vec!["--remote-write", "http://vm/api/v1/write", "--no-store"], "--no-store"),
        (vec!["--remote-write", "http://vm/api/v1/write", "--remote-write-label", "host=x"], "--host-label"),
        (vec!["--remote-write", "http://vm/api/v1/write", "--remote-write-interval", "100ms"], "1s to 5m"),
    ] {
        let sandbox = Sandbox::new("fleet-refused");
        let out = sandbox
            .command(PERFMON)
            .args(["serve", "--bind", &sandbox.addr().to_string()])
            .args(&args)
            .output()
            .expect("perfmon runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(said), "{args:?}: {stderr}");
        assert!(!stderr.contains("hunter2"), "{stderr}");
    }
}
