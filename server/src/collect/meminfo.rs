//! Where the machine's memory is: `/proc/meminfo`'s detail beyond the totals
//! [`super::memory`] reads (available, free, cache, buffers, dirty, writeback,
//! shared, slab, hugepages).
//!
//! [`parse`] takes the text, so a sampler that already holds this tick's
//! `/proc/meminfo` (the totals come from the same file) can parse it once more
//! instead of reading the file twice; [`MeminfoCollector`] keeps its own copy
//! open for when it does not.
//!
//! # Layout
//! - [`MemoryDetailReading`]: exact values, bytes and page counts.
//! - [`parse`]: one `/proc/meminfo` text.
//! - [`MeminfoCollector`]: the file, kept open.

use std::path::Path;

use shared::depth::memory::MemoryDetail;

use super::procfs::ProcFile;
use crate::units::{BYTES_PER_GB, round_to};

/// Memory by kind, exactly as read. A line the kernel does not write is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemoryDetailReading {
    /// `MemAvailable`, in bytes.
    pub available_bytes: Option<u64>,
    /// `MemFree`.
    pub free_bytes: Option<u64>,
    /// `Cached`: the page cache, tmpfs and shared memory included.
    pub page_cache_bytes: Option<u64>,
    /// `Buffers`.
    pub buffers_bytes: Option<u64>,
    /// `Dirty`.
    pub dirty_bytes: Option<u64>,
    /// `Writeback`.
    pub writeback_bytes: Option<u64>,
    /// `Shmem`.
    pub shared_bytes: Option<u64>,
    /// `Slab`.
    pub slab_bytes: Option<u64>,
    /// `SReclaimable`.
    pub slab_reclaimable_bytes: Option<u64>,
    /// `HugePages_Total`, pages.
    pub hugepages_total: Option<u64>,
    /// `HugePages_Free`, pages.
    pub hugepages_free: Option<u64>,
    /// `HugePages_Rsvd`, pages.
    pub hugepages_reserved: Option<u64>,
    /// `Hugepagesize`, in bytes.
    pub hugepage_size_bytes: Option<u64>,
}

impl MemoryDetailReading {
    /// What `free` calls cache: the page cache plus the reclaimable slab.
    pub fn cached_bytes(&self) -> Option<u64> {
        Some(self.page_cache_bytes? + self.slab_reclaimable_bytes?)
    }
}

/// Bytes as the section's GB: GiB to three decimals (about a MiB), so the few
/// MB of dirty pages a quiet machine has do not read 0.
fn gb3(bytes: Option<u64>) -> Option<f64> {
    bytes.map(|b| round_to(b as f64 / BYTES_PER_GB, 3))
}

/// The `memory_detail` section from a reading, or from none (`/proc/meminfo`
/// could not be read).
#[allow(dead_code)] // used once wired into sampling
pub fn to_contract(reading: Option<&MemoryDetailReading>) -> MemoryDetail {
    let Some(r) = reading else {
        return MemoryDetail {
            available: false,
            reason: Some("/proc/meminfo cannot be read (not Linux, or no /proc mounted)".to_owned()),
            ..MemoryDetail::default()
        };
    };
    MemoryDetail {
        available: true,
        reason: None,
        available_gb: gb3(r.available_bytes),
        free_gb: gb3(r.free_bytes),
        cached_gb: gb3(r.cached_bytes()),
        buffers_gb: gb3(r.buffers_bytes),
        dirty_gb: gb3(r.dirty_bytes),
        writeback_gb: gb3(r.writeback_bytes),
        shared_gb: gb3(r.shared_bytes),
        slab_gb: gb3(r.slab_bytes),
        slab_reclaimable_gb: gb3(r.slab_reclaimable_bytes),
        hugepages_total: r.hugepages_total,
        hugepages_free: r.hugepages_free,
        hugepages_reserved: r.hugepages_reserved,
        hugepage_size_bytes: r.hugepage_size_bytes,
    }
}

