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
use tokio::process::Child;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::ServeArgs;
use super::client::{ApiClient, ClientError, Method};
use super::hold;
use crate::hub::project::ProjectName;

/// A server this wrapper started itself, and how to stop it.
type OwnServer = Option<(oneshot::Sender<()>, JoinHandle<Result<(), crate::service::ServeError>>)>;

/// How long a command has to end after the first signal passed on to it,
/// before it is killed with SIGKILL.
pub const GRACE: Duration = Duration::from_secs(10);

/// Runs `command` as `project`'s run; the command's exit code (127 when it is
/// not found, 126 when it cannot be executed, 2 for bad arguments).
pub async fn wrap(project: &str, label: Option<String>, args: ServeArgs, command: Vec<String>) -> ExitCode {
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
    let config = args.config();
    let bind = args.connect.bind;
    if let Err(err) = crate::service::check_exposure(&config, bind) {
        eprintln!("perfmon: {err}");
        return ExitCode::from(2);
    }
    let Tracker { api, kept_in, own_server } = match connect_or_serve(&args, config, &project).await {
        Ok(tracker) => tracker,
        Err(code) => return code,
    };

    // The CPU time of children waited for before the command (a shell that
    // `exec`ed perfmon passes its own on) is not the command's.
    let reaped_before = reaped_ticks();
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
        (Some(api), Some(pid)) => register(api, &project, pid, label, held.is_held()).await,
        _ => None,
    };
    // Go whether or not it was registered: the command always runs.
    let mut child = held.release().await;
    let status = supervise(&mut child, &mut signals).await;
    let ended_at_ms = chrono::Utc::now().timestamp_millis();
    let cpu_seconds = match (reaped_before, reaped_ticks()) {
        (Some(before), Some(after)) => {
            Some(after.saturating_sub(before) as f64 / crate::collect::procfs::TICKS_PER_SECOND)
        }
        _ => None,
    };
    if let (Some(api), Some(run_id), Ok(status)) = (&api, &run_id, &status) {
        // Our own server keeps its credential; another one may restart with a new one.
        let renew = own_server.is_none().then_some(&args.connect);
        let exit = Exit { project: &project, run_id, kept_in, port: bind.port() };
        report_exit(api.clone(), renew, &exit, exit_report(*status, cpu_seconds, ended_at_ms)).await;
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
    from_start: bool,
) -> Option<String> {
    let body =
        serde_json::to_string(&shared::api::RegisterRun { pid, label, from_start }).unwrap_or_default();
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

/// CPU time (user + system) of the children this process has waited for, and
/// of theirs, in clock ticks: `cutime + cstime` of its own `/proc/self/stat`.
fn reaped_ticks() -> Option<u64> {
    crate::collect::procfs::read_stat(std::process::id()).map(|stat| stat.reaped_ticks)
}

/// The exit report for `status`, with the CPU time of the command's tree and
/// when it ended (a report kept for a server that was down still gives the
/// run its true length).
fn exit_report(status: ExitStatus, cpu_seconds: Option<f64>, ended_at_ms: i64) -> shared::api::ExitReport {
    use std::os::unix::process::ExitStatusExt;
    let mut report = match (status.code(), status.signal()) {
        (Some(code), _) => shared::api::ExitReport::exited(code),
        (None, Some(signal)) => shared::api::ExitReport::killed(signal),
        // `wait` reports an exit or a death by signal; nothing else ends a process.
        (None, None) => shared::api::ExitReport::exited(1),
    };
    report.cpu_seconds = cpu_seconds;
    report.ended_at_ms = Some(ended_at_ms);
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
                "perfmon: PerfMon is not answering; trying to record the exit for {}s",
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

    #[test]
    fn exit_reports_carry_the_exit_or_the_signal_and_the_cpu_time() {
        let report = exit_report(status_of("exit 3"), Some(1.5), 1_700_000_000_000);
        assert_eq!((report.exit_code, report.signal, report.cpu_seconds), (Some(3), None, Some(1.5)));
        assert_eq!(report.ended_at_ms, Some(1_700_000_000_000));
        let report = exit_report(status_of("kill -TERM $$"), None, 1_700_000_000_000);
        assert_eq!((report.exit_code, report.signal, report.cpu_seconds), (None, Some(15), None));
        assert_eq!(report.invalid(), None);
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
