//! The `/api/ws/metrics` stream, in PerfWatch's own shape, so a PerfWatch client
//! can use PerfMon as its back end: `{"type":"metrics","timestamp":…,"data":{…}}`
//! every [`PERFWATCH_INTERVAL_MS`], and `{"type":"pong"}` for a client's
//! `{"type":"ping"}` (the same [`crate::ClientMsg`] as PerfMon's own stream).
//!
//! The sections and field names are PerfWatch's collectors' (`cpu`, `memory`,
//! `network`, `disk`, `perf_events`, `memory_bandwidth`; `usage_percent`,
//! `bytes_recv_per_sec`, `pgpgin_per_sec`, …), with PerfMon's readings: bytes are
//! bytes, not GB. A value that cannot be read is `null` — never PerfWatch's 0 on
//! a first reading. Where PerfMon adds a figure PerfWatch has no name for, it is
//! named in PerfWatch's style (`interrupts_per_sec`, `latency_ms`).
//!
//! PerfWatch lists disk partitions by mount point; PerfMon sends no paths, so a
//! partition is named by its device (`vda1`, never `/dev/vda1`) and type, and has
//! no `mountpoint`.
//!
//! `perf_events` follows PerfWatch's rule, not PerfMon's own stream's: it is
//! `available` only when every event is counted; otherwise `error` names the
//! events that are not and why, and `events` still lists every event — those
//! counted with their value, the others with `null`.
//!
//! # Layout
//! - [`PerfWatchMsg`]: the messages; [`PerfWatchMetrics`] and [`PerfWatchData`],
//!   the `metrics` message and its six sections.
//! - One type per section and per keyed entry: [`PerfWatchCpu`],
//!   [`PerfWatchMemory`], [`PerfWatchMemoryBandwidth`], [`PerfWatchNetwork`]
//!   ([`PerfWatchInterface`], [`PerfWatchConnections`]), [`PerfWatchDisk`]
//!   ([`PerfWatchDiskDevice`], [`PerfWatchPartition`], [`PerfWatchDiskIo`]),
//!   [`PerfWatchPerfEvents`] ([`PerfWatchEvent`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The stream's path.
pub const PERFWATCH_PATH: &str = "/api/ws/metrics";

/// Time between `metrics` messages, as PerfWatch sends them.
pub const PERFWATCH_INTERVAL_MS: u64 = 5000;

/// A message on the PerfWatch stream.
// Serialised once per five seconds and decoded one at a time: boxing the big
// variant would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PerfWatchMsg {
    /// The machine's newest sample.
    Metrics(PerfWatchMetrics),
    /// The answer to a client's `ping`.
    Pong,
    /// The client sent something the server could not accept; the socket stays open.
    Error(crate::ErrorMsg),
}

/// One `metrics` message.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PerfWatchMetrics {
    /// When the sample was taken, UTC, whole seconds (`2026-01-19T14:30:05Z`).
    pub timestamp: crate::Timestamp,
    /// The collectors' figures.
    pub data: PerfWatchData,
}

/// The collectors PerfWatch streams, by its collectors' names.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PerfWatchData {
    /// CPU use.
    pub cpu: PerfWatchCpu,
    /// Memory and swap.
    pub memory: PerfWatchMemory,
    /// Network traffic over every interface but loopback, and sockets.
    pub network: PerfWatchNetwork,
    /// Disk traffic and space.
    pub disk: PerfWatchDisk,
    /// Machine-wide hardware and software counters.
    #[serde(default)]
    pub perf_events: PerfWatchPerfEvents,
    /// Paging between memory and disk (`/proc/vmstat`).
    #[serde(default)]
    pub memory_bandwidth: PerfWatchMemoryBandwidth,
}

