//! The machine in depth: the `perf_metrics` sections beyond the four totals —
//! CPU time by mode, pressure, memory detail and paging, each disk and
//! interface, sockets, hardware counters. Every figure is exact or `null`; a
//! section whose source is missing says why.
//!
//! # Layout
//! - [`cpu`]: CPU time by mode (machine and per core), frequency, temperature,
//!   scheduler rates.
//! - [`pressure`]: Linux pressure stall information (PSI).
//! - [`memory`]: memory detail, hugepages and paging (`/proc/meminfo`,
//!   `/proc/vmstat`).
//! - [`disks`]: each physical disk and each real filesystem.
//! - [`network`]: each interface, and socket counts.
//! - [`perf`]: machine-wide hardware and software counters (`perf_event_open`).

pub mod cpu;
pub mod disks;
pub mod memory;
pub mod network;
pub mod perf;
pub mod pressure;

/// Whether a section is its default, which a sample leaves out: a live
/// sample's sections never are (each is available or says why not); the
/// `history` replayed on connect carries none of them.
pub fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}
