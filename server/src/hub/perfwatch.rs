//! PerfWatch's stream (`/api/ws/metrics`): every five seconds the machine's
//! newest sample in PerfWatch's shape, serialised once and handed to every
//! socket through one `watch` channel, like the projects' frames.
//!
//! Nothing is sampled for this stream: the totals are the tick loop's exact
//! readings (bytes as read, not the panel's rounded GB), and the machine in
//! depth (modes, each disk and interface, sockets, vmstat, the perf counters)
//! is the sample's `depth` as PerfMon's own stream sends it, renamed. Memory
//! detail and filesystems are held there in GiB (to a thousandth and a tenth),
//! so their bytes are that GiB figure times 2^30.
//!
//! The feed is only built while someone listens, so its last frame may be as old
//! as the last time anyone did: a new client's first message is built by
//! [`newest`] from the newest sample instead.
//!
//! # Layout
//! - [`PerfWatchFeed`], [`run`] and [`newest`]: the frames and when they are built.
//! - [`message`]: a sample in PerfWatch's shape, one function per section below
//!   it; [`perf_events`] applies PerfWatch's availability rule.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use shared::depth::cpu::{Temperature, Temperatures};
use shared::depth::memory::Paging;
use shared::depth::network::Sockets;
use shared::depth::perf::{EVENT_NAMES, PerfEvents};
use shared::perfwatch::{
    PerfWatchConnections, PerfWatchCpu, PerfWatchData, PerfWatchDisk, PerfWatchDiskDevice, PerfWatchDiskIo,
    PerfWatchEvent, PerfWatchInterface, PerfWatchMemory, PerfWatchMemoryBandwidth, PerfWatchMetrics,
    PerfWatchMsg, PerfWatchNetwork, PerfWatchPartition, PerfWatchPerfEvents,
};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{Frame, Hub};
use crate::sampling::{HostSample, timestamp_seconds};
use crate::units::BYTES_PER_GB;

/// The newest PerfWatch frame, for every socket of the stream.
#[derive(Debug)]
pub struct PerfWatchFeed {
    frames: watch::Sender<Option<Frame>>,
}

impl Default for PerfWatchFeed {
    fn default() -> Self {
        PerfWatchFeed { frames: watch::Sender::new(None) }
    }
}

impl PerfWatchFeed {
    /// A receiver of the stream's frames from now on. Its current value is the
    /// last frame built, which is stale if nobody listened since: a new client
    /// starts with [`newest`].
    pub fn subscribe(&self) -> watch::Receiver<Option<Frame>> {
        self.frames.subscribe()
    }

    /// Whether any socket listens.
    fn listened(&self) -> bool {
        self.frames.receiver_count() > 0
    }

    /// Serialises `sample` once and hands it to every subscriber; nothing is
    /// done while nobody listens.
    fn publish(&self, sample: &HostSample) {
        if !self.listened() {
            return;
        }
        if let Some(frame) = frame_of(sample) {
            self.frames.send_replace(Some(frame));
        }
    }
}

/// `sample` as a serialised PerfWatch message.
fn frame_of(sample: &HostSample) -> Option<Frame> {
    match serde_json::to_string(&message(sample)) {
        Ok(text) => Some(Frame::from(text)),
        Err(err) => {
            tracing::error!("could not serialise a PerfWatch message: {err}");
            None
        }
    }
}

/// The newest host sample as a PerfWatch frame, built now: what a client gets
/// on connecting. `None` before the first sample, which [`run`] then publishes
/// as soon as it is taken.
pub fn newest(hub: &Hub) -> Option<Frame> {
    frame_of(&*hub.latest_sample()?)
}

/// How often [`run`] looks for the sampler's first reading.
const FIRST_SAMPLE_POLL: Duration = Duration::from_millis(50);

/// Publishes the newest sample every `every` until `shutdown`.
pub async fn run(hub: Arc<Hub>, every: Duration, shutdown: CancellationToken) {
    // The sampler's first reading comes one of its intervals after the start; a
    // client that connected before it gets it as soon as it exists, not up to
    // `every` later.
    while hub.latest_sample().is_none() {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(FIRST_SAMPLE_POLL) => {}
        }
    }
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        // Nobody listening costs one check every five seconds.
        if hub.perfwatch().listened()
            && let Some(sample) = hub.latest_sample()
        {
            hub.perfwatch().publish(&sample);
        }
    }
}

