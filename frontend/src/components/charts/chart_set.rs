//! Every chart a timeline has data for, in one grid: the run's process tree
//! (CPU, memory, GPU memory) when there is one, then the machine — CPU with its
//! per-core heat strip, memory and swap, network, disk, and each GPU's
//! utilisation, memory, temperature and power. The dashboard and the run
//! report both draw theirs with it; the dashboard's goes on with the machine
//! in depth ([`MachineDepth`]), collapsed.
//!
//! The dashboard may hand it the same span a day or a week earlier: every
//! chart, the machine in depth's too, then draws it faint under its lines and
//! says how each mean changed; the run report does not (off by default).
//!
//! Every chart marks the alerts it is handed where they fell in its span,
//! placed once here for all of them.
//!
//! Memory charts are scaled to what is used, like every other chart (half a
//! gigabyte moving on a 24 GB machine is a line, not a floor), and their titles
//! say what is installed.

use std::rc::Rc;

use shared::PerfMetrics;
use shared::alerts::AlertEvent;
use shared::series::{self, device, run};
use yew::prelude::*;

use super::{HeatStrip, Line, MachineDepth, TimeChart, heat_strip};
use crate::hooks::Scheme;
use crate::state::timeline::Earlier;
use crate::state::{SharedTimeline, Timeline, Window};
use crate::view::alerts::marks;
use crate::view::format::Unit;
use crate::view::time::browser_offset;

/// Props of [`ChartSet`].
#[derive(Properties, PartialEq)]
pub struct ChartSetProps {
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
    /// Why there is no GPU data, as the live stream says.
    #[prop_or_default]
    pub gpu_reason: Option<AttrValue>,
    /// Goes on with the machine in depth (the dashboard; not a run's report).
    #[prop_or_default]
    pub depth: bool,
    /// The newest live sample, for what the depth sections say that is not a
    /// series (sources missing and why, filesystems, GPU clock-event reasons).
    #[prop_or_default]
    pub latest: Option<Rc<PerfMetrics>>,
    /// The same span earlier, drawn faint on every chart; `None` (the
    /// default, and the run report's): no comparison.
    #[prop_or_default]
    pub earlier: Option<Earlier>,
    /// Alerts, marked on every chart where they fell.
    #[prop_or_default]
    pub alerts: Rc<Vec<AlertEvent>>,
}

/// The largest value of `name` in the timeline.
fn peak(timeline: &Timeline, name: &str) -> Option<f64> {
    timeline.column(name)?.mean.iter().flatten().copied().reduce(f64::max)
}

/// A memory chart's title with what is installed, GB (one total per device):
/// `Memory and swap (of 23.4 GB installed)`, `GPU memory (of 80.0 GB installed
/// on each)`, `GPU memory (of 80.0 GB and 24.0 GB installed)`.
pub fn installed_title(title: &str, totals: &[f64]) -> String {
    let totals: Vec<f64> = totals.iter().copied().filter(|t| t.is_finite() && *t > 0.0).collect();
    let gb = |t: &f64| format!("{t:.1} GB");
    match totals.as_slice() {
        [] => title.to_owned(),
        [one] => format!("{title} (of {} installed)", gb(one)),
        [first, rest @ ..] if rest.iter().all(|t| gb(t) == gb(first)) => {
            format!("{title} (of {} installed on each)", gb(first))
        }
        [most @ .., last] => {
            let most: Vec<String> = most.iter().map(gb).collect();
            format!("{title} (of {} and {} installed)", most.join(", "), gb(last))
        }
    }
}

