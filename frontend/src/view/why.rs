//! Where a run's time went, in what the page shows: the bar's segments (widths
//! that add up to exactly 100 %, whatever the server's rounding), the legend's
//! words and numbers, the runs table's one word for the bound, the live
//! panel's state line, and the counters table's rows with the reason beside
//! every figure that could not be read.
//!
//! # Layout
//! - [`Segment`] and [`segments`]: the bar and its legend; [`bar_label`]: the
//!   bar said in words for a screen reader.
//! - [`bound_word`], [`bound_cell`]: the runs table's column.
//! - [`live_state`]: the panel's word with its window; [`changes_note`]: why
//!   "Since the previous run" lists nothing.
//! - [`CounterRow`] and [`counter_rows`]: the collapsible "Counters" table.

use shared::api::RunRecord;
use shared::why::{LIVE_WINDOW_S, LiveState, RunCounters, RunPerfEvent, Share, ShareKind};

use super::format::{count, scaled_bytes};

/// What a figure that was not measured shows in a table cell.
pub const DASH: &str = "—";

/// What a run recorded before PerfMon measured where its time went shows.
pub const NOT_MEASURED: &str = "Where its time went: not measured";

/// The bar's widths are whole tenths of a percent: 1,000 of them make the bar.
const TENTHS: u32 = 1000;

/// One segment of the time bar and its legend entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// What the time was spent on.
    pub kind: ShareKind,
    /// Its width in tenths of a percent; the bar's widths add up to 1,000.
    pub tenths: u32,
    /// The legend's number: `82 %`, `< 1 %` for a sliver.
    pub percent: String,
    /// The legend's words: `On CPU`.
    pub label: &'static str,
}

impl Segment {
    /// The segment's inline style: `width: 82.3%`.
    pub fn style(&self) -> String {
        format!("width: {}.{}%", self.tenths / 10, self.tenths % 10)
    }

    /// `On CPU 82 %`: the legend entry in one line.
    pub fn text(&self) -> String {
        format!("{} {}", self.label, self.percent)
    }
}

/// A share's percent as the legend says it: whole percents, `< 1 %` for a
/// share too small to round up to one (never a bare `0 %` beside a colour).
pub fn percent_text(percent: f64) -> String {
    match percent {
        p if !p.is_finite() || p <= 0.0 => "0 %".to_owned(),
        p if p < 0.5 => "< 1 %".to_owned(),
        p => format!("{:.0} %", p.min(100.0)),
    }
}

/// The bar's segments, in the order the verdict gives its shares: each width
/// its share of the sum (so a server's rounding to 99.9 or 100.1 still fills
/// the bar exactly), in tenths by largest remainder so they add up to 1,000.
/// Shares that are zero, negative or not numbers are left out; nothing to
/// draw gives no segments.
pub fn segments(shares: &[Share]) -> Vec<Segment> {
    let shares: Vec<&Share> = shares.iter().filter(|s| s.percent.is_finite() && s.percent > 0.0).collect();
    let sum: f64 = shares.iter().map(|s| s.percent).sum();
    if sum <= 0.0 {
        return Vec::new();
    }
    let exact: Vec<f64> = shares.iter().map(|s| s.percent / sum * f64::from(TENTHS)).collect();
    let mut tenths: Vec<u32> = exact.iter().map(|e| e.floor() as u32).collect();
    let short = TENTHS.saturating_sub(tenths.iter().sum());
    // The tenths the floors left over go to the largest remainders, earlier
    // shares first on a tie, so the same verdict always draws the same bar.
    let mut order: Vec<usize> = (0..exact.len()).collect();
    order.sort_by(|&a, &b| {
        (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())).then(a.cmp(&b))
    });
    for &i in order.iter().cycle().take(short as usize) {
        tenths[i] += 1;
    }
    shares
        .iter()
        .zip(tenths)
        .map(|(share, tenths)| Segment {
            kind: share.kind,
            tenths,
            percent: percent_text(share.percent),
            label: share.kind.label(),
        })
        .collect()
}

