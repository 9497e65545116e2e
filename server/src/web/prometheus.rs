//! `GET /metrics`: the newest sample in Prometheus text format (0.0.4), so users
//! with many machines can scrape PerfMon into Prometheus/Grafana.
//!
//! Values are exact (bytes, percent, watts as read), never the payload's rounded
//! figures; a value that cannot be read is absent, never 0. Nothing is kept
//! twice: each scrape encodes the hub's newest host sample and projects through a
//! fresh registry.

use prometheus::{Encoder, Gauge, GaugeVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder};

use crate::hub::{Hub, ProjectSnapshot};
use crate::sampling::{DeviceReading, HostSample, MemoryReading};

/// The content type of the text format this module writes.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The exposition text for everything the hub knows now.
pub fn render(hub: &Hub) -> Result<String, prometheus::Error> {
    let (host, projects) = hub.snapshot();
    let out = Exposition(Registry::new_custom(Some("perfmon".into()), None)?);
    if let Some(host) = &host {
        out.host(host)?;
    }
    out.projects(&projects)?;
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
        self.gauges(
            "run_cpu_percent",
            "CPU of the run's process tree, share of the machine, 0-100.",
            &labels,
            per_project(&|p| p.tree.as_ref().map(|t| t.cpu_percent)),
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
        let session = projects
            .iter()
            .filter(|p| p.tokens.available)
            .map(|p| (vec![p.name.to_string()], p.tokens.total_session))
            .collect();
        self.counters("tokens_session_total", "Tokens used since the server started.", &labels, session)
    }
}
