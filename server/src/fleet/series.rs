//! What the store keeps of each tick, as remote-write series: the names,
//! labels and base units `/metrics` uses for the same figures, so a Grafana
//! dashboard or an alert rule reads a pushed machine as it reads a scraped
//! one (a test holds the two to each other).
//!
//! The push is built from the store's raw tier, never from the live sample,
//! so what a receiver missed and gets later is exactly what it would have got
//! live. The store keeps fewer figures than `/metrics` shows (no tokens), and
//! its temperature sensors and filesystems are not pushed (`/metrics` labels
//! them by a sensor's place and a filesystem's type, which the store does not
//! keep); those are scrape-only.
//!
//! # Layout
//! - `Push` and the lists: which stored column becomes which series, and its
//!   unit's factor.
//! - [`Outcomes`]: each project's last finished run, as of a tick.
//! - [`Batch`]: a request's series, added to tick by tick; [`BaseLabels`]:
//!   `host` and the user's labels every series carries.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;

use crate::store::schema::{self, Metric};
use crate::store::{FinishedRun, RawBatch, RawTick};
use crate::units::{BYTES_PER_GB as GIB, BYTES_PER_MB as MIB};

use super::wire::{Label, Sample, TimeSeries, WriteRequest};

/// Prometheus's staleness marker: a NaN with this payload ends a series at
/// its timestamp (VictoriaMetrics reads it too).
const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

/// The prefix of every series, as `/metrics` has it.
const PREFIX: &str = "perfmon_";

/// The most projects whose runs are exported: those whose runs ended last.
/// Bounds the run series' cardinality (a handful of series each).
pub const MAX_PROJECTS: usize = 32;

/// The label names PerfMon sets itself; a user's label may not take one.
pub const RESERVED_LABELS: &[&str] = &[
    "host",
    "project",
    "run_id",
    "gpu",
    "name",
    "device",
    "interface",
    "core",
    "cpu",
    "mode",
    "resource",
    "state",
    "event",
    "kind",
    "window",
    "reason",
];

/// How one stored figure is pushed: its series (without the prefix), the
/// label that tells it from its family's others, and the factor from the
/// store's series unit to the series' base unit (GiB to bytes, MHz to hertz).
#[derive(Debug, Clone, Copy)]
struct Push {
    column: &'static str,
    name: &'static str,
    label: Option<(&'static str, &'static str)>,
    unit: f64,
}

const fn push(column: &'static str, name: &'static str, unit: f64) -> Push {
    Push { column, name, label: None, unit }
}

const fn labelled(
    column: &'static str,
    name: &'static str,
    label: (&'static str, &'static str),
    unit: f64,
) -> Push {
    Push { column, name, label: Some(label), unit }
}

