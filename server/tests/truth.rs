//! Run records that stay true in ordinary situations, through the real binary:
//! a second run in a project is recorded beside the first and never ends it;
//! one pid registered in two projects at once keeps two records; the CPU time of
//! children that live less than a tick is counted; a recorded exit is never
//! rewritten; a run still alive across a server restart is followed again, not
//! cut; and a store read while no server runs never shows a run as running.

use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use server::cli::client::{ApiClient, ClientError, Method};
use server::testkit::{Perfmon, Sandbox, eventually};
use shared::api::{RunOutcome, RunRecord, Runs};

const PERFMON: &str = env!("CARGO_BIN_EXE_perfmon");
const FAST: [&str; 4] = ["--live-interval-ms", "200", "--idle-interval-ms", "200"];

async fn serve(sandbox: &Sandbox) -> Perfmon {
    Perfmon::serve_in(sandbox, Path::new(PERFMON), &FAST).await
}

/// A process that runs until killed.
fn sleeper() -> Child {
    Command::new("sleep").arg("300").spawn().expect("sleep")
}

async fn register(api: &ApiClient, project: &str, pid: u32, from_start: bool) -> String {
    let body = serde_json::json!({ "pid": pid, "from_start": from_start }).to_string();
    let answer = api
        .call(Method::POST, &format!("/api/projects/{project}/run"), Some(body))
        .await
        .unwrap_or_else(|err| panic!("register {pid} in {project}: {err:?}"));
    serde_json::from_str::<shared::Run>(&answer).expect("a run").run_id.expect("a run id")
}

async fn runs_of(api: &ApiClient, project: &str) -> Vec<RunRecord> {
    let body = api.call(Method::GET, &format!("/api/projects/{project}/runs"), None).await.expect("runs");
    serde_json::from_str::<Runs>(&body).expect("runs").runs
}

async fn record_of(api: &ApiClient, project: &str, run_id: &str) -> Option<RunRecord> {
    runs_of(api, project).await.into_iter().find(|r| r.run_id == run_id)
}

/// Waits until `run_id`'s record satisfies `done`.
async fn record_when(
    api: &ApiClient,
    project: &str,
    run_id: &str,
    what: &str,
    done: impl Fn(&RunRecord) -> bool,
) -> RunRecord {
    eventually(Duration::from_secs(20), what, || async {
        record_of(api, project, run_id).await.filter(|r| done(r))
    })
    .await
}

