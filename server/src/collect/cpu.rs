//! Whole-machine CPU use and the run-queue load averages: from `/proc/stat` and
//! `/proc/loadavg` kept open (the tick's most expensive reads when cold), with
//! sysinfo where there is no /proc. The kernel computes the load averages every
//! 5 s, so `/proc/loadavg` is read every [`LOADAVG_EVERY`], not every tick.
//!
//! The same `/proc/stat` text also gives the detail ([`CpuDetailReading`]): time
//! by mode for the machine and each core, and the scheduler's counters (context
//! switches, interrupts, forks) and gauges (tasks running, blocked). One read
//! serves both; the detail waits in the collector ([`CpuCollector::detail`]) so
//! a tick that does not send it copies nothing.
//!
//! # Layout
//! - [`CpuReading`]: the busy share and load averages every sample carries.
//! - [`CpuDetailReading`], [`CpuModesReading`]: the detail, exact.
//! - [`CpuCollector`]: reads both at most every [`MINIMUM_INTERVAL`].
//! - `Stat`, `Ticks`: one parsed `/proc/stat`, two kept and swapped so a tick
//!   parses into buffers it already has.

use std::mem;
use std::path::Path;
use std::time::{Duration, Instant};

use shared::depth::cpu::{CpuDetail, CpuModes, MAX_CORES};
use sysinfo::{CpuRefreshKind, System};

use super::procfs::ProcFile;
use super::rates::RateCounter;
use super::sensors::SensorsReading;
use crate::units::round1;

/// What the CPU was doing, exactly as read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CpuReading {
    /// Busy share of all cores since the previous reading, 0–100.
    pub percent: Option<f64>,
    /// Busy share of each logical core, 0–100, in core order.
    pub per_core: Vec<f64>,
    /// Load averages over 1, 5 and 15 minutes; `None` where the OS has none.
    pub load: Option<[f64; 3]>,
}

/// Shares of CPU time by mode between two readings, 0–100 each, summing to 100.
/// Guest time, which the kernel counts in `user` (`nice`) as well as in `guest`
/// (`guest_nice`), is counted once: in `guest`, not in `user` or `nice`. A mode
/// is `None` where the kernel's line has no such column.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CpuModesReading {
    /// User code at normal priority, guest time excluded.
    pub user: Option<f64>,
    /// Niced user code, niced guest time excluded.
    pub nice: Option<f64>,
    /// Kernel code.
    pub system: Option<f64>,
    /// Idle with no I/O outstanding.
    pub idle: Option<f64>,
    /// Idle while I/O was outstanding.
    pub iowait: Option<f64>,
    /// Hardware interrupts.
    pub irq: Option<f64>,
    /// Softirqs.
    pub softirq: Option<f64>,
    /// Time the hypervisor gave to others while this machine wanted to run.
    pub steal: Option<f64>,
    /// Guests' virtual CPUs, niced or not.
    pub guest: Option<f64>,
}

impl CpuModesReading {
    /// As the payload sends it: one decimal.
    pub fn to_contract(self) -> CpuModes {
        let r = |v: Option<f64>| v.map(round1);
        CpuModes {
            user_percent: r(self.user),
            nice_percent: r(self.nice),
            system_percent: r(self.system),
            idle_percent: r(self.idle),
            iowait_percent: r(self.iowait),
            irq_percent: r(self.irq),
            softirq_percent: r(self.softirq),
            steal_percent: r(self.steal),
            guest_percent: r(self.guest),
        }
    }
}

/// The detail of one `/proc/stat` reading against the previous one. Rates are
/// `None` until there are two readings, and for a counter the kernel does not
/// write.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CpuDetailReading {
    /// The whole machine's time by mode.
    pub modes: Option<CpuModesReading>,
    /// Each core's, indexed by core number (below [`MAX_CORES`]); `None` for a
    /// core not listed now (offline) or not listed the time before (just online).
    pub per_core: Vec<Option<CpuModesReading>>,
    /// Context switches per second (`ctxt`).
    pub context_switches_per_s: Option<f64>,
    /// Interrupts per second (the first figure of `intr`, their total).
    pub interrupts_per_s: Option<f64>,
    /// Forks per second (`processes`).
    pub forks_per_s: Option<f64>,
    /// Runnable tasks when read (`procs_running`).
    pub procs_running: Option<u64>,
    /// Tasks blocked on I/O when read (`procs_blocked`).
    pub procs_blocked: Option<u64>,
}

