//! Machine-wide hardware and software counters through `perf_event_open`, as
//! `perf stat -a` counts them: one counter per online CPU and event (pid -1,
//! cpu N, kernel included), opened once, read every tick and summed.
//!
//! # Why perf-event2
//! The workspace denies `unsafe` code, so the syscall, its `perf_event_attr`
//! and the group read format come from a crate. `perf-event2` is the fork of
//! Jim Blandy's `perf-event` that carries its development on (the original's
//! 0.4 line lacks the `read_format` choice and the newer attribute fields):
//! `Builder::one_cpu` + `any_pid` for CPU-wide counters, a group read in one
//! `read(2)` with the kernel's enabled/running times, the kernel's errno kept
//! in its `io::Error`; it builds with this toolchain from the registry, and
//! its dependencies are small (the generated bindings, bitflags, memmap2).
//! `perfcnt` is about raw x86 PMU event tables and one process's counters,
//! not the generic events machine-wide.
//!
//! # What is opened
//! Ten events, in four groups per CPU: {cycles, instructions, branches,
//! branch-misses}, {cache-references, cache-misses}, the software events
//! {context-switches, cpu-migrations, page-faults} and {cpu-clock} alone (as a
//! group sibling its count came back stale: 0 after the first interval). A group is
//! scheduled on the PMU as a whole, so IPC and the miss ratios compare counts
//! over exactly the same time even when the kernel multiplexes. Each hardware
//! group fits the registers of any PMU PerfMon meets (four programmable ones
//! with the NMI watchdog holding one: cycles, branches and branch-misses take
//! three, instructions has a fixed one), where one group of six may not fit
//! and would then never count; the software events stay in their own group,
//! exact, whatever the PMU does. The first event of a group that opens leads
//! it, so an event that fails (ENOENT on a VM without a PMU) never takes the
//! others down with it; each event keeps its own reason
//! (`open_failure_reason`). An event is available only when it opened on
//! every online CPU: a sum over some of them is not the machine's figure.
//!
//! # Cost
//! One group read is one `read(2)`: 4 per CPU and read where the PMU is there,
//! 2 here. PerfMon reads them every 5 s, on the slow sources' thread. Reading a CPU-wide counter from another CPU makes the kernel ask
//! that CPU (an IPI): measured on this 2-vCPU VM, 1.5 µs for the reader's own
//! CPU and about 24 µs for the other's, so a tick costs about N × groups × the
//! machine's IPI time. The counters accumulate in the kernel whatever the
//! cadence: reading them less often costs less and loses nothing but detail.
//!
//! Opening is never retried: a refused event stays refused until restart (the
//! PMU and `perf_event_paranoid` do not change under a running server). CPUs
//! are those online at open; one brought online later is not counted. Each
//! counter holds a file descriptor: 10 per CPU (640 on a 64-CPU machine), and
//! an open that meets the descriptor limit names `ulimit -n`.
//!
//! # Values
//! Each read gives, per group, the count of every member and the group's
//! `time_enabled`/`time_running` in ns. An interval's value is
//! `Δcount × Δenabled / Δrunning`, as `perf stat -I` scales a multiplexed
//! counter, summed over CPUs; the rate divides each CPU's value by its own
//! `Δenabled`, the kernel's clock for the counters, not the reader's. The
//! baseline is the zero the kernel starts from when the counters are enabled,
//! so the first reading already covers a real interval (since `new`).
//!
//! # Layout
//! - [`PerfCollector`]: `new()`, `with_root(dir)` (a fake CPU list and
//!   paranoid level; the counters are the real kernel's), `read()`.
//! - [`PerfReading`], [`EventReading`]: exact values;
//!   [`PerfReading::to_contract`] for `shared::depth::perf::PerfEvents`.
//! - Pure helpers: [`parse_cpu_list`], [`scaled_delta`], [`ipc`],
//!   [`open_failure_reason`].

use std::io;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use perf_event::events::{Hardware, Software};
use perf_event::{Builder, Counter, ReadFormat};
use shared::depth::perf as contract;

/// Where an event is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// By the CPU's performance monitoring unit (PMU).
    Hardware,
    /// By the kernel itself.
    Software,
}

impl EventKind {
    /// The contract's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Hardware => "hardware",
            EventKind::Software => "software",
        }
    }
}

/// The event to ask the kernel for.
#[derive(Clone, Copy)]
enum Source {
    Hw(Hardware),
    Sw(Software),
}

/// One event PerfMon opens.
struct EventSpec {
    /// `perf stat`'s name for it (the contract's key).
    name: &'static str,
    /// What to open.
    source: Source,
    /// Which of the per-CPU groups it is counted in.
    group: usize,
    /// Counts nanoseconds, reported in msec as `perf stat` does.
    clock: bool,
}

