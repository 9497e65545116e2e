//! The store through the real binary and real files: runs and history survive a
//! restart and a `kill -9`, `perfmon run` records its command's exit code, a
//! read-only or full data directory degrades the store while the stream goes on,
//! a second server on one directory is refused, and bad queries get JSON errors.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use server::cli::client::{ApiClient, ClientError, Method};
use server::testkit::{
    Perfmon, Sandbox, Scratch, connect, eventually, next_metrics, private_mount_namespace,
};
use shared::api::{Health, HistorySeries, RunOutcome, RunReport, Runs};

const PERFMON: &str = env!("CARGO_BIN_EXE_perfmon");
const FAST: [&str; 4] = ["--live-interval-ms", "200", "--idle-interval-ms", "200"];

async fn serve(data: &Path) -> Perfmon {
    let mut args = vec!["--data-dir", data.to_str().expect("utf-8 path")];
    args.extend(FAST);
    Perfmon::serve(Path::new(PERFMON), &args).await
}

async fn get<T: serde::de::DeserializeOwned>(api: &ApiClient, path: &str) -> T {
    let body = api.call(Method::GET, path, None).await.unwrap_or_else(|err| panic!("GET {path}: {err:?}"));
    serde_json::from_str(&body).unwrap_or_else(|err| panic!("GET {path}: {err}: {body}"))
}

/// The status and JSON error body of a refused GET.
async fn refused(api: &ApiClient, path: &str) -> (u16, shared::api::ApiError) {
    match api.call(Method::GET, path, None).await {
        Err(ClientError::Refused { status, body }) => {
            (status.as_u16(), serde_json::from_str(&body).unwrap_or_else(|_| panic!("JSON error: {body}")))
        }
        other => panic!("GET {path} should be refused: {other:?}"),
    }
}

async fn store_state(api: &ApiClient) -> shared::api::StoreHealth {
    get::<Health>(api, "/api/health").await.store.expect("health reports the store")
}