/// The bar in words, for its `aria-label`: `Where its time went: On CPU 82 %,
/// Waiting for CPU 12 %, Idle (waiting outside) 6 %`.
pub fn bar_label(segments: &[Segment]) -> String {
    let parts: Vec<String> = segments.iter().map(Segment::text).collect();
    format!("Where its time went: {}", parts.join(", "))
}

/// The CSS modifier of a kind's colour: `cpu-wait` for
/// `why-bar__segment--cpu-wait` and `--why-cpu-wait` in the style sheet.
pub fn kind_class(kind: ShareKind) -> &'static str {
    match kind {
        ShareKind::Cpu => "cpu",
        ShareKind::CpuWait => "cpu-wait",
        ShareKind::Io => "io",
        ShareKind::Memory => "memory",
        ShareKind::Idle => "idle",
        ShareKind::GpuBusy => "gpu-busy",
        ShareKind::GpuStarved => "gpu-starved",
        ShareKind::GpuThrottled => "gpu-throttled",
    }
}

/// A bound as one short word, so a column of runs tells them apart at a
/// glance: `CPU`, `CPU wait`, `IO`, `memory`, `idle`, `GPU`.
pub fn bound_word(kind: ShareKind) -> &'static str {
    match kind {
        ShareKind::Cpu => "CPU",
        ShareKind::CpuWait => "CPU wait",
        ShareKind::Io => "IO",
        ShareKind::Memory => "memory",
        ShareKind::Idle => "idle",
        ShareKind::GpuBusy => "GPU",
        ShareKind::GpuStarved => "GPU starved",
        ShareKind::GpuThrottled => "GPU throttled",
    }
}

/// The runs table's "Where time went" cell: `(text, tooltip)`. A run without a
/// verdict (recorded before PerfMon measured it) or one not judged (too
/// short) shows a dash, and its tooltip says which.
pub fn bound_cell(run: &RunRecord) -> (String, String) {
    match &run.verdict {
        None => (DASH.to_owned(), "not measured".to_owned()),
        Some(v) => match v.bound.filter(|_| v.judged) {
            Some(kind) => (bound_word(kind).to_owned(), v.headline.clone()),
            None if v.headline.is_empty() => (DASH.to_owned(), "not judged".to_owned()),
            None => (DASH.to_owned(), v.headline.clone()),
        },
    }
}

/// The live panel's state line: `CPU-bound (last 30 s)`.
pub fn live_state(state: LiveState) -> String {
    format!("{} (last {:.0} s)", state.word(), LIVE_WINDOW_S)
}

/// What "Since the previous run" says when it lists no change: why there is
/// nothing to compare, or that nothing moved. `None` when there are changes.
pub fn changes_note(previous: Option<&RunRecord>, has_changes: bool) -> Option<&'static str> {
    if has_changes {
        return None;
    }
    Some(match previous.map(|p| p.verdict.as_ref()) {
        None => "The project's first recorded run: nothing to compare with.",
        Some(None) => "The previous run's time was not measured: nothing to compare with.",
        Some(Some(v)) if !v.judged => "The previous run was not judged: nothing to compare with.",
        Some(Some(_)) => "No share moved by much.",
    })
}

/// One row of the counters table.
#[derive(Debug, Clone, PartialEq)]
pub struct CounterRow {
    /// The field (or `perf.EVENT`) it shows, for its `data-testid`.
    pub id: String,
    /// What it is, in words.
    pub label: String,
    /// The figure with its unit, `None` when it could not be read.
    pub value: Option<String>,
    /// Why it could not be read (the server's `not_measured`, or the perf
    /// event's reason); `None` when it was.
    pub reason: Option<String>,
}

impl CounterRow {
    /// The cell's text: the figure, or a dash.
    pub fn shown(&self) -> &str {
        self.value.as_deref().unwrap_or(DASH)
    }
}

