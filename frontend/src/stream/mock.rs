//! The dev-build mock: deterministic smooth waves shown while no live data is
//! there, so the panel and the dashboard can be developed with
//! `PERFMON_MOCK=1 trunk serve` and no server — a live sample every tick, the
//! history of any range from the same waves, and two runs with their reports
//! (each with a verdict, its counters and, for the newer, what moved since the
//! older; the live run with a state word that changes every 20 s), and
//! alerts: each run's end, a memory alert that fired and resolved, and a disk
//! alert firing now; the settings name a few rules and a failing destination.
//! Compiled only into debug builds; release bundles contain none of it.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::f64::consts::PI;

use shared::alerts::{
    ALERT_SCHEMA, AlertEvent, AlertState, Alerts, DestinationStatus, RuleSetting, Settings, Severity,
};
use shared::api::{HistorySeries, RunBand, RunOutcome, RunRecord, RunReport, Runs};
use shared::why::{Change, LiveState, RunCounters, RunPerf, RunPerfEvent, Share, ShareKind, Verdict};
use shared::{
    Cpu, Disk, Gpu, GpuDevice, Memory, Network, PerfMetrics, Run, RunProcess, RunStatus, Timestamp, Tokens,
};

/// A string that only mock data carries, so a test can prove the release
/// bundle has no mock in it.
pub const MOCK_MARKER: &str = "perfmon-mock";

/// Whether this build was asked for the mock (`PERFMON_MOCK` set and not `0` at
/// build time).
pub fn enabled() -> bool {
    matches!(option_env!("PERFMON_MOCK"), Some(v) if !v.is_empty() && v != "0")
}

