//! `GET /metrics`: the newest sample in Prometheus text format (0.0.4), so users
//! with many machines can scrape PerfMon into Prometheus/Grafana.
//!
//! Values are in base units — bytes, seconds, hertz, joules, watts, °C — and
//! percentages 0–100 (`_percent`, as every family here has been), each family
//! saying so in its HELP. The totals (CPU, memory, network, disk, GPU) are exact
//! readings, never the payload's rounded figures; the machine in depth is the
//! sample's `depth` section as sent (memory detail and filesystems held in GiB
//! to a thousandth and a tenth, so their bytes are to that). A value that cannot
//! be read is absent, never 0: an event without a counter, a disk on its first
//! sample. Nothing is kept twice: each scrape encodes the hub's newest host
//! sample and projects through a fresh registry.
//!
//! Where the sample keeps a kernel counter (OOM kills, thermal throttles, the
//! GPU's energy) it is a `_total` counter; where it keeps only the rate since
//! the previous sample (context switches, page faults, retransmits, perf
//! events), the rate is a gauge named `_per_second`.
//!
//! Output is bounded as the payload is: at most 32 disks, 32 filesystems and 32
//! interfaces, 1,024 cores, 64 temperature sensors and 16 perf events.
//!
//! # Layout
//! - [`render`]: the exposition; [`Exposition`] registers one family per call,
//!   with no series at all when none has a value.
//! - `Exposition::host`: the machine's totals and each GPU; one method per
//!   section of the machine in depth after it; `Exposition::projects`: runs
//!   and tokens.

use prometheus::{
    CounterVec, Encoder, Gauge, GaugeVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder,
};
use shared::depth::cpu::{CpuDetail, CpuModes};
use shared::depth::disks::{Disks, Filesystems};
use shared::depth::memory::{MemoryDetail, Paging};
use shared::depth::network::{Interfaces, Sockets};
use shared::depth::perf::{CPU_CLOCK, PerfEvents};
use shared::depth::pressure::Pressure;

use crate::fleet::series::{LAST_RUN_FAMILIES, last_run};
use crate::hub::{Hub, ProjectSnapshot};
use crate::sampling::{DeviceReading, HostSample, MemoryReading};
use crate::store::FinishedRun;
use crate::units::BYTES_PER_GB;

/// The content type of the text format this module writes.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The exposition text for everything the hub knows now, and each recent
/// project's last finished run (`last_runs`, from the store).
pub fn render(hub: &Hub, last_runs: &[FinishedRun]) -> Result<String, prometheus::Error> {
    let (host, projects) = hub.snapshot();
    let out = Exposition(Registry::new_custom(Some("perfmon".into()), None)?);
    if let Some(host) = &host {
        out.host(host)?;
    }
    out.projects(&projects)?;
    out.last_runs(last_runs)?;
    let mut text = Vec::new();
    TextEncoder::new().encode(&out.0.gather(), &mut text)?;
    String::from_utf8(text).map_err(|err| prometheus::Error::Msg(err.to_string()))
}

/// One scrape's registry.
struct Exposition(Registry);

/// Label values and a value, for one series of a family.
type Series<V> = Vec<(Vec<String>, V)>;

impl Exposition {
    fn gauge(&self, name: &str, help: &str, value: Option<f64>) -> prometheus::Result<()> {
        let Some(value) = value else { return Ok(()) };
        let gauge = Gauge::new(name, help)?;
        gauge.set(value);
        self.0.register(Box::new(gauge))
    }

    fn gauges(&self, name: &str, help: &str, labels: &[&str], series: Series<f64>) -> prometheus::Result<()> {
        if series.is_empty() {
            return Ok(());
        }
        let family = GaugeVec::new(Opts::new(name, help), labels)?;
        for (values, value) in series {
            let values: Vec<&str> = values.iter().map(String::as_str).collect();
            family.get_metric_with_label_values(&values)?.set(value);
        }
        self.0.register(Box::new(family))
    }

    fn counter(&self, name: &str, help: &str, value: Option<u64>) -> prometheus::Result<()> {
        let Some(value) = value else { return Ok(()) };
        let counter = IntCounter::new(name, help)?;
        counter.inc_by(value);
        self.0.register(Box::new(counter))
    }

    fn counters(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
        series: Series<u64>,
    ) -> prometheus::Result<()> {
        if series.is_empty() {
            return Ok(());
        }
        let family = IntCounterVec::new(Opts::new(name, help), labels)?;
        for (values, value) in series {
            let values: Vec<&str> = values.iter().map(String::as_str).collect();
            family.get_metric_with_label_values(&values)?.inc_by(value);
        }
        self.0.register(Box::new(family))
    }

    fn float_counters(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
        series: Series<f64>,
    ) -> prometheus::Result<()> {
        if series.is_empty() {
            return Ok(());
        }
        let family = CounterVec::new(Opts::new(name, help), labels)?;
        for (values, value) in series {
            let values: Vec<&str> = values.iter().map(String::as_str).collect();
            family.get_metric_with_label_values(&values)?.inc_by(value);
        }
        self.0.register(Box::new(family))
    }

