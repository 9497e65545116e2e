//! The verdict in words: the headline, each share's evidence, durations and
//! sizes as a reader says them.

use shared::depth::perf::{BRANCH_MISSES, BRANCHES, CACHE_MISSES, CACHE_REFERENCES, CYCLES};
use shared::why::{CountedFrom, MIN_JUDGED_S, RunCounters, RunPerf, ShareKind};

use super::rules::{self, Bar, Gpu, NotJudged};

/// A duration as a reader says it: `4 s`, `9.9 s`, `41 s`, `3 min 7 s`,
/// `41 min`, `2 h 5 min`. Under 10 s to a tenth, cut rather than rounded, so a
/// run of 9.96 s never reads as the 10 s it lacks.
pub fn duration_words(seconds: f64) -> String {
    let s = rules::figure(Some(seconds)).unwrap_or(0.0);
    if s < 10.0 {
        return format!("{} s", trim((s * 10.0).floor() / 10.0, 1));
    }
    let whole = s.round() as u64;
    match (whole / 3600, whole / 60 % 60, whole % 60) {
        (0, 0, s) => format!("{s} s"),
        (0, m, 0) => format!("{m} min"),
        (0, m, s) if m < 10 => format!("{m} min {s} s"),
        // 59 min 30 s and more round to the hour, not to "60 min".
        (0, 59, s) if s >= 30 => "1 h".into(),
        (0, m, s) => format!("{} min", m + u64::from(s >= 30)),
        (h, 0, _) => format!("{h} h"),
        (h, m, _) => format!("{h} h {m} min"),
    }
}

/// Seconds in evidence: a tenth below a minute (`33.6 s`), else in words.
/// How far (with 1 % more) the task-clock may run over the kernel's user +
/// system totals and still be the same time (both round: the totals to ticks,
/// scaled to the scheduler's clock), before the evidence says the clock
/// counted more.
const CLOCK_OVER_TOTALS_S: f64 = 0.05;

fn secs(seconds: f64) -> String {
    if seconds < 60.0 { format!("{seconds:.1} s") } else { duration_words(seconds) }
}

/// A percent as the headline and the bar say it: `82 %`.
pub fn percent_words(percent: f64) -> String {
    // `+ 0.0` turns a -0 into 0, so nothing reads "-0 %".
    format!("{:.0} %", percent + 0.0)
}

/// `value` with `decimals`, without trailing zeros (`1.6`, `2`).
fn trim(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_owned() } else { text }
}

/// Bytes in binary units: `512 B`, `3.2 MiB`, `1.2 GiB`.
fn bytes(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < units.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{n} B") } else { format!("{value:.1} {}", units[unit]) }
}

/// The headline of a run that is not judged.
pub fn not_judged(why: &NotJudged) -> String {
    match why {
        NotJudged::TooShort(wall_s) => format!(
            "Too short to judge: {} (needs {})",
            duration_words(*wall_s),
            duration_words(MIN_JUDGED_S)
        ),
        NotJudged::NotMeasured(why) => format!("Not measured: {why}"),
    }
}

/// What the headline and the evidence are made from.
pub struct Facts<'a> {
    /// The run's counters.
    pub c: &'a RunCounters,
    /// Its wall time, handed out.
    pub bar: &'a Bar,
    /// The GPUs' seconds beside it.
    pub gpu: &'a Gpu,
    /// The machine's logical cores, when known.
    pub cores: Option<u32>,
}

impl Facts<'_> {
    /// Mean cores the tree kept busy.
    fn cores_busy(&self) -> f64 {
        self.bar.cpu_s / self.bar.wall_s
    }

    /// Whom the run waited behind for a CPU: its own threads when it kept
    /// nearly every core busy itself, else other processes.
    fn behind(&self) -> &'static str {
        match self.cores {
            // A hair under, so exactly 90 % of 13 cores (11.7 against
            // 11.700000000000001 in floating point) counts.
            Some(n) if self.cores_busy() >= rules::OWN_THREADS_BUSY * f64::from(n) - 1e-9 => {
                "behind its own threads"
            }
            Some(_) => "behind other processes",
            None => "behind other tasks",
        }
    }

    /// `1 of 2 cores`, `1.6 of 2 cores`, `1 core`, `its 1 core`: at least one,
    /// since a run on CPU at all holds a core while it runs, and never more
    /// than the machine has (the run's and the machine's clocks differ a
    /// little).
    fn cores_words(&self) -> String {
        let busy = match self.cores {
            Some(n) if n > 0 => self.cores_busy().clamp(1.0, f64::from(n)),
            _ => self.cores_busy().max(1.0),
        };
        let busy = trim(busy, 1);
        match self.cores {
            Some(1) => "its 1 core".into(),
            Some(n) => format!("{busy} of {n} cores"),
            None if busy == "1" => "1 core".into(),
            None => format!("{busy} cores"),
        }
    }

    /// The percent `kind` has in the bar or beside it.
    fn percent(&self, kind: ShareKind) -> Option<f64> {
        let seconds = match kind {
            ShareKind::GpuBusy => self.gpu.busy,
            ShareKind::GpuStarved => self.gpu.starved,
            ShareKind::GpuThrottled => self.gpu.throttled,
            bar_kind => self.bar.get(bar_kind),
        }?;
        Some(self.bar.percent(seconds))
    }
}

