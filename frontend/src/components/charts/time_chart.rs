//! A full-width time chart: lines of a [`crate::state::Timeline`] over a
//! [`Window`], drawn by uPlot from at most two points per pixel column
//! ([`decimate`]), with each line's min–max range shaded where the store
//! downsampled, runs as labelled bands (a click opens the run; each band has
//! edges and neighbours alternate shades, so back-to-back runs never read as
//! one; failed runs are marked in the critical colour), a crosshair
//! synced across every chart of the page, drag-to-zoom, and a readout of the
//! time and every line's value under the cursor — read from the full-resolution
//! data, not the decimated drawing.
//!
//! Below the plot a line of text says each line's latest, min, max and mean
//! over the window: the chart's text alternative.
//!
//! A stacked chart (CPU time by mode) draws each line on top of the ones
//! before it with the space between filled ([`stack`]); its readout and text
//! alternative still give each line's own value.
//!
//! Given the same span a day or a week earlier ([`Earlier`], the dashboard's
//! "Compare with"), each line gets a faint dashed twin in its colour drawn
//! from the earlier points moved forward onto the window (uPlot series of
//! their own, after the lines and their ranges), the head says how each
//! line's mean over the window changed (`+12.5 % vs a day earlier`, or
//! `nothing recorded a day earlier`), the readout adds the earlier values
//! under the cursor and the text alternative their means ([`super::earlier`]).
//! Without one, nothing of this is drawn or said.
//!
//! Alerts in the window are marked over the plot ([`Mark`], placed by
//! [`crate::view::alerts::marks`]): a thin line in the severity's colour where
//! each fired, shaded on to where it resolved (to the right edge while it
//! fires). They are elements, not canvas drawing, so each has a title to
//! hover and a name a screen reader reads (`memory_low fired 14:02:11`);
//! placed by fractions of the window, inside a box that each drawing moves
//! onto uPlot's plot area.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

use gloo_events::EventListener;
use js_sys::Array;
use shared::api::RunBand;
use wasm_bindgen::prelude::*;
use yew::prelude::*;

use super::earlier;
use super::theme::Palette;
use super::uplot::{self, UPlot};
use crate::hooks::Scheme;
use crate::state::timeline::{Column, Earlier};
use crate::state::{SharedTimeline, Timeline, Window};
use crate::view::alerts::Mark;
use crate::view::decimate::{self, DecimatedLine, LineData};
use crate::view::format::Unit;
use crate::view::time::{Clock, browser_offset, local_time};

/// One line of a chart: the series it draws and what the readout calls it.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// The series name (`cpu.percent`).
    pub key: String,
    /// Its label (`CPU`).
    pub label: String,
}

impl Line {
    /// The line of series `key`, labelled `label`.
    pub fn new(key: impl Into<String>, label: impl Into<String>) -> Line {
        Line { key: key.into(), label: label.into() }
    }
}

/// Props of [`TimeChart`].
#[derive(Properties, PartialEq)]
pub struct TimeChartProps {
    /// The `data-testid` of the chart's figure.
    pub id: AttrValue,
    /// The chart's title.
    pub title: AttrValue,
    /// The unit of every line.
    pub unit: Unit,
    /// The lines, in drawing order (colours follow it).
    pub lines: Vec<Line>,
    /// The data, shared with the page.
    pub timeline: SharedTimeline,
    /// Moves whenever the timeline changed, so the chart redraws.
    pub version: u64,
    /// The span shown.
    pub window: Window,
    /// The scheme the colours follow.
    pub scheme: Scheme,
    /// Called with the span dragged across.
    #[prop_or_default]
    pub on_zoom: Callback<Window>,
    /// Called with the run id of a band clicked.
    #[prop_or_default]
    pub on_open_run: Callback<String>,
    /// The plot's height in CSS px.
    #[prop_or(150)]
    pub height: u32,
    /// Shown under the plot, above the text alternative (the per-core strip).
    #[prop_or_default]
    pub children: Html,
    /// Each line drawn on top of the ones before it, the space between filled
    /// (a single line: filled down to zero).
    #[prop_or_default]
    pub stacked: bool,
    /// The same span earlier, drawn faint under each line and compared in
    /// the head; `None` (the default, and the run report's): no comparison.
    #[prop_or_default]
    pub earlier: Option<Earlier>,
    /// The alerts in the window, placed (the chart set places them once for
    /// all its charts).
    #[prop_or_default]
    pub marks: Rc<Vec<Mark>>,
}

/// What uPlot's callbacks read, brought up to date by every render.
struct Live {
    window: Cell<Window>,
    /// Gaps in the data longer than this break the lines (ms); shorter ones
    /// (an idle cadence on a finer grid) are joined.
    gap_ms: Cell<f64>,
    /// The same for the earlier span's faint lines (its store tier may be
    /// coarser).
    earlier_gap_ms: Cell<f64>,
    y_top: Cell<f64>,
    unit: Cell<Unit>,
    bands: RefCell<Vec<RunBand>>,
    on_zoom: RefCell<Callback<Window>>,
    on_open_run: RefCell<Callback<String>>,
    hover: RefCell<Option<UseStateSetter<Option<f64>>>>,
    palette: RefCell<Palette>,
}

/// A drawn chart; dropping it removes it from the page.
struct Chart {
    plot: UPlot,
    /// The closures uPlot calls, alive as long as it is.
    _callbacks: Vec<Box<dyn Any>>,
    _click: EventListener,
}

