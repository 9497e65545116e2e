//! Disk traffic over the physical disks (`/proc/diskstats`), and the space of the
//! filesystem PerfMon runs in (sysinfo).
//!
//! sysinfo reports disk I/O per mounted filesystem, which counts a disk once per
//! mount; the kernel's per-device counters do not. Only physical disks (those with
//! a `device` link in `/sys/block`) are summed, so partitions, loop devices and
//! device-mapper layers on top of a disk are not counted twice.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use sysinfo::{DiskRefreshKind, Disks};

use super::procfs::ProcFile;
use super::rates::RateCounter;

/// The kernel counts disk traffic in 512-byte sectors, whatever the hardware's.
const SECTOR_BYTES: u64 = 512;

/// Ticks between rescans of /sys/block for disks that came or went.
const RESCAN_TICKS: u64 = 60;

/// Disk traffic and space, exactly as read.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DiskReading {
    /// Bytes read per second since the previous reading (0 on the first).
    pub read_bytes_per_s: Option<f64>,
    /// Bytes written per second since the previous reading (0 on the first).
    pub write_bytes_per_s: Option<f64>,
    /// Space used on the filesystem holding the working directory.
    pub used_bytes: Option<u64>,
    /// Size of that filesystem.
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

/// Reads disk traffic and space; owns the counters rates are computed from.
#[derive(Debug)]
pub struct DiskCollector {
    /// `/proc/diskstats`, kept open.
    diskstats: ProcFile,
    /// The physical disks whose traffic is summed.
    physical: HashSet<String>,
    /// Readings since the set was last rescanned.
    since_rescan: u64,
    /// Mounted filesystems, for space.
    disks: Option<Disks>,
    /// Which entry of `disks` holds the working directory.
    home: Option<usize>,
    /// Rates from the read and write counters.
    read: RateCounter,
    write: RateCounter,
}

impl DiskCollector {
    /// Finds the disks and the working directory's filesystem. Blocking.
    pub fn new() -> Self {
        let disks = Disks::new_with_refreshed_list_specifics(DiskRefreshKind::nothing().with_storage())
            .map_err(|err| tracing::warn!("disk space unavailable: {err}"))
            .ok();
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        let home = disks.as_ref().and_then(|d| {
            let mounts: Vec<&Path> = d.iter().map(|disk| disk.mount_point()).collect();
            containing_mount(&cwd, &mounts)
        });
        DiskCollector {
            diskstats: ProcFile::new("/proc/diskstats"),
            physical: physical_disks(Path::new("/sys/block")),
            since_rescan: 0,
            disks,
            home,
            read: RateCounter::default(),
            write: RateCounter::default(),
        }
    }

    /// Reads traffic (as rates since the previous reading) and space. Blocking.
    pub fn read(&mut self, now: Instant) -> DiskReading {
        let mut reading = DiskReading::default();
        self.since_rescan += 1;
        // Disks come and go rarely: keep the set, rescan now and then.
        if self.since_rescan >= RESCAN_TICKS {
            self.physical = physical_disks(Path::new("/sys/block"));
            self.since_rescan = 0;
        }
        if let Some(text) = self.diskstats.read() {
            let totals = parse(text, &self.physical);
            reading.read_bytes_per_s = Some(self.read.update(totals.read_bytes, now));
            reading.write_bytes_per_s = Some(self.write.update(totals.written_bytes, now));
        }
        if let (Some(disks), Some(index)) = (self.disks.as_mut(), self.home)
            && let Some(home) = disks.get_mut(index)
        {
            home.refresh_specifics(DiskRefreshKind::nothing().with_storage());
            let total = home.total_space();
            if total > 0 {
                reading.used_bytes = Some(total.saturating_sub(home.available_space()));
                reading.total_bytes = Some(total);
            }
        }
        reading
    }
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

/// Sums the `disks` of a `/proc/diskstats` text.
pub fn parse(text: &str, disks: &HashSet<String>) -> DiskTotals {
    let mut totals = DiskTotals::default();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // major minor name reads merged sectors_read ms writes merged sectors_written …
        let (Some(name), Some(read), Some(written)) = (fields.get(2), fields.get(5), fields.get(9)) else {
            continue;
        };
        if !disks.contains(*name) {
            continue;
        }
        if let (Ok(read), Ok(written)) = (read.parse::<u64>(), written.parse::<u64>()) {
            totals.read_bytes = totals.read_bytes.saturating_add(read.saturating_mul(SECTOR_BYTES));
            totals.written_bytes = totals.written_bytes.saturating_add(written.saturating_mul(SECTOR_BYTES));
        }
    }
    totals
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

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
   7       0 loop0 10 0 80 0 0 0 0 0 0 0 0 0 0 0 0 0 0
 253       0 vda 1000 5 2000 300 400 10 8000 500 0 700 800 0 0 0 0 0 0
 253       1 vda1 900 5 1900 290 390 10 7900 490 0 690 790 0 0 0 0 0 0
 252       0 dm-0 800 0 1800 200 300 0 7000 400 0 600 700 0 0 0 0 0 0
 259       0 nvme0n1 10 0 4 1 20 0 6 2 0 3 3
 garbage line
";

    /// A `/sys/block` as the kernel lays it out: disks with a `device` link,
    /// partitions inside their disk, virtual devices without one.
    fn fake_sys_block() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("perfmon-sysblock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for path in ["vda/device", "vda/vda1", "nvme0n1/device", "loop0/queue", "dm-0/dm"] {
            std::fs::create_dir_all(dir.join(path)).expect("fake sysfs");
        }
        dir
    }

    #[test]
    fn only_devices_with_a_device_link_are_physical() {
        let dir = fake_sys_block();
        let disks = physical_disks(&dir);
        assert_eq!(disks, HashSet::from(["vda".to_owned(), "nvme0n1".to_owned()]));
        // So partitions, loop and device-mapper traffic is not counted twice.
        let totals = parse(SAMPLE, &disks);
        assert_eq!(totals.read_bytes, (2000 + 4) * 512);
        assert_eq!(totals.written_bytes, (8000 + 6) * 512);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_missing_sysfs_means_no_disks_and_no_traffic() {
        let disks = physical_disks(Path::new("/nonexistent/sys/block"));
        assert!(disks.is_empty());
        assert_eq!(parse(SAMPLE, &disks), DiskTotals::default());
    }

    #[test]
    fn the_working_directory_belongs_to_the_longest_matching_mount() {
        let mounts = [Path::new("/"), Path::new("/work"), Path::new("/work/main/x")];
        assert_eq!(containing_mount(Path::new("/work/main"), &mounts), Some(1));
        assert_eq!(containing_mount(Path::new("/etc"), &mounts), Some(0));
        assert_eq!(containing_mount(Path::new("/workshop"), &mounts), Some(0));
    }

    #[test]
    fn this_machine_reads_rates_and_space() {
        let mut disk = DiskCollector::new();
        let r = disk.read(Instant::now());
        assert_eq!(r.read_bytes_per_s, Some(0.0), "the first reading has no rate yet");
        let (used, total) = (r.used_bytes.expect("used"), r.total_bytes.expect("total"));
        assert!(used <= total && total > 0, "{used} of {total}");
        assert!(disk.physical.iter().all(|d| !d.starts_with("loop")), "{:?}", disk.physical);
    }
}
