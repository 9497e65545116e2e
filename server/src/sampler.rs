//! The one sampler: reads the machine once per tick on a blocking thread and hands
//! the result to the [`Hub`](crate::hub::Hub), which serialises it once per project
//! and fans it out to every socket.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use shared::{
    Cpu, Disk, ErrorCode, ErrorMsg, Gpu, LoadAverage, Memory, Monitor, Network, RunProcess, Timestamp,
};
use sysinfo::{
    CpuRefreshKind, DiskRefreshKind, Disks, MemoryRefreshKind, Networks, ProcessRefreshKind, ProcessStatus,
    ProcessesToUpdate, System,
};
use tokio_util::sync::CancellationToken;

use crate::AppState;
use crate::rates::RateCounter;
use crate::{diskstats, gpu, netdev, proctree, selfcost};

/// The payload's GB and MB are decimal (10^9, 10^6 bytes), as the seed contract has them.
pub(crate) const BYTES_PER_GB: f64 = 1e9;
pub(crate) const BYTES_PER_MB: f64 = 1e6;

/// What the machine looked like at one instant: the project-independent part of a
/// `perf_metrics` message, plus what each requested run's process tree uses.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HostSample {
    /// When the sample was taken (UTC, milliseconds).
    pub timestamp: Timestamp,
    /// Whole-machine CPU use.
    pub cpu: Cpu,
    /// Whole-machine memory use.
    pub memory: Memory,
    /// NVIDIA GPUs, or why there are none.
    pub gpu: Gpu,
    /// Network traffic.
    pub network: Network,
    /// Disk traffic and space.
    pub disk: Disk,
    /// PerfMon's own cost.
    pub monitor: Monitor,
    /// Each requested run root pid: its tree's use, or `None` once it has exited.
    pub runs: HashMap<u32, Option<RunProcess>>,
}

/// Reads the machine; owns the sysinfo state that rates are computed from.
#[derive(Debug)]
pub struct HostSampler {
    /// `None` when sysinfo cannot read this OS; host values are then `null`.
    system: Option<System>,
    /// Network interfaces through sysinfo, only where `/proc/net/dev` is missing
    /// (not Linux): sysinfo reads several files per interface.
    networks: Option<Networks>,
    /// The physical disks whose traffic is summed, and the tick that found them.
    disks_io: (HashSet<String>, u64),
    /// Ticks so far, to refresh the disk set now and then.
    ticks: u64,
    /// The previous reading of this process's own counters.
    own: Option<selfcost::Reading>,
    /// Reads /proc for run trees, with the previous scan's CPU counters.
    scanner: proctree::Scanner,
    /// Bytes per memory page, for resident sizes in /proc.
    page_bytes: u64,
    /// The filesystem holding the working directory, for used/total space.
    disks: Option<Disks>,
    /// Which entry of `disks` holds the working directory.
    home_disk: Option<usize>,
    /// When CPU counters were last read: CPU % is only meaningful after
    /// `sysinfo::MINIMUM_CPU_UPDATE_INTERVAL`.
    last_cpu_refresh: Instant,
    /// The last meaningful CPU reading, repeated when a sample comes too soon after
    /// the previous one (the sampler wakes early when a run starts).
    last_cpu: Option<(f64, Vec<f64>)>,
    /// Rates from counters.
    rx: RateCounter,
    tx: RateCounter,
    disk_read: RateCounter,
    disk_write: RateCounter,
}

/// Ticks between rescans of /sys/block for disks that came or went.
const DISK_RESCAN_TICKS: u64 = 60;

impl Default for HostSampler {
    fn default() -> Self {
        Self::new()
    }
}

