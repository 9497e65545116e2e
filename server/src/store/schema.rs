//! The store's tables, as one list of metrics per kind of row, from which the
//! schema, the inserts, the roll-ups and the queries are all made, and the
//! migrations that build the schema (rusqlite_migration: `user_version`).
//!
//! Every kind of row (the machine, each GPU device, each disk and network
//! interface, each run's tree) lives in four tiers: `raw` (every tick), `1m`,
//! `10m` and `1h` (`min`, `avg`, `max` of each metric per period). Times are
//! unix milliseconds; the four totals' sizes bytes; the machine in depth in
//! the payload's own units, as whole numbers of their last decimal ([`fixed`]).
//!
//! A list that a migration's SQL was built from never changes: version 1's
//! tables are [`HOST`], [`DEVICE`] and [`RUN`]; version 3 added the machine in
//! depth as [`HOST_DEPTH`] and [`DEVICE_DEPTH`] (new columns of the same
//! tables) and [`DISK`] and [`INTERFACE`] (tables of their own, keyed by the
//! device's name); version 8 the rest of the payload's numeric figures,
//! [`HOST_V8`] and [`DEVICE_V8`], and each GPU's clock-event reasons,
//! [`DEVICE_REASONS`]; version 9 each core's detail, temperature sensor and
//! filesystem ([`CORE`], [`SENSOR`], [`FILESYSTEM`]: tables of their own, like
//! the disks'). Inserts, roll-ups and queries read the concatenations,
//! [`host_metrics`] and [`device_metrics`], and the kinds kept by name,
//! [`NAMED`]. A new figure is a new list and a new migration.
//!
//! # Layout
//! - [`Metric`] and the lists; [`Named`]: the kinds of device kept by name.
//! - [`host_values`], [`device_values`], [`tree_values`], [`Named::rows`]: a
//!   sample's figures in the lists' order.
//! - [`Tier`], [`columns`], [`aggregates`]: the tiers and their SQL.
//! - [`migrate`]: the migrations; [`register_functions`]: `cores_avg`.

use rusqlite::Connection;
use rusqlite_migration::{M, Migrations};
use std::borrow::Cow;

use shared::series::{self, core_detail, device, disk_device, filesystem, interface, run};

use crate::collect::gpu::clock_event_reason_names;
use crate::sampling::{Depth, DeviceReading, HostSample, TreeReading};

/// One stored figure: its column, the series name queries answer with, and how
/// stored values become the series' unit.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    /// The column (and, with `_min`/`_avg`/`_max`, the tiers' columns).
    pub column: &'static str,
    /// The series name (`memory.used_gb`); per device or run, the part after the
    /// prefix (`percent` of `gpu.0.percent`).
    pub series: &'static str,
    /// Stored values are divided by this to give the series' unit (bytes → GiB).
    pub divisor: f64,
    /// Decimals the series is sent with.
    pub decimals: i32,
}

const GIB: f64 = crate::units::BYTES_PER_GB;
const MIB: f64 = crate::units::BYTES_PER_MB;

const fn metric(column: &'static str, series: &'static str, divisor: f64, decimals: i32) -> Metric {
    Metric { column, series, divisor, decimals }
}

/// A figure of the machine in depth, stored as a whole number of its last
/// decimal (3.5 % as 35, 6.125 GB as 6125): SQLite keeps a whole REAL in one to
/// six bytes, a fraction in eight, and a month of these rows is most of the
/// file. Its series are the payload's figures, to the payload's decimals.
const fn fixed(column: &'static str, series: &'static str, decimals: i32) -> Metric {
    let (mut divisor, mut d) = (1.0, 0);
    while d < decimals {
        divisor *= 10.0;
        d += 1;
    }
    metric(column, series, divisor, decimals)
}

impl Metric {
    /// A figure in its series' unit as stored: `v × divisor`, whole for a
    /// [`fixed`] one.
    pub fn stored(&self, v: f64) -> f64 {
        (v * self.divisor).round()
    }

    /// Whether a whole stored unit is no coarser than the series' last decimal
    /// (a [`fixed`] figure; bytes sent as GB to two decimals; bytes per second
    /// sent whole), so that a tier's mean can be kept whole and read the same:
    /// a fraction costs SQLite eight bytes, a whole number one to six, and the
    /// means are a third of the tiers' figures.
    pub fn whole_mean(&self) -> bool {
        self.divisor >= 10f64.powi(self.decimals)
    }
}

/// `values` (in the series' units, in `metrics`' order) as stored.
fn stored(metrics: &[Metric], values: impl IntoIterator<Item = Option<f64>>) -> Vec<Option<f64>> {
    metrics.iter().zip(values).map(|(m, v)| v.map(|v| m.stored(v))).collect()
}

/// The machine's figures, in the order of [`host_values`].
pub const HOST: &[Metric] = &[
    metric("cpu", series::CPU_PERCENT, 1.0, 1),
    metric("mem_used", series::MEMORY_USED_GB, GIB, 2),
    metric("mem_total", series::MEMORY_TOTAL_GB, GIB, 2),
    metric("swap_used", series::SWAP_USED_GB, GIB, 2),
    metric("swap_total", series::SWAP_TOTAL_GB, GIB, 2),
    metric("net_rx", series::NETWORK_RX, 1.0, 0),
    metric("net_tx", series::NETWORK_TX, 1.0, 0),
    metric("disk_read", series::DISK_READ, 1.0, 0),
    metric("disk_write", series::DISK_WRITE, 1.0, 0),
    metric("disk_used", series::DISK_USED_GB, GIB, 2),
    metric("disk_total", series::DISK_TOTAL_GB, GIB, 2),
    metric("load1", series::LOAD_ONE, 1.0, 2),
    // Three decimals, as it is sent: a share of the whole machine is small.
    metric("monitor_cpu", series::MONITOR_CPU_PERCENT, 1.0, 3),
    metric("monitor_rss", series::MONITOR_RSS_MB, MIB, 1),
    metric("gpu", series::GPU_PERCENT, 1.0, 1),
    metric("gpu_mem_used", series::GPU_VRAM_USED_GB, GIB, 2),
    metric("gpu_mem_total", series::GPU_VRAM_TOTAL_GB, GIB, 2),
];

/// Each GPU device's figures (series `gpu.{index}.…`), in the order of
/// [`device_values`].
pub const DEVICE: &[Metric] = &[
    metric("percent", device::PERCENT, 1.0, 1),
    metric("mem_used", device::VRAM_USED_GB, GIB, 2),
    metric("mem_total", device::VRAM_TOTAL_GB, GIB, 2),
    metric("temp", device::TEMPERATURE_C, 1.0, 0),
    metric("power", device::POWER_W, 1.0, 1),
];