/// One sentence: what bound the run and for how much of its wall time, the
/// next biggest share, then the caveats (steal, throttling, counted from
/// registration, what was not measured).
pub fn headline(f: &Facts, bound: ShareKind) -> String {
    let p = |kind| percent_words(f.percent(kind).unwrap_or(0.0));
    let wall = duration_words(f.bar.wall_s);
    let mut text = match bound {
        ShareKind::Cpu => format!("CPU-bound on {} for {} of its {wall}", f.cores_words(), p(bound)),
        ShareKind::CpuWait => format!("Waiting for a CPU {} of its {wall}, {}", p(bound), f.behind()),
        ShareKind::Io => format!("IO-stalled {} of its {wall}", p(bound)),
        ShareKind::Memory => format!("Memory-stalled {} of its {wall}", p(bound)),
        ShareKind::Idle => format!(
            "Idle {} of its {wall}: waiting outside the machine (an API, the network, a lock)",
            p(bound)
        ),
        ShareKind::GpuBusy => format!("GPU-bound: a GPU busy {} of its {wall}", p(bound)),
        ShareKind::GpuStarved | ShareKind::GpuThrottled => {
            format!("Input-bound: the GPU idle while the CPU was saturated {} of its {wall}", p(bound))
        }
    };
    // The share as the bar shows it (to a tenth, largest remainder), so a
    // share the bar shows at 10.0 % is named.
    let second = rules::percents(f.bar)
        .into_iter()
        .filter(|(kind, _)| *kind != bound)
        .filter(|(_, percent)| *percent >= rules::SECOND_SHARE_PERCENT)
        .fold(None, |best: Option<(ShareKind, f64)>, (kind, percent)| match best {
            Some((_, top)) if top >= percent => best,
            _ => Some((kind, percent)),
        });
    if let Some((kind, percent)) = second {
        let share = percent_words(percent);
        text.push_str(&match kind {
            ShareKind::Cpu => format!("; {share} on CPU"),
            ShareKind::CpuWait => format!("; {share} waiting for a CPU {}", f.behind()),
            ShareKind::Io => format!("; {share} stalled on IO"),
            ShareKind::Memory => format!("; {share} stalled on memory"),
            _ => format!("; {share} idle, waiting outside the machine"),
        });
    }
    if let Some(steal) = rules::steal_percent(f.c, f.bar.wall_s)
        && rules::tenth(steal) >= rules::STEAL_PERCENT
    {
        text.push_str(&format!("; {} of the machine's CPU stolen by the hypervisor", percent_words(steal)));
    }
    if let Some(throttled) = f.percent(ShareKind::GpuThrottled)
        && rules::tenth(throttled) >= rules::THROTTLED_PERCENT
    {
        let reasons: Vec<&str> = f.c.gpu_throttled_s.keys().map(String::as_str).collect();
        text.push_str(&format!("; a GPU throttled {} ({})", percent_words(throttled), reasons.join(", ")));
    }
    if f.c.counted_from == CountedFrom::Registration {
        text.push_str("; counted from its registration, not its start");
    }
    if !f.bar.untold.is_empty() {
        let names: Vec<&str> = f.bar.untold.iter().map(|(kind, _)| untold_name(*kind)).collect();
        text.push_str(&format!("; not measured: {}", names.join(", ")));
    }
    text
}

/// A kind the bar could not tell, as the headline names it.
fn untold_name(kind: ShareKind) -> &'static str {
    match kind {
        ShareKind::CpuWait => "waiting for a CPU",
        ShareKind::Io => "IO stall",
        ShareKind::Memory => "memory stall",
        other => other.label(),
    }
}

/// `; 4.2 s of it fell in time already counted above`, when the figure was
/// cut down to what the kinds before it left.
fn overlap(raw: f64, taken: f64) -> String {
    let cut = raw - taken;
    if cut >= 0.05 {
        format!("; {} of it fell in time already counted above", secs(cut))
    } else {
        String::new()
    }
}

/// A count the counters may lack: the figure, or why not.
fn count(c: &RunCounters, value: Option<u64>, field: &str, what: &str) -> String {
    match value {
        Some(n) => format!("{n} {what}"),
        None => format!("{what} not measured ({})", rules::why_not(c, field)),
    }
}

