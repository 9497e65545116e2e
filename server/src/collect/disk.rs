//! Disk traffic over the physical disks (`/proc/diskstats`): summed, and per disk
//! as `iostat -x` reports it (bytes and requests per second, await, % busy,
//! requests in flight). The space of the filesystem PerfMon runs in is read on
//! the slow sources' thread (`super::space`) and set into [`DiskReading`] there.
//!
//! sysinfo reports disk I/O per mounted filesystem, which counts a disk once per
//! mount; the kernel's per-device counters do not. Only physical disks (those with
//! a `device` link in `/sys/block`) are summed and listed, so partitions, loop
//! devices and device-mapper layers on top of a disk are not counted twice.
//!
//! # Layout
//! - [`DiskCollector`]: keeps `/proc/diskstats` open; [`DiskCollector::read`] gives
//!   the totals ([`DiskReading`]), [`DiskCollector::read_detailed`] the totals and
//!   each disk ([`DisksReading`]) from the same read.
//! - [`parse_devices`], [`parse`]: the pure parsers; [`physical_disks`]: which
//!   devices are disks.
//! - [`keep_busiest`]: the bound on a per-device list (interfaces use it too).

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Instant;

use shared::depth::disks::{DiskDevice, Disks, MAX_DISKS};

use super::procfs::ProcFile;
use super::rates::RateCounter;
use crate::units::{round_to, round1};

/// The kernel counts disk traffic in 512-byte sectors, whatever the hardware's.
const SECTOR_BYTES: u64 = 512;

/// Ticks between rescans of /sys/block for disks that came or went (it is also
/// rescanned at once when the devices `/proc/diskstats` lists change).
const RESCAN_TICKS: u64 = 60;

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

/// One device's counters since boot, from its `/proc/diskstats` line
/// (Documentation/admin-guide/iostats.rst).
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

/// Reads disk traffic and space; owns the counters rates are computed from.
#[derive(Debug)]
pub struct DiskCollector {
    /// `/proc/diskstats`, kept open.
    diskstats: ProcFile,
    /// `/sys/block`, where physical disks are told from the rest.
    sys_block: PathBuf,
    /// The physical disks whose traffic is summed.
    physical: HashSet<String>,
    /// Whether `/sys/block` could be read at the last scan.
    sys_block_read: bool,
    /// A hash of the device names `/proc/diskstats` listed last: a change means
    /// a device came or went, and `/sys/block` is scanned again.
    listed: u64,
    /// Readings since the set was last rescanned.
    since_rescan: u64,
    /// Rates from the summed read and write counters.
    read: RateCounter,
    write: RateCounter,
    /// Each physical disk's rates, by name; a disk that vanishes is dropped.
    devices: HashMap<String, DeviceRates>,
}

impl DiskCollector {
    /// Finds the disks. Blocking.
    pub fn new() -> Self {
        Self::with_paths("/proc/diskstats", "/sys/block")
    }

    /// A collector over another `/proc/diskstats` and `/sys/block` (a fake tree in
    /// tests). Blocking.
    pub fn with_paths(diskstats: impl Into<PathBuf>, sys_block: impl Into<PathBuf>) -> Self {
        let sys_block = sys_block.into();
        DiskCollector {
            diskstats: ProcFile::new(diskstats),
            physical: physical_disks(&sys_block),
            sys_block_read: sys_block.is_dir(),
            sys_block,
            listed: 0,
            since_rescan: 0,
            read: RateCounter::default(),
            write: RateCounter::default(),
            devices: HashMap::new(),
        }
    }

    /// Reads traffic, as rates since the previous reading. Blocking.
    pub fn read(&mut self, now: Instant) -> DiskReading {
        self.read_detailed(now).0
    }