/// `sample` as a PerfWatch `metrics` message.
pub fn message(sample: &HostSample) -> PerfWatchMsg {
    PerfWatchMsg::Metrics(PerfWatchMetrics {
        timestamp: timestamp_seconds(sample.taken_at),
        data: PerfWatchData {
            cpu: cpu(sample),
            memory: memory(sample),
            network: network(sample),
            disk: disk(sample),
            perf_events: perf_events(&sample.depth.perf_events),
            memory_bandwidth: memory_bandwidth(&sample.depth.paging, page_bytes()),
        },
    })
}

/// `part / whole` as a percentage; 0 of nothing is 0 %, as PerfWatch's psutil says.
fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 * 100.0 / whole as f64 }
}

/// A size the sample holds in GB (GiB), in bytes.
fn gib_bytes(gb: f64) -> u64 {
    (gb * BYTES_PER_GB).round() as u64
}

/// The machine's page size, asked once: swap moves whole pages.
fn page_bytes() -> u64 {
    static PAGE_BYTES: OnceLock<u64> = OnceLock::new();
    *PAGE_BYTES.get_or_init(crate::collect::procfs::page_bytes)
}

fn cpu(sample: &HostSample) -> PerfWatchCpu {
    let detail = &sample.depth.cpu_detail;
    let modes = detail.modes.unwrap_or_default();
    let frequency = &detail.sensors.frequency_mhz;
    let (temperature, temperature_celsius) = cpu_temperature(&detail.sensors.temperatures);
    PerfWatchCpu {
        usage_percent: sample.cpu.percent,
        per_core: sample.cpu.per_core.clone(),
        load_avg: sample.cpu.load,
        core_count: (!sample.cpu.per_core.is_empty()).then_some(sample.cpu.per_core.len() as u32),
        user: modes.user_percent,
        nice: modes.nice_percent,
        system: modes.system_percent,
        idle: modes.idle_percent,
        iowait: modes.iowait_percent,
        irq: modes.irq_percent,
        softirq: modes.softirq_percent,
        steal: modes.steal_percent,
        guest: modes.guest_percent,
        frequency_mhz: frequency.iter().any(Option::is_some).then(|| frequency.clone()),
        temperature,
        temperature_celsius,
        interrupts_per_sec: detail.interrupts_per_s,
    }
}

/// The chips PerfWatch's collector takes the CPU's temperature from, in its order.
const CPU_CHIPS: [&str; 4] = ["coretemp", "cpu_thermal", "k10temp", "zenpower"];

/// The CPU's temperature as PerfWatch's collector takes it, and the readings it
/// is the mean of: those above 0 °C of the first of [`CPU_CHIPS`] present, else
/// of the first chip with one. A sensor's chip is the first word of its name
/// (`coretemp Package id 0`; a thermal zone is named by its type alone).
fn cpu_temperature(temperatures: &Temperatures) -> (Option<f64>, Option<Vec<f64>>) {
    let chip = |sensor: &Temperature| sensor.name.split_whitespace().next().unwrap_or_default().to_owned();
    let readings = |chip_name: &str| -> Vec<f64> {
        temperatures
            .sensors
            .iter()
            .filter(|s| chip(s) == chip_name)
            .filter_map(|s| s.temperature_c)
            .filter(|c| *c > 0.0)
            .collect()
    };
    let chosen = CPU_CHIPS
        .iter()
        .map(|name| readings(name))
        .chain(temperatures.sensors.iter().map(|s| readings(&chip(s))))
        .find(|r| !r.is_empty());
    match chosen {
        Some(r) => (Some(r.iter().sum::<f64>() / r.len() as f64), Some(r)),
        None => (None, None),
    }
}

fn memory(sample: &HostSample) -> PerfWatchMemory {
    let memory = sample.memory.as_ref().filter(|m| m.total_bytes > 0);
    let detail = &sample.depth.memory_detail;
    PerfWatchMemory {
        total_bytes: memory.map(|m| m.total_bytes),
        available_bytes: memory.map(|m| m.total_bytes.saturating_sub(m.used_bytes)),
        used_bytes: memory.map(|m| m.used_bytes),
        usage_percent: memory.map(|m| percent(m.used_bytes, m.total_bytes)),
        swap_total_bytes: memory.map(|m| m.swap_total_bytes),
        swap_used_bytes: memory.map(|m| m.swap_used_bytes),
        swap_free_bytes: memory.map(|m| m.swap_total_bytes.saturating_sub(m.swap_used_bytes)),
        swap_percent: memory.map(|m| percent(m.swap_used_bytes, m.swap_total_bytes)),
        free_bytes: detail.free_gb.map(gib_bytes),
        cached_bytes: detail.cached_gb.map(gib_bytes),
        buffers_bytes: detail.buffers_gb.map(gib_bytes),
        shared_bytes: detail.shared_gb.map(gib_bytes),
        hugepages_total: detail.hugepages_total,
        hugepages_free: detail.hugepages_free,
        hugepages_reserved: detail.hugepages_reserved,
    }
}

