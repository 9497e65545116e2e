//! A run's own counters as the hub measures them, tick by tick: the tree's
//! cumulative counters (CPU user/system, run-queue delay, switches, storage
//! bytes, faults) from the run's base on, and the machine's figures integrated
//! over the run's life (pressure stall seconds, swap, CPU saturation, steal,
//! the GPUs' busy, starved and throttled seconds and their energy).
//!
//! The machine's figures are rates over the interval since the previous sample
//! (PSI's `total` delta as a share of wall time, vmstat's per-second counts), so
//! multiplying each by the interval and summing gives the exact integral, not a
//! sampled guess. The tree's counters are the kernel's own totals, read every
//! few seconds ([`crate::collect::proctree`]).
//!
//! The last [`LIVE_WINDOW_S`] of cumulative snapshots are kept, so the panel's
//! one word for a live run is judged on the same counters as the verdict.
//!
//! At the end, what `perfmon run`'s own `wait` saw ([`merge_exit`]) raises the
//! tree's readings where it counted more: it counts every descendant the
//! command waited for to the last instant, and the readings keep the last of
//! a process nobody waited for.

use std::collections::{BTreeMap, VecDeque};

use shared::why::{CountedFrom, LIVE_WINDOW_S, LiveState, RunCounters};

use crate::collect::gpu::clock_event_reason_names;
use crate::collect::proctree::{NOT_READ_YET, TreeCounters};
use crate::sampling::{HostSample, TreeReading};

/// The machine's CPU counts as saturated at or above this busy share (the
/// threshold of SageMaker Debugger's CPUBottleneck rule).
pub const CPU_SATURATED_PERCENT: f64 = 90.0;

/// A GPU counts as idle below this utilisation (CPUBottleneck's GPU side).
pub const GPU_IDLE_PERCENT: f64 = 10.0;

/// The longest interval one tick may add to the machine's integrals: a tick
/// that comes late (a suspended machine) does not count the gap as stalls.
const MAX_TICK_S: f64 = 5.0;

/// What the run's counters are measured by.
#[derive(Debug, Clone)]
pub struct Meter {
    /// The counters so far.
    counters: RunCounters,
    /// The tree's counters at which the run's are 0 (`None` until the first
    /// reading, for a run counted from registration).
    base: Option<TreeCounters>,
    /// Whether the run is one a previous start of the server followed.
    resumed: bool,
    /// What such a run had that the tree's counters no longer show, added on:
    /// run-queue delay and switches are per thread, and the threads that
    /// exited were counted by the server that stopped. Taken at the first
    /// reading (0 for a run that was not resumed).
    carry: Option<TreeCounters>,
    /// Wall seconds at the previous tick.
    last_wall_s: Option<f64>,
    /// Each device's energy counter at the previous tick, mJ, by index.
    energy_mj: BTreeMap<u32, u64>,
    /// Cumulative snapshots of the last [`LIVE_WINDOW_S`] and a bit, oldest first.
    window: VecDeque<RunCounters>,
    /// The tree's GPU utilisation integrated over the seconds it could be
    /// told (%·s, s): its mean is `gpu_process_percent`.
    gpu_percent_s: (f64, f64),
}

impl Meter {
    /// A meter for a run counted `from` its start (the tree's counters count
    /// whole) or from registration (from the first reading on). `stored`: the
    /// counters a previous start of the server had (a resumed run), which the
    /// machine's integrals carry on from and the tree's never fall below.
    pub fn new(from: CountedFrom, stored: Option<RunCounters>) -> Self {
        // From its start, every figure counts whole: each base is 0, the slow
        // ones too (a `None` there is a base still to take).
        let base = (from == CountedFrom::Start).then(|| TreeCounters {
            wait_s: Some(0.0),
            voluntary_switches: Some(0),
            involuntary_switches: Some(0),
            read_bytes: Some(0),
            write_bytes: Some(0),
            ..TreeCounters::default()
        });
        let resumed = stored.is_some();
        let mut counters = stored.unwrap_or_default();
        counters.counted_from = from;
        // A resumed run's mean goes on with the weight of what it covered.
        let gpu_percent_s =
            counters.gpu_process_percent.map_or((0.0, 0.0), |p| (p * counters.wall_s, counters.wall_s));
        Meter {
            counters,
            base,
            resumed,
            carry: None,
            last_wall_s: None,
            energy_mj: BTreeMap::new(),
            window: VecDeque::new(),
            gpu_percent_s,
        }
    }

    /// The tree's counters when a running process was registered, read then:
    /// its counters count from there, as its CPU time does, not from the
    /// first tick up to a second later. Ignored for a run that counts from
    /// its start or was resumed.
    pub fn set_base(&mut self, base: TreeCounters) {
        if self.base.is_none() && !self.resumed {
            self.base = Some(base);
        }
    }

    /// The counters so far.
    pub fn counters(&self) -> &RunCounters {
        &self.counters
    }