/// The figures a share came from, in words.
pub fn evidence(f: &Facts, kind: ShareKind) -> String {
    let c = f.c;
    let taken = f.bar.get(kind).unwrap_or(0.0);
    match kind {
        ShareKind::Cpu => {
            let of = f.cores.map(|n| format!(" of {n}")).unwrap_or_default();
            let accounted = c.cpu_user_s.zip(c.cpu_system_s);
            // The task-clock counted more than the kernel's totals (beyond
            // their rounding): processes nobody waited for, which only it has.
            let whose = match accounted {
                Some((user, system)) if f.bar.cpu_s <= (user + system) * 1.01 + CLOCK_OVER_TOTALS_S => {
                    format!("CPU {} user + {} system", secs(user), secs(system))
                }
                Some((user, system)) => format!(
                    "CPU {} by perf's task-clock, which keeps the time of processes nobody waited for \
                     (the kernel's totals, which lose it: {} user + {} system)",
                    secs(f.bar.cpu_s),
                    secs(user),
                    secs(system)
                ),
                None => {
                    format!(
                        "CPU {} by perf's task-clock (the kernel's totals not measured: {})",
                        secs(f.bar.cpu_s),
                        rules::why_not(c, rules::missing_cpu_total(c))
                    )
                }
            };
            let mut text = format!(
                "{whose} over {}: {:.2}{of} cores busy on average (perf stat's \"CPUs utilized\")",
                duration_words(f.bar.wall_s),
                f.cores_busy()
            );
            if f.bar.cpu_s > f.bar.wall_s {
                text.push_str("; more than one core at once, and the bar counts each moment on CPU once");
            }
            text.push_str(&format!(
                "; {}",
                count(c, c.involuntary_switches, "involuntary_switches", "involuntary context switches")
            ));
            if let Some(perf) = &c.perf {
                text.push_str(&perf_evidence(perf));
            }
            text
        }
        ShareKind::CpuWait => {
            let raw = rules::figure(c.cpu_wait_s).unwrap_or(0.0);
            let mut text = format!(
                "run-queue delay {} summed over its threads (schedstat), {}{}",
                secs(raw),
                f.behind(),
                overlap(raw, taken)
            );
            if let Some(some) = rules::figure(c.cpu_some_s) {
                text.push_str(&format!(
                    "; machine-wide, some task waited for a CPU {} of the time (PSI cpu some)",
                    percent_words(f.bar.percent(some))
                ));
            }
            if let Some(saturated) = rules::figure(c.machine_cpu_saturated_s) {
                text.push_str(&format!(
                    "; the machine's CPU saturated (at least 90 % busy) {} of the time",
                    percent_words(f.bar.percent(saturated))
                ));
            }
            text
        }
        ShareKind::Io => {
            let raw = rules::figure(c.io_some_s).unwrap_or(0.0);
            let full = rules::figure(c.io_full_s)
                .map(|s| format!(", every task at once {} (io full)", secs(s)))
                .unwrap_or_default();
            let stall = format!(
                "some task on the machine stalled on IO for {} (PSI io some, machine-wide{full})",
                secs(raw)
            );
            if rules::did_no_io(c) {
                return format!("{stall}, but the run read and wrote nothing to storage: not its stall");
            }
            let own = match (c.read_bytes, c.write_bytes) {
                (Some(r), Some(w)) => format!("the run read {} and wrote {} to storage", bytes(r), bytes(w)),
                (r, _) => {
                    let field = if r.is_none() { "read_bytes" } else { "write_bytes" };
                    format!("the run's storage bytes not measured ({})", rules::why_not(c, field))
                }
            };
            format!("{stall}; {own}{}", overlap(raw, taken))
        }
        ShareKind::Memory => {
            let raw = rules::figure(c.memory_some_s).unwrap_or(0.0);
            let full = rules::figure(c.memory_full_s)
                .map(|s| format!(", every task at once {} (memory full)", secs(s)))
                .unwrap_or_default();
            let stall = format!(
                "some task on the machine stalled on memory for {} (PSI memory some, machine-wide{full})",
                secs(raw)
            );
            let swap = match (c.swap_in_pages, c.swap_out_pages) {
                (Some(i), Some(o)) => format!("the machine swapped {i} pages in and {o} out"),
                (None, _) => format!("swap not measured ({})", rules::why_not(c, "swap_in_pages")),
                (Some(_), None) => format!("swap not measured ({})", rules::why_not(c, "swap_out_pages")),
            };
            let faults = count(c, c.major_faults, "major_faults", "major faults");
            if rules::no_memory_evidence(c) {
                return format!("{stall}, but the run had {faults} and {swap}: not its stall");
            }
            format!("{stall}; the run had {faults}; {swap}{}", overlap(raw, taken))
        }
        ShareKind::Idle => {
            let mut text = format!(
                "the rest of its {}: neither on CPU, nor queued for one, nor stalled: waiting outside the machine \
                 (an API, the network, a lock, a sleep); {}",
                duration_words(f.bar.wall_s),
                count(
                    c,
                    c.voluntary_switches,
                    "voluntary_switches",
                    "voluntary context switches (its threads blocked)"
                )
            );
            for (kind, why) in &f.bar.untold {
                text.push_str(&format!("; may hold {} (not measured: {why})", untold_name(*kind)));
            }
            text
        }
        ShareKind::GpuBusy => gpu_busy_evidence(f),
        ShareKind::GpuStarved => format!(
            "the GPUs under 10 % busy while the machine's CPU was at least 90 % busy for {} \
             (SageMaker Debugger's CPUBottleneck counts more than half the time as a bottleneck)",
            secs(f.gpu.starved.unwrap_or(0.0))
        ),
        ShareKind::GpuThrottled => {
            let reasons: Vec<String> =
                c.gpu_throttled_s.iter().map(|(reason, s)| format!("{reason} {}", secs(*s))).collect();
            let longest = c.gpu_throttled_s.values().copied().fold(0.0, f64::max);
            match reasons.len() {
                0 => "no device the run used was throttled (NVML clock-event reasons)".into(),
                1 => format!("{} (NVML clock-event reason)", reasons[0]),
                _ => format!(
                    "{} (NVML clock-event reasons; they can overlap, so at least {} and at most their sum)",
                    reasons.join(" + "),
                    secs(longest)
                ),
            }
        }
    }
}

