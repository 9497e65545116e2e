//! Where a run's time went, through the real binary: workloads with a known
//! bottleneck run with `perfmon run`, and each run's stored verdict names it —
//! a CPU burner is CPU-bound, one pinned beside two other burners on the same
//! core waits for a CPU, synchronous writes stall on IO, a sleep is idle
//! (waiting outside the machine), and the CPU of children that exit early is
//! still counted. A run under 10 s is not judged. A process registered while
//! running has PerfMon's own perf counters, from registration on.
//!
//! The workloads run one after another (each would skew the others' figures
//! on a 2-core machine), in one test, and every miss is reported at the end.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use server::cli::client::{ApiClient, Method};
use server::testkit::{Perfmon, Sandbox, eventually};
use shared::api::{RunReport, Runs};
use shared::why::{CountedFrom, ShareKind};

const PERFMON: &str = env!("CARGO_BIN_EXE_perfmon");
const PROJECT: &str = "why";

/// Long enough to be judged (10 s), with a margin.
const SECONDS: &str = "11";

/// A shell loop that burns one core until killed.
const BURN: &str = "while :; do :; done";

/// Runs `script` as a run labelled `label`, to its end; its report.
async fn run(sandbox: &Sandbox, api: &ApiClient, label: &str, script: &str) -> RunReport {
    let status = sandbox
        .tokio_command(PERFMON)
        .args(["run", "--project", PROJECT, "--label", label, "--", "sh", "-c", script])
        .stdout(Stdio::null())
        .status()
        .await
        .expect("perfmon run");
    assert!(status.success(), "{label}: perfmon run ended {status}");
    let run_id = eventually(Duration::from_secs(20), "the run is recorded", || async {
        let body = api.call(Method::GET, &format!("/api/projects/{PROJECT}/runs"), None).await.ok()?;
        let runs: Runs = serde_json::from_str(&body).ok()?;
        let run = runs.runs.into_iter().find(|r| r.label.as_deref() == Some(label))?;
        run.verdict.is_some_and(|v| v.judged || v.headline.starts_with("Too short")).then_some(run.run_id)
    })
    .await;
    let body =
        api.call(Method::GET, &format!("/api/projects/{PROJECT}/runs/{run_id}"), None).await.expect("report");
    serde_json::from_str(&body).expect("a run report")
}

fn percent(report: &RunReport, kind: ShareKind) -> f64 {
    let verdict = report.run.verdict.as_ref().expect("a verdict");
    verdict.shares.iter().find(|s| s.kind == kind).map_or(0.0, |s| s.percent)
}

/// Burners pinned to CPU 0 outside any run: the competition.
struct Competition(Vec<Child>);

impl Competition {
    fn on_cpu0(count: usize) -> Competition {
        let spawn = || {
            Command::new("taskset").args(["-c", "0", "sh", "-c", BURN]).spawn().unwrap_or_else(|err| {
                panic!("taskset (util-linux) is needed: {err}; scripts/setup.sh installs it")
            })
        };
        Competition((0..count).map(|_| spawn()).collect())
    }
}

impl Drop for Competition {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_workloads_verdict_names_its_bottleneck() {
    let sandbox = Sandbox::new("verdict");
    let perfmon = Perfmon::serve_in(&sandbox, Path::new(PERFMON), &[]).await;
    let api = perfmon.api();
    let mut misses = Vec::new();
    let mut check = |what: &str, ok: bool, report: &RunReport| {
        if !ok {
            misses.push(format!(
                "{what}: {}\n  counters: {}",
                serde_json::to_string(&report.run.verdict).unwrap_or_default(),
                serde_json::to_string(&report.counters).unwrap_or_default()
            ));
        }
    };

    // Too short to judge, and says so.
    let short = run(&sandbox, &api, "short", "sleep 1").await;
    let verdict = short.run.verdict.clone().expect("a verdict");
    check("a 1 s run is not judged", !verdict.judged && verdict.headline.contains("short"), &short);

    // One burner: on a CPU most of the time.
    let cpu = run(&sandbox, &api, "burner", &format!("timeout {SECONDS} sh -c '{BURN}'; true")).await;
    let bound = cpu.run.verdict.as_ref().and_then(|v| v.bound);
    check(
        "a burner is CPU-bound",
        bound == Some(ShareKind::Cpu) && percent(&cpu, ShareKind::Cpu) >= 70.0,
        &cpu,
    );

    // The same burner pinned to CPU 0 beside two others: a third of the core,
    // the rest of the time runnable, waiting.
    let queued = {
        let _competition = Competition::on_cpu0(2);
        run(&sandbox, &api, "queued", &format!("timeout {SECONDS} taskset -c 0 sh -c '{BURN}'; true")).await
    };
    let bound = queued.run.verdict.as_ref().and_then(|v| v.bound);
    check(
        "a burner sharing its core with two waits for a CPU",
        bound == Some(ShareKind::CpuWait) && percent(&queued, ShareKind::CpuWait) >= 40.0,
        &queued,
    );