/// PerfWatch's memory-bandwidth figures from PerfMon's paging rates; swap moves
/// pages of `page_bytes`.
fn memory_bandwidth(paging: &Paging, page_bytes: u64) -> PerfWatchMemoryBandwidth {
    let both = |a: Option<f64>, b: Option<f64>| Some(a? + b?);
    PerfWatchMemoryBandwidth {
        available: paging.available,
        pgpgin_per_sec: paging.page_in_bytes_per_s.map(|b| b / 1024.0),
        pgpgout_per_sec: paging.page_out_bytes_per_s.map(|b| b / 1024.0),
        pswpin_per_sec: paging.swap_in_pages_per_s,
        pswpout_per_sec: paging.swap_out_pages_per_s,
        page_io_bytes_per_sec: both(paging.page_in_bytes_per_s, paging.page_out_bytes_per_s),
        swap_io_bytes_per_sec: both(paging.swap_in_pages_per_s, paging.swap_out_pages_per_s)
            .map(|pages| pages * page_bytes as f64),
        pgfault_per_sec: paging.page_faults_per_s,
        pgmajfault_per_sec: paging.major_faults_per_s,
    }
}

fn network(sample: &HostSample) -> PerfWatchNetwork {
    let network = sample.network.as_ref();
    let interfaces = sample
        .depth
        .interfaces
        .interfaces
        .iter()
        .map(|i| {
            let interface = PerfWatchInterface {
                bytes_sent_per_sec: i.tx_bytes_per_s,
                bytes_recv_per_sec: i.rx_bytes_per_s,
                packets_sent_per_sec: i.tx_packets_per_s,
                packets_recv_per_sec: i.rx_packets_per_s,
                errors_in_per_sec: i.rx_errors_per_s,
                errors_out_per_sec: i.tx_errors_per_s,
                drops_in_per_sec: i.rx_drops_per_s,
                drops_out_per_sec: i.tx_drops_per_s,
            };
            (i.name.clone(), interface)
        })
        .collect();
    let sockets = &sample.depth.sockets;
    PerfWatchNetwork {
        bytes_sent_per_sec: network.map(|n| n.tx_bytes_per_s),
        bytes_recv_per_sec: network.map(|n| n.rx_bytes_per_s),
        total_bytes_sent: network.map(|n| n.tx_total_bytes),
        total_bytes_recv: network.map(|n| n.rx_total_bytes),
        interfaces,
        connections: PerfWatchConnections {
            tcp_established: sockets.tcp_established,
            tcp_time_wait: sockets.tcp_time_wait,
            tcp_close_wait: sockets.tcp_close_wait,
            tcp_listen: sockets.tcp_listen,
            udp_count: sockets.udp,
        },
        connection_count: connection_count(sockets),
    }
}

/// Every TCP socket of every state and every UDP socket, as psutil's
/// `net_connections('inet')` lists them; `None` when any count is unknown.
fn connection_count(s: &Sockets) -> Option<u64> {
    [
        s.tcp_established,
        s.tcp_syn_sent,
        s.tcp_syn_recv,
        s.tcp_fin_wait1,
        s.tcp_fin_wait2,
        s.tcp_time_wait,
        s.tcp_close,
        s.tcp_close_wait,
        s.tcp_last_ack,
        s.tcp_listen,
        s.tcp_closing,
        s.udp,
    ]
    .into_iter()
    .sum()
}