    /// Takes one tick: `tree` as read in `sample`, `wall_s` seconds after the
    /// run started.
    pub fn tick(&mut self, sample: &HostSample, tree: &TreeReading, wall_s: f64) {
        let dt = self.last_wall_s.map_or(wall_s.min(1.0), |last| wall_s - last).clamp(0.0, MAX_TICK_S);
        self.last_wall_s = Some(wall_s);
        let c = &mut self.counters;
        c.wall_s = c.wall_s.max(wall_s);
        if let Some(now) = &tree.counters {
            // Counted from registration: from the first reading on, or, for a
            // run a previous server was following, on from what it had.
            let base = self.base.get_or_insert_with(|| carried_base(now, c));
            let resumed = self.resumed;
            let carry = self.carry.get_or_insert_with(|| {
                if resumed { shortfall(now, base, c) } else { TreeCounters::default() }
            });
            // A base and carry taken while the slow figures were still pending
            // (a new tree's first tick) take theirs from their first reading.
            if !now.slow_pending {
                or_slow(base, carried_base(now, c));
                if resumed {
                    or_slow(carry, shortfall(now, base, c));
                }
            }
            add_tree(c, now, base, carry);
        }
        c.peak_rss_bytes = max_opt(c.peak_rss_bytes, Some(tree.rss_bytes));
        c.gpu_peak_memory_bytes = max_opt(c.gpu_peak_memory_bytes, tree.gpu_memory_bytes);
        add_machine(c, sample, dt);
        add_gpus(c, sample, dt, &mut self.energy_mj);
        add_tree_gpu(c, tree, dt, &mut self.gpu_percent_s);
        self.window.push_back(self.counters.clone());
        while self.window.len() > 2 && self.window[1].wall_s <= wall_s - LIVE_WINDOW_S {
            self.window.pop_front();
        }
    }

    /// The counters over the last [`LIVE_WINDOW_S`]; `None` until that long
    /// was measured.
    pub fn last_window(&self) -> Option<RunCounters> {
        let (first, last) = (self.window.front()?, self.window.back()?);
        (last.wall_s - first.wall_s >= LIVE_WINDOW_S - 1.5).then(|| since(last, first))
    }

    /// The run ended `wall_s` after its start, as its record says: the
    /// counters cover up to there (their last reading was a tick before), so
    /// the verdict judges the length the record shows.
    pub fn ended_after(&mut self, wall_s: f64) {
        if wall_s.is_finite() {
            self.counters.wall_s = self.counters.wall_s.max(wall_s);
        }
    }

    /// The run's perf counters as last read.
    pub fn set_perf(&mut self, perf: shared::why::RunPerf) {
        self.counters.perf = Some(perf);
    }

    /// Takes in what `perfmon run` reported with the exit ([`merge_exit`]).
    pub fn take_exit(&mut self, exit: &RunCounters) {
        merge_exit(&mut self.counters, exit);
    }

    /// The live run's word for its last 30 s, on a machine of `cores`.
    pub fn live_state(&self, cores: u32) -> Option<LiveState> {
        crate::verdict::live_state(&self.last_window()?, cores)
    }
}

/// The tree's counters at which a run counted from registration is 0, when
/// its counters so far are `had` (all 0 for a new run: the first reading).
fn carried_base(now: &TreeCounters, had: &RunCounters) -> TreeCounters {
    let secs = |now: f64, had: Option<f64>| (now - had.unwrap_or(0.0)).max(0.0);
    let count = |now: u64, had: Option<u64>| now.saturating_sub(had.unwrap_or(0));
    TreeCounters {
        user_s: secs(now.user_s, had.cpu_user_s),
        system_s: secs(now.system_s, had.cpu_system_s),
        wait_s: now.wait_s.map(|n| secs(n, had.cpu_wait_s)),
        voluntary_switches: now.voluntary_switches.map(|n| count(n, had.voluntary_switches)),
        involuntary_switches: now.involuntary_switches.map(|n| count(n, had.involuntary_switches)),
        threads: now.threads,
        read_bytes: now.read_bytes.map(|n| count(n, had.read_bytes)),
        write_bytes: now.write_bytes.map(|n| count(n, had.write_bytes)),
        minor_faults: count(now.minor_faults, had.minor_faults),
        major_faults: count(now.major_faults, had.major_faults),
        reasons: Vec::new(),
        slow_pending: false,
    }
}

/// Gives each slow figure of `into` that has none yet the one of `from`.
fn or_slow(into: &mut TreeCounters, from: TreeCounters) {
    into.wait_s = into.wait_s.or(from.wait_s);
    into.voluntary_switches = into.voluntary_switches.or(from.voluntary_switches);
    into.involuntary_switches = into.involuntary_switches.or(from.involuntary_switches);
    into.read_bytes = into.read_bytes.or(from.read_bytes);
    into.write_bytes = into.write_bytes.or(from.write_bytes);
}

/// How far the tree's counters `now − base` fall short of what a resumed run
/// `had`, field by field (0 where they do not).
fn shortfall(now: &TreeCounters, base: &TreeCounters, had: &RunCounters) -> TreeCounters {
    let secs = |now: f64, base: f64, had: Option<f64>| (had.unwrap_or(0.0) - (now - base)).max(0.0);
    let count =
        |now: u64, base: u64, had: Option<u64>| had.unwrap_or(0).saturating_sub(now.saturating_sub(base));
    TreeCounters {
        user_s: secs(now.user_s, base.user_s, had.cpu_user_s),
        system_s: secs(now.system_s, base.system_s, had.cpu_system_s),
        wait_s: now.wait_s.map(|n| secs(n, base.wait_s.unwrap_or(0.0), had.cpu_wait_s)),
        voluntary_switches: now
            .voluntary_switches
            .map(|n| count(n, base.voluntary_switches.unwrap_or(0), had.voluntary_switches)),
        involuntary_switches: now
            .involuntary_switches
            .map(|n| count(n, base.involuntary_switches.unwrap_or(0), had.involuntary_switches)),
        threads: 0,
        read_bytes: now.read_bytes.map(|n| count(n, base.read_bytes.unwrap_or(0), had.read_bytes)),
        write_bytes: now.write_bytes.map(|n| count(n, base.write_bytes.unwrap_or(0), had.write_bytes)),
        minor_faults: count(now.minor_faults, base.minor_faults, had.minor_faults),
        major_faults: count(now.major_faults, base.major_faults, had.major_faults),
        reasons: Vec::new(),
        slow_pending: false,
    }
}

