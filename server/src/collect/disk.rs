//! Disk traffic over the physical disks: summed, and per disk as `iostat -x`
//! reports it (bytes and requests per second, await, % busy, requests in
//! flight). The space of the filesystem PerfMon runs in is read on the slow
//! sources' thread (`super::space`) and set into [`DiskReading`] there.
//!
//! sysinfo reports disk I/O per mounted filesystem, which counts a disk once per
//! mount; the kernel's per-device counters do not. Only physical disks (those with
//! a `device` link in `/sys/block`) are summed and listed, so partitions, loop
//! devices and device-mapper layers on top of a disk are not counted twice.
//!
//! Each disk's counters come from its own `/sys/block/DISK/stat`, kept open: the
//! same fields as its line of `/proc/diskstats` (Documentation/block/stat.rst).
//! `/proc/diskstats` has a line for every block device — each partition, loop
//! device (a machine with snaps has dozens), RAM and device-mapper device — and
//! the kernel sums each one's per-CPU counters and counts its requests in
//! flight to write it; the tick wanted none of them. (This VM, 10 devices of
//! which one disk: 25 µs for `/proc/diskstats` against 10 µs for the disk's
//! `stat`, read warm.)
//!
//! The disks are listed from `/sys/block` when the collector starts, again when
//! the kernel announces a block device that came, went or changed
//! (`super::uevents`), when a disk's `stat` can no longer be read (it went), and
//! every [`RESCAN_TICKS`] in case an announcement was not heard (a container's
//! network namespace hears none).
//!
//! # Layout
//! - [`DiskCollector`]: keeps each disk's `stat` open; [`DiskCollector::read`]
//!   gives the totals ([`DiskReading`]), [`DiskCollector::read_detailed`] the
//!   totals and each disk ([`DisksReading`]) from the same reads.
//! - [`parse_stat`]: the pure parser; [`physical_disks`]: which devices are
//!   disks.
//! - [`keep_busiest`]: the bound on a per-device list (interfaces use it too).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use shared::depth::disks::{DiskDevice, Disks, MAX_DISKS};

use super::procfs::ProcFile;
use super::rates::RateCounter;
use super::uevents::Uevents;
use crate::units::{round_to, round1};

/// The kernel counts disk traffic in 512-byte sectors, whatever the hardware's.
const SECTOR_BYTES: u64 = 512;

/// Readings between listings of /sys/block, whatever the kernel announced
/// (see the module's docs).
pub const RESCAN_TICKS: u64 = 60;

/// Disk traffic and space, exactly as read.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DiskReading {
    /// Bytes read per second since the previous reading (0 on the first).
    pub read_bytes_per_s: Option<f64>,
    /// Bytes written per second since the previous reading (0 on the first).
    pub write_bytes_per_s: Option<f64>,
    /// Space used on the filesystem holding the working directory: set by the
    /// sampler from the slow sources' latest reading (`super::space`), `None`
    /// before their first.
    pub used_bytes: Option<u64>,
    /// Size of that filesystem, the same way.
    pub total_bytes: Option<u64>,
}

/// Bytes read and written since boot, summed over physical disks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DiskTotals {
    /// Bytes read.
    pub read_bytes: u64,
    /// Bytes written.
    pub written_bytes: u64,
}

/// One device's counters since boot, from its `stat`
/// (Documentation/block/stat.rst, Documentation/admin-guide/iostats.rst).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DiskCounters {
    /// Reads completed.
    pub reads: u64,
    /// 512-byte sectors read.
    pub read_sectors: u64,
    /// Milliseconds reads took, from issue to completion, summed over reads.
    pub read_ms: u64,
    /// Writes completed.
    pub writes: u64,
    /// 512-byte sectors written.
    pub write_sectors: u64,
    /// Milliseconds writes took, summed over writes.
    pub write_ms: u64,
    /// Requests issued and not yet completed (a gauge, not a counter).
    pub in_flight: u64,
    /// Milliseconds with at least one request in flight (`io_ticks`).
    pub busy_ms: u64,
}

impl DiskCounters {
    /// Bytes read since boot.
    pub fn read_bytes(&self) -> u64 {
        self.read_sectors.saturating_mul(SECTOR_BYTES)
    }

    /// Bytes written since boot.
    pub fn written_bytes(&self) -> u64 {
        self.write_sectors.saturating_mul(SECTOR_BYTES)
    }
}