impl Drop for Chart {
    fn drop(&mut self) {
        self.plot.destroy();
    }
}

/// The time under the cursor of `plot` (unix ms), if it is over the plot.
fn cursor_time(plot: &UPlot) -> Option<f64> {
    let left = uplot::number(&plot.cursor(), "left");
    (left.is_finite() && left >= 0.0).then(|| plot.pos_to_val(left, "x") * 1000.0)
}

/// The band under `t` (unix ms), the newest first.
fn band_at(bands: &[RunBand], t: f64, window: Window) -> Option<&RunBand> {
    bands.iter().rev().find(|b| b.start_ms as f64 <= t && t <= b.end_ms.map_or(window.to, |e| e as f64))
}

/// Whether a band's run failed: a non-zero exit, a signal, or PerfMon's own
/// stop — the rule [`crate::view::runs::failed`] applies to a run's record.
fn failed(band: &RunBand) -> bool {
    band.status.failed(band.exit_code)
}

/// What a band is called on the chart and in the readout: its label, else its
/// run's pid (the run report's title does the same), with `✕ ` before it when
/// it failed.
fn band_name(band: &RunBand) -> String {
    let name = band.label.clone().filter(|l| !l.trim().is_empty()).unwrap_or_else(|| {
        match band.run_id.split_once('-') {
            Some((pid, _)) => format!("pid {pid}"),
            None => band.run_id.clone(),
        }
    });
    if failed(band) { format!("✕ {name}") } else { name }
}

/// Rows of band labels: two, so that the labels of back-to-back runs can
/// each run past their narrow band, one above the other.
const LABEL_ROWS: usize = 2;

/// Where one band goes on the plot, canvas px.
#[derive(Debug, Clone, PartialEq)]
struct Slot {
    /// Its index among the bands laid out.
    band: usize,
    /// Its left edge.
    x0: f64,
    /// Its right edge.
    x1: f64,
    /// The row of its label, from the top.
    row: usize,
    /// How far right its label may run: past a narrow band's end into free
    /// space, never over another label.
    label_end: f64,
    /// Drawn in the denser of two shades: every other band, in order of start,
    /// so that neighbours never read as one.
    alternate: bool,
}

/// Lays out bands on a plot from `left` to `right`: `spans` are their starts
/// and ends in canvas px (NaN when unknown), `labels` the widths their labels
/// want. Bands wholly outside are left out; one narrower than `min_width` (a
/// run of seconds on a 30-day chart) is widened to it, so every run in range
/// is seen. Each label takes the first row free at its band's start and may
/// run on to the start of the band after next: so there is always a free row,
/// and every band gets a label, cut short only when bands crowd.
fn layout(spans: &[(f64, f64)], labels: &[f64], left: f64, right: f64, min_width: f64) -> Vec<Slot> {
    let mut order: Vec<usize> = (0..spans.len())
        .filter(|i| {
            let (start, end) = spans[*i];
            start.is_finite() && end.is_finite() && end >= left && start <= right && end >= start
        })
        .collect();
    order.sort_by(|a, b| spans[*a].0.total_cmp(&spans[*b].0));
    let mut slots: Vec<Slot> = order
        .iter()
        .enumerate()
        .map(|(n, &band)| {
            let (start, end) = spans[band];
            let x0 = start.max(left).min(right - min_width);
            let x1 = end.min(right).max(x0 + min_width);
            Slot { band, x0, x1, row: 0, label_end: x0, alternate: n % 2 == 1 }
        })
        .collect();
    let mut row_ends = [f64::NEG_INFINITY; LABEL_ROWS];
    for i in 0..slots.len() {
        let x0 = slots[i].x0;
        let Some(row) = (0..LABEL_ROWS).find(|r| row_ends[*r] <= x0) else { continue };
        let limit = slots.get(i + LABEL_ROWS).map_or(right, |s| s.x0);
        let wanted = labels.get(slots[i].band).copied().unwrap_or(0.0);
        slots[i].row = row;
        slots[i].label_end = limit;
        row_ends[row] = x0 + wanted.min(limit - x0);
    }
    slots
}

/// A colour with the given alpha (`#rrggbb` → `#rrggbbaa`); other forms as they are.
fn translucent(colour: &str, alpha: &str) -> String {
    if colour.len() == 7 && colour.starts_with('#') { format!("{colour}{alpha}") } else { colour.to_owned() }
}