/// Sets the tree's fields of `c` to `now − base + carry`, never lower than
/// they were (a counter rebuilt after a restart may have lost what left the
/// tree).
fn add_tree(c: &mut RunCounters, now: &TreeCounters, base: &TreeCounters, carry: &TreeCounters) {
    let secs =
        |now: f64, base: f64, carry: f64, was: Option<f64>| Some(was.unwrap_or(0.0).max(now - base + carry));
    let count = |now: u64, base: u64, carry: u64, was: Option<u64>| {
        Some(was.unwrap_or(0).max(now.saturating_sub(base).saturating_add(carry)))
    };
    // A figure unread this tick keeps what it had.
    let opt_secs = |now: Option<f64>, base: Option<f64>, carry: Option<f64>, was| {
        now.and_then(|n| secs(n, base.unwrap_or(0.0), carry.unwrap_or(0.0), was)).or(was)
    };
    let opt_count = |now: Option<u64>, base: Option<u64>, carry: Option<u64>, was| {
        now.and_then(|n| count(n, base.unwrap_or(0), carry.unwrap_or(0), was)).or(was)
    };
    c.cpu_user_s = secs(now.user_s, base.user_s, carry.user_s, c.cpu_user_s);
    c.cpu_system_s = secs(now.system_s, base.system_s, carry.system_s, c.cpu_system_s);
    c.cpu_wait_s = opt_secs(now.wait_s, base.wait_s, carry.wait_s, c.cpu_wait_s);
    c.voluntary_switches = opt_count(
        now.voluntary_switches,
        base.voluntary_switches,
        carry.voluntary_switches,
        c.voluntary_switches,
    );
    c.involuntary_switches = opt_count(
        now.involuntary_switches,
        base.involuntary_switches,
        carry.involuntary_switches,
        c.involuntary_switches,
    );
    c.read_bytes = opt_count(now.read_bytes, base.read_bytes, carry.read_bytes, c.read_bytes);
    c.write_bytes = opt_count(now.write_bytes, base.write_bytes, carry.write_bytes, c.write_bytes);
    c.minor_faults = count(now.minor_faults, base.minor_faults, carry.minor_faults, c.minor_faults);
    c.major_faults = count(now.major_faults, base.major_faults, carry.major_faults, c.major_faults);
    c.peak_threads = Some(c.peak_threads.unwrap_or(0).max(now.threads));
    // A figure keeps the first reason it was unreadable for, except "not read
    // yet" (a new tree's slow figures, for a moment): a reading replaces it
    // with its own reason, or drops it where it has the figure.
    for (field, reason) in &now.reasons {
        match c.not_measured.get_mut(*field) {
            Some(why) if why == NOT_READ_YET => reason.clone_into(why),
            Some(_) => {}
            None => {
                c.not_measured.insert((*field).to_owned(), reason.clone());
            }
        }
    }
    if !now.slow_pending {
        c.not_measured.retain(|_, why| why != NOT_READ_YET);
    }
}

/// Adds `dt` seconds of the machine's pressure, swap, saturation and steal.
fn add_machine(c: &mut RunCounters, sample: &HostSample, dt: f64) {
    let pressure = &sample.depth.pressure;
    let stall = |share: Option<f64>| share.map(|p| p / 100.0 * dt);
    let fields: [(&str, &mut Option<f64>, Option<f64>); 5] = [
        ("io_some_s", &mut c.io_some_s, pressure.io.and_then(|r| r.some_stall_percent)),
        ("io_full_s", &mut c.io_full_s, pressure.io.and_then(|r| r.full_stall_percent)),
        ("memory_some_s", &mut c.memory_some_s, pressure.memory.and_then(|r| r.some_stall_percent)),
        ("memory_full_s", &mut c.memory_full_s, pressure.memory.and_then(|r| r.full_stall_percent)),
        ("cpu_some_s", &mut c.cpu_some_s, pressure.cpu.and_then(|r| r.some_stall_percent)),
    ];
    let why_pressure =
        pressure.reason.clone().unwrap_or_else(|| "the kernel gives no pressure stall information".into());
    for (name, total, share) in fields {
        add_or_say(total, stall(share), &mut c.not_measured, name, &why_pressure);
    }
    let paging = &sample.depth.paging;
    let pages = |rate: Option<f64>| rate.map(|r| (r * dt).round().max(0.0) as u64);
    let why_paging = "the kernel's /proc/vmstat could not be read";
    add_count(
        &mut c.swap_in_pages,
        pages(paging.swap_in_pages_per_s),
        &mut c.not_measured,
        "swap_in_pages",
        why_paging,
    );
    add_count(
        &mut c.swap_out_pages,
        pages(paging.swap_out_pages_per_s),
        &mut c.not_measured,
        "swap_out_pages",
        why_paging,
    );
    let saturated = sample.cpu.percent.map(|p| if p >= CPU_SATURATED_PERCENT { dt } else { 0.0 });
    add_or_say(
        &mut c.machine_cpu_saturated_s,
        saturated,
        &mut c.not_measured,
        "machine_cpu_saturated_s",
        "/proc/stat could not be read",
    );
    let steal = sample.depth.cpu_detail.modes.as_ref().and_then(|m| m.steal_percent).map(|s| s / 100.0 * dt);
    add_or_say(
        &mut c.machine_steal_s,
        steal,
        &mut c.not_measured,
        "machine_steal_s",
        "the kernel's /proc/stat has no steal column",
    );
}