/// The detail in a `/proc/meminfo` text (`Name:   123 kB` lines, sizes in KiB,
/// hugepage lines bare counts); `None` when the text has none of its lines.
/// Split by bytes ([`super::procfs::named_lines`]).
pub fn parse(text: &str) -> Option<MemoryDetailReading> {
    let mut r = MemoryDetailReading::default();
    let mut any = false;
    for (name, value) in super::procfs::named_lines(text, b':') {
        let slot = match name {
            b"MemAvailable" => &mut r.available_bytes,
            b"MemFree" => &mut r.free_bytes,
            b"Cached" => &mut r.page_cache_bytes,
            b"Buffers" => &mut r.buffers_bytes,
            b"Dirty" => &mut r.dirty_bytes,
            b"Writeback" => &mut r.writeback_bytes,
            b"Shmem" => &mut r.shared_bytes,
            b"Slab" => &mut r.slab_bytes,
            b"SReclaimable" => &mut r.slab_reclaimable_bytes,
            b"HugePages_Total" => &mut r.hugepages_total,
            b"HugePages_Free" => &mut r.hugepages_free,
            b"HugePages_Rsvd" => &mut r.hugepages_reserved,
            b"Hugepagesize" => &mut r.hugepage_size_bytes,
            _ => continue,
        };
        let Ok(value) = std::str::from_utf8(value) else { continue };
        let mut fields = value.split_ascii_whitespace();
        let number = fields.next().and_then(|v| v.parse::<u64>().ok());
        // Sizes carry a unit (always kB, which is KiB); counts carry none.
        *slot = match fields.next() {
            Some("kB") => number.and_then(|kib| kib.checked_mul(1024)),
            Some(_) => None,
            None => number,
        };
        any |= slot.is_some();
    }
    any.then_some(r)
}

/// Reads `/proc/meminfo`'s detail.
#[derive(Debug)]
pub struct MeminfoCollector {
    file: ProcFile,
}

impl MeminfoCollector {
    /// This machine's; reads nothing yet.
    #[allow(dead_code)] // used once wired into sampling
    pub fn new() -> Self {
        Self::with_root(Path::new("/proc"))
    }

    /// `meminfo` under `proc` (a fake /proc in tests); reads nothing yet.
    pub fn with_root(proc: &Path) -> Self {
        MeminfoCollector { file: ProcFile::new(proc.join("meminfo")) }
    }

