//! A project's agent run: its lifecycle (idle → running ⇄ paused → stopped), and
//! the one place PerfMon acts on processes: checking a pid before registering it,
//! and sending SIGSTOP/SIGCONT to a run's whole tree.

use shared::api::{ExitReport, RunOutcome};
use shared::{Run, RunStatus};
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, Signal, System};

use super::project::ProjectName;
use super::record::{Record, RunSummary};
use super::{Hub, SubscribeError};
use crate::sampling;

/// The longest run label accepted.
pub const MAX_LABEL_CHARS: usize = 128;

/// Why a run could not change as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    /// A live run is already registered for the project.
    #[error("project already has a live run (pid {0}); end it first")]
    AlreadyLive(u32),
    /// The project has no live run to act on (or not in the state asked for).
    #[error("project has no live run")]
    NotLive,
    /// The pid cannot be a run.
    #[error("{0}")]
    BadPid(&'static str),
    /// The label is too long or holds control characters.
    #[error("a label is at most {MAX_LABEL_CHARS} characters, without control characters")]
    BadLabel,
    /// An exit report that says neither or both of exit code and signal.
    #[error("report exactly one of exit_code and signal")]
    BadExit,
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
    /// Registers the live process `pid` as `project`'s run, after checking it is
    /// one. Blocking (reads the process table).
    pub fn register_run(
        &self,
        project: &ProjectName,
        pid: u32,
        label: Option<String>,
    ) -> Result<Run, RunError> {
        if label
            .as_ref()
            .is_some_and(|l| l.chars().count() > MAX_LABEL_CHARS || l.chars().any(char::is_control))
        {
            return Err(RunError::BadLabel);
        }
        if pid == 0 {
            return Err(RunError::BadPid("pid must be positive"));
        }
        if pid == std::process::id() {
            return Err(RunError::BadPid("that pid is PerfMon itself"));
        }
        if !sampling::process_alive(pid) {
            return Err(RunError::NoSuchProcess(pid));
        }
        self.start_run(project, pid, label)
    }

    /// Starts a run of `pid` for `project`, now. Refused while another run is live.
    pub fn start_run(&self, project: &ProjectName, pid: u32, label: Option<String>) -> Result<Run, RunError> {
        let mut inner = self.lock();
        let entry = inner.entry(project)?;
        if entry.run.status.is_live() {
            return Err(RunError::AlreadyLive(entry.run.pid.unwrap_or_default()));
        }
        // Run ids (and the stream's start) are to the second; the record keeps
        // the exact instant, so a run of a few hundred milliseconds does not
        // read as a second long.
        let now = chrono::Utc::now();
        let started_at = sampling::timestamp_seconds(now);
        let run_id = format!("{pid}-{}", started_at.as_str());
        entry.run = Run {
            status: RunStatus::Running,
            pid: Some(pid),
            run_id: Some(run_id.clone()),
            started_at: Some(started_at),
            process: None,
        };
        entry.tree = None;
        // A new run counts its own tokens; the session total carries on.
        entry.tokens.current_run = 0;
        let summary = RunSummary::started(run_id, project.to_string(), label, pid, now);
        entry.summary = Some((summary.clone(), None));
        let run = entry.run.clone();
        drop(inner);
        self.remember(|| Record::Run(summary));
        self.cadence.notify_one();
        Ok(run)
    }

    /// Sets the live run's status (paused, running, stopped) and returns the run.
    /// Stopping it here ends its record as `ended`: PerfMon stopped tracking it.
    pub fn set_status(&self, project: &ProjectName, status: RunStatus) -> Result<Run, RunError> {
        let mut inner = self.lock();
        let entry =
            inner.projects.get_mut(project).filter(|p| p.run.status.is_live()).ok_or(RunError::NotLive)?;
        entry.set_status(status);
        let ended = match (status.is_live(), entry.summary.as_mut()) {
            (false, Some((summary, _))) => {
                summary.end(chrono::Utc::now(), RunOutcome::Ended);
                Some(summary.clone())
            }
            _ => None,
        };
        let run = entry.run.clone();
        drop(inner);
        if let Some(summary) = ended {
            self.remember(|| Record::Run(summary));
        }
        self.cadence.notify_one();
        Ok(run)
    }

    /// Records how `run_id`'s command ended (`perfmon run` reports it once the
    /// command exits, and again after a server restart). The project's current or
    /// last run is updated (and stopped, if the exit was not noticed yet) and
    /// returned; `None` when the hub does not hold that run (the store may).
    pub fn report_exit(
        &self,
        project: &ProjectName,
        run_id: &str,
        report: &ExitReport,
    ) -> Result<Option<RunSummary>, RunError> {
        let outcome = match (report.exit_code, report.signal) {
            (Some(_), None) => RunOutcome::Exited,
            (None, Some(_)) => RunOutcome::Killed,
            _ => return Err(RunError::BadExit),
        };
        let mut inner = self.lock();
        let Some(entry) = inner.projects.get_mut(project) else { return Ok(None) };
        let Some((summary, _)) = entry.summary.as_mut().filter(|(s, _)| s.run_id == run_id) else {
            return Ok(None);
        };
        if summary.ended_at.is_none() {
            summary.end(chrono::Utc::now(), outcome);
        }
        summary.outcome = outcome;
        (summary.exit_code, summary.signal) = (report.exit_code, report.signal);
        let summary = summary.clone();
        let stopped = entry.run.status.is_live();
        if stopped {
            entry.set_status(RunStatus::Stopped);
        }
        drop(inner);
        self.remember(|| Record::Run(summary.clone()));
        if stopped {
            self.cadence.notify_one();
        }
        Ok(Some(summary))
    }

    /// The project's run as it stands.
    pub fn run(&self, project: &ProjectName) -> Run {
        self.lock().projects.get(project).map(|p| p.run.clone()).unwrap_or_default()
    }

    /// SIGSTOP to the running run's whole tree; the run is then `paused`. Blocking.
    pub fn pause(&self, project: &ProjectName) -> Result<Run, RunError> {
        self.signal_run(project, Signal::Stop, RunStatus::Running, RunStatus::Paused)
    }

    /// SIGCONT to the paused run's whole tree; the run is then `running`. Blocking.
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
        let Some(pid) = run.pid.filter(|_| run.status == from) else {
            return Err(RunError::NotLive);
        };
        // Not under the lock: a /proc scan must not hold up the sampler.
        if !signal_tree(pid, signal) {
            return Err(RunError::SignalRefused);
        }
        let mut inner = self.lock();
        let entry = inner
            .projects
            .get_mut(project)
            .filter(|p| p.run.run_id == run.run_id && p.run.status == from)
            .ok_or(RunError::NotLive)?;
        entry.set_status(to);
        Ok(entry.run.clone())
    }
}