/// `lo + (hi − lo)·(sin(2πt/P + φ) + 1)/2`: a smooth wave between `lo` and `hi`.
pub fn wave(t: f64, period: f64, phase: f64, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * ((2.0 * PI * t / period + phase).sin() + 1.0) / 2.0
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// The mock run alternates: live for a minute, idle for a minute, so both badge
/// states and both cadences show in development.
pub fn is_live(t: f64) -> bool {
    (t / 60.0).floor() as i64 % 2 == 0
}

/// The live mock run's state word at `t`: a new one every 20 s, so the panel
/// shows each in turn; none while the run is idle.
pub fn live_state(t: f64) -> Option<LiveState> {
    const STATES: [LiveState; 3] = [LiveState::CpuBound, LiveState::WaitingForCpu, LiveState::IoStalled];
    is_live(t).then(|| STATES[(t / 20.0).floor().rem_euclid(3.0) as usize])
}

/// The server's cadence for the mock run's state at `t`.
fn interval_ms(t: f64) -> u64 {
    if is_live(t) { shared::LIVE_INTERVAL_MS } else { shared::IDLE_INTERVAL_MS }
}

/// Paces the mock like the server: a sample every second while the mock run is
/// live, every three seconds while it is idle.
#[derive(Debug, Default)]
pub struct MockClock {
    /// Samples made so far.
    seq: u64,
    /// When the last sample was made (seconds since mount).
    last: Option<f64>,
}

impl MockClock {
    /// The sample due at `t` seconds after mount, if one is due.
    pub fn next(&mut self, project: &str, t: f64) -> Option<PerfMetrics> {
        let period = interval_ms(t) as f64 / 1000.0;
        // A little slack: the 1 s clock does not tick exactly on the second.
        if self.last.is_some_and(|last| t - last < period - 0.1) {
            return None;
        }
        self.last = Some(t);
        self.seq += 1;
        Some(metrics(project, t, self.seq))
    }
}

/// The mock sample `t` seconds after mount.
pub fn metrics(project: &str, t: f64, seq: u64) -> PerfMetrics {
    let cpu = wave(t, 8.0, 0.4, 18.0, 82.0);
    let used = wave(t, 18.0, 1.1, 5.4, 12.6);
    let gpu_available = (t / 90.0).floor() as i64 % 2 == 0;
    let gpu = if gpu_available {
        let percent = round1(wave(t, 10.0, 0.2, 12.0, 78.0));
        let vram = round1(wave(t, 14.0, 0.9, 2.8, 7.4));
        Gpu {
            available: true,
            percent: Some(percent),
            vram_used_gb: Some(vram),
            vram_total_gb: Some(12.0),
            reason: None,
            devices: vec![GpuDevice {
                index: 0,
                name: format!("Mock GPU ({MOCK_MARKER})"),
                percent: Some(percent),
                vram_used_gb: Some(vram),
                vram_total_gb: Some(12.0),
                temperature_c: Some(round1(wave(t, 30.0, 0.0, 45.0, 70.0))),
                power_w: Some(round1(wave(t, 10.0, 0.2, 60.0, 220.0))),
                ..GpuDevice::default()
            }],
        }
    } else {
        Gpu {
            available: false,
            reason: Some(format!("mock GPU switched off ({MOCK_MARKER})")),
            ..Gpu::default()
        }
    };
    let session = (12_000.0 + 28.0 * t + wave(t, 22.0, 0.6, -300.0, 300.0)).clamp(0.0, 120_000.0);
    let per_core =
        (0..4).map(|c| round1(wave(t, 6.0 + f64::from(c) * 2.0, f64::from(c), 5.0, 95.0))).collect();
    PerfMetrics {
        timestamp: Timestamp(String::new()),
        project: project.to_owned(),
        run: Run {
            status: if is_live(t) { RunStatus::Running } else { RunStatus::Stopped },
            pid: None,
            started_at: None,
            run_id: None,
            state: live_state(t),
            ..Run::default()
        },
        tokens: Tokens {
            current_run: wave(t, 12.0, 0.0, 900.0, 3200.0).round() as u64,
            total_session: session.round() as u64,
            available: true,
            ..Tokens::default()
        },
        cpu: Cpu { percent: Some(round1(cpu)), per_core, load_average: None },
        memory: Memory {
            used_gb: Some(round1(used)),
            total_gb: Some(16.0),
            percent: Some(round1(used * 100.0 / 16.0)),
            swap_used_gb: Some(round1(wave(t, 300.0, 0.0, 0.0, 1.5))),
            swap_total_gb: Some(4.0),
        },
        gpu,
        network: Network {
            rx_bytes_per_s: Some(wave(t, 20.0, 0.3, 20_000.0, 2_400_000.0).round()),
            tx_bytes_per_s: Some(wave(t, 26.0, 1.3, 5_000.0, 600_000.0).round()),
            ..Network::default()
        },
        disk: Disk {
            read_bytes_per_s: Some(wave(t, 40.0, 2.0, 0.0, 8_000_000.0).round()),
            write_bytes_per_s: Some(wave(t, 33.0, 0.7, 0.0, 3_000_000.0).round()),
            used_gb: Some(194.3),
            total_gb: Some(512.0),
        },
        seq,
        instance: MOCK_MARKER.to_owned(),
        interval_ms: interval_ms(t),
        ..PerfMetrics::default()
    }
}

thread_local! {
    /// When the mock started (unix ms): its waves run from here, into the past
    /// for history, so the live edge continues the history without a jump.
    static EPOCH: Cell<Option<f64>> = const { Cell::new(None) };
}

/// The mock's time zero (unix ms), fixed at its first use.
pub fn epoch() -> f64 {
    EPOCH.with(|e| {
        *e.get().get_or_insert_with(|| {
            let now = js_sys::Date::now();
            e.set(Some(now));
            now
        })
    })
}

/// Seconds of the mock's waves at `ms` (unix ms).
fn wave_time(ms: f64) -> f64 {
    (ms - epoch()) / 1000.0
}

/// The mock's two runs, newest first: `(id offset, label, start and end in
/// seconds before the epoch, exit code)`.
const RUNS: [(&str, &str, f64, f64, i32); 2] = [
    ("4242", "mock tests", 12.0 * 60.0, 4.0 * 60.0, 3),
    ("4141", "mock build", 3.0 * 3600.0, 2.0 * 3600.0 + 35.0 * 60.0, 0),
];

fn mock_run(i: usize, project: &str) -> RunRecord {
    let (pid, label, start, end, code) = RUNS[i];
    let (start_ms, end_ms) = (epoch() - start * 1000.0, epoch() - end * 1000.0);
    let iso = |ms: f64| Timestamp(String::from(js_sys::Date::new(&ms.into()).to_iso_string()));
    RunRecord {
        run_id: format!("{pid}-{MOCK_MARKER}-{i}"),
        project: project.to_owned(),
        label: Some(format!("{label} ({MOCK_MARKER})")),
        pid: pid.parse().unwrap_or(1),
        started_at: iso(start_ms),
        ended_at: Some(iso(end_ms)),
        status: RunOutcome::Exited,
        exit_code: Some(code),
        signal: None,
        duration_s: start - end,
        cpu_seconds: (start - end) * CORES_BUSY[i],
        peak_cpu_percent: Some(if code == 0 { 96.5 } else { 71.0 }),
        peak_rss_mb: Some(if code == 0 { 5120.4 } else { 2210.0 }),
        peak_gpu_memory_gb: None,
        peak_process_count: if code == 0 { 14 } else { 6 },
        tokens: if code == 0 { 48_200 } else { 12_900 },
        verdict: Some(verdict(i, start - end)),
        token_source: Some(shared::TokenSource::ClaudeCode),
        token_detail: None,
    }
}

/// Mean cores each mock run kept busy (its CPU seconds over its wall time).
const CORES_BUSY: [f64; 2] = [0.9, 3.1];

/// Each mock run's shares of wall time, adding up to 100: the failed tests
/// waited on storage, the build kept the CPUs busy.
const SHARES: [[(ShareKind, f64); 5]; 2] = [
    [
        (ShareKind::Io, 47.0),
        (ShareKind::Cpu, 22.0),
        (ShareKind::Idle, 25.0),
        (ShareKind::CpuWait, 4.0),
        (ShareKind::Memory, 2.0),
    ],
    [
        (ShareKind::Cpu, 78.0),
        (ShareKind::CpuWait, 9.0),
        (ShareKind::Idle, 7.0),
        (ShareKind::Io, 5.0),
        (ShareKind::Memory, 1.0),
    ],
];

/// The verdict on mock run `i`, `wall_s` long.
fn verdict(i: usize, wall_s: f64) -> Verdict {
    let minutes = (wall_s / 60.0).round();
    let cores = 4;
    let shares: Vec<Share> = SHARES[i]
        .iter()
        .map(|&(kind, percent)| {
            let s = wall_s * percent / 100.0;
            let evidence = match kind {
                ShareKind::Cpu => format!(
                    "CPU {:.1} s user + {:.1} s system over {minutes:.0} min: {:.1} of {cores} cores busy",
                    wall_s * CORES_BUSY[i] * 0.9,
                    wall_s * CORES_BUSY[i] * 0.1,
                    CORES_BUSY[i]
                ),
                ShareKind::CpuWait => format!("{s:.1} s runnable, waiting for a CPU (schedstat)"),
                ShareKind::Io => format!("{s:.1} s stalled on IO (PSI io some {s:.1} s); 1.9 GB written"),
                ShareKind::Memory => format!("{s:.1} s stalled on memory; 41 major faults, no swap"),
                _ => format!("{s:.1} s neither on a CPU nor stalled: waiting outside the machine"),
            };
            Share { kind, percent, evidence }
        })
        .collect();
    let (bound, top) = SHARES[i][0];
    let headline = match bound {
        ShareKind::Io => format!(
            "IO-stalled for {top:.0} % of its {minutes:.0} min; {:.0} % idle, waiting outside",
            SHARES[i][2].1
        ),
        _ => format!(
            "CPU-bound on {:.1} of {cores} cores for {top:.0} % of its {minutes:.0} min; {:.0} % waiting for a CPU",
            CORES_BUSY[i], SHARES[i][1].1
        ),
    };
    let gpu_shares = if i == 1 {
        vec![
            Share {
                kind: ShareKind::GpuBusy,
                percent: 12.0,
                evidence: format!("{:.0} s busy on Mock GPU", wall_s * 0.12),
            },
            Share {
                kind: ShareKind::GpuStarved,
                percent: 3.0,
                evidence: format!("{:.0} s idle while the CPU was saturated", wall_s * 0.03),
            },
        ]
    } else {
        Vec::new()
    };
    Verdict {
        judged: true,
        headline,
        bound: Some(bound),
        cores_busy: Some(CORES_BUSY[i]),
        cores: Some(cores),
        shares,
        gpu_shares,
    }
}

/// What moved from `before` to `after` by 5 points or more, biggest first.
fn changes(before: &Verdict, after: &Verdict) -> Vec<Change> {
    let percent = |v: &Verdict, kind| v.shares.iter().find(|s| s.kind == kind).map_or(0.0, |s| s.percent);
    let mut changes: Vec<Change> = after
        .shares
        .iter()
        .map(|s| (s.kind, percent(before, s.kind), s.percent))
        .filter(|(_, b, a)| (a - b).abs() >= 5.0)
        .map(|(kind, before, after)| Change {
            kind,
            before,
            after,
            text: format!("{} {before:.0} % → {after:.0} %", kind.label()),
        })
        .collect();
    changes.sort_by(|x, y| (y.after - y.before).abs().total_cmp(&(x.after - x.before).abs()));
    changes
}

/// The counters behind mock run `i`'s verdict: a VM without a CPU PMU, so
/// the hardware events are not available and say why.
fn counters(i: usize, wall_s: f64) -> RunCounters {
    let cpu_s = wall_s * CORES_BUSY[i];
    let share = |kind| SHARES[i].iter().find(|(k, _)| *k == kind).map_or(0.0, |(_, p)| wall_s * p / 100.0);
    let pmu = "no hardware performance counters on this machine (a VM without a CPU PMU)";
    let unavailable = || RunPerfEvent {
        available: false,
        reason: Some(pmu.to_owned()),
        value: None,
        running_percent: None,
    };
    let counted = |value: f64| RunPerfEvent {
        available: true,
        reason: None,
        value: Some(value.round()),
        running_percent: Some(100.0),
    };
    let mut events = BTreeMap::from([
        ("task-clock".to_owned(), counted(cpu_s * 1000.0)),
        ("context-switches".to_owned(), counted(wall_s * 210.0)),
        ("cpu-migrations".to_owned(), counted(wall_s * 3.0)),
        ("page-faults".to_owned(), counted(wall_s * 950.0)),
    ]);
    for name in ["cycles", "instructions", "cache-misses", "branch-misses"] {
        events.insert(name.to_owned(), unavailable());
    }
    let gpu = i == 1;
    let mut not_measured = BTreeMap::from([(
        "gpu_process_percent".to_owned(),
        format!("NVML does not report per-process utilisation on this GPU ({MOCK_MARKER})"),
    )]);
    if !gpu {
        for field in ["gpu_peak_memory_bytes", "gpu_busy_s", "gpu_idle_cpu_saturated_s", "gpu_energy_j"] {
            not_measured.insert(field.to_owned(), format!("mock GPU switched off ({MOCK_MARKER})"));
        }
    }
    RunCounters {
        wall_s,
        cpu_user_s: Some(round1(cpu_s * 0.9)),
        cpu_system_s: Some(round1(cpu_s * 0.1)),
        cpu_wait_s: Some(round1(share(ShareKind::CpuWait))),
        voluntary_switches: Some((wall_s * 180.0) as u64),
        involuntary_switches: Some((wall_s * 30.0) as u64),
        peak_threads: Some(if gpu { 48 } else { 11 }),
        read_bytes: Some(if gpu { 820_000_000 } else { 95_000_000 }),
        write_bytes: Some(if gpu { 310_000_000 } else { 1_900_000_000 }),
        minor_faults: Some((wall_s * 950.0) as u64),
        major_faults: Some(41),
        peak_rss_bytes: Some(if gpu { 5_369_200_000 } else { 2_317_400_000 }),
        io_some_s: Some(round1(share(ShareKind::Io))),
        io_full_s: Some(round1(share(ShareKind::Io) * 0.6)),
        memory_some_s: Some(round1(share(ShareKind::Memory))),
        memory_full_s: Some(0.0),
        cpu_some_s: Some(round1(share(ShareKind::CpuWait) * 1.2)),
        swap_in_pages: Some(0),
        swap_out_pages: Some(0),
        machine_cpu_saturated_s: Some(round1(share(ShareKind::Cpu) * 0.4)),
        machine_steal_s: Some(0.4),
        gpu_peak_memory_bytes: gpu.then_some(3_100_000_000),
        gpu_process_percent: None,
        gpu_busy_s: gpu.then(|| round1(wall_s * 0.12)),
        gpu_idle_cpu_saturated_s: gpu.then(|| round1(wall_s * 0.03)),
        gpu_energy_j: gpu.then(|| (wall_s * 95.0).round()),
        gpu_throttled_s: if gpu {
            BTreeMap::from([("sw_power_cap".to_owned(), 12.5)])
        } else {
            BTreeMap::new()
        },
        perf: Some(RunPerf { events, ipc: None, ..RunPerf::default() }),
        not_measured,
        ..RunCounters::default()
    }
}

fn bands(from: f64, to: f64, project: &str) -> Vec<RunBand> {
    (0..RUNS.len())
        .map(|i| mock_run(i, project))
        .filter_map(|r| {
            let start = crate::view::time::epoch_millis(r.started_at.as_str())?;
            let end = crate::view::time::epoch_millis(r.ended_at.as_ref()?.as_str())?;
            (end >= from && start <= to).then(|| RunBand {
                run_id: r.run_id.clone(),
                label: r.label.clone(),
                start_ms: start as i64,
                end_ms: Some(end as i64),
                status: r.status,
                exit_code: r.exit_code, // issue 28: bands mark failed runs
            })
        })
        .collect()
}

/// The mock's history of `[from, to]` (unix ms) at about 1,000 points, with the
/// runs in it as bands and their trees' series.
pub fn history(from: f64, to: f64) -> HistorySeries {
    let project = "mock";
    let step_s = (((to - from) / 1000.0 / 1000.0).ceil() as u64).max(1);
    let runs = bands(from, to, project);
    let mut series: BTreeMap<String, Vec<Option<f64>>> = BTreeMap::new();
    let mut timestamps = Vec::new();
    let mut ms = (from / 1000.0).floor() * 1000.0;
    while ms <= to {
        let t = wave_time(ms);
        let mut m = metrics(project, t, 0);
        if let Some(band) =
            runs.iter().find(|b| (b.start_ms as f64) <= ms && b.end_ms.is_some_and(|e| ms <= e as f64))
        {
            m.run = Run {
                status: RunStatus::Running,
                run_id: Some(band.run_id.clone()),
                process: Some(RunProcess {
                    cpu_percent: Some(round1(wave(t, 45.0, 0.0, 20.0, 90.0))),
                    rss_mb: Some(round1(wave(t, 120.0, 0.5, 600.0, 2000.0))),
                    gpu_memory_gb: None,
                    process_count: 6,
                    gpu_memory_reason: None,
                }),
                ..Run::default()
            };
        }
        let n = timestamps.len();
        for (name, value) in shared::series::sample_values(&m) {
            series.entry(name).or_insert_with(|| vec![None; n]).push(value);
        }
        // A series this sample lacks (the GPU while it is switched off) has
        // nothing at this point.
        series.values_mut().filter(|values| values.len() == n).for_each(|values| values.push(None));
        timestamps.push(ms as i64);
        ms += step_s as f64 * 1000.0;
    }
    HistorySeries {
        step_s,
        tier: "mock".into(),
        timestamps,
        series,
        gpu_names: [("0".to_owned(), format!("Mock GPU ({MOCK_MARKER})"))].into(),
        runs,
        ..HistorySeries::default()
    }
}

/// The mock's runs of `project`, newest first.
pub fn runs(project: &str, limit: usize, before: Option<&str>) -> Runs {
    let runs = (0..RUNS.len())
        .map(|i| mock_run(i, project))
        .filter(|r| before.is_none_or(|b| r.started_at.as_str() < b))
        .take(limit)
        .collect();
    Runs { runs, next_before: None }
}

/// The report of one of the mock's runs.
pub fn report(project: &str, run_id: &str) -> Option<RunReport> {
    let i = (0..RUNS.len()).find(|i| mock_run(*i, project).run_id == run_id)?;
    let run = mock_run(i, project);
    let start = crate::view::time::epoch_millis(run.started_at.as_str())?;
    let end = crate::view::time::epoch_millis(run.ended_at.as_ref()?.as_str())?;
    let previous = (i + 1 < RUNS.len()).then(|| mock_run(i + 1, project));
    let changes = match (&run.verdict, previous.as_ref().and_then(|p| p.verdict.as_ref())) {
        (Some(after), Some(before)) => changes(before, after),
        _ => Vec::new(),
    };
    let counters = Some(counters(i, run.duration_s));
    Some(RunReport { history: history(start, end), run, previous, counters, changes })
}

/// The mock's alerts of `project` (only `run_id`'s, when given), newest first
/// in `recent`: each run's end, `memory_low` that fired 40 minutes before the
/// epoch and resolved 25 minutes later, and `filesystem_full` firing since 90
/// seconds before it.
pub fn alerts(project: &str, run_id: Option<&str>) -> Alerts {
    let iso = |ms: f64| Timestamp(String::from(js_sys::Date::new(&ms.into()).to_iso_string()));
    let at = |seconds_before: f64| iso(epoch() - seconds_before * 1000.0);
    let alert = |id: i64, state, rule: &str, severity, title: String, fired: f64| AlertEvent {
        perfmon_alert: ALERT_SCHEMA,
        id,
        state,
        rule: rule.to_owned(),
        severity,
        message: format!("{title} ({MOCK_MARKER})."),
        title,
        project: None,
        run_id: None,
        series: None,
        value: None,
        threshold: None,
        fired_at: at(fired),
        resolved_at: None,
        silenced: false,
    };
    let firing =
        alert(4, AlertState::Firing, "filesystem_full", Severity::Critical, "/ is 96 % full".into(), 90.0);
    let mut recent = vec![firing.clone()];
    recent.extend((0..RUNS.len()).map(|i| {
        let run = mock_run(i, project);
        let (_, label, _, end, code) = RUNS[i];
        let (rule, severity, how) = if code == 0 {
            ("run_finished", Severity::Info, "finished".to_owned())
        } else {
            ("run_failed", Severity::Warning, format!("failed: exit {code}"))
        };
        AlertEvent {
            project: Some(project.to_owned()),
            run_id: Some(run.run_id),
            ..alert(3 - i as i64 * 2, AlertState::Event, rule, severity, format!("Run “{label}” {how}"), end)
        }
    }));
    let resolved = AlertEvent {
        resolved_at: Some(at(15.0 * 60.0)),
        ..alert(
            2,
            AlertState::Resolved,
            "memory_low",
            Severity::Warning,
            "Memory low: 4.2 % available".into(),
            40.0 * 60.0,
        )
    };
    recent.insert(2, resolved);
    if let Some(run_id) = run_id {
        recent.retain(|e| e.run_id.as_deref() == Some(run_id));
        return Alerts { recent, ..Alerts::default() };
    }
    Alerts { active: vec![firing], recent, ..Alerts::default() }
}

/// The mock's settings: three of the default rules, one of the user's, and a
/// destination whose deliveries fail.
pub fn settings() -> Settings {
    let rule = |name: &str, condition: &str, severity, source: &str| RuleSetting {
        name: name.to_owned(),
        condition: condition.to_owned(),
        severity,
        source: source.to_owned(),
        enabled: true,
        project: None,
        repeat_s: None,
    };
    Settings {
        config_file: Some(format!("/home/{MOCK_MARKER}/.config/perfmon/config.toml")),
        how_to_change: String::new(),
        live_interval_ms: shared::LIVE_INTERVAL_MS,
        idle_interval_ms: shared::IDLE_INTERVAL_MS,
        history_window_s: 600,
        data_dir: None,
        retention_s: Vec::new(),
        rules: vec![
            rule("run_finished", "a run ends with exit 0", Severity::Info, "default"),
            rule("run_failed", "a run ends with a non-zero exit or a signal", Severity::Warning, "default"),
            rule("memory_low", "memory available below 5 % for 1 min", Severity::Critical, "default"),
            RuleSetting {
                repeat_s: Some(1800),
                ..rule("hot-gpu", "gpu.0.temperature_c above 85 for 2 min", Severity::Warning, "config")
            },
        ],
        destinations: vec![DestinationStatus {
            name: "phone".to_owned(),
            kind: "ntfy".to_owned(),
            target: "https://ntfy.sh/…".to_owned(),
            delivered: 12,
            failed: 1,
            queued: 0,
            last_error: Some(format!("HTTP 500 after 5 attempts ({MOCK_MARKER})")),
            last_error_at: None,
        }],
        silenced_until: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 0.05 + 1e-9
    }

    #[test]
    fn values_at_fixed_times_follow_the_formula() {
        for t in [0.0, 1.0, 2.5, 7.0, 33.0] {
            let m = metrics("demo", t, 1);
            assert!(close(
                m.cpu.percent.expect("cpu"),
                18.0 + 64.0 * ((2.0 * PI * t / 8.0 + 0.4).sin() + 1.0) / 2.0
            ));
            assert!(close(
                m.memory.used_gb.expect("mem"),
                5.4 + 7.2 * ((2.0 * PI * t / 18.0 + 1.1).sin() + 1.0) / 2.0
            ));
            assert!(close(
                m.gpu.percent.expect("gpu"),
                12.0 + 66.0 * ((2.0 * PI * t / 10.0 + 0.2).sin() + 1.0) / 2.0
            ));
            assert!(close(
                m.gpu.vram_used_gb.expect("vram"),
                2.8 + 4.6 * ((2.0 * PI * t / 14.0 + 0.9).sin() + 1.0) / 2.0
            ));
            let run = 900.0 + 2300.0 * ((2.0 * PI * t / 12.0).sin() + 1.0) / 2.0;
            assert_eq!(m.tokens.current_run, run.round() as u64);
            let session =
                12_000.0 + 28.0 * t - 300.0 + 600.0 * ((2.0 * PI * t / 22.0 + 0.6).sin() + 1.0) / 2.0;
            assert_eq!(m.tokens.total_session, session.round() as u64);
            assert_eq!(m.memory.total_gb, Some(16.0));
            assert_eq!(m.gpu.vram_total_gb, Some(12.0));
        }
    }

    #[test]
    fn the_mock_is_deterministic_and_smooth() {
        assert_eq!(metrics("demo", 4.2, 3), metrics("demo", 4.2, 3));
        let (a, b) = (metrics("demo", 10.0, 1), metrics("demo", 10.1, 2));
        assert!((a.cpu.percent.unwrap_or(0.0) - b.cpu.percent.unwrap_or(0.0)).abs() < 6.0, "no jumps");
    }

    #[test]
    fn the_gpu_flips_every_ninety_seconds() {
        assert!(metrics("demo", 10.0, 1).gpu.available);
        assert!(!metrics("demo", 100.0, 1).gpu.available);
        assert!(metrics("demo", 185.0, 1).gpu.available);
        assert!(metrics("demo", 100.0, 1).gpu.reason.is_some());
    }

    #[test]
    fn the_mock_ticks_every_second_while_live_and_every_three_while_idle() {
        let mut clock = MockClock::default();
        let live: Vec<f64> = (0..10).map(f64::from).filter(|t| clock.next("demo", *t).is_some()).collect();
        assert_eq!(live.len(), 10);
        let mut clock = MockClock::default();
        let idle = (60..72).map(f64::from).filter(|t| clock.next("demo", *t).is_some()).count();
        assert_eq!(idle, 4, "60, 63, 66, 69");
        assert_eq!(metrics("demo", 61.0, 1).run.status, RunStatus::Stopped);
        assert_eq!(metrics("demo", 61.0, 1).interval_ms, 3000);
    }

    #[test]
    fn the_live_run_names_its_state_and_the_idle_one_none() {
        assert_eq!(metrics("demo", 5.0, 1).run.state, Some(LiveState::CpuBound));
        assert_eq!(metrics("demo", 25.0, 1).run.state, Some(LiveState::WaitingForCpu));
        assert_eq!(metrics("demo", 45.0, 1).run.state, Some(LiveState::IoStalled));
        assert_eq!(metrics("demo", 61.0, 1).run.state, None, "an idle run has no state");
    }

    #[test]
    fn mock_verdicts_add_up_and_the_newer_run_says_what_moved() {
        for (i, cores_busy) in CORES_BUSY.into_iter().enumerate() {
            let v = verdict(i, 600.0);
            assert!((v.shares.iter().map(|s| s.percent).sum::<f64>() - 100.0).abs() < 1e-9);
            assert_eq!(
                v.bound,
                v.shares.iter().max_by(|a, b| a.percent.total_cmp(&b.percent)).map(|s| s.kind)
            );
            assert_eq!(
                counters(i, 600.0).cpu_s().map(|s| (s / 600.0 * 10.0).round() / 10.0),
                Some(cores_busy)
            );
        }
        let moved = changes(&verdict(1, 600.0), &verdict(0, 600.0));
        let texts: Vec<&str> = moved.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "On CPU 78 % → 22 %",
                "IO stall 5 % → 47 %",
                "Idle (waiting outside) 7 % → 25 %",
                "Waiting for CPU 9 % → 4 %"
            ]
        );
    }

    #[test]
    fn the_session_total_is_clamped() {
        assert_eq!(metrics("demo", 10_000.0, 1).tokens.total_session, 120_000);
    }
}
