//! What the panel shows, as plain display values computed from one sample.
//!
//! The panel renders from a [`PanelView`], and the hook compares views to decide
//! whether a new sample changes anything on screen: two samples with equal views
//! differ by less than the display precision, and cause no re-render.

use shared::{PerfMetrics, RunStatus};

use super::format::{self, NOT_AVAILABLE};
use super::time::{elapsed, epoch_seconds};

/// One GPU device as shown.
#[derive(Debug, Clone, PartialEq)]
pub struct GpuDeviceView {
    /// The product name.
    pub name: String,
    /// Why the device does not answer (`GPU is lost`): the row is greyed and says so.
    pub lost: Option<String>,
    /// `40.0 % · 10.0 / 80.0 GB · 50 °C · 300 W`; a field the driver does not
    /// support reads `n/s`.
    pub figures: String,
    /// `not supported by this GPU: temperature, power`, when some are not.
    pub unsupported: Option<String>,
}

/// What `n/s` stands for in a device's figures.
pub const NOT_SUPPORTED: &str = "n/s";

/// The GPU section as shown.
#[derive(Debug, Clone, PartialEq)]
pub enum GpuView {
    /// No data yet.
    Waiting,
    /// No device answers: the server's reason, and any devices NVML lists.
    Unavailable(String, Vec<GpuDeviceView>),
    /// Aggregate and per-device values.
    Available {
        /// Mean utilisation text.
        percent: String,
        /// Mean utilisation for the bar.
        bar: Option<f64>,
        /// Summed VRAM text.
        vram: String,
        /// Each device.
        devices: Vec<GpuDeviceView>,
    },
}

/// Everything the panel shows for one sample, at display precision.
#[derive(Debug, Clone, PartialEq)]
pub struct PanelView {
    /// The run is running or paused.
    pub live: bool,
    /// `(current run, session)` once the agent has reported tokens.
    pub tokens: Option<(u64, u64)>,
    /// Where the tokens come from, and from transcripts their burn rate and
    /// context use: `Claude Code · 1,200/min · context 41 % of 200,000`.
    pub token_note: Option<String>,
    /// The latest turn's context as a share of its model's window.
    pub token_context_percent: Option<f64>,
    /// CPU text and bar.
    pub cpu: String,
    /// CPU bar value.
    pub cpu_bar: Option<f64>,
    /// Per-core use, whole percents, for the mini bars.
    pub cores: Vec<u8>,
    /// `load 0.52 · 0.48 · 0.40`.
    pub load: Option<String>,
    /// `used / total GB`.
    pub memory: String,
    /// Memory percent text.
    pub memory_percent: Option<String>,
    /// Memory bar value.
    pub memory_bar: Option<f64>,
    /// `swap 0.0 / 2.0 GB`, when there is swap.
    pub swap: Option<String>,
    /// The GPU section.
    pub gpu: GpuView,
    /// `↓ 1.2 MB/s  ↑ 340 B/s`.
    pub network: String,
    /// `R 0 B/s · W 12.5 KB/s`.
    pub disk_io: String,
    /// `used / total GB` of PerfMon's filesystem.
    pub disk_space: String,
    /// Disk space bar value.
    pub disk_bar: Option<f64>,
    /// `Running`, `Paused`, …
    pub run_status: String,
    /// `CPU-bound (last 30 s)`: where a live run's time went lately, once the
    /// server has measured 30 s of it.
    pub run_state: Option<String>,
    /// `pid 12345`, while the run is live.
    pub run_pid: Option<String>,
    /// The run's label, when it has one.
    pub run_label: Option<String>,
    /// Whether the run that ended failed (a non-zero exit, or a signal).
    pub run_failed: bool,
    /// Time since the run started, by the server's clock.
    pub run_elapsed: Option<String>,
    /// `12.5 % CPU · 300.2 MB`, the run's process tree.
    pub run_usage: Option<String>,
    /// Why the run's GPU memory is unknown, for the run line's tooltip.
    pub run_gpu_note: Option<String>,
    /// `PerfMon itself: 0.1 % CPU · 9.5 MB`.
    pub monitor: Option<String>,
}