/// The machine's figures. The machine-wide GPU mean and sums are left out:
/// each device is pushed.
const HOST: &[Push] = &[
    push("cpu", "cpu_usage_percent", 1.0),
    push("mem_used", "memory_used_bytes", GIB),
    push("mem_total", "memory_total_bytes", GIB),
    push("swap_used", "swap_used_bytes", GIB),
    push("swap_total", "swap_total_bytes", GIB),
    push("net_rx", "network_receive_bytes_per_second", 1.0),
    push("net_tx", "network_transmit_bytes_per_second", 1.0),
    push("disk_read", "disk_read_bytes_per_second", 1.0),
    push("disk_write", "disk_write_bytes_per_second", 1.0),
    push("disk_used", "disk_used_bytes", GIB),
    push("disk_total", "disk_size_bytes", GIB),
    labelled("load1", "load_average", ("window", "1m"), 1.0),
    push("monitor_cpu", "monitor_cpu_percent", 1.0),
    push("monitor_rss", "monitor_resident_bytes", MIB),
    labelled("cpu_user", "cpu_mode_percent", ("mode", "user"), 1.0),
    labelled("cpu_nice", "cpu_mode_percent", ("mode", "nice"), 1.0),
    labelled("cpu_system", "cpu_mode_percent", ("mode", "system"), 1.0),
    labelled("cpu_iowait", "cpu_mode_percent", ("mode", "iowait"), 1.0),
    labelled("cpu_irq", "cpu_mode_percent", ("mode", "irq"), 1.0),
    labelled("cpu_softirq", "cpu_mode_percent", ("mode", "softirq"), 1.0),
    labelled("cpu_steal", "cpu_mode_percent", ("mode", "steal"), 1.0),
    labelled("cpu_guest", "cpu_mode_percent", ("mode", "guest"), 1.0),
    push("ctx_switches", "context_switches_per_second", 1.0),
    push("interrupts", "interrupts_per_second", 1.0),
    push("procs_running", "procs_running", 1.0),
    push("procs_blocked", "procs_blocked", 1.0),
    labelled("psi_cpu_some", "pressure_some_stall_percent", ("resource", "cpu"), 1.0),
    labelled("psi_io_some", "pressure_some_stall_percent", ("resource", "io"), 1.0),
    labelled("psi_io_full", "pressure_full_stall_percent", ("resource", "io"), 1.0),
    labelled("psi_mem_some", "pressure_some_stall_percent", ("resource", "memory"), 1.0),
    labelled("psi_mem_full", "pressure_full_stall_percent", ("resource", "memory"), 1.0),
    push("mem_available", "memory_available_bytes", GIB),
    push("mem_cached", "memory_cached_bytes", GIB),
    push("mem_buffers", "memory_buffers_bytes", GIB),
    push("mem_dirty", "memory_dirty_bytes", GIB),
    push("mem_slab", "memory_slab_bytes", GIB),
    push("page_in", "paging_page_in_bytes_per_second", 1.0),
    push("page_out", "paging_page_out_bytes_per_second", 1.0),
    push("swap_in", "paging_swap_in_pages_per_second", 1.0),
    push("swap_out", "paging_swap_out_pages_per_second", 1.0),
    push("page_faults", "paging_page_faults_per_second", 1.0),
    push("major_faults", "paging_major_faults_per_second", 1.0),
    labelled("tcp_established", "tcp_connections", ("state", "established"), 1.0),
    labelled("tcp_time_wait", "tcp_connections", ("state", "time_wait"), 1.0),
    push("tcp_retransmits", "tcp_retransmits_per_second", 1.0),
    push("perf_ipc", "perf_instructions_per_cycle", 1.0),
    labelled("perf_cycles", "perf_events_per_second", ("event", "cycles"), 1.0),
    labelled("perf_instructions", "perf_events_per_second", ("event", "instructions"), 1.0),
    labelled("perf_cache_misses", "perf_events_per_second", ("event", "cache-misses"), 1.0),
    labelled("perf_branch_misses", "perf_events_per_second", ("event", "branch-misses"), 1.0),
    labelled("perf_context_switches", "perf_events_per_second", ("event", "context-switches"), 1.0),
    labelled("perf_page_faults", "perf_events_per_second", ("event", "page-faults"), 1.0),
    // Schema version 8's.
    labelled("cpu_idle", "cpu_mode_percent", ("mode", "idle"), 1.0),
    push("forks", "forks_per_second", 1.0),
    labelled("psi_cpu_full", "pressure_full_stall_percent", ("resource", "cpu"), 1.0),
    push("mem_free", "memory_free_bytes", GIB),
    push("mem_writeback", "memory_writeback_bytes", GIB),
    push("mem_shared", "memory_shared_bytes", GIB),
    push("mem_slab_reclaimable", "memory_slab_reclaimable_bytes", GIB),
    push("hugepages_total", "hugepages_pool_pages", 1.0),
    push("hugepages_free", "hugepages_free_pages", 1.0),
    push("hugepages_reserved", "hugepages_reserved_pages", 1.0),
    push("oom_kills", "oom_kills_total", 1.0),
    labelled("tcp_syn_sent", "tcp_connections", ("state", "syn_sent"), 1.0),
    labelled("tcp_syn_recv", "tcp_connections", ("state", "syn_recv"), 1.0),
    labelled("tcp_fin_wait1", "tcp_connections", ("state", "fin_wait1"), 1.0),
    labelled("tcp_fin_wait2", "tcp_connections", ("state", "fin_wait2"), 1.0),
    labelled("tcp_close", "tcp_connections", ("state", "close"), 1.0),
    labelled("tcp_close_wait", "tcp_connections", ("state", "close_wait"), 1.0),
    labelled("tcp_last_ack", "tcp_connections", ("state", "last_ack"), 1.0),
    labelled("tcp_listen", "tcp_connections", ("state", "listen"), 1.0),
    labelled("tcp_closing", "tcp_connections", ("state", "closing"), 1.0),
    push("udp", "udp_sockets", 1.0),
    labelled("perf_cache_refs", "perf_events_per_second", ("event", "cache-references"), 1.0),
    labelled("perf_branches", "perf_events_per_second", ("event", "branches"), 1.0),
    labelled("perf_migrations", "perf_events_per_second", ("event", "cpu-migrations"), 1.0),
    push("perf_cpu_clock", "perf_cpu_clock_seconds_per_second", 1e-3),
];

