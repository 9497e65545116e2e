//! Why a run was slow: the run's own counters, summed over its whole process
//! tree, and the verdict on where its wall time went.
//!
//! The counters are integrals over the run, never instants: CPU seconds from
//! the kernel's accounting, run-queue delay from `schedstat`, bytes from
//! `/proc/PID/io`, the machine's pressure stall seconds from the PSI `total`
//! counters, the GPUs' energy and throttled seconds. A figure that could not be
//! read is `null`, and [`RunCounters::not_measured`] says why under the field's
//! name.
//!
//! # Layout
//! - [`RunCounters`]: what the run's tree did, and the machine beside it.
//! - [`RunPerf`] and [`RunPerfEvent`]: `perf stat`-style counters of the run.
//! - [`Verdict`], [`Share`], [`ShareKind`]: where its time went, with the
//!   evidence, and [`Change`]: what moved since the project's previous run.
//! - [`LiveState`]: the panel's one word for the last 30 s of a live run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Runs shorter than this are not judged: too few readings to tell.
pub const MIN_JUDGED_S: f64 = 10.0;

/// The window a live run's state word covers.
pub const LIVE_WINDOW_S: f64 = 30.0;

/// From when the run's counters count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CountedFrom {
    /// From the command's first instruction (`perfmon run -- CMD`).
    #[default]
    Start,
    /// From the moment the run was registered (`perfmon register PID`): what
    /// the process did before is not in the counters.
    Registration,
}

/// What a run's whole process tree did, and what the machine did while it was
/// live. Counts are totals over the run; `_s` fields are seconds.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RunCounters {
    /// From when the counters count.
    pub counted_from: CountedFrom,
    /// Wall time the counters cover, seconds.
    pub wall_s: f64,

    // --- the run's tree ---
    /// CPU time in user mode, seconds.
    pub cpu_user_s: Option<f64>,
    /// CPU time in kernel mode, seconds.
    pub cpu_system_s: Option<f64>,
    /// Time the tree's threads were runnable but waiting for a CPU (run-queue
    /// delay, `/proc/PID/task/TID/schedstat`), seconds.
    pub cpu_wait_s: Option<f64>,
    /// Voluntary context switches (the thread blocked: IO, a lock, a sleep).
    pub voluntary_switches: Option<u64>,
    /// Involuntary context switches (the scheduler took the CPU away).
    pub involuntary_switches: Option<u64>,
    /// Most threads in the tree at once.
    pub peak_threads: Option<u32>,
    /// Bytes the tree caused to be read from storage (`read_bytes`).
    pub read_bytes: Option<u64>,
    /// Bytes the tree caused to be written to storage (`write_bytes`).
    pub write_bytes: Option<u64>,
    /// Minor page faults (no IO).
    pub minor_faults: Option<u64>,
    /// Major page faults (a page read from storage or swap).
    pub major_faults: Option<u64>,
    /// Highest resident memory of the tree, bytes.
    pub peak_rss_bytes: Option<u64>,

    // --- the machine while the run was live ---
    /// Seconds some task on the machine was stalled on IO (PSI `io some`).
    pub io_some_s: Option<f64>,
    /// Seconds every non-idle task was stalled on IO (PSI `io full`).
    pub io_full_s: Option<f64>,
    /// Seconds some task was stalled on memory (PSI `memory some`).
    pub memory_some_s: Option<f64>,
    /// Seconds every non-idle task was stalled on memory (PSI `memory full`).
    pub memory_full_s: Option<f64>,
    /// Seconds some task waited for a CPU (PSI `cpu some`).
    pub cpu_some_s: Option<f64>,
    /// Pages swapped in (`pswpin`) on the machine.
    pub swap_in_pages: Option<u64>,
    /// Pages swapped out (`pswpout`) on the machine.
    pub swap_out_pages: Option<u64>,
    /// Seconds the machine's CPU was saturated (≥ 90 % busy).
    pub machine_cpu_saturated_s: Option<f64>,
    /// The machine's steal share integrated over the run's wall time: the
    /// hypervisor's steal % of all cores × each interval, summed (10 s over a
    /// 100 s run is 10 % steal on average, Netdata's alarm level).
    pub machine_steal_s: Option<f64>,

    // --- GPUs the run used (or every GPU, when the run's use cannot be told) ---
    /// Most GPU memory the tree held, bytes.
    pub gpu_peak_memory_bytes: Option<u64>,
    /// The tree's own GPU utilisation where NVML reports it per process, mean
    /// %, else `null` (`not_measured.gpu_process_percent` says why: often
    /// NVML's per-process figures are not supported).
    pub gpu_process_percent: Option<f64>,
    /// Seconds the GPUs were busy (device utilisation integrated: 50 % for
    /// 10 s is 5 s), the busiest device's.
    pub gpu_busy_s: Option<f64>,
    /// Seconds the GPUs were idle (< 10 % busy) while the machine's CPU was
    /// saturated: an input-bound loop.
    pub gpu_idle_cpu_saturated_s: Option<f64>,
    /// Energy the devices used over the run, joules.
    pub gpu_energy_j: Option<f64>,
    /// Seconds any device the run used was throttled, by reason (NVML's
    /// clock-event reason names: `sw_power_cap`, `hw_slowdown`,
    /// `sw_thermal_slowdown`, …). Empty when none was.
    pub gpu_throttled_s: BTreeMap<String, f64>,

    /// `perf stat`-style counters of the run, where they could be opened.
    pub perf: Option<RunPerf>,

    /// Why a `null` figure is `null`, by its field name.
    pub not_measured: BTreeMap<String, String>,
}