impl PanelView {
    /// The view of `metrics`; every value "Not available" without one.
    pub fn new(metrics: Option<&PerfMetrics>) -> Self {
        let Some(m) = metrics else {
            return Self::empty();
        };
        let memory_bar = format::round1(m.memory.percent);
        let disk_bar = match (m.disk.used_gb, m.disk.total_gb) {
            (Some(used), Some(total)) if total > 0.0 => format::round1(Some(used * 100.0 / total)),
            _ => None,
        };
        PanelView {
            live: m.run.status.is_live(),
            tokens: m.tokens.available.then_some((m.tokens.current_run, m.tokens.total_session)),
            token_note: m.tokens.available.then(|| token_note(&m.tokens)).flatten(),
            token_context_percent: m.tokens.run.as_ref().and_then(|d| d.usage_percent),
            cpu: format::percent(m.cpu.percent),
            cpu_bar: format::round1(m.cpu.percent),
            cores: m.cpu.per_core.iter().map(|c| c.clamp(0.0, 100.0).round() as u8).collect(),
            load: m.cpu.load_average.map(|l| format!("load {:.2} · {:.2} · {:.2}", l.one, l.five, l.fifteen)),
            memory: format::used_of_total_gb(m.memory.used_gb, m.memory.total_gb),
            memory_percent: m.memory.percent.map(|p| format::percent(Some(p))),
            memory_bar,
            swap: match (m.memory.swap_used_gb, m.memory.swap_total_gb) {
                (Some(used), Some(total)) if total > 0.0 => {
                    Some(format!("swap {}", format::used_of_total_gb(Some(used), Some(total))))
                }
                _ => None,
            },
            gpu: gpu_view(m),
            network: pair("↓", m.network.rx_bytes_per_s, "  ↑", m.network.tx_bytes_per_s),
            disk_io: pair("R", m.disk.read_bytes_per_s, " · W", m.disk.write_bytes_per_s),
            disk_space: format::used_of_total_gb(m.disk.used_gb, m.disk.total_gb),
            disk_bar,
            run_status: run_text(&m.run),
            run_state: m.run.state.map(super::why::live_state),
            run_pid: m.run.status.is_live().then_some(m.run.pid).flatten().map(|pid| format!("pid {pid}")),
            run_label: m.run.label.clone().filter(|l| !l.is_empty()),
            run_failed: m.run.status == RunStatus::Crashed
                || (!m.run.status.is_live()
                    && (m.run.signal.is_some() || m.run.exit_code.is_some_and(|c| c != 0))),
            run_elapsed: m
                .run
                .status
                .is_live()
                .then(|| {
                    let started = m.run.started_at.as_ref().and_then(|t| epoch_seconds(t.as_str()))?;
                    let now = epoch_seconds(m.timestamp.as_str())?;
                    Some(elapsed(now - started))
                })
                .flatten(),
            run_usage: m.run.process.as_ref().map(|p| {
                let mut text = format!("{} CPU · {}", format::percent(p.cpu_percent), mb(p.rss_mb));
                match (p.gpu_memory_gb, &p.gpu_memory_reason) {
                    (Some(gpu), _) => text.push_str(&format!(" · {gpu:.1} GB VRAM")),
                    (None, Some(_)) => text.push_str(" · VRAM unknown"),
                    (None, None) => {}
                }
                text
            }),
            run_gpu_note: m.run.process.as_ref().and_then(|p| p.gpu_memory_reason.clone()),
            monitor: match (m.monitor.cpu_percent, m.monitor.rss_mb) {
                (None, None) => None,
                (cpu, rss) => {
                    Some(format!("PerfMon itself: {} CPU · {}", format::small_percent(cpu), mb(rss)))
                }
            },
        }
    }

