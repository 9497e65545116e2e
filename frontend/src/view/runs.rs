//! Recorded runs as the runs table and the run report show them: how a run
//! ended in words, its figures with units, the order of a sorted table, and
//! the change from the previous run.

use std::cmp::Ordering;

use shared::api::{RunOutcome, RunRecord};

use super::format::{NOT_AVAILABLE, Unit, count};
use super::time::elapsed;

/// How a run ended: `exit 0`, `exit 3`, `killed (SIGKILL)`, `ended`,
/// `interrupted`, `running` — the words `perfmon runs` uses too.
pub fn outcome(run: &RunRecord) -> String {
    run.outcome_text()
}

/// Whether the run failed: a non-zero exit, a signal, or PerfMon's own stop.
pub fn failed(run: &RunRecord) -> bool {
    run.status.failed(run.exit_code)
}

/// A figure or "Not available".
pub fn figure(value: Option<f64>, unit: Unit) -> String {
    value.map_or_else(|| NOT_AVAILABLE.to_owned(), |v| unit.format(v))
}

/// The run's duration as a stopwatch reads it.
pub fn duration(run: &RunRecord) -> String {
    elapsed(run.duration_s.round() as i64)
}

/// A token count, grouped.
pub fn tokens(run: &RunRecord) -> String {
    count(run.tokens)
}

/// A run's tokens with where they come from and, read from its agent's
/// transcripts, by kind: `1,410 · Claude Code: input 120, output 300, cache
/// write 200, cache read 790`.
pub fn tokens_in_full(run: &RunRecord) -> String {
    let Some(source) = run.token_source.map(shared::TokenSource::words) else { return count(run.tokens) };
    match &run.token_detail {
        Some(d) => format!(
            "{} · {source}: input {}, output {}, cache write {}, cache read {}{}",
            count(run.tokens),
            count(d.input),
            count(d.output),
            count(d.cache_write),
            count(d.cache_read),
            d.cost_usd.map(|usd| format!(" · {}", crate::view::format::dollars(usd))).unwrap_or_default()
        ),
        None => format!("{} · {source}", count(run.tokens)),
    }
}

/// What the live stream says of the run it shows while it runs: enough to
/// keep that run's row moving between fetches of the table.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LiveRun {
    /// The run.
    pub run_id: String,
    /// Seconds since it started, by the server's clock.
    pub duration_s: f64,
    /// The highest CPU of its tree the stream showed, share of the machine.
    pub peak_cpu_percent: Option<f64>,
    /// The highest resident memory of its tree the stream showed, MB.
    pub peak_rss_mb: Option<f64>,
    /// The highest GPU memory of its tree the stream showed, GB.
    pub peak_gpu_memory_gb: Option<f64>,
    /// The most processes its tree had.
    pub peak_process_count: u32,
}

impl LiveRun {
    /// `self` moved on by sample `m`, or `None` when `m` shows no live run
    /// (another run's sample starts afresh).
    pub fn next(previous: Option<&LiveRun>, m: &shared::PerfMetrics) -> Option<LiveRun> {
        let run_id = m.run.run_id.clone().filter(|_| m.run.status.is_live())?;
        let started = m.run.started_at.as_ref().and_then(|t| super::time::epoch_millis(t.as_str()))?;
        let now = super::time::epoch_millis(m.timestamp.as_str())?;
        let mut live = previous.filter(|p| p.run_id == run_id).cloned().unwrap_or_default();
        live.run_id = run_id;
        live.duration_s = ((now - started) / 1000.0).max(0.0);
        if let Some(p) = &m.run.process {
            let higher = |a: Option<f64>, b: Option<f64>| match (a, b) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            live.peak_cpu_percent = higher(live.peak_cpu_percent, p.cpu_percent);
            live.peak_rss_mb = higher(live.peak_rss_mb, p.rss_mb);
            live.peak_gpu_memory_gb = higher(live.peak_gpu_memory_gb, p.gpu_memory_gb);
            live.peak_process_count = live.peak_process_count.max(p.process_count);
        }
        Some(live)
    }
}

/// `run` as the table shows it: while it is the live run, its duration and
/// peaks are the newer of its record's and the stream's (the record was read
/// when the table was fetched; the stream moves every sample).
pub fn with_live(run: &RunRecord, live: Option<&LiveRun>) -> RunRecord {
    let mut run = run.clone();
    let Some(live) = live.filter(|l| l.run_id == run.run_id && run.status == RunOutcome::Running) else {
        return run;
    };
    let higher = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    run.duration_s = run.duration_s.max(live.duration_s);
    run.peak_cpu_percent = higher(run.peak_cpu_percent, live.peak_cpu_percent);
    run.peak_rss_mb = higher(run.peak_rss_mb, live.peak_rss_mb);
    run.peak_gpu_memory_gb = higher(run.peak_gpu_memory_gb, live.peak_gpu_memory_gb);
    run.peak_process_count = run.peak_process_count.max(live.peak_process_count);
    run
}