    fn host(&self, h: &HostSample) -> prometheus::Result<()> {
        self.gauge("cpu_usage_percent", "Busy share of all cores, 0-100.", h.cpu.percent)?;
        let cores = h.cpu.per_core.iter().enumerate().map(|(i, v)| (vec![i.to_string()], *v)).collect();
        self.gauges("cpu_core_usage_percent", "Busy share of each core, 0-100.", &["core"], cores)?;
        let load = h
            .cpu
            .load
            .map(|[one, five, fifteen]| {
                vec![
                    (vec!["1m".to_owned()], one),
                    (vec!["5m".to_owned()], five),
                    (vec!["15m".to_owned()], fifteen),
                ]
            })
            .unwrap_or_default();
        self.gauges("load_average", "Run-queue load average.", &["window"], load)?;
        let m = h.memory.as_ref().filter(|m| m.total_bytes > 0);
        let bytes = |f: fn(&MemoryReading) -> u64| m.map(|m| f(m) as f64);
        self.gauge("memory_used_bytes", "Memory in use (total minus available).", bytes(|m| m.used_bytes))?;
        self.gauge("memory_total_bytes", "Installed memory.", bytes(|m| m.total_bytes))?;
        self.gauge("swap_used_bytes", "Swap in use.", bytes(|m| m.swap_used_bytes))?;
        self.gauge("swap_total_bytes", "Swap configured.", bytes(|m| m.swap_total_bytes))?;
        let n = h.network.as_ref();
        self.gauge(
            "network_receive_bytes_per_second",
            "Received over non-loopback interfaces.",
            n.map(|n| n.rx_bytes_per_s),
        )?;
        self.gauge(
            "network_transmit_bytes_per_second",
            "Sent over non-loopback interfaces.",
            n.map(|n| n.tx_bytes_per_s),
        )?;
        self.counter(
            "network_receive_bytes_total",
            "Received since the interfaces came up.",
            n.map(|n| n.rx_total_bytes),
        )?;
        self.counter(
            "network_transmit_bytes_total",
            "Sent since the interfaces came up.",
            n.map(|n| n.tx_total_bytes),
        )?;
        let d = &h.disk;
        self.gauge("disk_read_bytes_per_second", "Read from physical disks.", d.read_bytes_per_s)?;
        self.gauge("disk_write_bytes_per_second", "Written to physical disks.", d.write_bytes_per_s)?;
        self.gauge("disk_used_bytes", "Used on PerfMon's filesystem.", d.used_bytes.map(|b| b as f64))?;
        self.gauge("disk_size_bytes", "Size of PerfMon's filesystem.", d.total_bytes.map(|b| b as f64))?;
        let available = h.gpu.unavailable.is_none() && h.gpu.devices.iter().any(|d| d.lost.is_none());
        self.gauge(
            "gpu_available",
            "1 when NVML answered and a device answers.",
            Some(f64::from(u8::from(available))),
        )?;
        let per_gpu = |f: fn(&DeviceReading) -> Option<f64>| -> Series<f64> {
            h.gpu
                .devices
                .iter()
                .filter_map(|d| f(d).map(|v| (vec![d.index.to_string(), d.name.clone()], v)))
                .collect()
        };
        let labels = ["gpu", "name"];
        self.gauges(
            "gpu_device_available",
            "1 while the device answers; 0 when it is lost.",
            &labels,
            per_gpu(|d| Some(if d.lost.is_none() { 1.0 } else { 0.0 })),
        )?;
        self.gauges(
            "gpu_usage_percent",
            "GPU utilisation, 0-100.",
            &labels,
            per_gpu(|d| d.percent.map(f64::from)),
        )?;
        self.gauges(
            "gpu_memory_used_bytes",
            "GPU memory in use.",
            &labels,
            per_gpu(|d| d.memory_used_bytes.map(|b| b as f64)),
        )?;
        self.gauges(
            "gpu_memory_total_bytes",
            "GPU memory installed.",
            &labels,
            per_gpu(|d| d.memory_total_bytes.map(|b| b as f64)),
        )?;
        self.gauges(
            "gpu_temperature_celsius",
            "GPU core temperature.",
            &labels,
            per_gpu(|d| d.temperature_c.map(f64::from)),
        )?;
        self.gauges(
            "gpu_power_watts",
            "GPU power draw.",
            &labels,
            per_gpu(|d| d.power_mw.map(|mw| f64::from(mw) / 1000.0)),
        )?;
        self.gpu_detail(h)?;
        let depth = &h.depth;
        self.cpu_detail(&depth.cpu_detail)?;
        self.pressure(&depth.pressure)?;
        self.memory_detail(&depth.memory_detail)?;
        self.paging(&depth.paging)?;
        self.disks(&depth.disks)?;
        self.filesystems(&depth.filesystems)?;
        self.interfaces(&depth.interfaces)?;
        self.sockets(&depth.sockets)?;
        self.perf_events(&depth.perf_events)?;
        self.gauge(
            "monitor_cpu_percent",
            "PerfMon's own CPU use, share of the machine, 0-100.",
            h.monitor.cpu_percent,
        )?;
        self.gauge(
            "monitor_resident_bytes",
            "PerfMon's own resident memory.",
            h.monitor.rss_bytes.map(|b| b as f64),
        )
    }

    fn projects(&self, projects: &[ProjectSnapshot]) -> prometheus::Result<()> {
        let per_project = |f: &dyn Fn(&ProjectSnapshot) -> Option<f64>| -> Series<f64> {
            projects.iter().filter_map(|p| f(p).map(|v| (vec![p.name.to_string()], v))).collect()
        };
        let labels = ["project"];
        self.gauges(
            "run_live",
            "1 while the project's run is running or paused.",
            &labels,
            per_project(&|p| Some(if p.live { 1.0 } else { 0.0 })),
        )?;
        let live_runs = projects
            .iter()
            .flat_map(|p| p.live_runs.iter().map(|id| (vec![p.name.to_string(), id.clone()], 1.0)))
            .collect();
        self.gauges(
            "run_info",
            "1 for each live run, by its id; absent once it ends (Grafana draws each as an annotation region).",
            &["project", "run_id"],
            live_runs,
        )?;
        self.gauges(
            "run_cpu_percent",
            "CPU of the run's process tree, share of the machine, 0-100.",
            &labels,
            per_project(&|p| p.tree.as_ref().and_then(|t| t.cpu_percent)),
        )?;
        self.gauges(
            "run_resident_bytes",
            "Resident memory of the run's process tree.",
            &labels,
            per_project(&|p| p.tree.as_ref().map(|t| t.rss_bytes as f64)),
        )?;
        self.gauges(
            "run_gpu_memory_bytes",
            "GPU memory held by the run's process tree.",
            &labels,
            per_project(&|p| p.tree.as_ref().and_then(|t| t.gpu_memory_bytes).map(|b| b as f64)),
        )?;
        self.gauges(
            "tokens_current_run",
            "Tokens used by the current run.",
            &labels,
            per_project(&|p| p.tokens.available.then_some(p.tokens.current_run as f64)),
        )?;
        // The run's tokens by kind, where they were read from its transcripts.
        let kinds: Series<f64> = projects
            .iter()
            .filter_map(|p| p.tokens.run.as_ref().map(|d| (p, d)))
            .flat_map(|(p, d)| {
                [
                    ("input", d.input),
                    ("output", d.output),
                    ("cache_write", d.cache_write),
                    ("cache_read", d.cache_read),
                ]
                .map(|(kind, n)| (vec![p.name.to_string(), kind.to_owned()], n as f64))
            })
            .collect();
        self.gauges(
            "tokens_current_run_by_kind",
            "Tokens used by the current run, by kind, as its agent's transcripts record them.",
            &["project", "kind"],
            kinds,
        )?;
        self.gauges(
            "tokens_context_percent",
            "The current run's latest turn's context as a share of its model's window.",
            &labels,
            per_project(&|p| p.tokens.run.as_ref().and_then(|d| d.usage_percent)),
        )?;
        let session = projects
            .iter()
            .filter(|p| p.tokens.available)
            .map(|p| (vec![p.name.to_string()], p.tokens.total_session))
            .collect();
        self.counters("tokens_session_total", "Tokens used since the server started.", &labels, session)
    }
}