/// The machine in depth (schema version 3): the payload's figures, stored
/// [`fixed`], in the order of [`shared::series::machine_depth_values`].
pub const HOST_DEPTH: &[Metric] = &[
    fixed("cpu_user", series::CPU_USER, 1),
    fixed("cpu_nice", series::CPU_NICE, 1),
    fixed("cpu_system", series::CPU_SYSTEM, 1),
    fixed("cpu_iowait", series::CPU_IOWAIT, 1),
    fixed("cpu_irq", series::CPU_IRQ, 1),
    fixed("cpu_softirq", series::CPU_SOFTIRQ, 1),
    fixed("cpu_steal", series::CPU_STEAL, 1),
    fixed("cpu_guest", series::CPU_GUEST, 1),
    fixed("ctx_switches", series::CONTEXT_SWITCHES, 1),
    fixed("interrupts", series::INTERRUPTS, 1),
    fixed("procs_running", series::PROCS_RUNNING, 1),
    fixed("procs_blocked", series::PROCS_BLOCKED, 1),
    fixed("psi_cpu_some", series::PRESSURE_CPU_SOME, 2),
    fixed("psi_io_some", series::PRESSURE_IO_SOME, 2),
    fixed("psi_io_full", series::PRESSURE_IO_FULL, 2),
    fixed("psi_mem_some", series::PRESSURE_MEMORY_SOME, 2),
    fixed("psi_mem_full", series::PRESSURE_MEMORY_FULL, 2),
    fixed("mem_available", series::MEMORY_AVAILABLE_GB, 3),
    fixed("mem_cached", series::MEMORY_CACHED_GB, 3),
    fixed("mem_buffers", series::MEMORY_BUFFERS_GB, 3),
    fixed("mem_dirty", series::MEMORY_DIRTY_GB, 3),
    fixed("mem_slab", series::MEMORY_SLAB_GB, 3),
    fixed("page_in", series::PAGE_IN, 0),
    fixed("page_out", series::PAGE_OUT, 0),
    fixed("swap_in", series::SWAP_IN, 1),
    fixed("swap_out", series::SWAP_OUT, 1),
    fixed("page_faults", series::PAGE_FAULTS, 1),
    fixed("major_faults", series::MAJOR_FAULTS, 1),
    fixed("tcp_established", series::TCP_ESTABLISHED, 1),
    fixed("tcp_time_wait", series::TCP_TIME_WAIT, 1),
    fixed("tcp_retransmits", series::TCP_RETRANSMITS, 1),
    // The counters' figures are sent unrounded: rates to a tenth, IPC as perf
    // stat prints it and one decimal more.
    fixed("perf_ipc", series::PERF_IPC, 3),
    fixed("perf_cycles", series::PERF_CYCLES, 1),
    fixed("perf_instructions", series::PERF_INSTRUCTIONS, 1),
    fixed("perf_cache_misses", series::PERF_CACHE_MISSES, 1),
    fixed("perf_branch_misses", series::PERF_BRANCH_MISSES, 1),
    fixed("perf_context_switches", series::PERF_CONTEXT_SWITCHES, 1),
    fixed("perf_page_faults", series::PERF_PAGE_FAULTS, 1),
];

/// Each GPU device's figures added in schema version 3, after [`DEVICE`]'s.
pub const DEVICE_DEPTH: &[Metric] = &[
    fixed("sm_clock", device::SM_CLOCK_MHZ, 0),
    fixed("mem_clock", device::MEMORY_CLOCK_MHZ, 0),
    fixed("pcie_rx", device::PCIE_RX, 0),
    fixed("pcie_tx", device::PCIE_TX, 0),
    // 0 or 1 a tick; over a span, the share of it spent throttled.
    fixed("throttled", device::THROTTLED, 2),
];

/// Each GPU device's figures added in schema version 8, after
/// [`DEVICE_DEPTH`]'s: the rest of the payload's numbers (not charted: a
/// history answers with them when asked for every figure).
pub const DEVICE_V8: &[Metric] = &[
    fixed("sm_clock_max", device::SM_CLOCK_MAX_MHZ, 0),
    fixed("mem_clock_max", device::MEMORY_CLOCK_MAX_MHZ, 0),
    fixed("pstate", device::PSTATE, 0),
    fixed("encoder", device::ENCODER_PERCENT, 0),
    fixed("decoder", device::DECODER_PERCENT, 0),
    fixed("fan", device::FAN_PERCENT, 0),
    fixed("mem_ctrl", device::MEMORY_CONTROLLER_PERCENT, 0),
    fixed("energy_power", device::ENERGY_POWER_W, 1),
];

/// Each GPU device's clock-event reasons (schema version 8), after
/// [`DEVICE_V8`]'s: a column per reason but `gpu_idle` ([`device::HELD_BY`]'s
/// order), 0 or 1 a tick; over a span, the share of it that reason held the
/// clocks down — the dashboard's bands. Whole numbers, so a tick's zeros take
/// a byte each.
pub const DEVICE_REASONS: &[Metric] = &[
    fixed("held_apps_clocks", device::HELD_BY[0], 2),
    fixed("held_power_cap", device::HELD_BY[1], 2),
    fixed("held_hw_slowdown", device::HELD_BY[2], 2),
    fixed("held_sync_boost", device::HELD_BY[3], 2),
    fixed("held_sw_thermal", device::HELD_BY[4], 2),
    fixed("held_hw_thermal", device::HELD_BY[5], 2),
    fixed("held_power_brake", device::HELD_BY[6], 2),
    fixed("held_display_clock", device::HELD_BY[7], 2),
];

/// Each disk's figures (series `disks.{name}.…`), in the order of
/// [`shared::series::disk_values`].
pub const DISK: &[Metric] = &[
    fixed("read_bytes", disk_device::READ_BYTES_PER_S, 0),
    fixed("write_bytes", disk_device::WRITE_BYTES_PER_S, 0),
    fixed("read_iops", disk_device::READ_IOPS, 1),
    fixed("write_iops", disk_device::WRITE_IOPS, 1),
    fixed("await", disk_device::AWAIT_MS, 2),
    fixed("util", disk_device::UTIL_PERCENT, 1),
];

/// Each network interface's figures (series `interfaces.{name}.…`), in the
/// order of [`shared::series::interface_values`].
pub const INTERFACE: &[Metric] = &[
    fixed("rx_bytes", interface::RX_BYTES_PER_S, 0),
    fixed("tx_bytes", interface::TX_BYTES_PER_S, 0),
    fixed("rx_packets", interface::RX_PACKETS_PER_S, 1),
    fixed("tx_packets", interface::TX_PACKETS_PER_S, 1),
    fixed("rx_errors", interface::RX_ERRORS_PER_S, 1),
    fixed("tx_errors", interface::TX_ERRORS_PER_S, 1),
    fixed("rx_drops", interface::RX_DROPS_PER_S, 1),
    fixed("tx_drops", interface::TX_DROPS_PER_S, 1),
];

/// Each core's detail (series `cores.{index}.…`, schema version 9), in the
/// order of [`shared::series::core_values`]: its modes, frequency and
/// thermal-throttle counts (counters since boot: over a span, their `max`
/// less their `min` is the throttling in it).
pub const CORE: &[Metric] = &[
    fixed("user", core_detail::USER_PERCENT, 1),
    fixed("nice", core_detail::NICE_PERCENT, 1),
    fixed("system", core_detail::SYSTEM_PERCENT, 1),
    fixed("idle", core_detail::IDLE_PERCENT, 1),
    fixed("iowait", core_detail::IOWAIT_PERCENT, 1),
    fixed("irq", core_detail::IRQ_PERCENT, 1),
    fixed("softirq", core_detail::SOFTIRQ_PERCENT, 1),
    fixed("steal", core_detail::STEAL_PERCENT, 1),
    fixed("guest", core_detail::GUEST_PERCENT, 1),
    fixed("frequency", core_detail::FREQUENCY_MHZ, 1),
    fixed("throttles", core_detail::THROTTLES, 0),
    fixed("package_throttles", core_detail::PACKAGE_THROTTLES, 0),
];

/// Each temperature sensor's reading (series `temperatures.{name}.…`,
/// schema version 9).
pub const SENSOR: &[Metric] = &[fixed("celsius", series::TEMPERATURE_C, 1)];

/// Each filesystem's space (series `filesystems.{device}.…`, schema version
/// 9), in the order of [`shared::series::filesystem_values`]; GB to the
/// payload's one decimal.
pub const FILESYSTEM: &[Metric] = &[
    fixed("size", filesystem::SIZE_GB, 1),
    fixed("used", filesystem::USED_GB, 1),
    fixed("free", filesystem::FREE_GB, 1),
    fixed("used_percent", filesystem::USED_PERCENT, 1),
];

