//! Per-core CPU as a compact heat strip: one row per core, one cell per few
//! pixels of time, brighter where the core was busier — 128 cores fit where 128
//! lines could not. Drawn on a canvas of its own; its text alternative names
//! the busiest and the quietest core over the window.

use yew::prelude::*;

use super::theme::Palette;
use crate::hooks::Scheme;
use crate::state::{SharedTimeline, Timeline, Window};
use crate::view::decimate;
use crate::view::format::Unit;

/// Width of one cell, CSS px.
const CELL_PX: f64 = 3.0;

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
}

/// Each core's use per cell: `cells[core][cell]`. A cell holding samples
/// shows their mean; one between samples (cells narrower than the cadence)
/// shows the sample before it, as long as that is no older than the
/// timeline's gap; else `None`, nothing recorded.
pub fn cells(timeline: &Timeline, window: Window, count: usize) -> Vec<Vec<Option<f64>>> {
    let count = count.max(1);
    let width = (window.to - window.from) / count as f64;
    let start = timeline.times.partition_point(|t| *t < window.from).saturating_sub(1);
    let end = timeline.times.partition_point(|t| *t <= window.to);
    let gap = timeline.gap_ms();
    (0..timeline.cores())
        .map(|core| {
            let Some(column) = timeline.column(&shared::series::cpu_core(core)) else {
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

/// The text alternative.
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
    let rows = props.timeline.0.borrow().cores();
    let row_px = if rows == 0 { 0.0 } else { (72.0 / rows as f64).clamp(2.0, 8.0) };
    {
        let canvas = canvas.clone();
        let (timeline, window) = (props.timeline.clone(), props.window);
        use_effect_with((props.version, props.window, props.scheme), move |_| {
            if let Some(canvas) = canvas.cast::<web_sys::HtmlCanvasElement>() {
                paint(&canvas, &timeline.0.borrow(), window, row_px);
            }
        });
    }
    let text =
        use_memo((props.version, props.window), |_| describe(&props.timeline.0.borrow(), props.window));
    html! {
        <figure class="heat" data-testid="cpu-cores">
            <figcaption class="heat__title">{ "Per core" }</figcaption>
            <canvas class="heat__canvas" ref={canvas} aria-hidden="true"
                style={format!("height: {}px", (row_px * rows as f64).ceil())}></canvas>
            <p class="chart__summary" data-testid="summary">{ (*text).clone() }</p>
        </figure>
    }
}

fn paint(canvas: &web_sys::HtmlCanvasElement, timeline: &Timeline, window: Window, row_px: f64) {
    use wasm_bindgen::JsCast;
    let ratio = web_sys::window().map_or(1.0, |w| w.device_pixel_ratio());
    let width = f64::from(canvas.client_width().max(100));
    let rows = timeline.cores();
    let height = row_px * rows as f64;
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
    let grid = cells(timeline, window, count);
    ctx.set_fill_style_str(&palette.heat.0);
    ctx.fill_rect(0.0, 0.0, width * ratio, height * ratio);
    ctx.set_fill_style_str(&palette.heat.1);
    for (row, values) in grid.iter().enumerate() {
        for (cell, value) in values.iter().enumerate() {
            let Some(v) = value else { continue };
            ctx.set_global_alpha((0.06 + 0.94 * v.clamp(0.0, 100.0) / 100.0).min(1.0));
            ctx.fill_rect(
                cell as f64 * CELL_PX * ratio,
                row as f64 * row_px * ratio,
                CELL_PX * ratio,
                (row_px * ratio - ratio.min(1.0)).max(1.0),
            );
        }
    }
    ctx.set_global_alpha(1.0);
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
        let grid = cells(&t, window, 2);
        assert_eq!(grid.len(), 2);
        assert_eq!(grid[0], [Some(20.0), Some(70.0)], "the first five seconds, then the last five");
        assert_eq!(grid[1], [Some(5.0), Some(5.0)]);
        let sparse = cells(&t, Window { from: t.times[0], to: t.times[0] + 100_000.0 }, 10);
        assert_eq!(sparse[1][5], None, "no data, no colour");
        // Cells narrower than the cadence take the sample before them (the
        // window's end is in it: the sample at 2 s is the last cell's).
        let fine = cells(&t, Window { from: t.times[0], to: t.times[0] + 2000.0 }, 8);
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