    /// Reads traffic, and each physical disk from the same read of
    /// `/proc/diskstats`. Blocking.
    pub fn read_detailed(&mut self, now: Instant) -> (DiskReading, DisksReading) {
        let mut reading = DiskReading::default();
        let mut detail = DisksReading::default();
        self.since_rescan += 1;
        match self.diskstats.read() {
            Some(text) => {
                let listed = parse_devices(text);
                let names = names_hash(&listed);
                // Disks come and go rarely: keep the set, rescan when the kernel's
                // list changes, and now and then.
                if self.since_rescan >= RESCAN_TICKS || names != self.listed {
                    self.physical = physical_disks(&self.sys_block);
                    self.sys_block_read = self.sys_block.is_dir();
                    self.since_rescan = 0;
                    self.listed = names;
                }
                let physical: Vec<(&str, DiskCounters)> =
                    listed.into_iter().filter(|(name, _)| self.physical.contains(*name)).collect();
                let totals = sum(&physical);
                reading.read_bytes_per_s = Some(self.read.update(totals.read_bytes, now));
                reading.write_bytes_per_s = Some(self.write.update(totals.written_bytes, now));
                // Rates for every disk (a disk beyond the bound keeps its
                // baseline), then the bound.
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
                if !self.sys_block_read {
                    detail.unavailable = Some(format!(
                        "{} cannot be read, so whole disks cannot be told from partitions",
                        self.sys_block.display()
                    ));
                }
            }
            None => {
                detail.unavailable = Some("/proc/diskstats cannot be read (not Linux, or no /proc)".into());
            }
        }
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

/// Every device of a `/proc/diskstats` text with its counters; lines too short
/// to hold them (kernels before 2.6.25 gave partitions four fields) are skipped.
pub fn parse_devices(text: &str) -> Vec<(&str, DiskCounters)> {
    let mut devices = Vec::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        // major minor name, then the counters.
        let Some(name) = fields.nth(2) else { continue };
        let mut numbers = [0u64; 10];
        let mut read = 0;
        for (slot, field) in numbers.iter_mut().zip(fields) {
            let Ok(number) = field.parse() else { break };
            *slot = number;
            read += 1;
        }
        if read < numbers.len() {
            continue;
        }
        // reads merged sectors ms writes merged sectors ms in_flight io_ticks
        let [reads, _, read_sectors, read_ms, writes, _, write_sectors, write_ms, in_flight, busy_ms] =
            numbers;
        devices.push((
            name,
            DiskCounters {
                reads,
                read_sectors,
                read_ms,
                writes,
                write_sectors,
                write_ms,
                in_flight,
                busy_ms,
            },
        ));
    }
    devices
}

/// Sums the `disks` of a `/proc/diskstats` text.
// The reading sums the devices it parsed once; this is the same sum of a text.
#[cfg(test)]
pub fn parse(text: &str, disks: &HashSet<String>) -> DiskTotals {
    let listed: Vec<(&str, DiskCounters)> =
        parse_devices(text).into_iter().filter(|(name, _)| disks.contains(*name)).collect();
    sum(&listed)
}

/// Bytes read and written over `devices`.
fn sum(devices: &[(&str, DiskCounters)]) -> DiskTotals {
    devices.iter().fold(DiskTotals::default(), |totals, (_, c)| DiskTotals {
        read_bytes: totals.read_bytes.saturating_add(c.read_bytes()),
        written_bytes: totals.written_bytes.saturating_add(c.written_bytes()),
    })
}

/// A hash of the names listed, in order.
fn names_hash(devices: &[(&str, DiskCounters)]) -> u64 {
    let mut hasher = DefaultHasher::new();
    for (name, _) in devices {
        name.hash(&mut hasher);
    }
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Child, Command, Stdio};
    use std::time::Duration;

    const SAMPLE: &str = "\
   7       0 loop0 10 0 80 0 0 0 0 0 0 0 0 0 0 0 0 0 0
 253       0 vda 1000 5 2000 300 400 10 8000 500 0 700 800 0 0 0 0 0 0
 253       1 vda1 900 5 1900 290 390 10 7900 490 0 690 790 0 0 0 0 0 0
 252       0 dm-0 800 0 1800 200 300 0 7000 400 0 600 700 0 0 0 0 0 0
 259       0 nvme0n1 10 0 4 1 20 0 6 2 0 3 3
 garbage line
";

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

