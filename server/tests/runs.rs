//! Agent runs, tokens, history and the HTTP API against the real server, with
//! real child processes.

use std::process::{Child, Command};
use std::time::Duration;

use serde_json::json;
use server::Config;
use server::cli::client::Method;
use server::testkit::{
    TestServer, call, connect, fast_config, metrics_until, next_metrics, next_msg, sample_in_depth,
};
use shared::{RunStatus, ServerMsg};

/// Set in the environment of a copy of this test binary that is asked to burn.
const BURN_ENV: &str = "PERFMON_TEST_BURN";

/// Not a test of its own (hence ignored): a copy of this binary started with
/// `--ignored --exact burner` and `BURN_ENV` set becomes the busy process the tree
/// test measures. It holds 120 MB, starts a sleeping grandchild, and spins one core
/// until killed.
#[test]
#[ignore = "helper process for a_registered_run_reports_its_whole_process_tree_and_its_exit"]
fn burner() {
    assert!(std::env::var_os(BURN_ENV).is_some(), "only run as a child of the tree test");
    // Killed by the test (pkill -P) together with this process; never reaped here
    // because this process never returns.
    #[allow(clippy::zombie_processes)]
    let _grandchild = Command::new("sleep").arg("60").spawn().expect("spawn grandchild");
    let mut memory = vec![0u8; 120_000_000];
    // Touch every page so it is resident, not just reserved.
    for i in (0..memory.len()).step_by(4096) {
        memory[i] = 1;
    }
    let mut x = 0u64;
    loop {
        x = std::hint::black_box(x.wrapping_add(1));
        if x.is_multiple_of(1_000_000_000) {
            std::hint::black_box(&memory);
        }
    }
}

/// Starts a copy of this test binary running [`burner`].
fn spawn_burner() -> Child {
    Command::new(std::env::current_exe().expect("test binary path"))
        .args(["--ignored", "--exact", "burner", "--test-threads=1"])
        .env(BURN_ENV, "1")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn the burner")
}

/// When the server took `m`.
fn taken_at(m: &shared::PerfMetrics) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(m.timestamp.as_str()).expect("an RFC 3339 timestamp").to_utc()
}

