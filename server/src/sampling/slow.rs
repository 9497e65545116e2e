//! The slow sources — sensors, filesystems, socket tables and the machine-wide
//! perf counters — read on a thread of their own every [`SLOW_EVERY`], off the
//! tick's path: a socket table on a busy server, `statvfs` on a slow mount or a
//! perf read that interrupts every CPU costs more than a tick may (BENCHMARKS.md),
//! and none of them changes much within seconds. The tick takes the newest
//! readings as they stand and says how old they are (`age_ms`).

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::collect::filesystems::{FilesystemsCollector, FilesystemsReading};
use crate::collect::perf::{PerfCollector, PerfReading};
use crate::collect::sensors::{SensorsCollector, SensorsReading};
use crate::collect::sockets::{SocketsCollector, SocketsReading};

/// How often the slow sources are read: the same 5 s the collectors keep
/// their readings for, and PerfWatch's own cadence.
pub const SLOW_EVERY: Duration = Duration::from_secs(5);

/// What the slow sources read last, each with when.
#[derive(Debug, Clone, Default)]
pub struct SlowReadings {
    /// Frequencies, temperatures, throttle counts.
    pub sensors: Option<(SensorsReading, Instant)>,
    /// Filesystems on real block devices.
    pub filesystems: Option<(FilesystemsReading, Instant)>,
    /// Socket counts and TCP retransmits.
    pub sockets: Option<(SocketsReading, Instant)>,
    /// Machine-wide counters over the last interval.
    pub perf: Option<(PerfReading, Instant)>,
}

/// Milliseconds from `taken` to `now`.
pub fn age_ms(taken: Instant, now: Instant) -> u64 {
    u64::try_from(now.saturating_duration_since(taken).as_millis()).unwrap_or(u64::MAX)
}

#[derive(Debug, Default)]
struct Shared {
    readings: Mutex<SlowReadings>,
    stop: Mutex<bool>,
    wake: Condvar,
}

/// The thread reading the slow sources; stopped and joined on drop.
#[derive(Debug)]
pub struct SlowSampler {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl SlowSampler {
    /// Starts the thread: it opens the collectors (the perf counters on every
    /// CPU), reads once at once, then every [`SLOW_EVERY`].
    pub fn start() -> SlowSampler {
        let shared = Arc::new(Shared::default());
        let thread = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("perfmon-slow".into())
                .spawn(move || run(&shared))
                .map_err(|err| tracing::error!("the slow sources' thread could not start: {err}"))
                .ok()
        };
        SlowSampler { shared, thread }
    }

    /// The newest readings.
    pub fn latest(&self) -> SlowReadings {
        self.shared.readings.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl Drop for SlowSampler {
    fn drop(&mut self) {
        if let Ok(mut stop) = self.shared.stop.lock() {
            *stop = true;
        }
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(shared: &Shared) {
    let mut sensors = SensorsCollector::new();
    let mut filesystems = FilesystemsCollector::new();
    let mut sockets = SocketsCollector::new();
    let mut perf = PerfCollector::new();
    loop {
        let now = Instant::now();
        let read = SlowReadings {
            sensors: Some((sensors.read(now).clone(), Instant::now())),
            filesystems: Some((filesystems.read(now), Instant::now())),
            sockets: Some((sockets.read(now), Instant::now())),
            perf: Some((perf.read(), Instant::now())),
        };
        if let Ok(mut readings) = shared.readings.lock() {
            *readings = read;
        }
        let Ok(stop) = shared.stop.lock() else { return };
        let Ok((stop, _)) = shared.wake.wait_timeout_while(stop, SLOW_EVERY, |stop| !*stop) else { return };
        if *stop {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thread_reads_at_once_and_stops_when_dropped() {
        let slow = SlowSampler::start();
        let deadline = Instant::now() + Duration::from_secs(10);
        while slow.latest().perf.is_none() {
            assert!(Instant::now() < deadline, "no reading within 10 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        let latest = slow.latest();
        assert!(latest.sensors.is_some() && latest.filesystems.is_some() && latest.sockets.is_some());
        let started = Instant::now();
        drop(slow);
        assert!(started.elapsed() < SLOW_EVERY, "dropping wakes the thread rather than waiting it out");
        assert_eq!(age_ms(started, started + Duration::from_millis(1500)), 1500);
    }
}