/// Each GPU device's figures (labels `gpu`, `name`).
const DEVICE: &[Push] = &[
    push("percent", "gpu_usage_percent", 1.0),
    push("mem_used", "gpu_memory_used_bytes", GIB),
    push("mem_total", "gpu_memory_total_bytes", GIB),
    push("temp", "gpu_temperature_celsius", 1.0),
    push("power", "gpu_power_watts", 1.0),
    push("sm_clock", "gpu_sm_clock_hertz", 1e6),
    push("mem_clock", "gpu_memory_clock_hertz", 1e6),
    push("pcie_rx", "gpu_pcie_receive_bytes_per_second", 1.0),
    push("pcie_tx", "gpu_pcie_transmit_bytes_per_second", 1.0),
    push("throttled", "gpu_throttled", 1.0),
    push("sm_clock_max", "gpu_sm_clock_max_hertz", 1e6),
    push("mem_clock_max", "gpu_memory_clock_max_hertz", 1e6),
    push("pstate", "gpu_performance_state", 1.0),
    push("encoder", "gpu_encoder_usage_percent", 1.0),
    push("decoder", "gpu_decoder_usage_percent", 1.0),
    push("fan", "gpu_fan_speed_percent", 1.0),
    push("mem_ctrl", "gpu_memory_controller_usage_percent", 1.0),
    push("energy_power", "gpu_energy_power_watts", 1.0),
    // Each reason but `gpu_idle` (not stored: an idle GPU is not held back).
    labelled("held_apps_clocks", "gpu_clock_event_reason", ("reason", "applications_clocks_setting"), 1.0),
    labelled("held_power_cap", "gpu_clock_event_reason", ("reason", "sw_power_cap"), 1.0),
    labelled("held_hw_slowdown", "gpu_clock_event_reason", ("reason", "hw_slowdown"), 1.0),
    labelled("held_sync_boost", "gpu_clock_event_reason", ("reason", "sync_boost"), 1.0),
    labelled("held_sw_thermal", "gpu_clock_event_reason", ("reason", "sw_thermal_slowdown"), 1.0),
    labelled("held_hw_thermal", "gpu_clock_event_reason", ("reason", "hw_thermal_slowdown"), 1.0),
    labelled("held_power_brake", "gpu_clock_event_reason", ("reason", "hw_power_brake_slowdown"), 1.0),
    labelled("held_display_clock", "gpu_clock_event_reason", ("reason", "display_clock_setting"), 1.0),
];

/// Each disk's figures (label `device`).
const DISK: &[Push] = &[
    push("read_bytes", "disk_device_read_bytes_per_second", 1.0),
    push("write_bytes", "disk_device_write_bytes_per_second", 1.0),
    push("read_iops", "disk_device_reads_per_second", 1.0),
    push("write_iops", "disk_device_writes_per_second", 1.0),
    push("await", "disk_device_await_seconds", 1e-3),
    push("util", "disk_device_busy_percent", 1.0),
];

/// Each interface's figures (label `interface`).
const INTERFACE: &[Push] = &[
    push("rx_bytes", "network_interface_receive_bytes_per_second", 1.0),
    push("tx_bytes", "network_interface_transmit_bytes_per_second", 1.0),
    push("rx_packets", "network_interface_receive_packets_per_second", 1.0),
    push("tx_packets", "network_interface_transmit_packets_per_second", 1.0),
    push("rx_errors", "network_interface_receive_errors_per_second", 1.0),
    push("tx_errors", "network_interface_transmit_errors_per_second", 1.0),
    push("rx_drops", "network_interface_receive_drops_per_second", 1.0),
    push("tx_drops", "network_interface_transmit_drops_per_second", 1.0),
];

/// Each core's detail (label `cpu`, as `/metrics` has it).
const CORE: &[Push] = &[
    labelled("user", "cpu_core_mode_percent", ("mode", "user"), 1.0),
    labelled("nice", "cpu_core_mode_percent", ("mode", "nice"), 1.0),
    labelled("system", "cpu_core_mode_percent", ("mode", "system"), 1.0),
    labelled("idle", "cpu_core_mode_percent", ("mode", "idle"), 1.0),
    labelled("iowait", "cpu_core_mode_percent", ("mode", "iowait"), 1.0),
    labelled("irq", "cpu_core_mode_percent", ("mode", "irq"), 1.0),
    labelled("softirq", "cpu_core_mode_percent", ("mode", "softirq"), 1.0),
    labelled("steal", "cpu_core_mode_percent", ("mode", "steal"), 1.0),
    labelled("guest", "cpu_core_mode_percent", ("mode", "guest"), 1.0),
    push("frequency", "cpu_frequency_hertz", 1e6),
    push("throttles", "cpu_core_throttles_total", 1.0),
    push("package_throttles", "cpu_package_throttles_total", 1.0),
];

