//! Collection: one file per source of readings, each a plain struct of exact
//! values where every value that cannot be read is `None`. Nothing here knows
//! about ticks, projects, the payload's units or HTTP; `sampling` is the only
//! caller.
//!
//! - [`cpu`], [`memory`]: sysinfo. [`disk`], [`network`]: the kernel's counters
//!   (`/proc/diskstats`, `/proc/net/dev`), with [`rates`] turning counters into
//!   per-second rates. [`gpu`]: NVML, behind the `nvml` feature.
//! - [`procfs`]: the one reader of `/proc/PID/stat`, for both the run's process
//!   tree ([`proctree`]) and PerfMon's own cost.

pub mod cpu;
pub mod disk;
pub mod filesystems;
pub mod gpu;
pub mod meminfo;
pub mod memory;
pub mod network;
pub mod perf;
pub mod pressure;
pub mod procfs;
pub mod proctree;
pub mod rates;
pub mod sensors;
pub mod sockets;
pub mod vmstat;