impl RunCounters {
    /// The run's CPU seconds: user plus system, or the `perf` task-clock where
    /// it counted more. Both count only the run's own processes, so each is a
    /// floor of the truth, and the higher is the nearer: the kernel's totals
    /// lose a process nobody waited for (reaped by the kernel for a parent
    /// that ignores `SIGCHLD`, or orphaned to init before a reading), whose
    /// time the inherited task-clock still folds in when it exits. `None`
    /// when neither was read.
    pub fn cpu_s(&self) -> Option<f64> {
        let accounted = self.cpu_user_s.zip(self.cpu_system_s).map(|(user, system)| user + system);
        match (accounted, self.task_clock_s()) {
            (Some(accounted), Some(clock)) => Some(accounted.max(clock)),
            (accounted, clock) => accounted.or(clock),
        }
    }

    /// The `perf` task-clock in seconds, when it was counted.
    pub fn task_clock_s(&self) -> Option<f64> {
        let event = self.perf.as_ref()?.events.get("task-clock")?;
        // At most 1e11 s, the bound an exit report's seconds are held to.
        let ms = event.value.filter(|ms| event.available && (0.0..=1e14).contains(ms))?;
        Some(ms / 1000.0)
    }
}

/// Counters opened on the run's processes with `perf_event_open` and inherited
/// by every child (as `perf stat -- CMD` does).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RunPerf {
    /// From the command's first instruction (`perfmon run`: enabled on exec)
    /// or from registration (`perfmon register PID`).
    pub counted_from: CountedFrom,
    /// Each event by its `perf stat` name (see [`crate::depth::perf::EVENT_NAMES`]
    /// and `task-clock`).
    pub events: BTreeMap<String, RunPerfEvent>,
    /// Instructions per cycle, when both were counted.
    pub ipc: Option<f64>,
}

/// One counter over the whole run.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RunPerfEvent {
    /// Whether it could be counted.
    pub available: bool,
    /// Why not, in plain words (no PMU in a VM: ENOENT; `kernel.perf_event_paranoid`).
    pub reason: Option<String>,
    /// The count, scaled by `running_percent` when the kernel multiplexed it
    /// (`task-clock` in ms, as `perf stat` shows it).
    pub value: Option<f64>,
    /// Share of the enabled time the counter ran, 0–100 (100: not multiplexed).
    pub running_percent: Option<f64>,
}