/// Each project's last finished run, as remote write pushes it.
impl Exposition {
    fn last_runs(&self, runs: &[FinishedRun]) -> prometheus::Result<()> {
        let figures: Vec<_> = runs.iter().flat_map(last_run).collect();
        for (family, labels, help) in LAST_RUN_FAMILIES {
            let series = figures
                .iter()
                .filter(|(name, _, _)| *name == family)
                .map(|(_, values, value)| (values.iter().map(|(_, v)| v.clone()).collect(), *value))
                .collect();
            self.gauges(family, help, labels, series)?;
        }
        Ok(())
    }
}

/// The GPU figures beyond use and memory, and the machine in depth, one method
/// per section.
impl Exposition {
    fn gpu_detail(&self, h: &HostSample) -> prometheus::Result<()> {
        let labels = ["gpu", "name"];
        let of = |f: &dyn Fn(&DeviceReading) -> Option<f64>| per_gpu(h, f);
        let hertz = |mhz: Option<u32>| mhz.map(|mhz| f64::from(mhz) * 1e6);
        let percent = |p: Option<u32>| p.map(f64::from);
        self.gauges("gpu_sm_clock_hertz", "SM clock now, hertz.", &labels, of(&|d| hertz(d.sm_clock_mhz)))?;
        self.gauges(
            "gpu_sm_clock_max_hertz",
            "Highest SM clock the device runs at, hertz.",
            &labels,
            of(&|d| hertz(d.sm_clock_max_mhz)),
        )?;
        self.gauges(
            "gpu_memory_clock_hertz",
            "GPU memory clock now, hertz.",
            &labels,
            of(&|d| hertz(d.memory_clock_mhz)),
        )?;
        self.gauges(
            "gpu_memory_clock_max_hertz",
            "Highest GPU memory clock, hertz.",
            &labels,
            of(&|d| hertz(d.memory_clock_max_mhz)),
        )?;
        self.gauges(
            "gpu_performance_state",
            "Performance state, 0 (P0, fastest) to 15 (P15, slowest).",
            &labels,
            of(&|d| d.pstate.map(f64::from)),
        )?;
        let reasons = h
            .gpu
            .devices
            .iter()
            .filter_map(|d| d.clock_event_reasons.map(|mask| (d, mask)))
            .flat_map(|(d, mask)| {
                shared::GPU_CLOCK_EVENT_REASONS.iter().enumerate().map(move |(bit, reason)| {
                    let held = mask & (1 << bit) != 0;
                    (
                        vec![d.index.to_string(), d.name.clone(), (*reason).to_owned()],
                        f64::from(u8::from(held)),
                    )
                })
            })
            .collect();
        self.gauges(
            "gpu_throttled",
            "1 while a clock-event reason other than idle holds the clocks down, else 0 (what the store keeps \
             a tick, and its history's share of time throttled).",
            &labels,
            of(&|d| {
                let names = d.clock_event_reasons.map(crate::collect::gpu::clock_event_reason_names);
                shared::series::throttled(names.as_deref())
            }),
        )?;
        self.gauges(
            "gpu_clock_event_reason",
            "1 while this reason holds the clocks below their maximum (NVML's clock-event reasons), else 0.",
            &["gpu", "name", "reason"],
            reasons,
        )?;
        self.gauges(
            "gpu_pcie_receive_bytes_per_second",
            "PCIe traffic into the device, bytes per second (NVML's last 20 ms).",
            &labels,
            of(&|d| d.pcie_rx_bytes_per_s.map(|b| b as f64)),
        )?;
        self.gauges(
            "gpu_pcie_transmit_bytes_per_second",
            "PCIe traffic out of the device, bytes per second (NVML's last 20 ms).",
            &labels,
            of(&|d| d.pcie_tx_bytes_per_s.map(|b| b as f64)),
        )?;
        self.gauges(
            "gpu_pcie_age_seconds",
            "How old the PCIe figures are, seconds, where a slow PCIe query is asked at most every 5 s.",
            &labels,
            of(&|d| d.pcie_age.map(|age| age.as_secs_f64())),
        )?;
        self.gauges(
            "gpu_encoder_usage_percent",
            "Video encoder utilisation, 0-100.",
            &labels,
            of(&|d| percent(d.encoder_percent)),
        )?;
        self.gauges(
            "gpu_decoder_usage_percent",
            "Video decoder utilisation, 0-100.",
            &labels,
            of(&|d| percent(d.decoder_percent)),
        )?;
        self.gauges(
            "gpu_fan_speed_percent",
            "Fan speed (the first fan), percent of its maximum, 0-100.",
            &labels,
            of(&|d| percent(d.fan_percent)),
        )?;
        self.gauges(
            "gpu_memory_controller_usage_percent",
            "Time spent reading or writing device memory, 0-100.",
            &labels,
            of(&|d| percent(d.memory_controller_percent)),
        )?;
        self.gauges(
            "gpu_energy_power_watts",
            "Power from the energy counter over the last sample interval, watts.",
            &labels,
            of(&|d| d.energy_power_w),
        )?;
        self.float_counters(
            "gpu_energy_joules_total",
            "Energy used since the driver loaded, joules (NVML's energy counter; it restarts with the driver).",
            &labels,
            of(&|d| d.energy_mj.map(|mj| mj as f64 / 1000.0)),
        )
    }

