//! Names of the recorded series that `GET /api/history` answers with, defined
//! once for the server's store (which writes them) and the dashboard (which
//! charts them, and names its live samples the same way). Units are in the
//! names, as in the stream; values are the stream's, in its units.
//!
//! # Layout
//! - The machine's series: the four totals ([`CPU_PERCENT`] …), then the
//!   machine in depth ([`CPU_USER`] … [`PERF_PAGE_FAULTS`], then schema
//!   version 8's [`CPU_IDLE`] … [`PERF_CPU_CLOCK`]).
//! - Per core, GPU device, disk, interface, filesystem, temperature sensor and
//!   run: a prefix, a name helper ([`cpu_core`], [`core_detail()`],
//!   [`gpu_device`], [`disk_device()`], [`interface()`], [`filesystem()`],
//!   [`temperature`], [`run_tree`]) and a module of field names
//!   ([`core_detail`], [`device`], [`disk_device`], [`interface`],
//!   [`filesystem`], [`run`]).
//! - [`sample_values`]: one live sample under these names;
//!   [`machine_depth_values`], [`core_values`], [`disk_values`],
//!   [`interface_values`], [`filesystem_values`], [`sensor_names`],
//!   [`throttled`] and [`held_by`]: the pieces of it the store records from
//!   the same sections.

/// Busy share of all cores, 0–100.
pub const CPU_PERCENT: &str = "cpu.percent";
/// The one-minute load average.
pub const LOAD_ONE: &str = "load.one";
/// Memory in use, GB (GiB).
pub const MEMORY_USED_GB: &str = "memory.used_gb";
/// Installed memory, GB (GiB).
pub const MEMORY_TOTAL_GB: &str = "memory.total_gb";
/// Swap in use, GB (GiB).
pub const SWAP_USED_GB: &str = "swap.used_gb";
/// Swap configured, GB (GiB).
pub const SWAP_TOTAL_GB: &str = "swap.total_gb";
/// Bytes received per second.
pub const NETWORK_RX: &str = "network.rx_bytes_per_s";
/// Bytes sent per second.
pub const NETWORK_TX: &str = "network.tx_bytes_per_s";
/// Bytes read per second.
pub const DISK_READ: &str = "disk.read_bytes_per_s";
/// Bytes written per second.
pub const DISK_WRITE: &str = "disk.write_bytes_per_s";
/// Space used where PerfMon runs, GB (GiB).
pub const DISK_USED_GB: &str = "disk.used_gb";
/// Size of that filesystem, GB (GiB).
pub const DISK_TOTAL_GB: &str = "disk.total_gb";
/// PerfMon's own CPU, as a share of the whole machine (as a run's is), 0–100.
pub const MONITOR_CPU_PERCENT: &str = "monitor.cpu_percent";
/// PerfMon's own resident memory, MB (MiB).
pub const MONITOR_RSS_MB: &str = "monitor.rss_mb";
/// Mean utilisation of the GPUs that answer, 0–100.
pub const GPU_PERCENT: &str = "gpu.percent";
/// GPU memory in use, summed, GB (GiB).
pub const GPU_VRAM_USED_GB: &str = "gpu.vram_used_gb";
/// GPU memory installed, summed, GB (GiB).
pub const GPU_VRAM_TOTAL_GB: &str = "gpu.vram_total_gb";