/// Adds `dt` seconds of the GPUs: the busiest device's busy seconds, idle
/// GPUs under a saturated CPU, throttled seconds by reason, and energy.
fn add_gpus(c: &mut RunCounters, sample: &HostSample, dt: f64, energy_mj: &mut BTreeMap<u32, u64>) {
    let gpu = &sample.gpu;
    let answering: Vec<_> = gpu.devices.iter().filter(|d| d.lost.is_none()).collect();
    if answering.is_empty() {
        let why = gpu.unavailable.clone().unwrap_or_else(|| "no GPU answered".into());
        for field in ["gpu_busy_s", "gpu_idle_cpu_saturated_s", "gpu_energy_j", "gpu_peak_memory_bytes"] {
            c.not_measured.entry(field.into()).or_insert_with(|| why.clone());
        }
        if c.gpu_throttled_s.is_empty() {
            c.not_measured.entry("gpu_throttled_s".into()).or_insert_with(|| why.clone());
        }
        c.not_measured.entry("gpu_process_percent".into()).or_insert(why);
        return;
    }
    for field in ["gpu_busy_s", "gpu_idle_cpu_saturated_s", "gpu_energy_j", "gpu_peak_memory_bytes"] {
        c.not_measured.remove(field);
    }
    let busiest = answering.iter().filter_map(|d| d.percent).max().map(f64::from);
    add_or_say(
        &mut c.gpu_busy_s,
        busiest.map(|p| p / 100.0 * dt),
        &mut c.not_measured,
        "gpu_busy_s",
        "NVML gives no utilisation",
    );
    let cpu_saturated = sample.cpu.percent.is_some_and(|p| p >= CPU_SATURATED_PERCENT);
    let starved = busiest.map(|p| if p < GPU_IDLE_PERCENT && cpu_saturated { dt } else { 0.0 });
    add_or_say(
        &mut c.gpu_idle_cpu_saturated_s,
        starved,
        &mut c.not_measured,
        "gpu_idle_cpu_saturated_s",
        "NVML gives no utilisation",
    );
    // Throttling is measured where a device answers its clock-event reasons;
    // where none ever did, it is not measured, not "never throttled".
    if answering.iter().any(|d| d.clock_event_reasons.is_some()) {
        c.not_measured.remove("gpu_throttled_s");
    } else if c.gpu_throttled_s.is_empty() {
        c.not_measured
            .entry("gpu_throttled_s".into())
            .or_insert_with(|| "NVML gives no clock-event reasons".into());
    }
    // A reason held by any device counts once per interval.
    let mut held: Vec<&str> = answering
        .iter()
        .filter_map(|d| d.clock_event_reasons)
        .flat_map(clock_event_reason_names)
        .filter(|name| *name != "gpu_idle")
        .collect();
    held.sort_unstable();
    held.dedup();
    for reason in held {
        *c.gpu_throttled_s.entry(reason.to_owned()).or_insert(0.0) += dt;
    }
    let mut joules = None;
    for device in &answering {
        let added = match (device.energy_mj, energy_mj.get(&device.index)) {
            (Some(now), Some(&before)) if now >= before => Some((now - before) as f64 / 1000.0),
            (Some(_), _) => Some(0.0),
            (None, _) => device.power_mw.map(|mw| f64::from(mw) / 1000.0 * dt),
        };
        if let Some(now) = device.energy_mj {
            energy_mj.insert(device.index, now);
        }
        if let Some(j) = added {
            joules = Some(joules.unwrap_or(0.0) + j);
        }
    }
    add_or_say(
        &mut c.gpu_energy_j,
        joules,
        &mut c.not_measured,
        "gpu_energy_j",
        "NVML gives neither an energy counter nor power",
    );
}

/// Adds `dt` seconds of the tree's own GPU utilisation to its mean, or says
/// why NVML cannot tell it (often: no per-process sampling on the device).
fn add_tree_gpu(c: &mut RunCounters, tree: &TreeReading, dt: f64, sum: &mut (f64, f64)) {
    match tree.gpu_percent {
        Some(percent) => {
            sum.0 += percent * dt;
            sum.1 += dt;
            if sum.1 > 0.0 {
                c.gpu_process_percent = Some(sum.0 / sum.1);
            }
            c.not_measured.remove("gpu_process_percent");
        }
        None if c.gpu_process_percent.is_none() => {
            if let Some(why) = &tree.gpu_percent_reason {
                c.not_measured.insert("gpu_process_percent".into(), why.clone());
            }
        }
        None => {}
    }
}

/// Adds `value` to `total`; says why where it cannot be read (and forgets the
/// reason once it can).
fn add_or_say(
    total: &mut Option<f64>,
    value: Option<f64>,
    why: &mut BTreeMap<String, String>,
    field: &str,
    reason: &str,
) {
    accumulate(total, value, why, field, reason, |a, b| a + b);
}

/// [`add_or_say`] for counts (saturating).
fn add_count(
    total: &mut Option<u64>,
    value: Option<u64>,
    why: &mut BTreeMap<String, String>,
    field: &str,
    reason: &str,
) {
    accumulate(total, value, why, field, reason, u64::saturating_add);
}

fn accumulate<T: Copy + Default>(
    total: &mut Option<T>,
    value: Option<T>,
    why: &mut BTreeMap<String, String>,
    field: &str,
    reason: &str,
    add: impl Fn(T, T) -> T,
) {
    match value {
        Some(v) => {
            *total = Some(add(total.unwrap_or_default(), v));
            why.remove(field);
        }
        None if total.is_none() => {
            why.entry(field.to_owned()).or_insert_with(|| reason.to_owned());
        }
        None => {}
    }
}