/// One physical disk, exactly as read: its counters since boot (for `/metrics`'
/// counters and PerfWatch's totals) and the rates since the previous reading,
/// `None` on its first reading.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DiskDeviceReading {
    /// The kernel's name for it (`sda`, `nvme0n1`): a name, never a path.
    pub name: String,
    /// Its counters since boot, and the requests in flight now.
    pub counters: DiskCounters,
    /// Bytes read per second.
    pub read_bytes_per_s: Option<f64>,
    /// Bytes written per second.
    pub write_bytes_per_s: Option<f64>,
    /// Reads completed per second.
    pub read_iops: Option<f64>,
    /// Writes completed per second.
    pub write_iops: Option<f64>,
    /// Mean ms a read took; `None` when none completed.
    pub read_await_ms: Option<f64>,
    /// Mean ms a write took; `None` when none completed.
    pub write_await_ms: Option<f64>,
    /// Mean ms a read or write took; `None` when none completed.
    pub await_ms: Option<f64>,
    /// Share of the interval with a request in flight, 0–100.
    pub util_percent: Option<f64>,
}

/// Each physical disk, exactly as read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DisksReading {
    /// Why there are no disks to list, when the kernel's files cannot be read.
    pub unavailable: Option<String>,
    /// At most [`MAX_DISKS`]: the busiest since boot, by name.
    pub devices: Vec<DiskDeviceReading>,
}

impl DisksReading {
    /// The payload's section: rates in whole bytes, requests per second and %
    /// with one decimal, latencies with two (a fast disk's are fractions of a ms).
    pub fn to_contract(&self) -> Disks {
        Disks {
            available: self.unavailable.is_none(),
            reason: self.unavailable.clone(),
            devices: self
                .devices
                .iter()
                .map(|d| DiskDevice {
                    name: d.name.clone(),
                    read_bytes_per_s: d.read_bytes_per_s.map(f64::round),
                    write_bytes_per_s: d.write_bytes_per_s.map(f64::round),
                    read_iops: d.read_iops.map(round1),
                    write_iops: d.write_iops.map(round1),
                    read_await_ms: d.read_await_ms.map(|ms| round_to(ms, 2)),
                    write_await_ms: d.write_await_ms.map(|ms| round_to(ms, 2)),
                    await_ms: d.await_ms.map(|ms| round_to(ms, 2)),
                    util_percent: d.util_percent.map(round1),
                    in_flight: d.counters.in_flight,
                })
                .collect(),
        }
    }
}

/// The rates of one disk's counters.
#[derive(Debug, Default)]
struct DeviceRates {
    read_sectors: RateCounter,
    write_sectors: RateCounter,
    reads: RateCounter,
    writes: RateCounter,
    read_ms: RateCounter,
    write_ms: RateCounter,
    busy_ms: RateCounter,
}

impl DeviceRates {
    /// Records `c` read at `now`; the figures since the previous reading, `None`
    /// on the first (`first`).
    fn update(&mut self, name: &str, c: &DiskCounters, now: Instant, first: bool) -> DiskDeviceReading {
        let read_sectors = self.read_sectors.update(c.read_sectors, now);
        let write_sectors = self.write_sectors.update(c.write_sectors, now);
        let reads = self.reads.update(c.reads, now);
        let writes = self.writes.update(c.writes, now);
        let read_ms = self.read_ms.update(c.read_ms, now);
        let write_ms = self.write_ms.update(c.write_ms, now);
        let busy_ms = self.busy_ms.update(c.busy_ms, now);
        let mut reading =
            DiskDeviceReading { name: name.to_owned(), counters: *c, ..DiskDeviceReading::default() };
        if first {
            return reading;
        }
        // Both rates share the interval, so their ratio is Δms / Δrequests.
        let mean = |ms: f64, requests: f64| (requests > 0.0).then(|| ms / requests);
        reading.read_bytes_per_s = Some(read_sectors * SECTOR_BYTES as f64);
        reading.write_bytes_per_s = Some(write_sectors * SECTOR_BYTES as f64);
        reading.read_iops = Some(reads);
        reading.write_iops = Some(writes);
        reading.read_await_ms = mean(read_ms, reads);
        reading.write_await_ms = mean(write_ms, writes);
        reading.await_ms = mean(read_ms + write_ms, reads + writes);
        // Busy ms per second of wall time; the kernel's and our clocks differ by
        // a little, so a saturated disk may read a hair over 100 (iostat caps it too).
        reading.util_percent = Some((busy_ms / 10.0).min(100.0));
        reading
    }
}

/// Reads disk traffic; owns the counters rates are computed from.
#[derive(Debug)]
pub struct DiskCollector {
    /// `/sys/block`, where physical disks are told from the rest.
    sys_block: PathBuf,
    /// The physical disks, by name, each with its `stat` kept open.
    disks: Vec<(String, ProcFile)>,
    /// Whether `/sys/block` could be read at the last listing.
    sys_block_read: bool,
    /// The kernel's announcements of block devices, where they can be heard.
    uevents: Option<Uevents>,
    /// Readings between listings, announced or not.
    rescan_ticks: u64,
    /// Readings since the last listing.
    since_rescan: u64,
    /// Rates from the summed read and write counters.
    read: RateCounter,
    write: RateCounter,
    /// Each physical disk's rates, by name; a disk that vanishes is dropped.
    devices: HashMap<String, DeviceRates>,
}