/// Draws an empty chart of `lines` into `el`: uPlot's series are the lines,
/// then each line's range (two edges), then, when `compared`, each line's
/// faint earlier twin.
fn create(
    el: &web_sys::HtmlElement,
    lines: &[Line],
    height: u32,
    stacked: bool,
    compared: bool,
    live: &Rc<Live>,
) -> Option<Chart> {
    let palette = Palette::current();
    *live.palette.borrow_mut() = palette.clone();
    let width = f64::from(el.client_width().max(320));
    let n = lines.len();
    let mut series = vec![serde_json::json!({})];
    for (i, line) in lines.iter().enumerate() {
        series.push(serde_json::json!({
            "label": line.label, "stroke": palette.colour(i), "width": 1.5,
            "points": { "show": false }, "spanGaps": false,
        }));
    }
    let edge = serde_json::json!({ "stroke": "transparent", "width": 0, "points": { "show": false } });
    let mut bands = Vec::new();
    for i in 0..n {
        series.push(edge.clone());
        series.push(edge.clone());
        let (low, high) = (n + 1 + 2 * i, n + 2 + 2 * i);
        // Stacked, the band is the line's own layer: filled denser than a
        // min–max range, and still see-through to the grid.
        let alpha = if stacked { "8c" } else { "33" };
        bands.push(
            serde_json::json!({ "series": [high, low], "fill": translucent(palette.colour(i), alpha) }),
        );
    }
    if compared {
        for (i, line) in lines.iter().enumerate() {
            series.push(serde_json::json!({
                "label": format!("{} earlier", line.label), "stroke": translucent(palette.colour(i), "73"),
                "width": 1, "dash": [5, 4], "points": { "show": false }, "spanGaps": false,
            }));
        }
    }
    let total = if compared { 4 * n } else { 3 * n };
    let axis = serde_json::json!({
        "stroke": palette.text, "grid": { "stroke": palette.grid, "width": 1 },
        "ticks": { "stroke": palette.grid, "width": 1 }, "font": "11px system-ui, sans-serif",
    });
    let mut y_axis = axis.clone();
    y_axis["size"] = serde_json::json!(72);
    let opts = uplot::object(&serde_json::json!({
        "width": width, "height": height,
        "legend": { "show": false },
        "cursor": {
            "y": false, "points": { "show": false },
            "sync": { "key": "perfmon" },
            "drag": { "x": true, "y": false, "setScale": false },
        },
        "scales": { "x": { "time": true }, "y": {} },
        "axes": [axis, y_axis],
        "series": series,
        "bands": bands,
    }));

    let mut callbacks: Vec<Box<dyn Any>> = Vec::new();
    let x_range = {
        let live = live.clone();
        Closure::<dyn FnMut(JsValue, JsValue, JsValue) -> Array>::new(move |_, _, _| {
            let w = live.window.get();
            Array::of2(&(w.from / 1000.0).into(), &(w.to / 1000.0).into())
        })
    };
    uplot::set(&opts, &["scales", "x", "range"], x_range.as_ref());
    callbacks.push(Box::new(x_range));
    let y_range = {
        let live = live.clone();
        Closure::<dyn FnMut(JsValue, JsValue, JsValue) -> Array>::new(move |_, _, _| {
            Array::of2(&0.0.into(), &live.y_top.get().into())
        })
    };
    uplot::set(&opts, &["scales", "y", "range"], y_range.as_ref());
    callbacks.push(Box::new(y_range));
    let y_values = {
        let live = live.clone();
        Closure::<dyn FnMut(JsValue, Array) -> Array>::new(move |_, splits: Array| {
            let (unit, top) = (live.unit.get(), live.y_top.get());
            splits.iter().map(|v| JsValue::from_str(&unit.tick(v.as_f64().unwrap_or(0.0), top))).collect()
        })
    };
    let axes = js_sys::Reflect::get(&opts, &"axes".into()).ok()?;
    let y_axis = js_sys::Reflect::get(&axes, &1.into()).ok()?;
    js_sys::Reflect::set(&y_axis, &"values".into(), y_values.as_ref()).ok()?;
    callbacks.push(Box::new(y_values));
    // The store's grid has a null wherever a second had no sample (an idle
    // cadence of 3 s leaves two in three empty): only gaps longer than the
    // timeline's gap break a line, not every missing second.
    let gaps = {
        let live = live.clone();
        Closure::<dyn FnMut(UPlot, JsValue, JsValue, JsValue, Array) -> Array>::new(
            move |plot: UPlot, series: JsValue, _, _, found: Array| {
                let w = live.window.get();
                let width = uplot::number(&plot.bbox(), "width");
                let span = w.to - w.from;
                let faint = series.as_f64().is_some_and(|s| s > (3 * n) as f64);
                let gap = if faint { live.earlier_gap_ms.get() } else { live.gap_ms.get() };
                let threshold = if span > 0.0 { gap / span * width } else { f64::INFINITY };
                found
                    .iter()
                    .filter(|gap| {
                        let gap = Array::from(gap);
                        let (from, to) =
                            (gap.get(0).as_f64().unwrap_or(0.0), gap.get(1).as_f64().unwrap_or(0.0));
                        to - from > threshold
                    })
                    .collect()
            },
        )
    };
    let all_series = js_sys::Reflect::get(&opts, &"series".into()).ok()?;
    for i in 1..=total as u32 {
        let series = js_sys::Reflect::get(&all_series, &i.into()).ok()?;
        js_sys::Reflect::set(&series, &"gaps".into(), gaps.as_ref()).ok()?;
    }
    callbacks.push(Box::new(gaps));
    // 24-hour clock times and day-month dates on the time axis.
    let x_values = uplot::object(&serde_json::json!([
        [31_536_000, "{YYYY}", null, null, null, null, null, null, 1],
        [2_419_200, "{MMM}", "\n{YYYY}", null, null, null, null, null, 1],
        [86_400, "{D} {MMM}", "\n{YYYY}", null, null, null, null, null, 1],
        [3600, "{HH}:{mm}", "\n{D} {MMM} {YYYY}", null, "\n{D} {MMM}", null, null, null, 1],
        [60, "{HH}:{mm}", "\n{D} {MMM} {YYYY}", null, "\n{D} {MMM}", null, null, null, 1],
        [1, "{HH}:{mm}:{ss}", "\n{D} {MMM} {YYYY}", null, "\n{D} {MMM}", null, null, null, 1],
    ]));
    let x_axis = js_sys::Reflect::get(&axes, &0.into()).ok()?;
    js_sys::Reflect::set(&x_axis, &"values".into(), &x_values).ok()?;

    let on_cursor = {
        let live = live.clone();
        Closure::<dyn FnMut(UPlot)>::new(move |plot: UPlot| {
            if let Some(hover) = live.hover.borrow().as_ref() {
                hover.set(cursor_time(&plot));
            }
        })
    };
    uplot::set(&opts, &["hooks", "setCursor"], &uplot::hook_list(on_cursor.as_ref().unchecked_ref()));
    callbacks.push(Box::new(on_cursor));
    let on_select = {
        let live = live.clone();
        Closure::<dyn FnMut(UPlot)>::new(move |plot: UPlot| {
            let select = plot.select();
            let (left, width) = (uplot::number(&select, "left"), uplot::number(&select, "width"));
            if width.is_finite() && width > 4.0 {
                let from = plot.pos_to_val(left, "x") * 1000.0;
                let to = plot.pos_to_val(left + width, "x") * 1000.0;
                plot.set_select(&uplot::rect(0.0, 0.0, 0.0, 0.0), false);
                live.on_zoom.borrow().emit(Window { from, to });
            }
        })
    };
    uplot::set(&opts, &["hooks", "setSelect"], &uplot::hook_list(on_select.as_ref().unchecked_ref()));
    callbacks.push(Box::new(on_select));
    let on_clear = {
        let live = live.clone();
        Closure::<dyn FnMut(UPlot)>::new(move |plot: UPlot| {
            draw_bands(&plot, &live);
            place_plot_area(&plot);
        })
    };
    uplot::set(&opts, &["hooks", "drawClear"], &uplot::hook_list(on_clear.as_ref().unchecked_ref()));
    callbacks.push(Box::new(on_clear));

    let empty = uplot::aligned(&[], &vec![&[][..]; total]);
    let plot = match UPlot::new(&opts, &empty, el) {
        Ok(plot) => plot,
        Err(err) => {
            web_sys::console::error_2(&"PerfMon: the chart could not be drawn:".into(), &err);
            return None;
        }
    };
    let click = {
        let (live, plot) = (live.clone(), plot.clone());
        EventListener::new(&plot.over(), "click", move |_| {
            let Some(t) = cursor_time(&plot) else { return };
            let run = band_at(&live.bands.borrow(), t, live.window.get()).map(|b| b.run_id.clone());
            if let Some(run) = run {
                live.on_open_run.borrow().emit(run);
            }
        })
    };
    Some(Chart { plot, _callbacks: callbacks, _click: click })
}

