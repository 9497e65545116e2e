//! A compact heat strip: one row per series, one cell per few pixels of time,
//! brighter where the series was higher. Per-core CPU draws one (128 cores fit
//! where 128 lines could not), and each GPU's clock-event reasons another, a
//! labelled band per reason, brighter where it held the clocks longer. Drawn
//! on a canvas of its own; its text alternative is the caller's (for the
//! cores, [`describe`]: the busiest and the quietest over the window).

use yew::prelude::*;

use super::theme::Palette;
use crate::hooks::Scheme;
use crate::state::{SharedTimeline, Timeline, Window};
use crate::view::decimate;
use crate::view::format::Unit;

/// Width of one cell, CSS px.
const CELL_PX: f64 = 3.0;

/// Height of a labelled row, CSS px: its label's line.
const LABELLED_ROW_PX: f64 = 14.0;

/// One row of a strip.
#[derive(Clone, PartialEq, Debug)]
pub struct StripRow {
    /// The series it draws.
    pub series: String,
    /// Its label beside it (labelled strips only), with its words in full as
    /// the label's title.
    pub label: String,
    /// The label's words in full.
    pub title: String,
}

/// Props of [`HeatStrip`].
#[derive(Properties, PartialEq)]
pub struct HeatStripProps {
    /// The data, shared with the page.
    pub timeline: SharedTimeline,
    /// Moves whenever the timeline changed.
    pub version: u64,
    /// The span shown.
    pub window: Window,
    /// The scheme the colours follow.
    pub scheme: Scheme,
    /// The rows, top first.
    pub rows: Vec<StripRow>,
    /// The value drawn at full brightness (100 for a percentage, 1 for a flag,
    /// whose mean over a cell is the share of it that held).
    pub full: f64,
    /// Its title.
    pub title: AttrValue,
    /// Its `data-testid`.
    pub testid: AttrValue,
    /// Its text alternative.
    pub summary: AttrValue,
    /// Rows' labels drawn beside them, each row a label's height; else rows
    /// share 72 px between them (2–8 px each).
    #[prop_or_default]
    pub labelled: bool,
}

/// The per-core rows, in core order.
pub fn core_rows(timeline: &Timeline) -> Vec<StripRow> {
    (0..timeline.cores())
        .map(|core| StripRow {
            series: shared::series::cpu_core(core),
            label: format!("core {core}"),
            title: format!("core {core}"),
        })
        .collect()
}

/// Each row's mean per cell: `cells[row][cell]`. A cell holding samples
/// shows their mean; one between samples (cells narrower than the cadence)
/// shows the sample before it, as long as that is no older than the
/// timeline's gap; else `None`, nothing recorded.
pub fn cells(timeline: &Timeline, rows: &[StripRow], window: Window, count: usize) -> Vec<Vec<Option<f64>>> {
    let count = count.max(1);
    let width = (window.to - window.from) / count as f64;
    let start = timeline.times.partition_point(|t| *t < window.from).saturating_sub(1);
    let end = timeline.times.partition_point(|t| *t <= window.to);
    let gap = timeline.gap_ms();
    rows.iter()
        .map(|row| {
            let Some(column) = timeline.column(&row.series) else {
                return vec![None; count];
            };
            let mut sums = vec![(0.0, 0u32); count];
            // The newest sample left of the window, to carry into its first cells.
            let mut last: Option<(f64, f64)> = None;
            for i in start..end {
                let Some(v) = column.mean.get(i).copied().flatten() else { continue };
                let t = timeline.times[i];
                if t < window.from {
                    last = Some((t, v));
                    continue;
                }
                let cell = (((t - window.from) / width) as usize).min(count - 1);
                sums[cell].0 += v;
                sums[cell].1 += 1;
            }
            (0..count)
                .map(|cell| {
                    let (sum, n) = sums[cell];
                    let cell_start = window.from + cell as f64 * width;
                    if n > 0 {
                        let mean = sum / f64::from(n);
                        last = Some((cell_start + width, mean));
                        return Some(mean);
                    }
                    last.filter(|(at, _)| cell_start - at <= gap).map(|(_, v)| v)
                })
                .collect()
        })
        .collect()
}

/// The per-core strip's text alternative.
pub fn describe(timeline: &Timeline, window: Window) -> String {
    let cores = timeline.cores();
    let figures: Vec<(usize, decimate::Summary)> = (0..cores)
        .filter_map(|core| {
            let column = timeline.column(&shared::series::cpu_core(core))?;
            Some((core, decimate::summarise(&timeline.times, &column.line(), window.from, window.to)?))
        })
        .collect();
    let busiest = figures.iter().max_by(|a, b| a.1.mean.total_cmp(&b.1.mean));
    let quietest = figures.iter().min_by(|a, b| a.1.mean.total_cmp(&b.1.mean));
    match (busiest, quietest) {
        (Some((b, bs)), Some((q, qs))) => format!(
            "{cores} cores. Busiest: core {b}, mean {}, peak {}. Quietest: core {q}, mean {}.",
            Unit::Percent.format(bs.mean),
            Unit::Percent.format(bs.max),
            Unit::Percent.format(qs.mean)
        ),
        _ => "No per-core data in this range.".to_owned(),
    }
}

