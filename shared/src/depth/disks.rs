//! Each physical disk's traffic, latency and busy time (`/sys/block/DISK/stat`), and
//! the space of each filesystem on a real block device (`statvfs`).
//!
//! A disk is named as the kernel names it (`sda`, `nvme0n1`, `vda`), a filesystem
//! by its device (`vda1`, not `/dev/vda1`) and type: names, never paths. A mount
//! point is sent only where it is not inside a home directory.
//!
//! # Layout
//! - [`Disks`]: the physical disks, each a [`DiskDevice`]; read every tick.
//! - [`Filesystems`]: the filesystems, each a [`Filesystem`]; read at most every
//!   5 s, with the reading's age.

use serde::{Deserialize, Serialize};

/// The most disks a [`Disks`] section lists: the busiest since boot (bytes
/// read and written), listed by name. The machine's totals count every disk.
pub const MAX_DISKS: usize = 32;

/// The most filesystems a [`Filesystems`] section lists, in mount order.
pub const MAX_FILESYSTEMS: usize = 32;

/// The physical disks: whole devices with a hardware `device` behind them in
/// `/sys/block`, so partitions, loop, RAM and device-mapper layers (whose
/// traffic is the disks' own, again) are not listed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Disks {
    /// Whether `/sys/block` could be read.
    pub available: bool,
    /// Why not, in plain words, when `available` is false.
    pub reason: Option<String>,
    /// At most [`MAX_DISKS`] disks, by name.
    pub devices: Vec<DiskDevice>,
}

/// One physical disk over the interval since the previous sample, as
/// `iostat -x` reports it. Every rate is `null` on the disk's first sample
/// (nothing to compare with yet).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DiskDevice {
    /// The kernel's name for it (`sda`, `nvme0n1`, `vda`).
    pub name: String,
    /// Bytes read per second (iostat's `rkB/s` × 1024).
    pub read_bytes_per_s: Option<f64>,
    /// Bytes written per second (iostat's `wkB/s` × 1024).
    pub write_bytes_per_s: Option<f64>,
    /// Reads completed per second (iostat's `r/s`).
    pub read_iops: Option<f64>,
    /// Writes completed per second (iostat's `w/s`).
    pub write_iops: Option<f64>,
    /// Mean time a read took, queue included, in ms (iostat's `r_await`);
    /// `null` when no read completed in the interval.
    pub read_await_ms: Option<f64>,
    /// Mean time a write took, queue included, in ms (iostat's `w_await`);
    /// `null` when no write completed in the interval.
    pub write_await_ms: Option<f64>,
    /// Mean time a read or write took, in ms (the `await` of older iostat:
    /// time spent by reads and writes over their count); `null` when none
    /// completed in the interval.
    pub await_ms: Option<f64>,
    /// Share of the interval with at least one request in flight, 0–100
    /// (iostat's `%util`; a disk serving requests in parallel can be far from
    /// saturated at 100).
    pub util_percent: Option<f64>,
    /// Requests issued to the device and not yet completed, at the sample.
    pub in_flight: u64,
}

/// The filesystems on real block devices, read at most every 5 s.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Filesystems {
    /// Whether the mount table (`/proc/self/mounts`) could be read.
    pub available: bool,
    /// Why not, in plain words, when `available` is false.
    pub reason: Option<String>,
    /// How old the figures are at this sample, in ms (they are read at most
    /// every 5 s); `null` when nothing was read.
    pub age_ms: Option<u64>,
    /// At most [`MAX_FILESYSTEMS`] filesystems, in mount order; one per device
    /// (a bind mount or second mount of a device is not listed again).
    pub filesystems: Vec<Filesystem>,
}

/// One filesystem's space, as `df` counts it, in GB (GiB) with one decimal.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Filesystem {
    /// Its device's name (`vda1`, `nvme0n1p2`, `vg-root`), without `/dev/`.
    pub device: String,
    /// Its type (`ext4`, `xfs`, `btrfs`).
    pub fs_type: String,
    /// Where it is mounted (`/`, `/var`); `null` when that is inside a home
    /// directory (under `/home/…`, `/root` or the server's `$HOME`), which is a
    /// path naming a person.
    pub mount_point: Option<String>,
    /// Its size (df's `1B-blocks`).
    pub size_gb: Option<f64>,
    /// Space in use (df's `Used`: size minus free blocks).
    pub used_gb: Option<f64>,
    /// Space an unprivileged user may still fill (df's `Available`: blocks
    /// reserved for root are not counted).
    pub free_gb: Option<f64>,
    /// `used / (used + free)`, 0–100 (df's `Use%`, before df rounds it up).
    pub used_percent: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disk() -> DiskDevice {
        DiskDevice {
            name: "nvme0n1".into(),
            read_bytes_per_s: Some(4096.0),
            write_bytes_per_s: Some(1_048_576.0),
            read_iops: Some(1.0),
            write_iops: Some(16.5),
            read_await_ms: Some(0.25),
            write_await_ms: None,
            await_ms: Some(0.31),
            util_percent: Some(12.5),
            in_flight: 2,
        }
    }

    #[test]
    fn disks_round_trip_with_their_field_names() {
        let disks = Disks { available: true, reason: None, devices: vec![disk()] };
        let json = serde_json::to_value(&disks).expect("serialises");
        assert_eq!(json["devices"][0]["name"], "nvme0n1");
        assert_eq!(json["devices"][0]["write_iops"], 16.5);
        assert_eq!(json["devices"][0]["write_await_ms"], serde_json::Value::Null);
        assert_eq!(json["devices"][0]["util_percent"], 12.5);
        assert_eq!(json["devices"][0]["in_flight"], 2);
        let back: Disks = serde_json::from_value(json).expect("deserialises");
        assert_eq!(back, disks);
    }

    #[test]
    fn filesystems_round_trip_with_their_field_names() {
        let fs = Filesystems {
            available: true,
            reason: None,
            age_ms: Some(1200),
            filesystems: vec![Filesystem {
                device: "vda1".into(),
                fs_type: "ext4".into(),
                mount_point: None,
                size_gb: Some(100.0),
                used_gb: Some(40.5),
                free_gb: Some(54.4),
                used_percent: Some(42.7),
            }],
        };
        let json = serde_json::to_value(&fs).expect("serialises");
        assert_eq!(json["age_ms"], 1200);
        assert_eq!(json["filesystems"][0]["device"], "vda1");
        assert_eq!(json["filesystems"][0]["fs_type"], "ext4");
        assert_eq!(json["filesystems"][0]["mount_point"], serde_json::Value::Null);
        assert_eq!(json["filesystems"][0]["used_percent"], 42.7);
        let back: Filesystems = serde_json::from_value(json).expect("deserialises");
        assert_eq!(back, fs);
    }

    #[test]
    fn older_and_partial_payloads_decode() {
        let disks: Disks = serde_json::from_str(r#"{"devices":[{"name":"sda"}]}"#).expect("partial");
        assert!(!disks.available);
        assert_eq!(disks.devices[0].name, "sda");
        assert_eq!(disks.devices[0].read_iops, None);
        let fs: Filesystems = serde_json::from_str("{}").expect("empty");
        assert_eq!(fs, Filesystems::default());
    }
}