// The machine in depth (issue 21): one column each in the host tables.
/// `perf_metrics.cpu_detail.modes.user_percent`, as the payload has it.
pub const CPU_USER: &str = "cpu.user_percent";
/// `perf_metrics.cpu_detail.modes.nice_percent`, as the payload has it.
pub const CPU_NICE: &str = "cpu.nice_percent";
/// `perf_metrics.cpu_detail.modes.system_percent`, as the payload has it.
pub const CPU_SYSTEM: &str = "cpu.system_percent";
/// `perf_metrics.cpu_detail.modes.iowait_percent`, as the payload has it.
pub const CPU_IOWAIT: &str = "cpu.iowait_percent";
/// `perf_metrics.cpu_detail.modes.irq_percent`, as the payload has it.
pub const CPU_IRQ: &str = "cpu.irq_percent";
/// `perf_metrics.cpu_detail.modes.softirq_percent`, as the payload has it.
pub const CPU_SOFTIRQ: &str = "cpu.softirq_percent";
/// `perf_metrics.cpu_detail.modes.steal_percent`, as the payload has it.
pub const CPU_STEAL: &str = "cpu.steal_percent";
/// `perf_metrics.cpu_detail.modes.guest_percent`, as the payload has it.
pub const CPU_GUEST: &str = "cpu.guest_percent";
/// `perf_metrics.cpu_detail.context_switches_per_s`, as the payload has it.
pub const CONTEXT_SWITCHES: &str = "cpu.context_switches_per_s";
/// `perf_metrics.cpu_detail.interrupts_per_s`, as the payload has it.
pub const INTERRUPTS: &str = "cpu.interrupts_per_s";
/// `perf_metrics.cpu_detail.procs_running`, as the payload has it.
pub const PROCS_RUNNING: &str = "cpu.procs_running";
/// `perf_metrics.cpu_detail.procs_blocked`, as the payload has it.
pub const PROCS_BLOCKED: &str = "cpu.procs_blocked";
/// `perf_metrics.pressure.cpu.some_stall_percent`, as the payload has it.
pub const PRESSURE_CPU_SOME: &str = "pressure.cpu.some_percent";
/// `perf_metrics.pressure.io.some_stall_percent`, as the payload has it.
pub const PRESSURE_IO_SOME: &str = "pressure.io.some_percent";
/// `perf_metrics.pressure.io.full_stall_percent`, as the payload has it.
pub const PRESSURE_IO_FULL: &str = "pressure.io.full_percent";
/// `perf_metrics.pressure.memory.some_stall_percent`, as the payload has it.
pub const PRESSURE_MEMORY_SOME: &str = "pressure.memory.some_percent";
/// `perf_metrics.pressure.memory.full_stall_percent`, as the payload has it.
pub const PRESSURE_MEMORY_FULL: &str = "pressure.memory.full_percent";
/// `perf_metrics.memory_detail.available_gb`, as the payload has it.
pub const MEMORY_AVAILABLE_GB: &str = "memory.available_gb";
/// `perf_metrics.memory_detail.cached_gb`, as the payload has it.
pub const MEMORY_CACHED_GB: &str = "memory.cached_gb";
/// `perf_metrics.memory_detail.buffers_gb`, as the payload has it.
pub const MEMORY_BUFFERS_GB: &str = "memory.buffers_gb";
/// `perf_metrics.memory_detail.dirty_gb`, as the payload has it.
pub const MEMORY_DIRTY_GB: &str = "memory.dirty_gb";
/// `perf_metrics.memory_detail.slab_gb`, as the payload has it.
pub const MEMORY_SLAB_GB: &str = "memory.slab_gb";
/// `perf_metrics.paging.page_in_bytes_per_s`, as the payload has it.
pub const PAGE_IN: &str = "paging.page_in_bytes_per_s";
/// `perf_metrics.paging.page_out_bytes_per_s`, as the payload has it.
pub const PAGE_OUT: &str = "paging.page_out_bytes_per_s";
/// `perf_metrics.paging.swap_in_pages_per_s`, as the payload has it.
pub const SWAP_IN: &str = "paging.swap_in_pages_per_s";
/// `perf_metrics.paging.swap_out_pages_per_s`, as the payload has it.
pub const SWAP_OUT: &str = "paging.swap_out_pages_per_s";
/// `perf_metrics.paging.page_faults_per_s`, as the payload has it.
pub const PAGE_FAULTS: &str = "paging.page_faults_per_s";
/// `perf_metrics.paging.major_faults_per_s`, as the payload has it.
pub const MAJOR_FAULTS: &str = "paging.major_faults_per_s";
/// `perf_metrics.sockets.tcp_established`, as the payload has it.
pub const TCP_ESTABLISHED: &str = "sockets.tcp_established";
/// `perf_metrics.sockets.tcp_time_wait`, as the payload has it.
pub const TCP_TIME_WAIT: &str = "sockets.tcp_time_wait";
/// `perf_metrics.sockets.tcp_retransmits_per_s`, as the payload has it.
pub const TCP_RETRANSMITS: &str = "sockets.tcp_retransmits_per_s";
/// `perf_metrics.perf_events.ipc`, as the payload has it.
pub const PERF_IPC: &str = "perf.ipc";
/// `perf_metrics.perf_events.events["cycles"].per_s`, as the payload has it.
pub const PERF_CYCLES: &str = "perf.cycles_per_s";
/// `perf_metrics.perf_events.events["instructions"].per_s`, as the payload has it.
pub const PERF_INSTRUCTIONS: &str = "perf.instructions_per_s";
/// `perf_metrics.perf_events.events["cache-misses"].per_s`, as the payload has it.
pub const PERF_CACHE_MISSES: &str = "perf.cache_misses_per_s";
/// `perf_metrics.perf_events.events["branch-misses"].per_s`, as the payload has it.
pub const PERF_BRANCH_MISSES: &str = "perf.branch_misses_per_s";
/// `perf_metrics.perf_events.events["context-switches"].per_s`, as the payload has it.
pub const PERF_CONTEXT_SWITCHES: &str = "perf.context_switches_per_s";
/// `perf_metrics.perf_events.events["page-faults"].per_s`, as the payload has it.
pub const PERF_PAGE_FAULTS: &str = "perf.page_faults_per_s";

// Added in the store's schema version 8, so every numeric figure of the
// machine-wide sections has its series (the store keeps `NULL` before it).
/// `perf_metrics.cpu_detail.modes.idle_percent`, as the payload has it.
pub const CPU_IDLE: &str = "cpu.idle_percent";
/// `perf_metrics.cpu_detail.forks_per_s`, as the payload has it.
pub const FORKS: &str = "cpu.forks_per_s";
/// `perf_metrics.pressure.cpu.full_stall_percent`, as the payload has it.
pub const PRESSURE_CPU_FULL: &str = "pressure.cpu.full_percent";
/// `perf_metrics.memory_detail.free_gb`, as the payload has it.
pub const MEMORY_FREE_GB: &str = "memory.free_gb";
/// `perf_metrics.memory_detail.writeback_gb`, as the payload has it.
pub const MEMORY_WRITEBACK_GB: &str = "memory.writeback_gb";
/// `perf_metrics.memory_detail.shared_gb`, as the payload has it.
pub const MEMORY_SHARED_GB: &str = "memory.shared_gb";
/// `perf_metrics.memory_detail.slab_reclaimable_gb`, as the payload has it.
pub const MEMORY_SLAB_RECLAIMABLE_GB: &str = "memory.slab_reclaimable_gb";
/// `perf_metrics.memory_detail.hugepages_total`, as the payload has it.
pub const HUGEPAGES_TOTAL: &str = "memory.hugepages_total";
/// `perf_metrics.memory_detail.hugepages_free`, as the payload has it.
pub const HUGEPAGES_FREE: &str = "memory.hugepages_free";
/// `perf_metrics.memory_detail.hugepages_reserved`, as the payload has it.
pub const HUGEPAGES_RESERVED: &str = "memory.hugepages_reserved";
/// `perf_metrics.paging.oom_kills` (since boot), as the payload has it.
pub const OOM_KILLS: &str = "paging.oom_kills";
/// `perf_metrics.sockets.tcp_syn_sent`, as the payload has it.
pub const TCP_SYN_SENT: &str = "sockets.tcp_syn_sent";
/// `perf_metrics.sockets.tcp_syn_recv`, as the payload has it.
pub const TCP_SYN_RECV: &str = "sockets.tcp_syn_recv";
/// `perf_metrics.sockets.tcp_fin_wait1`, as the payload has it.
pub const TCP_FIN_WAIT1: &str = "sockets.tcp_fin_wait1";
/// `perf_metrics.sockets.tcp_fin_wait2`, as the payload has it.
pub const TCP_FIN_WAIT2: &str = "sockets.tcp_fin_wait2";
/// `perf_metrics.sockets.tcp_close`, as the payload has it.
pub const TCP_CLOSE: &str = "sockets.tcp_close";
/// `perf_metrics.sockets.tcp_close_wait`, as the payload has it.
pub const TCP_CLOSE_WAIT: &str = "sockets.tcp_close_wait";
/// `perf_metrics.sockets.tcp_last_ack`, as the payload has it.
pub const TCP_LAST_ACK: &str = "sockets.tcp_last_ack";
/// `perf_metrics.sockets.tcp_listen`, as the payload has it.
pub const TCP_LISTEN: &str = "sockets.tcp_listen";
/// `perf_metrics.sockets.tcp_closing`, as the payload has it.
pub const TCP_CLOSING: &str = "sockets.tcp_closing";
/// `perf_metrics.sockets.udp`, as the payload has it.
pub const UDP_SOCKETS: &str = "sockets.udp";
/// `perf_metrics.perf_events.events["cache-references"].per_s`, as the payload has it.
pub const PERF_CACHE_REFERENCES: &str = "perf.cache_references_per_s";
/// `perf_metrics.perf_events.events["branches"].per_s`, as the payload has it.
pub const PERF_BRANCHES: &str = "perf.branches_per_s";
/// `perf_metrics.perf_events.events["cpu-migrations"].per_s`, as the payload has it.
pub const PERF_CPU_MIGRATIONS: &str = "perf.cpu_migrations_per_s";
/// `perf_metrics.perf_events.events["cpu-clock"].per_s` (msec of CPU time a
/// second, as `perf stat` counts it), as the payload has it.
pub const PERF_CPU_CLOCK: &str = "perf.cpu_clock_msec_per_s";