/// The rest of the machine-wide sections' numeric figures (schema version 8),
/// after [`HOST_DEPTH`]'s, in the order of
/// [`shared::series::machine_depth_values`] (which lists both).
pub const HOST_V8: &[Metric] = &[
    fixed("cpu_idle", series::CPU_IDLE, 1),
    fixed("forks", series::FORKS, 1),
    fixed("psi_cpu_full", series::PRESSURE_CPU_FULL, 2),
    fixed("mem_free", series::MEMORY_FREE_GB, 3),
    fixed("mem_writeback", series::MEMORY_WRITEBACK_GB, 3),
    fixed("mem_shared", series::MEMORY_SHARED_GB, 3),
    fixed("mem_slab_reclaimable", series::MEMORY_SLAB_RECLAIMABLE_GB, 3),
    fixed("hugepages_total", series::HUGEPAGES_TOTAL, 0),
    fixed("hugepages_free", series::HUGEPAGES_FREE, 0),
    fixed("hugepages_reserved", series::HUGEPAGES_RESERVED, 0),
    fixed("oom_kills", series::OOM_KILLS, 0),
    fixed("tcp_syn_sent", series::TCP_SYN_SENT, 1),
    fixed("tcp_syn_recv", series::TCP_SYN_RECV, 1),
    fixed("tcp_fin_wait1", series::TCP_FIN_WAIT1, 1),
    fixed("tcp_fin_wait2", series::TCP_FIN_WAIT2, 1),
    fixed("tcp_close", series::TCP_CLOSE, 1),
    fixed("tcp_close_wait", series::TCP_CLOSE_WAIT, 1),
    fixed("tcp_last_ack", series::TCP_LAST_ACK, 1),
    fixed("tcp_listen", series::TCP_LISTEN, 1),
    fixed("tcp_closing", series::TCP_CLOSING, 1),
    fixed("udp", series::UDP_SOCKETS, 1),
    fixed("perf_cache_refs", series::PERF_CACHE_REFERENCES, 1),
    fixed("perf_branches", series::PERF_BRANCHES, 1),
    fixed("perf_migrations", series::PERF_CPU_MIGRATIONS, 1),
    fixed("perf_cpu_clock", series::PERF_CPU_CLOCK, 1),
];

/// Every column of the machine's tables: [`HOST`], [`HOST_DEPTH`], then
/// [`HOST_V8`].
pub fn host_metrics() -> &'static [Metric] {
    static ALL: std::sync::OnceLock<Vec<Metric>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| [HOST, HOST_DEPTH, HOST_V8].concat())
}

/// Every column of the GPU devices' tables: [`DEVICE`], [`DEVICE_DEPTH`],
/// [`DEVICE_V8`], then [`DEVICE_REASONS`].
pub fn device_metrics() -> &'static [Metric] {
    static ALL: std::sync::OnceLock<Vec<Metric>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| [DEVICE, DEVICE_DEPTH, DEVICE_V8, DEVICE_REASONS].concat())
}

/// The machine's columns the dashboard charts, which a history answers with
/// unless asked for every figure: all but [`HOST_V8`] (a query's time grows
/// with its columns).
pub fn charted_host_metrics() -> &'static [Metric] {
    static CHARTED: std::sync::OnceLock<Vec<Metric>> = std::sync::OnceLock::new();
    CHARTED.get_or_init(|| [HOST, HOST_DEPTH].concat())
}

/// The GPU devices' columns the dashboard charts: all but [`DEVICE_V8`].
pub fn charted_device_metrics() -> &'static [Metric] {
    static CHARTED: std::sync::OnceLock<Vec<Metric>> = std::sync::OnceLock::new();
    CHARTED.get_or_init(|| [DEVICE, DEVICE_DEPTH, DEVICE_REASONS].concat())
}

/// One device's row of a tick: its name and its figures as stored.
pub type NamedRow<'a> = (Cow<'a, str>, Vec<Option<f64>>);

/// The most cores whose detail is stored (the first ones): a dozen figures a
/// core, about 8 MB a core over a month (BENCHMARKS.md, The store), so a large
/// machine's detail stays bounded, as the disks' and interfaces' do; every
/// core's busy share is kept whatever their number (the heat strip's bytes).
pub const MAX_CORES_KEPT: usize = 32;

/// A kind of device kept by its name (`vda`, `eth0`): a table per tier keyed
/// by `(ts, name)`, series `{prefix}{name}.{field}`.
#[derive(Debug, Clone, Copy)]
pub struct Named {
    /// The tables' name before the tier's suffix (`disk` of `disk_1m`).
    pub table: &'static str,
    /// The series' prefix (`disks.`).
    pub prefix: &'static str,
    /// The figures.
    pub metrics: &'static [Metric],
    /// The most devices of this kind one tick stores (the payload's bound;
    /// the first ones listed).
    pub per_tick: usize,
    /// Each device of a sample's depth sections, as listed: its name and
    /// figures as stored ([`fixed`]), in [`Named::metrics`]' order.
    pub rows: fn(&Depth) -> Vec<NamedRow<'_>>,
    /// Whether the dashboard charts it, so a history answers with it unless
    /// asked for every figure (a query's time grows with its rows).
    pub charted: bool,
    /// When a row is written.
    pub cadence: Cadence,
}

/// When a kind's rows are written. A row costs about 40 bytes on disk however
/// few its figures, so kinds that change slowly, or that a machine has many
/// of, are not written every tick (BENCHMARKS.md, The store).
#[derive(Debug, Clone, Copy)]
pub enum Cadence {
    /// A row each tick.
    Tick,
    /// A row at the first tick of each `ms` window, standing for the ticks
    /// since the row before: its first `means` figures (rates, shares of time)
    /// are their mean over those ticks, the rest (readings, counters) the
    /// newest tick's. A query answers with them where they are.
    Window {
        /// The window, ms.
        ms: i64,
        /// How many of the kind's figures, first in its list, are means.
        means: usize,
    },
    /// A row when the source's reading is new (`age`: how old the reading is
    /// at a tick, ms; a tick with none writes its rows): sources read every 5 s
    /// off the tick, whose reading the stream repeats at each tick meanwhile.
    /// A query does the same: each tick between two rows answers with the
    /// reading before it, for at most [`HELD_FOR_MS`].
    Reading {
        /// The reading's age at a tick.
        age: fn(&Depth) -> Option<u64>,
    },
}

/// How long a query holds a [`Cadence::Reading`] kind's reading for the ticks
/// after it: two of the slow sources' periods (`sampling::SLOW_EVERY`), so a
/// late reading leaves no hole and a source that stopped answering does.
pub const HELD_FOR_MS: i64 = 10_000;

/// The window of [`CORES`]' rows: the slow sources' period, at which the
/// cores' frequencies and throttle counts are read.
pub const CORE_WINDOW_MS: i64 = 5_000;

/// Each disk (`disk_{tier}`).
pub const DISKS: Named = Named {
    table: "disk",
    prefix: series::DISK_DEVICE_PREFIX,
    metrics: DISK,
    per_tick: shared::depth::disks::MAX_DISKS,
    rows: |depth| {
        let devices = depth.disks.devices.iter();
        devices
            .map(|d| (d.name.as_str().into(), stored(DISK, series::disk_values(d).map(|(_, v)| v))))
            .collect()
    },
    charted: true,
    cadence: Cadence::Tick,
};

/// Each network interface (`interface_{tier}`).
pub const INTERFACES: Named = Named {
    table: "interface",
    prefix: series::INTERFACE_PREFIX,
    metrics: INTERFACE,
    per_tick: shared::depth::network::MAX_INTERFACES,
    rows: |depth| {
        let interfaces = depth.interfaces.interfaces.iter();
        interfaces
            .map(|i| (i.name.as_str().into(), stored(INTERFACE, series::interface_values(i).map(|(_, v)| v))))
            .collect()
    },
    charted: true,
    cadence: Cadence::Tick,
};

/// Each core's detail (`core_{tier}`), named by its number; at most
/// [`MAX_CORES_KEPT`] cores, a row each every [`CORE_WINDOW_MS`] (the modes
/// their mean since the row before: a dozen figures a core each second would
/// make it the store's largest table). Not charted: the dashboard draws each
/// core's busy share, and a history answers with the detail when asked for
/// every figure.
pub const CORES: Named = Named {
    table: "core",
    prefix: series::CORE_DETAIL_PREFIX,
    metrics: CORE,
    per_tick: MAX_CORES_KEPT,
    rows: |depth| {
        let cpu = &depth.cpu_detail;
        (0..series::cores_with_detail(cpu).min(MAX_CORES_KEPT))
            .map(|i| (i.to_string().into(), stored(CORE, series::core_values(cpu, i).map(|(_, v)| v))))
            .collect()
    },
    charted: false,
    // The nine modes are shares of time: their mean over the window is the
    // window's own share. Frequency and the throttle counts are the newest.
    cadence: Cadence::Window { ms: CORE_WINDOW_MS, means: 9 },
};