/// Shades each run under the lines, with edges at its start and end, every
/// other band denser, a strip of the critical colour along a failed run's top,
/// and its name at the top, running past a narrow band into free space (see
/// [`layout`]). Says on the chart's figure how many bands it drew and labelled.
fn draw_bands(plot: &UPlot, live: &Live) {
    let bands = live.bands.borrow();
    let bbox = plot.bbox();
    let (left, top) = (uplot::number(&bbox, "left"), uplot::number(&bbox, "top"));
    let (width, height) = (uplot::number(&bbox, "width"), uplot::number(&bbox, "height"));
    let ratio = web_sys::window().map_or(1.0, |w| w.device_pixel_ratio());
    let ctx = plot.ctx();
    let palette = live.palette.borrow();
    let window = live.window.get();
    let spans: Vec<(f64, f64)> = bands
        .iter()
        .map(|b| {
            let end = b.end_ms.map_or(window.to, |e| e as f64);
            (plot.val_to_pos(b.start_ms as f64 / 1000.0, "x", true), plot.val_to_pos(end / 1000.0, "x", true))
        })
        .collect();
    ctx.save();
    // uPlot leaves its axis labels' alignment on the context.
    ctx.set_text_align("left");
    ctx.set_text_baseline("alphabetic");
    ctx.set_font(&format!("{}px system-ui, sans-serif", (11.0 * ratio).round()));
    let names: Vec<String> = bands.iter().map(band_name).collect();
    // A label's room: 4 px before it, 6 px after.
    let (pad, room) = (4.0 * ratio, 10.0 * ratio);
    let wanted: Vec<f64> =
        names.iter().map(|n| ctx.measure_text(n).map_or(0.0, |m| m.width()) + room).collect();
    let slots = layout(&spans, &wanted, left, left + width, 2.0 * ratio);
    let edge = translucent(&palette.band_text, "73");
    let mut labelled = 0;
    for slot in &slots {
        let band = &bands[slot.band];
        let failing = failed(band);
        ctx.set_fill_style_str(&palette.band);
        ctx.fill_rect(slot.x0, top, slot.x1 - slot.x0, height);
        if slot.alternate {
            ctx.fill_rect(slot.x0, top, slot.x1 - slot.x0, height);
        }
        // A line at each end, where the band has one: back to back, the line
        // between two runs is the boundary.
        ctx.set_fill_style_str(&edge);
        ctx.fill_rect(slot.x0, top, ratio, height);
        if band.end_ms.is_some() {
            ctx.fill_rect(slot.x1 - ratio, top, ratio, height);
        }
        if failing {
            ctx.set_fill_style_str(&palette.critical);
            ctx.fill_rect(slot.x0, top, slot.x1 - slot.x0, 3.0 * ratio);
        }
        if let Some(label) = fitted(&ctx, &names[slot.band], slot.label_end - slot.x0 - room) {
            ctx.set_fill_style_str(if failing { &palette.critical } else { &palette.band_text });
            let baseline = top + (16.0 + 14.0 * slot.row as f64) * ratio;
            let _ = ctx.fill_text(&label, slot.x0 + pad, baseline);
            labelled += 1;
        }
    }
    ctx.restore();
    if let Ok(Some(figure)) = plot.over().closest("figure") {
        let _ = figure.set_attribute("data-drawn-bands", &slots.len().to_string());
        let _ = figure.set_attribute("data-labelled-bands", &labelled.to_string());
    }
}