impl CpuDetailReading {
    /// The `cpu_detail` section, rounded for the payload (one decimal), with the
    /// sensors' latest reading where there is one.
    #[allow(dead_code)] // used once wired into sampling
    pub fn to_contract(&self, sensors: Option<&SensorsReading>) -> CpuDetail {
        CpuDetail {
            modes: self.modes.map(CpuModesReading::to_contract),
            per_core: self.per_core.iter().map(|m| m.map(CpuModesReading::to_contract)).collect(),
            context_switches_per_s: self.context_switches_per_s.map(round1),
            interrupts_per_s: self.interrupts_per_s.map(round1),
            forks_per_s: self.forks_per_s.map(round1),
            procs_running: self.procs_running,
            procs_blocked: self.procs_blocked,
            sensors: sensors.map(SensorsReading::to_contract).unwrap_or_default(),
        }
    }
}

/// CPU use is a difference of two readings of tick counters that advance 100
/// times a second: closer together than this, the difference is noise.
pub const MINIMUM_INTERVAL: Duration = Duration::from_millis(200);

/// Busy and total time of one CPU line of `/proc/stat`, in clock ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Times {
    busy: u64,
    total: u64,
}

impl Times {
    /// Busy share between `before` and `self`, 0–100; `None` with no time passed.
    fn percent_since(self, before: Times) -> Option<f64> {
        let total = self.total.checked_sub(before.total).filter(|t| *t > 0)?;
        let busy = self.busy.saturating_sub(before.busy).min(total);
        Some(busy as f64 * 100.0 / total as f64)
    }
}

/// The columns of a CPU line, in `/proc/stat`'s order.
const USER: usize = 0;
const NICE: usize = 1;
const IDLE: usize = 3;
const IOWAIT: usize = 4;
const STEAL: usize = 7;
const GUEST: usize = 8;
const GUEST_NICE: usize = 9;
/// Columns read: user nice system idle iowait irq softirq steal guest guest_nice.
const COLUMNS: usize = 10;
/// Columns that make up the time that passed: guest time is already in user
/// and nice, so the two guest columns are not added again.
const ELAPSED_COLUMNS: usize = 8;

/// One CPU line of `/proc/stat`: its counters in clock ticks, and how many
/// columns the kernel wrote (older kernels write fewer; those left are 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Ticks {
    values: [u64; COLUMNS],
    columns: usize,
}

impl Ticks {
    /// The counters after a line's label; `None` with fewer than the four every
    /// kernel writes (user nice system idle).
    fn parse(fields: &str) -> Option<Ticks> {
        let mut ticks = Ticks::default();
        for field in fields.split_ascii_whitespace().take(COLUMNS) {
            let Ok(value) = field.parse() else { break };
            ticks.values[ticks.columns] = value;
            ticks.columns += 1;
        }
        (ticks.columns > IDLE).then_some(ticks)
    }

    /// Busy and total time: idle and iowait are the idle time.
    fn times(&self) -> Times {
        let total: u64 = self.values[..ELAPSED_COLUMNS].iter().sum();
        let idle = self.values[IDLE] + self.values[IOWAIT];
        Times { busy: total - idle, total }
    }

    /// Time by mode between `before` and `self`; `None` with no time passed.
    /// Each column's difference is floored at 0: a kernel's per-CPU idle and
    /// iowait can step back a tick.
    fn modes_since(&self, before: &Ticks) -> Option<CpuModesReading> {
        let columns = self.columns.min(before.columns);
        let delta = |i: usize| (i < columns).then(|| self.values[i].saturating_sub(before.values[i]));
        let elapsed: u64 = (0..ELAPSED_COLUMNS).filter_map(delta).sum();
        if elapsed == 0 {
            return None;
        }
        let share = |ticks: u64| ticks as f64 * 100.0 / elapsed as f64;
        // Guest time is inside user (and niced guest time inside nice): moved out,
        // never more than was there, so the modes still add up to the whole.
        let guest = delta(GUEST).unwrap_or(0).min(delta(USER).unwrap_or(0));
        let guest_nice = delta(GUEST_NICE).unwrap_or(0).min(delta(NICE).unwrap_or(0));
        Some(CpuModesReading {
            user: delta(USER).map(|t| share(t - guest)),
            nice: delta(NICE).map(|t| share(t - guest_nice)),
            system: delta(2).map(share),
            idle: delta(IDLE).map(share),
            iowait: delta(IOWAIT).map(share),
            irq: delta(5).map(share),
            softirq: delta(6).map(share),
            steal: delta(STEAL).map(share),
            guest: delta(GUEST).map(|_| share(guest + guest_nice)),
        })
    }
}

