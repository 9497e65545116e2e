//! `perfmon run -- COMMAND`: runs COMMAND as a project's agent run and streams it
//! live, then exits with COMMAND's exit code (128 + N when signal N killed it).
//! It registers with the PerfMon server at `--bind` if one answers, and otherwise
//! serves one itself for as long as the command runs.
//!
//! - The command is registered before it runs ([`super::hold`]), under the pid it
//!   runs as: even one that ends at once is a run, all its CPU time counted. If
//!   registering fails the command runs all the same, untracked, and the wrapper
//!   says so.
//! - The wrapper only ever acts on its own run: it reports that run's exit, with
//!   the exact CPU time of the command and every descendant it waited for, and
//!   never ends another run of the project.
//! - The exit report carries the run's own counters ([`shared::why::RunCounters`]):
//!   the kernel's totals for the command and every descendant it waited for
//!   (`getrusage(RUSAGE_CHILDREN)` after the wait, less what it held before the
//!   command started: CPU user and system time, faults, context switches,
//!   storage bytes), and `perf stat`-style counters opened on the held command
//!   before it is let go, enabled at its exec ([`crate::collect::run_perf`]).
//!   Descendants nobody waited for (a daemon that double-forked) are in the
//!   `perf` counters, which fold every exiting child in, but not in the totals.
//! - SIGTERM, SIGHUP, SIGINT and SIGQUIT sent to the wrapper are passed on to the
//!   command, taken as a request that it end; the wrapper then waits for it and
//!   records how it ended. A command still running [`GRACE`] (10 s) after the
//!   first such signal, or at a second one of the same kind, is killed with
//!   SIGKILL. Ctrl-C and Ctrl-\ at a terminal are the exception: the terminal
//!   already signals its whole foreground process group, the command included,
//!   so they are neither sent again (a second Ctrl-C means "quit now" to many
//!   programs) nor turned into a kill (interactive programs take Ctrl-C as
//!   input). Signals ignored when the wrapper started (`nohup`, a script's `&`)
//!   stay ignored, by the command too.
//! - An exit no server takes (it is down or restarting) is kept for the server's
//!   next start ([`crate::exits`]), beside the control secret it was found by.

use std::path::PathBuf;
use std::process::{ExitCode, ExitStatus};
use std::time::Duration;

use axum::http::StatusCode;
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use shared::why::{CountedFrom, RunCounters};
use tokio::process::Child;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::ServeArgs;
use super::client::{ApiClient, ClientError, Method};
use super::hold;
use crate::collect::run_perf::RunPerfCounters;
use crate::hub::project::ProjectName;

/// A server this wrapper started itself, and how to stop it.
type OwnServer = Option<(oneshot::Sender<()>, JoinHandle<Result<(), crate::service::ServeError>>)>;

/// How long a command has to end after the first signal passed on to it,
/// before it is killed with SIGKILL.
pub const GRACE: Duration = Duration::from_secs(10);

