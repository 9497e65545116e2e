//! One reading of the whole machine ([`HostSample`]), exact, and its one
//! conversion into the payload's rounded sections ([`Sections`]).

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use shared::{Cpu, Disk, Gpu, GpuDevice, LoadAverage, Memory, Monitor, Network, RunProcess, Timestamp};

use super::{CpuReading, DeviceReading, DiskReading, GpuReading, MemoryReading, NetworkReading};
use crate::collect::gpu::{clock_event_reason_names, pstate_name};
pub use crate::collect::proctree::TreeCounters;
use crate::units::{gb, mb, round_to, round1, round2};

/// What the machine looked like at one instant, exactly as read, plus what each
/// requested run's process tree uses.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HostSample {
    /// When the sample was taken.
    pub taken_at: DateTime<Utc>,
    /// Whole-machine CPU use.
    pub cpu: CpuReading,
    /// Memory and swap; `None` when unreadable.
    pub memory: Option<MemoryReading>,
    /// Network traffic; `None` when unreadable.
    pub network: Option<NetworkReading>,
    /// Disk traffic and space.
    pub disk: DiskReading,
    /// NVIDIA GPUs, or why there are none.
    pub gpu: GpuReading,
    /// PerfMon's own cost.
    pub monitor: MonitorReading,
    /// Each requested run root pid: its tree's use, or `None` once it has exited.
    pub runs: HashMap<u32, Option<TreeReading>>,
    /// The machine in depth, already in the payload's units and rounding: the
    /// collectors give it so (`to_contract`), and the store keeps it as sent.
    pub depth: Depth,
}

/// PerfMon's own cost, exactly as read.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MonitorReading {
    /// CPU since the previous reading, as a share of the whole machine, 0–100
    /// (as a run's tree is).
    pub cpu_percent: Option<f64>,
    /// Resident memory, bytes.
    pub rss_bytes: Option<u64>,
}

/// What a run's process tree uses, exactly as read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TreeReading {
    /// CPU of the whole tree as a share of the whole machine, 0–100; `None`
    /// on its first reading, which has no earlier one to make a rate with.
    pub cpu_percent: Option<f64>,
    /// Resident memory of the tree, bytes.
    pub rss_bytes: u64,
    /// GPU memory the tree holds, bytes (0 when NVML lists none of its
    /// processes); `None` when it cannot be told.
    pub gpu_memory_bytes: Option<u64>,
    /// Why it cannot be told, while the GPU itself answers.
    pub gpu_memory_reason: Option<String>,
    /// The tree's GPU (SM) utilisation, % of one device, summed over its
    /// processes and devices, as NVML sampled it since the previous read;
    /// `None` when it cannot be told.
    pub gpu_percent: Option<f64>,
    /// Why it cannot be told, while the GPU itself answers.
    pub gpu_percent_reason: Option<String>,
    /// Processes in the tree.
    pub process_count: u32,
    /// CPU time of every process that ran in the tree since PerfMon first read
    /// it, reaped ones included, seconds; `None` where /proc does not say.
    pub cpu_seconds: Option<f64>,
    /// The tree's cumulative counters since PerfMon first read it (CPU by mode,
    /// faults and threads as of this tick; run-queue delay, switches and
    /// storage bytes as last read, every few seconds); `None` where /proc does
    /// not say.
    pub counters: Option<TreeCounters>,
}

impl TreeReading {
    /// The payload's `run.process`.
    pub fn to_contract(&self) -> RunProcess {
        RunProcess {
            cpu_percent: self.cpu_percent.map(round1),
            rss_mb: Some(mb(self.rss_bytes)),
            gpu_memory_gb: self.gpu_memory_bytes.map(gb),
            process_count: self.process_count,
            gpu_memory_reason: self.gpu_memory_reason.clone(),
        }
    }
}

/// The project-independent sections of a `perf_metrics` message, rounded as
/// sent; computed once per tick and shared by every project.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sections {
    /// The sample's time, as the payload carries it.
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
    /// The machine in depth, as sent (see [`shared::depth`]).
    pub depth: Depth,
}