/// Each temperature sensor (`sensor_{tier}`), named as
/// [`shared::series::sensor_names`] names it; a row each when the sensors are
/// read (every 5 s).
pub const SENSORS: Named = Named {
    table: "sensor",
    prefix: series::TEMPERATURE_PREFIX,
    metrics: SENSOR,
    per_tick: shared::depth::cpu::MAX_TEMPERATURES,
    rows: |depth| {
        let sensors = &depth.cpu_detail.sensors.temperatures.sensors;
        let names = series::sensor_names(sensors);
        names
            .into_iter()
            .zip(sensors)
            .map(|(name, t)| (name.into(), stored(SENSOR, [t.temperature_c])))
            .collect()
    },
    charted: true,
    cadence: Cadence::Reading { age: |depth| depth.cpu_detail.sensors.age_ms },
};

/// Each filesystem (`filesystem_{tier}`), named by its device; a row each
/// when the filesystems are read (every 5 s).
pub const FILESYSTEMS: Named = Named {
    table: "filesystem",
    prefix: series::FILESYSTEM_PREFIX,
    metrics: FILESYSTEM,
    per_tick: shared::depth::disks::MAX_FILESYSTEMS,
    rows: |depth| {
        let list = depth.filesystems.filesystems.iter();
        list.map(|f| {
            (f.device.as_str().into(), stored(FILESYSTEM, series::filesystem_values(f).map(|(_, v)| v)))
        })
        .collect()
    },
    charted: true,
    cadence: Cadence::Reading { age: |depth| depth.filesystems.age_ms },
};

/// The kinds of device kept by name: schema version 3's, then version 9's.
pub const NAMED: [Named; 5] = [DISKS, INTERFACES, CORES, SENSORS, FILESYSTEMS];

/// The kinds whose tables schema version 3 made (a migration's list never changes).
const NAMED_V3: [Named; 2] = [DISKS, INTERFACES];

/// The kinds whose tables schema version 9 made.
const NAMED_V9: [Named; 3] = [CORES, SENSORS, FILESYSTEMS];

/// Every table that has a row per tick in each tier, for pruning.
pub const TIERED: [&str; 8] =
    ["host", "gpu", "run", DISKS.table, INTERFACES.table, CORES.table, SENSORS.table, FILESYSTEMS.table];

/// A run's tree (series `run.…`), in the order of [`tree_values`].
pub const RUN: &[Metric] = &[
    metric("cpu", run::CPU_PERCENT, 1.0, 1),
    metric("rss", run::RSS_MB, MIB, 1),
    metric("gpu_mem", run::GPU_MEMORY_GB, GIB, 2),
    metric("procs", run::PROCESS_COUNT, 1.0, 0),
];

/// The machine's figures of `s`, in [`host_metrics`]' order.
pub fn host_values(s: &HostSample) -> Vec<Option<f64>> {
    let m = s.memory.as_ref().filter(|m| m.total_bytes > 0);
    let n = s.network.as_ref();
    let answering = || s.gpu.devices.iter().filter(|d| d.lost.is_none());
    let gpu_mean = {
        let utilisation: Vec<f64> = answering().filter_map(|d| d.percent).map(f64::from).collect();
        (!utilisation.is_empty()).then(|| utilisation.iter().sum::<f64>() / utilisation.len() as f64)
    };
    let gpu_sum = |f: fn(&DeviceReading) -> Option<u64>| {
        let values: Vec<u64> = answering().filter_map(f).collect();
        (!values.is_empty()).then(|| values.iter().sum::<u64>() as f64)
    };
    let bytes = |v: u64| Some(v as f64);
    let d = &s.depth;
    let depth = series::machine_depth_values(
        &d.cpu_detail,
        &d.pressure,
        &d.memory_detail,
        &d.paging,
        &d.sockets,
        &d.perf_events,
    );
    let mut values = vec![
        s.cpu.percent,
        m.and_then(|m| bytes(m.used_bytes)),
        m.and_then(|m| bytes(m.total_bytes)),
        m.and_then(|m| bytes(m.swap_used_bytes)),
        m.and_then(|m| bytes(m.swap_total_bytes)),
        n.map(|n| n.rx_bytes_per_s),
        n.map(|n| n.tx_bytes_per_s),
        s.disk.read_bytes_per_s,
        s.disk.write_bytes_per_s,
        s.disk.used_bytes.map(|b| b as f64),
        s.disk.total_bytes.map(|b| b as f64),
        s.cpu.load.map(|[one, _, _]| one),
        s.monitor.cpu_percent,
        s.monitor.rss_bytes.map(|b| b as f64),
        gpu_mean,
        gpu_sum(|d| d.memory_used_bytes),
        gpu_sum(|d| d.memory_total_bytes),
    ];
    let depth_metrics = HOST_DEPTH.iter().chain(HOST_V8);
    values.extend(depth_metrics.zip(depth).map(|(m, (_, v))| v.map(|v| m.stored(v))));
    values
}

/// One device's figures, in [`device_metrics`]' order; `None` for a lost device.
pub fn device_values(d: &DeviceReading) -> Option<Vec<Option<f64>>> {
    d.lost.is_none().then(|| {
        // The reasons by name, as the payload sends them (bits nvml-wrapper
        // does not know are left out there too).
        let reasons = d.clock_event_reasons.map(clock_event_reason_names);
        let mut values = vec![
            d.percent.map(f64::from),
            d.memory_used_bytes.map(|b| b as f64),
            d.memory_total_bytes.map(|b| b as f64),
            d.temperature_c.map(f64::from),
            d.power_mw.map(|mw| f64::from(mw) / 1000.0),
        ];
        let depth = [
            d.sm_clock_mhz.map(f64::from),
            d.memory_clock_mhz.map(f64::from),
            d.pcie_rx_bytes_per_s.map(|b| b as f64),
            d.pcie_tx_bytes_per_s.map(|b| b as f64),
            series::throttled(reasons.as_deref()),
        ];
        values.extend(stored(DEVICE_DEPTH, depth));
        let v8 = [
            d.sm_clock_max_mhz.map(f64::from),
            d.memory_clock_max_mhz.map(f64::from),
            d.pstate.map(f64::from),
            d.encoder_percent.map(f64::from),
            d.decoder_percent.map(f64::from),
            d.fan_percent.map(f64::from),
            d.memory_controller_percent.map(f64::from),
            d.energy_power_w,
        ];
        values.extend(stored(DEVICE_V8, v8));
        values.extend(stored(DEVICE_REASONS, series::held_by(reasons.as_deref())));
        values
    })
}

/// A tree's figures, in [`RUN`]'s order.
pub fn tree_values(t: &TreeReading) -> Vec<Option<f64>> {
    vec![
        t.cpu_percent,
        Some(t.rss_bytes as f64),
        t.gpu_memory_bytes.map(|b| b as f64),
        Some(f64::from(t.process_count)),
    ]
}

/// Each core's use, whole percents, one byte per core: a heat strip needs no more.
pub fn cores_blob(per_core: &[f64]) -> Vec<u8> {
    per_core.iter().map(|c| c.clamp(0.0, 100.0).round() as u8).collect()
}

/// The tiers, finest first, with the table suffix and the time a row stands
/// for. Ten-minute rows sit between minutes and hours so a month's chart reads
/// 4,320 rows rather than 43,200; they are kept as long as minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// Every tick.
    Raw,
    /// One row per minute.
    Minute,
    /// One row per ten minutes.
    TenMinutes,
    /// One row per hour.
    Hour,
}

impl Tier {
    /// Finest first.
    pub const ALL: [Tier; 4] = [Tier::Raw, Tier::Minute, Tier::TenMinutes, Tier::Hour];

    /// The tables' suffix.
    pub fn suffix(self) -> &'static str {
        match self {
            Tier::Raw => "raw",
            Tier::Minute => "1m",
            Tier::TenMinutes => "10m",
            Tier::Hour => "1h",
        }
    }

    /// What the API calls it.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Raw => "raw",
            Tier::Minute => "minute",
            Tier::TenMinutes => "ten_minutes",
            Tier::Hour => "hour",
        }
    }

    /// Milliseconds a row stands for (a raw row: one tick, at most a second).
    pub fn millis(self) -> i64 {
        match self {
            Tier::Raw => 1_000,
            Tier::Minute => 60_000,
            Tier::TenMinutes => 600_000,
            Tier::Hour => 3_600_000,
        }
    }

    /// The tier this one is rolled up from.
    pub fn finer(self) -> Option<Tier> {
        match self {
            Tier::Raw => None,
            Tier::Minute => Some(Tier::Raw),
            Tier::TenMinutes => Some(Tier::Minute),
            Tier::Hour => Some(Tier::TenMinutes),
        }
    }

    /// The tier this one is rolled up into.
    pub fn coarser(self) -> Option<Tier> {
        Tier::ALL.into_iter().find(|t| t.finer() == Some(self))
    }
}