/// The heat strip.
#[function_component(HeatStrip)]
pub fn heat_strip(props: &HeatStripProps) -> Html {
    let canvas = use_node_ref();
    let rows = props.rows.len();
    let row_px = match (props.labelled, rows) {
        (true, _) => LABELLED_ROW_PX,
        (false, 0) => 0.0,
        (false, n) => (72.0 / n as f64).clamp(2.0, 8.0),
    };
    {
        let canvas = canvas.clone();
        let (timeline, window, rows, full) =
            (props.timeline.clone(), props.window, props.rows.clone(), props.full);
        use_effect_with((props.version, props.window, props.scheme, props.rows.clone()), move |_| {
            if let Some(canvas) = canvas.cast::<web_sys::HtmlCanvasElement>() {
                paint(&canvas, &timeline.0.borrow(), &rows, window, row_px, full);
            }
        });
    }
    let height = format!("height: {}px", (row_px * rows as f64).ceil());
    let labels = props.labelled.then(|| {
        html! {
            <ul class="heat__labels" aria-hidden="true" style={height.clone()}>
                { for props.rows.iter().map(|r| html! {
                    <li class="heat__label" title={r.title.clone()}>{ r.label.clone() }</li>
                }) }
            </ul>
        }
    });
    let class = classes!("heat", props.labelled.then_some("heat--labelled"));
    html! {
        <figure class={class} data-testid={props.testid.clone()} data-rows={rows.to_string()}>
            <figcaption class="heat__title">{ props.title.clone() }</figcaption>
            <div class="heat__body">
                { labels }
                <canvas class="heat__canvas" ref={canvas} aria-hidden="true" style={height}></canvas>
            </div>
            <p class="chart__summary" data-testid="summary">{ props.summary.clone() }</p>
        </figure>
    }
}

fn paint(
    canvas: &web_sys::HtmlCanvasElement,
    timeline: &Timeline,
    rows: &[StripRow],
    window: Window,
    row_px: f64,
    full: f64,
) {
    use wasm_bindgen::JsCast;
    let ratio = web_sys::window().map_or(1.0, |w| w.device_pixel_ratio());
    let width = f64::from(canvas.client_width().max(100));
    let height = row_px * rows.len() as f64;
    canvas.set_width((width * ratio) as u32);
    canvas.set_height((height * ratio).ceil() as u32);
    let Some(ctx) = canvas
        .get_context("2d")
        .ok()
        .flatten()
        .and_then(|c| c.dyn_into::<web_sys::CanvasRenderingContext2d>().ok())
    else {
        return;
    };
    let palette = Palette::current();
    let count = (width / CELL_PX).floor().max(1.0) as usize;
    let grid = cells(timeline, rows, window, count);
    ctx.set_fill_style_str(&palette.heat.0);
    ctx.fill_rect(0.0, 0.0, width * ratio, height * ratio);
    ctx.set_fill_style_str(&palette.heat.1);
    let mut lit = 0;
    for (row, values) in grid.iter().enumerate() {
        for (cell, value) in values.iter().enumerate() {
            let Some(v) = value else { continue };
            lit += usize::from(*v > 0.0);
            ctx.set_global_alpha((0.06 + 0.94 * v.clamp(0.0, full) / full).min(1.0));
            ctx.fill_rect(
                cell as f64 * CELL_PX * ratio,
                row as f64 * row_px * ratio,
                CELL_PX * ratio,
                (row_px * ratio - ratio.min(1.0)).max(1.0),
            );
        }
    }
    ctx.set_global_alpha(1.0);
    // For tests and the curious: how many cells show more than nothing.
    let _ = canvas.set_attribute("data-lit-cells", &lit.to_string());
}

#[cfg(test)]
mod tests {
    use shared::{Cpu, PerfMetrics, Timestamp};

    use super::*;

    fn timeline() -> Timeline {
        let mut t = Timeline::default();
        for s in 0..10u32 {
            t.push(&PerfMetrics {
                timestamp: Timestamp(format!("2026-12-01T10:00:{s:02}.000Z")),
                cpu: Cpu {
                    percent: Some(50.0),
                    per_core: vec![f64::from(s) * 10.0, 5.0],
                    load_average: None,
                },
                ..PerfMetrics::default()
            });
        }
        t
    }

    #[test]
    fn cells_hold_each_cores_mean_over_their_time() {
        let t = timeline();
        let window = Window { from: t.times[0], to: t.times[9] + 1.0 };
        let rows = core_rows(&t);
        let grid = cells(&t, &rows, window, 2);
        assert_eq!(grid.len(), 2);
        assert_eq!(grid[0], [Some(20.0), Some(70.0)], "the first five seconds, then the last five");
        assert_eq!(grid[1], [Some(5.0), Some(5.0)]);
        let sparse = cells(&t, &rows, Window { from: t.times[0], to: t.times[0] + 100_000.0 }, 10);
        assert_eq!(sparse[1][5], None, "no data, no colour");
        // Cells narrower than the cadence take the sample before them (the
        // window's end is in it: the sample at 2 s is the last cell's).
        let fine = cells(&t, &rows, Window { from: t.times[0], to: t.times[0] + 2000.0 }, 8);
        let expected = [0.0, 0.0, 0.0, 0.0, 10.0, 10.0, 10.0, 20.0].map(Some);
        assert_eq!(fine[0], expected);
    }

    #[test]
    fn the_text_names_the_busiest_and_quietest_core() {
        let t = timeline();
        let text = describe(&t, Window { from: t.times[0], to: t.times[9] });
        assert_eq!(text, "2 cores. Busiest: core 0, mean 45.0 %, peak 90.0 %. Quietest: core 1, mean 5.0 %.");
        assert_eq!(
            describe(&Timeline::default(), Window { from: 0.0, to: 1.0 }),
            "No per-core data in this range."
        );
    }
}