    fn cpu_detail(&self, c: &CpuDetail) -> prometheus::Result<()> {
        let machine = c
            .modes
            .iter()
            .flat_map(modes)
            .filter_map(|(mode, value)| Some((vec![mode.to_owned()], value?)))
            .collect();
        self.gauges(
            "cpu_mode_percent",
            "Share of all cores' time in each mode since the previous sample, 0-100; the modes sum to 100 \
             (guest time counted once, in guest).",
            &["mode"],
            machine,
        )?;
        let per_core = c
            .per_core
            .iter()
            .enumerate()
            .filter_map(|(cpu, m)| Some((cpu, (*m)?)))
            .flat_map(|(cpu, m)| {
                modes(&m)
                    .into_iter()
                    .filter_map(move |(mode, value)| Some((vec![cpu.to_string(), mode.to_owned()], value?)))
            })
            .collect();
        self.gauges(
            "cpu_core_mode_percent",
            "Share of each core's time in each mode since the previous sample, 0-100.",
            &["cpu", "mode"],
            per_core,
        )?;
        self.gauge(
            "context_switches_per_second",
            "Context switches per second since the previous sample, machine-wide (/proc/stat ctxt; vmstat's cs).",
            c.context_switches_per_s,
        )?;
        self.gauge(
            "interrupts_per_second",
            "Interrupts serviced per second since the previous sample, machine-wide (/proc/stat intr; vmstat's in).",
            c.interrupts_per_s,
        )?;
        self.gauge(
            "forks_per_second",
            "Processes and threads created per second since the previous sample (/proc/stat processes).",
            c.forks_per_s,
        )?;
        self.gauge(
            "procs_running",
            "Tasks runnable at the sample (/proc/stat procs_running; vmstat's r).",
            c.procs_running.map(|n| n as f64),
        )?;
        self.gauge(
            "procs_blocked",
            "Tasks blocked on I/O at the sample (/proc/stat procs_blocked; vmstat's b).",
            c.procs_blocked.map(|n| n as f64),
        )?;
        let s = &c.sensors;
        self.gauge(
            "cpu_sensors_age_seconds",
            "How old the frequency, temperature and throttle figures are, seconds (read every 5 s).",
            seconds(s.age_ms),
        )?;
        self.gauges(
            "cpu_frequency_hertz",
            "Each core's current frequency, hertz (cpufreq, else /proc/cpuinfo).",
            &["cpu"],
            indexed(&s.frequency_mhz, |mhz| mhz * 1e6),
        )?;
        let temperatures = s
            .temperatures
            .sensors
            .iter()
            .enumerate()
            .filter_map(|(i, t)| Some((vec![i.to_string(), t.name.clone()], t.temperature_c?)))
            .collect();
        self.gauges(
            "sensor_temperature_celsius",
            "Each temperature sensor, degrees Celsius (hwmon chip and label as sensors names them, else the \
             thermal zone's type), by its place in the kernel's order.",
            &["index", "sensor"],
            temperatures,
        )?;
        self.counters(
            "cpu_core_throttles_total",
            "Times each core was throttled for its own temperature since boot (thermal_throttle core_throttle_count).",
            &["cpu"],
            indexed(&s.throttle.core, |n| n),
        )?;
        self.counters(
            "cpu_package_throttles_total",
            "Times each core's package was throttled since boot (package_throttle_count; the cores of one \
             package repeat its count).",
            &["cpu"],
            indexed(&s.throttle.package, |n| n),
        )
    }

    fn pressure(&self, p: &Pressure) -> prometheus::Result<()> {
        let resources = [("cpu", p.cpu), ("io", p.io), ("memory", p.memory)];
        let of = |f: fn(&shared::depth::pressure::ResourcePressure) -> Option<f64>| -> Series<f64> {
            resources
                .iter()
                .filter_map(|(name, r)| Some((vec![(*name).to_owned()], f(r.as_ref()?)?)))
                .collect()
        };
        let labels = ["resource"];
        self.gauges(
            "pressure_some_avg10_percent",
            "Share of the last 10 s in which some task stalled on the resource (PSI some avg10), 0-100.",
            &labels,
            of(|r| r.some_avg10_percent),
        )?;
        self.gauges(
            "pressure_some_stall_percent",
            "Share of wall time since the previous sample in which some task stalled on the resource \
             (the rate of PSI's some total), 0-100.",
            &labels,
            of(|r| r.some_stall_percent),
        )?;
        self.gauges(
            "pressure_full_avg10_percent",
            "Share of the last 10 s in which all non-idle tasks stalled on the resource at once (PSI full avg10), 0-100.",
            &labels,
            of(|r| r.full_avg10_percent),
        )?;
        self.gauges(
            "pressure_full_stall_percent",
            "Share of wall time since the previous sample in which all non-idle tasks stalled on the resource \
             at once (the rate of PSI's full total), 0-100.",
            &labels,
            of(|r| r.full_stall_percent),
        )
    }