/// `data.cpu`. The modes are shares of the CPU time since PerfMon's previous
/// sample, 0–100, summing to 100.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PerfWatchCpu {
    /// Busy share of all cores, 0–100.
    pub usage_percent: Option<f64>,
    /// Busy share of each logical core, 0–100.
    pub per_core: Vec<f64>,
    /// Load averages over 1, 5 and 15 minutes.
    pub load_avg: Option<[f64; 3]>,
    /// Logical cores.
    pub core_count: Option<u32>,
    /// Running user code, guest time excluded (it is in `guest`).
    #[serde(default)]
    pub user: Option<f64>,
    /// Running niced user code, niced guest time excluded.
    #[serde(default)]
    pub nice: Option<f64>,
    /// Running kernel code.
    #[serde(default)]
    pub system: Option<f64>,
    /// Idle with no I/O outstanding.
    #[serde(default)]
    pub idle: Option<f64>,
    /// Idle while some task waited for I/O.
    #[serde(default)]
    pub iowait: Option<f64>,
    /// Servicing hardware interrupts.
    #[serde(default)]
    pub irq: Option<f64>,
    /// Servicing softirqs.
    #[serde(default)]
    pub softirq: Option<f64>,
    /// Taken by the hypervisor for other machines.
    #[serde(default)]
    pub steal: Option<f64>,
    /// Running guests' virtual CPUs.
    #[serde(default)]
    pub guest: Option<f64>,
    /// Each core's current frequency in MHz, by core number (`null` for a core
    /// with none); `null` when no core has one.
    #[serde(default)]
    pub frequency_mhz: Option<Vec<Option<f64>>>,
    /// The CPU's temperature in °C, as PerfWatch's collector takes it: the mean
    /// of the CPU chip's sensors (`coretemp`, `cpu_thermal`, `k10temp`,
    /// `zenpower`, else the first chip with a reading); `null` without sensors.
    #[serde(default)]
    pub temperature: Option<f64>,
    /// That chip's sensors, °C each (package and cores, in the kernel's order);
    /// `null` without sensors.
    #[serde(default)]
    pub temperature_celsius: Option<Vec<f64>>,
    /// Interrupts serviced per second, machine-wide.
    #[serde(default)]
    pub interrupts_per_sec: Option<f64>,
}

/// `data.memory`, in bytes.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PerfWatchMemory {
    /// Installed memory.
    pub total_bytes: Option<u64>,
    /// What could be given to programs at once (total minus used).
    pub available_bytes: Option<u64>,
    /// In use (total minus available).
    pub used_bytes: Option<u64>,
    /// `used / total`, 0–100.
    pub usage_percent: Option<f64>,
    /// Swap configured.
    pub swap_total_bytes: Option<u64>,
    /// Swap in use.
    pub swap_used_bytes: Option<u64>,
    /// Swap not in use.
    pub swap_free_bytes: Option<u64>,
    /// `swap used / swap total`, 0–100 (0 without swap).
    pub swap_percent: Option<f64>,
    /// Memory in no use at all (`MemFree`), to a thousandth of a GiB
    /// (about a MiB: PerfMon's sample holds memory detail so).
    #[serde(default)]
    pub free_bytes: Option<u64>,
    /// Page cache and reclaimable slab (`Cached` + `SReclaimable`, as psutil
    /// counts `cached`), to a thousandth of a GiB.
    #[serde(default)]
    pub cached_bytes: Option<u64>,
    /// Block-device buffers (`Buffers`), to a thousandth of a GiB.
    #[serde(default)]
    pub buffers_bytes: Option<u64>,
    /// Shared memory and tmpfs (`Shmem`), to a thousandth of a GiB.
    #[serde(default)]
    pub shared_bytes: Option<u64>,
    /// Huge pages in the pool (`HugePages_Total`).
    #[serde(default)]
    pub hugepages_total: Option<u64>,
    /// Huge pages not yet given out (`HugePages_Free`).
    #[serde(default)]
    pub hugepages_free: Option<u64>,
    /// Huge pages promised but not yet faulted in (`HugePages_Rsvd`).
    #[serde(default)]
    pub hugepages_reserved: Option<u64>,
}

/// `data.memory_bandwidth`: traffic between memory and disk since PerfMon's
/// previous sample, from `/proc/vmstat` (PerfWatch's memory-bandwidth collector:
/// disk ↔ memory, not CPU ↔ memory). Rates are `null` on the first sample.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PerfWatchMemoryBandwidth {
    /// Whether `/proc/vmstat` could be read.
    pub available: bool,
    /// KiB read in from block devices per second (`pgpgin`).
    pub pgpgin_per_sec: Option<f64>,
    /// KiB written out to block devices per second (`pgpgout`).
    pub pgpgout_per_sec: Option<f64>,
    /// Pages brought in from swap per second (`pswpin`).
    pub pswpin_per_sec: Option<f64>,
    /// Pages written out to swap per second (`pswpout`).
    pub pswpout_per_sec: Option<f64>,
    /// Bytes paged in and out per second: `(pgpgin + pgpgout) × 1024`.
    pub page_io_bytes_per_sec: Option<f64>,
    /// Bytes swapped in and out per second: `(pswpin + pswpout) × page size`.
    pub swap_io_bytes_per_sec: Option<f64>,
    /// Page faults per second, minor and major (`pgfault`).
    pub pgfault_per_sec: Option<f64>,
    /// Major page faults per second (`pgmajfault`).
    pub pgmajfault_per_sec: Option<f64>,
}

