//! "More about the machine": the machine in depth (issue 21), below the
//! dashboard's first screen — one collapsible section each for CPU time by
//! mode, temperatures, pressure, memory and paging, each disk and filesystem,
//! each interface, the hardware counters and the GPUs' clocks. Each section's summary line says what is
//! inside and its newest state (`Pressure — cpu some 3.0 % · io some 2.1 %`).
//!
//! Figures come from the timeline's series ([`shared::series`] names), so the
//! store's history and the live samples draw alike. What is not a series —
//! whether a source exists and why not, filesystems' types and mount points, which hardware
//! events cannot be counted, a GPU's P-state and what holds its clocks — comes
//! from the newest live sample; without one (the run report, a page still
//! connecting) the sections show what the series hold.
//!
//! A section's charts exist only while it is open: closed, it costs nothing
//! per sample, and a chart made inside a closed `<details>` would measure a
//! width of zero.
//!
//! # Layout
//! - [`MachineDepth`]: the part, in this file, with [`DepthProps`] (what every
//!   section takes) and what the sections share: the chart, the "No data"
//!   note, a series' newest value, device names from series names.
//! - [`section`]: [`DepthSection`], one collapsible `<details>`.
//! - [`cpu_modes`], [`sensors`], [`pressure`], [`memory`], [`disks`],
//!   [`network`], [`perf`], [`gpu_clocks`]: a section each.

pub mod cpu_modes;
pub mod disks;
pub mod gpu_clocks;
pub mod memory;
pub mod network;
pub mod perf;
pub mod pressure;
pub mod section;
pub mod sensors;

use std::rc::Rc;

use shared::PerfMetrics;
use yew::prelude::*;

pub use self::section::DepthSection;
use super::theme::SERIES_COLOURS;
use super::{Line, TimeChart};
use crate::hooks::Scheme;
use crate::state::timeline::Earlier;
use crate::state::{SharedTimeline, Timeline, Window};
use crate::view::alerts::Mark;
use crate::view::format::Unit;

/// Props of [`MachineDepth`] and of each of its sections.
#[derive(Properties, PartialEq, Clone)]
pub struct DepthProps {
    /// The data, shared with the page.
    pub timeline: SharedTimeline,
    /// Moves whenever the timeline changed.
    pub version: u64,
    /// The span shown.
    pub window: Window,
    /// The scheme the colours follow.
    pub scheme: Scheme,
    /// Called with the span dragged across a chart.
    #[prop_or_default]
    pub on_zoom: Callback<Window>,
    /// Called with the run id of a band clicked.
    #[prop_or_default]
    pub on_open_run: Callback<String>,
    /// The newest live sample: what is not a series (availability and its
    /// reasons, filesystems, GPU P-state and clock-event reasons).
    #[prop_or_default]
    pub latest: Option<Rc<PerfMetrics>>,
    /// The same span earlier, drawn faint on every chart (the dashboard's
    /// "Compare with").
    #[prop_or_default]
    pub earlier: Option<Earlier>,
    /// The alerts in the window, placed, marked on every chart.
    #[prop_or_default]
    pub marks: Rc<Vec<Mark>>,
}

/// The part.
#[function_component(MachineDepth)]
pub fn machine_depth(props: &DepthProps) -> Html {
    html! {
        <section class="depth" aria-label="More about the machine" data-testid="depth">
            <h2 class="section__title">{ "More about the machine" }</h2>
            <cpu_modes::CpuModes ..props.clone() />
            <sensors::SensorsSection ..props.clone() />
            <pressure::PressureSection ..props.clone() />
            <memory::MemorySection ..props.clone() />
            <disks::DisksSection ..props.clone() />
            <network::NetworkSection ..props.clone() />
            <perf::PerfSection ..props.clone() />
            <gpu_clocks::GpuClocks ..props.clone() />
        </section>
    }
}

/// One chart of a section.
pub struct Chart<'a> {
    /// Its `data-testid`.
    pub id: String,
    /// Its title.
    pub title: String,
    /// The unit of its lines.
    pub unit: Unit,
    /// Its lines, in drawing (and stacking) order.
    pub lines: Vec<Line>,
    /// Stacked ([`TimeChart`]'s `stacked`).
    pub stacked: bool,
    /// Its plot's height, CSS px.
    pub height: u32,
    /// What it draws from.
    pub props: &'a DepthProps,
    /// Under its plot (a note on what it lacks).
    pub note: Option<String>,
}