/// The events, in `contract::EVENT_NAMES` order.
const EVENTS: [EventSpec; 10] = [
    EventSpec { name: contract::CYCLES, source: Source::Hw(Hardware::CPU_CYCLES), group: 0, clock: false },
    EventSpec {
        name: contract::INSTRUCTIONS,
        source: Source::Hw(Hardware::INSTRUCTIONS),
        group: 0,
        clock: false,
    },
    EventSpec {
        name: contract::CACHE_REFERENCES,
        source: Source::Hw(Hardware::CACHE_REFERENCES),
        group: 1,
        clock: false,
    },
    EventSpec {
        name: contract::CACHE_MISSES,
        source: Source::Hw(Hardware::CACHE_MISSES),
        group: 1,
        clock: false,
    },
    EventSpec {
        name: contract::BRANCHES,
        source: Source::Hw(Hardware::BRANCH_INSTRUCTIONS),
        group: 0,
        clock: false,
    },
    EventSpec {
        name: contract::BRANCH_MISSES,
        source: Source::Hw(Hardware::BRANCH_MISSES),
        group: 0,
        clock: false,
    },
    EventSpec {
        name: contract::CONTEXT_SWITCHES,
        source: Source::Sw(Software::CONTEXT_SWITCHES),
        group: 2,
        clock: false,
    },
    EventSpec {
        name: contract::CPU_MIGRATIONS,
        source: Source::Sw(Software::CPU_MIGRATIONS),
        group: 2,
        clock: false,
    },
    EventSpec {
        name: contract::PAGE_FAULTS,
        source: Source::Sw(Software::PAGE_FAULTS),
        group: 2,
        clock: false,
    },
    // A group of its own: as a sibling in a group read, the kernel returned
    // cpu-clock's count as of the group's start, so every interval after the
    // first read 0 (seen in a running server, 5 s apart); read on its own it
    // is brought up to date by the read.
    EventSpec { name: contract::CPU_CLOCK, source: Source::Sw(Software::CPU_CLOCK), group: 3, clock: true },
];

/// How many groups each CPU has (see the module doc).
const GROUPS: usize = 4;

impl EventSpec {
    fn kind(&self) -> EventKind {
        match self.source {
            Source::Hw(_) => EventKind::Hardware,
            Source::Sw(_) => EventKind::Software,
        }
    }

    /// A CPU-wide counter for this event on `cpu`: every process (pid -1),
    /// kernel included as `perf stat -a` counts (a context switch or a fault
    /// happens in the kernel: excluding it would count none), disabled until
    /// its group is enabled.
    fn builder(&self, cpu: usize) -> Builder<'static> {
        let mut builder = match self.source {
            Source::Hw(event) => Builder::new(event),
            Source::Sw(event) => Builder::new(event),
        };
        builder.one_cpu(cpu).any_pid().include_kernel();
        builder
    }
}

/// One reading of a counter as the kernel gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RawCount {
    /// Events counted since the counter was enabled.
    pub count: u64,
    /// ns the counter has been enabled.
    pub enabled_ns: u64,
    /// ns it actually ran on the hardware (less than enabled when multiplexed).
    pub running_ns: u64,
}

/// One counter over one interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Delta {
    /// Events in the interval, scaled up by `Δenabled / Δrunning`.
    pub value: f64,
    /// The interval's length by the counter's clock, in seconds.
    pub seconds: f64,
    /// Share of the interval the counter ran, 0–1.
    pub running: f64,
}

/// The change between two readings of a counter, scaled for multiplexing as
/// `perf stat -I` does. `None` when no time passed, when the counter did not
/// run at all in the interval (`<not counted>`), or when a value went
/// backwards (never from the kernel; not worth a made-up number).
pub fn scaled_delta(before: RawCount, now: RawCount) -> Option<Delta> {
    let count = now.count.checked_sub(before.count)?;
    let enabled = now.enabled_ns.checked_sub(before.enabled_ns).filter(|ns| *ns > 0)?;
    let running = now.running_ns.checked_sub(before.running_ns).filter(|ns| *ns > 0)?;
    let running = running.min(enabled);
    let value =
        if running == enabled { count as f64 } else { count as f64 * (enabled as f64 / running as f64) };
    Some(Delta { value, seconds: enabled as f64 / 1e9, running: running as f64 / enabled as f64 })
}

/// Instructions per cycle; `None` when either count is missing or no cycle
/// was counted.
pub fn ipc(instructions: Option<f64>, cycles: Option<f64>) -> Option<f64> {
    match (instructions, cycles) {
        (Some(instructions), Some(cycles)) if cycles > 0.0 => Some(instructions / cycles),
        _ => None,
    }
}

/// The CPUs a kernel CPU list names (`0-3,8,10-11`, as in
/// `/sys/devices/system/cpu/online`); `None` when the text is not one.
pub fn parse_cpu_list(text: &str) -> Option<Vec<usize>> {
    // More than any machine Linux runs on: a larger list is a misread.
    const MOST_CPUS: usize = 8192;
    let mut cpus = Vec::new();
    for part in text.trim().split(',') {
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (a.trim().parse::<usize>().ok()?, b.trim().parse::<usize>().ok()?),
            None => {
                let cpu = part.trim().parse::<usize>().ok()?;
                (cpu, cpu)
            }
        };
        if last < first || last >= MOST_CPUS {
            return None;
        }
        cpus.extend(first..=last);
    }
    cpus.sort_unstable();
    cpus.dedup();
    Some(cpus)
}