    fn memory_detail(&self, m: &MemoryDetail) -> prometheus::Result<()> {
        for (name, help, gb) in [
            (
                "memory_available_bytes",
                "Memory that could be given to programs without swapping (MemAvailable)",
                m.available_gb,
            ),
            ("memory_free_bytes", "Memory in no use at all (MemFree)", m.free_gb),
            (
                "memory_cached_bytes",
                "Page cache and reclaimable slab (Cached + SReclaimable; free -w's cache)",
                m.cached_gb,
            ),
            ("memory_buffers_bytes", "Block-device buffers (Buffers)", m.buffers_gb),
            ("memory_dirty_bytes", "Modified pages waiting to be written to disk (Dirty)", m.dirty_gb),
            ("memory_writeback_bytes", "Pages being written to disk now (Writeback)", m.writeback_gb),
            ("memory_shared_bytes", "Shared memory and tmpfs (Shmem)", m.shared_gb),
            ("memory_slab_bytes", "The kernel's object caches (Slab)", m.slab_gb),
            (
                "memory_slab_reclaimable_bytes",
                "The reclaimable part of the slab (SReclaimable)",
                m.slab_reclaimable_gb,
            ),
        ] {
            self.gauge(name, &format!("{help}, bytes to a thousandth of a GiB."), bytes(gb))?;
        }
        let count = |n: Option<u64>| n.map(|n| n as f64);
        self.gauge(
            "hugepages_pool_pages",
            "Huge pages in the pool (HugePages_Total).",
            count(m.hugepages_total),
        )?;
        self.gauge(
            "hugepages_free_pages",
            "Huge pages in the pool not yet given out (HugePages_Free).",
            count(m.hugepages_free),
        )?;
        self.gauge(
            "hugepages_reserved_pages",
            "Huge pages promised to mappings but not yet faulted in (HugePages_Rsvd).",
            count(m.hugepages_reserved),
        )?;
        self.gauge(
            "hugepage_size_bytes",
            "Size of a default huge page (Hugepagesize), bytes.",
            count(m.hugepage_size_bytes),
        )
    }

    fn paging(&self, p: &Paging) -> prometheus::Result<()> {
        self.gauge(
            "paging_page_in_bytes_per_second",
            "Bytes read in from block devices per second since the previous sample (vmstat pgpgin).",
            p.page_in_bytes_per_s,
        )?;
        self.gauge(
            "paging_page_out_bytes_per_second",
            "Bytes written out to block devices per second since the previous sample (vmstat pgpgout).",
            p.page_out_bytes_per_s,
        )?;
        self.gauge(
            "paging_swap_in_pages_per_second",
            "Pages brought in from swap per second since the previous sample (vmstat pswpin).",
            p.swap_in_pages_per_s,
        )?;
        self.gauge(
            "paging_swap_out_pages_per_second",
            "Pages written out to swap per second since the previous sample (vmstat pswpout).",
            p.swap_out_pages_per_s,
        )?;
        self.gauge(
            "paging_page_faults_per_second",
            "Page faults per second since the previous sample, minor and major (vmstat pgfault).",
            p.page_faults_per_s,
        )?;
        self.gauge(
            "paging_major_faults_per_second",
            "Major page faults (that waited for a disk read) per second since the previous sample (vmstat pgmajfault).",
            p.major_faults_per_s,
        )?;
        self.counter(
            "oom_kills_total",
            "Processes the OOM killer has killed since boot (vmstat oom_kill).",
            p.oom_kills,
        )
    }

    fn disks(&self, d: &Disks) -> prometheus::Result<()> {
        let labels = ["device"];
        let of = |f: &dyn Fn(&shared::depth::disks::DiskDevice) -> Option<f64>| -> Series<f64> {
            d.devices.iter().filter_map(|disk| Some((vec![disk.name.clone()], f(disk)?))).collect()
        };
        let secs = |ms: Option<f64>| ms.map(|ms| ms / 1000.0);
        self.gauges(
            "disk_device_read_bytes_per_second",
            "Bytes read from each physical disk per second since the previous sample (iostat's rkB/s in bytes).",
            &labels,
            of(&|disk| disk.read_bytes_per_s),
        )?;
        self.gauges(
            "disk_device_write_bytes_per_second",
            "Bytes written to each physical disk per second since the previous sample (iostat's wkB/s in bytes).",
            &labels,
            of(&|disk| disk.write_bytes_per_s),
        )?;
        self.gauges(
            "disk_device_reads_per_second",
            "Reads completed per second (IOPS; iostat's r/s).",
            &labels,
            of(&|disk| disk.read_iops),
        )?;
        self.gauges(
            "disk_device_writes_per_second",
            "Writes completed per second (IOPS; iostat's w/s).",
            &labels,
            of(&|disk| disk.write_iops),
        )?;
        self.gauges(
            "disk_device_read_await_seconds",
            "Mean time a read took, queue included, seconds (iostat's r_await); absent when none completed.",
            &labels,
            of(&|disk| secs(disk.read_await_ms)),
        )?;
        self.gauges(
            "disk_device_write_await_seconds",
            "Mean time a write took, queue included, seconds (iostat's w_await); absent when none completed.",
            &labels,
            of(&|disk| secs(disk.write_await_ms)),
        )?;
        self.gauges(
            "disk_device_await_seconds",
            "Mean time a read or write took, queue included, seconds (iostat's await); absent when none completed.",
            &labels,
            of(&|disk| secs(disk.await_ms)),
        )?;
        self.gauges(
            "disk_device_busy_percent",
            "Share of the interval with a request in flight, 0-100 (iostat's %util).",
            &labels,
            of(&|disk| disk.util_percent),
        )?;
        self.gauges(
            "disk_device_in_flight_requests",
            "Requests issued to the disk and not yet completed, at the sample.",
            &labels,
            of(&|disk| Some(disk.in_flight as f64)),
        )
    }

