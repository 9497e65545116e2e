//! The rules: where a run's wall time went, in seconds, from its integrated
//! counters; the GPUs' seconds beside it; the share the run is bound by.
//! Every threshold here is in `docs/verdict.md` with its source.

use shared::why::{LIVE_WINDOW_S, RunCounters, ShareKind};

/// The bar's kinds, in the order the bar shows them (and the runs CSV names
/// its `<kind>_percent` columns).
pub const BAR: [ShareKind; 5] =
    [ShareKind::Cpu, ShareKind::CpuWait, ShareKind::Io, ShareKind::Memory, ShareKind::Idle];

/// The order wall time is handed out in: a moment one kind took is not counted
/// again by a later one. Memory before IO because PSI counts a thrashing
/// page's read as both a memory and an IO stall, and memory is the cause.
pub(super) const ATTRIBUTION_ORDER: [ShareKind; 4] =
    [ShareKind::Cpu, ShareKind::CpuWait, ShareKind::Memory, ShareKind::Io];

/// The GPUs idle while the CPU was saturated for more than this share of the
/// wall time makes the run input-bound (SageMaker Debugger's CPUBottleneck:
/// a bottleneck in more than 50 % of the samples).
pub const GPU_STARVED_PERCENT: f64 = 50.0;

/// A GPU busy for more than this share of the wall time makes the run
/// GPU-bound, whatever its CPU did (the same majority as CPUBottleneck's).
pub const GPU_BOUND_PERCENT: f64 = 50.0;

/// A GPU busy less than this is under-used (SageMaker Debugger's
/// LowGPUUtilization: p95 below 70 %); said in the evidence only, since the
/// counters keep the mean, not the p95.
pub const GPU_LOW_PERCENT: f64 = 70.0;

/// Steal at or above this share of the machine's CPU goes into the headline
/// as a caveat (Netdata's `20min_steal_cpu` alarm warns above 10 %).
pub const STEAL_PERCENT: f64 = 10.0;

/// A GPU throttled at or above this share of the wall time goes into the
/// headline as a caveat (PerfMon's own bar, the same as steal's).
pub const THROTTLED_PERCENT: f64 = 10.0;

/// The headline names a second share of the bar at or above this.
pub const SECOND_SHARE_PERCENT: f64 = 10.0;

/// A run that keeps at least this share of the machine's cores busy waits for
/// a CPU behind its own threads rather than other processes (CPUBottleneck's
/// `cpu_threshold`, 90 %).
pub const OWN_THREADS_BUSY: f64 = 0.9;

/// A live window shorter than this is too little to name a state (half of
/// [`LIVE_WINDOW_S`]; the hub hands over about 30 s).
pub const MIN_LIVE_S: f64 = LIVE_WINDOW_S / 2.0;

/// Why a run is not judged.
#[derive(Debug, Clone, PartialEq)]
pub enum NotJudged {
    /// A figure the rules need could not be read: why.
    NotMeasured(String),
    /// Shorter than the minimum: its wall seconds.
    TooShort(f64),
}

/// The run's wall time, handed out.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// Wall seconds the counters cover.
    pub wall_s: f64,
    /// CPU seconds (user + system) of the whole tree.
    pub cpu_s: f64,
    /// Seconds of each kind that could be told, in [`BAR`] order; they add up
    /// to `wall_s` (idle takes the rest).
    pub seconds: Vec<(ShareKind, f64)>,
    /// The kinds that could not be told, with why; their time is in idle.
    pub untold: Vec<(ShareKind, String)>,
}

impl Bar {
    /// Seconds of `kind`, when it could be told.
    pub fn get(&self, kind: ShareKind) -> Option<f64> {
        self.seconds.iter().find(|(k, _)| *k == kind).map(|(_, s)| *s)
    }

    /// Percent of the wall time `seconds` is.
    pub fn percent(&self, seconds: f64) -> f64 {
        (seconds / self.wall_s * 100.0).clamp(0.0, 100.0)
    }
}

/// The GPUs' seconds beside the bar, each clamped to the wall time; `None`
/// where not measured (no GPU).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Gpu {
    /// The busiest device busy.
    pub busy: Option<f64>,
    /// The GPUs idle (< 10 %) while the machine's CPU was saturated (≥ 90 %).
    pub starved: Option<f64>,
    /// Throttled, all reasons summed (an upper bound: reasons can overlap).
    pub throttled: Option<f64>,
}