impl HostSampler {
    /// Takes the first readings, so that the next [`sample`](Self::sample) has a
    /// baseline to compute usage and rates from. Blocking.
    pub fn new() -> Self {
        let system = match System::new() {
            Ok(mut system) => {
                system.refresh_cpu_specifics(CpuRefreshKind::nothing().with_usage());
                Some(system)
            }
            Err(err) => {
                tracing::warn!("host metrics unavailable: {err}");
                None
            }
        };
        let disks = Disks::new_with_refreshed_list_specifics(DiskRefreshKind::nothing().with_storage())
            .map_err(|err| tracing::warn!("disk space unavailable: {err}"))
            .ok();
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        let home_disk = disks.as_ref().and_then(|d| {
            let mounts: Vec<&Path> = d.iter().map(|disk| disk.mount_point()).collect();
            containing_mount(&cwd, &mounts)
        });
        let mut sampler = HostSampler {
            system,
            networks: match netdev::read() {
                Some(_) => None,
                None => Networks::new_with_refreshed_list()
                    .map_err(|err| tracing::warn!("network metrics unavailable: {err}"))
                    .ok(),
            },
            disks_io: (diskstats::physical_disks(), 0),
            ticks: 0,
            own: selfcost::read(),
            scanner: proctree::Scanner::default(),
            page_bytes: selfcost::page_bytes(),
            disks,
            home_disk,
            last_cpu_refresh: Instant::now(),
            last_cpu: None,
            rx: RateCounter::default(),
            tx: RateCounter::default(),
            disk_read: RateCounter::default(),
            disk_write: RateCounter::default(),
        };
        // Prime the counters: the first real sample then reports a true rate.
        let now = Instant::now();
        sampler.read_network(now);
        sampler.read_disk(now);
        // CPU use is a difference of two readings; take the second now, so that even
        // a sample asked for at once (a run starting) has a real CPU figure.
        std::thread::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL);
        sampler.read_cpu();
        sampler
    }

    /// Reads CPU use if enough time has passed since the last reading; otherwise
    /// the counters keep their baseline and the last reading stands.
    fn read_cpu(&mut self) {
        let Some(system) = self.system.as_mut() else {
            return;
        };
        if self.last_cpu_refresh.elapsed() < sysinfo::MINIMUM_CPU_UPDATE_INTERVAL {
            return;
        }
        system.refresh_cpu_specifics(CpuRefreshKind::nothing().with_usage());
        self.last_cpu_refresh = Instant::now();
        let total = round1(f64::from(system.global_cpu_usage()).clamp(0.0, 100.0));
        let cores = system.cpus().iter().map(|c| round1(f64::from(c.usage()).clamp(0.0, 100.0))).collect();
        self.last_cpu = Some((total, cores));
    }

    /// Reads everything, and the process trees of `run_pids`. Blocking: run it on
    /// a blocking thread.
    pub fn sample(&mut self, run_pids: &[u32]) -> HostSample {
        let timestamp = now();
        let now = Instant::now();
        let mut sample = HostSample { timestamp, ..HostSample::default() };
        // Too soon after the previous reading the rate would be noise: the last
        // real reading is repeated instead.
        self.read_cpu();
        if let Some((total, cores)) = &self.last_cpu {
            sample.cpu.percent = Some(*total);
            sample.cpu.per_core = cores.clone();
        }
        if let Some(system) = self.system.as_mut() {
            system.refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram().with_swap());
            sample.cpu.load_average = System::load_average().ok().map(|l| LoadAverage {
                one: round2(l.one),
                five: round2(l.five),
                fifteen: round2(l.fifteen),
            });
            sample.memory = memory_of(system.total_memory(), system.used_memory());
            sample.memory.swap_total_gb = Some(round1(system.total_swap() as f64 / BYTES_PER_GB));
            sample.memory.swap_used_gb = Some(round1(system.used_swap() as f64 / BYTES_PER_GB));
        }
        sample.network = self.read_network(now);
        sample.disk = self.read_disk(now);
        let gpu = gpu::sample();
        sample.gpu = gpu.gpu;
        self.read_processes(run_pids, &gpu.process_memory, &mut sample);
        sample
    }

    fn read_network(&mut self, now: Instant) -> Network {
        let (rx, tx) = match (netdev::read(), self.networks.as_mut()) {
            (Some(totals), _) => (totals.rx_bytes, totals.tx_bytes),
            (None, Some(networks)) => {
                networks.refresh(true);
                // Loopback is the machine talking to itself (PerfMon's own sockets too).
                networks.iter().filter(|(name, _)| *name != "lo").fold((0u64, 0u64), |(rx, tx), (_, data)| {
                    (rx.saturating_add(data.total_received()), tx.saturating_add(data.total_transmitted()))
                })
            }
            (None, None) => return Network::default(),
        };
        Network {
            rx_bytes_per_s: Some(self.rx.update(rx, now).round()),
            tx_bytes_per_s: Some(self.tx.update(tx, now).round()),
            rx_total_bytes: Some(rx),
            tx_total_bytes: Some(tx),
        }
    }

    fn read_disk(&mut self, now: Instant) -> Disk {
        let mut disk = Disk::default();
        self.ticks += 1;
        if self.ticks - self.disks_io.1 >= DISK_RESCAN_TICKS {
            self.disks_io = (diskstats::physical_disks(), self.ticks);
        }
        if let Some(totals) = diskstats::read(&self.disks_io.0) {
            disk.read_bytes_per_s = Some(self.disk_read.update(totals.read_bytes, now).round());
            disk.write_bytes_per_s = Some(self.disk_write.update(totals.written_bytes, now).round());
        }
        if let (Some(disks), Some(index)) = (self.disks.as_mut(), self.home_disk)
            && let Some(home) = disks.get_mut(index)
        {
            home.refresh_specifics(DiskRefreshKind::nothing().with_storage());
            let total = home.total_space();
            if total > 0 {
                let used = total.saturating_sub(home.available_space());
                disk.used_gb = Some(round1(used as f64 / BYTES_PER_GB));
                disk.total_gb = Some(round1(total as f64 / BYTES_PER_GB));
            }
        }
        disk
    }

    /// The server's own cost, and each run's tree. Scans every process only when a
    /// run is registered (descendants can only be found that way).
    fn read_processes(&mut self, run_pids: &[u32], gpu_memory: &HashMap<u32, u64>, sample: &mut HostSample) {
        if let Some(now) = selfcost::read() {
            sample.monitor = Monitor {
                cpu_percent: self
                    .own
                    .as_ref()
                    .and_then(|before| selfcost::cpu_percent(before, &now))
                    .map(round2),
                rss_mb: Some(round1(now.rss_bytes as f64 / BYTES_PER_MB)),
            };
            self.own = Some(now);
        }
        if run_pids.is_empty() {
            return;
        }
        // The machine's cores, as the host CPU % counts them.
        let cores = match self.system.as_ref().map(|s| s.cpus().len()) {
            Some(n) if n > 0 => n as f64,
            _ => std::thread::available_parallelism().map_or(1, |n| n.get()) as f64,
        };
        let procs = match self.scanner.scan(self.page_bytes, run_pids) {
            Some(procs) => procs,
            // No /proc (not Linux): sysinfo's slower, portable scan.
            None => {
                let Some(system) = self.system.as_mut() else { return };
                let kind = ProcessRefreshKind::nothing().with_cpu().with_memory();
                system.refresh_processes_specifics(ProcessesToUpdate::All, true, kind);
                system
                    .processes()
                    .values()
                    // An exited child not yet reaped by its parent is no longer running.
                    .filter(|p| p.status() != ProcessStatus::Zombie)
                    .map(|p| proctree::ProcInfo {
                        pid: p.pid().as_u32(),
                        parent: p.parent().map(|pp| pp.as_u32()),
                        cpu_percent_of_core: f64::from(p.cpu_usage()),
                        rss_bytes: p.memory(),
                    })
                    .collect()
            }
        };
        for &root in run_pids {
            let usage = proctree::usage(root, &procs).map(|tree| {
                let gpu_bytes: u64 = tree.pids.iter().filter_map(|pid| gpu_memory.get(pid)).sum();
                RunProcess {
                    cpu_percent: Some(round1((tree.cpu_percent_of_core / cores).clamp(0.0, 100.0))),
                    rss_mb: Some(round1(tree.rss_bytes as f64 / BYTES_PER_MB)),
                    gpu_memory_gb: (!gpu_memory.is_empty()).then(|| round1(gpu_bytes as f64 / BYTES_PER_GB)),
                    process_count: tree.pids.len() as u32,
                }
            });
            sample.runs.insert(root, usage);
        }
    }
}