/// The machine-in-depth sections of the payload, as sent.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Depth {
    /// CPU by mode, scheduler rates, sensors.
    pub cpu_detail: shared::depth::cpu::CpuDetail,
    /// Pressure stall information.
    pub pressure: shared::depth::pressure::Pressure,
    /// Memory detail.
    pub memory_detail: shared::depth::memory::MemoryDetail,
    /// Paging.
    pub paging: shared::depth::memory::Paging,
    /// Each disk.
    pub disks: shared::depth::disks::Disks,
    /// Each filesystem.
    pub filesystems: shared::depth::disks::Filesystems,
    /// Each interface.
    pub interfaces: shared::depth::network::Interfaces,
    /// Sockets.
    pub sockets: shared::depth::network::Sockets,
    /// Hardware and software counters.
    pub perf_events: shared::depth::perf::PerfEvents,
}

impl HostSample {
    /// The payload's sections for this sample.
    pub fn sections(&self) -> Sections {
        Sections {
            timestamp: timestamp_millis(self.taken_at),
            cpu: cpu(&self.cpu),
            memory: self.memory.as_ref().map(memory).unwrap_or_default(),
            gpu: gpu(&self.gpu),
            network: self.network.as_ref().map(network).unwrap_or_default(),
            disk: disk(&self.disk),
            monitor: Monitor {
                // Three decimals: PerfMon's cost as a share of the machine is
                // tiny (a few hundredths of a percent), and must not read as 0.
                cpu_percent: self.monitor.cpu_percent.map(|p| round_to(p, 3)),
                rss_mb: self.monitor.rss_bytes.map(mb),
            },
            depth: self.depth.clone(),
        }
    }
}