/// Runs `command` as `project`'s run; the command's exit code (127 when it is
/// not found, 126 when it cannot be executed, 2 for bad arguments).
pub async fn wrap(
    project: &str,
    label: Option<String>,
    notify: Vec<String>,
    args: ServeArgs,
    command: Vec<String>,
) -> ExitCode {
    // First of all: once a handler is installed, which signals were ignored
    // when the wrapper started can no longer be told.
    let mut signals = Forwarder::listen();
    let project = match ProjectName::parse(project) {
        Ok(project) => project,
        Err(err) => {
            eprintln!("perfmon: --project: {err}");
            return ExitCode::from(2);
        }
    };
    let Some((program, program_args)) = command.split_first() else {
        eprintln!("perfmon: no command to run");
        return ExitCode::from(2);
    };
    // Refused now, not after the command has run: the server would refuse it.
    if label.as_deref().is_some_and(|l| !crate::hub::label_is_valid(l)) {
        eprintln!("perfmon: --label: {}", crate::hub::RunError::BadLabel);
        return ExitCode::from(2);
    }
    let notify = match crate::alerts::deliver::run_specs(notify) {
        Ok(notify) => notify,
        Err(err) => {
            eprintln!("perfmon: --notify: {err}");
            return ExitCode::from(2);
        }
    };
    for spec in &notify {
        if let Err(err) = crate::alerts::deliver::Destination::parse_spec("--notify", spec) {
            eprintln!("perfmon: --notify: {err}");
            return ExitCode::from(2);
        }
    }
    let config = match args.config() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("perfmon: {err}");
            return ExitCode::from(2);
        }
    };
    let bind = args.connect.bind;
    if let Err(err) = crate::service::check_exposure(&config, bind) {
        eprintln!("perfmon: {err}");
        return ExitCode::from(2);
    }
    let Tracker { api, kept_in, own_server } = match connect_or_serve(&args, config, &project).await {
        Ok(tracker) => tracker,
        Err(code) => return code,
    };

    // What children waited for before the command left (a shell that
    // `exec`ed perfmon passes its own on) is not the command's.
    let reaped_before = ChildrenUsage::now();
    let held = match hold::spawn(&command) {
        Ok(held) => held,
        Err(err) => {
            eprintln!("perfmon: cannot hold the command until it is registered ({err}); starting it now");
            match tokio::process::Command::new(program).args(program_args).spawn() {
                Ok(child) => hold::Held::running(child),
                Err(err) => {
                    let code = hold::cannot_run(program, &err);
                    stop(own_server).await;
                    return ExitCode::from(code);
                }
            }
        }
    };
    let run_id = match (&api, held.pid()) {
        (Some(api), Some(pid)) => register(api, &project, pid, label, notify, held.is_held()).await,
        _ => None,
    };
    // A command that could not be held started before anything counted it:
    // its `perf` counters, and the server's readings, start at registration
    // (the totals from `wait` still hold all of it).
    let counted_from = if held.is_held() { CountedFrom::Start } else { CountedFrom::Registration };
    // Opened before the go, so they count from the command's exec; only for a
    // run whose exit is reported. Ten quick syscalls: no need to leave the worker.
    let mut perf = match (&run_id, held.pid()) {
        (Some(_), Some(pid)) => Some(RunPerfCounters::open(pid, counted_from)),
        _ => None,
    };
    // Go whether or not it was registered: the command always runs.
    let mut child = held.release().await;
    // The command cannot have run before the go; after it, it may be running.
    let released = std::time::Instant::now();
    let status = supervise(&mut child, &mut signals).await;
    let wall_s = released.elapsed().as_secs_f64();
    let ended_at_ms = chrono::Utc::now().timestamp_millis();
    let reaped = ChildrenUsage::now();
    if let (Some(api), Some(run_id), Ok(status)) = (&api, &run_id, &status) {
        let mut counters = run_counters(counted_from, wall_s, reaped_before, reaped);
        counters.perf = perf.as_mut().map(RunPerfCounters::read);
        // Our own server keeps its credential; another one may restart with a new one.
        let renew = own_server.is_none().then_some(&args.connect);
        let exit = Exit { project: &project, run_id, kept_in, port: bind.port() };
        report_exit(api.clone(), renew, &exit, exit_report(*status, counters, ended_at_ms)).await;
    }
    if let (Some(api), Some(_)) = (&api, &own_server) {
        wait_for_other_runs(api, &mut signals).await;
    }
    stop(own_server).await;
    match status {
        Ok(status) => ExitCode::from(exit_code(status)),
        Err(err) => {
            eprintln!("perfmon: lost track of the command: {err}");
            ExitCode::FAILURE
        }
    }
}

/// What the run is tracked through: a client of the server, where an exit
/// that server does not take is kept, and the server this wrapper started, if
/// it started one.
struct Tracker {
    /// `None` when the run cannot be tracked (no credential for the server).
    api: Option<ApiClient>,
    /// Beside the control secret of the server registered with, which that
    /// server reads at its next start (it reads every candidate directory).
    kept_in: Option<PathBuf>,
    /// Stopped once the run is closed.
    own_server: OwnServer,
}