fn disk(sample: &HostSample) -> PerfWatchDisk {
    let partitions = sample
        .depth
        .filesystems
        .filesystems
        .iter()
        .map(|f| PerfWatchPartition {
            device: f.device.clone(),
            fstype: f.fs_type.clone(),
            total_bytes: f.size_gb.map(gib_bytes),
            used_bytes: f.used_gb.map(gib_bytes),
            free_bytes: f.free_gb.map(gib_bytes),
            usage_percent: f.used_percent,
        })
        .collect();
    let devices = sample
        .depth
        .disks
        .devices
        .iter()
        .map(|d| {
            let device = PerfWatchDiskDevice {
                read_bytes_per_sec: d.read_bytes_per_s,
                write_bytes_per_sec: d.write_bytes_per_s,
                read_iops: d.read_iops,
                write_iops: d.write_iops,
                read_latency_ms: d.read_await_ms,
                write_latency_ms: d.write_await_ms,
                latency_ms: d.await_ms,
                util_percent: d.util_percent,
                in_flight: d.in_flight,
            };
            (d.name.clone(), device)
        })
        .collect();
    PerfWatchDisk {
        partitions,
        io: PerfWatchDiskIo {
            read_bytes_per_sec: sample.disk.read_bytes_per_s,
            write_bytes_per_sec: sample.disk.write_bytes_per_s,
        },
        devices,
    }
}