/// Why an event could not be opened, in plain words, from the kernel's errno
/// (`None`: the crate's own error, `detail` says it) and the
/// `kernel.perf_event_paranoid` level when it could be read.
pub fn open_failure_reason(
    kind: EventKind,
    errno: Option<i32>,
    paranoid: Option<i64>,
    detail: &str,
) -> String {
    let Some(errno) = errno else {
        return format!("the kernel does not accept this counter's options ({detail})");
    };
    match Errno::from_raw(errno) {
        Errno::ENOENT | Errno::EOPNOTSUPP | Errno::ENODEV if kind == EventKind::Hardware => {
            "no hardware performance counters on this machine (a VM without a CPU PMU)".to_string()
        }
        Errno::ENOENT | Errno::EOPNOTSUPP | Errno::ENODEV => {
            "this kernel does not count this software event".to_string()
        }
        Errno::EACCES | Errno::EPERM => match paranoid {
            Some(level) if level <= 0 => format!(
                "refused although kernel.perf_event_paranoid is {level}: a container or seccomp \
                 policy forbids perf_event_open (it needs CAP_PERFMON)"
            ),
            Some(level) => format!(
                "kernel.perf_event_paranoid is {level}; run as root or set it to ≤ 0 (machine-wide counters)"
            ),
            None => "perf_event_open was refused and kernel.perf_event_paranoid cannot be read; run as \
                     root or set it to ≤ 0 (machine-wide counters)"
                .to_string(),
        },
        Errno::ENOSYS => {
            "this kernel has no perf events (built without CONFIG_PERF_EVENTS, or a sandbox blocks the call)"
                .to_string()
        }
        Errno::EMFILE | Errno::ENFILE => "too many open files: one counter per CPU and event needs more \
                                          file descriptors (raise ulimit -n)"
            .to_string(),
        Errno::EBUSY => "the counters are held exclusively by another user (EBUSY)".to_string(),
        _ => format!("perf_event_open failed: {detail}"),
    }
}

/// `open_failure_reason` for an `io::Error` from the crate.
fn reason_for(kind: EventKind, err: &io::Error, paranoid: Option<i64>) -> String {
    open_failure_reason(kind, err.raw_os_error(), paranoid, &err.to_string())
}

/// One group of counters on one CPU.
struct CpuGroup {
    /// The group's counters with the index of their event in `EVENTS`; the
    /// first leads the group and is the one read.
    counters: Vec<(usize, Counter)>,
    /// Each counter's previous reading, as `counters`; zero before the first.
    previous: Vec<RawCount>,
}

impl CpuGroup {
    /// Opens `group`'s events on `cpu`, noting each failure in `failures`;
    /// `None` when none opened.
    fn open(
        cpu: usize,
        group: usize,
        paranoid: Option<i64>,
        failures: &mut [Option<String>; EVENTS.len()],
    ) -> Option<CpuGroup> {
        let mut counters: Vec<(usize, Counter)> = Vec::new();
        for (index, spec) in EVENTS.iter().enumerate().filter(|(_, spec)| spec.group == group) {
            let mut builder = spec.builder(cpu);
            let opened = match counters.first_mut() {
                Some((_, leader)) => builder.build_with_group(leader),
                None => builder
                    .read_format(
                        ReadFormat::GROUP
                            | ReadFormat::TOTAL_TIME_ENABLED
                            | ReadFormat::TOTAL_TIME_RUNNING
                            | ReadFormat::ID,
                    )
                    .build(),
            };
            match opened {
                Ok(counter) => counters.push((index, counter)),
                Err(err) => {
                    failures[index].get_or_insert_with(|| reason_for(spec.kind(), &err, paranoid));
                }
            }
        }
        let (_, leader) = counters.first_mut()?;
        if let Err(err) = leader.enable_group() {
            for (index, _) in &counters {
                failures[*index].get_or_insert_with(|| format!("the counter could not be started: {err}"));
            }
            return None;
        }
        let previous = vec![RawCount::default(); counters.len()];
        Some(CpuGroup { counters, previous })
    }
}

/// One event over the last interval, exactly as read.
#[derive(Debug, Clone, PartialEq)]
pub struct EventReading {
    /// `perf stat`'s name for it.
    pub name: &'static str,
    /// Hardware or software.
    pub kind: EventKind,
    /// `msec` for a clock, `None` for a count.
    pub unit: Option<&'static str>,
    /// Opened on every online CPU.
    pub available: bool,
    /// Why it is not available, or why this interval has no value.
    pub reason: Option<String>,
    /// Events (msec for a clock) in the interval, summed over CPUs, scaled.
    pub value: Option<f64>,
    /// `value` per second.
    pub per_s: Option<f64>,
    /// The least share of the interval it ran on any CPU, 0–100.
    pub running_percent: Option<f64>,
}

/// Every event over the last interval.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PerfReading {
    /// Online CPUs counted.
    pub cpus: usize,
    /// Why nothing is counted at all (no CPU list); events say it too.
    pub error: Option<String>,
    /// The interval's length by the counters' clock, in ms (mean over CPUs).
    pub interval_ms: Option<f64>,
    /// Each event, in `shared::depth::perf::EVENT_NAMES` order.
    pub events: Vec<EventReading>,
}