/// The prefix of each core's series (`cpu.core.3`).
pub const CPU_CORE_PREFIX: &str = "cpu.core.";
/// The prefix of each GPU device's series (`gpu.0.percent`).
pub const GPU_DEVICE_PREFIX: &str = "gpu.";
/// The prefix of the run tree's series (`run.cpu_percent`).
pub const RUN_PREFIX: &str = "run.";

/// Core `index`'s busy share, 0–100.
pub fn cpu_core(index: usize) -> String {
    format!("{CPU_CORE_PREFIX}{index}")
}

/// GPU device `index`'s `field` (one of [`device`]'s).
pub fn gpu_device(index: u32, field: &str) -> String {
    format!("{GPU_DEVICE_PREFIX}{index}.{field}")
}

/// The run tree's `field` (one of [`run`]'s).
pub fn run_tree(field: &str) -> String {
    format!("{RUN_PREFIX}{field}")
}

/// The prefix of each disk's series (`disks.vda.util_percent`).
pub const DISK_DEVICE_PREFIX: &str = "disks.";
/// The prefix of each network interface's series (`interfaces.eth0.rx_bytes_per_s`).
pub const INTERFACE_PREFIX: &str = "interfaces.";

/// Disk `name`'s `field` (one of [`disk_device`]'s).
pub fn disk_device(name: &str, field: &str) -> String {
    format!("{DISK_DEVICE_PREFIX}{name}.{field}")
}

/// Interface `name`'s `field` (one of [`interface`]'s).
pub fn interface(name: &str, field: &str) -> String {
    format!("{INTERFACE_PREFIX}{name}.{field}")
}

/// The prefix of each core's detail (`cores.3.iowait_percent`); its busy share
/// alone is [`cpu_core`]'s.
pub const CORE_DETAIL_PREFIX: &str = "cores.";
/// The prefix of each temperature sensor's series
/// (`temperatures.coretemp Package id 0.temperature_c`).
pub const TEMPERATURE_PREFIX: &str = "temperatures.";
/// The prefix of each filesystem's series (`filesystems.vda1.used_percent`).
pub const FILESYSTEM_PREFIX: &str = "filesystems.";

/// Core `index`'s `field` (one of [`core_detail`]'s).
pub fn core_detail(index: usize, field: &str) -> String {
    format!("{CORE_DETAIL_PREFIX}{index}.{field}")
}

/// Temperature sensor `name`'s reading ([`TEMPERATURE_C`]); `name` as
/// [`sensor_names`] makes it.
pub fn temperature(name: &str) -> String {
    format!("{TEMPERATURE_PREFIX}{name}.{TEMPERATURE_C}")
}

/// Filesystem `device`'s `field` (one of [`filesystem`]'s).
pub fn filesystem(device: &str, field: &str) -> String {
    format!("{FILESYSTEM_PREFIX}{device}.{field}")
}

/// A temperature sensor's one field: degrees Celsius.
pub const TEMPERATURE_C: &str = "temperature_c";

/// The fields of each core's detail (`perf_metrics.cpu_detail.per_core[]`
/// and `cpu_detail.sensors`' per-core lists).
pub mod core_detail {
    /// Time in user mode, 0–100.
    pub const USER_PERCENT: &str = "user_percent";
    /// Time in user mode at a lowered priority, 0–100.
    pub const NICE_PERCENT: &str = "nice_percent";
    /// Time in the kernel, 0–100.
    pub const SYSTEM_PERCENT: &str = "system_percent";
    /// Time idle, 0–100.
    pub const IDLE_PERCENT: &str = "idle_percent";
    /// Time idle with IO outstanding, 0–100.
    pub const IOWAIT_PERCENT: &str = "iowait_percent";
    /// Time serving interrupts, 0–100.
    pub const IRQ_PERCENT: &str = "irq_percent";
    /// Time serving soft interrupts, 0–100.
    pub const SOFTIRQ_PERCENT: &str = "softirq_percent";
    /// Time the hypervisor ran something else, 0–100.
    pub const STEAL_PERCENT: &str = "steal_percent";
    /// Time running a guest, 0–100.
    pub const GUEST_PERCENT: &str = "guest_percent";
    /// Current frequency, MHz.
    pub const FREQUENCY_MHZ: &str = "frequency_mhz";
    /// Times the core was throttled for its own temperature since boot.
    pub const THROTTLES: &str = "throttles";
    /// Times its package was throttled since boot.
    pub const PACKAGE_THROTTLES: &str = "package_throttles";
}