/// `data.network`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PerfWatchNetwork {
    /// Bytes sent per second.
    pub bytes_sent_per_sec: Option<f64>,
    /// Bytes received per second.
    pub bytes_recv_per_sec: Option<f64>,
    /// Bytes sent since the interfaces came up.
    pub total_bytes_sent: Option<u64>,
    /// Bytes received since the interfaces came up.
    pub total_bytes_recv: Option<u64>,
    /// Each interface but loopback by name, at most 32 (the busiest).
    #[serde(default)]
    pub interfaces: BTreeMap<String, PerfWatchInterface>,
    /// Sockets by state.
    #[serde(default)]
    pub connections: PerfWatchConnections,
    /// TCP and UDP sockets of every state, IPv4 and IPv6 (psutil's
    /// `net_connections('inet')` count); `null` when a table cannot be read.
    #[serde(default)]
    pub connection_count: Option<u64>,
}

/// One interface since PerfMon's previous sample; `null` on its first.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PerfWatchInterface {
    /// Bytes sent per second.
    pub bytes_sent_per_sec: Option<f64>,
    /// Bytes received per second.
    pub bytes_recv_per_sec: Option<f64>,
    /// Packets sent per second.
    pub packets_sent_per_sec: Option<f64>,
    /// Packets received per second.
    pub packets_recv_per_sec: Option<f64>,
    /// Receive errors per second.
    pub errors_in_per_sec: Option<f64>,
    /// Send errors per second.
    pub errors_out_per_sec: Option<f64>,
    /// Received packets dropped per second.
    pub drops_in_per_sec: Option<f64>,
    /// Packets to send dropped per second.
    pub drops_out_per_sec: Option<f64>,
}

/// `data.network.connections`: sockets by state, IPv4 and IPv6 together, read
/// at most every 5 s; `null` when the tables cannot be read.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PerfWatchConnections {
    /// TCP connections open both ways.
    pub tcp_established: Option<u64>,
    /// TCP connections in `TIME-WAIT`.
    pub tcp_time_wait: Option<u64>,
    /// TCP connections in `CLOSE-WAIT`.
    pub tcp_close_wait: Option<u64>,
    /// TCP sockets listening.
    pub tcp_listen: Option<u64>,
    /// UDP sockets.
    pub udp_count: Option<u64>,
}

/// `data.disk`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PerfWatchDisk {
    /// Each filesystem on a real block device, in mount order, at most 32; once
    /// per device, named by device and type, without its mount point.
    pub partitions: Vec<PerfWatchPartition>,
    /// Traffic over physical disks.
    pub io: PerfWatchDiskIo,
    /// Each physical disk by the kernel's name, at most 32 (the busiest).
    #[serde(default)]
    pub devices: BTreeMap<String, PerfWatchDiskDevice>,
}

/// One filesystem's space, in bytes to a tenth of a GiB (as PerfMon's sample
/// holds them), as `df` and psutil count it: `used + free` is less than
/// `total` by the blocks reserved for root.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PerfWatchPartition {
    /// Its device's name (`vda1`), never a path.
    #[serde(default)]
    pub device: String,
    /// Its type (`ext4`).
    #[serde(default)]
    pub fstype: String,
    /// Its size.
    pub total_bytes: Option<u64>,
    /// Space used.
    pub used_bytes: Option<u64>,
    /// Space an unprivileged user may still fill.
    pub free_bytes: Option<u64>,
    /// `used / (used + free)`, 0–100.
    pub usage_percent: Option<f64>,
}

/// Disk traffic.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PerfWatchDiskIo {
    /// Bytes read per second.
    pub read_bytes_per_sec: Option<f64>,
    /// Bytes written per second.
    pub write_bytes_per_sec: Option<f64>,
}