    fn empty() -> Self {
        let na = || NOT_AVAILABLE.to_owned();
        PanelView {
            live: false,
            tokens: None,
            token_note: None,
            token_context_percent: None,
            cpu: na(),
            cpu_bar: None,
            cores: Vec::new(),
            load: None,
            memory: na(),
            memory_percent: None,
            memory_bar: None,
            swap: None,
            gpu: GpuView::Waiting,
            network: na(),
            disk_io: na(),
            disk_space: na(),
            disk_bar: None,
            run_status: na(),
            run_state: None,
            run_pid: None,
            run_label: None,
            run_failed: false,
            run_elapsed: None,
            run_usage: None,
            run_gpu_note: None,
            monitor: None,
        }
    }
}

fn gpu_view(m: &PerfMetrics) -> GpuView {
    let devices = m.gpu.devices.iter().map(device_view).collect();
    if !m.gpu.available {
        return GpuView::Unavailable(
            m.gpu.reason.clone().unwrap_or_else(|| "no GPU data".to_owned()),
            devices,
        );
    }
    GpuView::Available {
        percent: format::percent(m.gpu.percent),
        bar: format::round1(m.gpu.percent),
        vram: format::used_of_total_gb(m.gpu.vram_used_gb, m.gpu.vram_total_gb),
        devices,
    }
}

fn device_view(d: &shared::GpuDevice) -> GpuDeviceView {
    if !d.available {
        let reason = d.reason.clone().unwrap_or_else(|| "does not answer".to_owned());
        return GpuDeviceView {
            name: d.name.clone(),
            lost: Some(reason),
            figures: String::new(),
            unsupported: None,
        };
    }
    let unsupported = |field: &str| d.not_supported.iter().any(|f| f == field);
    let figure = |fields: &[&str], text: String| {
        if fields.iter().any(|f| unsupported(f)) { NOT_SUPPORTED.to_owned() } else { text }
    };
    let figures = [
        figure(&["percent"], format::percent(d.percent)),
        figure(&["vram_used_gb", "vram_total_gb"], format::used_of_total_gb(d.vram_used_gb, d.vram_total_gb)),
        figure(&["temperature_c"], format::celsius(d.temperature_c)),
        figure(&["power_w"], format::watts(d.power_w)),
    ]
    .join(" · ");
    let names: Vec<&str> = d
        .not_supported
        .iter()
        .map(|f| match f.as_str() {
            "percent" => "utilisation",
            "vram_used_gb" | "vram_total_gb" => "memory",
            "temperature_c" => "temperature",
            "power_w" => "power",
            other => other,
        })
        .collect();
    let mut names_unique = names.clone();
    names_unique.dedup();
    GpuDeviceView {
        name: d.name.clone(),
        lost: None,
        figures,
        unsupported: (!names_unique.is_empty())
            .then(|| format!("not supported by this GPU: {}", names_unique.join(", "))),
    }
}

/// Two labelled rates on one line; plain "Not available" when neither is known.
fn pair(first: &str, a: Option<f64>, second: &str, b: Option<f64>) -> String {
    if a.is_none() && b.is_none() {
        return NOT_AVAILABLE.to_owned();
    }
    format!("{first} {}{second} {}", format::rate(a), format::rate(b))
}

fn mb(value: Option<f64>) -> String {
    match value {
        Some(v) if v.is_finite() => format!("{v:.1} MB"),
        _ => NOT_AVAILABLE.to_owned(),
    }
}

/// Where a sample's tokens come from, with the transcripts' burn rate and
/// context use where known.
pub fn token_note(tokens: &shared::Tokens) -> Option<String> {
    let mut parts = vec![tokens.source?.words().to_owned()];
    if let Some(detail) = &tokens.run {
        if let Some(dollars) = detail.cost_usd {
            parts.push(format::dollars(dollars));
        }
        if let Some(rate) = detail.burn_per_min {
            parts.push(format!("{}/min", format::count(rate.round() as u64)));
        }
        match (detail.usage_percent, detail.context_window) {
            (Some(percent), Some(window)) => {
                parts.push(format!("context {percent:.0} % of {}", format::count(window)))
            }
            _ => parts.push("context use not known".to_owned()),
        }
    }
    Some(parts.join(" · "))
}