#[allow(dead_code)] // used once wired into sampling
impl PerfReading {
    /// The event called `name`.
    pub fn event(&self, name: &str) -> Option<&EventReading> {
        self.events.iter().find(|e| e.name == name)
    }

    /// The event's value over the interval, when counted.
    fn value(&self, name: &str) -> Option<f64> {
        self.event(name).and_then(|e| e.value)
    }

    /// Instructions per cycle over the interval.
    pub fn ipc(&self) -> Option<f64> {
        ipc(self.value(contract::INSTRUCTIONS), self.value(contract::CYCLES))
    }

    /// The `perf_events` section.
    pub fn to_contract(&self) -> contract::PerfEvents {
        let available = self.events.iter().any(|e| e.available);
        let error = if available {
            None
        } else if let Some(error) = &self.error {
            Some(error.clone())
        } else {
            // Every distinct reason once: "hardware's; software's".
            let mut reasons: Vec<&str> = Vec::new();
            for reason in self.events.iter().filter_map(|e| e.reason.as_deref()) {
                if !reasons.contains(&reason) {
                    reasons.push(reason);
                }
            }
            Some(if reasons.is_empty() { "no event could be opened".to_string() } else { reasons.join("; ") })
        };
        contract::PerfEvents {
            available,
            error,
            cpus: u32::try_from(self.cpus).ok().filter(|n| *n > 0),
            interval_ms: self.interval_ms.map(crate::units::round1),
            // Set by the sampler, which knows when the reading was taken.
            age_ms: None,
            ipc: self.ipc(),
            events: self
                .events
                .iter()
                .map(|e| {
                    let event = contract::PerfEvent {
                        available: e.available,
                        reason: e.reason.clone(),
                        kind: e.kind.as_str().to_string(),
                        unit: e.unit.map(str::to_string),
                        // A tenth is as much as a count scaled over an
                        // interval can say.
                        value: e.value.map(crate::units::round1),
                        per_s: e.per_s.map(crate::units::round1),
                        running_percent: e.running_percent.map(crate::units::round1),
                    };
                    (e.name.to_string(), event)
                })
                .collect(),
        }
    }
}

/// The counters, opened once; [`PerfCollector::read`] each tick. Blocking
/// (one `read(2)` per group and CPU), microseconds: keep it off async workers.
#[allow(dead_code)] // used once wired into sampling
pub struct PerfCollector {
    /// Online CPUs at open.
    cpus: usize,
    /// Why nothing was opened at all (the CPU list could not be read).
    error: Option<String>,
    /// Each event's first open failure (`EVENTS` order); `None`: opened on every CPU.
    failures: [Option<String>; EVENTS.len()],
    /// Every group on every CPU that opened.
    groups: Vec<CpuGroup>,
}

impl std::fmt::Debug for PerfCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerfCollector")
            .field("cpus", &self.cpus)
            .field("error", &self.error)
            .field("groups", &self.groups.len())
            .finish_non_exhaustive()
    }
}

#[allow(dead_code)] // used once wired into sampling
impl PerfCollector {
    /// Opens every event on every online CPU of this machine.
    pub fn new() -> Self {
        Self::with_root(Path::new("/"))
    }

    /// Opens the counters on the CPUs that `root/sys/devices/system/cpu/online`
    /// lists, naming `root/proc/sys/kernel/perf_event_paranoid`'s level in a
    /// refusal: a fake tree for tests (the counters are always the real kernel's).
    pub fn with_root(root: &Path) -> Self {
        let online: PathBuf = root.join("sys/devices/system/cpu/online");
        let paranoid = std::fs::read_to_string(root.join("proc/sys/kernel/perf_event_paranoid"))
            .ok()
            .and_then(|text| text.trim().parse::<i64>().ok());
        let Some(cpus) = std::fs::read_to_string(&online).ok().and_then(|t| parse_cpu_list(&t)) else {
            let error = "the list of online CPUs (/sys/devices/system/cpu/online) cannot be read".to_string();
            tracing::info!("perf events unavailable: {error}");
            return PerfCollector {
                cpus: 0,
                failures: std::array::from_fn(|_| Some(error.clone())),
                error: Some(error),
                groups: Vec::new(),
            };
        };
        let mut failures: [Option<String>; EVENTS.len()] = Default::default();
        let mut groups = Vec::new();
        for &cpu in &cpus {
            for group in 0..GROUPS {
                groups.extend(CpuGroup::open(cpu, group, paranoid, &mut failures));
            }
        }
        for (spec, failure) in EVENTS.iter().zip(&failures) {
            if let Some(reason) = failure {
                tracing::debug!("perf event {} unavailable: {reason}", spec.name);
            }
        }
        PerfCollector { cpus: cpus.len(), error: None, failures, groups }
    }

