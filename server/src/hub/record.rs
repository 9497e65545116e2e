//! What the hub hands on to be remembered: every tick with the live runs'
//! figures, and each run's start and end. The hub only knows [`Recorder`]; the
//! store implements it above the hub, so the hub never waits on (or imports) it.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use shared::api::RunOutcome;

use crate::sampling::{HostSample, TreeReading};

/// Takes records without ever blocking the caller (the tick loop publishes here).
pub trait Recorder: Send + Sync + std::fmt::Debug + 'static {
    /// Hands one record on.
    fn record(&self, record: Record);
}

/// One thing to remember.
#[derive(Debug, Clone)]
pub enum Record {
    /// One tick: the machine, and each live run's tree with the run's figures so far.
    Tick {
        /// The machine, exactly as read.
        sample: Arc<HostSample>,
        /// Each live run at this tick.
        runs: Vec<(RunSummary, TreeReading)>,
    },
    /// A run started, ended, or its figures changed (tokens, an exit report).
    Run(RunSummary),
}

/// A run's record as the hub knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    /// `{pid}-{started_at}`.
    pub run_id: String,
    /// Its project.
    pub project: String,
    /// Its label, if one was given.
    pub label: Option<String>,
    /// Its root process.
    pub pid: u32,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended, if it has.
    pub ended_at: Option<DateTime<Utc>>,
    /// How it ended, or `Running`.
    pub outcome: RunOutcome,
    /// The command's exit code, when known.
    pub exit_code: Option<i32>,
    /// The signal that killed it, when one did.
    pub signal: Option<i32>,
    /// CPU time of the tree so far, seconds.
    pub cpu_seconds: f64,
    /// Highest CPU of the tree, share of the machine, 0–100.
    pub peak_cpu_percent: Option<f64>,
    /// Highest resident memory of the tree, bytes.
    pub peak_rss_bytes: Option<u64>,
    /// Most GPU memory the tree held, bytes.
    pub peak_gpu_bytes: Option<u64>,
    /// Most processes in the tree at once.
    pub peak_processes: u32,
    /// Tokens reported for the run.
    pub tokens: u64,
    /// The tree's CPU counter at which the run's CPU time is 0 (0 for a run
    /// registered before it ran its command), kept so a server that restarts
    /// during the run counts on from the same point; `None` until known.
    pub cpu_base: Option<f64>,
    /// The run's own counters so far. In a tick's record only when they were
    /// read again (every few seconds), so the store rewrites them no oftener.
    /// (Boxed, as the verdict: most records in flight are ticks' and carry none.)
    pub counters: Option<Box<shared::why::RunCounters>>,
    /// Where its time went so far (judged with the counters).
    pub verdict: Option<Box<shared::why::Verdict>>,
    /// Where its token count comes from, once it has one.
    pub token_source: Option<shared::TokenSource>,
    /// Its tokens by kind, when read from its agent's transcripts.
    pub token_detail: Option<Box<shared::TokenDetail>>,
}

impl RunSummary {
    /// A run that starts now.
    pub fn started(
        run_id: String,
        project: String,
        label: Option<String>,
        pid: u32,
        at: DateTime<Utc>,
    ) -> Self {
        RunSummary {
            run_id,
            project,
            label,
            pid,
            started_at: at,
            ended_at: None,
            outcome: RunOutcome::Running,
            exit_code: None,
            signal: None,
            cpu_seconds: 0.0,
            peak_cpu_percent: None,
            peak_rss_bytes: None,
            peak_gpu_bytes: None,
            peak_processes: 0,
            tokens: 0,
            cpu_base: None,
            counters: None,
            verdict: None,
            token_source: None,
            token_detail: None,
        }
    }

    /// Adds one tick of the tree, `seconds` after the previous one, on a machine
    /// of `cores` logical cores.
    pub fn add_tick(&mut self, tree: &TreeReading, seconds: f64, cores: usize) {
        if let Some(percent) = tree.cpu_percent {
            self.cpu_seconds += percent / 100.0 * cores.max(1) as f64 * seconds.max(0.0);
            self.peak_cpu_percent = Some(self.peak_cpu_percent.map_or(percent, |p| p.max(percent)));
        }
        self.peak_rss_bytes = Some(self.peak_rss_bytes.map_or(tree.rss_bytes, |p| p.max(tree.rss_bytes)));
        if let Some(gpu) = tree.gpu_memory_bytes {
            self.peak_gpu_bytes = Some(self.peak_gpu_bytes.map_or(gpu, |p| p.max(gpu)));
        }
        self.peak_processes = self.peak_processes.max(tree.process_count);
    }

    /// Ends the run at `at` with `outcome`.
    pub fn end(&mut self, at: DateTime<Utc>, outcome: RunOutcome) {
        self.ended_at = Some(at);
        self.outcome = outcome;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_add_cpu_time_and_keep_the_peaks() {
        let mut run = RunSummary::started("1-x".into(), "p".into(), None, 1, Utc::now());
        let tree = |cpu, rss, gpu, procs| TreeReading {
            cpu_percent: cpu,
            rss_bytes: rss,
            gpu_memory_bytes: gpu,
            process_count: procs,
            ..TreeReading::default()
        };
        // A first reading has no rate: no CPU time, no peak, not 0.
        run.add_tick(&tree(None, 50, None, 1), 0.0, 4);
        assert_eq!((run.cpu_seconds, run.peak_cpu_percent), (0.0, None));
        // Half of a 4-core machine for 2 s is 4 CPU-seconds.
        run.add_tick(&tree(Some(50.0), 100, Some(5), 2), 2.0, 4);
        run.add_tick(&tree(Some(25.0), 300, None, 5), 1.0, 4);
        run.add_tick(&tree(Some(75.0), 200, Some(3), 1), 1.0, 4);
        assert_eq!(run.cpu_seconds, 4.0 + 1.0 + 3.0);
        assert_eq!(
            (run.peak_cpu_percent, run.peak_rss_bytes, run.peak_gpu_bytes, run.peak_processes),
            (Some(75.0), Some(300), Some(5), 5)
        );
    }
}