/// Kills the burner and its grandchild, and reaps the burner.
fn kill_tree(child: &mut Child) {
    let pid = child.id().to_string();
    let _ = Command::new("pkill").args(["-KILL", "-P", &pid]).status();
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_run_reports_its_whole_process_tree_and_its_exit() {
    let server = TestServer::start(fast_config()).await;
    let api = server.api();
    let mut client = connect(server.addr, "tree").await;
    let mut burner = spawn_burner();
    let pid = burner.id();

    let run = call(&api, Method::POST, "/api/projects/tree/run", Some(json!({ "pid": pid })))
        .await
        .expect("registered");
    assert_eq!(run["status"], "running");
    assert_eq!(run["pid"], pid);
    let started = run["started_at"].as_str().expect("started_at").to_owned();
    assert_eq!(run["run_id"], format!("{pid}-{started}"));

    // The burner spins (whatever share of a core a loaded machine gives it) and
    // holds 120 MB, with a sleeping grandchild.
    let m = metrics_until(&mut client, 200, |m| {
        m.run.process.as_ref().is_some_and(|p| {
            p.rss_mb.is_some_and(|r| r >= 100.0)
                && p.cpu_percent.is_some_and(|c| c > 0.0)
                && p.process_count >= 2
        })
    })
    .await;
    assert_eq!(m.run.status, RunStatus::Running);
    assert_eq!(m.run.pid, Some(pid));
    assert_eq!(m.interval_ms, 300, "a live run is sampled at the live cadence");

    kill_tree(&mut burner);
    // Noticed within one tick: the first sample taken after the exit says so.
    let exited_at = chrono::Utc::now();
    let after = metrics_until(&mut client, 200, |m| taken_at(m) > exited_at).await;
    assert_eq!(after.run.status, RunStatus::Stopped, "the first sample after the exit");
    assert!(after.run.process.is_none());
    assert_eq!(after.run.run_id.as_deref(), Some(format!("{pid}-{started}").as_str()));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_and_resume_stop_and_continue_the_process() {
    let server = TestServer::start(fast_config()).await;
    let api = server.api();
    let mut child = Command::new("sleep").arg("60").spawn().expect("spawn sleep");
    let pid = child.id();
    call(&api, Method::POST, "/api/projects/p/run", Some(json!({ "pid": pid }))).await.expect("registered");

    let paused = call(&api, Method::POST, "/api/projects/p/run/pause", None).await.expect("paused");
    assert_eq!(paused["status"], "paused");
    assert!(state_becomes(pid, |s| s == 'T').await, "SIGSTOP reached the process");
    // Pausing twice is refused, state unchanged.
    let (status, err) =
        call(&api, Method::POST, "/api/projects/p/run/pause", None).await.expect_err("already paused");
    assert_eq!((status, err["code"].as_str()), (409, Some("run_already_so")));
    assert_eq!(err["message"], "the run is paused already");

    let resumed = call(&api, Method::POST, "/api/projects/p/run/resume", None).await.expect("resumed");
    assert_eq!(resumed["status"], "running");
    assert!(state_becomes(pid, |s| s != 'T').await, "SIGCONT reached the process");

    let ended = call(&api, Method::DELETE, "/api/projects/p/run", None).await.expect("ended");
    assert_eq!(ended["status"], "stopped");
    assert!(matches!(process_state(pid), Some('S' | 'R')), "ending the run does not kill the process");
    let _ = child.kill();
    let _ = child.wait();
    server.stop().await;
}

/// Signals are delivered asynchronously: poll the state for up to 10 s.
async fn state_becomes(pid: u32, pred: impl Fn(char) -> bool) -> bool {
    for _ in 0..200 {
        if process_state(pid).is_some_and(&pred) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// The state letter of `/proc/{pid}/stat` (R, S, T, Z, …).
fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')').next()?.trim_start().chars().next()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cadence_follows_the_run_and_switches_without_waiting_out_the_idle_sleep() {
    // An idle cadence far longer than any wait below: every sample this test gets
    // within its limits comes from a switch waking the sampler, not from a sleep
    // running out.
    let idle = Duration::from_secs(60);
    let config =
        Config { live_interval: Duration::from_millis(300), idle_interval: idle, ..Config::default() };
    let server = TestServer::start(config).await;
    let api = server.api();
    let mut client = connect(server.addr, "cadence").await;
    let limit = Duration::from_secs(20);

    let mut child = Command::new("sleep").arg("60").spawn().expect("spawn sleep");
    call(&api, Method::POST, "/api/projects/cadence/run", Some(json!({ "pid": child.id() })))
        .await
        .expect("registered");
    let live = until_within(&mut client, limit, |m| m.run.status == RunStatus::Running).await;
    assert_eq!(live.interval_ms, 300, "a live run is sampled at the live cadence");
    for _ in 0..5 {
        let m = until_within(&mut client, limit, |_| true).await;
        assert_eq!((m.run.status, m.interval_ms), (RunStatus::Running, 300));
    }

    call(&api, Method::DELETE, "/api/projects/cadence/run", None).await.expect("ended");
    let stopped = until_within(&mut client, limit, |m| m.run.status == RunStatus::Stopped).await;
    assert_eq!(stopped.interval_ms, idle.as_millis() as u64, "back to the idle cadence");
    let _ = child.kill();
    let _ = child.wait();
    server.stop().await;
}

/// The next live sample satisfying `pred`, within `limit` in all.
async fn until_within(
    client: &mut server::testkit::Client,
    limit: Duration,
    pred: impl Fn(&shared::PerfMetrics) -> bool,
) -> shared::PerfMetrics {
    let wait = async {
        loop {
            if let ServerMsg::PerfMetrics(m) = next_msg(client).await
                && pred(&m)
            {
                return m;
            }
        }
    };
    tokio::time::timeout(limit, wait).await.unwrap_or_else(|_| panic!("no such sample within {limit:?}"))
}

async fn collect(client: &mut server::testkit::Client, n: usize) -> Vec<shared::PerfMetrics> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(next_metrics(client).await);
    }
    out
}

#[tokio::test]
async fn a_reconnecting_client_first_gets_the_recent_history() {
    let server = TestServer::start(fast_config()).await;
    let mut first = connect(server.addr, "replay").await;
    let seen: Vec<u64> = collect(&mut first, 4).await.iter().map(|m| m.seq).collect();
    drop(first);

    let mut again = connect(server.addr, "replay").await;
    let ServerMsg::History(history) = next_msg(&mut again).await else {
        panic!("the first message after connect is the history")
    };
    let seqs: Vec<u64> = history.samples.iter().map(|m| m.seq).collect();
    assert!(seqs.len() >= seen.len(), "history {seqs:?} holds at least what was seen {seen:?}");
    assert!(seen.iter().all(|s| seqs.contains(s)), "history {seqs:?} holds {seen:?}");
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "history is contiguous and ordered: {seqs:?}");
    // Then the newest sample whole (the history's last, or one newer if a tick
    // came between), and the live stream carries on from there, with no repeat
    // (a loaded machine may make the client skip to a newer sample, never an
    // older one).
    let newest = next_metrics(&mut again).await;
    assert!(newest.seq >= seqs.last().copied().unwrap_or_default(), "{} after {seqs:?}", newest.seq);
    let next = next_metrics(&mut again).await;
    assert!(next.seq > newest.seq, "{} after {}", next.seq, newest.seq);
    server.stop().await;
}