/// The fields of each filesystem's series (`perf_metrics.filesystems.filesystems[]`).
pub mod filesystem {
    /// Its size, GB (GiB).
    pub const SIZE_GB: &str = "size_gb";
    /// Space in use, GB (GiB).
    pub const USED_GB: &str = "used_gb";
    /// Space an unprivileged user may still fill, GB (GiB).
    pub const FREE_GB: &str = "free_gb";
    /// `used / (used + free)`, 0–100.
    pub const USED_PERCENT: &str = "used_percent";
}

/// The fields of each disk's series (`perf_metrics.disks.devices[]`).
pub mod disk_device {
    /// Bytes read per second.
    pub const READ_BYTES_PER_S: &str = "read_bytes_per_s";
    /// Bytes written per second.
    pub const WRITE_BYTES_PER_S: &str = "write_bytes_per_s";
    /// Reads completed per second.
    pub const READ_IOPS: &str = "read_iops";
    /// Writes completed per second.
    pub const WRITE_IOPS: &str = "write_iops";
    /// Mean time a request took, queue included, ms.
    pub const AWAIT_MS: &str = "await_ms";
    /// Share of time the device was busy, 0–100.
    pub const UTIL_PERCENT: &str = "util_percent";
}

/// The fields of each interface's series (`perf_metrics.interfaces.interfaces[]`).
pub mod interface {
    /// Bytes received per second.
    pub const RX_BYTES_PER_S: &str = "rx_bytes_per_s";
    /// Bytes sent per second.
    pub const TX_BYTES_PER_S: &str = "tx_bytes_per_s";
    /// Packets received per second.
    pub const RX_PACKETS_PER_S: &str = "rx_packets_per_s";
    /// Packets sent per second.
    pub const TX_PACKETS_PER_S: &str = "tx_packets_per_s";
    /// Receive errors per second.
    pub const RX_ERRORS_PER_S: &str = "rx_errors_per_s";
    /// Send errors per second.
    pub const TX_ERRORS_PER_S: &str = "tx_errors_per_s";
    /// Received packets dropped per second.
    pub const RX_DROPS_PER_S: &str = "rx_drops_per_s";
    /// Packets to send dropped per second.
    pub const TX_DROPS_PER_S: &str = "tx_drops_per_s";
}

/// The fields of each GPU device's series.
pub mod device {
    /// Utilisation, 0–100.
    pub const PERCENT: &str = "percent";
    /// Memory in use, GB (GiB).
    pub const VRAM_USED_GB: &str = "vram_used_gb";
    /// Memory installed, GB (GiB).
    pub const VRAM_TOTAL_GB: &str = "vram_total_gb";
    /// Core temperature, °C.
    pub const TEMPERATURE_C: &str = "temperature_c";
    /// Power draw, W.
    pub const POWER_W: &str = "power_w";
    /// SM (graphics) clock, MHz.
    pub const SM_CLOCK_MHZ: &str = "sm_clock_mhz";
    /// Memory clock, MHz.
    pub const MEMORY_CLOCK_MHZ: &str = "memory_clock_mhz";
    /// PCIe bytes received per second.
    pub const PCIE_RX: &str = "pcie_rx_bytes_per_s";
    /// PCIe bytes sent per second.
    pub const PCIE_TX: &str = "pcie_tx_bytes_per_s";
    /// 1 while any clock-event reason but `gpu_idle` holds the clocks down, else 0.
    pub const THROTTLED: &str = "throttled";
    /// The SM clock's maximum, MHz.
    pub const SM_CLOCK_MAX_MHZ: &str = "sm_clock_max_mhz";
    /// The memory clock's maximum, MHz.
    pub const MEMORY_CLOCK_MAX_MHZ: &str = "memory_clock_max_mhz";
    /// The performance state as its number (`P2` → 2; 0 is the fastest).
    pub const PSTATE: &str = "pstate";
    /// Video encoder use, 0–100.
    pub const ENCODER_PERCENT: &str = "encoder_percent";
    /// Video decoder use, 0–100.
    pub const DECODER_PERCENT: &str = "decoder_percent";
    /// Fan speed, % of its maximum.
    pub const FAN_PERCENT: &str = "fan_percent";
    /// Memory-controller use (the share of time memory was read or written), 0–100.
    pub const MEMORY_CONTROLLER_PERCENT: &str = "memory_controller_percent";
    /// Power from the energy counter, W; over a span its mean times the span
    /// is the energy used.
    pub const ENERGY_POWER_W: &str = "energy_power_w";
    /// 1 while this clock-event reason holds the clocks down, else 0: one series
    /// for each of [`crate::GPU_CLOCK_EVENT_REASONS`] but `gpu_idle`, in its
    /// order (`held_by_` and the reason's name). Over a span, the share of it
    /// that reason held: the dashboard's bands.
    pub const HELD_BY: [&str; 8] = [
        "held_by_applications_clocks_setting",
        "held_by_sw_power_cap",
        "held_by_hw_slowdown",
        "held_by_sync_boost",
        "held_by_sw_thermal_slowdown",
        "held_by_hw_thermal_slowdown",
        "held_by_hw_power_brake_slowdown",
        "held_by_display_clock_setting",
    ];
    /// The clock-event reason a [`HELD_BY`] field is of (`sw_power_cap` of
    /// `held_by_sw_power_cap`).
    pub fn held_reason(field: &str) -> Option<&str> {
        field.strip_prefix("held_by_")
    }
}

/// The fields of the run tree's series.
pub mod run {
    /// The tree's CPU as a share of the machine, 0–100.
    pub const CPU_PERCENT: &str = "cpu_percent";
    /// The tree's resident memory, MB (MiB).
    pub const RSS_MB: &str = "rss_mb";
    /// GPU memory the tree holds, GB (GiB).
    pub const GPU_MEMORY_GB: &str = "gpu_memory_gb";
    /// Processes in the tree.
    pub const PROCESS_COUNT: &str = "process_count";
}