/// Uses the PerfMon already up at `--bind`, or serves one for as long as the
/// command runs; the exit code to end with when neither can be.
async fn connect_or_serve(
    args: &ServeArgs,
    mut config: crate::Config,
    project: &ProjectName,
) -> Result<Tracker, ExitCode> {
    let bind = args.connect.bind;
    if ApiClient::new(bind).is_up().await {
        eprintln!(
            "perfmon: using the PerfMon server at {}; watch this run at {}",
            super::client::page_url(bind, None),
            super::client::page_url(bind, Some(project.as_str()))
        );
        // The command runs whatever happens; without a credential it is only not tracked.
        return Ok(match args.connect.client_found() {
            Ok((api, secret_dir)) => {
                Tracker { api: Some(api), kept_in: secret_dir.or(config.control_dir), own_server: None }
            }
            Err(err) => {
                eprintln!("perfmon: the command runs, but is not tracked: {err}");
                Tracker { api: None, kept_in: None, own_server: None }
            }
        });
    }
    let listener = super::serve::bind(args).await?;
    // Our own server's credential is known here; it is also stored for the
    // other perfmon commands (an agent reporting tokens, say).
    let credential = match &args.connect.token {
        Some(token) => token.clone(),
        None => crate::control::generate().map_err(|err| {
            eprintln!("perfmon: {err}");
            ExitCode::FAILURE
        })?,
    };
    if args.connect.token.is_none() {
        config.control_secret = Some(crate::config::Secret::new(credential.clone()));
    }
    // A `perfmon serve` on another port may hold the data directory: the run
    // is still watched live, only not remembered.
    if let Some(store) = &config.store
        && let Err(err) = crate::store::check_free(&store.dir)
    {
        eprintln!("perfmon: this run is not remembered: {err}");
        config.store = None;
    }
    let kept_in = config.control_dir.clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(crate::service::run(listener, config, async {
        let _ = stopped.await;
    }));
    eprintln!("perfmon: PerfMon is running: open {}", super::client::page_url(bind, Some(project.as_str())));
    Ok(Tracker {
        api: Some(ApiClient::new(bind).with_token(Some(credential))),
        kept_in,
        own_server: Some((stop, task)),
    })
}

/// Registers `pid` as a run of `project`; its run id, or `None` (said) when it
/// is not tracked.
async fn register(
    api: &ApiClient,
    project: &ProjectName,
    pid: u32,
    label: Option<String>,
    notify: Vec<String>,
    from_start: bool,
) -> Option<String> {
    let body = serde_json::to_string(&shared::api::RegisterRun { pid, label, from_start, notify })
        .unwrap_or_default();
    let why = match api.call(Method::POST, &format!("/api/projects/{project}/run"), Some(body)).await {
        Ok(answer) => match serde_json::from_str::<shared::Run>(&answer).ok().and_then(|run| run.run_id) {
            Some(run_id) => return Some(run_id),
            None => format!("PerfMon's answer names no run: {answer}"),
        },
        Err(err) => err.to_string(),
    };
    eprintln!("perfmon: the command runs, but is not tracked: {why}");
    None
}

/// The signals passed on to the command.
const FORWARDED: [Signal; 4] = [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP, Signal::SIGQUIT];

/// Receives the signals the wrapper passes on to its command.
struct Forwarder {
    /// One stream per signal listened for.
    streams: Vec<(Signal, tokio::signal::unix::Signal)>,
}

impl Forwarder {
    /// Listens for each of [`FORWARDED`], but those this process ignores: left
    /// ignored, the command inherits that, as it would without PerfMon.
    fn listen() -> Forwarder {
        let ignored = std::fs::read_to_string("/proc/self/status").ok().and_then(|s| ignored_mask(&s));
        let streams = FORWARDED
            .into_iter()
            .filter(|signal| ignored.is_none_or(|mask| mask & signal_bit(*signal) == 0))
            .filter_map(|signal| {
                let kind = tokio::signal::unix::SignalKind::from_raw(signal as i32);
                match tokio::signal::unix::signal(kind) {
                    Ok(stream) => Some((signal, stream)),
                    Err(err) => {
                        eprintln!("perfmon: cannot listen for {}: {err}", signal.as_str());
                        None
                    }
                }
            })
            .collect();
        Forwarder { streams }
    }

    /// The next signal received; never resolves when none is listened for.
    async fn next(&mut self) -> Signal {
        std::future::poll_fn(|cx| {
            for (signal, stream) in &mut self.streams {
                if stream.poll_recv(cx).is_ready() {
                    return std::task::Poll::Ready(*signal);
                }
            }
            std::task::Poll::Pending
        })
        .await
    }
}

/// `signal`'s bit in a `/proc` signal mask (bit N - 1 for signal N).
fn signal_bit(signal: Signal) -> u64 {
    1u64 << (signal as u32 - 1)
}

