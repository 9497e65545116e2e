//! One run the hub follows: what the stream shows of it, its newest tree
//! reading, and its record with the figures so far.

use std::time::Instant;

use shared::why::CountedFrom;
use shared::{Run, RunStatus, TokenSource};

use super::meter::Meter;
use super::record::RunSummary;
use crate::collect::run_perf::RunPerfCounters;
use crate::collect::transcripts::RunTranscripts;
use crate::prices::Prices;
use crate::sampling::{HostSample, TreeReading};

/// How often a live run's counters and verdict so far go into its record
/// (and so to the store): they change slowly, and the tree's counters are
/// read no oftener.
const RECORD_COUNTERS_EVERY_S: f64 = 5.0;

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
    /// Its own counters.
    meter: Meter,
    /// Wall seconds at which the counters last went into the record.
    recorded_counters_at: Option<f64>,
    /// The run's `perf stat`-style counters, for a run PerfMon counts from
    /// registration (a command `perfmon run` started has the wrapper's).
    pub perf: Option<RunPerfCounters>,
    /// The tokens its transcripts said at the last reading (the session's
    /// total grows by what they add).
    transcript_tokens: u64,
    /// The version of the transcripts' reading last taken in.
    pub transcripts_seen: u64,
    /// Whether a reading was taken in since the record last carried it.
    tokens_changed: bool,
}

impl Tracked {
    /// The tree's counters read when the run was registered (a process
    /// already running): its counters count from there ([`Meter::set_base`]).
    pub fn set_counters_base(&mut self, base: crate::sampling::TreeCounters) {
        self.meter.set_base(base);
    }