    // Synchronous writes: every write waits for the disk.
    let file = sandbox.home().join("sync-writes");
    let io = run(
        &sandbox,
        &api,
        "writer",
        &format!(
            "timeout {SECONDS} dd if=/dev/zero of={} bs=4k count=10000000 oflag=direct,dsync 2>/dev/null; true",
            file.display()
        ),
    )
    .await;
    let _ = std::fs::remove_file(&file);
    // On a VM the guest's own IO path costs CPU too (here dd's system time is
    // 35-45 % of its wall time, with `bs` from 4 KB to 1 MB), so IO and CPU
    // can come out close: the stall must lead, or be at least a third of the
    // time and named in the headline.
    let bound = io.run.verdict.as_ref().and_then(|v| v.bound);
    let headline = io.run.verdict.as_ref().map(|v| v.headline.clone()).unwrap_or_default();
    check(
        "synchronous writes are IO-stalled",
        bound == Some(ShareKind::Io)
            || (percent(&io, ShareKind::Io) >= 33.0 && headline.contains("stalled on IO")),
        &io,
    );
    check(
        "the writer's bytes are counted",
        io.counters.as_ref().and_then(|c| c.write_bytes).is_some_and(|b| b >= 4096),
        &io,
    );

    // A sleep: idle on the machine, waiting outside it.
    let idle = run(&sandbox, &api, "sleeper", &format!("sleep {SECONDS}")).await;
    let bound = idle.run.verdict.as_ref().and_then(|v| v.bound);
    check(
        "a sleep is idle",
        bound == Some(ShareKind::Idle) && percent(&idle, ShareKind::Idle) >= 80.0,
        &idle,
    );

    // Children that burn half a second each and exit: their CPU still counts.
    let forks = run(
        &sandbox,
        &api,
        "forks",
        &format!("for i in $(seq 20); do timeout 0.5 sh -c '{BURN}'; done; sleep 0.5"),
    )
    .await;
    let cpu_s = forks.counters.as_ref().and_then(|c| c.cpu_s()).unwrap_or(0.0);
    check("children that exited early are counted (≥ 8 of their 10 CPU-seconds)", cpu_s >= 8.0, &forks);
    let bound = forks.run.verdict.as_ref().and_then(|v| v.bound);
    check("so the forking run is CPU-bound", bound == Some(ShareKind::Cpu), &forks);

    // What moved since the previous run (the sleep before it).
    check("the forking run's report names what moved since the sleep", !forks.changes.is_empty(), &forks);

    // A process registered while running (not through `perfmon run`): its
    // perf counters are PerfMon's own, from registration on, and say so.
    let mut burner = Command::new("sh").args(["-c", BURN]).spawn().expect("sh");
    let pid = burner.id();
    let body = serde_json::json!({ "pid": pid, "label": "registered" }).to_string();
    api.call(Method::POST, &format!("/api/projects/{PROJECT}/run"), Some(body)).await.expect("registered");
    let run_id = eventually(Duration::from_secs(30), "two CPU-seconds counted", || async {
        let body = api.call(Method::GET, &format!("/api/projects/{PROJECT}/runs"), None).await.ok()?;
        let runs: Runs = serde_json::from_str(&body).ok()?;
        let run = runs.runs.into_iter().find(|r| r.label.as_deref() == Some("registered"))?;
        (run.cpu_seconds >= 2.0).then_some(run.run_id)
    })
    .await;
    let _ = burner.kill();
    let _ = burner.wait();
    let registered = eventually(Duration::from_secs(20), "the registered run ends", || async {
        let path = format!("/api/projects/{PROJECT}/runs/{run_id}");
        let report: RunReport = serde_json::from_str(&api.call(Method::GET, &path, None).await.ok()?).ok()?;
        report.run.ended_at.is_some().then_some(report)
    })
    .await;
    let perf = registered.counters.as_ref().and_then(|c| c.perf.clone());
    let task_clock_s = perf
        .as_ref()
        .and_then(|p| p.events.get("task-clock"))
        .and_then(|e| e.value)
        .map_or(0.0, |ms| ms / 1000.0);
    check(
        "a registered run's perf counters count from registration",
        perf.as_ref().is_some_and(|p| p.counted_from == CountedFrom::Registration) && task_clock_s >= 1.5,
        &registered,
    );

    assert!(misses.is_empty(), "{} of the workloads were misjudged:\n{}", misses.len(), misses.join("\n"));
}