fn max_opt<T: Ord + Copy>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// The counters between two cumulative snapshots (`now − earlier`); peaks and
/// the reasons are `now`'s.
pub fn since(now: &RunCounters, earlier: &RunCounters) -> RunCounters {
    let s = |a: Option<f64>, b: Option<f64>| a.map(|a| (a - b.unwrap_or(0.0)).max(0.0));
    let n = |a: Option<u64>, b: Option<u64>| a.map(|a| a.saturating_sub(b.unwrap_or(0)));
    let mut throttled = now.gpu_throttled_s.clone();
    for (reason, seconds) in throttled.iter_mut() {
        *seconds = (*seconds - earlier.gpu_throttled_s.get(reason).copied().unwrap_or(0.0)).max(0.0);
    }
    throttled.retain(|_, s| *s > 0.0);
    RunCounters {
        counted_from: now.counted_from,
        wall_s: (now.wall_s - earlier.wall_s).max(0.0),
        cpu_user_s: s(now.cpu_user_s, earlier.cpu_user_s),
        cpu_system_s: s(now.cpu_system_s, earlier.cpu_system_s),
        cpu_wait_s: s(now.cpu_wait_s, earlier.cpu_wait_s),
        voluntary_switches: n(now.voluntary_switches, earlier.voluntary_switches),
        involuntary_switches: n(now.involuntary_switches, earlier.involuntary_switches),
        peak_threads: now.peak_threads,
        read_bytes: n(now.read_bytes, earlier.read_bytes),
        write_bytes: n(now.write_bytes, earlier.write_bytes),
        minor_faults: n(now.minor_faults, earlier.minor_faults),
        major_faults: n(now.major_faults, earlier.major_faults),
        peak_rss_bytes: now.peak_rss_bytes,
        io_some_s: s(now.io_some_s, earlier.io_some_s),
        io_full_s: s(now.io_full_s, earlier.io_full_s),
        memory_some_s: s(now.memory_some_s, earlier.memory_some_s),
        memory_full_s: s(now.memory_full_s, earlier.memory_full_s),
        cpu_some_s: s(now.cpu_some_s, earlier.cpu_some_s),
        swap_in_pages: n(now.swap_in_pages, earlier.swap_in_pages),
        swap_out_pages: n(now.swap_out_pages, earlier.swap_out_pages),
        machine_cpu_saturated_s: s(now.machine_cpu_saturated_s, earlier.machine_cpu_saturated_s),
        machine_steal_s: s(now.machine_steal_s, earlier.machine_steal_s),
        gpu_peak_memory_bytes: now.gpu_peak_memory_bytes,
        gpu_process_percent: now.gpu_process_percent,
        gpu_busy_s: s(now.gpu_busy_s, earlier.gpu_busy_s),
        gpu_idle_cpu_saturated_s: s(now.gpu_idle_cpu_saturated_s, earlier.gpu_idle_cpu_saturated_s),
        gpu_energy_j: s(now.gpu_energy_j, earlier.gpu_energy_j),
        gpu_throttled_s: throttled,
        perf: None,
        not_measured: now.not_measured.clone(),
    }
}