/// The index of the mount point that holds `path` (the longest prefix).
pub fn containing_mount(path: &Path, mounts: &[&Path]) -> Option<usize> {
    mounts
        .iter()
        .enumerate()
        .filter(|(_, mount)| path.starts_with(mount))
        .max_by_key(|(_, mount)| mount.as_os_str().len())
        .map(|(index, _)| index)
}

/// Memory section from byte counts; all `null` when the total is unknown (0).
pub fn memory_of(total_bytes: u64, used_bytes: u64) -> Memory {
    if total_bytes == 0 {
        return Memory::default();
    }
    let used_bytes = used_bytes.min(total_bytes);
    Memory {
        used_gb: Some(round1(used_bytes as f64 / BYTES_PER_GB)),
        total_gb: Some(round1(total_bytes as f64 / BYTES_PER_GB)),
        percent: Some(round1(used_bytes as f64 * 100.0 / total_bytes as f64)),
        ..Memory::default()
    }
}

/// The current UTC time in the contract's format, with milliseconds.
pub fn now() -> Timestamp {
    Timestamp(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// The current UTC time to the second, as run start times are given
/// (`2026-02-08T20:10:00Z`), so run ids stay short.
pub fn now_seconds() -> Timestamp {
    Timestamp(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// One decimal, as every payload value is sent.
pub(crate) fn round1(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

pub(crate) fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// Something that reads the machine once per tick. [`HostSampler`] is the real
/// one; tests substitute others (one that fails, say) to prove the loop survives.
pub trait Source: Send + 'static {
    /// One sample, with the trees of `run_pids`. Blocking.
    fn sample(&mut self, run_pids: &[u32]) -> HostSample;
}

impl Source for HostSampler {
    fn sample(&mut self, run_pids: &[u32]) -> HostSample {
        HostSampler::sample(self, run_pids)
    }
}

/// The sampler task: one per server. Samples, publishes, sleeps for the hub's
/// current cadence, until `shutdown` is cancelled.
pub async fn run(state: Arc<AppState>, shutdown: CancellationToken) {
    run_with(state, shutdown, HostSampler::new).await
}

/// The sampler loop over any [`Source`], made by `make` (on a blocking thread: the
/// real one reads /proc). If sampling panics, clients are told with an `error`
/// message and a fresh source is made for the next tick.
pub async fn run_with<S: Source>(
    state: Arc<AppState>,
    shutdown: CancellationToken,
    make: impl Fn() -> S + Send + Sync + Clone + 'static,
) {
    let mut source: Option<S> = None;
    loop {
        if source.is_none() {
            let make = make.clone();
            source = tokio::task::spawn_blocking(make).await.ok();
        }
        let interval = state.hub.interval();
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
            // A run that turns live must not wait out the long idle sleep.
            _ = state.hub.cadence_changed() => {}
        }
        let Some(mut current) = source.take() else { continue };
        let run_pids = state.hub.live_pids();
        let joined = tokio::task::spawn_blocking(move || {
            let sample = current.sample(&run_pids);
            (current, sample)
        })
        .await;
        match joined {
            Ok((current, sample)) => {
                source = Some(current);
                state.hub.publish(sample);
            }
            Err(err) => {
                // A panic inside sysinfo or NVML: start from a fresh reader next tick
                // rather than leave every client without data, and say so.
                tracing::error!("sampling failed, restarting the sampler: {err}");
                state.hub.broadcast_error(ErrorMsg {
                    code: ErrorCode::SamplerRestarted,
                    message: "sampling failed; the sampler was restarted and data resumes next tick".into(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_is_rounded_to_one_decimal_gb() {
        let m = memory_of(16_000_000_000, 6_240_000_000);
        assert_eq!((m.used_gb, m.total_gb, m.percent), (Some(6.2), Some(16.0), Some(39.0)));
    }

    #[test]
    fn unknown_total_memory_is_null_not_zero() {
        assert_eq!(memory_of(0, 0), Memory::default());
    }

    #[test]
    fn used_memory_never_exceeds_total() {
        assert_eq!(memory_of(8_000_000_000, 9_000_000_000).percent, Some(100.0));
    }

    #[test]
    fn timestamps_are_utc_with_milliseconds() {
        let ts = now();
        let text = ts.as_str();
        assert!(text.ends_with('Z'), "{text}");
        assert!(chrono::DateTime::parse_from_rfc3339(text).is_ok(), "{text}");
        let fraction = text.rsplit('.').next().unwrap_or_default();
        assert_eq!(fraction.len(), 4, "three digits and Z: {text}");
    }

    #[test]
    fn a_sample_has_plausible_values() {
        let mut sampler = HostSampler::new();
        let sample = sampler.sample(&[]);
        let cpu = sample.cpu.percent.expect("cpu after the minimum interval");
        assert!((0.0..=100.0).contains(&cpu), "{cpu}");
        let (used, total) = (sample.memory.used_gb.expect("used"), sample.memory.total_gb.expect("total"));
        assert!(used > 0.0 && used <= total, "{used} of {total}");
        assert_eq!(sample.cpu.per_core.len(), std::thread::available_parallelism().map_or(1, |n| n.get()));
        assert!(sample.cpu.per_core.iter().all(|c| (0.0..=100.0).contains(c)));
        assert!(sample.memory.swap_total_gb.is_some());
        assert!(sample.network.rx_bytes_per_s.is_some_and(|r| r >= 0.0));
        let rss = sample.monitor.rss_mb.expect("own memory");
        assert!(rss > 0.0, "{rss}");
        if cfg!(target_os = "linux") {
            assert!(sample.cpu.load_average.is_some());
            assert!(sample.disk.read_bytes_per_s.is_some());
            let (used, total) =
                (sample.disk.used_gb.expect("disk used"), sample.disk.total_gb.expect("disk total"));
            assert!(used <= total && total > 0.0, "{used} of {total}");
        }
    }

    #[test]
    fn the_working_directory_belongs_to_the_longest_matching_mount() {
        let mounts = [Path::new("/"), Path::new("/work"), Path::new("/work/main/x")];
        assert_eq!(containing_mount(Path::new("/work/main"), &mounts), Some(1));
        assert_eq!(containing_mount(Path::new("/etc"), &mounts), Some(0));
        assert_eq!(containing_mount(Path::new("/workshop"), &mounts), Some(0));
    }

    #[test]
    fn a_run_that_is_not_there_reads_as_exited() {
        let mut sampler = HostSampler::new();
        // Pids are at most 2^22 on Linux: this one cannot exist.
        let sample = sampler.sample(&[u32::MAX - 1]);
        assert_eq!(sample.runs.get(&(u32::MAX - 1)), Some(&None));
    }

    #[test]
    fn a_sample_right_after_creation_already_has_cpu_and_repeats_it_when_too_soon() {
        let mut sampler = HostSampler::new();
        let first = sampler.sample(&[]).cpu;
        assert!(first.percent.is_some(), "the baseline is taken at creation");
        let again = sampler.sample(&[]).cpu;
        assert_eq!((again.percent, again.per_core), (first.percent, first.per_core));
    }
}