#[tokio::test]
async fn token_reports_reach_the_stream_and_a_new_run_resets_the_run_count() {
    let server = TestServer::start(fast_config()).await;
    let api = server.api();
    let mut client = connect(server.addr, "tok").await;
    let m = next_metrics(&mut client).await;
    assert!(!m.tokens.available, "no report yet: not available");

    let mut child = Command::new("sleep").arg("60").spawn().expect("spawn sleep");
    call(&api, Method::POST, "/api/projects/tok/run", Some(json!({ "pid": child.id() }))).await.expect("run");
    call(&api, Method::POST, "/api/projects/tok/tokens", Some(json!({ "tokens": 1200 })))
        .await
        .expect("tokens");
    let t = call(&api, Method::POST, "/api/projects/tok/tokens", Some(json!({ "tokens": 220 })))
        .await
        .expect("tokens");
    assert_eq!((t["current_run"].as_u64(), t["total_session"].as_u64()), (Some(1420), Some(1420)));
    let m = metrics_until(&mut client, 10, |m| m.tokens.current_run == 1420).await;
    assert!(m.tokens.available);

    call(&api, Method::DELETE, "/api/projects/tok/run", None).await.expect("end");
    call(&api, Method::POST, "/api/projects/tok/run", Some(json!({ "pid": child.id() })))
        .await
        .expect("new run");
    let t = call(&api, Method::POST, "/api/projects/tok/tokens", Some(json!({ "tokens": 80 })))
        .await
        .expect("tokens");
    assert_eq!((t["current_run"].as_u64(), t["total_session"].as_u64()), (Some(80), Some(1500)));
    let _ = child.kill();
    let _ = child.wait();
    server.stop().await;
}