    /// The detail now; `None` when the file cannot be read. Blocking.
    #[allow(dead_code)] // used once wired into sampling
    pub fn read(&mut self) -> Option<MemoryDetailReading> {
        self.file.read().and_then(parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEMINFO: &str = "\
MemTotal:       24683568 kB
MemFree:        13492076 kB
MemAvailable:   23260112 kB
Buffers:           40904 kB
Cached:          9575612 kB
SwapCached:            0 kB
Dirty:             26152 kB
Writeback:             0 kB
Shmem:              9508 kB
KReclaimable:     526404 kB
Slab:             591772 kB
SReclaimable:     526404 kB
SUnreclaim:        65368 kB
HugePages_Total:      16
HugePages_Free:       12
HugePages_Rsvd:        2
HugePages_Surp:        0
Hugepagesize:       2048 kB
";

    #[test]
    fn every_line_is_read_in_bytes_and_hugepages_as_counts() {
        let r = parse(MEMINFO).expect("parses");
        assert_eq!(r.available_bytes, Some(23_260_112 * 1024));
        assert_eq!(r.free_bytes, Some(13_492_076 * 1024));
        assert_eq!(
            r.cached_bytes(),
            Some((9_575_612 + 526_404) * 1024),
            "Cached + SReclaimable, as free counts"
        );
        assert_eq!(
            (r.buffers_bytes, r.dirty_bytes, r.writeback_bytes),
            (Some(40_904 * 1024), Some(26_152 * 1024), Some(0))
        );
        assert_eq!((r.shared_bytes, r.slab_bytes), (Some(9_508 * 1024), Some(591_772 * 1024)));
        assert_eq!(
            (r.hugepages_total, r.hugepages_free, r.hugepages_reserved),
            (Some(16), Some(12), Some(2))
        );
        assert_eq!(r.hugepage_size_bytes, Some(2 << 20));

        let c = to_contract(Some(&r));
        assert!(c.available && c.reason.is_none());
        assert_eq!(c.available_gb, Some(22.183));
        assert_eq!(c.dirty_gb, Some(0.025), "a few MB still show");
        assert_eq!(c.writeback_gb, Some(0.0));
        assert_eq!(c.hugepages_total, Some(16));
    }

    #[test]
    fn missing_lines_are_unknown_and_a_missing_file_says_why() {
        // A kernel before 3.14 has no MemAvailable; one without hugetlbfs no hugepage lines.
        let r = parse("MemTotal: 100 kB\nMemFree: 50 kB\nCached: 10 kB\n").expect("parses");
        assert_eq!((r.available_bytes, r.free_bytes), (None, Some(50 * 1024)));
        assert_eq!(r.cached_bytes(), None, "no SReclaimable: the sum is unknown, not the page cache alone");
        assert_eq!((r.hugepages_total, r.hugepage_size_bytes), (None, None));
        assert_eq!(parse("garbage\n"), None);
        assert_eq!(parse("Dirty: 12 MB\n"), None, "an unknown unit is not guessed");

        let dir = std::env::temp_dir().join(format!("perfmon-meminfo-none-{}", std::process::id()));
        let mut collector = MeminfoCollector::with_root(&dir);
        let c = to_contract(collector.read().as_ref());
        assert!(!c.available && c.reason.is_some() && c.free_gb.is_none());
    }

    #[test]
    fn a_fake_proc_is_read_again_each_time() {
        let dir = std::env::temp_dir().join(format!("perfmon-meminfo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join("meminfo"), MEMINFO).expect("write");
        let mut collector = MeminfoCollector::with_root(&dir);
        assert_eq!(collector.read().and_then(|r| r.dirty_bytes), Some(26_152 * 1024));
        std::fs::write(dir.join("meminfo"), MEMINFO.replace("26152", "1")).expect("rewrite");
        assert_eq!(collector.read().and_then(|r| r.dirty_bytes), Some(1024));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// `free -b -w`'s `Mem:` line by column name.
    fn free() -> std::collections::HashMap<String, u64> {
        let out = std::process::Command::new("free")
            .args(["-b", "-w"])
            .output()
            .unwrap_or_else(|e| panic!("free (procps) is needed here; scripts/setup.sh installs it: {e}"));
        let text = String::from_utf8_lossy(&out.stdout);
        let mut lines = text.lines();
        let names = lines.next().expect("free's header");
        let values = lines.find_map(|l| l.strip_prefix("Mem:")).expect("free's Mem: line");
        names
            .split_whitespace()
            .zip(values.split_whitespace())
            .map(|(n, v)| (n.to_owned(), v.parse().expect("free prints numbers")))
            .collect()
    }

    #[test]
    fn this_machine_matches_free_within_one_percent() {
        // Within 1 %: the two read /proc/meminfo a few ms apart, and the cache
        // moves with every file read on the machine.
        let ours = MeminfoCollector::new().read().expect("/proc/meminfo");
        let theirs = free();
        let within = |name: &str, ours: Option<u64>| {
            let (ours, theirs) = (ours.expect(name) as f64, theirs[name] as f64);
            assert!((ours - theirs).abs() <= theirs * 0.01, "{name}: ours {ours}, free {theirs}");
        };
        within("available", ours.available_bytes);
        within("cache", ours.cached_bytes());
        within("buffers", ours.buffers_bytes);
    }
}