/// Columns of `metrics` in `tier`: `cpu`, or `cpu_min, cpu_avg, cpu_max`.
pub fn columns(metrics: &[Metric], tier: Tier) -> Vec<String> {
    metrics
        .iter()
        .flat_map(|m| match tier {
            Tier::Raw => vec![m.column.to_owned()],
            _ => ["min", "avg", "max"].iter().map(|a| format!("{}_{a}", m.column)).collect(),
        })
        .collect()
}

/// `min, avg, max` of each metric over rows of `tier` (a raw column, or the
/// tier's own `_min`/`_avg`/`_max`), for the roll-ups; the mean whole where
/// [`Metric::whole_mean`].
pub fn aggregates(metrics: &[Metric], tier: Tier) -> String {
    metrics
        .iter()
        .map(|m| {
            let (min, avg, max) = match tier {
                Tier::Raw => (m.column.to_owned(), m.column.to_owned(), m.column.to_owned()),
                _ => (format!("{}_min", m.column), format!("{}_avg", m.column), format!("{}_max", m.column)),
            };
            let avg = if m.whole_mean() { format!("round(avg({avg}))") } else { format!("avg({avg})") };
            format!("min({min}), {avg}, max({max})")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn column_list(metrics: &[Metric], tier: Tier) -> String {
    columns(metrics, tier).iter().map(|c| format!("{c} REAL")).collect::<Vec<_>>().join(", ")
}

/// The SQL of schema version 1.
fn version_1() -> String {
    let mut sql = String::from(
        "CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            project TEXT NOT NULL,
            label TEXT,
            pid INTEGER NOT NULL,
            started_at INTEGER NOT NULL,
            ended_at INTEGER,
            status TEXT NOT NULL,
            exit_code INTEGER,
            signal INTEGER,
            cpu_seconds REAL NOT NULL DEFAULT 0,
            peak_cpu_percent REAL,
            peak_rss_bytes INTEGER,
            peak_gpu_bytes INTEGER,
            peak_processes INTEGER NOT NULL DEFAULT 0,
            tokens INTEGER NOT NULL DEFAULT 0,
            last_seen INTEGER
        );
        CREATE INDEX runs_by_project ON runs (project, started_at DESC);
        CREATE TABLE gpu_names (device INTEGER PRIMARY KEY, name TEXT NOT NULL);
        CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);\n",
    );
    for tier in Tier::ALL {
        let t = tier.suffix();
        sql.push_str(&format!(
            "CREATE TABLE host_{t} (ts INTEGER PRIMARY KEY, {}, cores BLOB);\n",
            column_list(HOST, tier)
        ));
        sql.push_str(&format!(
            "CREATE TABLE gpu_{t} (ts INTEGER NOT NULL, device INTEGER NOT NULL, {}, PRIMARY KEY (ts, device)) WITHOUT ROWID;\n",
            column_list(DEVICE, tier)
        ));
        sql.push_str(&format!(
            "CREATE TABLE run_{t} (run_id TEXT NOT NULL, ts INTEGER NOT NULL, {}, PRIMARY KEY (run_id, ts)) WITHOUT ROWID;
             CREATE INDEX run_{t}_by_time ON run_{t} (ts);\n",
            column_list(RUN, tier)
        ));
    }
    sql
}

/// Version 2: a run's CPU counter base, so a server that restarts during a run
/// counts on from the same point (existing runs keep every figure; theirs is
/// unknown, `NULL`).
const VERSION_2: &str = "ALTER TABLE runs ADD COLUMN cpu_base REAL;";

/// The SQL of schema version 4: each run's own counters and the verdict on
/// where its time went, as the contract's JSON (`shared::why::RunCounters`,
/// `shared::why::Verdict`): read whole with the run, never searched, and their
/// fields grow additively. `NULL` in the runs already there: "not measured".
const VERSION_4: &str =
    "ALTER TABLE runs ADD COLUMN counters TEXT; ALTER TABLE runs ADD COLUMN verdict TEXT;";

/// The SQL of schema version 5, token usage read from the agents' transcripts:
/// where a run's count comes from, and its tokens by kind, as the contract's
/// JSON (`shared::TokenSource`, `shared::TokenDetail`). `NULL` in the runs
/// already there: a reported count, or none.
const VERSION_5: &str =
    "ALTER TABLE runs ADD COLUMN token_source TEXT; ALTER TABLE runs ADD COLUMN token_detail TEXT;";

/// The SQL of schema version 6, alerts: one row per firing (its resolution
/// fills `resolved_at`) or one-off event, as `shared::alerts::AlertEvent`
/// lists them; kept as long as runs are.
const VERSION_6: &str = "CREATE TABLE alerts (id INTEGER PRIMARY KEY, rule TEXT NOT NULL, severity TEXT NOT NULL,
     state TEXT NOT NULL, title TEXT NOT NULL, message TEXT NOT NULL, project TEXT, run_id TEXT, series TEXT,
     value REAL, threshold REAL, fired_at INTEGER NOT NULL, resolved_at INTEGER, silenced INTEGER NOT NULL DEFAULT 0);
     CREATE INDEX alerts_fired ON alerts (fired_at);
     CREATE INDEX alerts_run ON alerts (project, run_id);";

/// The SQL of schema version 7, remote write: how far each receiver has
/// accepted the raw tier (unix ms of the newest tick it took), so a restart
/// carries on from there and sends what the receiver missed. Keyed by the
/// receiver's URL as given; a receiver no longer configured keeps its row
/// (a few bytes), and takes up where it left off if it comes back. Runs by
/// their end, for the runs that ended since the last batch and each
/// project's last finished one (`/metrics` and the push), without a scan.
const VERSION_7: &str = "CREATE TABLE remote_write (receiver TEXT PRIMARY KEY, sent_to INTEGER NOT NULL);
     CREATE INDEX runs_by_end ON runs (ended_at);
     CREATE INDEX runs_by_project_end ON runs (project, ended_at);";

/// The SQL of schema version 10: the alerts' silence, so that a restart
/// inside it does not send what it held back (one row while it holds).
const VERSION_10: &str =
    "CREATE TABLE alert_silence (id INTEGER PRIMARY KEY CHECK (id = 1), until INTEGER NOT NULL);";

/// The SQL of schema version 11: whether each run's end has been through the
/// alerts, so that an end they never saw (the run ended while PerfMon was
/// down, or PerfMon died in the seconds before its alert went out) is alerted
/// at the next start; the runs that had ended by the migration count as
/// alerted. And `perfmon run --notify`'s destinations, so that a restart keeps
/// sending a run's alerts there: they are secrets (tokens in URLs), so a row
/// lives only until its run's end has been alerted.
const VERSION_11: &str = "ALTER TABLE runs ADD COLUMN end_alerted INTEGER NOT NULL DEFAULT 0;
     UPDATE runs SET end_alerted = 1 WHERE ended_at IS NOT NULL;
     CREATE TABLE run_notify (run_id TEXT PRIMARY KEY, specs TEXT NOT NULL);";

/// The SQL of schema version 8: the rest of the payload's numeric figures,
/// each GPU's clock-event reasons among them, as new columns of the machine's
/// and the devices' tables in every tier (`NULL` in the rows already there:
/// not kept then; of the reasons, only "held for any reason" was).
fn version_8() -> String {
    let mut sql = String::new();
    for tier in Tier::ALL {
        for (table, metrics) in [("host", HOST_V8), ("gpu", DEVICE_V8), ("gpu", DEVICE_REASONS)] {
            for column in columns(metrics, tier) {
                sql.push_str(&format!("ALTER TABLE {table}_{} ADD COLUMN {column} REAL;\n", tier.suffix()));
            }
        }
    }
    sql
}