    /// A run of `summary`'s pid, running now. `cpu_base` is the tree's CPU
    /// counter ([`TreeReading::cpu_seconds`]) at which the run's CPU time is 0:
    /// 0 for a process registered before it ran its command, the counter at
    /// registration for one already running, or `None` to take the first
    /// reading.
    pub fn new(mut summary: RunSummary, started_at: shared::Timestamp, cpu_base: Option<f64>) -> Self {
        summary.cpu_base = cpu_base;
        // A base of 0 is a command held until registered: everything counts.
        let from = if cpu_base == Some(0.0) { CountedFrom::Start } else { CountedFrom::Registration };
        let meter = Meter::new(from, summary.counters.as_deref().cloned());
        // A run a previous start of the server followed: its transcripts'
        // tokens so far were that server's session's, not this one's.
        let transcript_tokens = match summary.token_source {
            Some(TokenSource::ClaudeCode | TokenSource::Codex) => summary.tokens,
            _ => 0,
        };
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
            meter,
            recorded_counters_at: None,
            perf: None,
            transcript_tokens,
            transcripts_seen: 0,
            tokens_changed: false,
        }
    }

    /// The run as the contract has it.
    pub fn contract(&self) -> Run {
        let mut run = self.run.clone();
        run.label = self.summary.label.clone();
        run.exit_code = self.summary.exit_code;
        run.signal = self.summary.signal;
        if !run.status.is_live() {
            run.process = None;
            run.status = RunStatus::ended(run.exit_code, run.signal);
        }
        run
    }

    pub fn set_status(&mut self, status: RunStatus) {
        self.run.status = status;
        if !status.is_live() {
            self.run.process = None;
            self.run.state = None;
            self.tree = None;
        }
    }

    /// Takes one reading of the tree in `sample` at `now` on a machine of
    /// `cores` logical cores; the record as it now stands (with the counters
    /// and verdict so far every [`RECORD_COUNTERS_EVERY_S`]).
    pub fn measure(
        &mut self,
        sample: &HostSample,
        tree: &TreeReading,
        now: Instant,
        cores: usize,
    ) -> RunSummary {
        let wall_s = (sample.taken_at - self.summary.started_at).num_milliseconds().max(0) as f64 / 1000.0;
        self.meter.tick(sample, tree, wall_s);
        self.run.state = self.meter.live_state(cores_u32(cores));
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
        let due = self.recorded_counters_at.is_none_or(|at| wall_s - at >= RECORD_COUNTERS_EVERY_S);
        if due {
            self.recorded_counters_at = Some(wall_s);
            self.judge(cores);
        }
        let mut summary = self.summary.clone();
        if !due {
            (summary.counters, summary.verdict) = (None, None);
        }
        // Its tokens by kind go to the store when its transcripts said more.
        if !std::mem::take(&mut self.tokens_changed) {
            summary.token_detail = None;
        }
        summary
    }

    /// Ends the record at `at` as `outcome`, the counters covering its whole
    /// length, and judges it. Blocking (see [`Tracked::judge`]).
    pub fn end(&mut self, at: chrono::DateTime<chrono::Utc>, outcome: shared::api::RunOutcome, cores: usize) {
        self.summary.end(at, outcome);
        let wall_s = (at - self.summary.started_at).num_milliseconds().max(0) as f64 / 1000.0;
        self.meter.ended_after(wall_s);
        self.judge(cores);
    }

    /// Puts the counters so far, and the verdict on them, into the record.
    /// Blocking: reads the run's perf counters (a `read(2)` per counter).
    pub fn judge(&mut self, cores: usize) {
        if let Some(perf) = &mut self.perf {
            self.meter.set_perf(perf.read());
        }
        let counters = self.meter.counters().clone();
        // The task-clock keeps processes nobody waited for, which the tree's
        // counter loses (see `RunCounters::cpu_s`): the run's CPU time is the
        // higher, as the verdict's is.
        if let Some(cpu) = counters.cpu_s().filter(|s| s.is_finite()) {
            self.summary.cpu_seconds = self.summary.cpu_seconds.max(cpu);
        }
        // The same for the peak memory: `perfmon run` may have seen a higher one.
        // (`None` orders below any `Some`.)
        self.summary.peak_rss_bytes = self.summary.peak_rss_bytes.max(counters.peak_rss_bytes);
        self.summary.verdict = Some(Box::new(crate::verdict::judge(&counters, cores_u32(cores))));
        self.summary.counters = Some(Box::new(counters));
    }

    /// Takes in what its agent's transcripts say (they replace any reported
    /// count: see [`super::transcripts`]); what that changes in the session's
    /// count since the last reading: what they add, less what was reported
    /// for it before they were found (the same calls).
    pub fn take_transcripts(&mut self, found: &RunTranscripts, prices: &Prices) -> i64 {
        let Some(detail) = super::transcripts::detail(found, prices) else { return 0 };
        let retracted =
            if self.summary.token_source == Some(TokenSource::Api) { self.summary.tokens } else { 0 };
        let total = found.total().tokens();
        let added = total.saturating_sub(self.transcript_tokens);
        self.transcript_tokens = self.transcript_tokens.max(total);
        self.summary.tokens = self.transcript_tokens;
        self.summary.token_source = found.source().map(super::transcripts::source);
        self.summary.token_detail = Some(Box::new(detail));
        self.tokens_changed = true;
        i64::try_from(added).unwrap_or(i64::MAX).saturating_sub(i64::try_from(retracted).unwrap_or(i64::MAX))
    }

    /// Whether its count comes from its agent's transcripts.
    pub fn counts_transcripts(&self) -> bool {
        matches!(self.summary.token_source, Some(TokenSource::ClaudeCode | TokenSource::Codex))
    }

    /// Takes in the counters `perfmon run` reported with the exit, and judges
    /// the run again on them.
    pub fn take_exit(&mut self, exit: &shared::why::RunCounters, cores: usize) {
        self.meter.take_exit(exit);
        self.judge(cores);
    }
}