/// Sends `signal` to `root` and all its descendants, found by a fresh scan (a
/// tree can grow between ticks); true if the root got it. Blocking.
fn signal_tree(root: u32, signal: Signal) -> bool {
    let Some(tree) = sampling::process_tree(root) else { return false };
    let Ok(mut system) = System::new() else { return false };
    let pids: Vec<Pid> = tree.iter().map(|pid| Pid::from_u32(*pid)).collect();
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

#[cfg(test)]
mod tests {
    use super::super::tests::{hub, name};
    use super::*;

    #[test]
    fn a_second_live_run_is_refused() {
        let hub = hub();
        let project = name("one-at-a-time");
        hub.start_run(&project, 1, None).expect("start");
        assert_eq!(hub.start_run(&project, 2, None), Err(RunError::AlreadyLive(1)));
        hub.set_status(&project, RunStatus::Stopped).expect("stop");
        assert!(hub.start_run(&project, 2, None).is_ok());
    }

    #[test]
    fn pause_and_resume_need_a_run_in_the_right_state() {
        let hub = hub();
        let project = name("pausable");
        assert_eq!(hub.set_status(&project, RunStatus::Paused), Err(RunError::NotLive));
        assert_eq!(hub.resume(&project), Err(RunError::NotLive), "nothing to resume");
        hub.start_run(&project, 7, None).expect("start");
        assert_eq!(hub.resume(&project), Err(RunError::NotLive), "running, not paused");
        assert_eq!(hub.set_status(&project, RunStatus::Paused).map(|r| r.status), Ok(RunStatus::Paused));
        assert_eq!(hub.interval(), std::time::Duration::from_secs(1), "paused is still live");
    }

    #[test]
    fn registration_checks_the_pid() {
        let hub = hub();
        let project = name("pids");
        assert_eq!(hub.register_run(&project, 0, None), Err(RunError::BadPid("pid must be positive")));
        assert!(matches!(hub.register_run(&project, std::process::id(), None), Err(RunError::BadPid(_))));
        assert_eq!(
            hub.register_run(&project, u32::MAX - 1, None),
            Err(RunError::NoSuchProcess(u32::MAX - 1))
        );
        let long = Some("x".repeat(MAX_LABEL_CHARS + 1));
        assert_eq!(hub.register_run(&project, 1, long), Err(RunError::BadLabel));
        assert_eq!(hub.register_run(&project, 1, Some("a\nb".into())), Err(RunError::BadLabel));
        assert_eq!(hub.run(&project).status, RunStatus::Idle, "nothing changed");
    }
}