impl<'a> Chart<'a> {
    /// A chart of `lines` in `unit`.
    pub fn new(props: &'a DepthProps, id: impl Into<String>, title: impl Into<String>, unit: Unit) -> Self {
        Chart {
            id: id.into(),
            title: title.into(),
            unit,
            lines: Vec::new(),
            stacked: false,
            height: 150,
            props,
            note: None,
        }
    }

    /// With a line of series `key`, labelled `label`.
    pub fn line(mut self, key: impl Into<String>, label: impl Into<String>) -> Self {
        self.lines.push(Line::new(key, label));
        self
    }

    /// Stacked, `height` px high.
    pub fn stacked(mut self, height: u32) -> Self {
        self.stacked = true;
        self.height = height;
        self
    }

    /// With `note` under the plot.
    pub fn note(mut self, note: Option<String>) -> Self {
        self.note = note;
        self
    }

    /// The chart, with a key to its colours when it has three lines or more
    /// (two are told apart by the readout's order; more need their colours named).
    pub fn html(self) -> Html {
        let p = self.props;
        let legend = (self.lines.len() >= 3).then(|| {
            html! {
                <ul class="depth__legend" aria-hidden="true">
                    { for self.lines.iter().enumerate().map(|(i, line)| html! {
                        <li><span class="depth__swatch"
                            style={format!("background: var(--series-{})", i % SERIES_COLOURS + 1)}></span>
                            { line.label.clone() }</li>
                    }) }
                </ul>
            }
        });
        let note =
            self.note.map(|n| html! { <p class="depth__chart-note" data-testid="chart-note">{ n }</p> });
        html! {
            <TimeChart id={self.id} title={self.title} unit={self.unit} lines={self.lines}
                stacked={self.stacked} height={self.height}
                timeline={p.timeline.clone()} version={p.version} window={p.window} scheme={p.scheme}
                on_zoom={p.on_zoom.clone()} on_open_run={p.on_open_run.clone()} earlier={p.earlier.clone()}
                marks={p.marks.clone()}>
                { for legend }
                { for note }
            </TimeChart>
        }
    }
}

/// The note a section shows instead of charts with nothing to draw:
/// `No pressure data in this range: no /proc/pressure.`
pub fn no_data(id: &str, what: &str, reason: Option<&str>) -> Html {
    let why = reason.map(|r| format!(": {r}")).unwrap_or_default();
    html! { <p class="muted charts__note" data-testid={id.to_owned()}>{ format!("No {what} data in this range{why}.") }</p> }
}

/// The newest value of series `name` within `window`.
pub fn newest(timeline: &Timeline, name: &str, window: Window) -> Option<f64> {
    let column = timeline.column(name)?;
    let start = timeline.times.partition_point(|t| *t < window.from);
    let end = timeline.times.partition_point(|t| *t <= window.to);
    (start..end).rev().find_map(|i| column.mean.get(i).copied().flatten().filter(|v| v.is_finite()))
}

/// Whether any of the series `names` holds a value.
pub fn any_values<S: AsRef<str>>(timeline: &Timeline, names: &[S]) -> bool {
    names.iter().any(|n| timeline.has_values(n.as_ref()))
}

/// `label value` for each series with a newest value, joined by ` · `;
/// `no data` when none has one.
pub fn state_line(timeline: &Timeline, window: Window, figures: &[(&str, String, Unit)]) -> String {
    let parts: Vec<String> = figures
        .iter()
        .filter_map(|(label, name, unit)| {
            Some(format!("{label} {}", unit.format(newest(timeline, name, window)?)))
        })
        .collect();
    if parts.is_empty() { "no data".to_owned() } else { parts.join(" · ") }
}