fn seconds(v: f64) -> String {
    if v < 10.0 { format!("{v:.2} s") } else { format!("{v:.1} s") }
}

fn bytes(v: u64) -> String {
    scaled_bytes(v as f64)
}

/// The counters, in the order a reader asks: the run's CPU, its waiting, its
/// switches and threads, its IO and faults, the machine's pressure beside
/// it, the GPUs, then the `perf stat` events. A `null` figure carries its
/// reason (or "not measured" when the server gave none).
pub fn counter_rows(c: &RunCounters) -> Vec<CounterRow> {
    let mut rows = Vec::new();
    let mut push = |field: &str, label: &str, value: Option<String>| {
        let reason = value
            .is_none()
            .then(|| c.not_measured.get(field).cloned().unwrap_or_else(|| "not measured".to_owned()));
        rows.push(CounterRow { id: field.to_owned(), label: label.to_owned(), value, reason });
    };
    let f = |v: Option<f64>, show: fn(f64) -> String| v.filter(|v| v.is_finite()).map(show);
    let n = |v: Option<u64>| v.map(count);
    push("cpu_user_s", "CPU user", f(c.cpu_user_s, seconds));
    push("cpu_system_s", "CPU system", f(c.cpu_system_s, seconds));
    push("cpu_wait_s", "Waiting for a CPU", f(c.cpu_wait_s, seconds));
    push("voluntary_switches", "Voluntary context switches", n(c.voluntary_switches));
    push("involuntary_switches", "Involuntary context switches", n(c.involuntary_switches));
    push("peak_threads", "Peak threads", c.peak_threads.map(|t| count(u64::from(t))));
    push("read_bytes", "Read from storage", c.read_bytes.map(bytes));
    push("write_bytes", "Written to storage", c.write_bytes.map(bytes));
    push("minor_faults", "Minor page faults", n(c.minor_faults));
    push("major_faults", "Major page faults", n(c.major_faults));
    push("peak_rss_bytes", "Peak RSS", c.peak_rss_bytes.map(bytes));
    push("io_some_s", "Machine IO pressure (some)", f(c.io_some_s, seconds));
    push("io_full_s", "Machine IO pressure (full)", f(c.io_full_s, seconds));
    push("memory_some_s", "Machine memory pressure (some)", f(c.memory_some_s, seconds));
    push("memory_full_s", "Machine memory pressure (full)", f(c.memory_full_s, seconds));
    push("cpu_some_s", "Machine CPU pressure (some)", f(c.cpu_some_s, seconds));
    push("swap_in_pages", "Pages swapped in", n(c.swap_in_pages));
    push("swap_out_pages", "Pages swapped out", n(c.swap_out_pages));
    push("machine_cpu_saturated_s", "Machine CPU saturated", f(c.machine_cpu_saturated_s, seconds));
    push("machine_steal_s", "CPU stolen by the hypervisor", f(c.machine_steal_s, seconds));
    push("gpu_peak_memory_bytes", "Peak GPU memory", c.gpu_peak_memory_bytes.map(bytes));
    push(
        "gpu_process_percent",
        "GPU use by the run's processes",
        f(c.gpu_process_percent, |p| format!("{p:.1} %")),
    );
    push("gpu_busy_s", "GPU busy", f(c.gpu_busy_s, seconds));
    push(
        "gpu_idle_cpu_saturated_s",
        "GPU idle while the CPU was saturated",
        f(c.gpu_idle_cpu_saturated_s, seconds),
    );
    push("gpu_energy_j", "GPU energy", f(c.gpu_energy_j, |j| format!("{} J", count(j.round() as u64))));
    if c.gpu_throttled_s.is_empty() {
        // An empty map is "never throttled", unless the server says it could not tell.
        let reason = c.not_measured.get("gpu_throttled_s").cloned();
        let value = reason.is_none().then(|| "none".to_owned());
        rows.push(CounterRow {
            id: "gpu_throttled_s".to_owned(),
            label: "GPU throttled".to_owned(),
            value,
            reason,
        });
    }
    for (reason, s) in &c.gpu_throttled_s {
        rows.push(CounterRow {
            id: format!("gpu_throttled_s.{reason}"),
            label: format!("GPU throttled: {reason}"),
            value: Some(seconds(*s)),
            reason: None,
        });
    }
    match &c.perf {
        Some(perf) => {
            for (name, event) in &perf.events {
                rows.push(perf_row(name, event));
            }
            if let Some(ipc) = perf.ipc.filter(|v| v.is_finite()) {
                rows.push(CounterRow {
                    id: "perf.ipc".to_owned(),
                    label: "perf: instructions per cycle".to_owned(),
                    value: Some(format!("{ipc:.2}")),
                    reason: None,
                });
            }
        }
        None => rows.push(CounterRow {
            id: "perf".to_owned(),
            label: "perf events".to_owned(),
            value: None,
            reason: Some(c.not_measured.get("perf").cloned().unwrap_or_else(|| "not measured".to_owned())),
        }),
    }
    rows
}

