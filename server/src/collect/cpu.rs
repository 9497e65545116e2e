//! Whole-machine CPU use and the run-queue load averages: from `/proc/stat` and
//! `/proc/loadavg` kept open (the tick's most expensive reads when cold), with
//! sysinfo where there is no /proc.

use std::time::{Duration, Instant};

use sysinfo::{CpuRefreshKind, System};

use super::procfs::ProcFile;

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

/// The `cpu` (all cores) and `cpuN` lines of a `/proc/stat` text: user nice
/// system idle iowait irq softirq steal (guest time is already in user); idle and
/// iowait are the idle time.
fn parse_stat(text: &str) -> Option<(Times, Vec<Times>)> {
    let mut total = None;
    let mut cores = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("cpu") else { break };
        let (label, fields) = rest.split_once(' ')?;
        let ticks: Vec<u64> = fields.split_whitespace().take(8).filter_map(|f| f.parse().ok()).collect();
        if ticks.len() < 4 {
            return None;
        }
        let idle = ticks[3] + ticks.get(4).copied().unwrap_or(0);
        let all: u64 = ticks.iter().sum();
        let times = Times { busy: all - idle, total: all };
        if label.is_empty() { total = Some(times) } else { cores.push(times) }
    }
    Some((total?, cores))
}

/// The three averages of a `/proc/loadavg` text.
fn parse_loadavg(text: &str) -> Option<[f64; 3]> {
    let mut fields = text.split_whitespace().map(|f| f.parse::<f64>().ok());
    Some([fields.next()??, fields.next()??, fields.next()??])
}

/// Where readings come from.
#[derive(Debug)]
enum Source {
    /// Linux: the kernel's counters, kept open.
    Proc { stat: ProcFile, loadavg: ProcFile, previous: Option<(Times, Vec<Times>)> },
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
    /// Logical cores seen at the last reading.
    cores: Option<usize>,
}

impl CpuCollector {
    /// Takes the baseline reading. The first meaningful one is
    /// [`MINIMUM_INTERVAL`] later. Blocking.
    pub fn new() -> Self {
        let mut stat = ProcFile::new("/proc/stat");
        let source = match stat.read().and_then(parse_stat) {
            Some(baseline) => {
                Source::Proc { stat, loadavg: ProcFile::new("/proc/loadavg"), previous: Some(baseline) }
            }
            None => Source::Sysinfo(match System::new() {
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
            Source::Proc { previous, .. } => previous.as_ref().map(|(_, cores)| cores.len()),
            Source::Sysinfo(system) => system.as_ref().map(|s| s.cpus().len()),
        };
        CpuCollector { source, last_refresh: Instant::now(), last: None, cores: cores.filter(|n| *n > 0) }
    }

    /// Logical cores, as the total is counted over; `None` when unknown.
    pub fn cores(&self) -> Option<usize> {
        self.cores
    }

    /// Reads CPU use at `now`. Too soon after the previous reading the counters
    /// keep their baseline and the last reading is repeated: a sample asked for
    /// early (a run starting wakes the sampler) still has a real figure. Blocking.
    pub fn read(&mut self, now: Instant) -> CpuReading {
        let mut load = None;
        let due = due(self.last_refresh, now);
        match &mut self.source {
            Source::Proc { stat, loadavg, previous } => {
                if due && let Some((total, cores)) = stat.read().and_then(parse_stat) {
                    if let Some((before_total, before_cores)) = previous.as_ref()
                        && let Some(percent) = total.percent_since(*before_total)
                    {
                        let per_core = cores
                            .iter()
                            .zip(before_cores)
                            .map(|(after, before)| after.percent_since(*before).unwrap_or(0.0))
                            .collect();
                        self.last = Some((percent, per_core));
                    }
                    self.cores = Some(cores.len()).filter(|n| *n > 0);
                    *previous = Some((total, cores));
                    self.last_refresh = now;
                }
                load = loadavg.read().and_then(parse_loadavg);
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
}