/// The devices named in series `{prefix}{device}.{field}` (`disks.vda.util_percent`)
/// for any of `fields`, and in `also` (the newest sample's), sorted and once
/// each. The field is matched whole at the end, so a device name with a dot
/// in it (`eth0.100`, a VLAN) stays whole.
pub fn device_names<'a>(
    keys: impl IntoIterator<Item = &'a str>,
    prefix: &str,
    fields: &[&str],
    also: impl IntoIterator<Item = String>,
) -> Vec<String> {
    let mut names: Vec<String> = keys
        .into_iter()
        .filter_map(|key| {
            let rest = key.strip_prefix(prefix)?;
            fields.iter().find_map(|f| rest.strip_suffix(f)?.strip_suffix('.')).filter(|n| !n.is_empty())
        })
        .map(str::to_owned)
        .chain(also)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// At most `shown` parts joined by ` · `, and how many more there are.
pub fn first_few(parts: Vec<String>, shown: usize) -> String {
    let more = parts.len().saturating_sub(shown);
    let mut line = parts.into_iter().take(shown).collect::<Vec<_>>().join(" · ");
    if more > 0 {
        line.push_str(&format!(" · {more} more"));
    }
    line
}

#[cfg(test)]
mod tests {
    use shared::api::HistorySeries;

    use super::*;

    fn timeline() -> Timeline {
        let mut h = HistorySeries { step_s: 1, tier: "raw".into(), ..HistorySeries::default() };
        h.timestamps = vec![1000, 2000, 3000, 4000];
        h.series.insert("pressure.io.some_percent".into(), vec![Some(1.0), Some(2.1), None, Some(9.0)]);
        h.series.insert("pressure.cpu.some_percent".into(), vec![None, None, None, None]);
        Timeline::from_history(h)
    }

    #[test]
    fn the_newest_value_is_the_last_one_in_the_window() {
        let t = timeline();
        let window = Window { from: 0.0, to: 3500.0 };
        assert_eq!(
            newest(&t, "pressure.io.some_percent", window),
            Some(2.1),
            "past a hole, not after the window"
        );
        assert_eq!(newest(&t, "pressure.io.some_percent", Window { from: 0.0, to: 9e9 }), Some(9.0));
        assert_eq!(newest(&t, "pressure.io.some_percent", Window { from: 2500.0, to: 3500.0 }), None);
        assert_eq!(newest(&t, "pressure.cpu.some_percent", window), None);
        assert_eq!(newest(&t, "nothing", window), None);
        assert!(any_values(&t, &["nothing", "pressure.io.some_percent"]));
        assert!(!any_values(&t, &["pressure.cpu.some_percent"]), "a column of nothing is no data");
    }

    #[test]
    fn a_state_line_names_what_it_has_and_says_when_it_has_nothing() {
        let t = timeline();
        let w = Window { from: 0.0, to: 9e9 };
        let figures = [
            ("cpu some", "pressure.cpu.some_percent".to_owned(), Unit::Percent),
            ("io some", "pressure.io.some_percent".to_owned(), Unit::Percent),
        ];
        assert_eq!(state_line(&t, w, &figures), "io some 9.0 %");
        assert_eq!(state_line(&t, w, &figures[..1]), "no data");
    }

    #[test]
    fn devices_come_from_series_names_and_the_sample() {
        let keys = [
            "disks.vda.util_percent",
            "disks.vda.read_iops",
            "disks.nvme0n1.await_ms",
            "disks.sdb.unknown_field",
            "disk.read_bytes_per_s",
            "interfaces.eth0.100.rx_bytes_per_s",
        ];
        let fields = ["util_percent", "read_iops", "await_ms"];
        assert_eq!(
            device_names(keys, "disks.", &fields, ["sdc".to_owned(), "vda".to_owned()]),
            ["nvme0n1", "sdc", "vda"],
            "sorted, once each, unknown fields ignored"
        );
        assert_eq!(
            device_names(keys, "interfaces.", &["rx_bytes_per_s"], []),
            ["eth0.100"],
            "a VLAN's dot stays"
        );
    }

    #[test]
    fn a_long_list_says_how_many_more() {
        let parts = |n: usize| (0..n).map(|i| format!("d{i}")).collect::<Vec<_>>();
        assert_eq!(first_few(parts(2), 3), "d0 · d1");
        assert_eq!(first_few(parts(5), 3), "d0 · d1 · d2 · 2 more");
        assert_eq!(first_few(Vec::new(), 3), "");
    }
}
