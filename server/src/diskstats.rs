//! Whole-machine disk traffic from Linux's `/proc/diskstats`.
//!
//! sysinfo reports disk I/O per mounted filesystem, which counts a disk once per
//! mount; the kernel's per-device counters do not. Only physical disks (those with
//! a `device` link in `/sys/block`) are summed, so partitions, loop devices and
//! device-mapper layers on top of a disk are not counted twice.

use std::collections::HashSet;

/// The kernel counts disk traffic in 512-byte sectors, whatever the hardware's.
const SECTOR_BYTES: u64 = 512;

/// Bytes read and written since boot, summed over physical disks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DiskTotals {
    /// Bytes read.
    pub read_bytes: u64,
    /// Bytes written.
    pub written_bytes: u64,
}

/// The physical disks: entries of `/sys/block` with a `device` link. Disks come
/// and go rarely, so callers keep this set and refresh it now and then rather
/// than stat /sys every tick. Blocking.
pub fn physical_disks() -> HashSet<String> {
    let Ok(entries) = std::fs::read_dir("/sys/block") else { return HashSet::new() };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.path().join("device").exists())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect()
}

/// Reads the totals of `disks`; `None` where `/proc/diskstats` does not exist
/// (not Linux). Blocking.
pub fn read(disks: &HashSet<String>) -> Option<DiskTotals> {
    let text = std::fs::read_to_string("/proc/diskstats").ok()?;
    Some(parse(&text, |name| disks.contains(name)))
}

/// Sums the devices of a `/proc/diskstats` text for which `is_physical` holds.
pub fn parse(text: &str, is_physical: impl Fn(&str) -> bool) -> DiskTotals {
    let mut totals = DiskTotals::default();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // major minor name reads merged sectors_read ms writes merged sectors_written …
        let (Some(name), Some(read), Some(written)) = (fields.get(2), fields.get(5), fields.get(9)) else {
            continue;
        };
        if !is_physical(name) {
            continue;
        }
        if let (Ok(read), Ok(written)) = (read.parse::<u64>(), written.parse::<u64>()) {
            totals.read_bytes = totals.read_bytes.saturating_add(read.saturating_mul(SECTOR_BYTES));
            totals.written_bytes = totals.written_bytes.saturating_add(written.saturating_mul(SECTOR_BYTES));
        }
    }
    totals
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
   7       0 loop0 10 0 80 0 0 0 0 0 0 0 0 0 0 0 0 0 0
 253       0 vda 1000 5 2000 300 400 10 8000 500 0 700 800 0 0 0 0 0 0
 253       1 vda1 900 5 1900 290 390 10 7900 490 0 690 790 0 0 0 0 0 0
 259       0 nvme0n1 10 0 4 1 20 0 6 2 0 3 3
 garbage line
";

    #[test]
    fn sums_physical_disks_only_in_bytes() {
        let totals = parse(SAMPLE, |name| name == "vda" || name == "nvme0n1");
        assert_eq!(totals.read_bytes, (2000 + 4) * 512);
        assert_eq!(totals.written_bytes, (8000 + 6) * 512);
    }

    #[test]
    fn partitions_and_loop_devices_are_not_counted() {
        assert_eq!(parse(SAMPLE, |_| false), DiskTotals::default());
    }

    #[test]
    fn this_machine_can_be_read_on_linux() {
        if cfg!(target_os = "linux") {
            let disks = physical_disks();
            assert!(disks.iter().all(|d| !d.starts_with("loop")), "{disks:?}");
            assert!(read(&disks).is_some());
        }
    }
}
