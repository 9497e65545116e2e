//! A project's agent run: its lifecycle (idle → running ⇄ paused → stopped), and
//! the one place PerfMon acts on processes: checking a pid before registering it,
//! and sending SIGSTOP/SIGCONT to a run's whole tree.

use std::time::Instant;

use shared::api::{ExitReport, RunOutcome};
use shared::why::CountedFrom;
use shared::{Run, RunStatus};
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, Signal, System};

use super::project::ProjectName;
use super::record::{Record, RunSummary};
use super::{Hub, Project, SubscribeError, Tracked};
use crate::collect::run_perf::RunPerfCounters;
use crate::sampling;

/// The longest run label accepted.
pub const MAX_LABEL_CHARS: usize = 128;

/// Whether `label` may label a run: at most [`MAX_LABEL_CHARS`] characters,
/// none of them control characters. `perfmon run` checks it before starting
/// the command, as the server does at registration.
pub fn label_is_valid(label: &str) -> bool {
    label.chars().count() <= MAX_LABEL_CHARS && !label.chars().any(char::is_control)
}

/// The longest run id accepted (`{pid}-{RFC 3339 second}` is about 32).
const MAX_RUN_ID_CHARS: usize = 64;

/// Whether `id` can be a run id as this server makes them (`{pid}-{started_at}`,
/// `-N` for a pid's second run in a second): the characters of an RFC 3339
/// instant, at most [`MAX_RUN_ID_CHARS`]. Paths and the CLI check it before a
/// lookup, so a mistyped id is named as such.
pub fn run_id_is_valid(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_RUN_ID_CHARS
        && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | ':' | '.' | '+' | '_'))
}

/// The most live runs one project follows at once: registrations come from
/// clients, so the set must not grow without bound.
pub const MAX_LIVE_RUNS: usize = 64;

