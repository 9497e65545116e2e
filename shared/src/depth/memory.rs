//! Memory in detail (`/proc/meminfo`) and paging (`/proc/vmstat`): the
//! `memory_detail` and `paging` sections of a sample.
//!
//! Sizes are GB counted as GiB, like [`crate::Memory`]'s, but to three decimals
//! (about a MiB), so dirty and writeback memory, often a few MB, does not read 0.
//! Names follow `free -w` (`cached` is the page cache plus reclaimable slab, as
//! `free` and psutil count it) so one can be checked against the other.
//!
//! # Layout
//! - [`MemoryDetail`]: where memory is: available, free, cached, buffers, dirty,
//!   writeback, shared, slab, hugepages.
//! - [`Paging`]: traffic between memory and disk: pages in and out, swap in and
//!   out, page faults, OOM kills.

use serde::{Deserialize, Serialize};

/// Where the machine's memory is, in GB (GiB, three decimals).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MemoryDetail {
    /// Whether `/proc/meminfo` could be read.
    pub available: bool,
    /// Why it could not; `null` when it could.
    pub reason: Option<String>,
    /// Memory that could be given to programs without swapping (`MemAvailable`;
    /// `free`'s `available`).
    pub available_gb: Option<f64>,
    /// Memory in no use at all (`MemFree`; `free`'s `free`).
    pub free_gb: Option<f64>,
    /// Page cache and reclaimable slab (`Cached` + `SReclaimable`; `free -w`'s
    /// `cache`). Includes tmpfs and shared memory.
    pub cached_gb: Option<f64>,
    /// Block-device buffers (`Buffers`; `free -w`'s `buffers`).
    pub buffers_gb: Option<f64>,
    /// Modified pages waiting to be written to disk (`Dirty`).
    pub dirty_gb: Option<f64>,
    /// Pages being written to disk now (`Writeback`).
    pub writeback_gb: Option<f64>,
    /// Shared memory and tmpfs (`Shmem`; `free`'s `shared`).
    pub shared_gb: Option<f64>,
    /// The kernel's object caches, reclaimable and not (`Slab`; its reclaimable
    /// part is also in `cached_gb`).
    pub slab_gb: Option<f64>,
    /// The reclaimable part of the slab (`SReclaimable`).
    pub slab_reclaimable_gb: Option<f64>,
    /// Huge pages in the pool (`HugePages_Total`), a count.
    pub hugepages_total: Option<u64>,
    /// Huge pages in the pool not yet given out (`HugePages_Free`), a count.
    pub hugepages_free: Option<u64>,
    /// Huge pages promised to mappings but not yet faulted in
    /// (`HugePages_Rsvd`), a count.
    pub hugepages_reserved: Option<u64>,
    /// Size of a default huge page (`Hugepagesize`), in bytes.
    pub hugepage_size_bytes: Option<u64>,
}

/// Paging activity since the previous sample, machine-wide. Rates are `null`
/// on the first sample.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Paging {
    /// Whether `/proc/vmstat` could be read.
    pub available: bool,
    /// Why it could not; `null` when it could.
    pub reason: Option<String>,
    /// Bytes read in from block devices per second (`pgpgin`; `vmstat`'s `bi`
    /// counts the same in KiB).
    pub page_in_bytes_per_s: Option<f64>,
    /// Bytes written out to block devices per second (`pgpgout`; `vmstat`'s `bo`).
    pub page_out_bytes_per_s: Option<f64>,
    /// Pages brought in from swap per second (`pswpin`).
    pub swap_in_pages_per_s: Option<f64>,
    /// Pages written out to swap per second (`pswpout`).
    pub swap_out_pages_per_s: Option<f64>,
    /// Page faults per second, minor and major (`pgfault`).
    pub page_faults_per_s: Option<f64>,
    /// Major page faults per second, the ones that waited for a disk read
    /// (`pgmajfault`).
    pub major_faults_per_s: Option<f64>,
    /// Processes the OOM killer has killed since boot (`oom_kill`, Linux 4.13+).
    pub oom_kills: Option<u64>,
    /// Whether the OOM killer killed a process since the previous sample; `null`
    /// on the first.
    pub oom_killed: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_detail_round_trips_with_its_field_names() {
        let detail = MemoryDetail {
            available: true,
            available_gb: Some(22.183),
            cached_gb: Some(9.412),
            dirty_gb: Some(0.025),
            hugepages_total: Some(0),
            hugepage_size_bytes: Some(2 << 20),
            ..MemoryDetail::default()
        };
        let json = serde_json::to_value(&detail).expect("serialises");
        assert_eq!(json["available_gb"], 22.183);
        assert_eq!(json["dirty_gb"], 0.025);
        assert_eq!(json["hugepage_size_bytes"], 2 << 20);
        assert_eq!(json["writeback_gb"], serde_json::Value::Null);
        assert_eq!(serde_json::from_value::<MemoryDetail>(json).expect("deserialises"), detail);
    }

    #[test]
    fn paging_round_trips_and_old_payloads_decode() {
        let paging = Paging {
            available: true,
            page_faults_per_s: Some(51234.5),
            oom_kills: Some(3),
            oom_killed: Some(true),
            ..Paging::default()
        };
        let json = serde_json::to_value(&paging).expect("serialises");
        assert_eq!(json["page_faults_per_s"], 51234.5);
        assert_eq!((json["oom_kills"].clone(), json["oom_killed"].clone()), (3.into(), true.into()));
        assert_eq!(serde_json::from_value::<Paging>(json).expect("deserialises"), paging);
        let off: Paging =
            serde_json::from_str(r#"{"available":false,"reason":"no /proc/vmstat"}"#).expect("decodes");
        assert_eq!((off.available, off.page_faults_per_s), (false, None));
    }
}