/// Where the wall time went: a bar of shares (on CPU, waiting for a CPU,
/// stalled on IO, stalled on memory, idle) that add up to 100, the GPU's
/// shares beside it, and one headline sentence.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Verdict {
    /// False for a run too short to judge (< [`MIN_JUDGED_S`]) or without the
    /// counters the rules need; the headline then says so and `shares` is empty.
    pub judged: bool,
    /// One sentence: "CPU-bound on 1 of 2 cores for 82 % of its 41 min; 12 %
    /// waiting for a CPU behind another process".
    pub headline: String,
    /// The dominant share, when judged.
    pub bound: Option<ShareKind>,
    /// Mean cores the tree kept busy (CPU seconds / wall seconds).
    pub cores_busy: Option<f64>,
    /// Logical cores of the machine.
    pub cores: Option<u32>,
    /// The time bar: each share of wall time with its evidence, adding up to
    /// 100 (on CPU, waiting for CPU, IO, memory, idle).
    pub shares: Vec<Share>,
    /// The GPUs' shares of wall time (busy, idle while the CPU was saturated,
    /// throttled); they overlap the bar, so they stand beside it. Empty
    /// without GPUs.
    pub gpu_shares: Vec<Share>,
}

/// One share of the run's wall time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Share {
    /// What the time was spent on.
    pub kind: ShareKind,
    /// Share of the wall time, 0–100.
    pub percent: f64,
    /// The figures it came from, in words: "CPU 33.6 s user + 1.2 s system
    /// over 41 min".
    pub evidence: String,
}

/// What a share of time was spent on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShareKind {
    /// Running on a CPU.
    Cpu,
    /// Runnable, waiting for a CPU (run-queue delay).
    CpuWait,
    /// Stalled on IO.
    Io,
    /// Stalled on memory (faults, swap, reclaim).
    Memory,
    /// Idle on the machine: waiting on something outside it (an API, the
    /// network, a lock, a sleep).
    Idle,
    /// A GPU busy.
    GpuBusy,
    /// The GPUs idle while the CPU was saturated (input-bound).
    GpuStarved,
    /// A GPU throttled.
    GpuThrottled,
}

impl ShareKind {
    /// Every kind, in the bar's order.
    pub const ALL: [ShareKind; 8] = [
        ShareKind::Cpu,
        ShareKind::CpuWait,
        ShareKind::Io,
        ShareKind::Memory,
        ShareKind::Idle,
        ShareKind::GpuBusy,
        ShareKind::GpuStarved,
        ShareKind::GpuThrottled,
    ];

    /// Its name on the wire (`cpu_wait`), as JSON has it: a label value in
    /// Prometheus's series.
    pub fn key(self) -> &'static str {
        match self {
            ShareKind::Cpu => "cpu",
            ShareKind::CpuWait => "cpu_wait",
            ShareKind::Io => "io",
            ShareKind::Memory => "memory",
            ShareKind::Idle => "idle",
            ShareKind::GpuBusy => "gpu_busy",
            ShareKind::GpuStarved => "gpu_starved",
            ShareKind::GpuThrottled => "gpu_throttled",
        }
    }

    /// Its name in the bar and in comparisons ("IO stall").
    pub fn label(self) -> &'static str {
        match self {
            ShareKind::Cpu => "On CPU",
            ShareKind::CpuWait => "Waiting for CPU",
            ShareKind::Io => "IO stall",
            ShareKind::Memory => "Memory stall",
            ShareKind::Idle => "Idle (waiting outside)",
            ShareKind::GpuBusy => "GPU busy",
            ShareKind::GpuStarved => "GPU idle, CPU saturated",
            ShareKind::GpuThrottled => "GPU throttled",
        }
    }
}

/// What moved from the project's previous run: "IO stall 4 % → 37 %".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// The share that moved.
    pub kind: ShareKind,
    /// Its percent in the previous run.
    pub before: f64,
    /// Its percent in this run.
    pub after: f64,
    /// In words: "IO stall 4 % → 37 %".
    pub text: String,
}

/// A live run's state over the last [`LIVE_WINDOW_S`], in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LiveState {
    /// Mostly running on CPUs.
    CpuBound,
    /// Mostly runnable but waiting for a CPU.
    WaitingForCpu,
    /// Mostly stalled on IO.
    IoStalled,
    /// Mostly stalled on memory.
    MemoryStalled,
    /// A GPU mostly busy.
    GpuBound,
    /// Mostly idle on the machine: waiting on something outside it.
    Idle,
}