    /// Every event since the previous reading (since `new` for the first).
    pub fn read(&mut self) -> PerfReading {
        /// One event's interval, summed over CPUs.
        #[derive(Default)]
        struct Sum {
            value: f64,
            per_s: f64,
            running: f64,
            cpus: usize,
            missing: Option<String>,
        }
        let mut sums: [Sum; EVENTS.len()] = Default::default();
        for sum in &mut sums {
            sum.running = 1.0;
        }
        let (mut seconds, mut intervals) = (0.0, 0usize);
        for group in &mut self.groups {
            let data = match group.counters[0].1.read_group() {
                Ok(data) => data,
                Err(err) => {
                    for (index, _) in &group.counters {
                        sums[*index]
                            .missing
                            .get_or_insert_with(|| format!("reading the counter failed: {err}"));
                    }
                    continue;
                }
            };
            let enabled_ns = data.time_enabled().map_or(0, |t| t.as_nanos() as u64);
            let running_ns = data.time_running().map_or(0, |t| t.as_nanos() as u64);
            let mut counted = false;
            for ((index, counter), previous) in group.counters.iter().zip(&mut group.previous) {
                let sum = &mut sums[*index];
                let Some(entry) = data.get(counter) else {
                    sum.missing.get_or_insert_with(|| "the kernel's reading left this counter out".into());
                    continue;
                };
                let now = RawCount { count: entry.value(), enabled_ns, running_ns };
                match scaled_delta(*previous, now) {
                    Some(delta) => {
                        sum.value += delta.value;
                        sum.per_s += delta.value / delta.seconds;
                        sum.running = sum.running.min(delta.running);
                        sum.cpus += 1;
                        if !counted {
                            seconds += delta.seconds;
                            intervals += 1;
                            counted = true;
                        }
                    }
                    None => {
                        sum.missing.get_or_insert_with(|| {
                            "not counted in this interval (the CPU's counters were all in use)".into()
                        });
                    }
                }
                *previous = now;
            }
        }
        let events = EVENTS
            .iter()
            .zip(&self.failures)
            .zip(sums)
            .map(|((spec, failure), sum)| {
                let counted = failure.is_none() && sum.missing.is_none() && sum.cpus == self.cpus;
                // Clocks count ns; perf stat prints msec.
                let scale = if spec.clock { 1e-6 } else { 1.0 };
                EventReading {
                    name: spec.name,
                    kind: spec.kind(),
                    unit: spec.clock.then_some("msec"),
                    available: failure.is_none(),
                    reason: failure.clone().or(if counted {
                        None
                    } else {
                        sum.missing.or_else(|| Some("not counted on every CPU in this interval".into()))
                    }),
                    value: counted.then_some(sum.value * scale),
                    per_s: counted.then_some(sum.per_s * scale),
                    running_percent: counted.then_some(sum.running * 100.0),
                }
            })
            .collect();
        PerfReading {
            cpus: self.cpus,
            error: self.error.clone(),
            interval_ms: (intervals > 0).then(|| seconds * 1e3 / intervals as f64),
            events,
        }
    }
}

impl Default for PerfCollector {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    const PMU_REASON: &str = "no hardware performance counters on this machine (a VM without a CPU PMU)";