/// A run tree's figures, summed over a project's live runs (label `project`).
const RUN: &[Push] = &[
    push("cpu", "run_cpu_percent", 1.0),
    push("rss", "run_resident_bytes", MIB),
    push("gpu_mem", "run_gpu_memory_bytes", GIB),
];

/// A list's entries with the place of their column among `metrics`; built
/// once. A column the store does not have is a bug the tests catch, and is
/// left out rather than pushed wrong.
struct Resolved {
    host: Vec<Resolve>,
    device: Vec<Resolve>,
    /// Each kind of [`schema::NAMED`], in its order, with the label its
    /// device's name goes in; `None` for a kind not pushed (sensors and
    /// filesystems: `/metrics` labels them by what the store does not keep,
    /// the sensor's place and the filesystem's type).
    named: Vec<Option<(&'static str, Vec<Resolve>)>>,
    run: Vec<Resolve>,
}

/// A list's entry with the place of its column among the stored metrics.
type Resolve = (usize, Metric, Push);

fn resolve(list: &[Push], metrics: &[Metric]) -> Vec<Resolve> {
    list.iter()
        .filter_map(|p| metrics.iter().position(|m| m.column == p.column).map(|i| (i, metrics[i], *p)))
        .collect()
}

fn resolved() -> &'static Resolved {
    static RESOLVED: OnceLock<Resolved> = OnceLock::new();
    RESOLVED.get_or_init(|| Resolved {
        host: resolve(HOST, schema::host_metrics()),
        device: resolve(DEVICE, schema::device_metrics()),
        named: schema::NAMED
            .iter()
            .map(|kind| {
                let pushed = match kind.table {
                    t if t == schema::DISKS.table => Some(("device", DISK)),
                    t if t == schema::INTERFACES.table => Some(("interface", INTERFACE)),
                    t if t == schema::CORES.table => Some(("cpu", CORE)),
                    _ => None,
                };
                pushed.map(|(label, list)| (label, resolve(list, kind.metrics)))
            })
            .collect(),
        run: resolve(RUN, schema::RUN),
    })
}

/// A stored figure in its series' base unit.
fn base(metric: &Metric, push: &Push, stored: f64) -> f64 {
    // Bytes are stored as bytes: no round trip through GiB.
    if push.unit == metric.divisor {
        stored
    } else if push.unit > 1.0 {
        // To whole bytes and hertz, as /metrics gives them.
        (stored / metric.divisor * push.unit).round()
    } else {
        stored / metric.divisor * push.unit
    }
}