fn end(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_is_recorded_beside_the_first_and_never_ends_or_alters_it() {
    let sandbox = Sandbox::new("truth-second");
    let perfmon = serve(&sandbox).await;
    let api = perfmon.api();
    let (first, second) = (sleeper(), sleeper());
    let first_id = register(&api, "two", first.id(), false).await;
    let second_id = register(&api, "two", second.id(), false).await;
    assert_ne!(first_id, second_id);
    let shown: shared::Run =
        serde_json::from_str(&api.call(Method::GET, "/api/projects/two/run", None).await.expect("run"))
            .expect("run");
    assert_eq!(shown.run_id.as_deref(), Some(first_id.as_str()), "the project shows its oldest live run");
    // Both are measured while live.
    for id in [&first_id, &second_id] {
        record_when(&api, "two", id, "both runs measured", |r| r.peak_process_count > 0).await;
    }
    // The second ends: its record ends; the first one's does not.
    end(second);
    record_when(&api, "two", &second_id, "the second run ends", |r| r.status == RunOutcome::Exited).await;
    let first_record = record_of(&api, "two", &first_id).await.expect("the first run's record");
    assert_eq!((first_record.status, first_record.ended_at), (RunOutcome::Running, None));
    let shown: shared::Run =
        serde_json::from_str(&api.call(Method::GET, "/api/projects/two/run", None).await.expect("run"))
            .expect("run");
    assert_eq!(
        (shown.run_id.as_deref(), shown.status),
        (Some(first_id.as_str()), shared::RunStatus::Running)
    );
    end(first);
    record_when(&api, "two", &first_id, "the first run ends too", |r| r.status == RunOutcome::Exited).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_pid_in_two_projects_in_the_same_second_keeps_two_records() {
    let sandbox = Sandbox::new("truth-ids");
    let perfmon = serve(&sandbox).await;
    let api = perfmon.api();
    let child = sleeper();
    let a = register(&api, "alpha", child.id(), false).await;
    let b = register(&api, "beta", child.id(), false).await;
    assert_ne!(a, b, "one run id each");
    for (project, id) in [("alpha", &a), ("beta", &b)] {
        let record =
            record_when(&api, project, id, "each project keeps its run", |r| r.peak_process_count > 0).await;
        assert_eq!(record.project, project);
    }
    end(child);
    for (project, id) in [("alpha", &a), ("beta", &b)] {
        record_when(&api, project, id, "each run ends", |r| r.status == RunOutcome::Exited).await;
        assert_eq!(runs_of(&api, project).await.len(), 1, "{project} has exactly its own run");
    }
}

/// The kernel's own count of a process's CPU time and its reaped children's,
/// read from its stat while it is a zombie (its times are final then).
fn final_cpu_seconds_of_zombie(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the zombie's stat");
    let fields: Vec<u64> = stat
        .rsplit_once(')')
        .expect("stat")
        .1
        .split_whitespace()
        .skip(11)
        .take(4)
        .map(|f| f.parse().expect("ticks"))
        .collect();
    fields.iter().sum::<u64>() as f64 / 100.0
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cpu_time_of_children_shorter_than_a_tick_is_counted() {
    let sandbox = Sandbox::new("truth-cpu");
    // The default 1 s cadence: every child below lives less than a tick.
    let perfmon = Perfmon::serve_in(&sandbox, Path::new(PERFMON), &[]).await;
    let api = perfmon.api();
    let go = sandbox.home().join("go");
    // Six busy children of 0.3 s, each reaped before the next starts; a pause
    // after them so the last reading sees them all in the shell's reaped time.
    let script = format!(
        "while [ ! -e {go} ]; do sleep 0.01; done; \
         for i in 1 2 3 4 5 6; do timeout 0.3 sh -c 'while :; do :; done'; done; sleep 2",
        go = go.display()
    );
    let mut shell = Command::new("sh").args(["-c", &script]).spawn().expect("sh");
    let pid = shell.id();
    let run_id = register(&api, "cpu", pid, true).await;
    std::fs::write(&go, "").expect("go");
    eventually(Duration::from_secs(60), "the shell exits", || async { is_zombie(pid).then_some(()) }).await;
    let truth = final_cpu_seconds_of_zombie(pid);
    let _ = shell.wait();
    let record = record_when(&api, "cpu", &run_id, "the run ends", |r| r.status == RunOutcome::Exited).await;
    assert!(truth > 0.5, "the children burned CPU: {truth} s");
    // Rounded to a tenth in the record; a tick-sampled sum would have seen
    // next to nothing of children that never lived across a tick.
    assert!(
        (record.cpu_seconds - truth).abs() <= 0.11,
        "recorded {} s of CPU, the kernel says {truth} s",
        record.cpu_seconds
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_exit_is_never_rewritten() {
    let sandbox = Sandbox::new("truth-exit");
    let perfmon = serve(&sandbox).await;
    let api = perfmon.api();
    let child = sleeper();
    let run_id = register(&api, "done", child.id(), false).await;
    let path = format!("/api/projects/done/runs/{run_id}/exit");
    api.call(Method::POST, &path, Some(r#"{"exit_code":0}"#.into())).await.expect("the exit is taken");
    // Told the same again (a wrapper retrying) is fine; told otherwise is refused.
    api.call(Method::POST, &path, Some(r#"{"exit_code":0}"#.into())).await.expect("the same report again");
    match api.call(Method::POST, &path, Some(r#"{"signal":9}"#.into())).await {
        Err(ClientError::Refused { status, body }) => {
            assert_eq!(status.as_u16(), 409, "{body}");
            assert!(body.contains("exit_already_recorded"), "{body}");
        }
        other => panic!("a second, different exit must be refused: {other:?}"),
    }
    end(child);
    let record = record_when(&api, "done", &run_id, "the exit is recorded", |r| r.exit_code == Some(0)).await;
    assert_eq!((record.status, record.signal), (RunOutcome::Exited, None));
    // A restarted server answers from the store alike.
    perfmon.terminate(Duration::from_secs(10));
    let perfmon = serve(&sandbox).await;
    let api = perfmon.api();
    api.call(Method::POST, &path, Some(r#"{"exit_code":0}"#.into())).await.expect("the same report again");
    match api.call(Method::POST, &path, Some(r#"{"exit_code":1}"#.into())).await {
        Err(ClientError::Refused { status, .. }) => assert_eq!(status.as_u16(), 409),
        other => panic!("the stored exit must not be rewritten: {other:?}"),
    }
    let record = record_of(&api, "done", &run_id).await.expect("the record");
    assert_eq!((record.status, record.exit_code), (RunOutcome::Exited, Some(0)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_alive_across_a_server_restart_is_followed_again_not_cut() {
    let sandbox = Sandbox::new("truth-restart");
    let perfmon = serve(&sandbox).await;
    let api = perfmon.api();
    let child = sleeper();
    let run_id = register(&api, "long", child.id(), false).await;
    record_when(&api, "long", &run_id, "the run is recorded", |r| r.peak_process_count > 0).await;
    perfmon.kill();

    let perfmon = serve(&sandbox).await;
    let api = perfmon.api();
    let shown: shared::Run =
        serde_json::from_str(&api.call(Method::GET, "/api/projects/long/run", None).await.expect("run"))
            .expect("run");
    assert_eq!(
        (shown.run_id.as_deref(), shown.status),
        (Some(run_id.as_str()), shared::RunStatus::Running),
        "followed again under its own id"
    );
    let record = record_of(&api, "long", &run_id).await.expect("the record");
    assert_eq!((record.status, record.ended_at), (RunOutcome::Running, None), "not interrupted");
    // Its record runs on: it ends when its process does, its length whole.
    std::thread::sleep(Duration::from_millis(1500));
    let ended_at = chrono::Utc::now();
    end(child);
    let record = record_when(&api, "long", &run_id, "the run ends", |r| r.status == RunOutcome::Exited).await;
    let started = chrono::DateTime::parse_from_rfc3339(record.started_at.as_str()).expect("start");
    let whole = (ended_at - started.to_utc()).num_milliseconds() as f64 / 1000.0;
    assert!(record.duration_s >= whole - 1.0, "{} s recorded of {whole} s", record.duration_s);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_paused_across_a_server_restart_is_paused_and_resumes() {
    let sandbox = Sandbox::new("truth-paused");
    let perfmon = serve(&sandbox).await;
    let api = perfmon.api();
    let child = sleeper();
    let run_id = register(&api, "held", child.id(), false).await;
    record_when(&api, "held", &run_id, "the run is recorded", |r| r.peak_process_count > 0).await;
    api.call(Method::POST, "/api/projects/held/run/pause", None).await.expect("paused");
    perfmon.kill();

    let perfmon = serve(&sandbox).await;
    let api = perfmon.api();
    let shown = |body: String| serde_json::from_str::<shared::Run>(&body).expect("a run");
    let run = shown(api.call(Method::GET, "/api/projects/held/run", None).await.expect("run"));
    assert_eq!((run.run_id.as_deref(), run.status), (Some(run_id.as_str()), shared::RunStatus::Paused));
    let run = shown(api.call(Method::POST, "/api/projects/held/run/resume", None).await.expect("resumed"));
    assert_eq!(run.status, shared::RunStatus::Running);
    let state = std::fs::read_to_string(format!("/proc/{}/stat", child.id())).expect("its stat");
    assert!(!state.rsplit_once(')').expect("a stat line").1.trim_start().starts_with('T'), "{state}");
    end(child);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_read_with_no_server_never_shows_a_run_as_running() {
    let sandbox = Sandbox::new("truth-offline");
    let perfmon = serve(&sandbox).await;
    let api = perfmon.api();
    let child = sleeper();
    let run_id = register(&api, "crashed", child.id(), false).await;
    record_when(&api, "crashed", &run_id, "the run is recorded", |r| r.peak_process_count > 0).await;
    perfmon.kill();
    // Nothing answers at the sandbox's address now: `perfmon runs` reads the file.
    let out = sandbox.command(PERFMON).args(["runs", "--project", "crashed"]).output().expect("perfmon runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text} {}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("interrupted") && !text.contains("running"), "{text}");
    end(child);
}