/// A `perf stat` event: its count (task-clock in ms, as `perf stat` shows it),
/// scaled when the kernel multiplexed it, or `not available: REASON`.
fn perf_row(name: &str, event: &RunPerfEvent) -> CounterRow {
    let value = event.value.filter(|v| event.available && v.is_finite()).map(|v| {
        let figure = if name == "task-clock" { format!("{v:.1} ms") } else { count(v.round() as u64) };
        match event.running_percent {
            Some(p) if p.is_finite() && p < 99.95 => {
                format!("{figure} (counted {p:.0} % of the time, scaled)")
            }
            _ => figure,
        }
    });
    let reason = value
        .is_none()
        .then(|| format!("not available: {}", event.reason.as_deref().unwrap_or("no reason given")));
    CounterRow { id: format!("perf.{name}"), label: format!("perf: {name}"), value, reason }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use shared::why::{RunPerf, Verdict};

    use super::*;

    fn share(kind: ShareKind, percent: f64) -> Share {
        Share { kind, percent, evidence: String::new() }
    }

    #[test]
    fn segment_widths_add_up_to_the_whole_bar_whatever_the_rounding() {
        for shares in [
            vec![share(ShareKind::Cpu, 82.0), share(ShareKind::CpuWait, 12.0), share(ShareKind::Idle, 6.0)],
            vec![share(ShareKind::Cpu, 33.3), share(ShareKind::Io, 33.3), share(ShareKind::Idle, 33.3)],
            vec![share(ShareKind::Cpu, 50.05), share(ShareKind::Idle, 50.05)],
            vec![share(ShareKind::Io, 0.04), share(ShareKind::Idle, 99.9)],
            vec![share(ShareKind::Memory, 100.0)],
            vec![
                share(ShareKind::Cpu, 1.0 / 3.0),
                share(ShareKind::CpuWait, 1.0 / 3.0),
                share(ShareKind::Io, 1.0 / 3.0),
                share(ShareKind::Memory, 1.0 / 3.0),
                share(ShareKind::Idle, 1.0 / 3.0),
            ],
        ] {
            let segs = segments(&shares);
            assert_eq!(segs.iter().map(|s| s.tenths).sum::<u32>(), 1000, "{shares:?}");
            assert_eq!(segs.len(), shares.len());
        }
        let segs = segments(&[
            share(ShareKind::Cpu, 82.0),
            share(ShareKind::CpuWait, 12.0),
            share(ShareKind::Idle, 6.0),
        ]);
        assert_eq!(
            segs.iter().map(Segment::style).collect::<Vec<_>>(),
            ["width: 82.0%", "width: 12.0%", "width: 6.0%"]
        );
        // Thirds: the leftover tenth goes to the first on a tie.
        let thirds =
            segments(&[share(ShareKind::Cpu, 1.0), share(ShareKind::Io, 1.0), share(ShareKind::Idle, 1.0)]);
        assert_eq!(thirds.iter().map(|s| s.tenths).collect::<Vec<_>>(), [334, 333, 333]);
    }

    #[test]
    fn empty_zero_and_broken_shares_draw_nothing() {
        assert!(segments(&[]).is_empty());
        assert!(segments(&[share(ShareKind::Cpu, 0.0), share(ShareKind::Idle, f64::NAN)]).is_empty());
        let segs =
            segments(&[share(ShareKind::Cpu, -5.0), share(ShareKind::Idle, 40.0), share(ShareKind::Io, 0.0)]);
        assert_eq!(segs.len(), 1);
        assert_eq!((segs[0].kind, segs[0].tenths), (ShareKind::Idle, 1000));
    }

    #[test]
    fn the_legend_carries_the_numbers_and_the_label_says_it_all() {
        let segs = segments(&[
            share(ShareKind::Cpu, 82.4),
            share(ShareKind::CpuWait, 17.3),
            share(ShareKind::Io, 0.3),
        ]);
        assert_eq!(
            segs.iter().map(Segment::text).collect::<Vec<_>>(),
            ["On CPU 82 %", "Waiting for CPU 17 %", "IO stall < 1 %"]
        );
        assert_eq!(
            bar_label(&segs),
            "Where its time went: On CPU 82 %, Waiting for CPU 17 %, IO stall < 1 %"
        );
        assert_eq!(percent_text(0.0), "0 %");
        assert_eq!(percent_text(0.6), "1 %");
        assert_eq!(percent_text(100.2), "100 %");
        assert_eq!(kind_class(ShareKind::CpuWait), "cpu-wait");
    }

    fn record(verdict: Option<Verdict>) -> RunRecord {
        RunRecord {
            run_id: "1-x".into(),
            project: "p".into(),
            label: None,
            pid: 1,
            started_at: shared::Timestamp("2026-12-01T10:00:00Z".into()),
            ended_at: None,
            status: shared::api::RunOutcome::Exited,
            exit_code: Some(0),
            signal: None,
            duration_s: 60.0,
            cpu_seconds: 1.0,
            peak_cpu_percent: None,
            peak_rss_mb: None,
            peak_gpu_memory_gb: None,
            peak_process_count: 1,
            tokens: 0,
            verdict,
            token_source: None,
            token_detail: None,
        }
    }

    #[test]
    fn the_runs_column_says_the_bound_in_a_word_or_a_dash() {
        let judged = Verdict {
            judged: true,
            headline: "IO-stalled for 61 % of its 2 min".into(),
            bound: Some(ShareKind::Io),
            ..Verdict::default()
        };
        assert_eq!(
            bound_cell(&record(Some(judged))),
            ("IO".to_owned(), "IO-stalled for 61 % of its 2 min".to_owned())
        );
        assert_eq!(bound_cell(&record(None)), (DASH.to_owned(), "not measured".to_owned()));
        let short =
            Verdict { judged: false, headline: "Too short to judge (4 s)".into(), ..Verdict::default() };
        assert_eq!(
            bound_cell(&record(Some(short))),
            (DASH.to_owned(), "Too short to judge (4 s)".to_owned())
        );
        let words: Vec<&str> = [
            ShareKind::Cpu,
            ShareKind::CpuWait,
            ShareKind::Io,
            ShareKind::Memory,
            ShareKind::Idle,
            ShareKind::GpuBusy,
        ]
        .into_iter()
        .map(bound_word)
        .collect();
        assert_eq!(words, ["CPU", "CPU wait", "IO", "memory", "idle", "GPU"]);
        assert_eq!(live_state(LiveState::CpuBound), "CPU-bound (last 30 s)");
        assert_eq!(live_state(LiveState::Idle), "Idle (last 30 s)");
    }

    #[test]
    fn an_empty_list_of_changes_says_why() {
        assert_eq!(changes_note(None, true), None);
        assert!(changes_note(None, false).is_some_and(|n| n.contains("first")));
        assert!(changes_note(Some(&record(None)), false).is_some_and(|n| n.contains("not measured")));
        let short = Verdict { judged: false, ..Verdict::default() };
        assert!(changes_note(Some(&record(Some(short))), false).is_some_and(|n| n.contains("not judged")));
        let judged = Verdict { judged: true, ..Verdict::default() };
        assert_eq!(changes_note(Some(&record(Some(judged))), false), Some("No share moved by much."));
    }

    #[test]
    fn counters_show_figures_with_units_and_dashes_with_their_reason() {
        let mut c = RunCounters {
            wall_s: 120.0,
            cpu_user_s: Some(33.61),
            cpu_system_s: Some(1.2),
            voluntary_switches: Some(12_345),
            read_bytes: Some(4_500_000),
            gpu_throttled_s: BTreeMap::from([("sw_power_cap".to_owned(), 3.5)]),
            ..RunCounters::default()
        };
        c.not_measured.insert("cpu_wait_s".into(), "schedstat is off (kernel.sched_schedstats=0)".into());
        let mut perf = RunPerf::default();
        perf.events.insert(
            "task-clock".into(),
            RunPerfEvent {
                available: true,
                value: Some(34_810.4),
                running_percent: Some(100.0),
                reason: None,
            },
        );
        perf.events.insert(
            "cycles".into(),
            RunPerfEvent {
                available: false,
                reason: Some("no CPU PMU (ENOENT)".into()),
                ..RunPerfEvent::default()
            },
        );
        perf.events.insert(
            "instructions".into(),
            RunPerfEvent { available: true, value: Some(2.0e9), running_percent: Some(50.0), reason: None },
        );
        c.perf = Some(perf);
        let rows = counter_rows(&c);
        let row = |id: &str| rows.iter().find(|r| r.id == id).unwrap_or_else(|| panic!("no row {id}"));
        assert_eq!(row("cpu_user_s").shown(), "33.6 s");
        assert_eq!(row("cpu_system_s").shown(), "1.20 s");
        assert_eq!(row("voluntary_switches").shown(), "12,345");
        assert_eq!(row("read_bytes").shown(), "4.5 MB");
        assert_eq!(row("cpu_wait_s").shown(), DASH);
        assert_eq!(row("cpu_wait_s").reason.as_deref(), Some("schedstat is off (kernel.sched_schedstats=0)"));
        assert_eq!(
            row("major_faults").reason.as_deref(),
            Some("not measured"),
            "no reason given: still said"
        );
        assert_eq!(row("cpu_user_s").reason, None);
        assert_eq!(row("gpu_throttled_s.sw_power_cap").shown(), "3.50 s");
        assert_eq!(row("perf.task-clock").shown(), "34810.4 ms");
        assert_eq!(row("perf.cycles").shown(), DASH);
        assert_eq!(row("perf.cycles").reason.as_deref(), Some("not available: no CPU PMU (ENOENT)"));
        assert_eq!(row("perf.instructions").shown(), "2,000,000,000 (counted 50 % of the time, scaled)");

        let none = counter_rows(&RunCounters::default());
        assert!(
            none.iter()
                .filter(|r| r.id != "gpu_throttled_s")
                .all(|r| r.value.is_none() && r.reason.is_some()),
            "every figure null says why"
        );
        assert_eq!(none.iter().find(|r| r.id == "gpu_throttled_s").map(CounterRow::shown), Some("none"));
        let mut unknown = RunCounters::default();
        unknown.not_measured.insert("gpu_throttled_s".into(), "no GPU".into());
        let throttled = counter_rows(&unknown).into_iter().find(|r| r.id == "gpu_throttled_s");
        assert_eq!(throttled.and_then(|r| r.reason).as_deref(), Some("no GPU"));
        assert_eq!(none.last().map(|r| r.id.as_str()), Some("perf"));
    }
}
