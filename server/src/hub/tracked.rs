//! One run the hub follows: what the stream shows of it, its newest tree
//! reading, and its record with the figures so far.

use std::time::Instant;

use shared::{Run, RunStatus};

use super::record::RunSummary;
use crate::sampling::TreeReading;

/// A run, live or just ended.
#[derive(Debug)]
pub(super) struct Tracked {
    /// What the stream shows (status, pid, id, start, the tree's use).
    pub run: Run,
    /// What its tree used at the newest sample, exactly as read.
    pub tree: Option<TreeReading>,
    /// Its record.
    pub summary: RunSummary,
    /// When its tree was last measured.
    pub measured_at: Option<Instant>,
}

impl Tracked {
    /// A run of `summary`'s pid, running now. `cpu_base` is the tree's CPU
    /// counter ([`TreeReading::cpu_seconds`]) at which the run's CPU time is 0:
    /// 0 for a process registered before it ran its command, the counter at
    /// registration for one already running, or `None` to take the first
    /// reading.
    pub fn new(mut summary: RunSummary, started_at: shared::Timestamp, cpu_base: Option<f64>) -> Self {
        summary.cpu_base = cpu_base;
        Tracked {
            run: Run {
                status: RunStatus::Running,
                pid: Some(summary.pid),
                run_id: Some(summary.run_id.clone()),
                started_at: Some(started_at),
                ..Run::default()
            },
            tree: None,
            summary,
            measured_at: None,
        }
    }

    /// The run as the contract has it.
    pub fn contract(&self) -> Run {
        let mut run = self.run.clone();
        if !run.status.is_live() {
            run.process = None;
        }
        run.label = self.summary.label.clone();
        run.exit_code = self.summary.exit_code;
        run.signal = self.summary.signal;
        run
    }

    pub fn set_status(&mut self, status: RunStatus) {
        self.run.status = status;
        if !status.is_live() {
            self.run.process = None;
            self.tree = None;
        }
    }

    /// Takes one reading of the tree at `now` on a machine of `cores` logical
    /// cores; the record as it now stands.
    pub fn measure(&mut self, tree: &TreeReading, now: Instant, cores: usize) -> RunSummary {
        self.tree = Some(tree.clone());
        self.run.process = Some(tree.to_contract());
        let seconds = self.measured_at.map_or(0.0, |at| now.saturating_duration_since(at).as_secs_f64());
        self.summary.add_tick(tree, seconds, cores);
        // The tree's counter takes in processes that came and went between
        // readings, which the readings' rates cannot see: it is the CPU time
        // whenever /proc gives it.
        if let Some(counter) = tree.cpu_seconds {
            let base = *self.summary.cpu_base.get_or_insert(counter);
            // Never lower: a counter rebuilt after a restart may have lost what
            // left the tree meanwhile.
            self.summary.cpu_seconds = self.summary.cpu_seconds.max(counter - base);
        }
        self.measured_at = Some(now);
        self.summary.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracked(cpu_base: Option<f64>) -> Tracked {
        let summary = RunSummary::started("7-x".into(), "p".into(), None, 7, chrono::Utc::now());
        Tracked::new(summary, shared::Timestamp::default(), cpu_base)
    }

    fn reading(counter: Option<f64>, cpu_percent: f64) -> TreeReading {
        TreeReading { cpu_percent, cpu_seconds: counter, process_count: 1, ..TreeReading::default() }
    }

    #[test]
    fn the_trees_counter_is_the_cpu_time_from_the_base_on() {
        let now = Instant::now();
        // Registered before its command ran: everything counts.
        let mut run = tracked(Some(0.0));
        assert_eq!(run.measure(&reading(Some(2.5), 0.0), now, 2).cpu_seconds, 2.5);
        // Registered while running: from registration on.
        let mut run = tracked(Some(10.0));
        assert_eq!(run.measure(&reading(Some(13.0), 0.0), now, 2).cpu_seconds, 3.0);
        // Base unknown: from the first reading on.
        let mut run = tracked(None);
        assert_eq!(run.measure(&reading(Some(40.0), 0.0), now, 2).cpu_seconds, 0.0);
        assert_eq!(run.measure(&reading(Some(41.5), 0.0), now, 2).cpu_seconds, 1.5);
    }

    #[test]
    fn without_a_counter_the_rates_are_integrated() {
        let start = Instant::now();
        let mut run = tracked(Some(0.0));
        run.measure(&reading(None, 50.0), start, 2);
        let later = start + std::time::Duration::from_secs(2);
        // Half of two cores for two seconds.
        assert_eq!(run.measure(&reading(None, 50.0), later, 2).cpu_seconds, 2.0);
    }
}