/// The columns the runs table sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// When it started.
    Start,
    /// Its label.
    Label,
    /// How long it took.
    Duration,
    /// How it ended.
    Outcome,
    /// Peak CPU.
    PeakCpu,
    /// Where its time went: the verdict's bound.
    Bound,
    /// Peak resident memory.
    PeakRss,
    /// Peak GPU memory.
    PeakGpu,
    /// Tokens.
    Tokens,
}

impl SortKey {
    /// Every column, in table order, with its heading.
    pub const COLUMNS: [(SortKey, &'static str); 9] = [
        (SortKey::Start, "Start"),
        (SortKey::Label, "Label"),
        (SortKey::Duration, "Duration"),
        (SortKey::Outcome, "Exit"),
        (SortKey::PeakCpu, "Peak CPU"),
        (SortKey::Bound, "Where time went"),
        (SortKey::PeakRss, "Peak RSS"),
        (SortKey::PeakGpu, "Peak GPU memory"),
        (SortKey::Tokens, "Tokens"),
    ];
}

/// Missing figures sort after present ones, whichever the direction.
fn by_option(a: Option<f64>, b: Option<f64>, descending: bool) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) if descending => b.total_cmp(&a),
        (Some(a), Some(b)) => a.total_cmp(&b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// The verdict's bound of a judged run.
fn bound(run: &RunRecord) -> Option<shared::why::ShareKind> {
    run.verdict.as_ref().filter(|v| v.judged).and_then(|v| v.bound)
}

/// Sorts `runs` by `key`; ties keep the newest first.
pub fn sort(runs: &mut [RunRecord], key: SortKey, descending: bool) {
    let flip = |o: Ordering| if descending { o.reverse() } else { o };
    runs.sort_by(|a, b| {
        let order = match key {
            SortKey::Start => flip(a.started_at.cmp(&b.started_at)),
            SortKey::Label => {
                let (x, y) = (a.label.as_deref().unwrap_or(""), b.label.as_deref().unwrap_or(""));
                match (x.is_empty(), y.is_empty()) {
                    (false, true) => Ordering::Less,
                    (true, false) => Ordering::Greater,
                    _ => flip(x.to_lowercase().cmp(&y.to_lowercase())),
                }
            }
            SortKey::Duration => by_option(Some(a.duration_s), Some(b.duration_s), descending),
            SortKey::Outcome => flip(failed(a).cmp(&failed(b)).then_with(|| a.exit_code.cmp(&b.exit_code))),
            SortKey::PeakCpu => by_option(a.peak_cpu_percent, b.peak_cpu_percent, descending),
            // Runs bound alike sit together; runs not measured or not judged last.
            SortKey::Bound => match (bound(a), bound(b)) {
                (Some(x), Some(y)) => flip(x.cmp(&y)),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            },
            SortKey::PeakRss => by_option(a.peak_rss_mb, b.peak_rss_mb, descending),
            SortKey::PeakGpu => by_option(a.peak_gpu_memory_gb, b.peak_gpu_memory_gb, descending),
            SortKey::Tokens => flip(a.tokens.cmp(&b.tokens)),
        };
        order.then_with(|| b.started_at.cmp(&a.started_at))
    });
}

/// `+12.5 %`, `−3.0 %`, `±0.0 %` from `previous` to `now`; `None` without both
/// or from zero.
pub fn change(now: Option<f64>, previous: Option<f64>) -> Option<String> {
    shared::api::percent_change(now, previous)
}

#[cfg(test)]
mod tests {
    use shared::Timestamp;

    use super::*;

    fn run(id: &str, started: &str, code: Option<i32>, duration: f64, rss: Option<f64>) -> RunRecord {
        RunRecord {
            run_id: id.into(),
            project: "p".into(),
            label: Some(id.to_uppercase()),
            pid: 1,
            started_at: Timestamp(started.into()),
            ended_at: None,
            status: RunOutcome::Exited,
            exit_code: code,
            signal: None,
            duration_s: duration,
            cpu_seconds: 0.0,
            peak_cpu_percent: None,
            peak_rss_mb: rss,
            peak_gpu_memory_gb: None,
            peak_process_count: 1,
            tokens: 0,
            verdict: None,
            token_source: None,
            token_detail: None,
        }
    }

    #[test]
    fn tokens_say_where_they_come_from_and_their_kinds() {
        let mut r = run("a", "2026-12-01T10:00:00Z", Some(0), 1.0, None);
        r.tokens = 1410;
        assert_eq!(tokens_in_full(&r), "1,410");
        r.token_source = Some(shared::TokenSource::Api);
        assert_eq!(tokens_in_full(&r), "1,410 · reported");
        r.token_source = Some(shared::TokenSource::ClaudeCode);
        r.token_detail = Some(shared::TokenDetail {
            input: 120,
            output: 300,
            cache_write: 200,
            cache_read: 790,
            cost_usd: Some(0.00118),
            ..Default::default()
        });
        assert_eq!(
            tokens_in_full(&r),
            "1,410 · Claude Code: input 120, output 300, cache write 200, cache read 790 · $0.0012"
        );
    }

    #[test]
    fn outcomes_read_in_words() {
        let mut r = run("a", "2026-12-01T10:00:00Z", Some(3), 1.0, None);
        assert_eq!(outcome(&r), "exit 3");
        assert!(failed(&r));
        r.exit_code = Some(0);
        assert!(!failed(&r));
        r.status = RunOutcome::Killed;
        r.signal = Some(9);
        assert_eq!(outcome(&r), "killed (SIGKILL)");
        r.status = RunOutcome::Interrupted;
        assert_eq!(outcome(&r), "interrupted");
        assert!(failed(&r));
    }

    #[test]
    fn tables_sort_by_any_column_with_missing_figures_last() {
        let mut runs = vec![
            run("a", "2026-12-01T10:00:00Z", Some(0), 30.0, Some(100.0)),
            run("b", "2026-12-01T11:00:00Z", Some(3), 10.0, None),
            run("c", "2026-12-01T12:00:00Z", Some(0), 20.0, Some(300.0)),
        ];
        let ids = |runs: &[RunRecord]| runs.iter().map(|r| r.run_id.clone()).collect::<Vec<_>>();
        sort(&mut runs, SortKey::Start, true);
        assert_eq!(ids(&runs), ["c", "b", "a"]);
        sort(&mut runs, SortKey::Duration, false);
        assert_eq!(ids(&runs), ["b", "c", "a"]);
        sort(&mut runs, SortKey::PeakRss, true);
        assert_eq!(ids(&runs), ["c", "a", "b"]);
        sort(&mut runs, SortKey::PeakRss, false);
        assert_eq!(ids(&runs), ["a", "c", "b"], "missing last either way");
        sort(&mut runs, SortKey::Outcome, true);
        assert_eq!(ids(&runs)[0], "b", "failures first when descending");
        sort(&mut runs, SortKey::Label, false);
        assert_eq!(ids(&runs), ["a", "b", "c"]);
        let judged = |kind| {
            Some(shared::why::Verdict { judged: true, bound: Some(kind), ..shared::why::Verdict::default() })
        };
        runs[0].verdict = judged(shared::why::ShareKind::Io);
        runs[2].verdict = judged(shared::why::ShareKind::Cpu);
        sort(&mut runs, SortKey::Bound, false);
        assert_eq!(ids(&runs), ["c", "a", "b"], "CPU, IO, then the run not measured");
        sort(&mut runs, SortKey::Bound, true);
        assert_eq!(ids(&runs), ["a", "c", "b"], "not measured last either way");
    }

    #[test]
    fn the_live_run_row_moves_with_the_stream() {
        let mut m = shared::PerfMetrics {
            timestamp: Timestamp("2026-12-01T10:00:22.000Z".into()),
            ..Default::default()
        };
        m.run = shared::Run {
            status: shared::RunStatus::Running,
            run_id: Some("a".into()),
            started_at: Some(Timestamp("2026-12-01T10:00:00Z".into())),
            process: Some(shared::RunProcess {
                cpu_percent: Some(49.5),
                rss_mb: Some(10.0),
                process_count: 2,
                ..Default::default()
            }),
            ..Default::default()
        };
        let first = LiveRun::next(None, &m).expect("a live run");
        m.timestamp = Timestamp("2026-12-01T10:00:23.000Z".into());
        if let Some(p) = m.run.process.as_mut() {
            p.cpu_percent = Some(20.0);
        }
        let live = LiveRun::next(Some(&first), &m).expect("still live");
        assert_eq!((live.duration_s, live.peak_cpu_percent), (23.0, Some(49.5)), "the peak is kept");

        let mut record = run("a", "2026-12-01T10:00:00Z", None, 9.0, Some(5.0));
        record.status = RunOutcome::Running;
        let shown = with_live(&record, Some(&live));
        assert_eq!(
            (shown.duration_s, shown.peak_cpu_percent, shown.peak_rss_mb),
            (23.0, Some(49.5), Some(10.0))
        );
        let other = run("b", "2026-12-01T09:00:00Z", Some(0), 9.0, Some(5.0));
        assert_eq!(with_live(&other, Some(&live)), other, "other rows are left as recorded");

        m.run.status = shared::RunStatus::Stopped;
        assert_eq!(LiveRun::next(Some(&live), &m), None, "an ended run is the record's again");
    }

    #[test]
    fn changes_are_signed_percentages() {
        assert_eq!(change(Some(110.0), Some(100.0)).as_deref(), Some("+10.0 %"));
        assert_eq!(change(Some(97.0), Some(100.0)).as_deref(), Some("−3.0 %"));
        assert_eq!(change(Some(100.0), Some(100.0)).as_deref(), Some("±0.0 %"));
        assert_eq!(change(Some(5.0), Some(0.0)), None);
        assert_eq!(change(None, Some(1.0)), None);
    }
}