/// Why a run could not change as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    /// The project already follows [`MAX_LIVE_RUNS`] live runs.
    #[error("project already has {0} live runs; end one first")]
    TooManyLive(usize),
    /// The project has no live run to act on.
    #[error("project has no live run")]
    NotLive,
    /// The run is live, but not in the state the change is from: a pause of a
    /// paused run, a resume of a running one.
    #[error("the run is {0} already")]
    AlreadyIs(&'static str),
    /// The pid cannot be a run.
    #[error("{0}")]
    BadPid(&'static str),
    /// The label is too long or holds control characters.
    #[error("a label is at most {MAX_LABEL_CHARS} characters, without control characters")]
    BadLabel,
    /// An exit report that cannot be true: the field at fault, and why.
    #[error("{1}")]
    BadExit(&'static str, &'static str),
    /// The run's exit is already recorded, differently: a finished record is
    /// never rewritten.
    #[error("run {0} already has its exit recorded")]
    ExitAlreadyRecorded(String),
    /// No process has that pid.
    #[error("no process with pid {0}")]
    NoSuchProcess(u32),
    /// The OS refused to signal the run's processes.
    #[error("could not signal the run's processes (permission denied or gone)")]
    SignalRefused,
    /// A token report beyond what one report may add.
    #[error("at most {0} tokens per report")]
    TooManyTokens(u64),
    /// Too many projects are tracked.
    #[error(transparent)]
    Subscribe(#[from] SubscribeError),
}

impl Hub {
    /// Registers the live process `pid` as a run of `project`, after checking it
    /// is one. `from_start`: the process has not run its command yet (`perfmon
    /// run` holds it until registered), so all its CPU time is the run's;
    /// otherwise the run counts from now. Blocking (reads the process table).
    pub fn register_run(
        &self,
        project: &ProjectName,
        pid: u32,
        label: Option<String>,
        from_start: bool,
    ) -> Result<Run, RunError> {
        if label.as_deref().is_some_and(|l| !label_is_valid(l)) {
            return Err(RunError::BadLabel);
        }
        if pid == 0 {
            return Err(RunError::BadPid("pid must be positive"));
        }
        if pid == std::process::id() {
            return Err(RunError::BadPid("that pid is PerfMon itself"));
        }
        if sampling::is_machine_init(pid) {
            return Err(RunError::BadPid(
                "PID 1 is the machine's init: its tree is every process, and a pause would stop them all",
            ));
        }
        if !sampling::process_alive(pid) {
            return Err(RunError::NoSuchProcess(pid));
        }
        let cpu_base = if from_start { Some(0.0) } else { sampling::tree_cpu_seconds(pid) };
        // Its counters from the same moment as its CPU time.
        let counters_base = if from_start { None } else { sampling::tree_counters_now(pid) };
        // A held command's counters are `perfmon run`'s, opened before its
        // exec; a running process's are opened here, from registration on.
        let perf = (!from_start).then(|| RunPerfCounters::open(pid, CountedFrom::Registration));
        self.start(project, pid, label, (cpu_base, counters_base), perf)
    }

    /// Starts a run of `pid` for `project`, now, counting its CPU from the first
    /// reading. Beside any live run: the stream shows the oldest live one.
    /// (Without perf counters: the tests' runs are of made-up pids.)
    pub fn start_run(&self, project: &ProjectName, pid: u32, label: Option<String>) -> Result<Run, RunError> {
        self.start(project, pid, label, (None, None), None)
    }

    fn start(
        &self,
        project: &ProjectName,
        pid: u32,
        label: Option<String>,
        (cpu_base, counters_base): (Option<f64>, Option<crate::sampling::TreeCounters>),
        perf: Option<RunPerfCounters>,
    ) -> Result<Run, RunError> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let entry = inner.projects.get(project);
        if entry.is_some_and(|p| p.live.len() >= MAX_LIVE_RUNS) {
            return Err(RunError::TooManyLive(MAX_LIVE_RUNS));
        }
        // Run ids (and the stream's start) are to the second; the record keeps
        // the exact instant, so a run of a few hundred milliseconds does not
        // read as a second long.
        let now = chrono::Utc::now();
        let started_at = sampling::timestamp_seconds(now);
        let run_id = inner.issued.unique(format!("{pid}-{}", started_at.as_str()), now.timestamp());
        let entry = inner.entry(project)?;
        let summary = RunSummary::started(run_id, project.to_string(), label, pid, now);
        let mut tracked = Tracked::new(summary.clone(), started_at, cpu_base);
        if let Some(base) = counters_base {
            tracked.set_counters_base(base);
        }
        tracked.perf = perf;
        entry.live.push(tracked);
        let run = entry.live.last().map(Tracked::contract).unwrap_or_default();
        // Under the lock: a tick that ends the run at once finds it followed.
        self.follow_transcripts(&summary.run_id, pid, now);
        drop(guard);
        self.remember(|| Record::Run(summary));
        self.cadence.notify_one();
        Ok(run)
    }

    /// Follows again a run a previous start of the server was following when it
    /// stopped, and whose process is still alive: its record carries on from
    /// its `cpu_base` (so with the CPU its tree used meanwhile). Blocking.
    pub fn resume_run(&self, mut summary: RunSummary) -> Result<Run, RunError> {
        // A record from before bases were kept counts on from what it had.
        if summary.cpu_base.is_none() {
            summary.cpu_base =
                sampling::tree_cpu_seconds(summary.pid).map(|now| (now - summary.cpu_seconds).max(0.0));
        }
        let cpu_base = summary.cpu_base;
        // Paused before the restart, it is still stopped: said so, so that
        // `resume` works on it (pausing is not kept, the process says it).
        let paused = sampling::process_stopped(summary.pid);
        let project = ProjectName::parse(&summary.project).map_err(|_| RunError::NotLive)?;
        let mut guard = self.lock();
        let inner = &mut *guard;
        inner.issued.unique(summary.run_id.clone(), summary.started_at.timestamp());
        let entry = inner.entry(&project)?;
        let started_at = sampling::timestamp_seconds(summary.started_at);
        self.follow_transcripts(&summary.run_id, summary.pid, summary.started_at);
        let mut tracked = Tracked::new(summary, started_at, cpu_base);
        if paused {
            tracked.set_status(RunStatus::Paused);
        }
        entry.live.push(tracked);
        entry.live.sort_by_key(|t| t.summary.started_at);
        let run = entry.run();
        drop(guard);
        self.cadence.notify_one();
        Ok(run)
    }

    /// Sets the shown run's status (paused, running, stopped) and returns it.
    /// Stopping it here ends its record as `ended`: PerfMon stopped tracking it.
    pub fn set_status(&self, project: &ProjectName, status: RunStatus) -> Result<Run, RunError> {
        let mut inner = self.lock();
        let cores = inner.last.as_ref().map_or(1, |s| s.cpu.per_core.len());
        let entry = inner.projects.get_mut(project).filter(|p| p.is_live()).ok_or(RunError::NotLive)?;
        let shown = &mut entry.live[0];
        shown.set_status(status);
        let run = shown.contract();
        let ended = (!status.is_live()).then(|| {
            shown.end(chrono::Utc::now(), RunOutcome::Ended, cores);
            shown.summary.clone()
        });
        if let Some(summary) = &ended {
            entry.retire(0);
            self.read_transcripts_once_more(
                &mut inner,
                project.clone(),
                summary.run_id.clone(),
                Instant::now(),
            );
        }
        drop(inner);
        if let Some(summary) = ended {
            self.remember(|| Record::Run(summary));
        }
        self.cadence.notify_one();
        Ok(run)
    }

    /// Records how `run_id`'s command ended (`perfmon run` reports it once the
    /// command exits, and again after a server restart). The run, live or the
    /// project's last to end, is updated (and stopped, if the exit was not
    /// noticed yet) and returned; `None` when the hub does not hold that run
    /// (the store may). A run whose exit is recorded keeps it: the same report
    /// again is answered as before, another one is refused.
    pub fn report_exit(
        &self,
        project: &ProjectName,
        run_id: &str,
        report: &ExitReport,
    ) -> Result<Option<RunSummary>, RunError> {
        if let Some((field, why)) = report.invalid() {
            return Err(RunError::BadExit(field, why));
        }
        let outcome = report.outcome();
        let mut inner = self.lock();
        let cores = inner.last.as_ref().map_or(1, |s| s.cpu.per_core.len());
        let Some(entry) = inner.projects.get_mut(project) else { return Ok(None) };
        let Some(tracked) = entry.find_mut(run_id) else { return Ok(None) };
        if tracked.summary.exit_code.is_none()
            && tracked.summary.signal.is_none()
            && let Some(counters) = &report.counters
        {
            tracked.take_exit(counters, cores);
        }
        let summary = &mut tracked.summary;
        if summary.exit_code.is_some() || summary.signal.is_some() {
            return if (summary.exit_code, summary.signal) == (report.exit_code, report.signal) {
                Ok(Some(summary.clone()))
            } else {
                Err(RunError::ExitAlreadyRecorded(run_id.to_owned()))
            };
        }
        let now = chrono::Utc::now();
        // The wrapper's own time of the end, when it is a sane one.
        let reported = report
            .ended_at_within(summary.started_at.timestamp_millis(), now.timestamp_millis())
            .and_then(chrono::DateTime::from_timestamp_millis);
        match summary.ended_at {
            None => summary.end(reported.unwrap_or(now), outcome),
            // The tick that found the process gone came up to a tick after
            // its end: the wrapper saw the instant.
            Some(found) if reported.is_some_and(|at| at < found) => summary.ended_at = reported,
            Some(_) => {}
        }
        summary.outcome = outcome;
        (summary.exit_code, summary.signal) = (report.exit_code, report.signal);
        // The wrapper's wait counts to the last instant; readings stop a tick short.
        if let Some(cpu) = report.cpu_seconds {
            summary.cpu_seconds = summary.cpu_seconds.max(cpu);
        }
        let summary = summary.clone();
        let index = entry.live.iter().position(|t| t.summary.run_id == run_id);
        if let Some(index) = index {
            entry.retire(index);
            self.read_transcripts_once_more(&mut inner, project.clone(), run_id.to_owned(), Instant::now());
        }
        drop(inner);
        self.remember(|| Record::Run(summary.clone()));
        if index.is_some() {
            self.cadence.notify_one();
        }
        Ok(Some(summary))
    }

    /// The project's shown run as it stands.
    pub fn run(&self, project: &ProjectName) -> Run {
        self.lock().projects.get(project).map(Project::run).unwrap_or_default()
    }

    /// SIGSTOP to the shown run's whole tree; the run is then `paused`. Blocking.
    pub fn pause(&self, project: &ProjectName) -> Result<Run, RunError> {
        self.signal_run(project, Signal::Stop, RunStatus::Running, RunStatus::Paused)
    }

    /// SIGCONT to the shown run's paused tree; the run is then `running`. Blocking.
    pub fn resume(&self, project: &ProjectName) -> Result<Run, RunError> {
        self.signal_run(project, Signal::Continue, RunStatus::Paused, RunStatus::Running)
    }

    fn signal_run(
        &self,
        project: &ProjectName,
        signal: Signal,
        from: RunStatus,
        to: RunStatus,
    ) -> Result<Run, RunError> {
        let run = self.run(project);
        let live = matches!(run.status, RunStatus::Running | RunStatus::Paused);
        let Some(pid) = run.pid.filter(|_| live) else {
            return Err(RunError::NotLive);
        };
        let already = RunError::AlreadyIs(if to == RunStatus::Paused { "paused" } else { "running" });
        if run.status != from {
            return Err(already);
        }
        // Not under the lock: a /proc scan must not hold up the sampler.
        if !signal_tree(pid, signal) {
            return Err(RunError::SignalRefused);
        }
        let mut inner = self.lock();
        let shown = inner
            .projects
            .get_mut(project)
            .and_then(|p| p.live.first_mut())
            .filter(|t| t.run.run_id == run.run_id)
            .ok_or(RunError::NotLive)?;
        // Another pause or resume changed it while this one signalled.
        if shown.run.status != from {
            return Err(already);
        }
        shown.set_status(to);
        Ok(shown.contract())
    }
}

/// The run ids handed out in the current second: ids are `{pid}-{second}`, so
/// the same pid registered twice in one second (in one project or two) gets a
/// suffix instead of another run's id.
#[derive(Debug, Default)]
pub(super) struct IssuedIds {
    /// The second, and the ids issued in it.
    current: (i64, std::collections::HashSet<String>),
}

impl IssuedIds {
    /// `id`, or `id-2`, `id-3`… if it was already handed out; remembered.
    pub fn unique(&mut self, id: String, second: i64) -> String {
        if self.current.0 != second {
            self.current = (second, Default::default());
        }
        let ids = &mut self.current.1;
        let unique =
            (1..).map(|n| if n == 1 { id.clone() } else { format!("{id}-{n}") }).find(|c| !ids.contains(c));
        let unique = unique.unwrap_or(id);
        ids.insert(unique.clone());
        unique
    }
}

/// Sends `signal` to `root` and all its descendants, found by a fresh scan (a
/// tree can grow between ticks); true if the root got it. Blocking.
fn signal_tree(root: u32, signal: Signal) -> bool {
    let Some(tree) = sampling::process_tree(root) else { return false };
    let Ok(mut system) = System::new() else { return false };
    let pids = targets(&tree);
    system.refresh_processes_specifics(ProcessesToUpdate::Some(&pids), true, ProcessRefreshKind::nothing());
    let mut root_signalled = false;
    for pid in pids {
        let sent = system.process(pid).and_then(|p| p.kill_with(signal)).unwrap_or(false);
        if pid.as_u32() == root {
            root_signalled = sent;
        }
    }
    root_signalled
}

/// The processes of `tree` a signal goes to: all but PerfMon itself, which a
/// run rooted at one of its ancestors holds (the shell that started it, a
/// container's entry point), and which must never stop itself.
fn targets(tree: &std::collections::HashSet<u32>) -> Vec<Pid> {
    let own = std::process::id();
    tree.iter().filter(|pid| **pid != own).map(|pid| Pid::from_u32(*pid)).collect()
}

#[cfg(test)]
mod tests {
    use super::super::tests::{hub, name};
    use super::*;
    use crate::sampling::HostSample;

    #[test]
    fn every_id_the_server_issues_is_a_valid_run_id_and_a_path_or_query_is_not() {
        let mut issued = IssuedIds { current: (0, Default::default()) };
        let id = "4242-2026-11-25T08:00:00Z".to_owned();
        for _ in 0..3 {
            let unique = issued.unique(id.clone(), 7);
            assert!(run_id_is_valid(&unique), "{unique}");
        }
        for bad in ["", "12 34", "1-x?format=csv", "../etc", &"9".repeat(65)] {
            assert!(!run_id_is_valid(bad), "{bad}");
        }
    }

    #[test]
    fn a_second_run_is_followed_beside_the_first_and_never_ends_it() {
        let hub = hub();
        let project = name("two-at-once");
        let first = hub.start_run(&project, 1, None).expect("start");
        let second = hub.start_run(&project, 2, None).expect("a second run is accepted");
        assert_ne!(first.run_id, second.run_id);
        assert_eq!(hub.live_pids(), [1, 2], "both are measured");
        assert_eq!(hub.run(&project).pid, Some(1), "the stream shows the oldest");
        // The second one's exit ends the second one only.
        let exit = ExitReport::exited(0);
        let ended = hub.report_exit(&project, second.run_id.as_deref().expect("id"), &exit).expect("ok");
        assert_eq!(ended.map(|s| s.pid), Some(2));
        let shown = hub.run(&project);
        assert_eq!((shown.pid, shown.status), (Some(1), RunStatus::Running), "the first goes on");
        assert_eq!(hub.live_pids(), [1]);
        // Once the first ends, the project is stopped with the first's record shown.
        hub.set_status(&project, RunStatus::Stopped).expect("stop");
        assert_eq!((hub.run(&project).pid, hub.run(&project).status), (Some(1), RunStatus::Stopped));
        assert!(hub.start_run(&project, 2, None).is_ok());
    }

    #[test]
    fn runs_that_end_in_the_same_tick_each_take_their_exit_report() {
        let hub = hub();
        let project = name("together");
        let ids: Vec<String> =
            [3, 4].map(|pid| hub.start_run(&project, pid, None).expect("start").run_id.expect("id")).to_vec();
        let mut sample = HostSample::default();
        sample.runs.insert(3, None);
        sample.runs.insert(4, None);
        hub.publish(sample);
        assert_eq!(hub.run(&project).status, RunStatus::Stopped);
        for (id, code) in ids.iter().zip([5, 6]) {
            let summary = hub.report_exit(&project, id, &ExitReport::exited(code)).expect("ok");
            assert_eq!(summary.map(|s| s.exit_code), Some(Some(code)), "{id} is still held");
        }
    }

    #[test]
    fn the_wrappers_instant_of_the_end_replaces_the_later_tick_that_found_it() {
        let hub = hub();
        let project = name("late-tick");
        let id = hub.start_run(&project, 7, None).expect("start").run_id.expect("id");
        let started = chrono::Utc::now();
        // The tick finds the process gone about a second after the wrapper saw it end.
        let mut sample =
            HostSample { taken_at: started + chrono::Duration::milliseconds(1_000), ..HostSample::default() };
        sample.runs.insert(7, None);
        hub.publish(sample);
        // (A wrapper's instant is never after the report comes.)
        let exact = chrono::Utc::now();
        let counters = shared::why::RunCounters { wall_s: 0.1, ..Default::default() };
        let report = ExitReport {
            ended_at_ms: Some(exact.timestamp_millis()),
            counters: Some(counters),
            ..ExitReport::exited(0)
        };
        let summary = hub.report_exit(&project, &id, &report).expect("ok").expect("held");
        assert_eq!(summary.ended_at.map(|t| t.timestamp_millis()), Some(exact.timestamp_millis()));
        assert_eq!(summary.counters.map(|c| c.wall_s), Some(0.1), "the verdict's length is the wrapper's");
    }

    #[test]
    fn the_live_runs_of_a_project_are_bounded() {
        let hub = hub();
        let project = name("many");
        for pid in 0..MAX_LIVE_RUNS as u32 {
            hub.start_run(&project, pid + 1, None).expect("room");
        }
        assert_eq!(hub.start_run(&project, 999, None), Err(RunError::TooManyLive(MAX_LIVE_RUNS)));
    }

    #[test]
    fn the_same_pid_in_two_projects_in_one_second_gets_two_ids() {
        let hub = hub();
        let (a, b) = (name("a"), name("b"));
        let ids: Vec<String> = [&a, &b, &a]
            .into_iter()
            .filter_map(|p| hub.start_run(p, 42, None).expect("start").run_id)
            .collect();
        let unique: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), 3, "{ids:?}");
        let mut issued = IssuedIds::default();
        assert_eq!(issued.unique("7-t".into(), 5), "7-t");
        assert_eq!(issued.unique("7-t".into(), 5), "7-t-2");
        assert_eq!(issued.unique("7-t".into(), 5), "7-t-3");
        assert_eq!(issued.unique("7-t".into(), 6), "7-t", "a new second starts afresh");
    }

    #[test]
    fn an_exit_report_is_checked_and_a_recorded_exit_is_never_rewritten() {
        let hub = hub();
        let project = name("exits");
        let run_id = hub.start_run(&project, 5, None).expect("start").run_id.expect("id");
        for bad in [
            ExitReport {
                exit_code: None,
                signal: Some(-99999),
                cpu_seconds: None,
                ended_at_ms: None,
                counters: None,
            },
            ExitReport {
                exit_code: Some(-5),
                signal: None,
                cpu_seconds: None,
                ended_at_ms: None,
                counters: None,
            },
            ExitReport {
                exit_code: Some(256),
                signal: None,
                cpu_seconds: None,
                ended_at_ms: None,
                counters: None,
            },
            ExitReport {
                exit_code: None,
                signal: Some(65),
                cpu_seconds: None,
                ended_at_ms: None,
                counters: None,
            },
            ExitReport {
                exit_code: Some(0),
                signal: Some(9),
                cpu_seconds: None,
                ended_at_ms: None,
                counters: None,
            },
            ExitReport {
                exit_code: None,
                signal: None,
                cpu_seconds: None,
                ended_at_ms: None,
                counters: None,
            },
            ExitReport {
                exit_code: Some(0),
                signal: None,
                cpu_seconds: Some(f64::NAN),
                ended_at_ms: None,
                counters: None,
            },
            ExitReport {
                exit_code: Some(0),
                signal: None,
                cpu_seconds: Some(-1.0),
                ended_at_ms: None,
                counters: None,
            },
            // Finite, but rounded for the record it would be an infinity,
            // which JSON writes as null: the run's record unreadable.
            ExitReport {
                exit_code: Some(0),
                signal: None,
                cpu_seconds: Some(1e308),
                ended_at_ms: None,
                counters: None,
            },
        ] {
            assert!(
                matches!(hub.report_exit(&project, &run_id, &bad), Err(RunError::BadExit(..))),
                "{bad:?}"
            );
        }
        assert_eq!(hub.run(&project).status, RunStatus::Running, "nothing changed");
        let report = ExitReport { cpu_seconds: Some(3.5), ..ExitReport::exited(0) };
        let summary = hub.report_exit(&project, &run_id, &report).expect("ok").expect("held");
        assert_eq!((summary.exit_code, summary.cpu_seconds), (Some(0), 3.5));
        // The wrapper retrying the same report is answered alike; another is refused.
        assert!(hub.report_exit(&project, &run_id, &report).is_ok());
        assert_eq!(
            hub.report_exit(&project, &run_id, &ExitReport::killed(9)),
            Err(RunError::ExitAlreadyRecorded(run_id.clone()))
        );
    }

    #[test]
    fn pause_and_resume_need_a_run_in_the_right_state() {
        let hub = hub();
        let project = name("pausable");
        assert_eq!(hub.set_status(&project, RunStatus::Paused), Err(RunError::NotLive));
        assert_eq!(hub.resume(&project), Err(RunError::NotLive), "nothing to resume");
        hub.start_run(&project, 7, None).expect("start");
        assert_eq!(hub.resume(&project), Err(RunError::AlreadyIs("running")), "running, not paused");
        assert_eq!(hub.set_status(&project, RunStatus::Paused).map(|r| r.status), Ok(RunStatus::Paused));
        assert_eq!(hub.interval(), std::time::Duration::from_secs(1), "paused is still live");
    }

    #[test]
    fn a_signal_never_goes_to_perfmon_itself() {
        let own = std::process::id();
        let tree: std::collections::HashSet<u32> = [own, own + 1, 7].into_iter().collect();
        let mut sent: Vec<u32> = targets(&tree).into_iter().map(|pid| pid.as_u32()).collect();
        sent.sort_unstable();
        let mut others = vec![own + 1, 7];
        others.sort_unstable();
        assert_eq!(sent, others);
    }

    #[test]
    fn registration_checks_the_pid() {
        let hub = hub();
        let project = name("pids");
        let register = |pid, label| hub.register_run(&project, pid, label, false);
        assert_eq!(register(0, None), Err(RunError::BadPid("pid must be positive")));
        assert!(matches!(register(std::process::id(), None), Err(RunError::BadPid(_))));
        // Outside a container, PID 1's tree is every process on the machine.
        if !crate::collect::procfs::in_nested_pid_namespace() {
            let refused = register(1, None);
            assert!(matches!(refused, Err(RunError::BadPid(why)) if why.contains("init")), "{refused:?}");
        }
        assert_eq!(register(u32::MAX - 1, None), Err(RunError::NoSuchProcess(u32::MAX - 1)));
        let long = Some("x".repeat(MAX_LABEL_CHARS + 1));
        assert_eq!(register(1, long), Err(RunError::BadLabel));
        assert_eq!(register(1, Some("a\nb".into())), Err(RunError::BadLabel));
        assert_eq!(
            (hub.run(&project).status, hub.run(&project).run_id),
            (RunStatus::Stopped, None),
            "nothing changed"
        );
    }
}