    #[test]
    fn only_devices_with_a_device_link_are_physical() {
        let dir = fake_sys_block(
            "physical",
            &["vda/device", "vda/vda1", "nvme0n1/device", "loop0/queue", "dm-0/dm"],
        );
        let disks = physical_disks(&dir);
        assert_eq!(disks, HashSet::from(["vda".to_owned(), "nvme0n1".to_owned()]));
        // So partitions, loop and device-mapper traffic is not counted twice.
        let totals = parse(SAMPLE, &disks);
        assert_eq!(totals.read_bytes, (2000 + 4) * 512);
        assert_eq!(totals.written_bytes, (8000 + 6) * 512);
        let _ = std::fs::remove_dir_all(dir.parent().expect("parent"));
    }

    #[test]
    fn a_missing_sysfs_means_no_disks_and_no_traffic() {
        let disks = physical_disks(Path::new("/nonexistent/sys/block"));
        assert!(disks.is_empty());
        assert_eq!(parse(SAMPLE, &disks), DiskTotals::default());
    }

    #[test]
    fn this_machine_reads_rates() {
        let mut disk = DiskCollector::new();
        let r = disk.read(Instant::now());
        assert_eq!(r.read_bytes_per_s, Some(0.0), "the first reading has no rate yet");
        assert_eq!((r.used_bytes, r.total_bytes), (None, None), "space is the slow thread's (space.rs)");
        assert!(disk.physical.iter().all(|d| !d.starts_with("loop")), "{:?}", disk.physical);
    }

