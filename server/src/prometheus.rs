//! `GET /metrics`: the newest sample in Prometheus text format, so users with many
//! machines can scrape PerfMon into Prometheus/Grafana.
//!
//! Nothing is kept twice: each scrape encodes the hub's newest host sample and
//! each project's newest sample through a `prometheus-client` collector.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use shared::PerfMetrics;

use crate::hub::Hub;
use crate::sampler::{BYTES_PER_GB as GB, BYTES_PER_MB as MB, HostSample};

/// The exposition text for everything the hub knows now.
pub fn render(hub: &Hub) -> Result<String, std::fmt::Error> {
    let (host, projects) = hub.snapshot();
    let mut registry = Registry::with_prefix("perfmon");
    registry.register_collector(Box::new(Snapshot { host, projects }));
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &registry)?;
    Ok(out)
}

/// One scrape's worth of data.
#[derive(Debug)]
struct Snapshot {
    /// The newest host sample; no host metrics before the first.
    host: Option<HostSample>,
    /// Each tracked project's newest sample.
    projects: Vec<PerfMetrics>,
}

/// A gauge family under construction: values with their label sets.
type Series = Vec<(Vec<(&'static str, String)>, f64)>;

fn gauge(encoder: &mut DescriptorEncoder, name: &str, help: &str, series: Series) -> std::fmt::Result {
    if series.is_empty() {
        return Ok(());
    }
    let mut metric = encoder.encode_descriptor(name, help, None, ConstGauge::new(0.0).metric_type())?;
    for (labels, value) in series {
        // Byte counts derived from rounded GB must print as whole numbers.
        let value = if name.ends_with("_bytes") { value.round() } else { value };
        if labels.is_empty() {
            // No `{}` after the name when there are no labels.
            return ConstGauge::new(value).encode(metric);
        }
        ConstGauge::new(value).encode(metric.encode_family(&labels)?)?;
    }
    Ok(())
}

fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: Vec<(Vec<(&'static str, String)>, u64)>,
) -> std::fmt::Result {
    if series.is_empty() {
        return Ok(());
    }
    let mut metric = encoder.encode_descriptor(name, help, None, ConstCounter::new(0u64).metric_type())?;
    for (labels, value) in series {
        if labels.is_empty() {
            return ConstCounter::new(value).encode(metric);
        }
        ConstCounter::new(value).encode(metric.encode_family(&labels)?)?;
    }
    Ok(())
}

/// A single unlabelled value, if there is one.
fn one(value: Option<f64>) -> Series {
    value.map(|v| vec![(Vec::new(), v)]).unwrap_or_default()
}

impl Collector for Snapshot {
    fn encode(&self, mut e: DescriptorEncoder) -> std::fmt::Result {
        if let Some(h) = &self.host {
            gauge(&mut e, "cpu_usage_percent", "Busy share of all cores, 0-100.", one(h.cpu.percent))?;
            let cores =
                h.cpu.per_core.iter().enumerate().map(|(i, v)| (vec![("core", i.to_string())], *v)).collect();
            gauge(&mut e, "cpu_core_usage_percent", "Busy share of each core, 0-100.", cores)?;
            let load = h
                .cpu
                .load_average
                .map(|l| {
                    vec![
                        (vec![("window", "1m".to_owned())], l.one),
                        (vec![("window", "5m".to_owned())], l.five),
                        (vec![("window", "15m".to_owned())], l.fifteen),
                    ]
                })
                .unwrap_or_default();
            gauge(&mut e, "load_average", "Run-queue load average.", load)?;
            let m = &h.memory;
            gauge(
                &mut e,
                "memory_used_bytes",
                "Memory in use (0.1 GB resolution).",
                one(m.used_gb.map(|v| v * GB)),
            )?;
            gauge(
                &mut e,
                "memory_total_bytes",
                "Installed memory (0.1 GB resolution).",
                one(m.total_gb.map(|v| v * GB)),
            )?;
            gauge(
                &mut e,
                "swap_used_bytes",
                "Swap in use (0.1 GB resolution).",
                one(m.swap_used_gb.map(|v| v * GB)),
            )?;
            gauge(
                &mut e,
                "swap_total_bytes",
                "Swap configured (0.1 GB resolution).",
                one(m.swap_total_gb.map(|v| v * GB)),
            )?;
            let n = &h.network;
            gauge(
                &mut e,
                "network_receive_bytes_per_second",
                "Received over non-loopback interfaces.",
                one(n.rx_bytes_per_s),
            )?;
            gauge(
                &mut e,
                "network_transmit_bytes_per_second",
                "Sent over non-loopback interfaces.",
                one(n.tx_bytes_per_s),
            )?;
            counter(
                &mut e,
                "network_receive_bytes",
                "Received since the interfaces came up.",
                n.rx_total_bytes.map(|v| vec![(Vec::new(), v)]).unwrap_or_default(),
            )?;
            counter(
                &mut e,
                "network_transmit_bytes",
                "Sent since the interfaces came up.",
                n.tx_total_bytes.map(|v| vec![(Vec::new(), v)]).unwrap_or_default(),
            )?;
            let d = &h.disk;
            gauge(
                &mut e,
                "disk_read_bytes_per_second",
                "Read from physical disks.",
                one(d.read_bytes_per_s),
            )?;
            gauge(
                &mut e,
                "disk_write_bytes_per_second",
                "Written to physical disks.",
                one(d.write_bytes_per_s),
            )?;
            gauge(
                &mut e,
                "disk_used_bytes",
                "Used on PerfMon's filesystem (0.1 GB resolution).",
                one(d.used_gb.map(|v| v * GB)),
            )?;
            gauge(
                &mut e,
                "disk_size_bytes",
                "Size of PerfMon's filesystem (0.1 GB resolution).",
                one(d.total_gb.map(|v| v * GB)),
            )?;
            gauge(
                &mut e,
                "gpu_available",
                "1 when NVML answered.",
                one(Some(if h.gpu.available { 1.0 } else { 0.0 })),
            )?;
            let per_gpu = |f: fn(&shared::GpuDevice) -> Option<f64>| -> Series {
                h.gpu
                    .devices
                    .iter()
                    .filter_map(|d| {
                        f(d).map(|v| (vec![("gpu", d.index.to_string()), ("name", d.name.clone())], v))
                    })
                    .collect()
            };
            gauge(&mut e, "gpu_usage_percent", "GPU utilisation, 0-100.", per_gpu(|d| d.percent))?;
            gauge(
                &mut e,
                "gpu_memory_used_bytes",
                "VRAM in use (0.1 GB resolution).",
                per_gpu(|d| d.vram_used_gb.map(|v| v * GB)),
            )?;
            gauge(
                &mut e,
                "gpu_memory_total_bytes",
                "VRAM installed (0.1 GB resolution).",
                per_gpu(|d| d.vram_total_gb.map(|v| v * GB)),
            )?;
            gauge(&mut e, "gpu_temperature_celsius", "GPU core temperature.", per_gpu(|d| d.temperature_c))?;
            gauge(&mut e, "gpu_power_watts", "GPU power draw.", per_gpu(|d| d.power_w))?;
            gauge(
                &mut e,
                "monitor_cpu_percent",
                "PerfMon's own CPU use, % of one core.",
                one(h.monitor.cpu_percent),
            )?;
            gauge(
                &mut e,
                "monitor_resident_bytes",
                "PerfMon's own resident memory.",
                one(h.monitor.rss_mb.map(|v| v * MB)),
            )?;
        }
        let per_project = |f: &dyn Fn(&PerfMetrics) -> Option<f64>| -> Series {
            self.projects
                .iter()
                .filter_map(|p| f(p).map(|v| (vec![("project", p.project.clone())], v)))
                .collect()
        };
        gauge(
            &mut e,
            "run_live",
            "1 while the project's run is running or paused.",
            per_project(&|p| Some(if p.run.status.is_live() { 1.0 } else { 0.0 })),
        )?;
        gauge(
            &mut e,
            "run_cpu_percent",
            "CPU of the run's process tree, share of the machine.",
            per_project(&|p| p.run.process.as_ref().and_then(|r| r.cpu_percent)),
        )?;
        gauge(
            &mut e,
            "run_resident_bytes",
            "Resident memory of the run's process tree.",
            per_project(&|p| p.run.process.as_ref().and_then(|r| r.rss_mb).map(|v| v * MB)),
        )?;
        gauge(
            &mut e,
            "tokens_current_run",
            "Tokens used by the current run.",
            per_project(&|p| p.tokens.available.then_some(p.tokens.current_run as f64)),
        )?;
        let session = self
            .projects
            .iter()
            .filter(|p| p.tokens.available)
            .map(|p| (vec![("project", p.project.clone())], p.tokens.total_session))
            .collect();
        counter(&mut e, "tokens_session", "Tokens used since the server started.", session)?;
        Ok(())
    }
}