/// The `SigIgn` mask of a `/proc/PID/status` text: the signals ignored.
fn ignored_mask(status: &str) -> Option<u64> {
    let hex = status.lines().find_map(|line| line.strip_prefix("SigIgn:"))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}

/// Whether this process is in the foreground process group of its controlling
/// terminal, which then signals the command too at Ctrl-C and Ctrl-\.
fn in_terminal_foreground() -> bool {
    let Ok(tty) = std::fs::File::open("/dev/tty") else { return false };
    nix::unistd::tcgetpgrp(&tty).is_ok_and(|group| group == nix::unistd::getpgrp())
}

/// Waits for the command, passing on the signals the wrapper receives: a
/// command still running [`GRACE`] after the first, or at a second of the same
/// kind, gets SIGKILL. Its status.
async fn supervise(child: &mut Child, signals: &mut Forwarder) -> std::io::Result<ExitStatus> {
    // Until `wait` returns, the process is not reaped, so its pid cannot have
    // been reused: signals sent below reach the command and nothing else.
    let Some(pid) = child.id().and_then(|pid| i32::try_from(pid).ok()).map(Pid::from_raw) else {
        return child.wait().await;
    };
    let mut passed: Vec<Signal> = Vec::new();
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        let grace_over = async {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            status = child.wait() => return status,
            signal = signals.next() => {
                let name = signal.as_str();
                if matches!(signal, Signal::SIGINT | Signal::SIGQUIT) && in_terminal_foreground() {
                    // The terminal sent it to the command as well; see the module docs.
                    continue;
                }
                if passed.contains(&signal) {
                    eprintln!("perfmon: {name} again: killing the command (SIGKILL)");
                    let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
                    continue;
                }
                let _ = nix::sys::signal::kill(pid, signal);
                passed.push(signal);
                if deadline.is_none() {
                    deadline = Some(tokio::time::Instant::now() + GRACE);
                    eprintln!(
                        "perfmon: passed {name} on to the command; it is killed (SIGKILL) if it has not ended \
                         in {} s, or at a second {name}",
                        GRACE.as_secs()
                    );
                } else {
                    eprintln!("perfmon: passed {name} on to the command");
                }
            }
            () = grace_over => {
                eprintln!(
                    "perfmon: the command has not ended {} s after {}: killing it (SIGKILL)",
                    GRACE.as_secs(),
                    passed.first().map_or("the signal", |signal| signal.as_str())
                );
                let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
                deadline = None;
            }
        }
    }
}

/// What the kernel hands a parent on `wait`: the totals of every child this
/// process has waited for, and of every descendant each of them waited for
/// (`getrusage(RUSAGE_CHILDREN)`). The wrapper starts no other child than the
/// command, so the change across the command is the command's tree.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ChildrenUsage {
    /// User-mode CPU time, µs (`ru_utime`).
    pub user_us: u64,
    /// Kernel-mode CPU time, µs (`ru_stime`).
    pub system_us: u64,
    /// Minor faults (`ru_minflt`).
    pub minor_faults: u64,
    /// Major faults (`ru_majflt`).
    pub major_faults: u64,
    /// Voluntary context switches (`ru_nvcsw`).
    pub voluntary_switches: u64,
    /// Involuntary context switches (`ru_nivcsw`).
    pub involuntary_switches: u64,
    /// 512-byte blocks read from storage (`ru_inblock`).
    pub read_blocks: u64,
    /// 512-byte blocks written to storage (`ru_oublock`).
    pub write_blocks: u64,
    /// The largest resident set any one waited-for descendant reached, KiB
    /// (`ru_maxrss`): a high-water mark, not a total.
    pub max_rss_kib: u64,
    /// The wrapper's own high-water mark, KiB (`ru_maxrss` of
    /// `RUSAGE_SELF`): a child starts out with its parent's, which an exec
    /// keeps (Linux carries the replaced image's peak over).
    pub own_max_rss_kib: u64,
}

/// The size of `ru_inblock`'s and `ru_oublock`'s blocks. They are not device
/// blocks: the kernel (`include/linux/task_io_accounting_ops.h`) derives them
/// from the very counters `/proc/PID/io` shows, `read_bytes >> 9` and
/// `write_bytes >> 9`, each task's truncated when it is added to its parent.
/// So × 512 gives `/proc/PID/io`'s `read_bytes`/`write_bytes` of the tree,
/// less under 512 bytes per exited thread; like them, `write_bytes` counts
/// pages dirtied (cancelled writes, a file truncated before writeback, are
/// not taken off), and tmpfs writes count nothing. Checked by
/// `tests/run_counters.rs` against a writer's own `/proc/PID/io`.
const BLOCK_BYTES: u64 = 512;