/// Takes in what `perfmon run`'s own `wait` and perf counters saw: exact
/// totals of the command and every descendant it waited for, to the last
/// instant. Each tree field is the higher of the two: both count only the
/// run's processes, and each misses what the other has — the server's
/// readings stop a tick short and miss what came and went between them, the
/// wrapper's `wait` misses a process nobody waited for (orphaned, or reaped
/// by the kernel for a parent that ignores `SIGCHLD`), whose last reading the
/// server kept. So is the peak resident memory. The run-queue delay, other
/// peaks and the machine's figures stay the server's.
pub fn merge_exit(measured: &mut RunCounters, exit: &RunCounters) {
    fn take<T: Copy + PartialOrd>(
        ours: &mut Option<T>,
        theirs: Option<T>,
        field: &str,
        why: &mut BTreeMap<String, String>,
    ) {
        let Some(theirs) = theirs else { return };
        match *ours {
            Some(ours) if ours >= theirs => {}
            // Ours lower, none, or not a number (never ours: readings are finite).
            _ => *ours = Some(theirs),
        }
        why.remove(field);
    }
    let why = &mut measured.not_measured;
    take(&mut measured.cpu_user_s, exit.cpu_user_s, "cpu_user_s", why);
    take(&mut measured.cpu_system_s, exit.cpu_system_s, "cpu_system_s", why);
    take(&mut measured.voluntary_switches, exit.voluntary_switches, "voluntary_switches", why);
    take(&mut measured.involuntary_switches, exit.involuntary_switches, "involuntary_switches", why);
    take(&mut measured.read_bytes, exit.read_bytes, "read_bytes", why);
    take(&mut measured.write_bytes, exit.write_bytes, "write_bytes", why);
    take(&mut measured.minor_faults, exit.minor_faults, "minor_faults", why);
    take(&mut measured.major_faults, exit.major_faults, "major_faults", why);
    // The largest process's own peak (`ru_maxrss`): a floor the readings, a
    // second apart, may have missed.
    take(&mut measured.peak_rss_bytes, exit.peak_rss_bytes, "peak_rss_bytes", why);
    if measured.cpu_wait_s.is_none() {
        take(&mut measured.cpu_wait_s, exit.cpu_wait_s, "cpu_wait_s", why);
    }
    if exit.perf.is_some() {
        measured.perf = exit.perf.clone();
    }
    // The wrapper's clock covers the command's life exactly; ours stops at a
    // tick, one before the end or the one that found it gone.
    if exit.wall_s.is_finite() && exit.wall_s > 0.0 {
        measured.wall_s = exit.wall_s;
    }
    measured.counted_from = exit.counted_from;
    for (field, reason) in &exit.not_measured {
        if field.starts_with("perf") {
            why.insert(field.clone(), reason.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::gpu::{DeviceReading, GpuReading};
    use shared::depth::pressure::{Pressure, ResourcePressure};

    fn sample(cpu: f64, io_some: f64) -> HostSample {
        let mut sample = HostSample::default();
        sample.cpu.percent = Some(cpu);
        sample.depth.pressure = Pressure {
            available: true,
            io: Some(ResourcePressure {
                some_stall_percent: Some(io_some),
                full_stall_percent: Some(io_some / 2.0),
                ..Default::default()
            }),
            memory: Some(ResourcePressure {
                some_stall_percent: Some(0.0),
                full_stall_percent: Some(0.0),
                ..Default::default()
            }),
            cpu: Some(ResourcePressure { some_stall_percent: Some(10.0), ..Default::default() }),
            ..Default::default()
        };
        sample.gpu = GpuReading { unavailable: Some("no NVIDIA driver".into()), ..Default::default() };
        sample
    }

    fn tree(user: f64, faults: u64) -> TreeReading {
        TreeReading {
            rss_bytes: 1000,
            counters: Some(TreeCounters {
                user_s: user,
                system_s: user / 10.0,
                minor_faults: faults,
                threads: 3,
                ..TreeCounters::default()
            }),
            ..TreeReading::default()
        }
    }

    #[test]
    fn machine_rates_are_integrated_over_each_interval() {
        let mut meter = Meter::new(CountedFrom::Start, None);
        meter.tick(&sample(95.0, 50.0), &tree(1.0, 10), 1.0);
        meter.tick(&sample(50.0, 20.0), &tree(2.0, 30), 3.0);
        let c = meter.counters();
        // 50 % of the first second, 20 % of the next two.
        assert!((c.io_some_s.expect("measured") - 0.9).abs() < 1e-9, "{c:?}");
        assert!((c.io_full_s.expect("measured") - 0.45).abs() < 1e-9);
        assert!((c.cpu_some_s.expect("measured") - 0.3).abs() < 1e-9);
        assert_eq!(c.machine_cpu_saturated_s, Some(1.0));
        assert_eq!((c.cpu_user_s, c.minor_faults, c.peak_threads), (Some(2.0), Some(30), Some(3)));
        assert_eq!(c.wall_s, 3.0);
        assert_eq!(c.gpu_busy_s, None);
        assert_eq!(c.not_measured.get("gpu_busy_s").map(String::as_str), Some("no NVIDIA driver"));
        assert!(c.not_measured.contains_key("machine_steal_s"), "no cpu modes: steal is said unreadable");
    }

    #[test]
    fn a_registered_run_counts_from_its_first_reading_and_never_lower() {
        let mut meter = Meter::new(CountedFrom::Registration, None);
        meter.tick(&sample(10.0, 0.0), &tree(100.0, 1000), 1.0);
        meter.tick(&sample(10.0, 0.0), &tree(103.0, 1500), 2.0);
        assert_eq!(meter.counters().cpu_user_s, Some(3.0));
        assert_eq!(meter.counters().minor_faults, Some(500));
        // A counter rebuilt lower (members lost) does not lower the run's.
        meter.tick(&sample(10.0, 0.0), &tree(101.0, 1200), 3.0);
        assert_eq!(meter.counters().cpu_user_s, Some(3.0));

        // A server that restarts carries on from what the record had.
        let had = meter.counters().clone();
        let mut resumed = Meter::new(CountedFrom::Registration, Some(had));
        resumed.tick(&sample(10.0, 0.0), &tree(200.0, 5000), 10.0);
        assert_eq!(resumed.counters().cpu_user_s, Some(3.0));
        resumed.tick(&sample(10.0, 0.0), &tree(202.0, 5100), 11.0);
        assert_eq!((resumed.counters().cpu_user_s, resumed.counters().minor_faults), (Some(5.0), Some(600)));
    }

    #[test]
    fn a_registered_run_read_at_registration_counts_from_there() {
        let mut meter = Meter::new(CountedFrom::Registration, None);
        meter.set_base(TreeCounters { user_s: 10.0, minor_faults: 100, ..TreeCounters::default() });
        meter.tick(&sample(10.0, 0.0), &tree(12.0, 150), 1.0);
        assert_eq!((meter.counters().cpu_user_s, meter.counters().minor_faults), (Some(2.0), Some(50)));
        // A run held from its start counts whole whatever it is handed.
        let mut held = Meter::new(CountedFrom::Start, None);
        held.set_base(TreeCounters { user_s: 10.0, ..TreeCounters::default() });
        held.tick(&sample(10.0, 0.0), &tree(12.0, 150), 1.0);
        assert_eq!(held.counters().cpu_user_s, Some(12.0));
    }

    #[test]
    fn a_resumed_run_counts_on_from_what_it_had_when_its_threads_counters_start_lower() {
        // Run-queue delay and switches are per thread: the threads that
        // exited were counted by the server that stopped.
        let had =
            RunCounters { cpu_wait_s: Some(100.0), voluntary_switches: Some(1000), ..RunCounters::default() };
        let reading = |wait, switches| TreeReading {
            counters: Some(TreeCounters {
                wait_s: Some(wait),
                voluntary_switches: Some(switches),
                ..TreeCounters::default()
            }),
            ..TreeReading::default()
        };
        for from in [CountedFrom::Start, CountedFrom::Registration] {
            let mut meter = Meter::new(from, Some(had.clone()));
            meter.tick(&sample(10.0, 0.0), &reading(5.0, 50), 100.0);
            assert_eq!(
                (meter.counters().cpu_wait_s, meter.counters().voluntary_switches),
                (Some(100.0), Some(1000))
            );
            meter.tick(&sample(10.0, 0.0), &reading(8.0, 80), 101.0);
            let c = meter.counters();
            assert_eq!((c.cpu_wait_s, c.voluntary_switches), (Some(103.0), Some(1030)), "{from:?}");
        }
        // A run that was not resumed counts from 0 as before.
        let mut fresh = Meter::new(CountedFrom::Start, None);
        fresh.tick(&sample(10.0, 0.0), &reading(5.0, 50), 1.0);
        assert_eq!(fresh.counters().voluntary_switches, Some(50));
    }

    #[test]
    fn slow_figures_pending_at_a_new_trees_first_tick_count_from_their_first_reading_and_leave_no_reason() {
        let pending = TreeReading {
            counters: Some(TreeCounters {
                user_s: 100.0,
                reasons: vec![("cpu_wait_s", "not read yet".into()), ("write_bytes", "not read yet".into())],
                slow_pending: true,
                ..TreeCounters::default()
            }),
            ..TreeReading::default()
        };
        let read = |wait, written| TreeReading {
            counters: Some(TreeCounters {
                user_s: 100.0,
                wait_s: Some(wait),
                write_bytes: Some(written),
                ..TreeCounters::default()
            }),
            ..TreeReading::default()
        };
        let figures = |m: &Meter| (m.counters().cpu_wait_s, m.counters().write_bytes);
        let why = |m: &Meter, field: &str| m.counters().not_measured.get(field).cloned();
        // Counted from registration, no reading then: from the first one.
        let mut registered = Meter::new(CountedFrom::Registration, None);
        registered.tick(&sample(10.0, 0.0), &pending, 1.0);
        assert_eq!(figures(&registered), (None, None));
        assert_eq!(why(&registered, "cpu_wait_s").as_deref(), Some(NOT_READ_YET), "null, with why");
        registered.tick(&sample(10.0, 0.0), &read(5.0, 4096), 2.0);
        assert_eq!(figures(&registered), (Some(0.0), Some(0)));
        assert_eq!((why(&registered, "cpu_wait_s"), why(&registered, "write_bytes")), (None, None));
        registered.tick(&sample(10.0, 0.0), &read(8.0, 8192), 3.0);
        assert_eq!(figures(&registered), (Some(3.0), Some(4096)));
        // A figure the first reading could not read takes that reading's reason.
        let mut refused = Meter::new(CountedFrom::Registration, None);
        refused.tick(&sample(10.0, 0.0), &pending, 1.0);
        let mut unreadable = read(5.0, 4096);
        if let Some(c) = unreadable.counters.as_mut() {
            c.write_bytes = None;
            c.reasons = vec![("write_bytes", "/proc/PID/io: permission denied".into())];
        }
        refused.tick(&sample(10.0, 0.0), &unreadable, 2.0);
        assert_eq!(why(&refused, "write_bytes").as_deref(), Some("/proc/PID/io: permission denied"));
        assert_eq!(why(&refused, "cpu_wait_s"), None);
        // From its start: whole.
        let mut started = Meter::new(CountedFrom::Start, None);
        started.tick(&sample(10.0, 0.0), &pending, 1.0);
        started.tick(&sample(10.0, 0.0), &read(5.0, 4096), 2.0);
        assert_eq!(figures(&started), (Some(5.0), Some(4096)));
        // Resumed: on from what it had (bytes are per process, whole from
        // their start: a run counted from its start has no carry for them).
        for (from, written) in [(CountedFrom::Registration, 4097), (CountedFrom::Start, 8192)] {
            let had = RunCounters { cpu_wait_s: Some(100.0), write_bytes: Some(1), ..RunCounters::default() };
            let mut resumed = Meter::new(from, Some(had));
            resumed.tick(&sample(10.0, 0.0), &pending, 100.0);
            resumed.tick(&sample(10.0, 0.0), &read(5.0, 4096), 101.0);
            resumed.tick(&sample(10.0, 0.0), &read(8.0, 8192), 102.0);
            assert_eq!(figures(&resumed), (Some(103.0), Some(written)), "{from:?}");
        }
    }

    #[test]
    fn gpus_add_busy_starved_throttled_seconds_and_energy() {
        let device = |percent, reasons, energy| DeviceReading {
            index: 0,
            percent: Some(percent),
            clock_event_reasons: Some(reasons),
            energy_mj: Some(energy),
            ..DeviceReading::default()
        };
        let mut meter = Meter::new(CountedFrom::Start, None);
        let mut s = sample(95.0, 0.0);
        s.gpu = GpuReading { devices: vec![device(5, 0b1, 1_000)], ..Default::default() };
        meter.tick(&s, &tree(1.0, 1), 1.0);
        // sw_power_cap (bit 2) for the next 2 s, GPU busy 80 %, 500 J used.
        s.gpu = GpuReading { devices: vec![device(80, 0b101, 501_000)], ..Default::default() };
        meter.tick(&s, &tree(2.0, 1), 3.0);
        let c = meter.counters();
        assert!((c.gpu_busy_s.expect("measured") - (0.05 + 1.6)).abs() < 1e-9);
        assert_eq!(c.gpu_idle_cpu_saturated_s, Some(1.0));
        assert_eq!(c.gpu_throttled_s.get("sw_power_cap"), Some(&2.0));
        assert!(!c.gpu_throttled_s.contains_key("gpu_idle"), "an idle GPU is not throttled");
        assert_eq!(c.gpu_energy_j, Some(500.0));
        assert_eq!(c.gpu_process_percent, None, "the tree's own share was never told");
        assert!(!c.not_measured.contains_key("gpu_throttled_s"), "the reasons were answered");
    }

    #[test]
    fn throttling_no_device_answered_is_not_measured_and_once_answered_is() {
        let device = |reasons| DeviceReading {
            index: 0,
            percent: Some(50),
            clock_event_reasons: reasons,
            ..DeviceReading::default()
        };
        let mut meter = Meter::new(CountedFrom::Start, None);
        let mut s = sample(50.0, 0.0);
        s.gpu = GpuReading { devices: vec![device(None)], ..Default::default() };
        meter.tick(&s, &tree(1.0, 1), 1.0);
        meter.tick(&s, &tree(1.0, 1), 2.0);
        let c = meter.counters();
        assert!(c.gpu_throttled_s.is_empty());
        assert_eq!(
            c.not_measured.get("gpu_throttled_s").map(String::as_str),
            Some("NVML gives no clock-event reasons")
        );
        // Answered (no reason held): measured, never throttled.
        s.gpu = GpuReading { devices: vec![device(Some(0))], ..Default::default() };
        meter.tick(&s, &tree(1.0, 1), 3.0);
        assert!(!meter.counters().not_measured.contains_key("gpu_throttled_s"));
    }

    #[test]
    fn the_trees_own_gpu_share_is_its_mean_over_the_seconds_told() {
        let mut meter = Meter::new(CountedFrom::Start, None);
        let told = |percent| TreeReading { gpu_percent: Some(percent), ..tree(1.0, 1) };
        let untold =
            TreeReading { gpu_percent_reason: Some("NOT_SUPPORTED on GPU 0".into()), ..tree(1.0, 1) };
        meter.tick(&sample(10.0, 0.0), &untold, 1.0);
        assert_eq!(meter.counters().gpu_process_percent, None);
        assert_eq!(
            meter.counters().not_measured.get("gpu_process_percent").map(String::as_str),
            Some("NOT_SUPPORTED on GPU 0")
        );
        meter.tick(&sample(10.0, 0.0), &told(90.0), 2.0);
        meter.tick(&sample(10.0, 0.0), &told(30.0), 5.0);
        // 90 % for 1 s, 30 % for 3 s.
        assert_eq!(meter.counters().gpu_process_percent, Some(45.0));
        assert!(!meter.counters().not_measured.contains_key("gpu_process_percent"));
    }

    #[test]
    fn the_window_is_the_last_thirty_seconds() {
        let mut meter = Meter::new(CountedFrom::Start, None);
        for second in 1..=40 {
            meter.tick(&sample(50.0, 0.0), &tree(f64::from(second) * 0.5, 0), f64::from(second));
        }
        let window = meter.last_window().expect("40 s measured");
        assert!((window.wall_s - 30.0).abs() < 1.01, "{}", window.wall_s);
        assert!((window.cpu_user_s.expect("measured") - window.wall_s * 0.5).abs() < 1e-9);
        let mut short = Meter::new(CountedFrom::Start, None);
        short.tick(&sample(50.0, 0.0), &tree(1.0, 0), 10.0);
        assert!(short.last_window().is_none(), "not 30 s yet");
    }

    #[test]
    fn the_wrappers_totals_raise_the_readings_and_never_lower_them() {
        let mut measured = RunCounters {
            cpu_user_s: Some(9.0),
            cpu_wait_s: Some(1.0),
            io_some_s: Some(2.0),
            wall_s: 20.0,
            ..RunCounters::default()
        };
        measured.not_measured.insert("read_bytes".into(), "EACCES".into());
        let exit = RunCounters {
            cpu_user_s: Some(9.4),
            read_bytes: Some(4096),
            wall_s: 20.3,
            ..RunCounters::default()
        };
        merge_exit(&mut measured, &exit);
        assert_eq!(
            (measured.cpu_user_s, measured.read_bytes, measured.cpu_wait_s),
            (Some(9.4), Some(4096), Some(1.0))
        );
        assert_eq!((measured.io_some_s, measured.wall_s), (Some(2.0), 20.3));
        assert!(!measured.not_measured.contains_key("read_bytes"));

        // An orphan's 2 s, kept from its last reading, that the wrapper's
        // `wait` never saw: the readings stay.
        let mut measured = RunCounters {
            cpu_user_s: Some(2.0),
            minor_faults: Some(900),
            wall_s: 8.0,
            ..RunCounters::default()
        };
        let exit = RunCounters {
            cpu_user_s: Some(0.009),
            minor_faults: Some(300),
            major_faults: Some(1),
            wall_s: 8.1,
            ..RunCounters::default()
        };
        merge_exit(&mut measured, &exit);
        assert_eq!(
            (measured.cpu_user_s, measured.minor_faults, measured.major_faults, measured.wall_s),
            (Some(2.0), Some(900), Some(1), 8.1)
        );
        // The wall time is the wrapper's, also when the tick that found the
        // process gone made ours longer.
        let mut measured = RunCounters { wall_s: 7.0, ..RunCounters::default() };
        merge_exit(&mut measured, &RunCounters { wall_s: 6.2, ..RunCounters::default() });
        assert_eq!(measured.wall_s, 6.2);
    }
}