impl LiveState {
    /// The word the panel shows.
    pub fn word(self) -> &'static str {
        match self {
            LiveState::CpuBound => "CPU-bound",
            LiveState::WaitingForCpu => "Waiting for CPU",
            LiveState::IoStalled => "IO-stalled",
            LiveState::MemoryStalled => "Memory-stalled",
            LiveState::GpuBound => "GPU-bound",
            LiveState::Idle => "Idle",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_time_is_the_higher_of_the_kernels_totals_and_the_task_clock() {
        let clock = |ms: Option<f64>, available: bool| RunPerf {
            events: [(
                "task-clock".to_owned(),
                RunPerfEvent { available, value: ms, ..RunPerfEvent::default() },
            )]
            .into(),
            ..RunPerf::default()
        };
        let totals =
            RunCounters { cpu_user_s: Some(0.08), cpu_system_s: Some(0.06), ..RunCounters::default() };
        assert_eq!(totals.cpu_s(), Some(0.14));
        // Children reaped by the kernel: only the task-clock has their 8.5 s.
        let lost = RunCounters { perf: Some(clock(Some(8_500.0), true)), ..totals.clone() };
        assert_eq!((lost.cpu_s(), lost.task_clock_s()), (Some(8.5), Some(8.5)));
        // Counted from the exec, it lacks the hold's few ms: the totals win.
        let held = RunCounters { perf: Some(clock(Some(100.0), true)), ..totals.clone() };
        assert_eq!(held.cpu_s(), Some(0.14));
        // A clock that could not be opened, or reads no number, is no floor.
        for perf in [
            clock(None, false),
            clock(Some(9e9), false),
            clock(Some(f64::NAN), true),
            clock(Some(1e300), true),
        ] {
            let counters = RunCounters { perf: Some(perf), ..totals.clone() };
            assert_eq!((counters.cpu_s(), counters.task_clock_s()), (Some(0.14), None));
        }
        // Without the kernel's totals, the clock alone; without either, none.
        let only_clock = RunCounters { perf: Some(clock(Some(2_000.0), true)), ..RunCounters::default() };
        assert_eq!(only_clock.cpu_s(), Some(2.0));
        let user_only = RunCounters { cpu_user_s: Some(1.0), ..RunCounters::default() };
        assert_eq!(user_only.cpu_s(), None);
    }

    #[test]
    fn each_share_kind_key_is_its_json_name() {
        for kind in ShareKind::ALL {
            assert_eq!(serde_json::to_value(kind).expect("in the test"), kind.key());
        }
    }

    #[test]
    fn counters_and_verdicts_round_trip_and_name_their_kinds_in_snake_case() {
        let mut counters = RunCounters {
            wall_s: 41.0,
            cpu_user_s: Some(30.0),
            cpu_system_s: Some(2.0),
            ..RunCounters::default()
        };
        counters.not_measured.insert("cpu_wait_s".into(), "no schedstat".into());
        counters.gpu_throttled_s.insert("sw_power_cap".into(), 3.5);
        let json = serde_json::to_value(&counters).expect("in the test");
        assert_eq!(json["counted_from"], "start");
        assert_eq!(json["cpu_wait_s"], serde_json::Value::Null);
        assert_eq!(serde_json::from_value::<RunCounters>(json).expect("in the test"), counters);
        assert_eq!(counters.cpu_s(), Some(32.0));

        let verdict = Verdict {
            judged: true,
            headline: "CPU-bound".into(),
            bound: Some(ShareKind::CpuWait),
            shares: vec![Share { kind: ShareKind::GpuStarved, percent: 12.0, evidence: "x".into() }],
            ..Verdict::default()
        };
        let json = serde_json::to_value(&verdict).expect("in the test");
        assert_eq!(json["bound"], "cpu_wait");
        assert_eq!(json["shares"][0]["kind"], "gpu_starved");
        assert_eq!(serde_json::from_value::<Verdict>(json).expect("in the test"), verdict);
        assert_eq!(serde_json::to_value(LiveState::WaitingForCpu).expect("in the test"), "waiting_for_cpu");
        // Older payloads without any of it still decode.
        assert_eq!(serde_json::from_str::<RunCounters>("{}").expect("in the test"), RunCounters::default());
    }
}