impl ChildrenUsage {
    /// The totals now; `None` when the kernel refuses (it never does for
    /// `RUSAGE_CHILDREN`).
    pub fn now() -> Option<ChildrenUsage> {
        use nix::sys::resource::{UsageWho, getrusage};
        let usage = getrusage(UsageWho::RUSAGE_CHILDREN).ok()?;
        let own = getrusage(UsageWho::RUSAGE_SELF).ok()?;
        let us = |t: nix::sys::time::TimeVal| {
            u64::try_from(t.tv_sec()).unwrap_or(0) * 1_000_000 + u64::try_from(t.tv_usec()).unwrap_or(0)
        };
        let count = |n: std::os::raw::c_long| u64::try_from(n).unwrap_or(0);
        Some(ChildrenUsage {
            user_us: us(usage.user_time()),
            system_us: us(usage.system_time()),
            minor_faults: count(usage.minor_page_faults()),
            major_faults: count(usage.major_page_faults()),
            voluntary_switches: count(usage.voluntary_context_switches()),
            involuntary_switches: count(usage.involuntary_context_switches()),
            read_blocks: count(usage.block_reads()),
            write_blocks: count(usage.block_writes()),
            max_rss_kib: count(usage.max_rss()),
            own_max_rss_kib: count(own.max_rss()),
        })
    }
}

/// The run's counters from the totals before the command and after its wait,
/// over `wall_s` seconds. Only the tree's figures: the machine's (pressure,
/// steal, GPUs) and the run's other peaks are the server's own readings.
/// `peak_rss_bytes` is `ru_maxrss`, the largest single process's own peak: a
/// floor of the tree's (whose processes may peak together), which the server
/// raises its readings to — they come a second apart and miss a spike between
/// them, or a command shorter than one. Only when no child was waited for
/// before the command (it never is: the command is the wrapper's one child),
/// and only above the wrapper's own peak: the command was spawned from the
/// wrapper and exec'd from the hold, and Linux carries each replaced image's
/// peak over, so a figure up to the wrapper's may be the wrapper's.
pub fn run_counters(
    counted_from: CountedFrom,
    wall_s: f64,
    before: Option<ChildrenUsage>,
    after: Option<ChildrenUsage>,
) -> RunCounters {
    let mut counters = RunCounters { counted_from, wall_s, ..RunCounters::default() };
    let (Some(before), Some(after)) = (before, after) else {
        for field in [
            "cpu_user_s",
            "cpu_system_s",
            "minor_faults",
            "major_faults",
            "voluntary_switches",
            "involuntary_switches",
            "read_bytes",
            "write_bytes",
        ] {
            counters.not_measured.insert(field.into(), "getrusage(RUSAGE_CHILDREN) failed".into());
        }
        return counters;
    };
    // The totals only grow; a saturating difference keeps a broken kernel's
    // figures at 0 rather than a wrapped count.
    let delta = |f: fn(&ChildrenUsage) -> u64| f(&after).saturating_sub(f(&before));
    counters.cpu_user_s = Some(delta(|u| u.user_us) as f64 / 1e6);
    counters.cpu_system_s = Some(delta(|u| u.system_us) as f64 / 1e6);
    counters.minor_faults = Some(delta(|u| u.minor_faults));
    counters.major_faults = Some(delta(|u| u.major_faults));
    counters.voluntary_switches = Some(delta(|u| u.voluntary_switches));
    counters.involuntary_switches = Some(delta(|u| u.involuntary_switches));
    counters.read_bytes = Some(delta(|u| u.read_blocks) * BLOCK_BYTES);
    counters.write_bytes = Some(delta(|u| u.write_blocks) * BLOCK_BYTES);
    if before.max_rss_kib == 0 && after.max_rss_kib > after.own_max_rss_kib {
        counters.peak_rss_bytes = Some(after.max_rss_kib.saturating_mul(1024));
    }
    counters
}