#[tokio::test]
async fn bad_api_input_gets_a_4xx_naming_the_field_and_changes_nothing() {
    let server = TestServer::start(fast_config()).await;
    let api = server.api();
    // A first sample exists for the project, so its latest sample can be read below.
    let mut watcher = connect(server.addr, "x").await;
    next_metrics(&mut watcher).await;
    let cases = [
        ("/api/projects/x/run", json!({ "pid": "42" }), 400, "pid"),
        ("/api/projects/x/run", json!({ "pid": -3 }), 400, "pid"),
        ("/api/projects/x/run", json!({ "pid": 0 }), 422, "pid"),
        ("/api/projects/x/run", json!({}), 400, "pid"),
        ("/api/projects/x/run", json!({ "pid": 12, "cmd": "rm -rf" }), 400, "cmd"),
        ("/api/projects/x/run", json!({ "pid": 4_000_000_000u32 }), 422, "pid"),
        ("/api/projects/x/tokens", json!({ "tokens": -5 }), 400, "tokens"),
        ("/api/projects/x/tokens", json!({ "tokens": 1.5 }), 400, "tokens"),
        ("/api/projects/x/tokens", json!({ "tokens": u64::MAX }), 422, "tokens"),
    ];
    for (path, body, status, field) in cases {
        let (got, err) = call(&api, Method::POST, path, Some(body.clone())).await.expect_err("refused");
        assert_eq!(got, status, "{path} {body}: {err}");
        assert_eq!(err["field"], field, "{path} {body}: {err}");
        assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let (got, err) = call(&api, Method::POST, "/api/projects/..%2F/run", Some(json!({ "pid": 1 })))
        .await
        .expect_err("bad name");
    assert_eq!((got, err["code"].as_str()), (400, Some("invalid_project")));

    // Nothing changed.
    let run = call(&api, Method::GET, "/api/projects/x/run", None).await.expect("run");
    assert_eq!((&run["status"], &run["run_id"]), (&json!("stopped"), &json!(null)));
    let latest = call(&api, Method::GET, "/api/projects/x/metrics", None).await.expect("a sample exists");
    assert_eq!(latest["tokens"]["available"], false);
    server.stop().await;
}

#[tokio::test]
async fn the_latest_sample_and_prometheus_agree_and_parse() {
    let server = TestServer::start(fast_config()).await;
    let api = server.api();
    let mut client = connect(server.addr, "prom").await;
    let mut child = Command::new("sleep").arg("60").spawn().expect("spawn sleep");
    call(&api, Method::POST, "/api/projects/prom/run", Some(json!({ "pid": child.id() })))
        .await
        .expect("run");
    call(&api, Method::POST, "/api/projects/prom/tokens", Some(json!({ "tokens": 77 })))
        .await
        .expect("tokens");
    metrics_until(&mut client, 10, |m| m.tokens.available && m.run.process.is_some()).await;

    let latest = call(&api, Method::GET, "/api/projects/prom/metrics", None).await.expect("latest");
    assert_eq!(latest["project"], "prom");
    assert_eq!(latest["run"]["status"], "running");

    let text = server.api().call(Method::GET, "/metrics", None).await.expect("scrape");
    let samples = parse_prometheus(&text);
    let get = |key: &str| samples.iter().find(|(k, _)| k == key).map(|(_, v)| *v);
    let cpu = get("perfmon_cpu_usage_percent").unwrap_or_else(|| panic!("cpu gauge in {text}"));
    assert!((0.0..=100.0).contains(&cpu));
    assert!(get("perfmon_memory_total_bytes").is_some_and(|v| v > 0.0));
    assert!(get("perfmon_cpu_core_usage_percent{core=\"0\"}").is_some());
    let gpu = if latest["gpu"]["available"] == true { 1.0 } else { 0.0 };
    assert_eq!(get("perfmon_gpu_available"), Some(gpu), "the same answer as the JSON sample");
    assert_eq!(get("perfmon_run_live{project=\"prom\"}"), Some(1.0));
    assert_eq!(get("perfmon_tokens_session_total{project=\"prom\"}"), Some(77.0));
    assert!(get("perfmon_monitor_resident_bytes").is_some_and(|v| v > 0.0));
    assert!(text.contains("# TYPE perfmon_network_receive_bytes_total counter"), "{text}");
    // Exact bytes, as the kernel counts them, not a rounded GB scaled back up.
    let total = get("perfmon_memory_total_bytes").expect("memory total");
    let meminfo = std::fs::read_to_string("/proc/meminfo").expect("/proc/meminfo");
    let kib: f64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("MemTotal");
    assert_eq!(total, kib * 1024.0, "the kernel's MemTotal, to the byte");
    let _ = child.kill();
    let _ = child.wait();
    server.stop().await;
    server::testkit::promtool_accepts(&text);
}

/// The machine in depth on `/metrics` from the real server on this machine:
/// every section's families, in base units, with HELP and TYPE, holding what
/// the JSON sample holds; each perf event's availability, an event not counted
/// left out (on this VM, every hardware event); and promtool accepts it all.
#[tokio::test]
async fn the_machine_in_depth_reaches_prometheus_in_base_units_and_promtool_accepts_it() {
    let server = TestServer::start(fast_config()).await;
    let api = server.api();
    let json = sample_in_depth(&api, "depth").await;
    let text = api.call(Method::GET, "/metrics", None).await.expect("scrape");
    server.stop().await;
    let samples = parse_prometheus(&text);
    let get = |key: &str| samples.iter().find(|(k, _)| k == key).map(|(_, v)| *v);
    let family = |prefix: &str| -> Vec<(String, f64)> {
        samples.iter().filter(|(k, _)| k.starts_with(&format!("{prefix}{{"))).cloned().collect()
    };

    // Every family says what it is and in which unit.
    for (key, _) in &samples {
        let name = key.split('{').next().unwrap_or(key);
        assert!(text.contains(&format!("# HELP {name} ")), "{name} has HELP");
        assert!(text.contains(&format!("# TYPE {name} ")), "{name} has TYPE");
    }
    for (key, _) in &samples {
        if let Some((_, labels)) = key.split_once('{') {
            assert!(!labels.contains("=\"/"), "a label is a name, never a path: {key}");
        }
    }

    let modes = family("perfmon_cpu_mode_percent");
    let sum: f64 = modes.iter().map(|(_, v)| v).sum();
    assert!(modes.len() >= 8 && (sum - 100.0).abs() <= 0.6, "the modes sum to 100: {modes:?}");
    assert!(get(r#"perfmon_cpu_core_mode_percent{cpu="0",mode="idle"}"#).is_some(), "{text}");
    assert!(get("perfmon_context_switches_per_second").is_some_and(|v| v > 0.0));
    assert!(get("perfmon_procs_running").is_some_and(|v| v >= 1.0), "this test runs");
    if json["pressure"]["available"] == true {
        for resource in ["cpu", "io", "memory"] {
            let key = format!(r#"perfmon_pressure_some_avg10_percent{{resource="{resource}"}}"#);
            assert!(get(&key).is_some_and(|v| (0.0..=100.0).contains(&v)), "{key}");
        }
    }
    let total = get("perfmon_memory_total_bytes").expect("memory total");
    assert!(get("perfmon_memory_available_bytes").is_some_and(|v| v > 0.0 && v <= total));
    assert!(get("perfmon_memory_cached_bytes").is_some_and(|v| v > 0.0 && v <= total));
    assert_eq!(get("perfmon_hugepage_size_bytes"), json["memory_detail"]["hugepage_size_bytes"].as_f64());
    assert!(get("perfmon_paging_page_faults_per_second").is_some());
    if let Some(kills) = json["paging"]["oom_kills"].as_u64() {
        assert!(text.contains("# TYPE perfmon_oom_kills_total counter"));
        assert!(get("perfmon_oom_kills_total").is_some_and(|v| v >= kills as f64), "a counter only grows");
    }

    for disk in json["disks"]["devices"].as_array().expect("disks") {
        let name = disk["name"].as_str().expect("a name");
        for f in ["reads_per_second", "write_bytes_per_second", "busy_percent", "in_flight_requests"] {
            let key = format!(r#"perfmon_disk_device_{f}{{device="{name}"}}"#);
            assert!(get(&key).is_some_and(|v| v >= 0.0), "{key} in {text}");
        }
    }
    for fs in json["filesystems"]["filesystems"].as_array().expect("filesystems") {
        let (device, fstype) =
            (fs["device"].as_str().expect("device"), fs["fs_type"].as_str().expect("type"));
        let key = format!(r#"perfmon_filesystem_size_bytes{{device="{device}",fstype="{fstype}"}}"#);
        let size_gb = fs["size_gb"].as_f64().expect("a size");
        assert_eq!(
            get(&key),
            Some((size_gb * (1u64 << 30) as f64).round()),
            "{key}: the sample's GiB in bytes"
        );
    }
    for interface in json["interfaces"]["interfaces"].as_array().expect("interfaces") {
        let name = interface["name"].as_str().expect("a name");
        let key = format!(r#"perfmon_network_interface_receive_bytes_per_second{{interface="{name}"}}"#);
        assert!(get(&key).is_some(), "{key}");
    }
    assert!(family("perfmon_network_interface_receive_bytes_per_second").len() <= 32, "bounded");
    assert!(
        get(r#"perfmon_tcp_connections{state="listen"}"#).is_some_and(|n| n >= 1.0),
        "the server listens"
    );
    assert!(get("perfmon_udp_sockets").is_some());

    // Each event's availability as the JSON says it; an event not counted has
    // no rate at all (not 0).
    let events = json["perf_events"]["events"].as_object().expect("events");
    assert!(!events.is_empty());
    for (name, event) in events {
        let counted = event["available"] == true;
        let key = format!(r#"perfmon_perf_event_available{{event="{name}"}}"#);
        assert_eq!(get(&key), Some(if counted { 1.0 } else { 0.0 }), "{key}");
        let rate = get(&format!(r#"perfmon_perf_events_per_second{{event="{name}"}}"#));
        if !counted || name == "cpu-clock" {
            assert_eq!(rate, None, "{name}: left out");
        }
    }
    if events.get("context-switches").is_some_and(|e| e["available"] == true) {
        let rate = get(r#"perfmon_perf_events_per_second{event="context-switches"}"#);
        assert!(rate.is_some_and(|v| v > 0.0), "counted on this machine: {rate:?}");
        // cpu-clock is time, not a count: msec per second as seconds per second.
        let clock = events["cpu-clock"]["per_s"].as_f64().map(|msec_per_s| msec_per_s / 1000.0);
        assert!(clock.is_some());
        assert_eq!(get("perfmon_perf_cpu_clock_seconds_per_second"), clock);
    }
    server::testkit::promtool_accepts(&text);
}

/// `name{labels} value` lines of the text format; comments skipped. Panics on a
/// line that is neither, so malformed output fails the test.
fn parse_prometheus(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            let (key, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("malformed line {line:?}"));
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value in {line:?}"));
            assert!(key.starts_with("perfmon_"), "{line}");
            (key.to_owned(), value)
        })
        .collect()
}