impl DiskCollector {
    /// Finds the disks, and listens for the kernel's word of new ones.
    /// Blocking.
    pub fn new() -> Self {
        let mut disks = Self::with_paths("/sys/block", RESCAN_TICKS);
        disks.uevents = Uevents::listen().ok();
        disks
    }

    /// A collector over another `/sys/block` (a fake tree in tests), listed
    /// again every `rescan_ticks` readings; it hears no announcement.
    /// Blocking.
    pub fn with_paths(sys_block: impl Into<PathBuf>, rescan_ticks: u64) -> Self {
        let mut collector = DiskCollector {
            sys_block: sys_block.into(),
            disks: Vec::new(),
            sys_block_read: false,
            uevents: None,
            rescan_ticks: rescan_ticks.max(1),
            since_rescan: 0,
            read: RateCounter::default(),
            write: RateCounter::default(),
            devices: HashMap::new(),
        };
        collector.list();
        collector
    }

    /// Lists the physical disks again; a disk still there keeps its open file.
    fn list(&mut self) {
        let found = physical_disks(&self.sys_block);
        self.sys_block_read = self.sys_block.is_dir();
        self.disks.retain(|(name, _)| found.contains(name));
        for name in found {
            if !self.disks.iter().any(|(known, _)| *known == name) {
                let stat = ProcFile::new(self.sys_block.join(&name).join("stat"));
                self.disks.push((name, stat));
            }
        }
        self.disks.sort_by(|a, b| a.0.cmp(&b.0));
        self.since_rescan = 0;
    }

    /// Reads traffic, as rates since the previous reading. Blocking.
    pub fn read(&mut self, now: Instant) -> DiskReading {
        self.read_detailed(now).0
    }

    /// Reads traffic, and each physical disk from the same reads. Blocking.
    pub fn read_detailed(&mut self, now: Instant) -> (DiskReading, DisksReading) {
        let mut reading = DiskReading::default();
        let mut detail = DisksReading::default();
        self.since_rescan += 1;
        let announced = match self.uevents.as_mut().map(|uevents| uevents.heard("block")) {
            Some(Ok(heard)) => heard,
            // The socket failed: list now, and from now on every
            // `rescan_ticks` only.
            Some(Err(_)) => {
                self.uevents = None;
                true
            }
            None => false,
        };
        if announced || self.since_rescan >= self.rescan_ticks {
            self.list();
        }
        if !self.sys_block_read {
            detail.unavailable = Some(format!(
                "{} cannot be read (not Linux, or no sysfs), so no disk can be told from partitions \
                 and virtual devices",
                self.sys_block.display()
            ));
            return (reading, detail);
        }
        let counters: Vec<Option<DiskCounters>> =
            self.disks.iter_mut().map(|(_, stat)| stat.read().and_then(parse_stat)).collect();
        if counters.iter().any(Option::is_none) {
            // A disk whose `stat` cannot be read has gone: it leaves now, and
            // the next reading lists the disks again (it may be back, anew).
            let mut read = counters.iter();
            self.disks.retain(|_| read.next().is_some_and(Option::is_some));
            self.since_rescan = self.rescan_ticks;
        }
        let physical: Vec<(&str, DiskCounters)> =
            self.disks.iter().map(|(name, _)| name.as_str()).zip(counters.into_iter().flatten()).collect();
        let totals = sum(&physical);
        reading.read_bytes_per_s = Some(self.read.update(totals.read_bytes, now));
        reading.write_bytes_per_s = Some(self.write.update(totals.written_bytes, now));
        // Rates for every disk (a disk beyond the bound keeps its baseline),
        // then the bound.
        self.devices.retain(|name, _| physical.iter().any(|(n, _)| n == name));
        for (name, counters) in &physical {
            let first = !self.devices.contains_key(*name);
            let rates = self.devices.entry((*name).to_owned()).or_default();
            detail.devices.push(rates.update(name, counters, now, first));
        }
        keep_busiest(
            &mut detail.devices,
            MAX_DISKS,
            |d| d.counters.read_bytes().saturating_add(d.counters.written_bytes()),
            |a, b| a.name.cmp(&b.name),
        );
        (reading, detail)
    }
}

/// Keeps the `bound` items with the most `traffic` (a counter since boot, so the
/// choice rarely changes from one reading to the next and series stay whole),
/// listed in `by_name` order.
pub fn keep_busiest<T>(
    items: &mut Vec<T>,
    bound: usize,
    traffic: impl Fn(&T) -> u64,
    by_name: impl FnMut(&T, &T) -> std::cmp::Ordering,
) {
    if items.len() > bound {
        items.sort_by_key(|item| std::cmp::Reverse(traffic(item)));
        items.truncate(bound);
    }
    items.sort_by(by_name);
}