/// A figure the rules may use: finite and never negative.
pub fn figure(value: Option<f64>) -> Option<f64> {
    value.filter(|v| v.is_finite()).map(|v| v.max(0.0))
}

/// The kernel's CPU total that is missing, when one is: user time first.
pub fn missing_cpu_total(c: &RunCounters) -> &'static str {
    if figure(c.cpu_user_s).is_none() { "cpu_user_s" } else { "cpu_system_s" }
}

/// Why `field` is `null`, in the counters' words, or a plain default.
pub fn why_not(c: &RunCounters, field: &str) -> String {
    c.not_measured.get(field).cloned().unwrap_or_else(|| "not read".into())
}

/// Hands out the run's wall time: on CPU, then waiting for a CPU, memory
/// stall, IO stall, each at most what the earlier ones left; idle is the rest.
/// Needs at least `min_wall_s` of wall time and the run's CPU time.
pub fn bar(c: &RunCounters, min_wall_s: f64) -> Result<Bar, NotJudged> {
    // User plus system, or the task-clock where it counted more (processes
    // nobody waited for: see `RunCounters::cpu_s`).
    let Some(cpu_s) = figure(c.cpu_s()) else {
        let field = missing_cpu_total(c);
        return Err(NotJudged::NotMeasured(match c.not_measured.get(field) {
            Some(why) => format!("the run's CPU time could not be read ({why})"),
            None => "the run's CPU time was not read".into(),
        }));
    };
    // A NaN or infinite wall time is no measure of the run: never judged.
    if !c.wall_s.is_finite() {
        return Err(NotJudged::NotMeasured(format!("the run's wall time reads {}", c.wall_s)));
    }
    if c.wall_s < min_wall_s {
        return Err(NotJudged::TooShort(figure(Some(c.wall_s)).unwrap_or(0.0)));
    }
    let wall_s = c.wall_s;
    let mut rest = wall_s;
    let mut told = Vec::new();
    let mut untold = Vec::new();
    for kind in ATTRIBUTION_ORDER {
        let wanted = match kind {
            ShareKind::Cpu => Ok(cpu_s),
            ShareKind::CpuWait => figure(c.cpu_wait_s).ok_or("cpu_wait_s"),
            ShareKind::Memory => memory_stall(c),
            _ => io_stall(c).ok_or("io_some_s"),
        };
        match wanted {
            Ok(seconds) => {
                let taken = seconds.min(rest);
                rest -= taken;
                told.push((kind, taken));
            }
            Err(field) if kind == ShareKind::Memory && field != "memory_some_s" => untold.push((
                kind,
                format!(
                    "{} not read ({}), so whose the machine's memory stall was cannot be told",
                    field_words(field),
                    why_not(c, field)
                ),
            )),
            Err(field) => untold.push((kind, why_not(c, field))),
        }
    }
    told.push((ShareKind::Idle, rest.max(0.0)));
    let seconds = BAR.iter().filter_map(|k| told.iter().find(|(t, _)| t == k).copied()).collect();
    let untold = BAR.iter().filter_map(|k| untold.iter().find(|(u, _)| u == k).cloned()).collect();
    Ok(Bar { wall_s, cpu_s, seconds, untold })
}

/// Whether the run's own storage bytes were measured and are none: then the
/// machine's IO stall was some other process's.
pub fn did_no_io(c: &RunCounters) -> bool {
    c.read_bytes == Some(0) && c.write_bytes == Some(0)
}

/// Whether the machine's memory stall is tied to the run: `Some(true)` when
/// it had major faults or the machine swapped, `Some(false)` when all three
/// were measured and none, `None` when nothing ties it but one of them was
/// not measured (it might have).
pub fn memory_tied(c: &RunCounters) -> Option<bool> {
    let figures = [c.major_faults, c.swap_in_pages, c.swap_out_pages];
    if figures.iter().any(|f| f.is_some_and(|n| n > 0)) {
        return Some(true);
    }
    figures.iter().all(Option::is_some).then_some(false)
}

/// Whether nothing ties the machine's memory stall to the run: it had no
/// major faults and the machine swapped nothing, each measured.
pub fn no_memory_evidence(c: &RunCounters) -> bool {
    memory_tied(c) == Some(false)
}

/// A figure that ties memory stall to the run, in words.
fn field_words(field: &str) -> &'static str {
    match field {
        "major_faults" => "the run's major faults",
        "swap_in_pages" => "the machine's pages swapped in",
        _ => "the machine's pages swapped out",
    }
}