/// PerfMon's counters under PerfWatch's rule: available only when every event
/// is counted (PerfMon's own section is available when any is). The events not
/// counted keep their place with a `null` value, are listed in
/// `unsupported_events`, and `error` names them with their reasons, hardware
/// events first: `cycles, instructions not counted: <reason>`.
pub fn perf_events(section: &PerfEvents) -> PerfWatchPerfEvents {
    let events = section
        .events
        .iter()
        .map(|(name, e)| {
            let event = PerfWatchEvent { value: e.value.filter(|_| e.available), unit: e.unit.clone() };
            (name.clone(), event)
        })
        .collect();
    // PerfMon's order (hardware first), then any event it may list later.
    let order = EVENT_NAMES
        .iter()
        .map(|name| name.to_string())
        .chain(section.events.keys().filter(|k| !EVENT_NAMES.contains(&k.as_str())).cloned());
    let missing: Vec<String> =
        order.filter(|name| section.events.get(name).is_some_and(|e| !e.available)).collect();
    let mut by_reason: Vec<(&str, Vec<&str>)> = Vec::new();
    for name in &missing {
        let reason = section.events[name].reason.as_deref().unwrap_or("not counted");
        match by_reason.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, names)) => names.push(name),
            None => by_reason.push((reason, vec![name])),
        }
    }
    let available = !section.events.is_empty() && missing.is_empty();
    let error = if available {
        None
    } else if by_reason.is_empty() {
        Some(section.error.clone().unwrap_or_else(|| "no event could be counted".to_owned()))
    } else {
        let groups: Vec<String> = by_reason
            .iter()
            .map(|(reason, names)| format!("{} not counted: {reason}", names.join(", ")))
            .collect();
        Some(groups.join("; "))
    };
    PerfWatchPerfEvents {
        available,
        error,
        cpu_cores: section.available.then(|| "all".to_owned()),
        interval_ms: section.interval_ms,
        events,
        unsupported_events: missing,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::TimeZone;

    use std::collections::BTreeMap;

    use shared::depth::cpu::{CpuDetail, CpuModes, CpuSensors};
    use shared::depth::disks::{DiskDevice, Disks, Filesystem, Filesystems};
    use shared::depth::memory::MemoryDetail;
    use shared::depth::network::{Interface, Interfaces};
    use shared::depth::perf::PerfEvent;

    use super::*;
    use crate::sampling::{CpuReading, Depth, DiskReading, MemoryReading, NetworkReading};

    pub(crate) const PMU: &str = "no hardware performance counters on this machine (a VM without a CPU PMU)";

    /// PerfMon's section on a machine without a PMU: the hardware events
    /// unavailable, the software ones counted over a 5 s interval.
    pub(crate) fn perf_without_pmu() -> PerfEvents {
        let events = EVENT_NAMES
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let hardware = i < 6;
                let event = PerfEvent {
                    available: !hardware,
                    reason: hardware.then(|| PMU.to_owned()),
                    kind: if hardware { "hardware" } else { "software" }.to_owned(),
                    unit: (*name == "cpu-clock").then(|| "msec".to_owned()),
                    value: (!hardware).then_some(1000.0 + i as f64),
                    per_s: (!hardware).then_some(200.0 + i as f64),
                    running_percent: (!hardware).then_some(100.0),
                };
                (name.to_string(), event)
            })
            .collect();
        PerfEvents {
            available: true,
            error: None,
            cpus: Some(2),
            interval_ms: Some(5001.5),
            age_ms: Some(1200),
            ipc: None,
            events,
        }
    }

    /// The machine in depth with a figure in every section (used by `/metrics`' tests too).
    pub(crate) fn depth() -> Depth {
        let modes = CpuModes {
            user_percent: Some(30.0),
            nice_percent: Some(0.0),
            system_percent: Some(7.2),
            idle_percent: Some(60.0),
            iowait_percent: Some(1.5),
            irq_percent: Some(0.3),
            softirq_percent: Some(1.0),
            steal_percent: Some(0.0),
            guest_percent: None,
        };
        Depth {
            cpu_detail: CpuDetail {
                modes: Some(modes),
                per_core: vec![Some(modes), Some(modes)],
                interrupts_per_s: Some(812.5),
                sensors: CpuSensors {
                    frequency_mhz: vec![Some(2600.0), None],
                    frequency_source: Some("cpuinfo".into()),
                    temperatures: Temperatures {
                        available: true,
                        reason: None,
                        sensors: vec![
                            Temperature { name: "nvme Composite".into(), temperature_c: Some(38.0) },
                            Temperature { name: "coretemp Package id 0".into(), temperature_c: Some(51.0) },
                            Temperature { name: "coretemp Core 0".into(), temperature_c: Some(49.0) },
                        ],
                    },
                    ..CpuSensors::default()
                },
                ..CpuDetail::default()
            },
            memory_detail: MemoryDetail {
                available: true,
                free_gb: Some(2.5),
                cached_gb: Some(9.25),
                buffers_gb: Some(0.125),
                shared_gb: Some(0.001),
                hugepages_total: Some(0),
                hugepages_free: Some(0),
                hugepages_reserved: Some(0),
                ..MemoryDetail::default()
            },
            paging: Paging {
                available: true,
                page_in_bytes_per_s: Some(4096.0),
                page_out_bytes_per_s: Some(2048.0),
                swap_in_pages_per_s: Some(1.0),
                swap_out_pages_per_s: Some(0.5),
                page_faults_per_s: Some(5120.5),
                major_faults_per_s: Some(0.2),
                ..Paging::default()
            },
            disks: Disks {
                available: true,
                reason: None,
                devices: vec![DiskDevice {
                    name: "vda".into(),
                    read_bytes_per_s: Some(0.0),
                    write_bytes_per_s: Some(4096.0),
                    read_iops: Some(0.0),
                    write_iops: Some(1.0),
                    read_await_ms: None,
                    write_await_ms: Some(0.75),
                    await_ms: Some(0.75),
                    util_percent: Some(0.1),
                    in_flight: 0,
                }],
            },
            filesystems: Filesystems {
                available: true,
                reason: None,
                age_ms: Some(300),
                filesystems: vec![Filesystem {
                    device: "vda1".into(),
                    fs_type: "ext4".into(),
                    mount_point: Some("/".into()),
                    size_gb: Some(100.0),
                    used_gb: Some(40.5),
                    free_gb: Some(54.5),
                    used_percent: Some(42.6),
                }],
            },
            interfaces: Interfaces {
                available: true,
                reason: None,
                interfaces: vec![Interface {
                    name: "eth0".into(),
                    rx_bytes_per_s: Some(1024.0),
                    tx_bytes_per_s: Some(312.0),
                    rx_packets_per_s: Some(3.0),
                    tx_packets_per_s: Some(2.0),
                    rx_errors_per_s: Some(0.0),
                    tx_errors_per_s: Some(0.0),
                    rx_drops_per_s: Some(0.5),
                    tx_drops_per_s: None,
                }],
            },
            sockets: Sockets {
                available: true,
                tcp_established: Some(4),
                tcp_syn_sent: Some(0),
                tcp_syn_recv: Some(0),
                tcp_fin_wait1: Some(0),
                tcp_fin_wait2: Some(1),
                tcp_time_wait: Some(2),
                tcp_close: Some(0),
                tcp_close_wait: Some(0),
                tcp_last_ack: Some(0),
                tcp_listen: Some(3),
                tcp_closing: Some(0),
                udp: Some(2),
                ..Sockets::default()
            },
            perf_events: perf_without_pmu(),
            ..Depth::default()
        }
    }

    fn sample() -> HostSample {
        HostSample {
            taken_at: chrono::Utc.with_ymd_and_hms(2026, 1, 19, 14, 30, 5).single().expect("a valid instant"),
            cpu: CpuReading { percent: Some(37.25), per_core: vec![30.0, 44.5], load: Some([0.5, 0.4, 0.3]) },
            memory: Some(MemoryReading {
                total_bytes: 16 << 30,
                used_bytes: 4 << 30,
                swap_total_bytes: 0,
                swap_used_bytes: 0,
            }),
            network: Some(NetworkReading {
                rx_bytes_per_s: 1024.0,
                tx_bytes_per_s: 312.0,
                rx_total_bytes: 5000,
                tx_total_bytes: 700,
            }),
            disk: DiskReading {
                read_bytes_per_s: Some(0.0),
                write_bytes_per_s: Some(4096.0),
                used_bytes: Some(250),
                total_bytes: Some(1000),
            },
            depth: depth(),
            ..HostSample::default()
        }
    }

    #[test]
    fn a_sample_reads_in_perfwatch_names_with_exact_bytes() {
        let PerfWatchMsg::Metrics(m) = message(&sample()) else { panic!("a metrics message") };
        assert_eq!(m.timestamp.as_str(), "2026-01-19T14:30:05Z", "PerfWatch's whole seconds");
        assert_eq!(m.data.cpu.usage_percent, Some(37.25), "exact, not rounded for display");
        assert_eq!(m.data.cpu.core_count, Some(2));
        assert_eq!(m.data.cpu.load_avg, Some([0.5, 0.4, 0.3]));
        assert_eq!(m.data.memory.total_bytes, Some(16 << 30));
        assert_eq!(m.data.memory.available_bytes, Some(12 << 30));
        assert_eq!(m.data.memory.usage_percent, Some(25.0));
        assert_eq!(m.data.memory.swap_percent, Some(0.0), "no swap is 0 %, not a division by zero");
        assert_eq!(m.data.network.bytes_recv_per_sec, Some(1024.0));
        assert_eq!(m.data.network.total_bytes_sent, Some(700));
        assert_eq!(m.data.disk.io.write_bytes_per_sec, Some(4096.0));
        let text = serde_json::to_string(&PerfWatchMsg::Metrics(m)).expect("serialises");
        assert!(
            text.starts_with(r#"{"type":"metrics","timestamp":"2026-01-19T14:30:05Z","data":{"cpu":"#),
            "{text}"
        );
        assert!(!text.contains("mountpoint") && !text.contains("mount_point"), "no mount points: {text}");
        assert!(!text.contains("\"/"), "no value starts with a path: {text}");
    }

    #[test]
    fn the_machine_in_depth_reads_in_perfwatch_names() {
        let PerfWatchMsg::Metrics(m) = message(&sample()) else { panic!("a metrics message") };
        let cpu = &m.data.cpu;
        assert_eq!(
            (cpu.user, cpu.system, cpu.idle, cpu.iowait),
            (Some(30.0), Some(7.2), Some(60.0), Some(1.5))
        );
        assert_eq!((cpu.irq, cpu.softirq, cpu.steal, cpu.guest), (Some(0.3), Some(1.0), Some(0.0), None));
        assert_eq!(cpu.frequency_mhz, Some(vec![Some(2600.0), None]), "a core without one stays null");
        assert_eq!(cpu.temperature_celsius, Some(vec![51.0, 49.0]), "the CPU chip's, not the disk's");
        assert_eq!(cpu.temperature, Some(50.0));
        assert_eq!(cpu.interrupts_per_sec, Some(812.5));

        let memory = &m.data.memory;
        assert_eq!(memory.free_bytes, Some(5 << 29));
        assert_eq!(memory.cached_bytes, Some(37 << 28));
        assert_eq!(memory.buffers_bytes, Some(1 << 27));
        assert_eq!(memory.shared_bytes, Some(1_073_742), "a thousandth of a GiB");
        assert_eq!(
            (memory.hugepages_total, memory.hugepages_free, memory.hugepages_reserved),
            (Some(0), Some(0), Some(0))
        );

        let network = &m.data.network;
        let eth0 = &network.interfaces["eth0"];
        assert_eq!((eth0.bytes_recv_per_sec, eth0.bytes_sent_per_sec), (Some(1024.0), Some(312.0)));
        assert_eq!(
            (eth0.packets_recv_per_sec, eth0.drops_in_per_sec, eth0.drops_out_per_sec),
            (Some(3.0), Some(0.5), None)
        );
        let c = &network.connections;
        assert_eq!(
            (c.tcp_established, c.tcp_time_wait, c.tcp_close_wait, c.tcp_listen, c.udp_count),
            (Some(4), Some(2), Some(0), Some(3), Some(2))
        );
        assert_eq!(network.connection_count, Some(12), "every TCP state and UDP");

        let vda = &m.data.disk.devices["vda"];
        assert_eq!(
            (vda.write_iops, vda.write_latency_ms, vda.read_latency_ms),
            (Some(1.0), Some(0.75), None)
        );
        assert_eq!((vda.util_percent, vda.in_flight), (Some(0.1), 0));
        assert_eq!(
            m.data.disk.partitions,
            [PerfWatchPartition {
                device: "vda1".into(),
                fstype: "ext4".into(),
                total_bytes: Some(100 << 30),
                used_bytes: Some(81 << 29),
                free_bytes: Some(109 << 29),
                usage_percent: Some(42.6),
            }],
            "named by device and type, without its mount point"
        );
    }

    #[test]
    fn vmstat_rates_read_as_perfwatchs_memory_bandwidth() {
        let PerfWatchMsg::Metrics(m) = message(&sample()) else { panic!("a metrics message") };
        assert!(m.data.memory_bandwidth.available);
        let b = memory_bandwidth(&depth().paging, 4096);
        assert_eq!((b.pgpgin_per_sec, b.pgpgout_per_sec), (Some(4.0), Some(2.0)), "KiB/s, as vmstat counts");
        assert_eq!((b.pswpin_per_sec, b.pswpout_per_sec), (Some(1.0), Some(0.5)));
        assert_eq!(b.page_io_bytes_per_sec, Some(6144.0));
        assert_eq!(b.swap_io_bytes_per_sec, Some(6144.0), "1.5 pages of 4 KiB");
        assert_eq!(memory_bandwidth(&depth().paging, 65536).swap_io_bytes_per_sec, Some(98304.0));
        assert_eq!((b.pgfault_per_sec, b.pgmajfault_per_sec), (Some(5120.5), Some(0.2)));
        let first = Paging { page_out_bytes_per_s: None, ..depth().paging };
        assert_eq!(memory_bandwidth(&first, 4096).page_io_bytes_per_sec, None, "not half a sum");
    }

    #[test]
    fn perf_events_follow_perfwatchs_rule_and_still_list_what_was_counted() {
        let section = perf_events(&perf_without_pmu());
        assert!(!section.available, "PerfWatch: unavailable when any event is");
        let error = section.error.as_deref().expect("an error naming them");
        assert_eq!(
            error,
            format!(
                "cycles, instructions, cache-references, cache-misses, branches, branch-misses not counted: {PMU}"
            )
        );
        assert_eq!(section.unsupported_events, &EVENT_NAMES[..6]);
        assert_eq!(section.events.len(), EVENT_NAMES.len(), "every event keeps its place");
        assert_eq!(section.events["cycles"], PerfWatchEvent { value: None, unit: None });
        assert_eq!(section.events["context-switches"].value, Some(1006.0), "the count over the interval");
        assert_eq!(section.events["cpu-clock"].unit.as_deref(), Some("msec"));
        assert_eq!((section.cpu_cores.as_deref(), section.interval_ms), (Some("all"), Some(5001.5)));

        let mut all = perf_without_pmu();
        for e in all.events.values_mut() {
            e.available = true;
            e.reason = None;
            e.value = Some(1.0);
        }
        let all = perf_events(&all);
        assert!(all.available && all.error.is_none() && all.unsupported_events.is_empty(), "{all:?}");

        let mut reasons = perf_without_pmu();
        if let Some(e) = reasons.events.get_mut("page-faults") {
            e.available = false;
            e.reason = Some("refused".into());
            e.value = Some(3.0);
        }
        let reasons = perf_events(&reasons);
        assert!(reasons.error.is_some_and(|e| e.ends_with("; page-faults not counted: refused")));
        assert_eq!(reasons.events["page-faults"].value, None, "no value from an event not counted");

        let nothing = PerfEvents { error: Some("not read yet".into()), ..PerfEvents::default() };
        let nothing = perf_events(&nothing);
        assert_eq!(
            (nothing.available, nothing.error.as_deref(), nothing.cpu_cores),
            (false, Some("not read yet"), None)
        );
        assert!(nothing.events.is_empty());
        let _: BTreeMap<String, PerfWatchEvent> = nothing.events;
    }

    #[test]
    fn what_cannot_be_read_is_null() {
        let bare = HostSample {
            memory: None,
            network: None,
            disk: DiskReading::default(),
            depth: Depth::default(),
            ..sample()
        };
        let PerfWatchMsg::Metrics(m) = message(&bare) else { panic!("a metrics message") };
        assert_eq!(m.data.memory, PerfWatchMemory::default());
        assert_eq!(m.data.network, PerfWatchNetwork::default());
        assert!(m.data.disk.partitions.is_empty() && m.data.disk.devices.is_empty());
        assert_eq!(m.data.disk.io.read_bytes_per_sec, None);
        let cpu = &m.data.cpu;
        assert_eq!(
            (cpu.user, cpu.frequency_mhz.as_ref(), cpu.temperature, cpu.temperature_celsius.as_ref()),
            (None, None, None, None)
        );
        assert_eq!(m.data.memory_bandwidth, PerfWatchMemoryBandwidth::default());
        assert!(!m.data.perf_events.available);
    }

    #[test]
    fn the_cpu_temperature_is_taken_as_perfwatch_takes_it() {
        let t = |name: &str, c: Option<f64>| Temperature { name: name.into(), temperature_c: c };
        let of = |sensors: Vec<Temperature>| {
            cpu_temperature(&Temperatures { available: true, reason: None, sensors })
        };
        assert_eq!(
            of(vec![t("nvme Composite", Some(40.0)), t("k10temp Tctl", Some(60.0))]),
            (Some(60.0), Some(vec![60.0]))
        );
        assert_eq!(
            of(vec![
                t("x86_pkg_temp", Some(0.0)),
                t("acpitz", Some(30.0)),
                t("acpitz", None),
                t("nvme x", Some(40.0))
            ]),
            (Some(30.0), Some(vec![30.0])),
            "no CPU chip: the first chip with a reading above 0"
        );
        assert_eq!(of(vec![t("coretemp Core 0", None)]), (None, None));
        assert_eq!(of(vec![]), (None, None));
    }

    fn taken_at(sample: &HostSample, seconds: i64) -> HostSample {
        HostSample { taken_at: sample.taken_at + chrono::Duration::seconds(seconds), ..sample.clone() }
    }

    #[test]
    fn a_new_client_starts_from_the_newest_sample_not_the_feeds_last_frame() {
        let hub = crate::hub::tests::hub();
        assert!(newest(&hub).is_none(), "nothing before the first sample");
        let listener = hub.perfwatch().subscribe();
        hub.perfwatch().publish(&sample());
        drop(listener);
        // Hours on, nobody listening: the feed still holds that frame.
        hub.publish(taken_at(&sample(), 3 * 3600));
        let stale = hub.perfwatch().subscribe().borrow().clone().expect("the feed's last frame");
        assert!(stale.as_str().contains("14:30:05Z"), "{}", stale.as_str());
        let fresh = newest(&hub).expect("built from the newest sample");
        assert!(fresh.as_str().contains(r#""timestamp":"2026-01-19T17:30:05Z""#), "{}", fresh.as_str());
    }

    #[tokio::test]
    async fn the_first_sample_is_published_when_it_comes_not_a_whole_interval_later() {
        let hub = Arc::new(crate::hub::tests::hub());
        let shutdown = CancellationToken::new();
        let mut frames = hub.perfwatch().subscribe();
        let feed = tokio::spawn(run(hub.clone(), Duration::from_secs(3600), shutdown.clone()));
        // Let the loop take its first look (no sample yet) on this one thread.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(frames.borrow().is_none());
        hub.publish(sample());
        tokio::time::timeout(Duration::from_secs(5), frames.changed())
            .await
            .expect("published within moments of the sample, not an interval later")
            .expect("the feed is open");
        assert!(frames.borrow().as_ref().is_some_and(|f| f.as_str().contains("14:30:05Z")));
        shutdown.cancel();
        feed.await.expect("the loop ends on shutdown");
    }

    #[test]
    fn the_feed_serialises_only_while_someone_listens() {
        let feed = PerfWatchFeed::default();
        feed.publish(&sample());
        let receiver = feed.subscribe();
        assert!(receiver.borrow().is_none(), "nothing was built for nobody");
        feed.publish(&sample());
        let frame = receiver.borrow().clone().expect("a frame for the listener");
        assert!(frame.as_str().contains(r#""usage_percent":37.25"#));
    }
}