/// One `/proc/stat` text, parsed: the CPU lines and the scheduler's lines.
#[derive(Debug, Clone, Default)]
struct Stat {
    /// The `cpu` line: all cores.
    total: Ticks,
    /// The `cpuN` lines as (N, counters), in the kernel's (ascending) order;
    /// an offline core has no line.
    cores: Vec<(usize, Ticks)>,
    /// `ctxt`: context switches since boot.
    context_switches: Option<u64>,
    /// `intr`'s first figure: interrupts since boot.
    interrupts: Option<u64>,
    /// `processes`: forks since boot.
    forks: Option<u64>,
    /// `procs_running`.
    procs_running: Option<u64>,
    /// `procs_blocked`.
    procs_blocked: Option<u64>,
}

impl Stat {
    /// Parses `text` into this (reusing its buffer of cores). `false` when there
    /// is no `cpu` line or a CPU line is malformed; the contents are then unusable.
    fn parse_from(&mut self, text: &str) -> bool {
        let mut total = None;
        self.cores.clear();
        self.context_switches = None;
        self.interrupts = None;
        self.forks = None;
        self.procs_running = None;
        self.procs_blocked = None;
        for line in text.lines() {
            let Some((key, rest)) = line.split_once(' ') else { continue };
            if let Some(label) = key.strip_prefix("cpu") {
                let Some(ticks) = Ticks::parse(rest) else { return false };
                if label.is_empty() {
                    total = Some(ticks);
                } else if let Ok(core) = label.parse() {
                    self.cores.push((core, ticks));
                }
                continue;
            }
            let first = || rest.split_ascii_whitespace().next().and_then(|v| v.parse().ok());
            match key {
                "intr" => self.interrupts = first(),
                "ctxt" => self.context_switches = first(),
                "processes" => self.forks = first(),
                "procs_running" => self.procs_running = first(),
                "procs_blocked" => {
                    self.procs_blocked = first();
                    // The last line wanted: the long `softirq` line follows.
                    break;
                }
                _ => {}
            }
        }
        match total {
            Some(ticks) => {
                self.total = ticks;
                true
            }
            None => false,
        }
    }
}

/// The `cpu` (all cores) and `cpuN` lines of a `/proc/stat` text as busy and
/// total times.
#[cfg(test)]
fn parse_stat(text: &str) -> Option<(Times, Vec<Times>)> {
    let mut stat = Stat::default();
    stat.parse_from(text).then(|| (stat.total.times(), stat.cores.iter().map(|(_, t)| t.times()).collect()))
}

/// The three averages of a `/proc/loadavg` text.
fn parse_loadavg(text: &str) -> Option<[f64; 3]> {
    let mut fields = text.split_whitespace().map(|f| f.parse::<f64>().ok());
    Some([fields.next()??, fields.next()??, fields.next()??])
}

/// The scheduler's counters, as per-second rates.
#[derive(Debug, Default)]
struct SchedulerRates {
    context_switches: RateCounter,
    interrupts: RateCounter,
    forks: RateCounter,
}

/// The rate of a counter read as `after` at `now`, with `before` the previous
/// reading's value: `None` unless both readings have it (a [`RateCounter`]'s
/// first answer is 0, which is not a rate). Shared by the collectors that turn
/// kernel counters into rates ([`super::pressure`], [`super::vmstat`]).
pub(super) fn rate(
    counter: &mut RateCounter,
    before: Option<u64>,
    after: Option<u64>,
    now: Instant,
) -> Option<f64> {
    let after = after?;
    let rate = counter.update(after, now);
    before.map(|_| rate)
}

/// How often `/proc/loadavg` is read: the kernel updates its averages every
/// 5 s (`LOAD_FREQ`), so reading it every tick reads the same figures.
pub const LOADAVG_EVERY: Duration = Duration::from_secs(5);

/// The kernel's counters, kept open.
#[derive(Debug)]
struct Kernel {
    stat: ProcFile,
    loadavg: ProcFile,
    /// The load averages as last read, and when.
    load: Option<(Option<[f64; 3]>, Instant)>,
    /// The last `/proc/stat` parsed.
    previous: Stat,
    /// The buffer the next is parsed into; the two swap after each reading.
    current: Stat,
    rates: SchedulerRates,
}

/// Where readings come from.
#[derive(Debug)]
enum Source {
    /// Linux: the kernel's counters.
    Proc(Box<Kernel>),
    /// Elsewhere: sysinfo; `None` when it cannot read this OS either.
    Sysinfo(Option<Box<System>>),
}

/// Reads CPU use; owns the counters it is computed from.
#[derive(Debug)]
pub struct CpuCollector {
    source: Source,
    /// When the counters were last read.
    last_refresh: Instant,
    /// The last meaningful reading: total and per core.
    last: Option<(f64, Vec<f64>)>,
    /// The detail of the last meaningful reading.
    detail: CpuDetailReading,
    /// Logical cores seen at the last reading.
    cores: Option<usize>,
}