async fn runs_of(api: &ApiClient, project: &str) -> Runs {
    get(api, &format!("/api/projects/{project}/runs")).await
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .expect("instant")
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_and_history_survive_a_restart_and_a_kill_9() {
    let data = Scratch::new("store-kill");
    let started = now_ms();
    let perfmon = serve(&data.0).await;
    let api = perfmon.api();
    let mut child = Command::new("sleep").arg("60").spawn().expect("a run");
    let body = serde_json::json!({ "pid": child.id(), "label": "nightly" }).to_string();
    let run: shared::Run = serde_json::from_str(
        &api.call(Method::POST, "/api/projects/crash/run", Some(body)).await.expect("registered"),
    )
    .expect("run");
    let run_id = run.run_id.expect("run id");
    // A few seconds of ticks with the run live, committed as they come.
    let recorded =
        eventually(Duration::from_secs(20), "the run is recorded with its first ticks", || async {
            let page = runs_of(&api, "crash").await;
            page.runs.first().filter(|r| r.peak_process_count > 0).cloned()
        })
        .await;
    assert_eq!((recorded.status, recorded.label.as_deref()), (RunOutcome::Running, Some("nightly")));
    // Wait for stored seconds, not for time: under load the first ticks come late.
    let window =
        |to: i64| format!("/api/history?from={}&to={}&step=1&project=crash", rfc3339(started), rfc3339(to));
    let stored =
        |history: &HistorySeries| history.series["cpu.percent"].iter().filter(|v| v.is_some()).count();
    let seen = eventually(Duration::from_secs(30), "three seconds of history are stored", || async {
        let history: HistorySeries = get(&api, &window(now_ms())).await;
        Some(stored(&history)).filter(|kept| *kept >= 3)
    })
    .await;
    let killed_at = now_ms();
    perfmon.kill();
    // The run's process ends while no server watches (one still running at the
    // next start is followed again: tests/truth.rs).
    let _ = child.kill();
    let _ = child.wait();

    // The next start finds the run interrupted, ended at its last recorded tick.
    let perfmon = serve(&data.0).await;
    let api = perfmon.api();
    let page = eventually(Duration::from_secs(20), "the run is marked interrupted", || async {
        let page: Runs = runs_of(&api, "crash").await;
        (page.runs.first().map(|r| r.status) == Some(RunOutcome::Interrupted)).then_some(page)
    })
    .await;
    let record = &page.runs[0];
    assert_eq!(record.run_id, run_id);
    let ended = chrono::DateTime::parse_from_rfc3339(record.ended_at.as_ref().expect("ended").as_str())
        .expect("instant")
        .timestamp_millis();
    assert!(killed_at - ended <= 2_000, "at most the last second or so is lost: {} ms", killed_at - ended);

    // The machine's history from before the crash is there, second by second.
    // (Every second read back before the kill; one more may have landed since.)
    let history: HistorySeries = get(&api, &window(killed_at)).await;
    let kept = stored(&history);
    assert!(kept >= seen, "{kept} seconds kept of the {seen} stored before the kill");
    assert!(history.series["run.process_count"].contains(&Some(1.0)));
    assert_eq!(history.runs.first().map(|b| b.run_id.as_str()), Some(run_id.as_str()));

    // The wrapper outlived the server: its exit report still lands.
    let body = serde_json::json!({ "signal": 9 }).to_string();
    api.call(Method::POST, &format!("/api/projects/crash/runs/{run_id}/exit"), Some(body))
        .await
        .expect("exit");
    let record = eventually(Duration::from_secs(10), "the exit report is recorded", || async {
        runs_of(&api, "crash").await.runs.into_iter().find(|r| r.status == RunOutcome::Killed)
    })
    .await;
    assert_eq!(record.signal, Some(9));

    // A clean stop keeps everything too.
    perfmon.terminate(Duration::from_secs(10));
    let perfmon = serve(&data.0).await;
    let report: RunReport = get(&perfmon.api(), &format!("/api/projects/crash/runs/{run_id}")).await;
    assert_eq!(report.run.status, RunOutcome::Killed);
    assert!(report.history.series["run.process_count"].iter().any(Option::is_some));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn perfmon_run_records_the_exit_code_and_runs_and_report_print_it() {
    let data = Scratch::new("store-wrap");
    let sandbox = Sandbox::new("store-wrap");
    let dir = data.0.to_str().expect("utf-8");
    for (label, code) in [("first", "0"), ("second", "3")] {
        let status = sandbox
            .tokio_command(PERFMON)
            .args(["run", "--project", "wrap", "--label", label, "--data-dir", dir])
            .args(["--", "sh", "-c", &format!("sleep 1; exit {code}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await
            .expect("perfmon run");
        assert_eq!(
            status.code(),
            Some(code.parse().expect("code")),
            "the command's exit code passes through"
        );
    }
    // No server now: `perfmon runs` reads the store's file.
    let out = sandbox
        .command(PERFMON)
        .args(["runs", "--project", "wrap", "--data-dir", dir])
        .output()
        .expect("perfmon runs");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(lines[1].contains("second") && lines[1].contains("exit 3"), "newest first: {table}");
    assert!(lines[2].contains("first") && lines[2].contains("exit 0"), "{table}");

    let run_id = lines[1].split_whitespace().next().expect("run id");
    let out = sandbox
        .command(PERFMON)
        .args(["report", run_id, "--project", "wrap", "--data-dir", dir])
        .output()
        .expect("perfmon report");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("status    exit 3") && text.contains("label     second"), "{text}");
    assert!(text.contains("previous"), "compared with the first run: {text}");

    // The same through a server, with CSV.
    let perfmon = serve(&data.0).await;
    let api = perfmon.api();
    let csv_text = api.call(Method::GET, "/api/projects/wrap/runs?format=csv", None).await.expect("csv");
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let header = reader.headers().expect("header").clone();
    let rows: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>().expect("CSV parses");
    assert_eq!(rows.len(), 2);
    let column = |name: &str| header.iter().position(|h| h == name).expect(name);
    assert_eq!(&rows[0][column("exit_code")], "3");
    assert_eq!(&rows[0][column("label")], "second");
    let report = api.call(Method::GET, &format!("/api/projects/wrap/runs/{run_id}?format=csv"), None).await;
    let report = report.expect("report csv");
    let mut reader = csv::Reader::from_reader(report.as_bytes());
    assert_eq!(reader.headers().expect("header").get(0), Some("time"));
    assert!(reader.records().count() > 0, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_the_same_data_directory_is_refused_naming_the_first() {
    let data = Scratch::new("store-two");
    let first = serve(&data.0).await;
    let out = Sandbox::new("store-two")
        .tokio_command(PERFMON)
        .args(["serve", "--data-dir", data.0.to_str().expect("utf-8")])
        .output()
        .await
        .expect("second perfmon");
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains(&format!("pid {}", first.pid())), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_history_queries_get_json_errors_naming_the_parameter() {
    let data = Scratch::new("store-bad");
    let perfmon = serve(&data.0).await;
    let api = perfmon.api();
    let (now, hour) = (now_ms(), 3_600_000);
    let cases = [
        (format!("/api/history?from={}&to={}", rfc3339(now), rfc3339(now - hour)), 400, "from"),
        (
            format!("/api/history?from={}&to={}", rfc3339(now - 10 * 365 * 24 * hour), rfc3339(now)),
            400,
            "from",
        ),
        ("/api/history?from=yesterday".to_owned(), 400, "from"),
        ("/api/history?to=2026-13-45T99:00:00Z".to_owned(), 400, "to"),
        (format!("/api/history?from={}&step=1", rfc3339(now - 24 * hour)), 400, "step"),
        ("/api/history?step=-5".to_owned(), 400, "step"),
        ("/api/history?stpe=60".to_owned(), 400, "stpe"),
        ("/api/history?format=xml".to_owned(), 400, "format"),
        ("/api/projects/p/runs?limit=0".to_owned(), 400, "limit"),
        ("/api/projects/p/runs?before=last-tuesday".to_owned(), 400, "before"),
        ("/api/projects/p/runs?before=9-2026-01-01T00:00:00Z".to_owned(), 400, "before"),
        ("/api/projects/p/runs/123-2026-01-01T00:00:00Z".to_owned(), 404, "run_id"),
        ("/api/projects/p/runs/..%2F..%2Fetc".to_owned(), 400, "run_id"),
    ];
    for (path, status, field) in cases {
        let (got, err) = refused(&api, &path).await;
        assert_eq!((got, err.field.as_deref()), (status, Some(field)), "{path}: {}", err.message);
        assert!(!err.message.is_empty());
    }
    let body = serde_json::json!({ "exit_code": 1 }).to_string();
    match api.call(Method::POST, "/api/projects/p/runs/1-x/exit", Some(body)).await {
        Err(ClientError::Refused { status, .. }) => assert_eq!(status.as_u16(), 404),
        other => panic!("an exit report for an unknown run is refused: {other:?}"),
    }
    let both = serde_json::json!({ "exit_code": 1, "signal": 9 }).to_string();
    match api.call(Method::POST, "/api/projects/p/runs/1-x/exit", Some(both)).await {
        Err(ClientError::Refused { status, body }) => assert_eq!(status.as_u16(), 400, "{body}"),
        other => panic!("exactly one of exit_code and signal: {other:?}"),
    }
    // A good query with no data yet answers with the columns, empty.
    let fresh: HistorySeries = get(&api, "/api/history").await;
    assert_eq!(fresh.step_s, 2, "an hour at about 2,000 points");
    assert!(fresh.series.contains_key("cpu.percent"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_store_keeps_nothing_and_says_so() {
    let mut args = vec!["--no-store"];
    args.extend(FAST);
    let perfmon = Perfmon::serve(Path::new(PERFMON), &args).await;
    let api = perfmon.api();
    assert_eq!(store_state(&api).await.state, "off");
    let (status, err) = refused(&api, "/api/history").await;
    assert_eq!((status, err.code.as_str()), (503, "store_off"));
}

/// `perfmon serve` in a mount namespace of its own with a tmpfs mounted (with
/// `options`) on its data directory. Where no such namespace is allowed the test
/// fails, saying so: it cannot show what it is for without one.
async fn serve_on_tmpfs(options: &str) -> (Perfmon, Sandbox) {
    let sandbox = Sandbox::new("store-tmpfs");
    let data = sandbox.data_dir();
    std::fs::create_dir_all(&data).expect("the data directory");
    let script = format!(
        "mount -t tmpfs -o {options} perfmon-test \"$1\" && exec \"$2\" serve --bind {} --data-dir \"$1\" \
         --live-interval-ms 100 --idle-interval-ms 100",
        sandbox.addr()
    );
    let mut command = sandbox.wrap("unshare", private_mount_namespace());
    command
        .args(["sh", "-c", &script, "sh"])
        .arg(&data)
        .arg(PERFMON)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    (Perfmon::start(command, &sandbox).await, sandbox)
}

/// The stream still delivers samples.
async fn stream_goes_on(perfmon: &Perfmon) {
    let mut client = connect(perfmon.addr, "degraded").await;
    let first = next_metrics(&mut client).await;
    let second = next_metrics(&mut client).await;
    assert!(second.seq > first.seq);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_data_directory_degrades_the_store_and_the_stream_goes_on() {
    let (perfmon, _sandbox) = serve_on_tmpfs("ro").await;
    let api = perfmon.api();
    let store = eventually(Duration::from_secs(10), "the store is degraded", || async {
        let store = store_state(&api).await;
        (store.state == "degraded").then_some(store)
    })
    .await;
    assert!(store.reason.as_deref().unwrap_or_default().contains("read-only"), "{store:?}");
    stream_goes_on(&perfmon).await;
    let counted = eventually(Duration::from_secs(10), "dropped samples are counted", || async {
        let store = store_state(&api).await;
        (store.dropped_samples > 0).then_some(store.dropped_samples)
    })
    .await;
    assert!(counted > 0, "samples not kept are counted");
    let (status, err) = refused(&api, "/api/history").await;
    assert_eq!((status, err.code.as_str()), (503, "store_unavailable"), "{}", err.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_degrades_the_store_and_the_stream_goes_on() {
    // Room for the schema, not for the log of a few seconds of samples.
    let (perfmon, _sandbox) = serve_on_tmpfs("size=192k").await;
    let api = perfmon.api();
    let store = eventually(Duration::from_secs(60), "the store is degraded by the full disk", || async {
        let store = store_state(&api).await;
        (store.state == "degraded").then_some(store)
    })
    .await;
    assert_eq!(store.reason.as_deref(), Some("the disk is full"), "{store:?}");
    stream_goes_on(&perfmon).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn perfmon_run_records_its_exit_when_the_server_restarts_or_at_its_next_start() {
    let data = Scratch::new("store-restart");
    // One sandbox for every start: the same port and control directory, as a
    // restarted service has.
    let sandbox = Sandbox::new("store-restart");
    let dir = data.0.to_str().expect("utf-8").to_owned();
    let addr = sandbox.addr();
    let mut args = vec!["--data-dir", dir.as_str()];
    args.extend(FAST);
    let binary = Path::new(PERFMON);
    // The server comes back while the wrapper retries (a service restarted: a
    // new control secret the wrapper must read again), or only after the
    // wrapper gave up (the exit waits for its next start).
    for (label, code, back_while_retrying) in [("restarted", 5, true), ("still down", 6, false)] {
        let perfmon = Perfmon::serve_in(&sandbox, binary, &args).await;
        let mut wrapper = sandbox
            .tokio_command(PERFMON)
            .args(["run", "--project", "restart", "--label", label, "--data-dir", &dir])
            .args(["--", "sh", "-c", &format!("sleep 3; exit {code}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("perfmon run");
        let api = perfmon.api();
        eventually(Duration::from_secs(10), "the run is registered", || async {
            let run: serde_json::Value =
                serde_json::from_str(&api.call(Method::GET, "/api/projects/restart/run", None).await.ok()?)
                    .ok()?;
            (run["status"] == "running").then_some(())
        })
        .await;
        perfmon.kill();
        let back = if back_while_retrying {
            tokio::time::sleep(Duration::from_millis(500)).await;
            Some(Perfmon::serve_in(&sandbox, binary, &args).await)
        } else {
            None
        };
        let status = tokio::time::timeout(Duration::from_secs(30), wrapper.wait())
            .await
            .expect("the wrapper ends soon after its command")
            .expect("waited");
        assert_eq!(status.code(), Some(code), "{label}: the command's exit code passes through");
        let perfmon = match back {
            Some(perfmon) => perfmon,
            None => Perfmon::serve_in(&sandbox, binary, &args).await,
        };
        let api = perfmon.api();
        let record = eventually(Duration::from_secs(10), "the exit is recorded", || async {
            let runs = get::<Runs>(&api, "/api/projects/restart/runs").await;
            runs.runs.into_iter().find(|r| r.label.as_deref() == Some(label) && r.exit_code.is_some())
        })
        .await;
        assert_eq!((record.status, record.exit_code), (RunOutcome::Exited, Some(code)), "{label}");
        let kept = sandbox.runtime_dir().join("perfmon").join(format!("exits-{}", addr.port()));
        let left = std::fs::read_dir(&kept).map(|d| d.count()).unwrap_or(0);
        assert_eq!(left, 0, "{label}: nothing is left waiting once recorded");
        perfmon.terminate(Duration::from_secs(10));
    }
}