/// Sets the chart's `--plot-left`, `--plot-top`, `--plot-width` and
/// `--plot-height` to uPlot's plot area (past its axes), CSS px: the box the
/// alert marks are placed in by fractions of the window, as the x scale is.
/// Called as each drawing starts, when uPlot has laid the plot out for it
/// (its axes' sizes follow the data, so the area moves after the first).
fn place_plot_area(plot: &UPlot) {
    let Some(area) = plot.over().closest(".chart__area").ok().flatten() else { return };
    let Ok(area) = area.dyn_into::<web_sys::HtmlElement>() else { return };
    let bbox = plot.bbox();
    let ratio = web_sys::window().map_or(1.0, |w| w.device_pixel_ratio()).max(0.1);
    let style = area.style();
    for (name, key) in [
        ("--plot-left", "left"),
        ("--plot-top", "top"),
        ("--plot-width", "width"),
        ("--plot-height", "height"),
    ] {
        let _ = style.set_property(name, &format!("{:.1}px", uplot::number(&bbox, key) / ratio));
    }
}

/// What one drawing reads from the props.
#[derive(Clone)]
struct Drawing {
    timeline: SharedTimeline,
    lines: Vec<Line>,
    window: Window,
    unit: Unit,
    stacked: bool,
    earlier: Option<Earlier>,
}

impl Drawing {
    fn of(props: &TimeChartProps) -> Drawing {
        Drawing {
            timeline: props.timeline.clone(),
            lines: props.lines.clone(),
            window: props.window,
            unit: props.unit,
            stacked: props.stacked,
            earlier: props.earlier.clone(),
        }
    }
}

/// Decimated lines stacked: at each point, each line with a value lies on the
/// sum of the values before it, and its range (the band uPlot fills) runs
/// from that sum to its own top. A line without a value at a point adds
/// nothing and is not drawn there; a point where no line has one stays a gap.
fn stack(lines: &[DecimatedLine]) -> Vec<DecimatedLine> {
    let len = lines.first().map_or(0, |l| l.values.len());
    let mut stacked: Vec<DecimatedLine> = lines.iter().map(|_| DecimatedLine::default()).collect();
    for k in 0..len {
        let mut base = 0.0;
        for (line, out) in lines.iter().zip(&mut stacked) {
            match line.values.get(k).copied().flatten().filter(|v| v.is_finite()) {
                Some(v) => {
                    out.low.push(Some(base));
                    base += v;
                    out.values.push(Some(base));
                    out.high.push(Some(base));
                }
                None => {
                    out.low.push(None);
                    out.values.push(None);
                    out.high.push(None);
                }
            }
        }
    }
    stacked
}

/// `label` cut to fit `width` canvas px (ending in `…`), or nothing when not
/// even that fits: a narrow band keeps its shading, not a squeezed word.
fn fitted(ctx: &web_sys::CanvasRenderingContext2d, label: &str, width: f64) -> Option<String> {
    let fits = |text: &str| ctx.measure_text(text).is_ok_and(|m| m.width() <= width);
    if fits(label) {
        return Some(label.to_owned());
    }
    let chars: Vec<char> = label.chars().collect();
    (1..chars.len()).rev().map(|n| format!("{}…", chars[..n].iter().collect::<String>())).find(|t| fits(t))
}

/// The columns of `lines` in `timeline` (`empty` for a series it lacks).
fn line_data<'a>(timeline: &'a Timeline, lines: &[Line], empty: &'a Column) -> Vec<LineData<'a>> {
    lines.iter().map(|l| timeline.column(&l.key).unwrap_or(empty).line()).collect()
}

/// What one drawing drew, said on the chart's figure.
struct Drawn {
    /// Rows handed to uPlot.
    points: usize,
    /// Rows inserted to break the lines over gaps.
    breaks: usize,
    /// uPlot's series besides the times.
    series: usize,
    /// Values on the faint earlier lines.
    earlier_points: usize,
}

