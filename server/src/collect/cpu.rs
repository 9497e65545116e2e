//! Whole-machine CPU use (sysinfo) and the run-queue load averages.

use std::time::{Duration, Instant};

use sysinfo::{CpuRefreshKind, System};

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

/// Reads CPU use; owns the counters it is computed from.
#[derive(Debug)]
pub struct CpuCollector {
    /// `None` when sysinfo cannot read this OS; values are then `null`.
    system: Option<System>,
    /// When the counters were last read.
    last_refresh: Instant,
    /// The last meaningful reading: total and per core.
    last: Option<(f64, Vec<f64>)>,
}

/// sysinfo's CPU figures are differences of two readings, meaningless when the
/// readings are closer than this.
pub const MINIMUM_INTERVAL: Duration = sysinfo::MINIMUM_CPU_UPDATE_INTERVAL;

impl CpuCollector {
    /// Takes the baseline reading. The first meaningful one is
    /// [`MINIMUM_INTERVAL`] later. Blocking.
    pub fn new() -> Self {
        let system = match System::new() {
            Ok(mut system) => {
                system.refresh_cpu_specifics(CpuRefreshKind::nothing().with_usage());
                Some(system)
            }
            Err(err) => {
                tracing::warn!("CPU metrics unavailable: {err}");
                None
            }
        };
        CpuCollector { system, last_refresh: Instant::now(), last: None }
    }

    /// Logical cores, as the total is counted over; `None` when unknown.
    pub fn cores(&self) -> Option<usize> {
        self.system.as_ref().map(|s| s.cpus().len()).filter(|n| *n > 0)
    }

    /// Reads CPU use at `now`. Too soon after the previous reading the counters
    /// keep their baseline and the last reading is repeated: a sample asked for
    /// early (a run starting wakes the sampler) still has a real figure. Blocking.
    pub fn read(&mut self, now: Instant) -> CpuReading {
        if let Some(system) = self.system.as_mut()
            && due(self.last_refresh, now)
        {
            system.refresh_cpu_specifics(CpuRefreshKind::nothing().with_usage());
            self.last_refresh = now;
            let total = f64::from(system.global_cpu_usage()).clamp(0.0, 100.0);
            let cores = system.cpus().iter().map(|c| f64::from(c.usage()).clamp(0.0, 100.0)).collect();
            self.last = Some((total, cores));
        }
        let (percent, per_core) = match &self.last {
            Some((total, cores)) => (Some(*total), cores.clone()),
            None => (None, Vec::new()),
        };
        let load = self.system.as_ref().and(System::load_average().ok()).map(|l| [l.one, l.five, l.fifteen]);
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
        // Asked again at the same instant (as the sampler does when woken early):
        // the counters are not re-read, whatever the wall clock says.
        let again = cpu.read(t0);
        assert_eq!((again.percent, again.per_core), (first.percent, first.per_core));
        assert!(again.load.is_some_and(|l| l.iter().all(|v| *v >= 0.0)));
    }
}