/// A UTC instant as the payload writes sample times: RFC 3339 with milliseconds.
pub fn timestamp_millis(at: DateTime<Utc>) -> Timestamp {
    Timestamp(at.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// A UTC instant as the payload writes run start times, to the second
/// (`2026-02-08T20:10:00Z`), so run ids stay short.
pub fn timestamp_seconds(at: DateTime<Utc>) -> Timestamp {
    Timestamp(at.to_rfc3339_opts(SecondsFormat::Secs, true))
}

fn cpu(r: &CpuReading) -> Cpu {
    Cpu {
        percent: r.percent.map(round1),
        per_core: r.per_core.iter().copied().map(round1).collect(),
        load_average: r.load.map(|[one, five, fifteen]| LoadAverage {
            one: round2(one),
            five: round2(five),
            fifteen: round2(fifteen),
        }),
    }
}

/// All `null` when the total is unknown (0).
fn memory(r: &MemoryReading) -> Memory {
    if r.total_bytes == 0 {
        return Memory::default();
    }
    Memory {
        used_gb: Some(gb(r.used_bytes)),
        total_gb: Some(gb(r.total_bytes)),
        percent: r.percent().map(round1),
        swap_used_gb: Some(gb(r.swap_used_bytes)),
        swap_total_gb: Some(gb(r.swap_total_bytes)),
    }
}

fn network(r: &NetworkReading) -> Network {
    Network {
        rx_bytes_per_s: Some(r.rx_bytes_per_s.round()),
        tx_bytes_per_s: Some(r.tx_bytes_per_s.round()),
        rx_total_bytes: Some(r.rx_total_bytes),
        tx_total_bytes: Some(r.tx_total_bytes),
    }
}

fn disk(r: &DiskReading) -> Disk {
    Disk {
        read_bytes_per_s: r.read_bytes_per_s.map(f64::round),
        write_bytes_per_s: r.write_bytes_per_s.map(f64::round),
        used_gb: r.used_bytes.map(gb),
        total_gb: r.total_bytes.map(gb),
    }
}

fn device(d: &DeviceReading) -> GpuDevice {
    GpuDevice {
        index: d.index,
        name: d.name.clone(),
        available: d.lost.is_none(),
        reason: d.lost.clone(),
        not_supported: d.not_supported.iter().map(|f| (*f).to_owned()).collect(),
        percent: d.percent.map(f64::from),
        vram_used_gb: d.memory_used_bytes.map(gb),
        vram_total_gb: d.memory_total_bytes.map(gb),
        temperature_c: d.temperature_c.map(f64::from),
        power_w: d.power_mw.map(|mw| round1(f64::from(mw) / 1000.0)),
        sm_clock_mhz: d.sm_clock_mhz,
        sm_clock_max_mhz: d.sm_clock_max_mhz,
        memory_clock_mhz: d.memory_clock_mhz,
        memory_clock_max_mhz: d.memory_clock_max_mhz,
        pstate: d.pstate.map(pstate_name),
        clock_event_reasons: d
            .clock_event_reasons
            .map(|mask| clock_event_reason_names(mask).into_iter().map(str::to_owned).collect()),
        pcie_rx_bytes_per_s: d.pcie_rx_bytes_per_s.map(|b| b as f64),
        pcie_tx_bytes_per_s: d.pcie_tx_bytes_per_s.map(|b| b as f64),
        pcie_age_ms: d.pcie_age.map(|age| age.as_millis() as u64),
        encoder_percent: d.encoder_percent.map(f64::from),
        decoder_percent: d.decoder_percent.map(f64::from),
        fan_percent: d.fan_percent.map(f64::from),
        memory_controller_percent: d.memory_controller_percent.map(f64::from),
        energy_power_w: d.energy_power_w.map(round1),
        // Millijoules are exact: kept to three decimals of a joule.
        energy_total_j: d.energy_mj.map(|mj| round_to(mj as f64 / 1000.0, 3)),
    }
}

/// The GPU section: each device with its own state, and over the devices that
/// answer, the mean utilisation and the summed memory.
fn gpu(r: &GpuReading) -> Gpu {
    if let Some(reason) = &r.unavailable {
        return Gpu { available: false, reason: Some(reason.clone()), ..Gpu::default() };
    }
    let devices: Vec<GpuDevice> = r.devices.iter().map(device).collect();
    let answering: Vec<&DeviceReading> = r.devices.iter().filter(|d| d.lost.is_none()).collect();
    if answering.is_empty() {
        return Gpu {
            available: false,
            reason: Some("no NVIDIA device answers".into()),
            devices,
            ..Gpu::default()
        };
    }
    let utilisation: Vec<f64> = answering.iter().filter_map(|d| d.percent).map(f64::from).collect();
    let with_memory: Vec<&&DeviceReading> =
        answering.iter().filter(|d| d.memory_total_bytes.is_some()).collect();
    let sum = |f: fn(&DeviceReading) -> Option<u64>| {
        (!with_memory.is_empty()).then(|| gb(with_memory.iter().filter_map(|d| f(d)).sum()))
    };
    Gpu {
        available: true,
        percent: (!utilisation.is_empty())
            .then(|| round1(utilisation.iter().sum::<f64>() / utilisation.len() as f64)),
        vram_used_gb: sum(|d| d.memory_used_bytes),
        vram_total_gb: sum(|d| d.memory_total_bytes),
        reason: None,
        devices,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(index: u32, percent: Option<u32>, used: u64, total: u64) -> DeviceReading {
        DeviceReading {
            index,
            name: format!("GPU {index}"),
            percent,
            memory_used_bytes: Some(used),
            memory_total_bytes: Some(total),
            ..DeviceReading::default()
        }
    }

    #[test]
    fn devices_aggregate_to_mean_utilisation_and_summed_memory() {
        let reading = GpuReading {
            devices: vec![device(0, Some(20), 1 << 30, 80 << 30), device(1, Some(61), 5 << 29, 80 << 30)],
            ..GpuReading::default()
        };
        let g = gpu(&reading);
        assert!(g.available);
        assert_eq!(g.percent, Some(40.5));
        assert_eq!((g.vram_used_gb, g.vram_total_gb), (Some(3.5), Some(160.0)));
        assert_eq!(g.devices.len(), 2);
    }

    #[test]
    fn a_device_hiding_utilisation_does_not_drag_the_mean_down() {
        let reading = GpuReading {
            devices: vec![device(0, None, 1, 8), device(1, Some(50), 1, 8)],
            ..GpuReading::default()
        };
        assert_eq!(gpu(&reading).percent, Some(50.0));
    }

    #[test]
    fn a_lost_device_keeps_its_place_and_the_aggregate_comes_from_the_others() {
        let lost = DeviceReading {
            index: 1,
            name: "NVIDIA A100".into(),
            lost: Some("GPU is lost".into()),
            ..Default::default()
        };
        let g = gpu(&GpuReading {
            devices: vec![device(0, Some(30), 2 << 30, 80 << 30), lost],
            ..GpuReading::default()
        });
        assert!(g.available);
        assert_eq!((g.percent, g.vram_used_gb, g.vram_total_gb), (Some(30.0), Some(2.0), Some(80.0)));
        let d = &g.devices[1];
        assert_eq!(
            (d.available, d.reason.as_deref(), d.name.as_str()),
            (false, Some("GPU is lost"), "NVIDIA A100")
        );
        assert_eq!((d.percent, d.vram_used_gb), (None, None));
    }

    #[test]
    fn an_unsupported_field_is_named_and_null() {
        let mut d = device(0, Some(10), 1, 8);
        d.not_supported = vec!["power_w"];
        let g = gpu(&GpuReading { devices: vec![d], ..GpuReading::default() });
        assert_eq!(g.devices[0].not_supported, ["power_w"]);
        assert_eq!((g.devices[0].power_w, g.devices[0].percent), (None, Some(10.0)));
    }

    #[test]
    fn an_unavailable_gpu_says_why_and_has_no_values() {
        let g = gpu(&GpuReading::unavailable("NVIDIA driver library not found"));
        assert!(!g.available);
        assert_eq!(g.reason.as_deref(), Some("NVIDIA driver library not found"));
        assert_eq!((g.percent, g.vram_used_gb, g.vram_total_gb), (None, None, None));
    }

    #[test]
    fn memory_is_sent_rounded_and_unknown_memory_as_null() {
        let m = memory(&MemoryReading {
            total_bytes: 16 << 30,
            used_bytes: 6_710_886_400,
            swap_total_bytes: 2 << 30,
            swap_used_bytes: 0,
        });
        assert_eq!((m.used_gb, m.total_gb, m.percent), (Some(6.3), Some(16.0), Some(39.1)));
        assert_eq!((m.swap_used_gb, m.swap_total_gb), (Some(0.0), Some(2.0)));
        assert_eq!(memory(&MemoryReading::default()), Memory::default());
    }

    #[test]
    fn timestamps_are_utc_with_milliseconds_and_run_starts_to_the_second() {
        let at =
            DateTime::parse_from_rfc3339("2026-02-08T20:15:30.123456Z").expect("time").with_timezone(&Utc);
        assert_eq!(timestamp_millis(at).as_str(), "2026-02-08T20:15:30.123Z");
        assert_eq!(timestamp_seconds(at).as_str(), "2026-02-08T20:15:30Z");
    }

    #[test]
    fn perfmons_own_cpu_is_sent_to_three_decimals_so_a_small_cost_is_not_zero() {
        let sample = HostSample {
            monitor: MonitorReading { cpu_percent: Some(0.0234), rss_bytes: Some(12 << 20) },
            ..HostSample::default()
        };
        let monitor = sample.sections().monitor;
        assert_eq!((monitor.cpu_percent, monitor.rss_mb), (Some(0.023), Some(12.0)));
    }

    #[test]
    fn a_tree_is_sent_rounded_in_binary_units() {
        let t = TreeReading {
            cpu_percent: Some(12.46),
            rss_bytes: 812 << 20,
            gpu_memory_bytes: Some(3 << 30),
            gpu_memory_reason: None,
            process_count: 4,
            cpu_seconds: Some(1.0),
            ..TreeReading::default()
        };
        let expected = RunProcess {
            cpu_percent: Some(12.5),
            rss_mb: Some(812.0),
            gpu_memory_gb: Some(3.0),
            process_count: 4,
            gpu_memory_reason: None,
        };
        assert_eq!(t.to_contract(), expected);
    }
}