/// Decimates the lines (and the earlier span's, moved onto the window) to the
/// chart's width and hands them to uPlot.
fn draw(chart: &Chart, props: &Drawing, live: &Live, width: f64) -> Drawn {
    let timeline = props.timeline.0.borrow();
    let empty = Column::default();
    let plotted = (width - 80.0).max(100.0) as usize;
    let window = props.window;
    live.gap_ms.set(timeline.gap_ms());
    let mut d = decimate::decimate(
        &timeline.times,
        &line_data(&timeline, &props.lines, &empty),
        window.from,
        window.to,
        plotted,
        timeline.gap_ms(),
    );
    if props.stacked {
        d.lines = stack(&d.lines);
    }
    let faint = props.earlier.as_ref().map(|e| match e.timeline.as_deref() {
        Some(earlier) => {
            live.earlier_gap_ms.set(earlier.gap_ms());
            let lines = line_data(earlier, &props.lines, &empty);
            let mut e =
                decimate::decimate(&earlier.times, &lines, window.from, window.to, plotted, earlier.gap_ms());
            if props.stacked {
                e.lines = stack(&e.lines);
            }
            let (merged, faint) = earlier::merge(std::mem::take(&mut d), &e);
            d = merged;
            faint
        }
        // Asked for, not answered yet: the faint lines are drawn empty.
        None => vec![vec![None; d.times.len()]; props.lines.len()],
    });
    let faint = faint.unwrap_or_default();
    let highest = d
        .lines
        .iter()
        .flat_map(|l| l.high.iter().chain(&l.values))
        .chain(faint.iter().flatten())
        .flatten()
        .copied()
        .reduce(f64::max);
    live.y_top.set(props.unit.top(highest));
    *live.bands.borrow_mut() = timeline.runs.clone();
    let xs: Vec<f64> = d.times.iter().map(|t| t / 1000.0).collect();
    let mut columns: Vec<&[Option<f64>]> = d.lines.iter().map(|l| l.values.as_slice()).collect();
    for line in &d.lines {
        columns.push(&line.low);
        columns.push(&line.high);
    }
    columns.extend(faint.iter().map(Vec::as_slice));
    chart.plot.set_data(&uplot::aligned(&xs, &columns));
    Drawn {
        points: d.times.len(),
        breaks: d.breaks,
        series: columns.len(),
        earlier_points: faint.iter().flatten().flatten().count(),
    }
}

/// The readout: the time under the cursor and each line's value there.
fn readout(props: &TimeChartProps, at: Option<f64>) -> String {
    let timeline = props.timeline.0.borrow();
    let times = &timeline.times;
    let has_value = |i: usize| {
        props
            .lines
            .iter()
            .any(|l| timeline.column(&l.key).is_some_and(|c| c.mean.get(i).copied().flatten().is_some()))
    };
    let (index, time) = match at {
        Some(t) => (decimate::nearest(times, t), t),
        // Off the plot: the newest point in the window with a value to show.
        None => {
            let (start, end) = (
                times.partition_point(|t| *t < props.window.from),
                times.partition_point(|t| *t <= props.window.to),
            );
            match (start..end).rev().find(|i| has_value(*i)) {
                Some(i) => (Some(i), times[i]),
                None => (None, props.window.to),
            }
        }
    };
    let Some(index) = index else { return "No data".to_owned() };
    // Dated whenever the window crosses a local midnight, like the range's caption.
    let clock = Clock::for_span(props.window.from, props.window.to, browser_offset);
    let mut parts = vec![local_time(timeline.times[index], browser_offset(time), clock)];
    for line in &props.lines {
        let value = timeline.column(&line.key).and_then(|c| c.mean.get(index).copied().flatten());
        parts.push(format!(
            "{} {}",
            line.label,
            value.map_or("no data".to_owned(), |v| props.unit.format(v))
        ));
    }
    if let Some(earlier) = &props.earlier
        && let Some(before) = earlier.timeline.as_deref()
    {
        let lines: Vec<(&str, &str)> =
            props.lines.iter().map(|l| (l.key.as_str(), l.label.as_str())).collect();
        parts.push(earlier::readout(
            before,
            &lines,
            timeline.times[index],
            props.unit,
            earlier.compare.words(),
        ));
    }
    if let Some(t) = at
        && let Some(band) = band_at(&timeline.runs, t, props.window)
    {
        parts.push(format!("run {}", band_name(band)));
    }
    parts.join(" · ")
}

/// The text alternative: each line's latest, min, max and mean over the window.
fn summary(props: &TimeChartProps) -> String {
    let timeline = props.timeline.0.borrow();
    let parts: Vec<String> = props
        .lines
        .iter()
        .filter_map(|line| {
            let column = timeline.column(&line.key)?;
            let s = decimate::summarise(&timeline.times, &column.line(), props.window.from, props.window.to)?;
            let f = |v| props.unit.format(v);
            Some(format!(
                "{}: latest {}, min {}, max {}, mean {}",
                line.label,
                f(s.latest),
                f(s.min),
                f(s.max),
                f(s.mean)
            ))
        })
        .collect();
    if parts.is_empty() { "No data in this range.".to_owned() } else { format!("{}.", parts.join("; ")) }
}

/// With the same span earlier (and answered): the head's change of each
/// line's mean, and the text alternative's sentence on the earlier means.
fn comparison(props: &TimeChartProps) -> Option<(Option<String>, String)> {
    let earlier = props.earlier.as_ref()?;
    let before = earlier.timeline.as_deref()?;
    let timeline = props.timeline.0.borrow();
    let w = props.window;
    let labels: Vec<&str> = props.lines.iter().map(|l| l.label.as_str()).collect();
    let now: Vec<Option<f64>> = props.lines.iter().map(|l| earlier::mean(&timeline, &l.key, w)).collect();
    let then: Vec<Option<f64>> = props.lines.iter().map(|l| earlier::mean(before, &l.key, w)).collect();
    let words = earlier.compare.words();
    Some((earlier::change(&labels, &now, &then, words), earlier::recalled(&labels, &then, props.unit, words)))
}