    fn filesystems(&self, f: &Filesystems) -> prometheus::Result<()> {
        let labels = ["device", "fstype"];
        let of = |v: &dyn Fn(&shared::depth::disks::Filesystem) -> Option<f64>| -> Series<f64> {
            f.filesystems
                .iter()
                .filter_map(|fs| Some((vec![fs.device.clone(), fs.fs_type.clone()], v(fs)?)))
                .collect()
        };
        self.gauge(
            "filesystems_age_seconds",
            "How old the filesystem figures are, seconds (read every 5 s).",
            seconds(f.age_ms),
        )?;
        self.gauges(
            "filesystem_size_bytes",
            "Size of each filesystem on a real block device (df's 1B-blocks), bytes to a tenth of a GiB.",
            &labels,
            of(&|fs| bytes(fs.size_gb)),
        )?;
        self.gauges(
            "filesystem_used_bytes",
            "Space in use (df's Used), bytes to a tenth of a GiB.",
            &labels,
            of(&|fs| bytes(fs.used_gb)),
        )?;
        self.gauges(
            "filesystem_free_bytes",
            "Space an unprivileged user may still fill (df's Avail), bytes to a tenth of a GiB.",
            &labels,
            of(&|fs| bytes(fs.free_gb)),
        )?;
        self.gauges(
            "filesystem_used_percent",
            "Used over used plus free, 0-100 (df's Use%, before df rounds it up).",
            &labels,
            of(&|fs| fs.used_percent),
        )
    }

    fn interfaces(&self, i: &Interfaces) -> prometheus::Result<()> {
        let labels = ["interface"];
        let of = |f: &dyn Fn(&shared::depth::network::Interface) -> Option<f64>| -> Series<f64> {
            i.interfaces.iter().filter_map(|n| Some((vec![n.name.clone()], f(n)?))).collect()
        };
        for (name, what, f) in [
            (
                "receive_bytes",
                "Bytes received",
                (|n| n.rx_bytes_per_s) as fn(&shared::depth::network::Interface) -> Option<f64>,
            ),
            ("transmit_bytes", "Bytes sent", |n| n.tx_bytes_per_s),
            ("receive_packets", "Packets received", |n| n.rx_packets_per_s),
            ("transmit_packets", "Packets sent", |n| n.tx_packets_per_s),
            ("receive_errors", "Receive errors", |n| n.rx_errors_per_s),
            ("transmit_errors", "Send errors", |n| n.tx_errors_per_s),
            ("receive_drops", "Received packets dropped", |n| n.rx_drops_per_s),
            ("transmit_drops", "Packets to send dropped", |n| n.tx_drops_per_s),
        ] {
            self.gauges(
                &format!("network_interface_{name}_per_second"),
                &format!("{what} per second on each interface but loopback since the previous sample."),
                &labels,
                of(&f),
            )?;
        }
        Ok(())
    }

    fn sockets(&self, s: &Sockets) -> prometheus::Result<()> {
        let states = [
            ("established", s.tcp_established),
            ("syn_sent", s.tcp_syn_sent),
            ("syn_recv", s.tcp_syn_recv),
            ("fin_wait1", s.tcp_fin_wait1),
            ("fin_wait2", s.tcp_fin_wait2),
            ("time_wait", s.tcp_time_wait),
            ("close", s.tcp_close),
            ("close_wait", s.tcp_close_wait),
            ("last_ack", s.tcp_last_ack),
            ("listen", s.tcp_listen),
            ("closing", s.tcp_closing),
        ]
        .into_iter()
        .filter_map(|(state, n)| Some((vec![state.to_owned()], n? as f64)))
        .collect();
        self.gauge(
            "sockets_age_seconds",
            "How old the socket figures are, seconds (read every 5 s).",
            seconds(s.age_ms),
        )?;
        self.gauges(
            "tcp_connections",
            "TCP sockets in each state, IPv4 and IPv6 together (as ss -tan lists them).",
            &["state"],
            states,
        )?;
        self.gauge(
            "udp_sockets",
            "UDP sockets, IPv4 and IPv6 (as ss -uan lists them).",
            s.udp.map(|n| n as f64),
        )?;
        self.gauge(
            "tcp_retransmits_per_second",
            "TCP segments retransmitted per second over the 5 s between socket readings (RetransSegs).",
            s.tcp_retransmits_per_s,
        )
    }

    fn perf_events(&self, p: &PerfEvents) -> prometheus::Result<()> {
        let labels = ["event"];
        let available =
            p.events.iter().map(|(name, e)| (vec![name.clone()], f64::from(u8::from(e.available)))).collect();
        self.gauges(
            "perf_event_available",
            "1 when the perf event is counted on every online CPU, else 0 (the JSON sample's perf_events says why).",
            &labels,
            available,
        )?;
        let counted =
            |f: &dyn Fn(&shared::depth::perf::PerfEvent) -> Option<f64>, clock: bool| -> Series<f64> {
                p.events
                    .iter()
                    .filter(|(name, e)| e.available && (name.as_str() == CPU_CLOCK) == clock)
                    .filter_map(|(name, e)| Some((vec![name.clone()], f(e)?)))
                    .collect()
            };
        self.gauges(
            "perf_events_per_second",
            "Each counted perf event per second over the last interval, all CPUs (scaled for multiplexing as \
             perf stat does); an event not counted is absent.",
            &labels,
            counted(&|e| e.per_s, false),
        )?;
        let clock = counted(&|e| e.per_s, true).into_iter().next().map(|(_, msec_per_s)| msec_per_s / 1000.0);
        self.gauge(
            "perf_cpu_clock_seconds_per_second",
            "CPU time the counters ran per second, all CPUs (perf's cpu-clock; about the online CPUs' count).",
            clock,
        )?;
        let running = p
            .events
            .iter()
            .filter(|(_, e)| e.available)
            .filter_map(|(name, e)| Some((vec![name.clone()], e.running_percent?)))
            .collect();
        self.gauges(
            "perf_event_running_percent",
            "Least share of the interval, over CPUs, that each counter ran on the hardware, 0-100 (below 100 \
             the kernel multiplexed it and the rate is scaled up).",
            &labels,
            running,
        )?;
        self.gauge(
            "perf_instructions_per_cycle",
            "Instructions per cycle over the last perf interval (instructions / cycles).",
            p.ipc,
        )?;
        self.gauge(
            "perf_interval_seconds",
            "Length of the interval the perf figures cover, seconds, by the counters' clock.",
            p.interval_ms.map(|ms| ms / 1000.0),
        )?;
        self.gauge("perf_cpus", "Online CPUs the perf counters are open on.", p.cpus.map(f64::from))?;
        self.gauge(
            "perf_age_seconds",
            "How long before this sample the perf counters were read, seconds (read every 5 s).",
            seconds(p.age_ms),
        )
    }
}