/// The GPU busy share's figures.
fn gpu_busy_evidence(f: &Facts) -> String {
    let c = f.c;
    let busy = f.gpu.busy.unwrap_or(0.0);
    let mut text = format!(
        "the busiest GPU busy {} of {} (utilisation integrated)",
        secs(busy),
        duration_words(f.bar.wall_s)
    );
    if f.bar.percent(busy) < rules::GPU_LOW_PERCENT {
        text.push_str(
            "; under 70 % on average (SageMaker Debugger's LowGPUUtilization flags a p95 under 70 %)",
        );
    }
    match rules::figure(c.gpu_process_percent) {
        Some(p) => text.push_str(&format!("; the run's own processes {p:.0} % (NVML per process)")),
        None => text.push_str(&format!(
            "; the run's own share not measured ({})",
            rules::why_not(c, "gpu_process_percent")
        )),
    }
    if let Some(j) = rules::figure(c.gpu_energy_j) {
        text.push_str(&format!("; {j:.0} J, {:.0} W on average", j / f.bar.wall_s));
    }
    if let Some(b) = c.gpu_peak_memory_bytes {
        text.push_str(&format!("; at most {} of GPU memory", bytes(b)));
    }
    text
}

/// What `perf stat` would add: its task-clock, IPC, and cache and branch miss
/// ratios with the colour `perf stat` gives them; or why the hardware
/// counters were not there.
fn perf_evidence(perf: &RunPerf) -> String {
    let value = |name: &str| perf.events.get(name).filter(|e| e.available).and_then(|e| e.value);
    let mut text = String::new();
    if let Some(ms) = value("task-clock") {
        text.push_str(&format!("; perf stat task-clock {}", secs(ms / 1000.0)));
    }
    if let Some(ipc) = perf.ipc {
        text.push_str(&format!("; {ipc:.2} instructions per cycle"));
    }
    for (misses, of, what) in
        [(CACHE_MISSES, CACHE_REFERENCES, "cache misses"), (BRANCH_MISSES, BRANCHES, "branch misses")]
    {
        if let (Some(m), Some(total)) = (value(misses), value(of))
            && total > 0.0
        {
            let ratio = m / total * 100.0;
            text.push_str(&format!("; {what} {ratio:.1} % of {of}{}", perf_colour(ratio)));
        }
    }
    if let Some(cycles) = perf.events.get(CYCLES)
        && !cycles.available
    {
        let why = cycles.reason.as_deref().unwrap_or("not counted");
        text.push_str(&format!("; hardware counters not available ({why})"));
    }
    if perf.counted_from == CountedFrom::Registration {
        text.push_str(" (perf counters from registration)");
    }
    text
}

/// `perf stat`'s colour for a miss ratio (its `get_ratio_color`: above 20 %
/// red, above 10 % magenta, above 5 % yellow), in words.
fn perf_colour(ratio: f64) -> &'static str {
    if ratio > 20.0 {
        " (perf stat colours above 20 % red)"
    } else if ratio > 10.0 {
        " (perf stat colours above 10 % magenta)"
    } else if ratio > 5.0 {
        " (perf stat colours above 5 % yellow)"
    } else {
        ""
    }
}
