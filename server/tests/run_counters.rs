//! The counters `perfmon run -- COMMAND` reports for its command, through the
//! real binary, with workloads whose figures are known: a CPU burner against
//! `perf stat -- the same burner`, a command whose children exit before it
//! does, one whose children the kernel reaps, and a writer that fsyncs.
//!
//! The wrapper reports to a stand-in PerfMon that keeps every request (the real
//! server does not store the counters yet): what is checked is exactly the
//! `ExitReport` the wrapper sends. Each wrapper runs in a testkit `Sandbox`.
//! The burners burn a known amount of their own CPU time (read from
//! `/proc/self/stat`), not of wall time, so a machine busy with other work
//! slows them without changing what they count.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use server::testkit::{Sandbox, Scratch};
use shared::api::ExitReport;
use shared::why::{CountedFrom, RunCounters, RunPerf};

const PERFMON: &str = env!("CARGO_BIN_EXE_perfmon");

/// How long one wrapped command may take on a loaded 2-core machine.
const LIMIT: Duration = Duration::from_secs(60);

/// A shell function that burns `$1` clock ticks (10 ms) of the calling
/// (sub)shell's own CPU time: `/proc/self` opened by the shell's own
/// redirection is that very process, and the count is relative.
const BURN: &str = "burn() { read -r _ _ _ _ _ _ _ _ _ _ _ _ _ u s _ < /proc/self/stat; end=$((u + s + $1)); \
                    while :; do read -r _ _ _ _ _ _ _ _ _ _ _ _ _ u s _ < /proc/self/stat; \
                    [ $((u + s)) -ge $end ] && break; done; }";

/// A command that ignores `SIGCHLD` and forks two children that each burn
/// 0.5 s of their own CPU time, then waits until both are gone and 0.3 s more.
const REAPED_BURNERS: &str = r#"exec perl -e '$SIG{CHLD} = "IGNORE";
    for (1 .. 2) { next if fork; my ($u, $s) = times; my $end = $u + $s + 0.5;
                   while (1) { ($u, $s) = times; last if $u + $s >= $end } exit 0 }
    wait; select(undef, undef, undef, 0.3)'"#;

/// A stand-in for PerfMon: answers health, registration and the exit as the
/// server does, and keeps the exit reports' bodies.
#[derive(Clone, Default)]
struct Fake {
    exits: Arc<Mutex<Vec<String>>>,
}

impl Fake {
    /// Serves on a free port; its address.
    async fn start(self) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("an address");
        let app = axum::Router::new()
            .route("/api/health", get(fake_health))
            .route("/api/projects/{project}/run", post(fake_register))
            .route("/api/projects/{project}/runs/{run_id}/exit", post(fake_exit))
            .fallback(|| async { StatusCode::NOT_FOUND })
            .with_state(self);
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }
}

async fn fake_health() -> axum::Json<shared::api::Health> {
    axum::Json(shared::api::Health {
        status: "ok".into(),
        protocol: shared::PROTOCOL_VERSION,
        version: "fake".into(),
        commit: "fake".into(),
        connections: 0,
        store: None,
        remote_write: Vec::new(),
    })
}

async fn fake_register(UrlPath(_project): UrlPath<String>, body: String) -> axum::Json<shared::Run> {
    let register: shared::api::RegisterRun = serde_json::from_str(&body).expect("a RegisterRun body");
    axum::Json(shared::Run {
        status: shared::RunStatus::Running,
        pid: Some(register.pid),
        run_id: Some(format!("{}-2026-01-01T00:00:00Z", register.pid)),
        ..shared::Run::default()
    })
}

async fn fake_exit(
    State(fake): State<Fake>,
    UrlPath((_project, _run_id)): UrlPath<(String, String)>,
    body: String,
) -> (StatusCode, String) {
    fake.exits.lock().expect("not poisoned").push(body);
    (StatusCode::OK, "{}".into())
}

/// Runs `sh -c SCRIPT` (with [`BURN`] defined) through `perfmon run`; the
/// counters of the exit report it sends.
async fn wrapped(name: &str, script: &str) -> RunCounters {
    wrapped_with(name, script, &[]).await
}

/// [`wrapped`] with more environment for the wrapper.
async fn wrapped_with(name: &str, script: &str, env: &[(&str, &str)]) -> RunCounters {
    let fake = Fake::default();
    let addr = fake.clone().start().await;
    let sandbox = Sandbox::new(name);
    let data = Scratch::new(&format!("{name}-data"));
    let script = format!("{BURN}; {script}");
    let (bind, data) = (addr.to_string(), data.0.to_str().expect("UTF-8").to_owned());
    let mut command = sandbox.tokio_command(PERFMON);
    command
        .args(["run", "--project", name, "--bind", &bind, "--data-dir", &data, "--", "sh", "-c", &script])
        .env("PERFMON_TOKEN", "fake-token")
        .env("PERFMON_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command.envs(env.iter().copied());
    let child = command.spawn().expect("perfmon run starts");
    let output = tokio::time::timeout(LIMIT, child.wait_with_output())
        .await
        .expect("the command ends in time")
        .expect("waited for");
    let said = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "perfmon run: {said}");
    let exits = fake.exits.lock().expect("not poisoned").clone();
    assert_eq!(exits.len(), 1, "one exit report: {said}");
    let report: ExitReport = serde_json::from_str(&exits[0]).expect("an ExitReport");
    assert_eq!(report.invalid(), None, "{report:?}");
    let counters = report.counters.expect("the report carries the counters");
    // Servers that predate the counters still get the CPU time (the same sum,
    // to the last bit JSON's decimals keep).
    let (old, new) = (report.cpu_seconds.expect("cpu_seconds"), counters.cpu_s().expect("CPU time"));
    assert!((old - new).abs() < 1e-9, "cpu_seconds {old} vs the counters' {new}");
    counters
}