/// A series' labels besides `host`, the user's and its name.
pub type Labels = Vec<(&'static str, String)>;

/// A series of a request: its family (without the prefix) and labels.
type Key = (&'static str, Labels);

/// `host` and the user's labels, which every series carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseLabels(Vec<Label>);

impl BaseLabels {
    /// `host` and `extra` (checked by the configuration: valid, not reserved).
    pub fn new(host: &str, extra: &[(String, String)]) -> BaseLabels {
        let mut labels = vec![Label { name: "host".into(), value: host.into() }];
        labels.extend(extra.iter().map(|(name, value)| Label { name: name.clone(), value: value.clone() }));
        BaseLabels(labels)
    }
}

/// What the run series carry from tick to tick: each project's last
/// finished run as of a tick, the ends not yet reached (the tick loop moves
/// it on before adding each tick), and the runs live at the tick before (so
/// an ended run's series are marked stale at once, rather than lingering in
/// queries for Prometheus's 5-minute lookback), with each project's run
/// figures sent then.
#[derive(Debug, Clone, Default)]
pub struct Outcomes {
    latest: BTreeMap<String, FinishedRun>,
    waiting: Vec<FinishedRun>,
    live: BTreeSet<(String, String)>,
    figures: BTreeSet<(&'static str, String)>,
}

impl Outcomes {
    /// Takes runs that ended (oldest first, as the store lists them); each
    /// counts from its end on. A run already taken, or older than its
    /// project's last, changes nothing.
    pub fn add(&mut self, runs: Vec<FinishedRun>) {
        for run in runs {
            let known = |r: &FinishedRun| r.run_id == run.run_id;
            if self.waiting.iter().any(known) || self.latest.get(&run.project).is_some_and(known) {
                continue;
            }
            self.waiting.push(run);
        }
        self.waiting.sort_by_key(|r| r.ended_at);
    }

    /// Makes the runs ended by `ts` their projects' last, keeping the
    /// [`MAX_PROJECTS`] projects whose runs ended last.
    pub fn advance_to(&mut self, ts: i64) {
        let due = self.waiting.iter().take_while(|r| r.ended_at <= ts).count();
        for run in self.waiting.drain(..due) {
            if self.latest.get(&run.project).is_none_or(|last| last.ended_at <= run.ended_at) {
                self.latest.insert(run.project.clone(), run);
            }
        }
        while self.latest.len() > MAX_PROJECTS {
            let oldest = self.latest.values().min_by_key(|r| r.ended_at).map(|r| r.project.clone());
            if let Some(project) = oldest {
                self.latest.remove(&project);
            }
        }
    }

    /// The projects with a last run.
    fn projects(&self) -> impl Iterator<Item = &String> {
        self.latest.keys()
    }
}

/// A request's series, added to tick by tick.
#[derive(Debug)]
pub struct Batch<'a> {
    base: &'a BaseLabels,
    series: Vec<TimeSeries>,
    index: HashMap<Key, usize>,
    samples: usize,
}

impl<'a> Batch<'a> {
    /// An empty batch whose series carry `base`.
    pub fn new(base: &'a BaseLabels) -> Batch<'a> {
        Batch { base, series: Vec::new(), index: HashMap::new(), samples: 0 }
    }

    /// Samples added so far.
    pub fn samples(&self) -> usize {
        self.samples
    }

    /// The request.
    pub fn into_request(self) -> WriteRequest {
        WriteRequest { timeseries: self.series }
    }

    fn add(&mut self, name: &'static str, labels: Labels, ts: i64, value: f64) {
        if value.is_finite() {
            self.push(name, labels, ts, value);
        }
    }

    /// Ends a series at `ts` (a staleness marker).
    fn end(&mut self, name: &'static str, labels: Labels, ts: i64) {
        self.push(name, labels, ts, f64::from_bits(STALE_NAN));
    }

    fn push(&mut self, name: &'static str, labels: Labels, ts: i64, value: f64) {
        let key = (name, labels);
        let i = match self.index.get(&key) {
            Some(&i) => i,
            None => {
                let mut labels: Vec<Label> = self.base.0.clone();
                labels.push(Label { name: "__name__".into(), value: format!("{PREFIX}{name}") });
                labels.extend(key.1.iter().map(|(n, v)| Label { name: (*n).into(), value: v.clone() }));
                labels.sort_by(|a, b| a.name.cmp(&b.name));
                self.series.push(TimeSeries { labels, samples: Vec::new() });
                self.index.insert(key, self.series.len() - 1);
                self.series.len() - 1
            }
        };
        self.series[i].samples.push(Sample { value, timestamp: ts });
        self.samples += 1;
    }

    fn figures(
        &mut self,
        list: &[Resolve],
        values: &[Option<f64>],
        labels: &[(&'static str, String)],
        ts: i64,
    ) {
        for (i, metric, push) in list {
            if let Some(stored) = values.get(*i).copied().flatten() {
                let mut all = labels.to_vec();
                all.extend(push.label.map(|(n, v)| (n, v.to_owned())));
                self.add(push.name, all, ts, base(metric, push, stored));
            }
        }
    }

    /// Adds every figure of `tick` (its GPUs named from `batch`), and each
    /// project's runs: the live ones from the tick, the last finished one
    /// from `outcomes`, which must have been moved on to the tick.
    pub fn tick(&mut self, batch: &RawBatch, tick: &RawTick, outcomes: &mut Outcomes) {
        let r = resolved();
        let ts = tick.ts;
        self.figures(&r.host, &tick.host, &[], ts);
        for (core, used) in tick.cores.iter().enumerate() {
            self.add("cpu_core_usage_percent", vec![("core", core.to_string())], ts, f64::from(*used));
        }
        for (device, values) in &tick.devices {
            let name = batch.gpu_names.get(device).cloned().unwrap_or_default();
            self.figures(&r.device, values, &[("gpu", device.to_string()), ("name", name)], ts);
        }
        for (pushed, rows) in r.named.iter().zip(&tick.named) {
            let Some((label, list)) = pushed else { continue };
            for (name, values) in rows {
                self.figures(list, values, &[(label, name.clone())], ts);
            }
        }
        self.runs(tick, outcomes);
    }

    fn runs(&mut self, tick: &RawTick, outcomes: &mut Outcomes) {
        let ts = tick.ts;
        let live: BTreeSet<(String, String)> =
            tick.runs.iter().map(|r| (r.project.clone(), r.run_id.clone())).collect();
        for (project, run_id) in outcomes.live.difference(&live) {
            self.end("run_info", vec![("project", project.clone()), ("run_id", run_id.clone())], ts);
        }
        outcomes.live = live;
        let mut live: BTreeMap<&str, Vec<Option<f64>>> = BTreeMap::new();
        for run in &tick.runs {
            self.add(
                "run_info",
                vec![("project", run.project.clone()), ("run_id", run.run_id.clone())],
                ts,
                1.0,
            );
            let sums = live.entry(run.project.as_str()).or_insert_with(|| vec![None; run.values.len()]);
            for (sum, value) in sums.iter_mut().zip(&run.values) {
                if let Some(v) = value {
                    *sum = Some(sum.unwrap_or(0.0) + v);
                }
            }
        }
        // Each project's run figures sent now; those sent at the tick before
        // and not now end here (its runs ended, or a figure stopped being
        // read). A figure never sent gets no marker.
        let figures: BTreeSet<(&'static str, String)> = live
            .iter()
            .flat_map(|(project, sums)| {
                resolved()
                    .run
                    .iter()
                    .filter(|(i, _, _)| sums.get(*i).copied().flatten().is_some())
                    .map(|(_, _, push)| (push.name, (*project).to_owned()))
            })
            .collect();
        for (family, project) in outcomes.figures.difference(&figures) {
            self.end(family, vec![("project", project.clone())], ts);
        }
        outcomes.figures = figures;
        let project = |p: &str| vec![("project", p.to_owned())];
        for (name, sums) in &live {
            self.add("run_live", project(name), ts, 1.0);
            self.figures(&resolved().run, sums, &project(name), ts);
        }
        for name in outcomes.projects().filter(|p| !live.contains_key(p.as_str())) {
            self.add("run_live", project(name), ts, 0.0);
        }
        for run in outcomes.latest.values() {
            for (name, labels, value) in last_run(run) {
                self.add(name, labels, ts, value);
            }
        }
    }
}

/// The families of a project's last finished run: name (without the
/// prefix), its labels' names, and its help, as `/metrics` shows them.
pub const LAST_RUN_FAMILIES: [(&str, &[&str], &str); 4] = [
    (
        "run_last_exit_code",
        &["project"],
        "Exit code of the project's last finished run (128 + the signal when one killed it, as shells say).",
    ),
    ("run_last_duration_seconds", &["project"], "Wall time of the project's last finished run."),
    (
        "run_last_end_timestamp_seconds",
        &["project"],
        "When the project's last finished run ended, unix seconds.",
    ),
    (
        "run_last_verdict_share_percent",
        &["project", "kind"],
        "Share of the last finished run's wall time by what it went to (the verdict's bar and GPU \
         shares), 0-100; absent for a run too short or too little measured to judge.",
    ),
];

/// A finished run's series, as [`LAST_RUN_FAMILIES`] lists them: (family,
/// labels, value). The exit code is absent when it was never known (a run
/// lost with a server that died).
pub fn last_run(run: &FinishedRun) -> Vec<(&'static str, Labels, f64)> {
    let project = || vec![("project", run.project.clone())];
    let seconds = |ms: i64| ms as f64 / 1000.0;
    let mut out = Vec::new();
    if let Some(code) = run.exit_code.or(run.signal.map(|s| 128 + s)) {
        out.push(("run_last_exit_code", project(), f64::from(code)));
    }
    out.push(("run_last_duration_seconds", project(), seconds(run.ended_at - run.started_at)));
    out.push(("run_last_end_timestamp_seconds", project(), seconds(run.ended_at)));
    let verdict = run.verdict.as_ref().filter(|v| v.judged);
    for share in verdict.into_iter().flat_map(|v| v.shares.iter().chain(&v.gpu_shares)) {
        let labels = vec![("project", run.project.clone()), ("kind", share.kind.key().to_owned())];
        out.push(("run_last_verdict_share_percent", labels, share.percent));
    }
    out
}

#[cfg(test)]
mod tests;