/// The charts.
#[function_component(ChartSet)]
pub fn chart_set(props: &ChartSetProps) -> Html {
    let marks = use_memo((props.alerts.clone(), props.window), |(alerts, w)| {
        Rc::new(marks(alerts, w.from, w.to, browser_offset))
    });
    let marks: Rc<Vec<_>> = (*marks).clone();
    let timeline = props.timeline.0.borrow();
    let chart = |id: &str, title: &str, unit: Unit, lines: Vec<Line>| {
        html! {
            <TimeChart id={id.to_owned()} title={title.to_owned()} {unit} {lines}
                timeline={props.timeline.clone()} version={props.version} window={props.window}
                scheme={props.scheme} on_zoom={props.on_zoom.clone()} on_open_run={props.on_open_run.clone()}
                earlier={props.earlier.clone()} marks={marks.clone()} />
        }
    };
    let tree = |field: &str| series::run_tree(field);
    let has_tree = [run::CPU_PERCENT, run::RSS_MB].iter().any(|f| timeline.has_values(&tree(f)));
    let run_charts = has_tree.then(|| {
        let gpu = timeline.has_values(&tree(run::GPU_MEMORY_GB)).then(|| {
            chart("run-gpu", "Run GPU memory", Unit::Gigabytes, vec![Line::new(tree(run::GPU_MEMORY_GB), "GPU memory")])
        });
        html! {
            <section class="charts__group" aria-label="The run's process tree">
                <h2 class="section__title">{ "The run's process tree" }</h2>
                // One scale for every CPU figure: a share of the whole machine
                // (100 % is every core busy), so the run's line reads against
                // the machine's chart below it and PerfMon's own cost.
                { chart("run-cpu", "Run CPU (share of the whole machine)", Unit::Percent, vec![Line::new(tree(run::CPU_PERCENT), "CPU")]) }
                { chart("run-rss", "Run memory (RSS)", Unit::Megabytes, vec![Line::new(tree(run::RSS_MB), "RSS")]) }
                { for gpu }
            </section>
        }
    });
    let devices = timeline.gpu_devices();
    let name = |d: u32| timeline.gpu_names.get(&d).cloned().unwrap_or_else(|| format!("GPU {d}"));
    let per_device =
        |field: &str| devices.iter().map(|d| Line::new(series::gpu_device(*d, field), name(*d))).collect();
    let gpu = if devices.is_empty() {
        let why = props.gpu_reason.clone().map(|r| format!(": {r}")).unwrap_or_default();
        html! { <p class="muted charts__note" data-testid="gpu-none">{ format!("No GPU data in this range{why}.") }</p> }
    } else {
        let totals: Vec<f64> = devices
            .iter()
            .filter_map(|d| peak(&timeline, &series::gpu_device(*d, device::VRAM_TOTAL_GB)))
            .collect();
        let memory_title = installed_title("GPU memory", &totals);
        html! {
            <>
                { chart("gpu-util", "GPU utilisation", Unit::Percent, per_device(device::PERCENT)) }
                { chart("gpu-memory", &memory_title, Unit::Gigabytes, per_device(device::VRAM_USED_GB)) }
                { chart("gpu-temperature", "GPU temperature", Unit::Celsius, per_device(device::TEMPERATURE_C)) }
                { chart("gpu-power", "GPU power", Unit::Watts, per_device(device::POWER_W)) }
            </>
        }
    };
    let cores = (timeline.cores() > 0).then(|| {
        html! {
            <HeatStrip timeline={props.timeline.clone()} version={props.version} window={props.window}
                scheme={props.scheme} rows={heat_strip::core_rows(&timeline)} full={100.0} title="Per core"
                testid="cpu-cores" summary={heat_strip::describe(&timeline, props.window)} />
        }
    });
    let memory_title =
        installed_title("Memory and swap", peak(&timeline, series::MEMORY_TOTAL_GB).as_slice());
    html! {
        <div class="charts" data-testid="charts">
            { for run_charts }
            <section class="charts__group" aria-label="The machine">
                <h2 class="section__title">{ "The machine" }</h2>
                <TimeChart id="cpu" title="CPU (all cores)" unit={Unit::Percent} lines={vec![Line::new(series::CPU_PERCENT, "CPU")]}
                    timeline={props.timeline.clone()} version={props.version} window={props.window}
                    scheme={props.scheme} on_zoom={props.on_zoom.clone()} on_open_run={props.on_open_run.clone()}
                    earlier={props.earlier.clone()} marks={marks.clone()}>
                    { for cores }
                </TimeChart>
                { chart("memory", &memory_title, Unit::Gigabytes,
                    vec![Line::new(series::MEMORY_USED_GB, "Memory"), Line::new(series::SWAP_USED_GB, "Swap")]) }
                { chart("network", "Network", Unit::BytesPerSecond,
                    vec![Line::new(series::NETWORK_RX, "Received"), Line::new(series::NETWORK_TX, "Sent")]) }
                { chart("disk", "Disk", Unit::BytesPerSecond,
                    vec![Line::new(series::DISK_READ, "Read"), Line::new(series::DISK_WRITE, "Written")]) }
                { gpu }
            </section>
            if props.depth {
                <MachineDepth timeline={props.timeline.clone()} version={props.version} window={props.window}
                    scheme={props.scheme} on_zoom={props.on_zoom.clone()} on_open_run={props.on_open_run.clone()}
                    latest={props.latest.clone()} earlier={props.earlier.clone()} marks={marks.clone()} />
            }
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::installed_title;

    #[test]
    fn memory_titles_say_what_is_installed() {
        assert_eq!(installed_title("Memory and swap", &[23.43]), "Memory and swap (of 23.4 GB installed)");
        assert_eq!(installed_title("Memory and swap", &[]), "Memory and swap", "no total: no claim");
        assert_eq!(installed_title("GPU memory", &[80.0, 80.0]), "GPU memory (of 80.0 GB installed on each)");
        assert_eq!(
            installed_title("GPU memory", &[80.0, 24.0, 24.0]),
            "GPU memory (of 80.0 GB, 24.0 GB and 24.0 GB installed)"
        );
        assert_eq!(installed_title("GPU memory", &[0.0, f64::NAN]), "GPU memory");
    }
}
