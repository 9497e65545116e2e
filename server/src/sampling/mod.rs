//! Sampling: the one tick loop of the server, and the only caller of
//! [`crate::collect`].
//!
//! [`HostSampler`] reads every source once per tick on the sampler thread
//! ([`run`], in `ticks`) and hands the [`HostSample`] to a [`Sink`] (the hub, in
//! the server), which fans it out. The loop sleeps for the sink's current
//! cadence and wakes early when the sink says it changed (a run started). The
//! process helpers at the bottom are how layers above read the process table
//! without calling `collect` themselves.

mod sample;
mod slow;
mod ticks;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::time::{Duration, Instant};

use chrono::Utc;

pub use crate::collect::cpu::CpuReading;
use crate::collect::cpu::{self, CpuCollector};
use crate::collect::disk::DiskCollector;
pub use crate::collect::disk::DiskReading;
use crate::collect::gpu::GpuCollector;
pub use crate::collect::gpu::{DeviceReading, GpuReading};
use crate::collect::meminfo;
use crate::collect::memory::MemoryCollector;
pub use crate::collect::memory::MemoryReading;
use crate::collect::network::NetworkCollector;
pub use crate::collect::network::NetworkReading;
use crate::collect::own::OwnCollector;
use crate::collect::pressure::PressureCollector;
use crate::collect::vmstat::{self, VmstatCollector};
use crate::collect::{procfs, proctree};
pub use sample::{
    Depth, HostSample, MonitorReading, Sections, TreeCounters, TreeReading, timestamp_millis,
    timestamp_seconds,
};
pub use slow::SLOW_EVERY;
use slow::{Costs, SlowSampler, SlowSections};
pub use ticks::run;

/// How long the first sample waits for the slow sources' first reading.
const SLOW_FIRST_WAIT: Duration = Duration::from_secs(2);

/// Why a run's GPU memory is unknown inside a container.
const FOREIGN_PIDS: &str =
    "PerfMon runs in a container: NVML lists the host's process ids, which cannot be matched to the run's";

/// Reads the machine; owns every collector's state.
#[derive(Debug)]
pub struct HostSampler {
    cpu: CpuCollector,
    memory: MemoryCollector,
    disk: DiskCollector,
    network: NetworkCollector,
    gpu: GpuCollector,
    /// Pressure stall information, every tick.
    pressure: PressureCollector,
    /// `/proc/vmstat`'s paging counters, every tick.
    vmstat: VmstatCollector,
    /// Sensors, filesystems, sockets and perf counters, on their own thread.
    slow: SlowSampler,
    /// Their sections, converted once per reading of theirs.
    slow_cache: Option<(u64, SlowSections)>,
    /// Whether each source is timed ([`HostSampler::time_sources`]).
    timing: bool,
    /// What each source took in the last timed tick.
    costs: Vec<(&'static str, Duration)>,
    /// NVML reports the host's pids, which cannot be matched to a run's from inside
    /// a container's PID namespace.
    foreign_pids: bool,
    /// Reads /proc for run trees, with the previous scan's CPU counters.
    trees: proctree::Scanner,
    /// PerfMon's own CPU and memory.
    own: OwnCollector,
}

impl Default for HostSampler {
    fn default() -> Self {
        Self::new()
    }
}

impl HostSampler {
    /// Takes the first readings, so that the next [`sample`](Self::sample) has a
    /// baseline for usage and rates: even one asked for at once (a run starting)
    /// has real CPU and rate figures. Blocking (about
    /// [`cpu::MINIMUM_INTERVAL`]).
    pub fn new() -> Self {
        let mut sampler = HostSampler {
            cpu: CpuCollector::new(),
            memory: MemoryCollector::new(),
            disk: DiskCollector::new(),
            network: NetworkCollector::new(),
            gpu: GpuCollector::default(),
            pressure: PressureCollector::new(),
            vmstat: VmstatCollector::new(),
            slow: SlowSampler::start(),
            slow_cache: None,
            timing: false,
            costs: Vec::new(),
            foreign_pids: procfs::in_nested_pid_namespace(),
            trees: proctree::Scanner::default(),
            own: OwnCollector::default(),
        };
        let now = Instant::now();
        sampler.network.read(now);
        sampler.disk.read(now);
        sampler.pressure.read(now);
        sampler.vmstat.read(now);
        sampler.monitor(now);
        std::thread::sleep(cpu::MINIMUM_INTERVAL);
        sampler.cpu.read(Instant::now());
        // Mostly already read by now; a mount slow to answer `statvfs` delays
        // the start by at most this much, and its figures come later.
        sampler.slow.wait_first(SLOW_FIRST_WAIT);
        sampler
    }

