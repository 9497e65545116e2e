//! The slow sources — sensors, filesystems (and the space of the one PerfMon
//! runs in), socket tables and the machine-wide perf counters — read on a
//! thread of their own every [`SLOW_EVERY`], off the tick's path: a socket
//! table on a busy server, `statvfs` on a slow mount or a
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
use crate::collect::space::{SpaceCollector, SpaceReading};

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
    /// The space of the filesystem PerfMon runs in (the panel's disk figure).
    pub space: Option<SpaceReading>,
    /// Socket counts and TCP retransmits.
    pub sockets: Option<(SocketsReading, Instant)>,
    /// Machine-wide counters over the last interval.
    pub perf: Option<(PerfReading, Instant)>,
    /// What each source's read took, for the benchmark's per-collector table.
    pub costs: Vec<(&'static str, Duration)>,
}

/// The slow sources' payload sections, converted once per reading.
#[derive(Debug, Clone, Default)]
pub struct SlowSections {
    /// Sensors, for the CPU detail.
    pub sensors: Option<SensorsReading>,
    /// Filesystems.
    pub filesystems: shared::depth::disks::Filesystems,
    /// The space of PerfMon's filesystem (none before the first reading).
    pub space: SpaceReading,
    /// Sockets.
    pub sockets: shared::depth::network::Sockets,
    /// Perf counters.
    pub perf_events: shared::depth::perf::PerfEvents,
    /// When each was read: sensors, filesystems, sockets, perf.
    taken: [Option<Instant>; 4],
}

/// Why a slow section is empty before its thread's first reading.
pub const NOT_YET: &str = "not read yet: read every 5 s, off the tick";

impl SlowSections {
    /// The sections of `readings`.
    pub fn from_readings(readings: SlowReadings) -> SlowSections {
        let taken = [
            readings.sensors.as_ref().map(|r| r.1),
            readings.filesystems.as_ref().map(|r| r.1),
            readings.sockets.as_ref().map(|r| r.1),
            readings.perf.as_ref().map(|r| r.1),
        ];
        SlowSections {
            sensors: readings.sensors.map(|(reading, _)| reading),
            space: readings.space.unwrap_or_default(),
            filesystems: match readings.filesystems {
                Some((reading, _)) => reading.to_contract(),
                None => {
                    shared::depth::disks::Filesystems { reason: Some(NOT_YET.into()), ..Default::default() }
                }
            },
            sockets: match readings.sockets {
                Some((reading, _)) => reading.to_contract(),
                None => {
                    shared::depth::network::Sockets { reason: Some(NOT_YET.into()), ..Default::default() }
                }
            },
            perf_events: match readings.perf {
                Some((reading, _)) => reading.to_contract(),
                None => shared::depth::perf::PerfEvents { error: Some(NOT_YET.into()), ..Default::default() },
            },
            taken,
        }
    }

    /// Says how old each reading is at `now`.
    pub fn set_age(&mut self, now: Instant) {
        let [_, filesystems, sockets, perf] = self.taken.map(|t| t.map(|t| age_ms(t, now)));
        if let Some(sensors) = &mut self.sensors {
            sensors.age = self.taken[0].map(|t| now.saturating_duration_since(t));
        }
        self.filesystems.age_ms = filesystems;
        self.sockets.age_ms = sockets;
        self.perf_events.age_ms = perf;
    }
}

/// Per-source timings of one tick, kept only when asked for (a branch each
/// otherwise).
#[derive(Debug)]
pub struct Costs(Option<Vec<(&'static str, Duration)>>);

impl Costs {
    /// Timings, if `on`.
    pub fn new(on: bool) -> Costs {
        Costs(on.then(Vec::new))
    }

    /// Runs `read`, timing it as `name` when on.
    pub fn time<T>(&mut self, name: &'static str, read: impl FnOnce() -> T) -> T {
        let Some(costs) = &mut self.0 else { return read() };
        let start = Instant::now();
        let value = read();
        costs.push((name, start.elapsed()));
        value
    }

    /// The timings taken.
    pub fn into_vec(self) -> Vec<(&'static str, Duration)> {
        self.0.unwrap_or_default()
    }
}

/// Milliseconds from `taken` to `now`.
pub fn age_ms(taken: Instant, now: Instant) -> u64 {
    u64::try_from(now.saturating_duration_since(taken).as_millis()).unwrap_or(u64::MAX)
}

#[derive(Debug, Default)]
struct Shared {
    readings: Mutex<SlowReadings>,
    /// Counts the readings stored, so the tick converts each only once.
    generation: std::sync::atomic::AtomicU64,
    /// Signalled with each reading stored, for [`SlowSampler::wait_first`].
    stored: Condvar,
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

    /// How many readings the thread has stored.
    pub fn generation(&self) -> u64 {
        self.shared.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Waits, at most `limit`, for the thread's first reading: so the first
    /// sample has the slow sources' figures (they are read at once, in a few ms,
    /// unless a mount or the kernel is slow to answer).
    pub fn wait_first(&self, limit: Duration) {
        if self.thread.is_none() {
            return;
        }
        let Ok(readings) = self.shared.readings.lock() else { return };
        let _ = self.shared.stored.wait_timeout_while(readings, limit, |_| self.generation() == 0);
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
    let mut space = SpaceCollector::new();
    let mut sockets = SocketsCollector::new();
    let mut perf = PerfCollector::new();
    loop {
        let mut costs = Costs::new(true);
        let now = Instant::now();
        let read = SlowReadings {
            sensors: Some((
                costs.time("sensors (/sys, /proc/cpuinfo)", || sensors.read(now).clone()),
                Instant::now(),
            )),
            filesystems: Some((
                costs.time("filesystems (statvfs)", || filesystems.read(now)),
                Instant::now(),
            )),
            space: Some(costs.time("PerfMon's filesystem's space (statvfs)", || space.read())),
            sockets: Some((
                costs.time("sockets (netlink or /proc/net/tcp*; udp*, snmp)", || sockets.read(now)),
                Instant::now(),
            )),
            perf: Some((costs.time("perf counters (read(2) per CPU)", || perf.read()), Instant::now())),
            costs: Vec::new(),
        };
        if let Ok(mut readings) = shared.readings.lock() {
            *readings = SlowReadings { costs: costs.into_vec(), ..read };
            shared.generation.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
            shared.stored.notify_all();
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
        slow.wait_first(Duration::from_secs(10));
        let latest = slow.latest();
        assert!(latest.perf.is_some(), "no reading within 10 s");
        assert!(latest.sensors.is_some() && latest.filesystems.is_some() && latest.sockets.is_some());
        let space = latest.space.expect("the space read with the rest");
        assert!(space.total_bytes.is_some_and(|t| t > 0), "{space:?}");
        let started = Instant::now();
        drop(slow);
        assert!(started.elapsed() < SLOW_EVERY, "dropping wakes the thread rather than waiting it out");
        assert_eq!(age_ms(started, started + Duration::from_millis(1500)), 1500);
    }
}