/// The exit report for `status`, with the run's counters and when it ended (a
/// report kept for a server that was down still gives the run its true
/// length). `cpu_seconds` stays for servers that predate `counters`.
fn exit_report(status: ExitStatus, counters: RunCounters, ended_at_ms: i64) -> shared::api::ExitReport {
    use std::os::unix::process::ExitStatusExt;
    let mut report = match (status.code(), status.signal()) {
        (Some(code), _) => shared::api::ExitReport::exited(code),
        (None, Some(signal)) => shared::api::ExitReport::killed(signal),
        // `wait` reports an exit or a death by signal; nothing else ends a process.
        (None, None) => shared::api::ExitReport::exited(1),
    };
    report.cpu_seconds = counters.cpu_s();
    report.ended_at_ms = Some(ended_at_ms);
    report.counters = Some(counters);
    report
}

/// How long the wrapper keeps trying to report the exit to a server that does
/// not answer (one restarting); the command has ended, so this only delays the
/// wrapper's own exit, never the command. After that the report is kept for the
/// server's next start.
const REPORT_FOR: Duration = Duration::from_secs(10);

/// The run whose exit is reported, and where to keep the report if no server
/// takes it.
struct Exit<'a> {
    project: &'a ProjectName,
    run_id: &'a str,
    kept_in: Option<PathBuf>,
    port: u16,
}