/// The machine-wide series of the machine in depth, from the payload's
/// sections, in the order the store keeps them ([`CPU_USER`] first).
pub fn machine_depth_values(
    cpu: &crate::depth::cpu::CpuDetail,
    pressure: &crate::depth::pressure::Pressure,
    memory: &crate::depth::memory::MemoryDetail,
    paging: &crate::depth::memory::Paging,
    sockets: &crate::depth::network::Sockets,
    perf: &crate::depth::perf::PerfEvents,
) -> [(&'static str, Option<f64>); 63] {
    use crate::depth::perf as event;
    let mode = |f: fn(&crate::depth::cpu::CpuModes) -> Option<f64>| cpu.modes.as_ref().and_then(f);
    let count = |v: Option<u64>| v.map(|v| v as f64);
    let some =
        |r: &Option<crate::depth::pressure::ResourcePressure>| r.as_ref().and_then(|r| r.some_stall_percent);
    let full =
        |r: &Option<crate::depth::pressure::ResourcePressure>| r.as_ref().and_then(|r| r.full_stall_percent);
    [
        (CPU_USER, mode(|m| m.user_percent)),
        (CPU_NICE, mode(|m| m.nice_percent)),
        (CPU_SYSTEM, mode(|m| m.system_percent)),
        (CPU_IOWAIT, mode(|m| m.iowait_percent)),
        (CPU_IRQ, mode(|m| m.irq_percent)),
        (CPU_SOFTIRQ, mode(|m| m.softirq_percent)),
        (CPU_STEAL, mode(|m| m.steal_percent)),
        (CPU_GUEST, mode(|m| m.guest_percent)),
        (CONTEXT_SWITCHES, cpu.context_switches_per_s),
        (INTERRUPTS, cpu.interrupts_per_s),
        (PROCS_RUNNING, count(cpu.procs_running)),
        (PROCS_BLOCKED, count(cpu.procs_blocked)),
        (PRESSURE_CPU_SOME, some(&pressure.cpu)),
        (PRESSURE_IO_SOME, some(&pressure.io)),
        (PRESSURE_IO_FULL, full(&pressure.io)),
        (PRESSURE_MEMORY_SOME, some(&pressure.memory)),
        (PRESSURE_MEMORY_FULL, full(&pressure.memory)),
        (MEMORY_AVAILABLE_GB, memory.available_gb),
        (MEMORY_CACHED_GB, memory.cached_gb),
        (MEMORY_BUFFERS_GB, memory.buffers_gb),
        (MEMORY_DIRTY_GB, memory.dirty_gb),
        (MEMORY_SLAB_GB, memory.slab_gb),
        (PAGE_IN, paging.page_in_bytes_per_s),
        (PAGE_OUT, paging.page_out_bytes_per_s),
        (SWAP_IN, paging.swap_in_pages_per_s),
        (SWAP_OUT, paging.swap_out_pages_per_s),
        (PAGE_FAULTS, paging.page_faults_per_s),
        (MAJOR_FAULTS, paging.major_faults_per_s),
        (TCP_ESTABLISHED, count(sockets.tcp_established)),
        (TCP_TIME_WAIT, count(sockets.tcp_time_wait)),
        (TCP_RETRANSMITS, sockets.tcp_retransmits_per_s),
        (PERF_IPC, perf.ipc),
        (PERF_CYCLES, perf.per_s(event::CYCLES)),
        (PERF_INSTRUCTIONS, perf.per_s(event::INSTRUCTIONS)),
        (PERF_CACHE_MISSES, perf.per_s(event::CACHE_MISSES)),
        (PERF_BRANCH_MISSES, perf.per_s(event::BRANCH_MISSES)),
        (PERF_CONTEXT_SWITCHES, perf.per_s(event::CONTEXT_SWITCHES)),
        (PERF_PAGE_FAULTS, perf.per_s(event::PAGE_FAULTS)),
        // Schema version 8's.
        (CPU_IDLE, mode(|m| m.idle_percent)),
        (FORKS, cpu.forks_per_s),
        (PRESSURE_CPU_FULL, full(&pressure.cpu)),
        (MEMORY_FREE_GB, memory.free_gb),
        (MEMORY_WRITEBACK_GB, memory.writeback_gb),
        (MEMORY_SHARED_GB, memory.shared_gb),
        (MEMORY_SLAB_RECLAIMABLE_GB, memory.slab_reclaimable_gb),
        (HUGEPAGES_TOTAL, count(memory.hugepages_total)),
        (HUGEPAGES_FREE, count(memory.hugepages_free)),
        (HUGEPAGES_RESERVED, count(memory.hugepages_reserved)),
        (OOM_KILLS, count(paging.oom_kills)),
        (TCP_SYN_SENT, count(sockets.tcp_syn_sent)),
        (TCP_SYN_RECV, count(sockets.tcp_syn_recv)),
        (TCP_FIN_WAIT1, count(sockets.tcp_fin_wait1)),
        (TCP_FIN_WAIT2, count(sockets.tcp_fin_wait2)),
        (TCP_CLOSE, count(sockets.tcp_close)),
        (TCP_CLOSE_WAIT, count(sockets.tcp_close_wait)),
        (TCP_LAST_ACK, count(sockets.tcp_last_ack)),
        (TCP_LISTEN, count(sockets.tcp_listen)),
        (TCP_CLOSING, count(sockets.tcp_closing)),
        (UDP_SOCKETS, count(sockets.udp)),
        (PERF_CACHE_REFERENCES, perf.per_s(event::CACHE_REFERENCES)),
        (PERF_BRANCHES, perf.per_s(event::BRANCHES)),
        (PERF_CPU_MIGRATIONS, perf.per_s(event::CPU_MIGRATIONS)),
        (PERF_CPU_CLOCK, perf.per_s(event::CPU_CLOCK)),
    ]
}

/// One disk's fields (of [`disk_device`]), in the order the store keeps them.
pub fn disk_values(d: &crate::depth::disks::DiskDevice) -> [(&'static str, Option<f64>); 6] {
    [
        (disk_device::READ_BYTES_PER_S, d.read_bytes_per_s),
        (disk_device::WRITE_BYTES_PER_S, d.write_bytes_per_s),
        (disk_device::READ_IOPS, d.read_iops),
        (disk_device::WRITE_IOPS, d.write_iops),
        (disk_device::AWAIT_MS, d.await_ms),
        (disk_device::UTIL_PERCENT, d.util_percent),
    ]
}

/// One interface's fields (of [`interface`]), in the order the store keeps them.
pub fn interface_values(i: &crate::depth::network::Interface) -> [(&'static str, Option<f64>); 8] {
    [
        (interface::RX_BYTES_PER_S, i.rx_bytes_per_s),
        (interface::TX_BYTES_PER_S, i.tx_bytes_per_s),
        (interface::RX_PACKETS_PER_S, i.rx_packets_per_s),
        (interface::TX_PACKETS_PER_S, i.tx_packets_per_s),
        (interface::RX_ERRORS_PER_S, i.rx_errors_per_s),
        (interface::TX_ERRORS_PER_S, i.tx_errors_per_s),
        (interface::RX_DROPS_PER_S, i.rx_drops_per_s),
        (interface::TX_DROPS_PER_S, i.tx_drops_per_s),
    ]
}

/// Core `index`'s detail (of [`core_detail`]), in the order the store keeps
/// them: its modes, frequency and throttle counts from the payload's lists;
/// `None` where a list has nothing for it.
pub fn core_values(cpu: &crate::depth::cpu::CpuDetail, index: usize) -> [(&'static str, Option<f64>); 12] {
    let modes = cpu.per_core.get(index).copied().flatten();
    let mode = |f: fn(&crate::depth::cpu::CpuModes) -> Option<f64>| modes.as_ref().and_then(f);
    let at = |list: &[Option<u64>]| list.get(index).copied().flatten().map(|n| n as f64);
    let sensors = &cpu.sensors;
    [
        (core_detail::USER_PERCENT, mode(|m| m.user_percent)),
        (core_detail::NICE_PERCENT, mode(|m| m.nice_percent)),
        (core_detail::SYSTEM_PERCENT, mode(|m| m.system_percent)),
        (core_detail::IDLE_PERCENT, mode(|m| m.idle_percent)),
        (core_detail::IOWAIT_PERCENT, mode(|m| m.iowait_percent)),
        (core_detail::IRQ_PERCENT, mode(|m| m.irq_percent)),
        (core_detail::SOFTIRQ_PERCENT, mode(|m| m.softirq_percent)),
        (core_detail::STEAL_PERCENT, mode(|m| m.steal_percent)),
        (core_detail::GUEST_PERCENT, mode(|m| m.guest_percent)),
        (core_detail::FREQUENCY_MHZ, sensors.frequency_mhz.get(index).copied().flatten()),
        (core_detail::THROTTLES, at(&sensors.throttle.core)),
        (core_detail::PACKAGE_THROTTLES, at(&sensors.throttle.package)),
    ]
}

/// How many cores' detail a sample has: the longest of its per-core lists.
pub fn cores_with_detail(cpu: &crate::depth::cpu::CpuDetail) -> usize {
    let s = &cpu.sensors;
    cpu.per_core.len().max(s.frequency_mhz.len()).max(s.throttle.core.len()).max(s.throttle.package.len())
}

/// The sensors' names as series name them: each sensor's own, and where one
/// repeats (two drives' `nvme Composite`), `#2`, `#3`… after it in the
/// kernel's order, so no two sensors share a series.
pub fn sensor_names(sensors: &[crate::depth::cpu::Temperature]) -> Vec<String> {
    let mut taken: std::collections::HashSet<String> = std::collections::HashSet::new();
    sensors
        .iter()
        .map(|t| {
            // A sensor whose own name is `X #2` beside two `X`s takes the
            // next free number.
            let mut name = t.name.clone();
            let mut n = 1;
            while !taken.insert(name.clone()) {
                n += 1;
                name = format!("{} #{n}", t.name);
            }
            name
        })
        .collect()
}

/// One filesystem's fields (of [`filesystem`]), in the order the store keeps them.
pub fn filesystem_values(f: &crate::depth::disks::Filesystem) -> [(&'static str, Option<f64>); 4] {
    [
        (filesystem::SIZE_GB, f.size_gb),
        (filesystem::USED_GB, f.used_gb),
        (filesystem::FREE_GB, f.free_gb),
        (filesystem::USED_PERCENT, f.used_percent),
    ]
}

/// [`device::THROTTLED`] from a device's clock-event reasons by name: 1 when
/// any but `gpu_idle` is set (an idle GPU lowering its clocks is not held
/// back), 0 when none is, `None` when they could not be read.
pub fn throttled<S: AsRef<str>>(reasons: Option<&[S]>) -> Option<f64> {
    let idle = crate::GPU_CLOCK_EVENT_REASONS[0];
    reasons.map(|reasons| if reasons.iter().any(|r| r.as_ref() != idle) { 1.0 } else { 0.0 })
}

/// [`device::PSTATE`] from the payload's name (`P2` → 2); `None` for no
/// name or one not of that form.
pub fn pstate_number(name: Option<&str>) -> Option<f64> {
    name?.strip_prefix('P')?.parse::<u8>().ok().map(f64::from)
}

/// Each of [`device::HELD_BY`] from a device's clock-event reasons by name: 1
/// where that reason is set, 0 where it is not, `None` for all when they could
/// not be read.
pub fn held_by<S: AsRef<str>>(reasons: Option<&[S]>) -> [Option<f64>; 8] {
    let held = |i: usize| {
        let name = crate::GPU_CLOCK_EVENT_REASONS[i + 1];
        reasons.map(|reasons| if reasons.iter().any(|r| r.as_ref() == name) { 1.0 } else { 0.0 })
    };
    std::array::from_fn(held)
}

/// One live sample's values under these names, as the store would record
/// them (the run's tree only while it is live; a lost device's figures `None`),
/// so a chart can append the stream's samples to the store's history.
pub fn sample_values(m: &crate::PerfMetrics) -> Vec<(String, Option<f64>)> {
    let mut row: Vec<(String, Option<f64>)> = [
        (CPU_PERCENT, m.cpu.percent),
        (LOAD_ONE, m.cpu.load_average.map(|l| l.one)),
        (MEMORY_USED_GB, m.memory.used_gb),
        (MEMORY_TOTAL_GB, m.memory.total_gb),
        (SWAP_USED_GB, m.memory.swap_used_gb),
        (SWAP_TOTAL_GB, m.memory.swap_total_gb),
        (NETWORK_RX, m.network.rx_bytes_per_s),
        (NETWORK_TX, m.network.tx_bytes_per_s),
        (DISK_READ, m.disk.read_bytes_per_s),
        (DISK_WRITE, m.disk.write_bytes_per_s),
        (DISK_USED_GB, m.disk.used_gb),
        (DISK_TOTAL_GB, m.disk.total_gb),
        (MONITOR_CPU_PERCENT, m.monitor.cpu_percent),
        (MONITOR_RSS_MB, m.monitor.rss_mb),
        (GPU_PERCENT, m.gpu.percent),
        (GPU_VRAM_USED_GB, m.gpu.vram_used_gb),
        (GPU_VRAM_TOTAL_GB, m.gpu.vram_total_gb),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    row.extend(m.cpu.per_core.iter().enumerate().map(|(i, core)| (cpu_core(i), Some(*core))));
    for d in &m.gpu.devices {
        let fields = [
            (device::PERCENT, d.percent),
            (device::VRAM_USED_GB, d.vram_used_gb),
            (device::VRAM_TOTAL_GB, d.vram_total_gb),
            (device::TEMPERATURE_C, d.temperature_c),
            (device::POWER_W, d.power_w),
            (device::SM_CLOCK_MHZ, d.sm_clock_mhz.map(f64::from)),
            (device::MEMORY_CLOCK_MHZ, d.memory_clock_mhz.map(f64::from)),
            (device::PCIE_RX, d.pcie_rx_bytes_per_s),
            (device::PCIE_TX, d.pcie_tx_bytes_per_s),
            (device::THROTTLED, throttled(d.clock_event_reasons.as_deref())),
            (device::SM_CLOCK_MAX_MHZ, d.sm_clock_max_mhz.map(f64::from)),
            (device::MEMORY_CLOCK_MAX_MHZ, d.memory_clock_max_mhz.map(f64::from)),
            (device::PSTATE, pstate_number(d.pstate.as_deref())),
            (device::ENCODER_PERCENT, d.encoder_percent),
            (device::DECODER_PERCENT, d.decoder_percent),
            (device::FAN_PERCENT, d.fan_percent),
            (device::MEMORY_CONTROLLER_PERCENT, d.memory_controller_percent),
            (device::ENERGY_POWER_W, d.energy_power_w),
        ];
        let held = device::HELD_BY.into_iter().zip(held_by(d.clock_event_reasons.as_deref()));
        for (field, value) in fields.into_iter().chain(held) {
            row.push((gpu_device(d.index, field), value.filter(|_| d.available)));
        }
    }
    let depth = machine_depth_values(
        &m.cpu_detail,
        &m.pressure,
        &m.memory_detail,
        &m.paging,
        &m.sockets,
        &m.perf_events,
    );
    row.extend(depth.map(|(name, value)| (name.to_owned(), value)));
    // As many as the payload lists, and the store keeps.
    for d in m.disks.devices.iter().take(crate::depth::disks::MAX_DISKS) {
        row.extend(disk_values(d).map(|(field, value)| (disk_device(&d.name, field), value)));
    }
    for i in m.interfaces.interfaces.iter().take(crate::depth::network::MAX_INTERFACES) {
        row.extend(interface_values(i).map(|(field, value)| (interface(&i.name, field), value)));
    }
    let sensors = &m.cpu_detail.sensors.temperatures.sensors;
    for (name, t) in sensor_names(sensors).iter().zip(sensors) {
        row.push((temperature(name), t.temperature_c));
    }
    for f in m.filesystems.filesystems.iter().take(crate::depth::disks::MAX_FILESYSTEMS) {
        row.extend(filesystem_values(f).map(|(field, value)| (filesystem(&f.device, field), value)));
    }
    // Each core's detail is recorded but not charted (a dozen series a core):
    // a live sample leaves it out, as the dashboard's history does.
    let process = m.run.process.as_ref().filter(|_| m.run.status.is_live());
    let tree = [
        (run::CPU_PERCENT, process.and_then(|p| p.cpu_percent)),
        (run::RSS_MB, process.and_then(|p| p.rss_mb)),
        (run::GPU_MEMORY_GB, process.and_then(|p| p.gpu_memory_gb)),
        (run::PROCESS_COUNT, process.map(|p| f64::from(p.process_count))),
    ];
    row.extend(tree.map(|(field, value)| (run_tree(field), value)));
    row
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::depth::disks::{DiskDevice, Disks};
    use crate::depth::network::{Interface, Interfaces};

    #[test]
    fn each_sensor_has_a_name_of_its_own() {
        let sensor = |name: &str| crate::depth::cpu::Temperature { name: name.into(), temperature_c: None };
        let sensors =
            ["nvme Composite", "nvme Composite", "nvme Composite #2", "coretemp Core 0"].map(sensor);
        assert_eq!(
            sensor_names(&sensors),
            ["nvme Composite", "nvme Composite #2", "nvme Composite #2 #2", "coretemp Core 0"]
        );
    }

    #[test]
    fn a_sample_is_named_as_the_store_names_it() {
        let m = crate::PerfMetrics {
            cpu: crate::Cpu { percent: Some(40.0), per_core: vec![30.0, 50.0], load_average: None },
            gpu: crate::Gpu {
                devices: vec![crate::GpuDevice {
                    index: 1,
                    available: false,
                    power_w: Some(300.0),
                    ..crate::GpuDevice::default()
                }],
                ..crate::Gpu::default()
            },
            ..crate::PerfMetrics::default()
        };
        let row: std::collections::BTreeMap<_, _> = sample_values(&m).into_iter().collect();
        assert_eq!(row[CPU_PERCENT], Some(40.0));
        assert_eq!(row["cpu.core.1"], Some(50.0));
        assert_eq!(row["gpu.1.power_w"], None, "a lost device's last figures are not recorded");
        assert_eq!(row["gpu.1.throttled"], None);
        assert_eq!(row["run.cpu_percent"], None, "no tree without a live run");
        assert_eq!(row[CPU_USER], None, "the machine in depth is named even where unread");
        assert_eq!(row["gpu.1.held_by_sw_power_cap"], None);
        assert_eq!(row.len(), 17 + 2 + 18 + 8 + 4 + 63);
    }

    #[test]
    fn the_machine_in_depth_is_named_per_disk_and_interface_with_the_payloads_values() {
        let mut m = crate::PerfMetrics::default();
        m.cpu_detail.modes =
            Some(crate::depth::cpu::CpuModes { iowait_percent: Some(3.5), ..Default::default() });
        m.cpu_detail.procs_blocked = Some(2);
        m.pressure.io = Some(crate::depth::pressure::ResourcePressure {
            some_stall_percent: Some(1.25),
            full_stall_percent: Some(0.5),
            ..Default::default()
        });
        m.memory_detail.available_gb = Some(12.345);
        m.sockets.tcp_time_wait = Some(7);
        m.perf_events.ipc = Some(1.5);
        m.perf_events.events.insert(
            crate::depth::perf::CYCLES.into(),
            crate::depth::perf::PerfEvent { available: true, per_s: Some(2e9), ..Default::default() },
        );
        m.disks = Disks {
            available: true,
            devices: vec![DiskDevice { name: "vda".into(), util_percent: Some(42.1), ..Default::default() }],
            ..Disks::default()
        };
        m.interfaces = Interfaces {
            available: true,
            interfaces: (0..40)
                .map(|n| Interface {
                    name: format!("veth{n}"),
                    rx_drops_per_s: Some(0.5),
                    ..Default::default()
                })
                .collect(),
            ..Interfaces::default()
        };
        m.gpu.devices = vec![crate::GpuDevice {
            index: 0,
            available: true,
            sm_clock_mhz: Some(1980),
            clock_event_reasons: Some(vec!["sw_power_cap".into()]),
            ..crate::GpuDevice::default()
        }];
        let row: std::collections::BTreeMap<_, _> = sample_values(&m).into_iter().collect();
        assert_eq!(row[CPU_IOWAIT], Some(3.5));
        assert_eq!(row[PROCS_BLOCKED], Some(2.0));
        assert_eq!((row[PRESSURE_IO_SOME], row[PRESSURE_IO_FULL]), (Some(1.25), Some(0.5)));
        assert_eq!(row[PRESSURE_CPU_SOME], None, "no cpu line: no figure");
        assert_eq!(row[MEMORY_AVAILABLE_GB], Some(12.345));
        assert_eq!(row[TCP_TIME_WAIT], Some(7.0));
        assert_eq!((row[PERF_IPC], row[PERF_CYCLES], row[PERF_INSTRUCTIONS]), (Some(1.5), Some(2e9), None));
        assert_eq!(row["disks.vda.util_percent"], Some(42.1));
        assert_eq!(row["disks.vda.await_ms"], None);
        assert_eq!(row["interfaces.veth3.rx_drops_per_s"], Some(0.5));
        let interfaces = row.keys().filter(|k| k.starts_with(INTERFACE_PREFIX)).count();
        assert_eq!(interfaces, 32 * 8, "at most 32 interfaces, as the store keeps");
        assert_eq!((row["gpu.0.sm_clock_mhz"], row["gpu.0.throttled"]), (Some(1980.0), Some(1.0)));
        assert_eq!(
            (row["gpu.0.held_by_sw_power_cap"], row["gpu.0.held_by_hw_slowdown"]),
            (Some(1.0), Some(0.0)),
            "a band for each reason"
        );
    }

    #[test]
    fn only_a_reason_other_than_idle_counts_as_throttled() {
        let reasons = |r: &[&str]| throttled(Some(r));
        assert_eq!(reasons(&[]), Some(0.0));
        assert_eq!(reasons(&["gpu_idle"]), Some(0.0));
        assert_eq!(reasons(&["gpu_idle", "hw_slowdown"]), Some(1.0));
        assert_eq!(throttled::<&str>(None), None, "unreadable");
    }

    #[test]
    fn a_pstate_is_its_number() {
        assert_eq!(pstate_number(Some("P0")), Some(0.0));
        assert_eq!(pstate_number(Some("P15")), Some(15.0));
        assert_eq!(pstate_number(Some("unknown")), None);
        assert_eq!(pstate_number(None), None);
    }

    #[test]
    fn each_reason_but_idle_has_its_band() {
        for (i, field) in device::HELD_BY.iter().enumerate() {
            assert_eq!(device::held_reason(field), Some(crate::GPU_CLOCK_EVENT_REASONS[i + 1]));
        }
        let held = held_by(Some(&["gpu_idle", "sw_power_cap", "hw_thermal_slowdown"]));
        let on: Vec<&str> = (0..8).filter(|i| held[*i] == Some(1.0)).map(|i| device::HELD_BY[i]).collect();
        assert_eq!(on, ["held_by_sw_power_cap", "held_by_hw_thermal_slowdown"]);
        assert!(held.iter().all(Option::is_some), "the others are 0, not unknown");
        assert_eq!(held_by::<&str>(None), [None; 8], "unreadable");
        assert_eq!(device::held_reason("throttled"), None);
    }

    #[test]
    fn per_core_device_and_run_names_follow_their_prefixes() {
        assert_eq!(cpu_core(3), "cpu.core.3");
        assert_eq!(gpu_device(1, device::POWER_W), "gpu.1.power_w");
        assert_eq!(run_tree(run::RSS_MB), "run.rss_mb");
        assert_eq!(disk_device("vda", disk_device::UTIL_PERCENT), "disks.vda.util_percent");
        assert_eq!(interface("eth0", interface::RX_DROPS_PER_S), "interfaces.eth0.rx_drops_per_s");
    }
}