/// The run's state in words: `Running`, `Paused`, `Idle` (no run yet), and
/// for a run that ended, how — `Finished · exit 0`, `Failed · exit 3`,
/// `Killed (SIGTERM)` — or `Stopped` while its exit is not known (a run ended
/// through the API).
pub fn run_text(run: &shared::Run) -> String {
    match (run.status, run.exit_code, run.signal) {
        (RunStatus::Running, ..) => "Running".to_owned(),
        (RunStatus::Paused, ..) => "Paused".to_owned(),
        (_, _, Some(signal)) => format!("Killed ({})", shared::api::signal_name(signal)),
        (_, Some(0), None) => "Finished · exit 0".to_owned(),
        (_, Some(code), None) => format!("Failed · exit {code}"),
        (RunStatus::Crashed, None, None) => "Failed".to_owned(),
        (RunStatus::Stopped, None, None) if run.run_id.is_none() => "Idle".to_owned(),
        (RunStatus::Stopped, None, None) => "Stopped".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::{Cpu, Memory, Run, RunProcess, Timestamp};

    fn sample(cpu: f64) -> PerfMetrics {
        PerfMetrics {
            timestamp: Timestamp("2026-02-08T20:15:30.123Z".into()),
            cpu: Cpu { percent: Some(cpu), ..Cpu::default() },
            memory: Memory {
                used_gb: Some(6.2),
                total_gb: Some(16.0),
                percent: Some(38.8),
                ..Memory::default()
            },
            run: Run {
                status: RunStatus::Running,
                pid: Some(7),
                started_at: Some(Timestamp("2026-02-08T20:10:00Z".into())),
                run_id: None,
                process: Some(RunProcess {
                    cpu_percent: Some(12.5),
                    rss_mb: Some(300.2),
                    gpu_memory_gb: None,
                    process_count: 2,
                    gpu_memory_reason: None,
                }),
                ..Run::default()
            },
            ..PerfMetrics::default()
        }
    }

    #[test]
    fn samples_differing_below_display_precision_have_equal_views() {
        assert_eq!(PanelView::new(Some(&sample(37.21))), PanelView::new(Some(&sample(37.24))));
        assert_ne!(PanelView::new(Some(&sample(37.21))), PanelView::new(Some(&sample(37.36))));
    }

    #[test]
    fn a_live_run_shows_its_elapsed_time_by_the_servers_clock() {
        let view = PanelView::new(Some(&sample(1.0)));
        assert_eq!(view.run_elapsed.as_deref(), Some("5m 30s"));
        assert_eq!(view.run_usage.as_deref(), Some("12.5 % CPU · 300.2 MB"));
        assert_eq!(view.run_status, "Running");
        assert!(view.live);
        assert_eq!(view.run_state, None, "no state before 30 s were measured");
    }

    #[test]
    fn a_live_runs_state_reads_in_a_word_with_its_window() {
        let mut m = sample(1.0);
        m.run.state = Some(shared::why::LiveState::IoStalled);
        let view = PanelView::new(Some(&m));
        assert_eq!(view.run_state.as_deref(), Some("IO-stalled (last 30 s)"));
        assert_eq!(view.run_status, "Running", "the status keeps its own words");
        m.run.state = Some(shared::why::LiveState::CpuBound);
        assert_ne!(PanelView::new(Some(&m)), view, "a new state is a visible change");
    }

    #[test]
    fn a_lost_device_shows_its_reason_and_unsupported_fields_read_ns() {
        let mut m = sample(1.0);
        m.gpu = shared::Gpu {
            available: true,
            percent: Some(20.0),
            devices: vec![
                shared::GpuDevice {
                    index: 0,
                    name: "GPU-A".into(),
                    percent: Some(20.0),
                    vram_used_gb: Some(8.0),
                    vram_total_gb: Some(80.0),
                    not_supported: vec!["temperature_c".into(), "power_w".into()],
                    ..shared::GpuDevice::default()
                },
                shared::GpuDevice {
                    index: 1,
                    name: "GPU-B".into(),
                    available: false,
                    reason: Some("GPU is lost".into()),
                    ..shared::GpuDevice::default()
                },
            ],
            ..shared::Gpu::default()
        };
        let GpuView::Available { devices, .. } = PanelView::new(Some(&m)).gpu else { panic!("available") };
        assert_eq!(devices[0].figures, "20.0 % · 8.0 / 80.0 GB · n/s · n/s");
        assert_eq!(devices[0].unsupported.as_deref(), Some("not supported by this GPU: temperature, power"));
        assert_eq!((devices[1].name.as_str(), devices[1].lost.as_deref()), ("GPU-B", Some("GPU is lost")));
    }

    #[test]
    fn an_ended_run_says_how_it_ended_and_keeps_its_label() {
        let mut m = sample(1.0);
        m.run.label = Some("nightly build".into());
        m.run.status = RunStatus::Stopped;
        m.run.exit_code = Some(0);
        let view = PanelView::new(Some(&m));
        assert_eq!(view.run_status, "Finished · exit 0");
        assert_eq!(
            (view.run_pid, view.run_label.as_deref(), view.run_failed),
            (None, Some("nightly build"), false)
        );
        m.run.exit_code = Some(3);
        let view = PanelView::new(Some(&m));
        assert_eq!((view.run_status.as_str(), view.run_failed), ("Failed · exit 3", true));
        m.run.exit_code = None;
        m.run.signal = Some(15);
        assert_eq!(PanelView::new(Some(&m)).run_status, "Killed (SIGTERM)");
        m.run.signal = None;
        assert_eq!(PanelView::new(Some(&m)).run_status, "Idle", "no run yet (no run id)");
        m.run.run_id = Some("7-2026-02-08T20:10:00Z".into());
        assert_eq!(PanelView::new(Some(&m)).run_status, "Stopped", "ended through the API: no exit known");
        m.run.status = RunStatus::Crashed;
        assert_eq!(PanelView::new(Some(&m)).run_status, "Failed", "failed, its exit not given");
        m.run.status = RunStatus::Running;
        assert_eq!(PanelView::new(Some(&m)).run_pid.as_deref(), Some("pid 7"));
    }

    #[test]
    fn tokens_name_their_source_burn_rate_and_context_use() {
        let mut m = sample(1.0);
        m.tokens = shared::Tokens { current_run: 5, total_session: 5, available: true, ..Default::default() };
        assert_eq!(PanelView::new(Some(&m)).token_note, None, "an older server says nothing of a source");
        m.tokens.source = Some(shared::TokenSource::Api);
        assert_eq!(PanelView::new(Some(&m)).token_note.as_deref(), Some("reported"));
        m.tokens.source = Some(shared::TokenSource::ClaudeCode);
        m.tokens.run = Some(shared::TokenDetail {
            cost_usd: Some(0.4237),
            burn_per_min: Some(1200.0),
            usage_percent: Some(41.0),
            context_window: Some(200_000),
            ..Default::default()
        });
        let view = PanelView::new(Some(&m));
        assert_eq!(
            view.token_note.as_deref(),
            Some("Claude Code · $0.42 · 1,200/min · context 41 % of 200,000")
        );
        assert_eq!(view.token_context_percent, Some(41.0));
        m.tokens.run = Some(shared::TokenDetail::default());
        assert_eq!(
            PanelView::new(Some(&m)).token_note.as_deref(),
            Some("Claude Code · context use not known")
        );
    }

    #[test]
    fn no_sample_means_not_available_everywhere() {
        let view = PanelView::new(None);
        assert_eq!(view.cpu, NOT_AVAILABLE);
        assert_eq!(view.memory, NOT_AVAILABLE);
        assert_eq!(view.network, NOT_AVAILABLE);
        assert_eq!(view.disk_io, NOT_AVAILABLE);
        assert_eq!(view.gpu, GpuView::Waiting);
        assert!(!view.live);
    }
}