    /// The slow sources' sections as their thread last read them, converted
    /// once per new reading (every 5 s), each with its age at `now`.
    fn slow_sections(&mut self, now: Instant) -> SlowSections {
        let latest = self.slow.generation();
        if self.slow_cache.as_ref().is_none_or(|(generation, _)| *generation != latest) {
            let slow = self.slow.latest();
            self.slow_cache = Some((latest, SlowSections::from_readings(slow)));
        }
        let mut sections = self.slow_cache.as_ref().map(|(_, s)| s.clone()).unwrap_or_default();
        sections.set_age(now);
        sections
    }

    /// Reads everything, and the process trees of `run_pids`. Blocking: run it on
    /// a blocking thread.
    pub fn sample(&mut self, run_pids: &[u32]) -> HostSample {
        let taken_at = Utc::now();
        let now = Instant::now();
        let mut costs = Costs::new(self.timing);
        let gpu = costs.time("gpu (NVML)", || self.gpu.read());
        let (mut disk, disks) = costs.time("disks (/sys/block/*/stat)", || self.disk.read_detailed(now));
        let (network, interfaces) =
            costs.time("interfaces (/proc/net/dev)", || self.network.read_detailed(now));
        let cpu = costs.time("cpu and modes (/proc/stat, loadavg)", || self.cpu.read(now));
        let (memory, detail) =
            costs.time("memory and its detail (/proc/meminfo)", || self.memory.read_detailed());
        let memory_detail = meminfo::to_contract(detail.as_ref());
        let pressure = costs.time("pressure (/proc/pressure/*)", || self.pressure.read(now).to_contract());
        let paging =
            costs.time("paging (/proc/vmstat)", || vmstat::to_contract(self.vmstat.read(now).as_ref()));
        let monitor = costs.time("PerfMon itself (getrusage, statm)", || self.monitor(now));
        let slow = costs.time("slow sources' latest (no read)", || self.slow_sections(now));
        (disk.used_bytes, disk.total_bytes) = (slow.space.used_bytes, slow.space.total_bytes);
        let mut cpu_detail = self.cpu.detail().to_contract(slow.sensors.as_ref());
        if slow.sensors.is_none() {
            // Before the slow thread's first reading, say so as its other
            // sections do, rather than "unavailable" with no reason.
            let sensors = &mut cpu_detail.sensors;
            sensors.temperatures.reason = Some(slow::NOT_YET.into());
            sensors.throttle.reason = Some(slow::NOT_YET.into());
        }
        let depth = Depth {
            cpu_detail,
            pressure,
            memory_detail,
            paging,
            disks: disks.to_contract(),
            filesystems: slow.filesystems,
            interfaces: interfaces.to_contract(),
            sockets: slow.sockets,
            perf_events: slow.perf_events,
        };
        let mut sample = HostSample {
            taken_at,
            cpu,
            memory,
            network,
            disk,
            monitor,
            runs: HashMap::new(),
            gpu: Default::default(),
            depth,
        };
        if !run_pids.is_empty() {
            let cores = self.cores();
            // A tree can only grow by a fork: with none anywhere since the last
            // tick, its children lists need not be read again.
            let forks = self.cpu.forks_read_at(now);
            let trees =
                costs.time("runs' trees (/proc/PID/stat, CPU clocks)", || self.trees.trees(run_pids, forks));
            // Whether a run's GPU memory can be told, and if not, why (no reason
            // when the GPU section itself has none to show).
            let gpu_unknown: Option<Option<String>> = match (&gpu.unavailable, &gpu.process_memory_unknown) {
                (Some(_), _) => Some(None),
                (None, Some(reason)) => Some(Some(reason.clone())),
                (None, None) if self.foreign_pids => Some(Some(FOREIGN_PIDS.to_owned())),
                (None, None) => None,
            };
            // The same for its GPU utilisation, which NVML samples per process
            // on fewer devices than it lists memory on.
            let percent_unknown: Option<Option<String>> =
                match (&gpu.unavailable, &gpu.process_percent_unknown) {
                    (Some(_), _) => Some(None),
                    (None, Some(reason)) => Some(Some(reason.clone())),
                    (None, None) if self.foreign_pids => Some(Some(FOREIGN_PIDS.to_owned())),
                    (None, None) => None,
                };
            for (root, tree) in trees {
                let tree = tree.map(|tree| {
                    let gpu_bytes: u64 = tree.pids.iter().filter_map(|pid| gpu.process_memory.get(pid)).sum();
                    let gpu_percent: f64 =
                        tree.pids.iter().filter_map(|pid| gpu.process_percent.get(pid)).sum();
                    TreeReading {
                        cpu_percent: tree.cpu_percent_of_core.map(|of_core| share_of_machine(of_core, cores)),
                        rss_bytes: tree.rss_bytes,
                        gpu_memory_bytes: gpu_unknown.is_none().then_some(gpu_bytes),
                        gpu_memory_reason: gpu_unknown.clone().flatten(),
                        gpu_percent: percent_unknown.is_none().then_some(gpu_percent),
                        gpu_percent_reason: percent_unknown.clone().flatten(),
                        process_count: tree.pids.len() as u32,
                        cpu_seconds: tree.cpu_ticks.map(|ticks| ticks as f64 / procfs::TICKS_PER_SECOND),
                        counters: tree.counters,
                    }
                });
                sample.runs.insert(root, tree);
            }
        } else {
            self.trees.close_files();
        }
        sample.gpu = gpu;
        self.costs = costs.into_vec();
        sample
    }