/// The SQL of schema version 3, the machine in depth: new columns in the
/// machine's and the GPU devices' tables of every tier (`NULL` in the rows
/// already there: nothing was read then), and the disks' and interfaces'
/// tables. Adding a column rewrites no row, so a store of any size migrates at
/// once.
fn version_3() -> String {
    let mut sql = String::new();
    for tier in Tier::ALL {
        let t = tier.suffix();
        for (table, metrics) in [("host", HOST_DEPTH), ("gpu", DEVICE_DEPTH)] {
            for column in columns(metrics, tier) {
                sql.push_str(&format!("ALTER TABLE {table}_{t} ADD COLUMN {column} REAL;\n"));
            }
        }
        sql.push_str(&named_tables(&NAMED_V3, tier));
    }
    sql
}

/// The tables of `kinds` in `tier`.
fn named_tables(kinds: &[Named], tier: Tier) -> String {
    kinds
        .iter()
        .map(|kind| {
            format!(
                "CREATE TABLE {}_{} (ts INTEGER NOT NULL, name TEXT NOT NULL, {}, PRIMARY KEY (ts, name)) WITHOUT ROWID;\n",
                kind.table,
                tier.suffix(),
                column_list(kind.metrics, tier)
            )
        })
        .collect()
}

/// The SQL of schema version 9: each core's detail, each temperature sensor
/// and each filesystem, in tables of their own like the disks' (a store of
/// any size migrates at once: no row is rewritten; nothing was kept of them
/// before).
fn version_9() -> String {
    Tier::ALL.into_iter().map(|tier| named_tables(&NAMED_V9, tier)).collect()
}

/// The latest schema version: one per migration.
pub const LATEST: usize = 11;

/// Each migration's SQL, oldest first. Built for each call of [`migrate`]
/// and dropped when it returns: the tiers' tables are about 85 KB of text,
/// which a server kept for its whole life when it was built once per process.
fn steps() -> [Cow<'static, str>; LATEST] {
    [
        version_1().into(),
        VERSION_2.into(),
        version_3().into(),
        VERSION_4.into(),
        VERSION_5.into(),
        VERSION_6.into(),
        VERSION_7.into(),
        version_8().into(),
        version_9().into(),
        VERSION_10.into(),
        VERSION_11.into(),
    ]
}

