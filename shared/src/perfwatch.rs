//! The `/api/ws/metrics` stream, in PerfWatch's own shape, so a PerfWatch client
//! can use PerfMon as its back end: `{"type":"metrics","timestamp":…,"data":{…}}`
//! every [`PERFWATCH_INTERVAL_MS`], and `{"type":"pong"}` for a client's
//! `{"type":"ping"}` (the same [`crate::ClientMsg`] as PerfMon's own stream).
//!
//! The field names are PerfWatch's collectors' (`usage_percent`,
//! `bytes_recv_per_sec`, `total_bytes`, …), with PerfMon's exact readings:
//! bytes are bytes, not rounded GB. A value that cannot be read is `null`.
//! PerfWatch lists disk partitions with their device and mount point; PerfMon
//! sends no paths, so `disk.partitions` holds one entry, the filesystem PerfMon
//! runs in, without either.

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

/// The four collectors PerfWatch streams.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PerfWatchData {
    /// CPU use.
    pub cpu: PerfWatchCpu,
    /// Memory and swap.
    pub memory: PerfWatchMemory,
    /// Network traffic over every interface but loopback.
    pub network: PerfWatchNetwork,
    /// Disk traffic and space.
    pub disk: PerfWatchDisk,
}

/// `data.cpu`.
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
}

/// `data.disk`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PerfWatchDisk {
    /// The filesystem PerfMon runs in (one entry; no device or mount point).
    pub partitions: Vec<PerfWatchPartition>,
    /// Traffic over physical disks.
    pub io: PerfWatchDiskIo,
}

/// One filesystem's space, in bytes.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PerfWatchPartition {
    /// Its size.
    pub total_bytes: u64,
    /// Space used.
    pub used_bytes: u64,
    /// Space left.
    pub free_bytes: u64,
    /// `used / total`, 0–100.
    pub usage_percent: f64,
}

/// Disk traffic.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PerfWatchDiskIo {
    /// Bytes read per second.
    pub read_bytes_per_sec: Option<f64>,
    /// Bytes written per second.
    pub write_bytes_per_sec: Option<f64>,
}