/// A time chart.
#[function_component(TimeChart)]
pub fn time_chart(props: &TimeChartProps) -> Html {
    let container = use_node_ref();
    let figure = use_node_ref();
    let hover = use_state_eq(|| None::<f64>);
    let chart = use_mut_ref(|| None::<Chart>);
    let live = use_memo((), |_| Live {
        window: Cell::new(props.window),
        gap_ms: Cell::new(f64::INFINITY),
        earlier_gap_ms: Cell::new(f64::INFINITY),
        y_top: Cell::new(1.0),
        unit: Cell::new(props.unit),
        bands: RefCell::default(),
        on_zoom: RefCell::default(),
        on_open_run: RefCell::default(),
        hover: RefCell::default(),
        palette: RefCell::new(Palette::current()),
    });
    live.window.set(props.window);
    live.unit.set(props.unit);
    *live.on_zoom.borrow_mut() = props.on_zoom.clone();
    *live.on_open_run.borrow_mut() = props.on_open_run.clone();
    *live.hover.borrow_mut() = Some(hover.setter());

    let redraw = {
        let (chart, container, figure, live) =
            (chart.clone(), container.clone(), figure.clone(), live.clone());
        move |drawing: &Drawing| {
            let chart = chart.borrow();
            let (Some(el), Some(chart)) = (container.cast::<web_sys::HtmlElement>(), chart.as_ref()) else {
                return;
            };
            let drawn = draw(chart, drawing, &live, f64::from(el.client_width().max(320)));
            if let Some(figure) = figure.cast::<web_sys::Element>() {
                let _ = figure.set_attribute("data-drawn-points", &drawn.points.to_string());
                let _ = figure.set_attribute("data-breaks", &drawn.breaks.to_string());
                let _ = figure.set_attribute("data-series", &drawn.series.to_string());
                let _ = figure.set_attribute("data-earlier-points", &drawn.earlier_points.to_string());
                let _ = figure.set_attribute("data-y-top", &live.y_top.get().to_string());
                let bands = live.bands.borrow();
                let _ = figure.set_attribute("data-bands", &bands.len().to_string());
                let failures = bands.iter().filter(|b| failed(b)).count();
                let _ = figure.set_attribute("data-failed-bands", &failures.to_string());
            }
        }
    };
    {
        let (chart, container, live) = (chart.clone(), container.clone(), live.clone());
        let compared = props.earlier.is_some();
        let deps = (props.scheme, props.lines.clone(), props.height, props.stacked, compared);
        use_effect_with(deps, move |(_, lines, height, stacked, compared)| {
            if let Some(el) = container.cast::<web_sys::HtmlElement>() {
                chart.borrow_mut().take();
                *chart.borrow_mut() = create(&el, lines, *height, *stacked, *compared, &live);
            }
            move || drop(chart.borrow_mut().take())
        });
    }
    {
        // Declared after the chart's creation, so it runs after it: draws the data.
        let (redraw, drawing) = (redraw.clone(), Drawing::of(props));
        let deps = (props.version, props.window, props.scheme, props.lines.clone(), props.earlier.clone());
        use_effect_with(deps, move |_| redraw(&drawing));
    }
    {
        let (chart, container) = (chart.clone(), container.clone());
        let (redraw, drawing, height) = (redraw.clone(), Drawing::of(props), props.height);
        use_effect_with((props.version, props.window, height, props.earlier.clone()), move |_| {
            let listener = web_sys::window().map(|w| {
                EventListener::new(&w, "resize", move |_| {
                    if let (Some(chart), Some(el)) =
                        (chart.borrow().as_ref(), container.cast::<web_sys::HtmlElement>())
                    {
                        let size =
                            serde_json::json!({ "width": el.client_width().max(320), "height": height });
                        chart.plot.set_size(&uplot::object(&size));
                    }
                    redraw(&drawing);
                })
            });
            move || drop(listener)
        });
    }
    let deps = (props.version, props.window, props.lines.clone(), props.earlier.clone());
    let texts = use_memo(deps, |_| {
        let comparison = comparison(props);
        let summary = match &comparison {
            Some((_, recalled)) => format!("{} {recalled}", summary(props)),
            None => summary(props),
        };
        (summary, comparison.and_then(|(change, _)| change))
    });
    let (summary, compared) = &*texts;
    let marks = &props.marks;
    // Always there, empty without alerts: a list added beside the plot
    // later would make Yew recreate the plot's element, and lose uPlot's
    // drawing in it.
    let marks = html! {
        <ul class="chart__alerts" aria-label="Alerts in this span" data-testid="alert-marks" hidden={marks.is_empty()}>
            { for marks.iter().map(|m| html! {
                <li class={classes!("alert-mark", format!("alert-mark--{}", m.severity.key()),
                        (!m.line).then_some("alert-mark--open"))}
                    style={m.style()} title={m.label.clone()} data-testid="alert-mark"
                    data-alert-id={m.id.to_string()}>
                    <span class="visually-hidden">{ m.label.clone() }</span>
                </li>
            }) }
        </ul>
    };
    html! {
        <figure class="chart" data-testid={props.id.clone()} ref={figure}>
            <figcaption class="chart__head">
                <span class="chart__title">{ props.title.clone() }</span>
                if let Some(change) = compared {
                    <span class="chart__change" data-testid="compare">{ change.clone() }</span>
                }
                <span class="chart__readout" data-testid="readout" aria-live="off">{ readout(props, *hover) }</span>
            </figcaption>
            <div class="chart__area">
                <div class="chart__plot" ref={container} aria-hidden="true"></div>
                { marks }
            </div>
            <p class="chart__summary" data-testid="summary">{ summary.clone() }</p>
            { props.children.clone() }
        </figure>
    }
}