/// The migrations of `steps`, oldest first.
fn migrations<'a>(steps: &'a [Cow<'static, str>]) -> Migrations<'a> {
    Migrations::new(steps.iter().map(|sql| M::up(sql)).collect())
}

/// Brings `conn`'s schema to the latest version. An empty database gets the
/// latest schema in one go ([`folded`]), not migration by migration.
pub fn migrate(conn: &mut Connection) -> Result<(), rusqlite_migration::Error> {
    let empty: bool = conn.query_row(
        "SELECT NOT EXISTS (SELECT 1 FROM sqlite_master) AND (SELECT user_version FROM pragma_user_version) = 0",
        [],
        |row| row.get(0),
    )?;
    let steps = steps();
    if !empty {
        return migrations(&steps).to_latest(conn);
    }
    let tx = conn.transaction()?;
    tx.execute_batch(&folded(&steps))?;
    tx.pragma_update(None, "user_version", LATEST as i64)?;
    tx.commit()?;
    Ok(())
}

/// The migrations' SQL with each `ALTER TABLE t ADD COLUMN c` folded into the
/// `CREATE TABLE t` before it: for an empty database, the same tables,
/// columns in the same order, and indexes. It matters because SQLite parses
/// the whole schema again after each `ALTER TABLE`, and versions 3 and 8 add
/// about 1,700 columns that way: an empty store's first start spent 0.3-0.4 s
/// of CPU on it (release build; 0.6 s in a debug test, and many tests start
/// empty stores), against a few milliseconds folded. The
/// migrations stay the one description of the schema; a test holds the two
/// ways to the same result.
fn folded(steps: &[Cow<'static, str>]) -> String {
    let mut statements: Vec<String> = Vec::new();
    for statement in steps.iter().flat_map(|sql| sql.split(';')).map(str::trim).filter(|s| !s.is_empty()) {
        let added = statement
            .strip_prefix("ALTER TABLE ")
            .and_then(|rest| rest.split_once(" ADD COLUMN "))
            .and_then(|(table, column)| {
                let create = format!("CREATE TABLE {table} (");
                Some((statements.iter_mut().find(|s| s.starts_with(&create))?, column))
            });
        match added {
            Some((create, column)) => {
                // Columns go before the table's constraints, as SQLite's ALTER
                // puts them; a table without any ends with its column list.
                let at = create.find(", PRIMARY KEY (").or_else(|| create.rfind(')')).unwrap_or(create.len());
                create.insert_str(at, &format!(", {column}"));
            }
            None => statements.push(statement.to_owned()),
        }
    }
    statements.iter().map(|s| format!("{s};\n")).collect()
}

/// The schema version `conn` is at.
pub fn version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
}

/// `cores_avg(blob)`: the per-core mean of a group of per-core blobs, for the
/// roll-ups (SQLite's own aggregates cannot look inside a blob).
pub fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::{Aggregate, Context, FunctionFlags};

    struct CoresAvg;
    impl Aggregate<(Vec<u64>, u64), Option<Vec<u8>>> for CoresAvg {
        fn init(&self, _: &mut Context<'_>) -> rusqlite::Result<(Vec<u64>, u64)> {
            Ok((Vec::new(), 0))
        }
        fn step(&self, ctx: &mut Context<'_>, (sums, n): &mut (Vec<u64>, u64)) -> rusqlite::Result<()> {
            let Some(blob) = ctx.get::<Option<Vec<u8>>>(0)? else { return Ok(()) };
            if sums.len() < blob.len() {
                sums.resize(blob.len(), 0);
            }
            for (sum, core) in sums.iter_mut().zip(&blob) {
                *sum += u64::from(*core);
            }
            *n += 1;
            Ok(())
        }
        fn finalize(
            &self,
            _: &mut Context<'_>,
            acc: Option<(Vec<u64>, u64)>,
        ) -> rusqlite::Result<Option<Vec<u8>>> {
            Ok(acc
                .filter(|(_, n)| *n > 0)
                .map(|(sums, n)| sums.iter().map(|s| ((s + n / 2) / n) as u8).collect()))
        }
    }
    conn.create_aggregate_function("cores_avg", 1, FunctionFlags::SQLITE_DETERMINISTIC, CoresAvg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_migrates_from_empty_and_again_is_a_no_op() {
        let mut conn = Connection::open_in_memory().expect("db");
        migrate(&mut conn).expect("migrates");
        assert_eq!(version(&conn).expect("version"), 11);
        migrate(&mut conn).expect("a second start changes nothing");
        let tables = ["runs", "host_raw", "host_1m", "host_1h", "gpu_raw", "gpu_1h", "run_raw", "run_1m"];
        let named = [
            "disk_raw",
            "disk_10m",
            "interface_raw",
            "interface_1h",
            "core_raw",
            "sensor_1m",
            "filesystem_1h",
        ];
        for table in tables.into_iter().chain(named) {
            let n: i64 = conn
                .query_row("SELECT count(*) FROM sqlite_master WHERE name = ?1", [table], |r| r.get(0))
                .expect("query");
            assert_eq!(n, 1, "{table}");
        }
        // The tiers keep min, mean and max of each figure.
        conn.execute("INSERT INTO host_1m (ts, cpu_min, cpu_avg, cpu_max) VALUES (0, 1, 2, 3)", [])
            .expect("insert");
        conn.execute("INSERT INTO host_10m (ts, cpu_iowait_min, cpu_iowait_avg) VALUES (0, 1, 2)", [])
            .expect("the machine in depth too");
    }

    /// Every table's columns (name, type, constraints, default, key, in
    /// order), every index's columns, and whether it has a rowid: the schema
    /// as SQLite works with it, whatever the text of its CREATE statements.
    fn shape(conn: &Connection) -> Vec<String> {
        let rows = |sql: &str| -> Vec<String> {
            let mut statement = conn.prepare(sql).expect("a pragma");
            let n = statement.column_count();
            statement
                .query_map([], |row| {
                    (0..n)
                        .map(|i| row.get::<_, rusqlite::types::Value>(i).map(|v| format!("{v:?}")))
                        .collect()
                })
                .expect("rows")
                .map(|r: rusqlite::Result<Vec<String>>| r.expect("a row").join("|"))
                .collect()
        };
        let mut shape = rows(
            "SELECT type, name, tbl_name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name",
        );
        for table in rows("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name") {
            let table = table.trim_start_matches("Text(\"").trim_end_matches("\")").to_owned();
            shape.extend(rows(&format!("SELECT '{table}', * FROM pragma_table_xinfo('{table}')")));
            shape.extend(rows(&format!(
                "SELECT name, type, ncol, wr, strict FROM pragma_table_list('{table}')"
            )));
            for index in rows(&format!("SELECT name FROM pragma_index_list('{table}') ORDER BY name")) {
                let index = index.trim_start_matches("Text(\"").trim_end_matches("\")").to_owned();
                shape.extend(rows(&format!("SELECT '{index}', * FROM pragma_index_xinfo('{index}')")));
            }
        }
        shape
    }

    #[test]
    fn an_empty_store_gets_the_schema_the_migrations_build_one_by_one() {
        let mut folded = Connection::open_in_memory().expect("db");
        migrate(&mut folded).expect("migrates");
        let mut stepwise = Connection::open_in_memory().expect("db");
        migrations(&steps()).to_latest(&mut stepwise).expect("migrates one by one");
        assert_eq!(version(&folded).expect("version"), LATEST as i64);
        assert_eq!(version(&stepwise).expect("version"), LATEST as i64);
        let (folded, stepwise) = (shape(&folded), shape(&stepwise));
        assert!(folded.len() > 2_000, "the shape covers the tiers' columns: {} lines", folded.len());
        for (f, s) in folded.iter().zip(&stepwise) {
            assert_eq!(f, s, "the folded schema differs");
        }
        assert_eq!(folded.len(), stepwise.len());
        // It is one statement per table and index: no ALTER is left.
        assert!(!super::folded(&steps()).contains("ALTER TABLE"));
    }

    #[test]
    fn the_runs_ended_before_version_11_count_as_alerted_and_a_live_one_does_not() {
        let mut conn = Connection::open_in_memory().expect("db");
        let steps = steps();
        let before = migrations(&steps[..10]);
        before.to_latest(&mut conn).expect("version 10");
        conn.execute_batch(
            "INSERT INTO runs (run_id, project, pid, started_at, ended_at, status) VALUES
                 ('1-a', 'p', 1, 1000, 2000, 'exited'), ('2-b', 'p', 2, 3000, NULL, 'running');",
        )
        .expect("two runs");
        drop(before);
        migrate(&mut conn).expect("to the latest");
        assert_eq!(version(&conn).expect("version"), 11);
        let alerted: Vec<(String, i64)> = conn
            .prepare("SELECT run_id, end_alerted FROM runs ORDER BY run_id")
            .expect("select")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("read");
        assert_eq!(alerted, vec![("1-a".to_owned(), 1), ("2-b".to_owned(), 0)]);
    }

    #[test]
    fn a_version_2_store_keeps_its_history_through_the_migration() {
        let mut conn = Connection::open_in_memory().expect("db");
        let (v1, v3) = (version_1(), version_3());
        let before = Migrations::new(vec![M::up(&v1), M::up(VERSION_2)]);
        before.to_latest(&mut conn).expect("version 2");
        assert_eq!(version(&conn).expect("version"), 2);
        conn.execute_batch(
            "INSERT INTO runs (run_id, project, pid, started_at, status, cpu_seconds, cpu_base)
                 VALUES ('7-x', 'p', 7, 1000, 'exited', 12.5, 0.5);
             INSERT INTO host_raw (ts, cpu, mem_used, cores) VALUES (1000, 42.5, 1073741824, x'0A64');
             INSERT INTO host_1m (ts, cpu_min, cpu_avg, cpu_max) VALUES (0, 1, 2, 3);
             INSERT INTO host_1h (ts, load1_min, load1_avg, load1_max) VALUES (0, 0.5, 1, 2);
             INSERT INTO gpu_raw (ts, device, percent, power) VALUES (1000, 0, 99, 300);
             INSERT INTO gpu_10m (ts, device, temp_max) VALUES (0, 0, 71);
             INSERT INTO run_raw (run_id, ts, cpu, rss) VALUES ('7-x', 1000, 50, 1024);
             INSERT INTO gpu_names (device, name) VALUES (0, 'NVIDIA Test');
             INSERT INTO meta (key, value) VALUES ('rolled_1m', 60000);",
        )
        .expect("a version 2 history");
        drop(before);
        migrate(&mut conn).expect("to the latest");
        assert_eq!(version(&conn).expect("version"), 11);
        let one = |sql: &str| -> Option<f64> { conn.query_row(sql, [], |r| r.get(0)).expect(sql) };
        assert_eq!(one("SELECT cpu FROM host_raw WHERE ts = 1000"), Some(42.5));
        assert_eq!(one("SELECT mem_used FROM host_raw WHERE ts = 1000"), Some(1073741824.0));
        assert_eq!(one("SELECT cpu_iowait FROM host_raw WHERE ts = 1000"), None, "not read back then");
        assert_eq!(one("SELECT cpu_max FROM host_1m WHERE ts = 0"), Some(3.0));
        assert_eq!(one("SELECT load1_avg FROM host_1h WHERE ts = 0"), Some(1.0));
        assert_eq!(one("SELECT power FROM gpu_raw WHERE ts = 1000"), Some(300.0));
        assert_eq!(one("SELECT sm_clock FROM gpu_raw WHERE ts = 1000"), None);
        assert_eq!(one("SELECT temp_max FROM gpu_10m WHERE ts = 0"), Some(71.0));
        assert_eq!(one("SELECT rss FROM run_raw WHERE run_id = '7-x'"), Some(1024.0));
        assert_eq!(one("SELECT cpu_base FROM runs WHERE run_id = '7-x'"), Some(0.5));
        let counters: Option<String> = conn
            .query_row("SELECT counters FROM runs WHERE run_id = '7-x'", [], |r| r.get(0))
            .expect("counters");
        assert_eq!(counters, None, "an older run reads as not measured");
        assert_eq!(one("SELECT value FROM meta WHERE key = 'rolled_1m'"), Some(60000.0));
        let cores: Vec<u8> =
            conn.query_row("SELECT cores FROM host_raw", [], |r| r.get(0)).expect("the core strip");
        assert_eq!(cores, [10, 100]);
        let name: String = conn.query_row("SELECT name FROM gpu_names", [], |r| r.get(0)).expect("name");
        assert_eq!(name, "NVIDIA Test");
        // The new tables take rows, and what version 3 adds is what it says.
        conn.execute("INSERT INTO disk_raw (ts, name, util) VALUES (1000, 'vda', 12.5)", []).expect("a disk");
        conn.execute("INSERT INTO interface_1h (ts, name, rx_drops_max) VALUES (0, 'eth0', 1)", [])
            .expect("an interface");
        assert!(v3.contains("ALTER TABLE host_raw ADD COLUMN cpu_user REAL;"));
        assert_eq!(
            one("SELECT held_power_cap FROM gpu_raw WHERE ts = 1000"),
            None,
            "only kept since version 8"
        );
        conn.execute("INSERT INTO gpu_1m (ts, device, held_power_cap_avg) VALUES (0, 0, 25)", [])
            .expect("version 8's columns");
        assert_eq!(one("SELECT tcp_listen FROM host_raw WHERE ts = 1000"), None);
        conn.execute("INSERT INTO host_1h (ts, udp_max, oom_kills_avg) VALUES (3600000, 3, 1)", [])
            .expect("version 8's machine columns");
        conn.execute("INSERT INTO core_raw (ts, name, iowait, frequency) VALUES (1000, '1', 125, 2400)", [])
            .expect("version 9's cores");
        conn.execute(
            "INSERT INTO sensor_10m (ts, name, celsius_max) VALUES (0, 'nvme Composite #2', 450)",
            [],
        )
        .expect("version 9's sensors");
        conn.execute("INSERT INTO filesystem_1h (ts, name, used_percent_avg) VALUES (0, 'vda1', 415)", [])
            .expect("version 9's filesystems");
    }

    #[test]
    fn every_column_is_named_once_and_the_depth_lists_follow_the_shared_order() {
        for metrics in [host_metrics(), device_metrics(), DISK, INTERFACE, CORE, SENSOR, FILESYSTEM, RUN] {
            for tier in [Tier::Raw, Tier::Minute] {
                let mut columns = columns(metrics, tier);
                let all = columns.len();
                columns.sort();
                columns.dedup();
                assert_eq!(columns.len(), all, "a column named twice");
                let keys = ["cores", "ts", "name", "device", "run_id"];
                assert!(!columns.iter().any(|c| keys.contains(&c.as_str())));
            }
        }
        let depth = shared::depth::memory::MemoryDetail::default();
        let names = series::machine_depth_values(
            &Default::default(),
            &Default::default(),
            &depth,
            &Default::default(),
            &Default::default(),
            &Default::default(),
        )
        .map(|(name, _)| name);
        let stored: Vec<&str> = HOST_DEPTH.iter().chain(HOST_V8).map(|m| m.series).collect();
        assert_eq!(names.to_vec(), stored);
        let disk = series::disk_values(&Default::default()).map(|(name, _)| name);
        assert_eq!(disk.to_vec(), DISK.iter().map(|m| m.series).collect::<Vec<_>>());
        let interface = series::interface_values(&Default::default()).map(|(name, _)| name);
        assert_eq!(interface.to_vec(), INTERFACE.iter().map(|m| m.series).collect::<Vec<_>>());
        let core = series::core_values(&Default::default(), 0).map(|(name, _)| name);
        assert_eq!(core.to_vec(), CORE.iter().map(|m| m.series).collect::<Vec<_>>());
        let filesystem = series::filesystem_values(&Default::default()).map(|(name, _)| name);
        assert_eq!(filesystem.to_vec(), FILESYSTEM.iter().map(|m| m.series).collect::<Vec<_>>());
    }

    #[test]
    fn a_version_1_store_keeps_its_runs_through_the_migration() {
        let mut conn = Connection::open_in_memory().expect("db");
        let v1 = version_1();
        Migrations::new(vec![M::up(&v1)]).to_latest(&mut conn).expect("version 1");
        conn.execute(
            "INSERT INTO runs (run_id, project, pid, started_at, status, cpu_seconds, exit_code)
             VALUES ('7-x', 'p', 7, 1000, 'exited', 12.5, 3)",
            [],
        )
        .expect("a version 1 run");
        migrate(&mut conn).expect("to the latest");
        let (cpu, code, base): (f64, i64, Option<f64>) = conn
            .query_row("SELECT cpu_seconds, exit_code, cpu_base FROM runs WHERE run_id = '7-x'", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .expect("the run is there");
        assert_eq!((cpu, code, base), (12.5, 3, None), "every figure kept; its base unknown");
    }

    #[test]
    fn the_mean_of_per_core_blobs_is_taken_core_by_core() {
        let conn = Connection::open_in_memory().expect("db");
        register_functions(&conn).expect("registered");
        conn.execute_batch("CREATE TABLE t (c BLOB); INSERT INTO t VALUES (x'0A64'), (x'1400'), (NULL);")
            .expect("rows");
        let avg: Vec<u8> = conn.query_row("SELECT cores_avg(c) FROM t", [], |r| r.get(0)).expect("avg");
        assert_eq!(avg, [15, 50], "(10+20)/2, (100+0)/2; NULL rows skipped");
    }

    #[test]
    fn values_follow_their_metric_lists() {
        let sample = HostSample::default();
        assert_eq!(host_values(&sample).len(), host_metrics().len());
        assert_eq!(tree_values(&TreeReading::default()).len(), RUN.len());
        assert_eq!(device_values(&DeviceReading::default()).map(|v| v.len()), Some(device_metrics().len()));
        let mut depth = Depth::default();
        depth.disks.devices = vec![Default::default(); 3];
        depth.interfaces.interfaces = vec![Default::default(); 2];
        assert!((DISKS.rows)(&depth).iter().all(|(_, v)| v.len() == DISK.len()));
        assert!((INTERFACES.rows)(&depth).iter().all(|(_, v)| v.len() == INTERFACE.len()));
        let throttled = |mask| DeviceReading { clock_event_reasons: mask, ..DeviceReading::default() };
        let column = |name: &str| device_metrics().iter().position(|m| m.column == name).expect(name);
        let at = |d: &DeviceReading, name: &str| device_values(d).and_then(|v| v[column(name)]);
        assert_eq!(at(&throttled(Some(0b1)), "throttled"), Some(0.0), "gpu_idle alone is not throttling");
        let power_cap = throttled(Some(0b101));
        assert_eq!(at(&power_cap, "throttled"), Some(100.0), "sw_power_cap is (1, in hundredths)");
        assert_eq!(at(&power_cap, "held_power_cap"), Some(100.0), "its own band");
        assert_eq!(at(&power_cap, "held_hw_thermal"), Some(0.0), "and not the others'");
        assert_eq!(at(&throttled(None), "throttled"), None);
        assert_eq!(at(&throttled(None), "held_power_cap"), None);
        let figures = DeviceReading {
            pstate: Some(2),
            fan_percent: Some(56),
            energy_power_w: Some(249.5),
            ..DeviceReading::default()
        };
        assert_eq!((at(&figures, "pstate"), at(&figures, "fan")), (Some(2.0), Some(56.0)));
        assert_eq!(at(&figures, "energy_power"), Some(2495.0), "W in tenths");
        assert_eq!(at(&figures, "encoder"), None, "not read: no figure");
        assert_eq!(cores_blob(&[12.4, 99.6, 140.0]), [12, 100, 100]);
    }

    #[test]
    fn each_core_sensor_and_filesystem_is_a_row_named_once() {
        use shared::depth::cpu::{CpuModes, Temperature};
        let mut depth = Depth::default();
        let cpu = &mut depth.cpu_detail;
        cpu.per_core = vec![Some(CpuModes { iowait_percent: Some(12.5), ..CpuModes::default() }), None];
        // A third core has a frequency but no modes yet (its first reading).
        cpu.sensors.frequency_mhz = vec![Some(2400.1), None, Some(800.0)];
        cpu.sensors.throttle.core = vec![Some(7)];
        let composite = |c| Temperature { name: "nvme Composite".into(), temperature_c: Some(c) };
        cpu.sensors.temperatures.sensors = vec![composite(41.5), composite(45.0)];
        depth.filesystems.filesystems = vec![shared::depth::disks::Filesystem {
            device: "vda1".into(),
            used_percent: Some(41.46),
            ..Default::default()
        }];

        let cores = (CORES.rows)(&depth);
        let names: Vec<&str> = cores.iter().map(|(n, _)| n.as_ref()).collect();
        assert_eq!(names, ["0", "1", "2"], "the longest per-core list");
        let field = |f: &str| CORE.iter().position(|m| m.series == f).expect(f);
        assert_eq!(cores[0].1[field(core_detail::IOWAIT_PERCENT)], Some(125.0), "tenths");
        assert_eq!(cores[0].1[field(core_detail::FREQUENCY_MHZ)], Some(24001.0), "tenths");
        assert_eq!(cores[0].1[field(core_detail::THROTTLES)], Some(7.0));
        assert_eq!(cores[1].1[field(core_detail::THROTTLES)], None, "no count: no figure, not 0");
        assert!(cores[2].1[..9].iter().all(Option::is_none), "no modes yet");
        assert_eq!(cores[2].1[field(core_detail::FREQUENCY_MHZ)], Some(8000.0));

        let sensors = (SENSORS.rows)(&depth);
        let named: Vec<(&str, Option<f64>)> = sensors.iter().map(|(n, v)| (n.as_ref(), v[0])).collect();
        assert_eq!(named, [("nvme Composite", Some(415.0)), ("nvme Composite #2", Some(450.0))]);
        let filesystems = (FILESYSTEMS.rows)(&depth);
        assert_eq!(filesystems[0].0, "vda1");
        assert_eq!(filesystems[0].1[3], Some(415.0), "41.46 % to the payload's tenth");

        depth.cpu_detail.per_core = vec![None; MAX_CORES_KEPT + 10];
        assert_eq!((CORES.rows)(&depth).len(), MAX_CORES_KEPT, "a large machine's detail is bounded");
    }
}