/// `perf stat -x, -e EVENTS -- sh -c SCRIPT` (with [`BURN`] defined): each
/// event's count by name.
async fn perf_stat(events: &str, script: &str) -> Vec<(String, Option<f64>)> {
    let script = format!("{BURN}; {script}");
    let output = tokio::process::Command::new("perf")
        .args(["stat", "-x,", "-e", events, "--", "sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = match tokio::time::timeout(LIMIT, output).await.expect("perf stat ends in time") {
        Ok(output) => output,
        Err(err) => panic!("perf (linux-perf) is missing ({err}): scripts/setup.sh installs it"),
    };
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "perf stat failed: {text}");
    // CSV lines: value,unit,event,run time,percent,…
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            (fields.len() >= 3).then(|| (fields[2].to_string(), fields[0].parse::<f64>().ok()))
        })
        .collect()
}

fn perf_value(perf: &RunPerf, name: &str) -> f64 {
    perf.events.get(name).and_then(|e| e.value).unwrap_or_else(|| panic!("{name} counted: {perf:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cpu_burner_counts_as_perf_stat_counts_it() {
    // Two seconds of the burner's own CPU time, under PerfMon and under perf
    // stat at once (each counts only its own command).
    let burner = "burn 200";
    let (counters, theirs) =
        tokio::join!(wrapped("burner", burner), perf_stat("task-clock,context-switches", burner));
    let theirs = |name: &str| {
        theirs
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| *v)
            .unwrap_or_else(|| panic!("perf stat's {name}"))
    };
    let perf = counters.perf.as_ref().expect("perf counters in the report");
    assert_eq!((counters.counted_from, perf.counted_from), (CountedFrom::Start, CountedFrom::Start));

    let (ours, perf_stat_ms) = (perf_value(perf, "task-clock"), theirs("task-clock"));
    println!("task-clock: PerfMon {ours} ms, perf stat {perf_stat_ms} ms");
    assert!(
        (ours - perf_stat_ms).abs() <= perf_stat_ms * 0.05,
        "task-clock {ours} ms vs perf stat's {perf_stat_ms} ms"
    );
    assert!(ours >= 1_990.0, "200 ticks burnt: {ours} ms");

    // A burner switches only when the scheduler takes the CPU away: a few to a
    // few hundred times, with whatever else the machine runs. Same order: a
    // factor of 10 either way, counting from 10.
    let (switches, perf_stat_switches) = (perf_value(perf, "context-switches"), theirs("context-switches"));
    println!("context-switches: PerfMon {switches}, perf stat {perf_stat_switches}");
    let ratio = (switches + 10.0) / (perf_stat_switches + 10.0);
    assert!((0.1..=10.0).contains(&ratio), "context switches {switches} vs perf stat's {perf_stat_switches}");

    // The kernel's totals from `wait` agree with the counters: they also hold
    // the hold's few ms before the exec.
    let cpu = counters.cpu_s().expect("CPU time");
    println!("rusage: {cpu} s CPU over {} s wall", counters.wall_s);
    assert!((cpu * 1000.0 - ours).abs() <= ours * 0.05 + 50.0, "rusage {cpu} s vs task-clock {ours} ms");
    assert!(counters.wall_s >= cpu * 0.95, "one thread cannot burn more CPU than wall time: {counters:?}");
    let rusage_switches = (counters.voluntary_switches.expect("switches")
        + counters.involuntary_switches.expect("switches")) as f64;
    assert!(
        ((rusage_switches + 10.0) / (switches + 10.0)) <= 10.0 && rusage_switches + 10.0 >= switches,
        "rusage's {rusage_switches} switches vs the counter's {switches}"
    );
    assert!(counters.minor_faults.is_some_and(|n| n > 0), "{counters:?}");

    // This VM has no PMU: the hardware events say so, everything else counts.
    let cycles = &perf.events["cycles"];
    if !cycles.available {
        assert!(
            cycles.reason.as_deref().is_some_and(|r| r.contains("no hardware performance counters")),
            "{cycles:?}"
        );
        assert_eq!(perf.ipc, None);
    }
    for name in ["task-clock", "context-switches", "cpu-migrations", "page-faults"] {
        assert!(perf.events[name].available, "{name}: {:?}", perf.events[name]);
    }
    // The machine's figures are the server's; a shell's and a burner's peak,
    // a few MB, are under the wrapper's own, which a child starts out with:
    // no figure of the wrapper's is passed off as the command's.
    assert_eq!((counters.io_some_s, counters.cpu_wait_s, counters.peak_rss_bytes), (None, None, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_spike_between_two_readings_is_the_runs_peak() {
    // 200 MiB written and freed within a tenth of a second: a reading a
    // second apart would see none of it; the kernel's high-water mark does.
    let counters = wrapped(
        "spike",
        "exec perl -e '$x = q(a) x (200 << 20); undef $x; select(undef, undef, undef, 0.1)'",
    )
    .await;
    let peak = counters.peak_rss_bytes.expect("the largest process's peak");
    assert!(peak >= 200 << 20, "{peak} bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_that_exit_before_the_command_are_counted() {
    // Two children burn 0.5 s each and exit; the command goes on without them.
    let counters = wrapped("children", "burn 50 & burn 50 & wait; sleep 0.3").await;
    let cpu = counters.cpu_s().expect("CPU time");
    assert!(cpu >= 0.99, "the children's 1.0 s of CPU (ticks of 10 ms): {cpu} s");
    let clock = perf_value(counters.perf.as_ref().expect("perf"), "task-clock");
    assert!(clock >= 990.0, "the children's counts fold into the command's: {clock} ms");
    assert!(
        counters.wall_s >= 0.3 + cpu / 2.0 * 0.9,
        "two burners on at most two cores, then 0.3 s: {counters:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_the_kernel_reaped_are_counted_by_the_task_clock() {
    // The command ignores SIGCHLD: the kernel reaps its two burners as they
    // exit, so their 0.5 s each reach nobody's `wait` totals (`wait` then
    // blocks until both are gone). Only the inherited task-clock has them.
    // Perl (in every Debian: perl-base is essential), as `sh` sets its own
    // SIGCHLD handler whatever it was given.
    let counters = wrapped("reaped", REAPED_BURNERS).await;
    let totals = counters.cpu_user_s.zip(counters.cpu_system_s).map(|(user, system)| user + system);
    assert!(totals.is_some_and(|s| s < 0.5), "the kernel's totals lose the reaped burners: {counters:?}");
    let clock = perf_value(counters.perf.as_ref().expect("perf"), "task-clock");
    assert!(clock >= 990.0, "the burners' counts fold into the command's: {clock} ms");
    let cpu = counters.cpu_s().expect("CPU time");
    assert!((cpu * 1000.0 - clock).abs() < 1e-6, "the run's CPU time is the clock's: {cpu} s, {clock} ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_that_fsyncs_counts_its_bytes_as_proc_pid_io_does() {
    // Must be a disk, not tmpfs (whose writes are never counted): the testkit
    // scratch directory is under the system's temporary directory.
    let dir = Scratch::new("writer");
    let (file, io) = (dir.join("written"), dir.join("io"));
    const WRITTEN: u64 = 4 * 1024 * 1024;
    let script = format!(
        "dd if=/dev/zero of='{}' bs=65536 count=64 conv=fsync 2>/dev/null; cat /proc/$$/io > '{}'",
        file.display(),
        io.display()
    );
    let counters = wrapped("writer", &script).await;
    let written = counters.write_bytes.expect("write_bytes");
    assert!(written >= WRITTEN, "{written} bytes written for {WRITTEN}");
    assert!(counters.read_bytes.is_some(), "{counters:?}");
    // The shell's own /proc/PID/io holds dd's bytes once it waited for dd:
    // ru_oublock × 512 is the same counter. The report has more by cat's page
    // of the io file (dirtied after it read), less under 512 bytes per process
    // (each one's count is cut to whole 512-byte blocks).
    let text = std::fs::read_to_string(&io).expect("the shell's io");
    let proc_io: u64 = text
        .lines()
        .find_map(|line| line.strip_prefix("write_bytes:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("write_bytes in /proc/PID/io");
    println!("write_bytes: rusage {written}, the shell's /proc/PID/io {proc_io}");
    assert!(
        proc_io.saturating_sub(4 * 512) <= written && written <= proc_io + 4 * 4096,
        "rusage's {written} bytes vs /proc/PID/io's {proc_io}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_that_could_not_be_held_is_counted_from_registration_and_says_so() {
    // No temporary directory for the hold's socket: the command starts at
    // once, before it is registered and its counters opened.
    let counters = wrapped_with("unheld", "burn 50", &[("TMPDIR", "/nonexistent/perfmon-test")]).await;
    let perf = counters.perf.as_ref().expect("perf counters in the report");
    assert_eq!(
        (counters.counted_from, perf.counted_from),
        (CountedFrom::Registration, CountedFrom::Registration)
    );
    // The totals from `wait` hold all of it; the counters what followed the
    // registration, most of the half second.
    let cpu = counters.cpu_s().expect("CPU time");
    let clock = perf_value(perf, "task-clock");
    assert!(cpu >= 0.49, "{cpu} s");
    assert!((100.0..=cpu * 1000.0 + 20.0).contains(&clock), "task-clock {clock} ms of {cpu} s");
}