    /// The next sample reads these runs' tree counters at once, whatever their
    /// age (they are read every few seconds otherwise): for a run's end, when
    /// the caller knows it comes.
    pub fn force_tree_counters(&mut self, run_pids: &[u32]) {
        self.trees.force_counters(run_pids);
    }

    /// Times each source from the next tick on (off by default: the benchmark
    /// turns it on for its per-collector table).
    pub fn time_sources(&mut self, on: bool) {
        self.timing = on;
    }

    /// What each source took in the last tick, when timed; the slow sources'
    /// own reads (on their thread) are in [`HostSampler::slow_costs`].
    pub fn costs(&self) -> &[(&'static str, Duration)] {
        &self.costs
    }

    /// What each slow source's last read took, on its own thread.
    pub fn slow_costs(&self) -> Vec<(&'static str, Duration)> {
        self.slow.latest().costs
    }

    /// Logical cores, as the machine's CPU is counted over.
    fn cores(&self) -> usize {
        self.cpu.cores().or_else(|| std::thread::available_parallelism().ok().map(|n| n.get())).unwrap_or(1)
    }

    /// PerfMon's own CPU (since the previous reading) and resident memory.
    fn monitor(&mut self, now: Instant) -> MonitorReading {
        let own = self.own.read(now);
        let cores = self.cores();
        MonitorReading {
            cpu_percent: own.cpu_percent_of_core.map(|of_core| share_of_machine(of_core, cores)),
            rss_bytes: own.rss_bytes,
        }
    }
}

/// CPU in % of one core as a share of a machine of `cores` cores, 0–100: how
/// runs and PerfMon itself are both stated, so the page draws them under the
/// machine's CPU on one scale.
fn share_of_machine(percent_of_core: f64, cores: usize) -> f64 {
    (percent_of_core / cores.max(1) as f64).clamp(0.0, 100.0)
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

/// Where the tick loop's samples go (the hub, in the server), and what sets its pace.
pub trait Sink: Send + Sync + 'static {
    /// How long to wait before the next sample.
    fn interval(&self) -> Duration;
    /// The root pids of the runs whose trees the next sample measures.
    fn live_pids(&self) -> Vec<u32>;
    /// Resolves when the cadence may have changed, so a run that turns live need
    /// not wait out a long idle sleep.
    fn cadence_changed(&self) -> impl Future<Output = ()> + Send + '_;
    /// Takes one sample. Called on the sampler thread: it may block briefly.
    fn publish(&self, sample: HostSample);
    /// Sampling panicked; the loop goes on with a fresh source next tick.
    fn sampling_failed(&self);
}

/// The pids of `root`'s process tree now (a full scan); `None` if `root` is
/// gone. Blocking.
pub fn process_tree(root: u32) -> Option<HashSet<u32>> {
    proctree::tree_now(root)
}

/// Whether `pid` is a live (not zombie) process. Blocking.
pub fn process_alive(pid: u32) -> bool {
    proctree::alive(pid)
}

/// Whether `pid` is stopped by a signal (a paused run's root, say). Blocking.
pub fn process_stopped(pid: u32) -> bool {
    procfs::read_stat(pid).is_some_and(|stat| stat.stopped)
}

/// Whether `pid` is the machine's init: PID 1 outside a container, whose tree
/// is every process on the machine. (In a container's PID namespace, PID 1 is
/// its entry point, often the very agent to watch.) Blocking.
pub fn is_machine_init(pid: u32) -> bool {
    pid == 1 && !procfs::in_nested_pid_namespace()
}

/// Whether `pid` is a live process that was already running at `at` (so not
/// another process that reused the pid since). Blocking.
pub fn process_alive_since(pid: u32, at: chrono::DateTime<Utc>) -> bool {
    // Boot time is to the second: a start within that of `at` is the same one.
    let slack = chrono::Duration::seconds(2);
    proctree::alive(pid) && procfs::started_at(pid).is_some_and(|started| started <= at + slack)
}

/// The CPU time of `root`'s tree now, seconds, counted as a run's tree is
/// (reaped children included); `None` if `root` is gone. Blocking.
pub fn tree_cpu_seconds(root: u32) -> Option<f64> {
    proctree::cpu_ticks_now(root).map(|ticks| ticks as f64 / procfs::TICKS_PER_SECOND)
}

/// The counters of `root`'s tree now, as a run's tree counts them at its first
/// reading (a run counted from registration takes its base here); `None` if
/// `root` is gone. Blocking.
pub fn tree_counters_now(root: u32) -> Option<TreeCounters> {
    proctree::counters_now(root)
}

/// (CPU seconds used so far, resident bytes) of process `pid`; `None` if it is
/// gone. Blocking.
pub fn process_usage(pid: u32) -> Option<(f64, u64)> {
    let stat = procfs::read_stat(pid)?;
    Some((
        stat.cpu_ticks as f64 / procfs::TICKS_PER_SECOND,
        stat.rss_pages.saturating_mul(procfs::page_bytes()),
    ))
}

/// The process with the most resident memory, by name only (`comm`, never
/// its command line: arguments may hold secrets), and its resident bytes: in
/// `root`'s tree, or on the whole machine for `None`. `None` when there is no
/// such process. Blocking (a scan of /proc).
pub fn biggest_process(root: Option<u32>) -> Option<(String, u64)> {
    let tree = match root {
        Some(root) => Some(proctree::tree_now(root)?),
        None => None,
    };
    let stats = procfs::scan()?;
    let biggest = stats
        .iter()
        .filter(|s| !s.zombie && tree.as_ref().is_none_or(|t| t.contains(&s.pid)))
        .max_by_key(|s| s.rss_pages)?;
    let name = std::fs::read_to_string(format!("/proc/{}/comm", biggest.pid)).ok()?;
    Some((name.trim().to_owned(), biggest.rss_pages.saturating_mul(procfs::page_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_has_plausible_values() {
        let mut sampler = HostSampler::new();
        let s = sampler.sample(&[]).sections();
        let cpu = s.cpu.percent.expect("cpu after the minimum interval");
        assert!((0.0..=100.0).contains(&cpu), "{cpu}");
        let (used, total) = (s.memory.used_gb.expect("used"), s.memory.total_gb.expect("total"));
        assert!(used > 0.0 && used <= total, "{used} of {total}");
        assert_eq!(s.cpu.per_core.len(), std::thread::available_parallelism().map_or(1, |n| n.get()));
        assert!(s.memory.swap_total_gb.is_some());
        assert!(s.network.rx_bytes_per_s.is_some_and(|r| r >= 0.0));
        assert!(s.monitor.rss_mb.is_some_and(|r| r > 0.0), "{:?}", s.monitor);
        assert!(s.cpu.load_average.is_some());
        assert!(s.disk.read_bytes_per_s.is_some());
        if !s.gpu.available {
            let reason = s.gpu.reason.expect("an unavailable GPU says why");
            assert!(!reason.is_empty() && !reason.contains('/'), "plain words, no paths: {reason}");
        }
    }

    #[test]
    fn a_run_that_is_not_there_reads_as_exited() {
        let mut sampler = HostSampler::new();
        // Pids are at most 2^22 on Linux: this one cannot exist.
        let sample = sampler.sample(&[u32::MAX - 1]);
        assert_eq!(sample.runs.get(&(u32::MAX - 1)), Some(&None));
    }

    /// Children that each live less than a tick and are reaped before the next
    /// one: the tree's counter still takes in all their CPU time, to the tick
    /// of what the kernel itself says the tree used.
    #[test]
    fn short_lived_reaped_children_count_in_the_trees_cpu_time() {
        let mut sampler = HostSampler::new();
        let dir = std::env::temp_dir().join(format!("perfmon-short-children-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        let (go, done) = (dir.join("go"), dir.join("done"));
        // Six busy children one after another, each reaped before the next
        // starts, then a pause with nothing running.
        let script = format!(
            "while [ ! -e {go} ]; do sleep 0.01; done; \
             for i in 1 2 3 4 5 6; do timeout 0.3 sh -c 'while :; do :; done'; done; \
             touch {done}; sleep 30",
            go = go.display(),
            done = done.display()
        );
        let mut shell = std::process::Command::new("sh").args(["-c", &script]).spawn().expect("sh");
        let root = shell.id();
        let read = |sampler: &mut HostSampler| {
            sampler.sample(&[root]).runs.remove(&root).flatten().expect("the shell runs")
        };
        let baseline = read(&mut sampler).cpu_seconds.expect("/proc tells CPU time");
        std::fs::write(&go, "").expect("go");
        // Read at a 1 s cadence while the children come and go.
        let deadline = Instant::now() + Duration::from_secs(60);
        while !done.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_secs(1));
            read(&mut sampler);
        }
        let counted = read(&mut sampler).cpu_seconds.expect("CPU time") - baseline;
        // What the kernel says the shell and its reaped children used.
        let stat = procfs::read_stat(root).expect("the shell's stat");
        let truth = (stat.cpu_ticks + stat.reaped_ticks) as f64 / procfs::TICKS_PER_SECOND;
        let _ = shell.kill();
        let _ = shell.wait();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(truth > 0.5, "the children burned CPU: {truth:.2} s");
        // The counter started at the baseline; all since then is the children's.
        let expected = truth - baseline;
        assert!((counted - expected).abs() <= 0.02, "counted {counted:.2} s of {expected:.2} s");
    }

    #[test]
    fn cpu_of_one_core_is_stated_as_a_share_of_the_machine() {
        assert_eq!(share_of_machine(150.0, 4), 37.5, "one and a half cores of four");
        assert_eq!(share_of_machine(0.5, 2), 0.25, "PerfMon's own small cost keeps its size");
        assert_eq!(share_of_machine(90.0, 0), 90.0, "unknown cores count as one");
        assert_eq!(share_of_machine(900.0, 8), 100.0, "never more than the machine");
    }

    #[test]
    fn this_process_is_measured_as_a_run() {
        let mut sampler = HostSampler::new();
        let me = std::process::id();
        let tree = sampler.sample(&[me]).runs.remove(&me).flatten().expect("this process is alive");
        assert!(tree.rss_bytes > 0 && tree.process_count >= 1, "{tree:?}");
        // A rate needs two readings: the first is none, never 0.
        assert_eq!(tree.cpu_percent, None, "{tree:?}");
        let tree = sampler.sample(&[me]).runs.remove(&me).flatten().expect("this process is alive");
        assert!(tree.cpu_percent.is_some_and(|p| (0.0..=100.0).contains(&p)), "{tree:?}");
    }
}