/// Seconds of IO stall the run is charged with: PSI `io some` (machine-wide),
/// none when the run did no IO of its own.
fn io_stall(c: &RunCounters) -> Option<f64> {
    figure(c.io_some_s).map(|s| if did_no_io(c) { 0.0 } else { s })
}

/// Seconds of memory stall the run is charged with: PSI `memory some`
/// (machine-wide), none when nothing ties it to the run; the field not
/// measured when that cannot be told (an unmeasured figure is not a 0).
fn memory_stall(c: &RunCounters) -> Result<f64, &'static str> {
    let stall = figure(c.memory_some_s).ok_or("memory_some_s")?;
    match memory_tied(c) {
        Some(true) => Ok(stall),
        Some(false) => Ok(0.0),
        None if c.major_faults.is_none() => Err("major_faults"),
        None if c.swap_in_pages.is_none() => Err("swap_in_pages"),
        None => Err("swap_out_pages"),
    }
}

/// The GPUs' seconds, each clamped to `wall_s`.
pub fn gpu(c: &RunCounters, wall_s: f64) -> Gpu {
    let clamp = |s: f64| s.min(wall_s);
    let busy = figure(c.gpu_busy_s).map(clamp);
    // Present with the GPU's other shares (a measured utilisation), and only
    // where a device answered its clock-event reasons: an empty list then
    // means never throttled.
    let throttled = (busy.is_some() && !c.not_measured.contains_key("gpu_throttled_s"))
        // A fold from +0, not `sum`: an empty f64 sum is -0, which reads "-0 %".
        .then(|| clamp(c.gpu_throttled_s.values().filter_map(|s| figure(Some(*s))).fold(0.0, |a, b| a + b)));
    Gpu { busy, starved: figure(c.gpu_idle_cpu_saturated_s).map(clamp), throttled }
}

/// The share the run is bound by: input-bound when the GPUs starved more than
/// half the time, GPU-bound when a GPU was busy more than half the time, else
/// the bar's biggest share (the earlier in [`BAR`] on a tie).
pub fn bound(bar: &Bar, gpu: &Gpu) -> ShareKind {
    let over = |seconds: Option<f64>, percent: f64| seconds.is_some_and(|s| bar.percent(s) > percent);
    if over(gpu.starved, GPU_STARVED_PERCENT) {
        return ShareKind::GpuStarved;
    }
    if over(gpu.busy, GPU_BOUND_PERCENT) {
        return ShareKind::GpuBusy;
    }
    let mut best = (ShareKind::Idle, f64::NEG_INFINITY);
    for &(kind, seconds) in &bar.seconds {
        if seconds > best.1 {
            best = (kind, seconds);
        }
    }
    best.0
}

/// Steal as a share of the machine's CPU (all cores), when measured.
/// `machine_steal_s` is already a share of all cores integrated over time
/// (`/proc/stat`'s machine-wide steal % × each interval): over the wall time,
/// it is the mean share. (Dividing by the cores again made 40 % steal on 8
/// cores read 5 %.)
pub fn steal_percent(c: &RunCounters, wall_s: f64) -> Option<f64> {
    let steal = figure(c.machine_steal_s)?;
    (wall_s > 0.0).then(|| (steal / wall_s * 100.0).clamp(0.0, 100.0))
}

/// The bar's percents, to a tenth, adding up to exactly 100 (largest
/// remainder), so the bar a reader sees is whole.
pub fn percents(bar: &Bar) -> Vec<(ShareKind, f64)> {
    let raw: Vec<f64> = bar.seconds.iter().map(|(_, s)| s / bar.wall_s * 1000.0).collect();
    let mut tenths: Vec<u32> = raw.iter().map(|r| r.floor().max(0.0) as u32).collect();
    let short = 1000u32.saturating_sub(tenths.iter().sum());
    let mut by_remainder: Vec<usize> = (0..raw.len()).collect();
    by_remainder.sort_by(|&a, &b| (raw[b] - raw[b].floor()).total_cmp(&(raw[a] - raw[a].floor())));
    for &i in by_remainder.iter().cycle().take(short as usize) {
        tenths[i] += 1;
    }
    bar.seconds.iter().zip(tenths).map(|((kind, _), t)| (*kind, f64::from(t) / 10.0)).collect()
}

/// A percent to a tenth.
pub fn tenth(percent: f64) -> f64 {
    (percent * 10.0).round() / 10.0
}
