//! Names of the recorded series that `GET /api/history` answers with, defined
//! once for the server's store (which writes them) and the dashboard (which
//! charts them, and names its live samples the same way). Units are in the
//! names, as in the stream.

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
        ];
        row.extend(fields.map(|(field, value)| (gpu_device(d.index, field), value.filter(|_| d.available))));
    }
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
        assert_eq!(row["run.cpu_percent"], None, "no tree without a live run");
        assert_eq!(row.len(), 17 + 2 + 5 + 4);
    }

    #[test]
    fn per_core_device_and_run_names_follow_their_prefixes() {
        assert_eq!(cpu_core(3), "cpu.core.3");
        assert_eq!(gpu_device(1, device::POWER_W), "gpu.1.power_w");
        assert_eq!(run_tree(run::RSS_MB), "run.rss_mb");
    }
}