impl CpuCollector {
    /// Takes the baseline reading. The first meaningful one is
    /// [`MINIMUM_INTERVAL`] later. Blocking.
    pub fn new() -> Self {
        Self::with_root(Path::new("/proc"))
    }

    /// A collector over the `stat` and `loadavg` files under `proc` (a fake
    /// /proc in tests); sysinfo where they cannot be read. Blocking.
    pub fn with_root(proc: &Path) -> Self {
        let mut stat = ProcFile::new(proc.join("stat"));
        let mut baseline = Stat::default();
        let now = Instant::now();
        let source = match stat.read() {
            Some(text) if baseline.parse_from(text) => {
                let mut rates = SchedulerRates::default();
                rate(&mut rates.context_switches, None, baseline.context_switches, now);
                rate(&mut rates.interrupts, None, baseline.interrupts, now);
                rate(&mut rates.forks, None, baseline.forks, now);
                Source::Proc(Box::new(Kernel {
                    stat,
                    loadavg: ProcFile::new(proc.join("loadavg")),
                    load: None,
                    previous: baseline,
                    current: Stat::default(),
                    rates,
                }))
            }
            _ => Source::Sysinfo(match System::new() {
                Ok(mut system) => {
                    system.refresh_cpu_specifics(CpuRefreshKind::nothing().with_usage());
                    Some(Box::new(system))
                }
                Err(err) => {
                    tracing::warn!("CPU metrics unavailable: {err}");
                    None
                }
            }),
        };
        let cores = match &source {
            Source::Proc(kernel) => Some(kernel.previous.cores.len()),
            Source::Sysinfo(system) => system.as_ref().map(|s| s.cpus().len()),
        };
        CpuCollector {
            source,
            last_refresh: now,
            last: None,
            detail: CpuDetailReading::default(),
            cores: cores.filter(|n| *n > 0),
        }
    }

    /// Logical cores, as the total is counted over; `None` when unknown.
    pub fn cores(&self) -> Option<usize> {
        self.cores
    }

    /// The machine's fork count since boot (`processes` in `/proc/stat`, every
    /// process and thread ever created), as the [`read`] at `now` read it;
    /// `None` when that read did not read `/proc/stat` (too soon after the
    /// previous one, or no /proc), so it is not known to be current.
    ///
    /// [`read`]: CpuCollector::read
    pub fn forks_read_at(&self, now: Instant) -> Option<u64> {
        match &self.source {
            Source::Proc(kernel) if self.last_refresh == now => kernel.previous.forks,
            _ => None,
        }
    }

    /// The detail (time by mode, scheduler rates) of the reading [`read`]
    /// last made, from the same `/proc/stat` text; all `None` where there is no
    /// /proc or before a second reading.
    ///
    /// [`read`]: CpuCollector::read
    #[allow(dead_code)] // used once wired into sampling
    pub fn detail(&self) -> &CpuDetailReading {
        &self.detail
    }

    /// Reads CPU use at `now`. Too soon after the previous reading the counters
    /// keep their baseline and the last reading is repeated: a sample asked for
    /// early (a run starting wakes the sampler) still has a real figure. Blocking.
    pub fn read(&mut self, now: Instant) -> CpuReading {
        let mut load = None;
        let due = due(self.last_refresh, now);
        match &mut self.source {
            Source::Proc(kernel) => {
                let Kernel { stat, loadavg, load: kept_load, previous, current, rates } = &mut **kernel;
                if due && stat.read().is_some_and(|text| current.parse_from(text)) {
                    if let Some(percent) = current.total.times().percent_since(previous.total.times()) {
                        let per_core = match self.last.take() {
                            Some((_, buffer)) => buffer,
                            None => Vec::with_capacity(current.cores.len()),
                        };
                        let per_core = compare(previous, current, per_core, &mut self.detail.per_core);
                        self.last = Some((percent, per_core));
                        self.detail.modes = current.total.modes_since(&previous.total);
                    }
                    let detail = &mut self.detail;
                    detail.context_switches_per_s = rate(
                        &mut rates.context_switches,
                        previous.context_switches,
                        current.context_switches,
                        now,
                    );
                    detail.interrupts_per_s =
                        rate(&mut rates.interrupts, previous.interrupts, current.interrupts, now);
                    detail.forks_per_s = rate(&mut rates.forks, previous.forks, current.forks, now);
                    detail.procs_running = current.procs_running;
                    detail.procs_blocked = current.procs_blocked;
                    self.cores = Some(current.cores.len()).filter(|n| *n > 0);
                    mem::swap(previous, current);
                    self.last_refresh = now;
                }
                if kept_load.is_none_or(|(_, at)| now.saturating_duration_since(at) >= LOADAVG_EVERY) {
                    *kept_load = Some((loadavg.read().and_then(parse_loadavg), now));
                }
                load = kept_load.and_then(|(averages, _)| averages);
            }
            Source::Sysinfo(Some(system)) => {
                if due {
                    system.refresh_cpu_specifics(CpuRefreshKind::nothing().with_usage());
                    self.last_refresh = now;
                    let total = f64::from(system.global_cpu_usage()).clamp(0.0, 100.0);
                    let cores =
                        system.cpus().iter().map(|c| f64::from(c.usage()).clamp(0.0, 100.0)).collect();
                    self.last = Some((total, cores));
                }
                load = System::load_average().ok().map(|l| [l.one, l.five, l.fifteen]);
            }
            Source::Sysinfo(None) => {}
        }
        let (percent, per_core) = match &self.last {
            Some((total, cores)) => (Some(*total), cores.clone()),
            None => (None, Vec::new()),
        };
        CpuReading { percent, per_core, load }
    }
}