/// One physical disk since PerfMon's previous sample, as `iostat -x` counts it;
/// rates `null` on its first sample.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PerfWatchDiskDevice {
    /// Bytes read per second.
    pub read_bytes_per_sec: Option<f64>,
    /// Bytes written per second.
    pub write_bytes_per_sec: Option<f64>,
    /// Reads completed per second.
    pub read_iops: Option<f64>,
    /// Writes completed per second.
    pub write_iops: Option<f64>,
    /// Mean time a read took, queue included, ms; `null` when none completed.
    pub read_latency_ms: Option<f64>,
    /// Mean time a write took, queue included, ms; `null` when none completed.
    pub write_latency_ms: Option<f64>,
    /// Mean time a read or write took, ms; `null` when none completed.
    pub latency_ms: Option<f64>,
    /// Share of the interval with a request in flight, 0–100 (`%util`).
    pub util_percent: Option<f64>,
    /// Requests issued and not yet completed.
    pub in_flight: u64,
}

/// `data.perf_events`, by PerfWatch's rule: `available` only when every event
/// is counted.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PerfWatchPerfEvents {
    /// Whether every event is counted.
    pub available: bool,
    /// Why not: the events not counted and each one's reason; `null` when
    /// available.
    pub error: Option<String>,
    /// The CPUs counted: `"all"` (machine-wide); `null` when nothing is open.
    pub cpu_cores: Option<String>,
    /// The interval the values cover, in ms (PerfMon reads the counters every
    /// 5 s); `null` before the first interval.
    pub interval_ms: Option<f64>,
    /// Every event by its `perf stat` name; `value` is `null` for one not
    /// counted.
    pub events: BTreeMap<String, PerfWatchEvent>,
    /// The events not counted, when any (PerfWatch's list).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unsupported_events: Vec<String>,
}

/// One event over the interval, as `perf stat -x,` prints it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PerfWatchEvent {
    /// The count over the interval, summed over CPUs (scaled as `perf stat`
    /// scales a multiplexed counter); `null` when not counted.
    pub value: Option<f64>,
    /// `msec` for `cpu-clock`, `null` for a count.
    pub unit: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_older_message_without_the_newer_sections_decodes() {
        let text = r#"{"type":"metrics","timestamp":"2026-01-19T14:30:05Z","data":{
            "cpu":{"usage_percent":1.0,"per_core":[1.0],"load_avg":null,"core_count":1},
            "memory":{"total_bytes":1,"available_bytes":1,"used_bytes":0,"usage_percent":0.0,
                      "swap_total_bytes":0,"swap_used_bytes":0,"swap_free_bytes":0,"swap_percent":0.0},
            "network":{"bytes_sent_per_sec":0.0,"bytes_recv_per_sec":0.0,"total_bytes_sent":0,"total_bytes_recv":0},
            "disk":{"partitions":[{"total_bytes":10,"used_bytes":4,"free_bytes":6,"usage_percent":40.0}],
                    "io":{"read_bytes_per_sec":0.0,"write_bytes_per_sec":0.0}}}}"#;
        let PerfWatchMsg::Metrics(m) = serde_json::from_str(text).expect("decodes") else {
            panic!("a metrics message")
        };
        assert_eq!(m.data.perf_events, PerfWatchPerfEvents::default());
        assert_eq!(m.data.cpu.user, None);
        assert!(m.data.network.interfaces.is_empty() && m.data.disk.devices.is_empty());
        assert_eq!(m.data.disk.partitions[0].total_bytes, Some(10));
        assert_eq!(m.data.disk.partitions[0].device, "");
    }

    #[test]
    fn perf_events_name_what_is_not_counted_only_when_something_is_not() {
        let mut events = BTreeMap::new();
        events.insert("cycles".to_owned(), PerfWatchEvent::default());
        let section = PerfWatchPerfEvents {
            available: false,
            error: Some("cycles not counted: no PMU".into()),
            cpu_cores: Some("all".into()),
            interval_ms: Some(5000.0),
            events,
            unsupported_events: vec!["cycles".into()],
        };
        let json = serde_json::to_value(&section).expect("serialises");
        assert_eq!(json["events"]["cycles"], serde_json::json!({"value": null, "unit": null}));
        assert_eq!(json["unsupported_events"][0], "cycles");
        let all = PerfWatchPerfEvents { available: true, error: None, unsupported_events: vec![], ..section };
        let json = serde_json::to_value(&all).expect("serialises");
        assert!(json.get("unsupported_events").is_none(), "PerfWatch lists it only when any: {json}");
        assert!(json["error"].is_null());
    }
}