/// Reports how the command ended, so the run's record has its exit code: retried
/// while the server does not answer, with the control secret read again when a
/// restarted server refuses the old one, and kept for the server's next start
/// when it is still down. A refusal is said, and nothing else is done: the run
/// is this wrapper's only, and the server ends it itself once its process is
/// gone.
async fn report_exit(
    mut api: ApiClient,
    renew: Option<&super::ConnectArgs>,
    exit: &Exit<'_>,
    report: shared::api::ExitReport,
) {
    let body = serde_json::to_string(&report).unwrap_or_default();
    let path = format!("/api/projects/{}/runs/{}/exit", exit.project, exit.run_id);
    let deadline = tokio::time::Instant::now() + REPORT_FOR;
    let mut said = false;
    loop {
        let why = match api.call(Method::POST, &path, Some(body.clone())).await {
            Ok(_) => return,
            Err(ClientError::Refused { status, .. })
                if status == StatusCode::UNAUTHORIZED && renew.is_some() =>
            {
                // A restarted server made a new control secret: read it again.
                if let Some(fresh) = renew.and_then(|connect| connect.client().ok()) {
                    api = fresh;
                }
                "PerfMon refused the old credential".to_owned()
            }
            // A server that cannot take it now (its store not ready, say)
            // is asked again, and the exit kept if it never does.
            Err(err @ ClientError::Refused { status, .. })
                if status.is_server_error()
                    || status == StatusCode::REQUEST_TIMEOUT
                    || status == StatusCode::TOO_MANY_REQUESTS =>
            {
                err.to_string()
            }
            Err(err @ ClientError::Refused { .. }) => {
                eprintln!("perfmon: the exit was not recorded: {err}");
                return;
            }
            Err(err) => err.to_string(),
        };
        if tokio::time::Instant::now() >= deadline {
            return keep(exit, report, &why);
        }
        if !said {
            eprintln!(
                "perfmon: PerfMon did not take the exit ({why}); trying to record it for {}s",
                REPORT_FOR.as_secs()
            );
            said = true;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Keeps an exit report no server took, for the server's next start.
fn keep(exit: &Exit<'_>, report: shared::api::ExitReport, why: &str) {
    let Some(dir) = &exit.kept_in else {
        eprintln!("perfmon: the exit was not recorded: {why}");
        return;
    };
    let pending = crate::exits::PendingExit {
        project: exit.project.to_string(),
        run_id: exit.run_id.to_owned(),
        report,
    };
    match crate::exits::save(dir, exit.port, &pending) {
        Ok(_) => eprintln!(
            "perfmon: the exit was not recorded yet ({why}); PerfMon on port {} records it when it starts again",
            exit.port
        ),
        Err(err) => eprintln!("perfmon: the exit was not recorded ({why}) and could not be kept: {err}"),
    }
}

/// Keeps the server this wrapper started up while another run is live on it
/// (a second `perfmon run` found it up and registered there): stopping it
/// would leave that run unwatched and its exit unrecorded until a server next
/// starts. A signal stops it at once.
async fn wait_for_other_runs(api: &ApiClient, signals: &mut Forwarder) {
    let mut told = false;
    loop {
        let Ok(body) = api.call(Method::GET, "/api/projects", None).await else { return };
        let Ok(projects) = serde_json::from_str::<shared::api::Projects>(&body) else { return };
        let live: Vec<String> = projects.projects.into_iter().filter(|p| p.live).map(|p| p.name).collect();
        if live.is_empty() {
            return;
        }
        if !told {
            eprintln!(
                "perfmon: the command ended; PerfMon stays up while {} has a live run (Ctrl-C stops it now)",
                live.join(", ")
            );
            told = true;
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            signal = signals.next() => {
                eprintln!("perfmon: {}: stopping PerfMon", signal.as_str());
                return;
            }
        }
    }
}

async fn stop(own: OwnServer) {
    if let Some((stop, task)) = own {
        let _ = stop.send(());
        if let Ok(Err(err)) = task.await {
            eprintln!("perfmon: server failed: {err}");
        }
    }
}

/// The command's exit code, or 128 + the signal number for one killed by a
/// signal, as shells report it.
pub fn exit_code(status: ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code).unwrap_or(1),
        (None, Some(signal)) => u8::try_from(128 + signal).unwrap_or(1),
        (None, None) => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_of(script: &str) -> ExitStatus {
        std::process::Command::new("sh").args(["-c", script]).status().expect("sh runs")
    }

    #[test]
    fn exit_codes_pass_through_and_signals_read_as_128_plus_n() {
        assert_eq!(exit_code(status_of("exit 0")), 0);
        assert_eq!(exit_code(status_of("exit 7")), 7);
        assert_eq!(exit_code(status_of("kill -KILL $$")), 128 + 9);
        assert_eq!(exit_code(status_of("kill -TERM $$")), 128 + 15);
    }

    /// Totals as a kernel might give them.
    fn usage(seconds: u64, blocks: u64) -> ChildrenUsage {
        ChildrenUsage {
            user_us: seconds * 1_000_000,
            system_us: seconds * 250_000,
            minor_faults: 100 * seconds,
            major_faults: seconds,
            voluntary_switches: 10 * seconds,
            involuntary_switches: 20 * seconds,
            read_blocks: blocks,
            write_blocks: 2 * blocks,
            max_rss_kib: 0,
            own_max_rss_kib: 9 * 1024,
        }
    }

    #[test]
    fn exit_reports_carry_the_exit_or_the_signal_and_the_counters() {
        let counters = run_counters(CountedFrom::Start, 4.0, Some(usage(1, 8)), Some(usage(3, 10)));
        let report = exit_report(status_of("exit 3"), counters.clone(), 1_700_000_000_000);
        assert_eq!((report.exit_code, report.signal, report.cpu_seconds), (Some(3), None, Some(2.5)));
        assert_eq!(report.ended_at_ms, Some(1_700_000_000_000));
        assert_eq!(report.counters.as_ref(), Some(&counters));
        let counters = run_counters(CountedFrom::Start, 4.0, None, Some(usage(3, 10)));
        let report = exit_report(status_of("kill -TERM $$"), counters, 1_700_000_000_000);
        assert_eq!((report.exit_code, report.signal, report.cpu_seconds), (None, Some(15), None));
        assert_eq!(report.invalid(), None);
    }

    #[test]
    fn counters_are_the_change_in_the_totals_with_blocks_of_512_bytes() {
        let counters = run_counters(CountedFrom::Registration, 4.0, Some(usage(1, 8)), Some(usage(3, 10)));
        assert_eq!(counters.counted_from, CountedFrom::Registration);
        assert_eq!(counters.wall_s, 4.0);
        assert_eq!((counters.cpu_user_s, counters.cpu_system_s), (Some(2.0), Some(0.5)));
        assert_eq!((counters.minor_faults, counters.major_faults), (Some(200), Some(2)));
        assert_eq!((counters.voluntary_switches, counters.involuntary_switches), (Some(20), Some(40)));
        assert_eq!((counters.read_bytes, counters.write_bytes), (Some(2 * 512), Some(4 * 512)));
        // The server's own readings, never the wrapper's.
        assert_eq!((counters.cpu_wait_s, counters.io_some_s), (None, None));
        assert!(counters.not_measured.is_empty());
        // The largest process's peak, when no other child was waited for before.
        assert_eq!(counters.peak_rss_bytes, None, "no child's peak");
        let peaked = ChildrenUsage { max_rss_kib: 700 * 1024, ..usage(3, 10) };
        let counters = run_counters(CountedFrom::Start, 4.0, Some(usage(1, 8)), Some(peaked));
        assert_eq!(counters.peak_rss_bytes, Some(700 << 20));
        let before = ChildrenUsage { max_rss_kib: 9, ..usage(1, 8) };
        let counters = run_counters(CountedFrom::Start, 4.0, Some(before), Some(peaked));
        assert_eq!(counters.peak_rss_bytes, None, "another child's high-water mark");
        // Up to the wrapper's own 9 MiB, the figure may be the wrapper's.
        let small = ChildrenUsage { max_rss_kib: 9 * 1024, ..usage(3, 10) };
        let counters = run_counters(CountedFrom::Start, 4.0, Some(usage(1, 8)), Some(small));
        assert_eq!(counters.peak_rss_bytes, None, "no more than the wrapper's own");

        let unknown = run_counters(CountedFrom::Start, 1.0, Some(usage(1, 8)), None);
        assert_eq!(unknown.cpu_user_s, None);
        assert!(unknown.not_measured["write_bytes"].contains("getrusage"));
    }

    #[test]
    fn the_totals_grow_by_what_a_waited_for_child_did() {
        let before = ChildrenUsage::now().expect("getrusage");
        // Other tests reap children of their own at the same time: only a floor holds.
        let burn = "i=0; while [ $i -lt 200000 ]; do i=$((i + 1)); done";
        assert!(status_of(burn).success());
        let after = ChildrenUsage::now().expect("getrusage");
        let counters = run_counters(CountedFrom::Start, 1.0, Some(before), Some(after));
        assert!(counters.cpu_s().is_some_and(|s| s > 0.01), "{counters:?}");
        assert!(counters.minor_faults.is_some_and(|n| n > 0), "{counters:?}");
    }

    #[test]
    fn a_kept_exit_keeps_its_counters() {
        let dir = std::env::temp_dir().join(format!("perfmon-kept-counters-{}", std::process::id()));
        let mut counters = run_counters(CountedFrom::Start, 2.25, Some(usage(1, 8)), Some(usage(3, 10)));
        let mut perf = shared::why::RunPerf::default();
        perf.events.insert(
            "task-clock".into(),
            shared::why::RunPerfEvent {
                available: true,
                reason: None,
                value: Some(2012.3),
                running_percent: Some(100.0),
            },
        );
        perf.events.insert(
            "cycles".into(),
            shared::why::RunPerfEvent {
                available: false,
                reason: Some("no PMU".into()),
                ..Default::default()
            },
        );
        counters.perf = Some(perf);
        let pending = crate::exits::PendingExit {
            project: "p".into(),
            run_id: "42-2026-01-01T00:00:00Z".into(),
            report: exit_report(status_of("exit 0"), counters, 1_700_000_000_000),
        };
        crate::exits::save(&dir, 8000, &pending).expect("kept");
        let waiting = crate::exits::waiting(&dir, 8000);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(waiting.len(), 1);
        assert_eq!(waiting[0].0, pending, "read back as it was kept");
    }

    #[test]
    fn ignored_signals_are_read_from_the_sigign_mask() {
        let status = "Name:\tsh\nSigBlk:\t0000000000000000\nSigIgn:\t0000000000000006\nSigCgt:\t0\n";
        let mask = ignored_mask(status).expect("a mask");
        assert_ne!(mask & signal_bit(Signal::SIGINT), 0, "SIGINT (2) is bit 1");
        assert_ne!(mask & signal_bit(Signal::SIGQUIT), 0, "SIGQUIT (3) is bit 2");
        assert_eq!(mask & signal_bit(Signal::SIGTERM), 0);
        assert_eq!(ignored_mask("Name:\tsh\n"), None);
        // What the kernel says of a process started ignoring SIGINT.
        let out = std::process::Command::new("sh")
            .args(["-c", "trap '' INT; cat /proc/self/status"])
            .output()
            .expect("sh runs");
        let mask = ignored_mask(&String::from_utf8_lossy(&out.stdout)).expect("a mask");
        assert_ne!(mask & signal_bit(Signal::SIGINT), 0);
    }
}