    #[test]
    fn every_counter_of_a_line_is_read_and_short_lines_are_skipped() {
        let devices = parse_devices(SAMPLE);
        let names: Vec<&str> = devices.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["loop0", "vda", "vda1", "dm-0", "nvme0n1"], "garbage skipped");
        assert_eq!(
            devices[1].1,
            DiskCounters {
                reads: 1000,
                read_sectors: 2000,
                read_ms: 300,
                writes: 400,
                write_sectors: 8000,
                write_ms: 500,
                in_flight: 0,
                busy_ms: 700,
            }
        );
        // Before 2.6.25 a partition's line held four counters.
        assert!(parse_devices("   8    1 sda1 100 200 300 400\n").is_empty());
        assert!(
            parse_devices("   8    0 sda 1 2 3 x 5 6 7 8 9 10 11\n").is_empty(),
            "a field that is no number"
        );
    }

    /// A `/proc/diskstats` line of a disk with these counters.
    fn line(name: &str, c: DiskCounters) -> String {
        format!(
            " 8 0 {name} {} 0 {} {} {} 0 {} {} {} {} 0 0 0 0 0 0 0\n",
            c.reads, c.read_sectors, c.read_ms, c.writes, c.write_sectors, c.write_ms, c.in_flight, c.busy_ms
        )
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
    fn each_disk_has_rates_from_its_second_reading_and_leaves_when_it_vanishes() {
        let sys = fake_sys_block("appear", &["vda/device", "vda/vda1", "sdb/device", "loop0"]);
        let stats = sys.parent().expect("parent").join("diskstats");
        let write = |text: String| std::fs::write(&stats, text).expect("diskstats");
        let mut disks = DiskCollector::with_paths(&stats, &sys);
        let t0 = Instant::now();

        write(
            line("vda", counters(1000, 500, 400, 10_000, 3))
                + &line("vda1", counters(1000, 500, 400, 10_000, 3)),
        );
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
        write(line("vda", counters(1200, 600, 700, 11_500, 1)) + &line("loop0", counters(9, 9, 9, 9, 9)));
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
        write(line("vda", counters(1200, 600, 700, 11_500, 0)) + &line("sdb", counters(50, 50, 50, 50, 0)));
        let (_, third) = disks.read_detailed(t0 + Duration::from_secs(3));
        let names: Vec<&str> = third.devices.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["sdb", "vda"], "by name");
        assert_eq!(third.devices[0].write_iops, None, "sdb is new");
        assert_eq!(third.devices[1].write_iops, Some(0.0), "vda was idle");
        assert_eq!(third.devices[1].await_ms, None, "no request completed: no latency");
        assert_eq!(third.devices[1].util_percent, Some(0.0));

        // vda vanishes and leaves the list; sdb now has rates.
        write(line("sdb", counters(60, 50, 50, 50, 0)));
        let (_, fourth) = disks.read_detailed(t0 + Duration::from_secs(4));
        assert_eq!(fourth.devices.len(), 1);
        assert_eq!((fourth.devices[0].name.as_str(), fourth.devices[0].read_iops), ("sdb", Some(10.0)));
        assert!(!disks.devices.contains_key("vda"), "its baseline is dropped");

        // If it comes back, it starts over.
        write(line("vda", counters(5, 5, 5, 5, 0)) + &line("sdb", counters(60, 50, 50, 50, 0)));
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
    fn counters_that_go_back_give_no_rate_and_wrap_to_no_spike() {
        let sys = fake_sys_block("reset", &["sda/device"]);
        let stats = sys.parent().expect("parent").join("diskstats");
        let mut disks = DiskCollector::with_paths(&stats, &sys);
        let t0 = Instant::now();
        std::fs::write(&stats, line("sda", counters(u64::MAX - 10, 1_000_000, 5_000_000, 9_000_000, 0)))
            .expect("diskstats");
        disks.read_detailed(t0);
        // The device was replaced (or a 32-bit counter wrapped): counters restart low.
        std::fs::write(&stats, line("sda", counters(20, 10, 10, 100, 0))).expect("diskstats");
        let (total, after) = disks.read_detailed(t0 + Duration::from_secs(1));
        let sda = &after.devices[0];
        assert_eq!((sda.read_iops, sda.write_iops), (Some(0.0), Some(0.0)), "not a huge or negative rate");
        assert_eq!(sda.await_ms, None);
        assert_eq!(sda.util_percent, Some(0.0));
        assert_eq!(total.read_bytes_per_s, Some(0.0));
        // The low counters are the new baseline.
        std::fs::write(&stats, line("sda", counters(30, 10, 20, 600, 0))).expect("diskstats");
        let (_, next) = disks.read_detailed(t0 + Duration::from_secs(2));
        assert_eq!(next.devices[0].read_iops, Some(10.0));
        assert_eq!(next.devices[0].read_await_ms, Some(1.0));
        assert_eq!(next.devices[0].util_percent, Some(50.0));
        // Busy time a hair over the wall time (two clocks) reads as 100, not more.
        std::fs::write(&stats, line("sda", counters(30, 10, 20, 1_610, 1))).expect("diskstats");
        let (_, saturated) = disks.read_detailed(t0 + Duration::from_secs(3));
        assert_eq!(saturated.devices[0].util_percent, Some(100.0));
        let _ = std::fs::remove_dir_all(sys.parent().expect("parent"));
    }

    #[test]
    fn missing_files_make_the_section_unavailable_with_a_reason() {
        let mut none = DiskCollector::with_paths("/nonexistent/diskstats", "/nonexistent/block");
        let (total, disks) = none.read_detailed(Instant::now());
        assert_eq!(total.read_bytes_per_s, None);
        assert!(disks.unavailable.as_deref().is_some_and(|r| r.contains("/proc/diskstats")), "{disks:?}");
        let contract = disks.to_contract();
        assert!(!contract.available && contract.devices.is_empty());

        let dir = fake_dir("nosys");
        let stats = dir.join("diskstats");
        std::fs::write(&stats, SAMPLE).expect("diskstats");
        let mut no_sys = DiskCollector::with_paths(&stats, dir.join("block"));
        let (_, disks) = no_sys.read_detailed(Instant::now());
        assert!(disks.devices.is_empty());
        assert!(disks.unavailable.as_deref().is_some_and(|r| r.contains("partitions")), "{disks:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_list_keeps_the_busiest_disks_by_name() {
        let names: Vec<String> = (0..MAX_DISKS + 8).map(|i| format!("sd{i:02}")).collect();
        let paths: Vec<String> = names.iter().map(|n| format!("{n}/device")).collect();
        let sys = fake_sys_block("bound", &paths.iter().map(String::as_str).collect::<Vec<_>>());
        let stats = sys.parent().expect("parent").join("diskstats");
        // The disk numbered i has read i sectors: the 8 lowest are the idlest.
        let text: String =
            names.iter().enumerate().map(|(i, n)| line(n, counters(i as u64, 0, 0, 0, 0))).collect();
        std::fs::write(&stats, text).expect("diskstats");
        let (_, disks) = DiskCollector::with_paths(&stats, &sys).read_detailed(Instant::now());
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