/// The physical disks: entries of `sys_block` (`/sys/block`) with a `device`
/// link. Partitions live below their disk, and loop, RAM and device-mapper
/// devices have no `device`. Blocking.
pub fn physical_disks(sys_block: &Path) -> HashSet<String> {
    let Ok(entries) = std::fs::read_dir(sys_block) else { return HashSet::new() };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.path().join("device").exists())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect()
}

/// A disk's counters from its `stat` text (Documentation/block/stat.rst: reads,
/// merged, sectors, ms, writes, merged, sectors, ms, in flight, io_ticks, then
/// fields this does not use); `None` for a text too short to hold them, or a
/// field that is no number.
pub fn parse_stat(text: &str) -> Option<DiskCounters> {
    let mut numbers = [0u64; 10];
    let mut fields = text.split_ascii_whitespace();
    for slot in &mut numbers {
        *slot = fields.next()?.parse().ok()?;
    }
    let [reads, _, read_sectors, read_ms, writes, _, write_sectors, write_ms, in_flight, busy_ms] = numbers;
    Some(DiskCounters { reads, read_sectors, read_ms, writes, write_sectors, write_ms, in_flight, busy_ms })
}

/// Bytes read and written over `devices`.
fn sum(devices: &[(&str, DiskCounters)]) -> DiskTotals {
    devices.iter().fold(DiskTotals::default(), |totals, (_, c)| DiskTotals {
        read_bytes: totals.read_bytes.saturating_add(c.read_bytes()),
        written_bytes: totals.written_bytes.saturating_add(c.written_bytes()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Child, Command, Stdio};
    use std::time::Duration;

    /// An empty directory of this test's own under the temp dir.
    fn fake_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("perfmon-disk-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    /// A `/sys/block` as the kernel lays it out: disks with a `device` link,
    /// partitions inside their disk, virtual devices without one.
    fn fake_sys_block(tag: &str, paths: &[&str]) -> PathBuf {
        let dir = fake_dir(tag).join("block");
        for path in paths {
            std::fs::create_dir_all(dir.join(path)).expect("fake sysfs");
        }
        dir
    }

    /// A device's `stat` text with these counters, as the kernel writes it
    /// (17 fields since 5.5).
    fn stat(c: DiskCounters) -> String {
        format!(
            "{:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}\n",
            c.reads,
            0,
            c.read_sectors,
            c.read_ms,
            c.writes,
            0,
            c.write_sectors,
            c.write_ms,
            c.in_flight,
            c.busy_ms,
            0,
            0,
            0,
            0,
            0,
            0,
            0
        )
    }

    /// Writes a physical disk `name` (its `device` and `stat`) under `sys`.
    fn put(sys: &Path, name: &str, c: DiskCounters) {
        std::fs::create_dir_all(sys.join(name).join("device")).expect("fake disk");
        std::fs::write(sys.join(name).join("stat"), stat(c)).expect("its stat");
    }

    fn counters(reads: u64, writes: u64, ms: u64, busy_ms: u64, in_flight: u64) -> DiskCounters {
        DiskCounters {
            reads,
            read_sectors: reads.wrapping_mul(8),
            read_ms: ms,
            writes,
            write_sectors: writes.wrapping_mul(16),
            write_ms: ms.wrapping_mul(2),
            in_flight,
            busy_ms,
        }
    }

    #[test]
    fn only_devices_with_a_device_link_are_physical() {
        let dir = fake_sys_block(
            "physical",
            &["vda/device", "vda/vda1", "nvme0n1/device", "loop0/queue", "dm-0/dm"],
        );
        let disks = physical_disks(&dir);
        assert_eq!(disks, HashSet::from(["vda".to_owned(), "nvme0n1".to_owned()]));
        // So partitions, loop and device-mapper traffic is not counted twice.
        put(&dir, "vda", counters(1000, 400, 300, 700, 0));
        put(&dir, "nvme0n1", counters(10, 20, 1, 3, 0));
        for (virtual_device, c) in [("vda/vda1", 900), ("loop0", 10), ("dm-0", 800)] {
            std::fs::write(dir.join(virtual_device).join("stat"), stat(counters(c, c, c, c, 0)))
                .expect("stat");
        }
        let mut collector = DiskCollector::with_paths(&dir, RESCAN_TICKS);
        let t0 = Instant::now();
        let (_, first) = collector.read_detailed(t0);
        let names: Vec<&str> = first.devices.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["nvme0n1", "vda"], "by name; the partition, loop and device-mapper left out");
        put(&dir, "vda", counters(1100, 400, 300, 700, 0));
        put(&dir, "nvme0n1", counters(20, 20, 1, 3, 0));
        for (virtual_device, c) in [("vda/vda1", 5000), ("loop0", 5000), ("dm-0", 5000)] {
            std::fs::write(dir.join(virtual_device).join("stat"), stat(counters(c, c, c, c, 0)))
                .expect("stat");
        }
        let (total, _) = collector.read_detailed(t0 + Duration::from_secs(1));
        assert_eq!(total.read_bytes_per_s, Some(((100 + 10) * 8 * 512) as f64), "the disks' sectors alone");
        assert_eq!(total.write_bytes_per_s, Some(0.0));
        let _ = std::fs::remove_dir_all(dir.parent().expect("parent"));
    }

    #[test]
    fn a_missing_sysfs_means_no_disks_and_no_figures() {
        assert!(physical_disks(Path::new("/nonexistent/sys/block")).is_empty());
        let mut none = DiskCollector::with_paths("/nonexistent/sys/block", 1);
        let (total, disks) = none.read_detailed(Instant::now());
        assert_eq!((total.read_bytes_per_s, total.write_bytes_per_s), (None, None), "unread, not 0");
        assert!(
            disks.unavailable.as_deref().is_some_and(|r| r.contains("/nonexistent/sys/block cannot be read")),
            "{disks:?}"
        );
        let contract = disks.to_contract();
        assert!(!contract.available && contract.devices.is_empty());
    }

    #[test]
    fn this_machine_reads_rates_and_hears_announcements() {
        let mut disk = DiskCollector::new();
        let r = disk.read(Instant::now());
        assert_eq!(r.read_bytes_per_s, Some(0.0), "the first reading has no rate yet");
        assert_eq!((r.used_bytes, r.total_bytes), (None, None), "space is the slow thread's (space.rs)");
        assert!(disk.disks.iter().all(|(name, _)| !name.starts_with("loop")), "{:?}", disk.disks);
        assert!(!disk.disks.is_empty(), "this machine has a disk");
        assert!(disk.uevents.is_some(), "the kernel's announcements can be heard here");
    }

    #[test]
    fn a_block_device_announced_makes_the_disks_listed_again() {
        let mut disk = DiskCollector::new();
        disk.read(Instant::now());
        // Unannounced, the count of readings since the listing would be 2 here.
        let since = super::super::uevents::tests::with_a_loop_device(|| {
            disk.read(Instant::now());
            disk.since_rescan
        });
        assert!(since.is_none_or(|since| since == 0), "a loop device set up was not heard: {since:?}");
    }

    #[test]
    fn every_counter_of_a_stat_is_read_and_short_texts_are_refused() {
        let text = "    1000        5     2000      300      400       10     8000      500        0      700      800        0        0        0        0       11       12\n";
        let expected = DiskCounters {
            reads: 1000,
            read_sectors: 2000,
            read_ms: 300,
            writes: 400,
            write_sectors: 8000,
            write_ms: 500,
            in_flight: 0,
            busy_ms: 700,
        };
        assert_eq!(parse_stat(text), Some(expected));
        // Kernels before 4.18 wrote 11 fields (no discards, no flushes).
        assert_eq!(parse_stat("1000 5 2000 300 400 10 8000 500 0 700 800"), Some(expected));
        assert_eq!(parse_stat("1000 5 2000 300 400 10 8000 500 0"), None, "too short");
        assert_eq!(parse_stat("1 2 3 x 5 6 7 8 9 10 11"), None, "a field that is no number");
        assert_eq!(parse_stat(""), None);
    }

    #[test]
    fn each_disk_has_rates_from_its_second_reading_and_leaves_when_it_vanishes() {
        let sys = fake_sys_block("appear", &["vda/device", "vda/vda1", "loop0"]);
        put(&sys, "vda", counters(1000, 500, 400, 10_000, 3));
        // Listed again at every reading, as an announcement would make it.
        let mut disks = DiskCollector::with_paths(&sys, 1);
        let t0 = Instant::now();

        let (_, first) = disks.read_detailed(t0);
        assert_eq!(first.unavailable, None);
        assert_eq!(first.devices.len(), 1, "the partition is not a disk: {first:?}");
        let vda = &first.devices[0];
        assert_eq!((vda.name.as_str(), vda.counters.in_flight), ("vda", 3));
        assert_eq!(
            (vda.read_iops, vda.write_bytes_per_s, vda.await_ms, vda.util_percent),
            (None, None, None, None)
        );

        // Two seconds: 200 reads (8 sectors each) and 100 writes (16 each), reads
        // taking 300 ms in all and writes 600, busy 1500 ms of 2000.
        put(&sys, "vda", counters(1200, 600, 700, 11_500, 1));
        let (total, second) = disks.read_detailed(t0 + Duration::from_secs(2));
        let vda = &second.devices[0];
        assert_eq!(vda.read_iops, Some(100.0));
        assert_eq!(vda.write_iops, Some(50.0));
        assert_eq!(vda.read_bytes_per_s, Some(100.0 * 8.0 * 512.0));
        assert_eq!(vda.write_bytes_per_s, Some(50.0 * 16.0 * 512.0));
        assert_eq!(vda.read_await_ms, Some(1.5));
        assert_eq!(vda.write_await_ms, Some(6.0));
        assert_eq!(vda.await_ms, Some(3.0), "(300 + 600) ms over 300 requests");
        assert_eq!(vda.util_percent, Some(75.0));
        assert_eq!(vda.counters.in_flight, 1, "a gauge, as read");
        assert_eq!(total.write_bytes_per_s, vda.write_bytes_per_s, "the totals are the disks' sum");

        // A disk appears: no rates on its first reading; the other keeps its own.
        put(&sys, "vda", counters(1200, 600, 700, 11_500, 0));
        put(&sys, "sdb", counters(50, 50, 50, 50, 0));
        let (_, third) = disks.read_detailed(t0 + Duration::from_secs(3));
        let names: Vec<&str> = third.devices.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["sdb", "vda"], "by name");
        assert_eq!(third.devices[0].write_iops, None, "sdb is new");
        assert_eq!(third.devices[1].write_iops, Some(0.0), "vda was idle");
        assert_eq!(third.devices[1].await_ms, None, "no request completed: no latency");
        assert_eq!(third.devices[1].util_percent, Some(0.0));

        // vda vanishes and leaves the list; sdb now has rates.
        std::fs::remove_dir_all(sys.join("vda")).expect("vda goes");
        put(&sys, "sdb", counters(60, 50, 50, 50, 0));
        let (_, fourth) = disks.read_detailed(t0 + Duration::from_secs(4));
        assert_eq!(fourth.devices.len(), 1);
        assert_eq!((fourth.devices[0].name.as_str(), fourth.devices[0].read_iops), ("sdb", Some(10.0)));
        assert!(!disks.devices.contains_key("vda"), "its baseline is dropped");

        // If it comes back, it starts over.
        put(&sys, "vda", counters(5, 5, 5, 5, 0));
        let (_, fifth) = disks.read_detailed(t0 + Duration::from_secs(5));
        assert_eq!(fifth.devices[1].read_iops, None);

        let contract = second.to_contract();
        assert!(contract.available);
        assert_eq!(contract.devices[0].name, "vda");
        assert_eq!(contract.devices[0].read_await_ms, Some(1.5));
        assert_eq!(contract.devices[0].in_flight, 1);
        let _ = std::fs::remove_dir_all(sys.parent().expect("parent"));
    }

    #[test]
    fn unannounced_a_new_disk_waits_for_a_listing_and_one_that_cannot_be_read_leaves_at_once() {
        let sys = fake_sys_block("listing", &[]);
        put(&sys, "vda", counters(10, 10, 10, 10, 0));
        let mut disks = DiskCollector::with_paths(&sys, 3);
        let t0 = Instant::now();
        let names =
            |reading: &DisksReading| reading.devices.iter().map(|d| d.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&disks.read_detailed(t0).1), ["vda"]);
        put(&sys, "sdb", counters(1, 1, 1, 1, 0));
        assert_eq!(names(&disks.read_detailed(t0 + Duration::from_secs(1)).1), ["vda"], "not listed yet");
        assert_eq!(
            names(&disks.read_detailed(t0 + Duration::from_secs(2)).1),
            ["sdb", "vda"],
            "the third reading lists"
        );
        // A `stat` that no longer reads as one (a removed device's reads fail):
        // the disk leaves at this reading, and the next lists the disks again.
        std::fs::write(sys.join("vda").join("stat"), "").expect("emptied");
        assert_eq!(names(&disks.read_detailed(t0 + Duration::from_secs(3)).1), ["sdb"]);
        put(&sys, "vda", counters(20, 20, 20, 20, 0));
        let (_, back) = disks.read_detailed(t0 + Duration::from_secs(4));
        assert_eq!(names(&back), ["sdb", "vda"], "listed again at once");
        assert_eq!(back.devices[1].read_iops, None, "and it starts over");
        let _ = std::fs::remove_dir_all(sys.parent().expect("parent"));
    }

    #[test]
    fn counters_that_go_back_give_no_rate_and_wrap_to_no_spike() {
        let sys = fake_sys_block("reset", &[]);
        put(&sys, "sda", counters(u64::MAX - 10, 1_000_000, 5_000_000, 9_000_000, 0));
        let mut disks = DiskCollector::with_paths(&sys, RESCAN_TICKS);
        let t0 = Instant::now();
        disks.read_detailed(t0);
        // The device was replaced (or a 32-bit counter wrapped): counters restart low.
        put(&sys, "sda", counters(20, 10, 10, 100, 0));
        let (total, after) = disks.read_detailed(t0 + Duration::from_secs(1));
        let sda = &after.devices[0];
        assert_eq!((sda.read_iops, sda.write_iops), (Some(0.0), Some(0.0)), "not a huge or negative rate");
        assert_eq!(sda.await_ms, None);
        assert_eq!(sda.util_percent, Some(0.0));
        assert_eq!(total.read_bytes_per_s, Some(0.0));
        // The low counters are the new baseline.
        put(&sys, "sda", counters(30, 10, 20, 600, 0));
        let (_, next) = disks.read_detailed(t0 + Duration::from_secs(2));
        assert_eq!(next.devices[0].read_iops, Some(10.0));
        assert_eq!(next.devices[0].read_await_ms, Some(1.0));
        assert_eq!(next.devices[0].util_percent, Some(50.0));
        // Busy time a hair over the wall time (two clocks) reads as 100, not more.
        put(&sys, "sda", counters(30, 10, 20, 1_610, 1));
        let (_, saturated) = disks.read_detailed(t0 + Duration::from_secs(3));
        assert_eq!(saturated.devices[0].util_percent, Some(100.0));
        let _ = std::fs::remove_dir_all(sys.parent().expect("parent"));
    }

    #[test]
    fn the_list_keeps_the_busiest_disks_by_name() {
        let sys = fake_sys_block("bound", &[]);
        // The disk numbered i has read i sectors: the 8 lowest are the idlest.
        for i in 0..MAX_DISKS + 8 {
            put(&sys, &format!("sd{i:02}"), counters(i as u64, 0, 0, 0, 0));
        }
        let (_, disks) = DiskCollector::with_paths(&sys, RESCAN_TICKS).read_detailed(Instant::now());
        let kept: Vec<&str> = disks.devices.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(kept.len(), MAX_DISKS);
        assert_eq!(kept.first(), Some(&"sd08"));
        assert_eq!(kept.last(), Some(&"sd39"));
        let mut words = vec!["b", "a", "c"];
        keep_busiest(&mut words, 2, |w| u64::from(w.as_bytes()[0]), |a, b| a.cmp(b));
        assert_eq!(words, ["b", "c"]);
        let _ = std::fs::remove_dir_all(sys.parent().expect("parent"));
    }

    /// Writes with O_DIRECT (`dd oflag=direct`: each write goes to the disk, not
    /// the page cache) into a directory on a real disk; killed and removed on drop.
    struct DirectWriter {
        child: Child,
        dir: PathBuf,
    }

    impl DirectWriter {
        /// `count` writes of 64 KiB. The directory is under the build's target
        /// directory, on a disk (the temp dir may be tmpfs).
        fn start(tag: &str, count: u64) -> Self {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../target")
                .join(format!("perfmon-disk-load-{tag}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("a load directory under target/");
            let child = Command::new("dd")
                .arg("if=/dev/zero")
                .arg(format!("of={}", dir.join("load").display()))
                .args(["bs=64k", &format!("count={count}"), "oflag=direct"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("dd (coreutils)");
            DirectWriter { child, dir }
        }
    }

    impl Drop for DirectWriter {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// The physical disk under `dir`: its device's entry in `/sys/dev/block`
    /// resolves to `…/block/DISK[/PARTITION]`, and a device-mapper or md device
    /// is followed down its first slave. `None` for a filesystem without one
    /// (overlay, tmpfs).
    fn disk_of(dir: &Path, physical: &HashSet<String>) -> Option<String> {
        use std::os::unix::fs::MetadataExt;
        let dev = std::fs::metadata(dir).ok()?.dev();
        let (major, minor) = (nix::sys::stat::major(dev), nix::sys::stat::minor(dev));
        let mut link = PathBuf::from(format!("/sys/dev/block/{major}:{minor}"));
        for _ in 0..4 {
            let resolved = std::fs::canonicalize(&link).ok()?;
            let parts: Vec<String> =
                resolved.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
            let disk = parts.iter().position(|p| p == "block").and_then(|i| parts.get(i + 1))?.clone();
            if physical.contains(&disk) {
                return Some(disk);
            }
            let slave =
                std::fs::read_dir(Path::new("/sys/block").join(&disk).join("slaves")).ok()?.next()?.ok()?;
            link = Path::new("/sys/class/block").join(slave.file_name());
        }
        None
    }

    /// One device's figures in `iostat -dxk 1 2`'s second report (the interval),
    /// by column name: `r/s`, `w/s`, `rkB/s`, `wkB/s`, `r_await`, `w_await`, `%util`.
    fn iostat_row(out: &str, device: &str) -> HashMap<String, f64> {
        let mut header: Vec<&str> = Vec::new();
        let mut reports = 0;
        let mut row = HashMap::new();
        for line in out.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields.first() {
                Some(&"Device") | Some(&"Device:") => {
                    header = fields;
                    reports += 1;
                }
                Some(name) if reports == 2 && *name == device => {
                    row = header
                        .iter()
                        .zip(&fields)
                        .filter_map(|(h, v)| Some(((*h).to_owned(), v.parse().ok()?)))
                        .collect();
                }
                _ => {}
            }
        }
        row
    }

    fn iostat() -> Command {
        if Command::new("iostat").arg("-V").output().is_err() {
            panic!("iostat (sysstat) is missing: scripts/setup.sh installs it");
        }
        let mut command = Command::new("iostat");
        command.args(["-dxk", "1", "2"]).env("LC_ALL", "C");
        command
    }

    #[test]
    fn per_disk_figures_agree_with_iostat_under_a_direct_writer() {
        let mut disks = DiskCollector::new();
        let (_, before) = disks.read_detailed(Instant::now());
        let physical: HashSet<String> = before.devices.iter().map(|d| d.name.clone()).collect();
        let writer = DirectWriter::start("iostat", 16_384);
        let Some(device) = disk_of(&writer.dir, &physical) else {
            panic!("{} is on no physical disk ({physical:?}): this test needs one", writer.dir.display());
        };
        // Let dd start writing; then one interval, ours around iostat's.
        std::thread::sleep(Duration::from_millis(200));
        let mut command = iostat();
        disks.read_detailed(Instant::now());
        let out = command.output().expect("iostat runs");
        let (_, ours) = disks.read_detailed(Instant::now());
        drop(writer);
        let theirs = iostat_row(&String::from_utf8_lossy(&out.stdout), &device);
        let mine = ours.devices.iter().find(|d| d.name == device).expect("the loaded disk is listed");
        eprintln!("{device}: ours {mine:?}\niostat {theirs:?}");
        let col =
            |name: &str| *theirs.get(name).unwrap_or_else(|| panic!("iostat has no {name}: {theirs:?}"));
        // The windows differ by iostat's start and exit (a few ms of about 1 s),
        // under a steady load: rates within 10 % (+ a little for near-idle
        // figures), % busy within 8 points, the write latency within 25 % + 0.1 ms.
        let close = |ours: Option<f64>, theirs: f64, slack: f64, what: &str| {
            let ours = ours.unwrap_or_else(|| panic!("no {what}"));
            assert!(
                (ours - theirs).abs() <= theirs.abs() * 0.10 + slack,
                "{what}: ours {ours}, iostat {theirs}"
            );
        };
        close(mine.write_iops, col("w/s"), 10.0, "w/s");
        close(mine.read_iops, col("r/s"), 10.0, "r/s");
        close(mine.write_bytes_per_s.map(|b| b / 1024.0), col("wkB/s"), 512.0, "wkB/s");
        close(mine.read_bytes_per_s.map(|b| b / 1024.0), col("rkB/s"), 512.0, "rkB/s");
        let util = mine.util_percent.expect("util");
        assert!((util - col("%util")).abs() <= 8.0, "%util: ours {util}, iostat {}", col("%util"));
        let w_await = mine.write_await_ms.expect("writes completed, so a write latency");
        assert!(
            (w_await - col("w_await")).abs() <= col("w_await") * 0.25 + 0.1,
            "w_await: ours {w_await}, iostat {}",
            col("w_await")
        );
        assert!(col("w/s") > 100.0, "the writer loaded {device}: {theirs:?}");
    }

    #[test]
    fn a_direct_writer_moves_its_disks_writes_bytes_and_busy_time() {
        const WRITES: u64 = 2000;
        let mut disks = DiskCollector::new();
        let t0 = Instant::now();
        let (_, before) = disks.read_detailed(t0);
        let physical: HashSet<String> = before.devices.iter().map(|d| d.name.clone()).collect();
        let mut writer = DirectWriter::start("moves", WRITES);
        let device = disk_of(&writer.dir, &physical).expect("the load directory is on a physical disk");
        let status = writer.child.wait().expect("dd runs");
        assert!(status.success(), "dd oflag=direct failed: {status}");
        let t1 = Instant::now();
        let (_, after) = disks.read_detailed(t1);
        let seconds = t1.duration_since(t0).as_secs_f64();
        let disk = after.devices.iter().find(|d| d.name == device).expect("the loaded disk is listed");
        eprintln!("{device} over {seconds:.3} s: {disk:?}");
        // Each direct write is one request at least (others may write too).
        let writes = disk.write_iops.expect("a rate") * seconds;
        assert!(writes >= WRITES as f64 - 0.5, "{writes:.1} writes seen, {WRITES} made");
        let bytes = disk.write_bytes_per_s.expect("a rate") * seconds;
        assert!(bytes >= (WRITES * 65_536) as f64 - 1.0, "{bytes:.0} bytes seen");
        // dd keeps one request in flight most of the time it runs.
        assert!(disk.util_percent.expect("util") >= 20.0, "{disk:?}");
        assert!(disk.write_await_ms.is_some_and(|ms| ms > 0.0 && ms < 1000.0), "{disk:?}");
    }
}
