//! Collection: one file per source of readings, each a plain struct of exact
//! values where every value that cannot be read is `None`. Nothing here knows
//! about ticks, projects, the payload's units or HTTP; `sampling` is the only
//! caller.
//!
//! - [`cpu`] (and CPU time by mode, from the same `/proc/stat` read),
//!   [`memory`]: the kernel's counters, sysinfo where there is no /proc.
//!   [`disk`], [`network`]: the totals and each disk and interface
//!   (`/sys/block/DISK/stat`, `/proc/net/dev`), with [`rates`] turning counters
//!   into per-second rates; [`uevents`]: the kernel's word that a device came
//!   or went, so the disks are listed again only then. [`gpu`]: NVML, behind
//!   the `nvml` feature.
//! - [`pressure`], [`meminfo`], [`vmstat`]: pressure stall information, memory
//!   detail and paging, every tick.
//! - [`sensors`], [`filesystems`], [`space`], [`sockets`], [`perf`]:
//!   frequencies and temperatures, filesystems (`statvfs`), the space of the
//!   one PerfMon runs in, socket tables, and machine-wide `perf_event_open`
//!   counters — read every 5 s on their own thread (`sampling`'s slow
//!   sources), sensors, filesystems and sockets kept between reads by
//!   [`cadence`].
//! - [`procfs`]: the one reader of `/proc/PID/stat`, for both the run's process
//!   tree ([`proctree`], which skips the `stat` of a member that has not run
//!   since it was read: [`asleep`]); [`own`]: PerfMon's own cost; [`tree_counters`]: the tree's
//!   cumulative counters (CPU by mode, run-queue delay, switches, storage bytes,
//!   faults) over every process that was in it.
//! - [`run_perf`]: `perf stat`-style counters opened on one run's process
//!   (`perfmon run`'s held command, a registered pid), inherited by its tree;
//!   not machine-wide, so not the sampler's: `perfmon run` and the hub own them.
//! - [`transcripts`]: agents' token usage (Claude Code, Codex), read from the
//!   transcripts a run's agents write, on a thread of its own.

pub mod asleep;
pub mod cadence;
pub mod cpu;
pub mod disk;
pub mod filesystems;
pub mod gpu;
pub mod meminfo;
pub mod memory;
pub mod network;
pub mod own;
pub mod perf;
pub mod pressure;
pub mod procfs;
pub mod proctree;
pub mod rates;
pub mod run_perf;
pub mod sensors;
pub mod sockets;
pub mod space;
pub mod transcripts;
pub mod tree_counters;
pub mod uevents;
pub mod vmstat;