#[cfg(test)]
mod tests {
    use shared::api::RunOutcome;

    use super::*;

    fn band(id: &str, label: Option<&str>, status: RunOutcome, exit_code: Option<i32>) -> RunBand {
        RunBand {
            run_id: id.into(),
            label: label.map(Into::into),
            start_ms: 0,
            end_ms: Some(1),
            status,
            exit_code,
        }
    }

    #[test]
    fn back_to_back_bands_stay_two_in_alternate_shades_with_a_label_each() {
        // A 60 px run, a 10 px one straight after it, one after that, and one
        // later on; their labels want 100 px each.
        let spans = [(100.0, 160.0), (160.0, 170.0), (170.0, 180.0), (400.0, 500.0)];
        let slots = layout(&spans, &[100.0; 4], 50.0, 800.0, 2.0);
        let placed: Vec<_> =
            slots.iter().map(|s| (s.band, s.x0, s.x1, s.alternate, s.row, s.label_end)).collect();
        assert_eq!(
            placed,
            [
                (0, 100.0, 160.0, false, 0, 170.0),
                (1, 160.0, 170.0, true, 1, 400.0),
                (2, 170.0, 180.0, false, 0, 800.0),
                (3, 400.0, 500.0, true, 0, 800.0),
            ],
            "each label may run to the band after next: the narrow ones in two rows"
        );
    }

    #[test]
    fn labels_keep_to_the_top_row_while_they_fit() {
        let spans = [(100.0, 160.0), (160.0, 300.0), (300.0, 310.0)];
        let rows: Vec<_> =
            layout(&spans, &[50.0, 200.0, 40.0], 0.0, 800.0, 2.0).iter().map(|s| s.row).collect();
        assert_eq!(rows, [0, 0, 1], "only a label that would run into the one before drops a row");
    }

    #[test]
    fn bands_are_clipped_to_the_plot_and_a_tiny_one_is_still_seen() {
        let spans = [(500.0, 500.3), (0.0, 120.0), (f64::NAN, 10.0), (900.0, 950.0), (790.0, 900.0)];
        let slots = layout(&spans, &[0.0; 5], 50.0, 800.0, 2.0);
        let placed: Vec<_> = slots.iter().map(|s| (s.band, s.x0, s.x1)).collect();
        assert_eq!(placed, [(1, 50.0, 120.0), (0, 500.0, 502.0), (4, 790.0, 800.0)], "in order of start");
        let edge = layout(&[(799.5, 800.0)], &[0.0], 50.0, 800.0, 2.0);
        assert_eq!((edge[0].x0, edge[0].x1), (798.0, 800.0), "widened inward at the plot's edge");
    }

    #[test]
    fn stacked_lines_lie_on_the_ones_before_and_fill_down_to_them() {
        let line = |values: &[Option<f64>]| DecimatedLine {
            values: values.to_vec(),
            low: values.to_vec(),
            high: values.to_vec(),
        };
        // user, system, and a guest figure the kernel gave only once.
        let lines = [
            line(&[Some(40.0), Some(10.0), None]),
            line(&[Some(5.0), Some(2.5), None]),
            line(&[None, Some(1.0), None]),
        ];
        let stacked = stack(&lines);
        assert_eq!(stacked[0].values, [Some(40.0), Some(10.0), None]);
        assert_eq!(stacked[0].low, [Some(0.0), Some(0.0), None], "the first layer fills down to zero");
        assert_eq!(stacked[1].values, [Some(45.0), Some(12.5), None]);
        assert_eq!(stacked[1].low, [Some(40.0), Some(10.0), None]);
        assert_eq!(stacked[1].high, stacked[1].values, "each layer's band ends at its line");
        assert_eq!(stacked[2].values, [None, Some(13.5), None], "no value: nothing drawn, no 0 made up");
        assert_eq!(stacked[2].low, [None, Some(12.5), None]);
        assert!(stack(&[]).is_empty());
    }

    #[test]
    fn failed_runs_are_named_with_a_cross() {
        let ok = band("7-2026-12-01T10:00:00Z", Some("nightly"), RunOutcome::Exited, Some(0));
        assert!(!failed(&ok));
        assert_eq!(band_name(&ok), "nightly");
        let bad = band("7-2026-12-01T10:00:00Z", Some("nightly"), RunOutcome::Exited, Some(3));
        assert!(failed(&bad));
        assert_eq!(band_name(&bad), "✕ nightly");
        let killed = band("42-2026-12-01T10:00:00Z", None, RunOutcome::Killed, None);
        assert_eq!(band_name(&killed), "✕ pid 42", "no label: its pid");
        assert!(failed(&band("x", None, RunOutcome::Interrupted, None)));
        assert!(!failed(&band("x", None, RunOutcome::Exited, None)), "an unknown exit is not a failure");
        assert!(!failed(&band("x", None, RunOutcome::Ended, None)));
        assert!(!failed(&band("x", None, RunOutcome::Running, None)));
    }
}