fn cores_u32(cores: usize) -> u32 {
    u32::try_from(cores.max(1)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracked(cpu_base: Option<f64>) -> Tracked {
        let summary = RunSummary::started("7-x".into(), "p".into(), None, 7, chrono::Utc::now());
        Tracked::new(summary, shared::Timestamp::default(), cpu_base)
    }

    fn reading(counter: Option<f64>, cpu_percent: f64) -> TreeReading {
        TreeReading {
            cpu_percent: Some(cpu_percent),
            cpu_seconds: counter,
            process_count: 1,
            ..TreeReading::default()
        }
    }

    #[test]
    fn perfmon_runs_counters_raise_the_cpu_time_and_peak_memory_never_lower_them() {
        let now = Instant::now();
        let mut run = tracked(Some(0.0));
        let tree = TreeReading { rss_bytes: 50 << 20, ..reading(Some(2.0), 40.0) };
        run.measure(&HostSample::default(), &tree, now, 2);
        // Children the kernel reaped (the task-clock's 8.5 s), a spike between
        // readings (the largest process's 700 MiB).
        let mut perf = shared::why::RunPerf::default();
        perf.events.insert(
            "task-clock".into(),
            shared::why::RunPerfEvent { available: true, value: Some(8_500.0), ..Default::default() },
        );
        let exit = shared::why::RunCounters {
            cpu_user_s: Some(0.1),
            cpu_system_s: Some(0.05),
            peak_rss_bytes: Some(700 << 20),
            perf: Some(perf),
            wall_s: 11.0,
            ..Default::default()
        };
        run.take_exit(&exit, 2);
        assert_eq!((run.summary.cpu_seconds, run.summary.peak_rss_bytes), (8.5, Some(700 << 20)));
        // Lower figures leave them be.
        run.take_exit(&shared::why::RunCounters { peak_rss_bytes: Some(1 << 20), ..Default::default() }, 2);
        assert_eq!((run.summary.cpu_seconds, run.summary.peak_rss_bytes), (8.5, Some(700 << 20)));
    }

    #[test]
    fn an_ended_runs_verdict_covers_the_length_its_record_shows() {
        let mut run = tracked(Some(0.0));
        let started = run.summary.started_at;
        let at =
            |s: i64| HostSample { taken_at: started + chrono::Duration::seconds(s), ..HostSample::default() };
        let counters = crate::sampling::TreeCounters { user_s: 1.0, ..Default::default() };
        run.measure(
            &at(5),
            &TreeReading { counters: Some(counters), ..reading(Some(1.0), 20.0) },
            Instant::now(),
            2,
        );
        // Gone at the next tick: the record ends there, and so do the counters.
        run.end(at(6).taken_at, shared::api::RunOutcome::Exited, 2);
        let counters = run.summary.counters.as_ref().expect("judged");
        assert_eq!((run.summary.ended_at, counters.wall_s), (Some(at(6).taken_at), 6.0));
        let verdict = run.summary.verdict.as_ref().expect("judged");
        assert!(verdict.headline.contains("6 s"), "{}", verdict.headline);
    }

    #[test]
    fn the_trees_counter_is_the_cpu_time_from_the_base_on() {
        let now = Instant::now();
        // Registered before its command ran: everything counts.
        let mut run = tracked(Some(0.0));
        assert_eq!(run.measure(&HostSample::default(), &reading(Some(2.5), 0.0), now, 2).cpu_seconds, 2.5);
        // Registered while running: from registration on.
        let mut run = tracked(Some(10.0));
        assert_eq!(run.measure(&HostSample::default(), &reading(Some(13.0), 0.0), now, 2).cpu_seconds, 3.0);
        // Base unknown: from the first reading on.
        let mut run = tracked(None);
        assert_eq!(run.measure(&HostSample::default(), &reading(Some(40.0), 0.0), now, 2).cpu_seconds, 0.0);
        assert_eq!(run.measure(&HostSample::default(), &reading(Some(41.5), 0.0), now, 2).cpu_seconds, 1.5);
    }

    #[test]
    fn without_a_counter_the_rates_are_integrated() {
        let start = Instant::now();
        let mut run = tracked(Some(0.0));
        run.measure(&HostSample::default(), &reading(None, 50.0), start, 2);
        let later = start + std::time::Duration::from_secs(2);
        // Half of two cores for two seconds.
        assert_eq!(run.measure(&HostSample::default(), &reading(None, 50.0), later, 2).cpu_seconds, 2.0);
    }
}