/// Each core of `after` against the same core (by number) in `before`: the busy
/// share into `busy` (one per line of `after`, 0 for a core with no previous
/// line) and the time by mode into `modes` (indexed by core number). Both
/// buffers are cleared and reused.
fn compare(
    before: &Stat,
    after: &Stat,
    mut busy: Vec<f64>,
    modes: &mut Vec<Option<CpuModesReading>>,
) -> Vec<f64> {
    busy.clear();
    modes.clear();
    let mut earlier = before.cores.iter().peekable();
    for (core, ticks) in &after.cores {
        // Both lists ascend by core number: skip the cores gone offline since.
        while earlier.next_if(|(n, _)| n < core).is_some() {}
        let previous = earlier.next_if(|(n, _)| n == core).map(|(_, t)| t);
        busy.push(previous.and_then(|p| ticks.times().percent_since(p.times())).unwrap_or(0.0));
        if *core < MAX_CORES {
            if modes.len() <= *core {
                modes.resize(*core + 1, None);
            }
            modes[*core] = previous.and_then(|p| ticks.modes_since(p));
        }
    }
    busy
}

/// Whether counters last read at `last` may be read again at `now`.
fn due(last: Instant, now: Instant) -> bool {
    now.saturating_duration_since(last) >= MINIMUM_INTERVAL
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = "\
cpu  1000 0 500 8000 500 0 0 0 0 0
cpu0 600 0 300 3500 100 0 0 0 0 0
cpu1 400 0 200 4500 400 0 0 0 0 0
intr 123 4 5
ctxt 999
";
    const AFTER: &str = "\
cpu  1100 0 550 8250 500 0 0 0 0 0
cpu0 700 0 350 3550 100 0 0 0 0 0
cpu1 400 0 200 4700 400 0 0 0 0 0
intr 123 4 5
";

    #[test]
    fn busy_is_everything_but_idle_and_iowait() {
        let (t0, c0) = parse_stat(BEFORE).expect("parses");
        assert_eq!(t0, Times { busy: 1500, total: 10_000 });
        assert_eq!(c0.len(), 2);
        let (_, c1) = parse_stat(AFTER).expect("parses");
        // cpu0: 150 busy of 200; cpu1: 0 busy of 200.
        assert_eq!(c1[0].percent_since(c0[0]), Some(75.0));
        assert_eq!(c1[1].percent_since(c0[1]), Some(0.0));
        assert_eq!(Times::default().percent_since(Times::default()), None, "no time passed");
    }

    #[test]
    fn garbage_and_missing_lines_read_as_nothing() {
        assert_eq!(parse_stat("intr 1 2 3\n"), None);
        assert_eq!(parse_stat("cpu 1 2\n"), None);
        assert_eq!(parse_loadavg("0.52 0.48 0.40 1/234 5678\n"), Some([0.52, 0.48, 0.40]));
        assert_eq!(parse_loadavg("0.52 x"), None);
    }

    #[test]
    fn counters_are_read_again_only_after_the_minimum_interval() {
        let t0 = Instant::now();
        assert!(!due(t0, t0));
        assert!(!due(t0, t0 + MINIMUM_INTERVAL / 2));
        assert!(due(t0, t0 + MINIMUM_INTERVAL));
        assert!(!due(t0 + MINIMUM_INTERVAL, t0), "a clock that seems to run backwards is not due");
    }

    #[test]
    fn a_reading_too_soon_repeats_the_last_one() {
        let mut cpu = CpuCollector::new();
        let t0 = Instant::now() + MINIMUM_INTERVAL;
        std::thread::sleep(MINIMUM_INTERVAL);
        let first = cpu.read(t0);
        let total = first.percent.expect("a reading after the minimum interval");
        assert!((0.0..=100.0).contains(&total), "{total}");
        assert_eq!(first.per_core.len(), cpu.cores().expect("cores"));
        assert_eq!(Some(first.per_core.len()), std::thread::available_parallelism().ok().map(|n| n.get()));
        // Asked again at the same instant (as the sampler does when woken early):
        // the counters are not re-read, whatever the wall clock says.
        let again = cpu.read(t0);
        assert_eq!((again.percent, again.per_core), (first.percent, first.per_core));
        assert!(again.load.is_some_and(|l| l.iter().all(|v| *v >= 0.0)));
    }

    /// A fake /proc holding `stat` (and a `loadavg`), unique to the test.
    fn fake_proc(name: &str, stat: &str) -> std::path::PathBuf {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("perfmon-cpu-{name}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join("stat"), stat).expect("write stat");
        std::fs::write(dir.join("loadavg"), "0.50 0.40 0.30 1/100 999\n").expect("write loadavg");
        dir
    }

    fn sum(m: &CpuModesReading) -> f64 {
        [m.user, m.nice, m.system, m.idle, m.iowait, m.irq, m.softirq, m.steal, m.guest]
            .iter()
            .flatten()
            .sum()
    }

    #[test]
    fn modes_count_guest_time_once_and_sum_to_the_whole() {
        // 1000 ticks passed: user 100 of which guest 30, nice 10 of which
        // niced guest 5.
        let before = Ticks::parse("100 10 50 800 20 5 5 10 30 5").expect("parses");
        let after = Ticks::parse("200 20 90 1600 40 15 15 20 60 10").expect("parses");
        let m = after.modes_since(&before).expect("time passed");
        assert_eq!(
            m,
            CpuModesReading {
                user: Some(7.0),
                nice: Some(0.5),
                system: Some(4.0),
                idle: Some(80.0),
                iowait: Some(2.0),
                irq: Some(1.0),
                softirq: Some(1.0),
                steal: Some(1.0),
                guest: Some(3.5),
            }
        );
        assert!((sum(&m) - 100.0).abs() < 1e-9);
        assert_eq!(after.modes_since(&after), None, "no time passed");
        // An old kernel's four columns: the rest are unknown, not 0.
        let old = Ticks::parse("10 0 10 80").expect("four columns parse");
        let m = Ticks::parse("20 0 20 160").expect("parses").modes_since(&old).expect("time passed");
        assert_eq!((m.user, m.idle, m.iowait, m.steal, m.guest), (Some(10.0), Some(80.0), None, None, None));
        // Guest time larger than user time (the two are not read atomically)
        // never makes user negative.
        let odd = Ticks::parse("10 0 0 90 0 0 0 0 15 0").expect("parses");
        let m = odd.modes_since(&Ticks::parse("0 0 0 0 0 0 0 0 0 0").expect("parses")).expect("time passed");
        assert_eq!((m.user, m.guest), (Some(0.0), Some(10.0)));
        assert!((sum(&m) - 100.0).abs() < 1e-9);
    }

    const STAT_A: &str = "\
cpu  100 10 50 800 20 5 5 10 30 5
cpu0 50 5 25 400 10 3 2 5 30 5
cpu1 50 5 25 400 10 2 3 5 0 0
intr 1000 1 2 3
ctxt 5000
btime 1700000000
processes 300
procs_running 2
procs_blocked 1
softirq 10 1 2 3
";
    // One second later: cpu1 went offline, cpu2 came online.
    const STAT_B: &str = "\
cpu  200 20 90 1600 40 15 15 20 60 10
cpu0 100 5 45 800 10 3 2 5 30 5
cpu2 1 1 1 1 1 1 1 1 0 0
intr 1500 1 2 3
ctxt 7000
btime 1700000000
processes 310
procs_running 3
procs_blocked 0
softirq 10 1 2 3
";
    // Another second: the context-switch counter went back (a restored
    // checkpoint); the interrupt line is gone.
    const STAT_C: &str = "\
cpu  300 20 130 2400 60 25 25 30 60 10
cpu0 150 5 65 1200 10 3 2 5 30 5
cpu2 101 1 1 101 1 1 1 1 0 0
ctxt 100
processes 320
procs_running 1
procs_blocked 0
";

    #[test]
    fn a_fake_proc_gives_modes_rates_and_gauges_as_cores_come_and_go() {
        let dir = fake_proc("rates", STAT_A);
        let mut cpu = CpuCollector::with_root(&dir);
        assert_eq!(cpu.detail(), &CpuDetailReading::default(), "nothing before a second reading");
        // The baseline of the rates below: read at a known instant.
        let t0 = Instant::now() + MINIMUM_INTERVAL;
        cpu.read(t0);

        std::fs::write(dir.join("stat"), STAT_B).expect("rewrite");
        let r = cpu.read(t0 + Duration::from_secs(1));
        let d = cpu.detail().clone();
        let m = d.modes.expect("machine modes");
        assert_eq!((m.user, m.guest, m.idle), (Some(7.0), Some(3.5), Some(80.0)));
        assert_eq!(
            (d.context_switches_per_s, d.interrupts_per_s, d.forks_per_s),
            (Some(2000.0), Some(500.0), Some(10.0))
        );
        assert_eq!((d.procs_running, d.procs_blocked), (Some(3), Some(0)));
        // cpu0 compared with cpu0; cpu1 is offline (None), cpu2 has no previous (None).
        assert_eq!(d.per_core.len(), 3);
        assert!(d.per_core[0].is_some_and(|m| (sum(&m) - 100.0).abs() < 1e-9));
        assert_eq!((d.per_core[1], d.per_core[2]), (None, None));
        assert_eq!(r.per_core.len(), 2, "one busy share per listed core, as before");
        assert_eq!(r.per_core[1], 0.0, "a core just online has no share yet");
        assert_eq!(cpu.cores(), Some(2));
        assert_eq!(r.load, Some([0.5, 0.4, 0.3]));

        std::fs::write(dir.join("stat"), STAT_C).expect("rewrite");
        cpu.read(t0 + Duration::from_secs(2));
        let d = cpu.detail();
        assert_eq!(d.context_switches_per_s, Some(0.0), "a counter that went back gives 0, not a huge rate");
        assert_eq!(d.interrupts_per_s, None, "a counter no longer written is unknown");
        assert_eq!(d.forks_per_s, Some(10.0));
        assert!(
            d.per_core[2].is_some_and(|m| m.user == Some(50.0) && m.idle == Some(50.0)),
            "{:?}",
            d.per_core
        );

        // The contract rounds to one decimal, and the sensors travel with it.
        let c = d.to_contract(None);
        assert_eq!(c.modes.and_then(|m| m.user_percent), d.modes.and_then(|m| m.user).map(round1));
        assert_eq!(c.per_core.len(), 3);
        assert_eq!(c.sensors, shared::depth::cpu::CpuSensors::default());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_load_averages_are_read_every_5_s_as_the_kernel_computes_them() {
        let dir = fake_proc("load", STAT_A);
        let mut cpu = CpuCollector::with_root(&dir);
        let t0 = Instant::now() + MINIMUM_INTERVAL;
        assert_eq!(cpu.read(t0).load, Some([0.5, 0.4, 0.3]));
        std::fs::write(dir.join("loadavg"), "1.50 0.60 0.35 2/100 999\n").expect("rewrite");
        let kept = cpu.read(t0 + Duration::from_secs(1)).load;
        assert_eq!(kept, Some([0.5, 0.4, 0.3]), "not read again within 5 s");
        assert_eq!(cpu.read(t0 + LOADAVG_EVERY).load, Some([1.5, 0.6, 0.35]));
        std::fs::write(dir.join("loadavg"), "garbage").expect("rewrite");
        assert_eq!(cpu.read(t0 + LOADAVG_EVERY * 2).load, None, "unreadable is unknown, not the last figure");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_stat_without_scheduler_lines_gives_no_rates() {
        let dir = fake_proc("bare", "cpu  1 0 1 8\ncpu0 1 0 1 8\n");
        let mut cpu = CpuCollector::with_root(&dir);
        std::fs::write(dir.join("stat"), "cpu  2 0 2 16\ncpu0 2 0 2 16\n").expect("rewrite");
        let r = cpu.read(Instant::now() + Duration::from_secs(1));
        assert_eq!(r.percent, Some(20.0));
        let d = cpu.detail();
        assert!(d.modes.is_some_and(|m| m.iowait.is_none() && m.user == Some(10.0)));
        assert_eq!((d.context_switches_per_s, d.procs_running), (None, None));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Modes within ±3 percentage points of vmstat's (it prints whole percents,
    /// and the two windows are a few ms apart); context switches and interrupts
    /// within a factor of 3 (the same order of magnitude: the test itself and
    /// its neighbours add some between the two reads).
    fn agrees_with_vmstat(
        v: &std::collections::HashMap<String, f64>,
        d: &CpuDetailReading,
    ) -> Result<(), String> {
        let m = d.modes.ok_or("no modes")?;
        let of = |modes: &[Option<f64>]| modes.iter().flatten().sum::<f64>();
        let modes = [
            // vmstat's us is user + nice, guest time taken out as here; its sy
            // holds the interrupts.
            ("us", of(&[m.user, m.nice])),
            ("sy", of(&[m.system, m.irq, m.softirq])),
            ("id", of(&[m.idle])),
            ("wa", of(&[m.iowait])),
            ("st", of(&[m.steal])),
        ];
        for (name, ours) in modes {
            let theirs = v[name];
            if (theirs - ours).abs() > 3.0 {
                return Err(format!("{name}: vmstat {theirs}, ours {ours:.1} ({m:?})"));
            }
        }
        for (name, ours) in [("cs", d.context_switches_per_s), ("in", d.interrupts_per_s)] {
            let (theirs, ours) = (v[name], ours.ok_or(format!("no {name} rate"))?);
            if !(theirs / 3.0..=theirs * 3.0).contains(&ours) {
                return Err(format!("{name}: vmstat {theirs}, ours {ours:.0}"));
            }
        }
        if d.procs_running.is_none_or(|r| r < 1) {
            return Err(format!("procs_running {:?}: the reader itself runs", d.procs_running));
        }
        Ok(())
    }

    #[test]
    fn modes_and_scheduler_rates_match_vmstat_over_the_same_second() {
        // Up to three windows: on a shared 2-core VM this thread can be kept off
        // the CPU for a while between vmstat's line and our read.
        let mut failures = Vec::new();
        for _ in 0..3 {
            let (vmstat, ours) = test_support::vmstat_second(CpuCollector::new, |mut cpu| {
                cpu.read(Instant::now());
                cpu.detail().clone()
            });
            match agrees_with_vmstat(&vmstat, &ours) {
                Ok(()) => {
                    eprintln!("vmstat {vmstat:?}\nours {ours:?}");
                    return;
                }
                Err(why) => failures.push(why),
            }
        }
        panic!("no window agreed with vmstat: {failures:#?}");
    }

    #[test]
    fn burning_three_threads_raises_user_time() {
        let _burning = test_support::burn(3);
        let mut cpu = CpuCollector::new();
        let deadline = Instant::now() + Duration::from_secs(4);
        loop {
            std::thread::sleep(Duration::from_millis(300));
            cpu.read(Instant::now());
            let user = cpu.detail().modes.and_then(|m| m.user);
            // Three busy threads on every core there is (two here): most of the
            // machine's time is user time, whoever else runs.
            if user.is_some_and(|u| u >= 50.0) {
                return;
            }
            assert!(Instant::now() < deadline, "user time stayed at {user:?} %: {:?}", cpu.detail().modes);
        }
    }
}

/// For the collectors' tests: a CPU load, and `vmstat` as the reference.
#[cfg(test)]
pub(super) mod test_support {
    use std::collections::HashMap;
    use std::io::BufRead;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::thread::JoinHandle;

    /// Runs `vmstat 1 2`: `start` as it prints its first line (the one since
    /// boot), `finish` as it prints its second, so what they measure and what
    /// vmstat's second line says cover the same second, give or take the pipe's
    /// latency. That line by column name, and what `finish` returned.
    pub fn vmstat_second<S, T>(
        start: impl FnOnce() -> S,
        finish: impl FnOnce(S) -> T,
    ) -> (HashMap<String, f64>, T) {
        let mut child = std::process::Command::new("vmstat")
            .args(["1", "2"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("vmstat (procps) is needed here; scripts/setup.sh installs it: {e}"));
        let mut lines = std::io::BufReader::new(child.stdout.take().expect("piped")).lines();
        let mut next = || lines.next().expect("vmstat printed a line").expect("vmstat's output");
        let (_groups, names, _since_boot) = (next(), next(), next());
        let started = start();
        let second = next();
        let ours = finish(started);
        let _ = child.wait();
        let values = names
            .split_whitespace()
            .zip(second.split_whitespace())
            .map(|(name, value)| (name.to_owned(), value.parse().expect("vmstat prints numbers")))
            .collect();
        (values, ours)
    }

    /// Spinning threads; they stop when this is dropped.
    pub struct Burner {
        stop: Arc<AtomicBool>,
        threads: Vec<JoinHandle<()>>,
    }

    /// Starts `threads` threads that keep a core busy each.
    pub fn burn(threads: usize) -> Burner {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..threads)
            .map(|seed| {
                let stop = Arc::clone(&stop);
                std::thread::spawn(move || {
                    let mut x = seed as u64 + 1;
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..10_000 {
                            x = std::hint::black_box(
                                x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1),
                            );
                        }
                    }
                })
            })
            .collect();
        Burner { stop, threads }
    }

    impl Drop for Burner {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::Relaxed);
            for thread in self.threads.drain(..) {
                let _ = thread.join();
            }
        }
    }
}