/// Each mode of `m` by its label value, in `/proc/stat`'s order.
fn modes(m: &CpuModes) -> [(&'static str, Option<f64>); 9] {
    [
        ("user", m.user_percent),
        ("nice", m.nice_percent),
        ("system", m.system_percent),
        ("idle", m.idle_percent),
        ("iowait", m.iowait_percent),
        ("irq", m.irq_percent),
        ("softirq", m.softirq_percent),
        ("steal", m.steal_percent),
        ("guest", m.guest_percent),
    ]
}

/// A per-core list as series labelled by core number, each value through `f`;
/// a core without one has no series.
fn indexed<T: Copy, V>(values: &[Option<T>], f: impl Fn(T) -> V) -> Series<V> {
    values.iter().enumerate().filter_map(|(i, v)| Some((vec![i.to_string()], f((*v)?)))).collect()
}

/// Each GPU's `f`, labelled by index and name; a device without one has no series.
fn per_gpu(h: &HostSample, f: &dyn Fn(&DeviceReading) -> Option<f64>) -> Series<f64> {
    h.gpu.devices.iter().filter_map(|d| Some((vec![d.index.to_string(), d.name.clone()], f(d)?))).collect()
}

/// A size the sample holds in GB (GiB), in bytes.
fn bytes(gb: Option<f64>) -> Option<f64> {
    gb.map(|gb| (gb * BYTES_PER_GB).round())
}

/// Milliseconds as seconds.
fn seconds(ms: Option<u64>) -> Option<f64> {
    ms.map(|ms| ms as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::hub::perfwatch::tests::depth;
    use crate::sampling::GpuReading;

    fn busy_gpu() -> DeviceReading {
        DeviceReading {
            index: 0,
            name: "NVIDIA H100".into(),
            percent: Some(90),
            sm_clock_mhz: Some(1410),
            sm_clock_max_mhz: Some(1980),
            memory_clock_mhz: Some(1593),
            memory_clock_max_mhz: Some(2619),
            pstate: Some(2),
            clock_event_reasons: Some(0x44),
            pcie_rx_bytes_per_s: Some(2_097_152),
            pcie_tx_bytes_per_s: Some(1_048_576),
            pcie_age: Some(Duration::from_millis(1500)),
            encoder_percent: Some(12),
            decoder_percent: Some(0),
            fan_percent: Some(56),
            memory_controller_percent: Some(78),
            energy_mj: Some(1_234_567),
            energy_power_w: Some(250.5),
            ..DeviceReading::default()
        }
    }

    fn sample() -> HostSample {
        HostSample {
            gpu: GpuReading { devices: vec![busy_gpu()], ..GpuReading::default() },
            depth: depth(),
            ..HostSample::default()
        }
    }

    /// The exposition of `sample` alone.
    fn exposition(sample: &HostSample) -> String {
        let out = Exposition(Registry::new_custom(Some("perfmon".into()), None).expect("a registry"));
        out.host(sample).expect("registers");
        let mut text = Vec::new();
        TextEncoder::new().encode(&out.0.gather(), &mut text).expect("encodes");
        String::from_utf8(text).expect("UTF-8")
    }

    /// `name{labels}` → value.
    fn series(text: &str) -> Vec<(String, f64)> {
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| {
                let (key, value) = l.rsplit_once(' ').expect("a sample line");
                (key.to_owned(), value.parse().expect("a number"))
            })
            .collect()
    }

    fn get(text: &str, key: &str) -> Option<f64> {
        series(text).into_iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    #[test]
    fn every_family_of_the_machine_in_depth_has_help_type_and_base_units() {
        let text = exposition(&sample());
        for family in [
            "cpu_mode_percent",
            "cpu_core_mode_percent",
            "interrupts_per_second",
            "cpu_frequency_hertz",
            "sensor_temperature_celsius",
            "memory_cached_bytes",
            "hugepages_pool_pages",
            "paging_page_faults_per_second",
            "disk_device_write_await_seconds",
            "filesystem_size_bytes",
            "network_interface_receive_drops_per_second",
            "tcp_connections",
            "udp_sockets",
            "perf_event_available",
            "perf_events_per_second",
            "perf_cpu_clock_seconds_per_second",
            "gpu_sm_clock_hertz",
            "gpu_clock_event_reason",
            "gpu_energy_joules_total",
        ] {
            let name = format!("perfmon_{family}");
            assert!(text.contains(&format!("# HELP {name} ")), "{name} has HELP:\n{text}");
            assert!(text.contains(&format!("# TYPE {name} ")), "{name} has TYPE:\n{text}");
        }
        // Every family, not only those listed.
        let typed = text.lines().filter(|l| l.starts_with("# TYPE ")).count();
        let helped = text.lines().filter(|l| l.starts_with("# HELP ")).count();
        assert_eq!(typed, helped);

        assert_eq!(get(&text, r#"perfmon_cpu_mode_percent{mode="user"}"#), Some(30.0));
        assert_eq!(get(&text, r#"perfmon_cpu_core_mode_percent{cpu="1",mode="iowait"}"#), Some(1.5));
        assert_eq!(get(&text, r#"perfmon_cpu_mode_percent{mode="guest"}"#), None, "unread, not 0");
        assert_eq!(get(&text, r#"perfmon_cpu_frequency_hertz{cpu="0"}"#), Some(2.6e9));
        assert_eq!(get(&text, r#"perfmon_cpu_frequency_hertz{cpu="1"}"#), None);
        assert_eq!(
            get(&text, r#"perfmon_sensor_temperature_celsius{index="1",sensor="coretemp Package id 0"}"#),
            Some(51.0)
        );
        assert_eq!(get(&text, "perfmon_memory_cached_bytes"), Some((37u64 << 28) as f64));
        assert_eq!(get(&text, "perfmon_paging_swap_out_pages_per_second"), Some(0.5));
        assert_eq!(get(&text, r#"perfmon_disk_device_write_await_seconds{device="vda"}"#), Some(0.00075));
        assert_eq!(
            get(&text, r#"perfmon_disk_device_read_await_seconds{device="vda"}"#),
            None,
            "no read completed"
        );
        assert_eq!(
            get(&text, r#"perfmon_filesystem_used_bytes{device="vda1",fstype="ext4"}"#),
            Some((81u64 << 29) as f64)
        );
        assert_eq!(
            get(&text, r#"perfmon_network_interface_receive_bytes_per_second{interface="eth0"}"#),
            Some(1024.0)
        );
        assert_eq!(
            get(&text, r#"perfmon_network_interface_transmit_drops_per_second{interface="eth0"}"#),
            None
        );
        assert_eq!(get(&text, r#"perfmon_tcp_connections{state="listen"}"#), Some(3.0));
        assert_eq!(get(&text, r#"perfmon_tcp_connections{state="fin_wait2"}"#), Some(1.0));
        assert_eq!(get(&text, "perfmon_udp_sockets"), Some(2.0));
        assert!(!text.contains("mount") && !text.contains("=\"/"), "no mount point, no path: {text}");
    }

    #[test]
    fn perf_events_leave_out_what_is_not_counted_and_say_so_by_availability() {
        let text = exposition(&sample());
        assert_eq!(get(&text, r#"perfmon_perf_event_available{event="cycles"}"#), Some(0.0));
        assert_eq!(get(&text, r#"perfmon_perf_events_per_second{event="cycles"}"#), None, "absent, not 0");
        assert_eq!(get(&text, r#"perfmon_perf_event_running_percent{event="cycles"}"#), None);
        assert_eq!(get(&text, r#"perfmon_perf_event_available{event="context-switches"}"#), Some(1.0));
        assert_eq!(get(&text, r#"perfmon_perf_events_per_second{event="context-switches"}"#), Some(206.0));
        assert_eq!(
            get(&text, r#"perfmon_perf_events_per_second{event="cpu-clock"}"#),
            None,
            "a time, not a count"
        );
        assert_eq!(get(&text, "perfmon_perf_cpu_clock_seconds_per_second"), Some(0.209), "209 msec/s");
        assert_eq!(get(&text, "perfmon_perf_instructions_per_cycle"), None);
        assert_eq!(get(&text, "perfmon_perf_interval_seconds"), Some(5.0015));
        assert_eq!(get(&text, "perfmon_perf_age_seconds"), Some(1.2));
        let perf: Vec<&str> = text.lines().filter(|l| l.starts_with("perfmon_perf_")).collect();
        assert!(perf.iter().all(|l| !l.contains("reason")), "reasons belong to the JSON: {perf:?}");
    }

    #[test]
    fn gpu_clocks_throttling_pcie_and_energy_in_base_units() {
        let text = exposition(&sample());
        let gpu = |family: &str| get(&text, &format!(r#"perfmon_{family}{{gpu="0",name="NVIDIA H100"}}"#));
        assert_eq!(gpu("gpu_sm_clock_hertz"), Some(1.41e9));
        assert_eq!(gpu("gpu_memory_clock_max_hertz"), Some(2.619e9));
        assert_eq!(gpu("gpu_performance_state"), Some(2.0));
        assert_eq!(gpu("gpu_pcie_receive_bytes_per_second"), Some(2_097_152.0));
        assert_eq!(gpu("gpu_pcie_age_seconds"), Some(1.5));
        assert_eq!(gpu("gpu_fan_speed_percent"), Some(56.0));
        assert_eq!(gpu("gpu_memory_controller_usage_percent"), Some(78.0));
        assert_eq!(gpu("gpu_energy_power_watts"), Some(250.5));
        assert_eq!(gpu("gpu_energy_joules_total"), Some(1234.567), "millijoules as joules, a counter");
        assert!(text.contains("# TYPE perfmon_gpu_energy_joules_total counter"));
        let reason = |r: &str| {
            get(
                &text,
                &format!(r#"perfmon_gpu_clock_event_reason{{gpu="0",name="NVIDIA H100",reason="{r}"}}"#),
            )
        };
        // 0x44: bits 2 and 6.
        assert_eq!((reason("sw_power_cap"), reason("hw_thermal_slowdown")), (Some(1.0), Some(1.0)));
        assert_eq!(reason("gpu_idle"), Some(0.0), "every reason has a series while the mask is read");
        let unread = HostSample {
            gpu: GpuReading {
                devices: vec![DeviceReading { index: 0, name: "X".into(), ..DeviceReading::default() }],
                ..GpuReading::default()
            },
            ..HostSample::default()
        };
        let text = exposition(&unread);
        assert!(!text.contains("gpu_clock_event_reason") && !text.contains("gpu_sm_clock"), "{text}");
    }

    #[test]
    fn counters_the_sample_keeps_are_totals_and_rates_are_gauges() {
        let mut sample = sample();
        sample.depth.paging.oom_kills = Some(3);
        sample.depth.cpu_detail.context_switches_per_s = Some(1200.5);
        sample.depth.cpu_detail.sensors.throttle.core = vec![Some(7), None];
        let text = exposition(&sample);
        assert!(text.contains("# TYPE perfmon_oom_kills_total counter"), "{text}");
        assert_eq!(get(&text, "perfmon_oom_kills_total"), Some(3.0));
        assert!(text.contains("# TYPE perfmon_context_switches_per_second gauge"));
        assert_eq!(get(&text, "perfmon_context_switches_per_second"), Some(1200.5));
        assert_eq!(get(&text, r#"perfmon_cpu_core_throttles_total{cpu="0"}"#), Some(7.0));
        assert_eq!(get(&text, r#"perfmon_cpu_core_throttles_total{cpu="1"}"#), None);
    }

    #[test]
    fn an_empty_depth_adds_no_series() {
        let text = exposition(&HostSample::default());
        for absent in
            ["cpu_mode", "pressure_", "memory_cached", "disk_device", "filesystem_", "tcp_", "perf_"]
        {
            assert!(!text.contains(&format!("perfmon_{absent}")), "{absent}: {text}");
        }
    }
}