    #[test]
    fn cpu_lists_are_ranges_and_singles() {
        assert_eq!(parse_cpu_list("0-1\n"), Some(vec![0, 1]));
        assert_eq!(parse_cpu_list("0"), Some(vec![0]));
        assert_eq!(parse_cpu_list("0-3,8,10-11"), Some(vec![0, 1, 2, 3, 8, 10, 11]));
        assert_eq!(parse_cpu_list(""), None);
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("a-b"), None);
        assert_eq!(parse_cpu_list("0-99999"), None);
    }

    #[test]
    fn a_full_interval_is_the_count_and_the_kernel_clock() {
        let before = RawCount { count: 1_000, enabled_ns: 1_000_000_000, running_ns: 1_000_000_000 };
        let now = RawCount { count: 3_000, enabled_ns: 1_500_000_000, running_ns: 1_500_000_000 };
        let delta = scaled_delta(before, now).expect("counted");
        assert_eq!(delta, Delta { value: 2_000.0, seconds: 0.5, running: 1.0 });
    }

    #[test]
    fn the_first_interval_starts_from_the_kernels_zero() {
        let now = RawCount { count: 500, enabled_ns: 250_000_000, running_ns: 250_000_000 };
        let delta = scaled_delta(RawCount::default(), now).expect("counted");
        assert_eq!(delta.value / delta.seconds, 2_000.0);
    }

    #[test]
    fn a_multiplexed_interval_is_scaled_by_its_own_running_share() {
        // Ran a quarter of this interval, though all of the previous one: the
        // interval's own share scales it, not the lifetime's.
        let before = RawCount { count: 10_000, enabled_ns: 1_000, running_ns: 1_000 };
        let now = RawCount { count: 10_100, enabled_ns: 2_000, running_ns: 1_250 };
        let delta = scaled_delta(before, now).expect("counted");
        assert_eq!(delta.value, 400.0);
        assert_eq!(delta.running, 0.25);
    }

    #[test]
    fn not_counted_no_time_or_backwards_has_no_value() {
        let before = RawCount { count: 10, enabled_ns: 1_000, running_ns: 500 };
        let not_run = RawCount { count: 10, enabled_ns: 2_000, running_ns: 500 };
        assert_eq!(scaled_delta(before, not_run), None);
        assert_eq!(scaled_delta(before, before), None);
        let backwards = RawCount { count: 5, enabled_ns: 2_000, running_ns: 1_500 };
        assert_eq!(scaled_delta(before, backwards), None);
    }

    #[test]
    fn ipc_is_instructions_over_cycles_when_both_are_counted() {
        assert_eq!(ipc(Some(3_000.0), Some(2_000.0)), Some(1.5));
        assert_eq!(ipc(Some(3_000.0), Some(0.0)), None);
        assert_eq!(ipc(None, Some(2_000.0)), None);
        assert_eq!(ipc(Some(3_000.0), None), None);
        assert_eq!(ipc(None, None), None);
    }

    #[test]
    fn reasons_name_the_missing_pmu_the_sysctl_or_the_error() {
        use EventKind::{Hardware, Software};
        let errno = |e: Errno| Some(e as i32);
        for e in [Errno::ENOENT, Errno::EOPNOTSUPP, Errno::ENODEV] {
            assert_eq!(open_failure_reason(Hardware, errno(e), Some(2), "x"), PMU_REASON);
        }
        assert_eq!(
            open_failure_reason(Software, errno(Errno::ENOENT), Some(2), "x"),
            "this kernel does not count this software event"
        );
        for e in [Errno::EACCES, Errno::EPERM] {
            assert_eq!(
                open_failure_reason(Hardware, errno(e), Some(2), "x"),
                "kernel.perf_event_paranoid is 2; run as root or set it to ≤ 0 (machine-wide counters)"
            );
        }
        assert!(
            open_failure_reason(Software, errno(Errno::EACCES), Some(3), "x")
                .starts_with("kernel.perf_event_paranoid is 3;")
        );
        let unreadable = open_failure_reason(Software, errno(Errno::EPERM), None, "x");
        assert!(unreadable.contains("kernel.perf_event_paranoid cannot be read"), "{unreadable}");
        let sandboxed = open_failure_reason(Software, errno(Errno::EPERM), Some(-1), "x");
        assert!(sandboxed.contains("is -1") && sandboxed.contains("seccomp"), "{sandboxed}");
        assert!(open_failure_reason(Hardware, errno(Errno::EMFILE), None, "x").contains("ulimit -n"));
        assert!(
            open_failure_reason(Hardware, errno(Errno::ENOSYS), None, "x").contains("CONFIG_PERF_EVENTS")
        );
        assert_eq!(
            open_failure_reason(Hardware, errno(Errno::EINVAL), None, "Invalid argument (os error 22)"),
            "perf_event_open failed: Invalid argument (os error 22)"
        );
        assert!(open_failure_reason(Hardware, None, None, "size 136").contains("size 136"));
    }

    /// Whether this machine exposes a CPU PMU to perf (`cpu` on x86, `cpu_core`
    /// on hybrids, `armv8_pmuv3…` on Arm).
    fn has_cpu_pmu() -> bool {
        std::fs::read_dir("/sys/bus/event_source/devices")
            .map(|dir| {
                dir.flatten().any(|e| {
                    let name = e.file_name().to_string_lossy().to_string();
                    name.starts_with("cpu") || name.contains("pmu")
                })
            })
            .unwrap_or(false)
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("perfmon-perf-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        dir
    }

    /// Two threads handing a token back and forth `round_trips` times: each
    /// hand-over blocks one thread and wakes the other, a context switch each.
    fn ping_pong(round_trips: usize) {
        let (to_b, from_a) = mpsc::channel::<usize>();
        let (to_a, from_b) = mpsc::channel::<usize>();
        let b = std::thread::spawn(move || {
            while let Ok(n) = from_a.recv() {
                if to_a.send(n).is_err() {
                    break;
                }
            }
        });
        for n in 0..round_trips {
            to_b.send(n).expect("b is listening");
            from_b.recv().expect("b answers");
        }
        drop(to_b);
        b.join().expect("b ends");
    }

    #[test]
    fn on_this_machine_software_events_count_and_hardware_ones_say_why_not() {
        let mut collector = PerfCollector::new();
        let reading = collector.read();
        assert!(reading.cpus >= 1);
        assert_eq!(reading.events.len(), EVENTS.len());
        let pmu = has_cpu_pmu();
        for event in reading.events.iter().filter(|e| e.kind == EventKind::Hardware) {
            if pmu {
                assert!(event.available, "{event:?}");
            } else {
                assert!(!event.available, "{event:?}");
                assert_eq!(event.reason.as_deref(), Some(PMU_REASON), "{event:?}");
                assert_eq!((event.value, event.per_s), (None, None));
            }
        }
        for event in reading.events.iter().filter(|e| e.kind == EventKind::Software) {
            assert!(event.available && event.reason.is_none(), "{event:?}");
            assert!(event.per_s.is_some_and(|r| r >= 0.0), "{event:?}");
            assert_eq!(event.running_percent, Some(100.0), "software events are never multiplexed");
        }
        // cpu-clock counts every CPU for the whole interval.
        let interval_ms = reading.interval_ms.expect("an interval");
        let clock = reading.event(contract::CPU_CLOCK).and_then(|e| e.value).expect("cpu-clock");
        let expected = interval_ms * reading.cpus as f64;
        assert!((clock - expected).abs() <= expected * 0.05 + 1.0, "cpu-clock {clock} ms vs {expected} ms");
        // And every interval after the first (a group sibling's count came
        // back stale: 0 from the second read on).
        std::thread::sleep(std::time::Duration::from_millis(300));
        let later = collector.read();
        let clock = later.event(contract::CPU_CLOCK).and_then(|e| e.value).expect("cpu-clock");
        let expected = later.interval_ms.expect("an interval") * later.cpus as f64;
        assert!(
            (clock - expected).abs() <= expected * 0.05 + 1.0,
            "later: cpu-clock {clock} ms vs {expected} ms"
        );

        let section = reading.to_contract();
        assert!(section.available);
        assert_eq!(section.error, None);
        assert_eq!(section.cpus, Some(reading.cpus as u32));
        assert_eq!(section.events.len(), EVENTS.len());
        if !pmu {
            assert_eq!(section.ipc, None);
            assert_eq!(section.events[contract::CYCLES].reason.as_deref(), Some(PMU_REASON));
        }
    }

    #[test]
    fn context_switches_rise_when_threads_ping_pong() {
        const ROUND_TRIPS: usize = 5_000;
        let mut collector = PerfCollector::new();
        let _ = collector.read();
        ping_pong(ROUND_TRIPS);
        let reading = collector.read();
        let switches = reading.event(contract::CONTEXT_SWITCHES).and_then(|e| e.value).expect("counted");
        // Each round trip blocks each thread once; allow the kernel to let one
        // spin through now and then.
        assert!(switches >= ROUND_TRIPS as f64, "{switches} context switches for {ROUND_TRIPS} round trips");
    }

    #[test]
    fn page_faults_rise_when_fresh_memory_is_touched() {
        const PAGES: usize = 4_096;
        let mut collector = PerfCollector::new();
        let _ = collector.read();
        // Transparent huge pages only where madvised (this machine): each 4 KiB
        // page is its own fault. Written one byte a page, so none is skipped.
        let mut memory = vec![0u8; PAGES * 4096];
        for page in memory.chunks_mut(4096) {
            page[0] = 1;
        }
        std::hint::black_box(&memory);
        let faults = collector.read().event(contract::PAGE_FAULTS).and_then(|e| e.value).expect("counted");
        let thp = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").unwrap_or_default();
        let floor = if thp.contains("[always]") { 1.0 } else { PAGES as f64 * 0.9 };
        assert!(faults >= floor, "{faults} page faults for {PAGES} fresh pages");
    }

    #[test]
    fn a_missing_cpu_list_makes_the_section_unavailable_with_a_reason() {
        let root = scratch("no-cpus");
        let mut collector = PerfCollector::with_root(&root);
        let reading = collector.read();
        assert!(reading.events.iter().all(|e| !e.available && e.value.is_none()));
        let section = reading.to_contract();
        assert!(!section.available);
        assert!(section.error.as_deref().is_some_and(|e| e.contains("online CPUs")), "{:?}", section.error);
        assert_eq!(section.cpus, None);
        assert!(section.events.values().all(|e| e.reason == section.error));
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn a_fake_cpu_list_limits_the_counters_to_its_cpus() {
        let root = scratch("one-cpu");
        std::fs::create_dir_all(root.join("sys/devices/system/cpu")).expect("dirs");
        std::fs::write(root.join("sys/devices/system/cpu/online"), "0\n").expect("cpu list");
        let mut collector = PerfCollector::with_root(&root);
        let reading = collector.read();
        assert_eq!(reading.cpus, 1);
        let clock = reading.event(contract::CPU_CLOCK).and_then(|e| e.value).expect("cpu-clock");
        let interval_ms = reading.interval_ms.expect("an interval");
        assert!(
            (clock - interval_ms).abs() <= interval_ms * 0.05 + 1.0,
            "{clock} ms on one CPU in {interval_ms}"
        );
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn a_section_where_nothing_opens_names_each_distinct_reason_once() {
        let event = |name, kind, reason: &str| EventReading {
            name,
            kind,
            unit: None,
            available: false,
            reason: Some(reason.to_string()),
            value: None,
            per_s: None,
            running_percent: None,
        };
        let reading = PerfReading {
            cpus: 2,
            error: None,
            interval_ms: None,
            events: vec![
                event(contract::CYCLES, EventKind::Hardware, PMU_REASON),
                event(contract::INSTRUCTIONS, EventKind::Hardware, PMU_REASON),
                event(contract::CONTEXT_SWITCHES, EventKind::Software, "kernel.perf_event_paranoid is 2; …"),
            ],
        };
        let section = reading.to_contract();
        assert!(!section.available);
        assert_eq!(section.error, Some(format!("{PMU_REASON}; kernel.perf_event_paranoid is 2; …")));
        assert_eq!(section.events[contract::CYCLES].kind, "hardware");
    }

    /// `perf stat -a`'s CSV counts (`-x,`): value,unit,event,… per line.
    fn parse_perf_stat_csv(text: &str) -> Vec<(String, Option<f64>)> {
        text.lines()
            .filter_map(|line| {
                let fields: Vec<&str> = line.split(',').collect();
                (fields.len() >= 3).then(|| (fields[2].to_string(), fields[0].parse::<f64>().ok()))
            })
            .collect()
    }

    /// Waits for `perf stat`'s acknowledgement of a control command, at most 5 s.
    fn acknowledged(acks: &mpsc::Receiver<String>) -> bool {
        acks.recv_timeout(Duration::from_secs(5)).is_ok_and(|text| text.contains("ack"))
    }

    #[test]
    fn software_events_agree_with_perf_stat_over_the_same_second() {
        use std::fs::{File, OpenOptions};
        use std::io::{Read, Write};

        let dir = scratch("perf-stat");
        let (ctl, ack) = (dir.join("ctl"), dir.join("ack"));
        for fifo in [&ctl, &ack] {
            let made = Command::new("mkfifo").arg(fifo).status().is_ok_and(|s| s.success());
            assert!(made, "mkfifo {}", fifo.display());
        }
        let mut collector = PerfCollector::new();
        // perf starts disabled and counts from `enable` to `disable`, sent on its
        // control FIFO: the same second for both, not perf's own start and exit.
        let control = format!("fifo:{},{}", ctl.display(), ack.display());
        let events = "context-switches,page-faults,cpu-migrations";
        let perf = Command::new("perf")
            .args(["stat", "-a", "-e", events, "-x,", "-D", "-1", "--control", &control, "--", "sleep", "2"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn();
        let mut perf = match perf {
            Ok(child) => child,
            Err(err) => panic!("perf (linux-perf) is missing ({err}): scripts/setup.sh installs it"),
        };
        let (to_test, acks) = mpsc::channel();
        let ack_reader = ack.clone();
        std::thread::spawn(move || {
            // Blocks until perf opens its end; ends when perf exits.
            let Ok(mut file) = File::open(&ack_reader) else { return };
            let mut bytes = [0u8; 64];
            while let Ok(n @ 1..) = file.read(&mut bytes) {
                if to_test.send(String::from_utf8_lossy(&bytes[..n]).to_string()).is_err() {
                    break;
                }
            }
        });
        // Read and write: opening a FIFO so never blocks, whatever perf does.
        let mut commands = OpenOptions::new().read(true).write(true).open(&ctl).expect("control fifo");
        let fail = |perf: &mut std::process::Child, what: &str| -> ! {
            let _ = perf.kill();
            // Unblocks the reader if perf never opened its end.
            let _ = OpenOptions::new().read(true).write(true).open(&ack);
            let mut stderr = String::new();
            if let Some(mut pipe) = perf.stderr.take() {
                let _ = pipe.read_to_string(&mut stderr);
            }
            panic!("perf stat --control {what}: {stderr}");
        };
        // perf's window lies inside [before enable, after its ack] … [before
        // disable, after its ack]: PerfMon reads at those four instants, so perf's
        // count must lie between the inner window's and the outer window's, on
        // any machine and under any load the other tests make.
        let _ = collector.read();
        if !(commands.write_all(b"enable\n").is_ok() && acknowledged(&acks)) {
            fail(&mut perf, "did not enable");
        }
        let enabling = collector.read();
        std::thread::sleep(Duration::from_secs(1)); // The measured second.
        let second = collector.read();
        if !(commands.write_all(b"disable\n").is_ok() && acknowledged(&acks)) {
            fail(&mut perf, "did not disable");
        }
        let disabling = collector.read();
        let output = perf.wait_with_output().expect("perf stat ends with its sleep");
        let _ = std::fs::remove_dir_all(&dir);
        let text = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "perf stat failed: {text}");
        let theirs = parse_perf_stat_csv(&text);
        for name in [contract::CONTEXT_SWITCHES, contract::PAGE_FAULTS, contract::CPU_MIGRATIONS] {
            let theirs = theirs
                .iter()
                .find(|(n, _)| n == name)
                .and_then(|(_, v)| *v)
                .unwrap_or_else(|| panic!("perf stat counted no {name}: {text}"));
            let value = |reading: &PerfReading| reading.event(name).and_then(|e| e.value).expect("counted");
            let inner = value(&second);
            let outer = inner + value(&enabling) + value(&disabling);
            // Both count the same kernel events exactly; the slack only allows
            // for a CPU's counter being enabled an instant apart from another's.
            let slack = theirs * 0.02 + 5.0;
            println!("{name}: perf stat {theirs}, PerfMon {inner} to {outer} (slack {slack:.0})");
            assert!(
                inner - slack <= theirs && theirs <= outer + slack,
                "{name}: perf stat {theirs} is not within PerfMon's {inner} to {outer}"
            );
        }
    }

    #[test]
    fn reading_every_counter_costs_microseconds() {
        let mut collector = PerfCollector::new();
        let _ = collector.read();
        const READS: u32 = 2_000;
        let start = Instant::now();
        for _ in 0..READS {
            std::hint::black_box(collector.read());
        }
        let each = start.elapsed() / READS;
        println!(
            "perf read: {:.1} µs for {} CPUs × {} groups ({} events)",
            each.as_secs_f64() * 1e6,
            collector.cpus,
            collector.groups.len() / collector.cpus.max(1),
            EVENTS.len()
        );
        assert!(each < Duration::from_secs(1), "a read should never take a tick");
    }

    #[test]
    fn the_collector_can_move_to_the_sampling_thread() {
        fn send<T: Send>() {}
        send::<PerfCollector>();
    }
}
