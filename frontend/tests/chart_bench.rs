//! How fast a chart draws, measured in a real (headless) browser with the real
//! uPlot — the figures behind the dashboard's choice of drawing (BENCHMARKS.md).
//! Ignored by the test run; `scripts/bench.sh` runs it:
//! `cargo test -p frontend --release --target wasm32-unknown-unknown --test chart_bench -- --include-ignored --nocapture`.
//!
//! Each row is one day at one sample a second (86,400 points) on a 1,200 px chart:
//! - uPlot given every point (what it would draw without decimation);
//! - the dashboard's path: decimated to two points a pixel column, then uPlot;
//! - the same decimated points as a bare canvas polyline: the floor for
//!   drawing the charts ourselves instead of with uPlot;
//! - a live sample arriving: appended to the day, decimated, drawn again.
#![cfg(target_arch = "wasm32")]

use frontend::components::charts::uplot::{self, UPlot};
use frontend::state::timeline::Timeline;
use frontend::view::decimate::{LineData, decimate};
use shared::api::HistorySeries;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

const POINTS: usize = 86_400;
const WIDTH: usize = 1200;
const ROUNDS: usize = 15;
const T0: f64 = 1_795_000_000_000.0;

fn now() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map_or(0.0, |p| p.now())
}

fn load_uplot() {
    if !js_sys::Reflect::has(&js_sys::global(), &"uPlot".into()).unwrap_or(false) {
        let source = include_str!("../node_modules/uplot/dist/uPlot.iife.min.js");
        js_sys::eval(&format!("{source}\n;globalThis.uPlot = uPlot;")).expect("uPlot loads");
    }
}

fn chart() -> UPlot {
    let document = web_sys::window().and_then(|w| w.document()).expect("a document");
    let el: web_sys::HtmlElement =
        wasm_bindgen::JsCast::unchecked_into(document.create_element("div").expect("div"));
    document.body().expect("body").append_child(&el).expect("mounts");
    let opts = uplot::object(&serde_json::json!({
        "width": WIDTH, "height": 200, "legend": { "show": false },
        "scales": { "x": { "time": true } },
        "series": [{}, { "stroke": "#6ea8fe", "width": 1.5, "points": { "show": false } },
            { "stroke": "transparent" }, { "stroke": "transparent" }],
        "bands": [{ "series": [3, 2], "fill": "#6ea8fe33" }],
    }));
    UPlot::new(&opts, &uplot::aligned(&[], &[&[], &[], &[]]), &el).expect("a chart")
}

/// `(median, max)` of `f`'s time over [`ROUNDS`] runs, ms.
fn time(mut f: impl FnMut()) -> (f64, f64) {
    let mut times: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let start = now();
            f();
            now() - start
        })
        .collect();
    times.sort_by(f64::total_cmp);
    (times[ROUNDS / 2], times[ROUNDS - 1])
}

/// Sets `data` and draws it before returning.
fn draw_now(plot: &UPlot, data: &js_sys::Array) {
    let (plot_ref, data) = (plot.clone(), data.clone());
    let ops = wasm_bindgen::closure::Closure::once_into_js(move || plot_ref.set_data(&data));
    plot.batch(wasm_bindgen::JsCast::unchecked_ref(&ops));
}

fn day() -> Timeline {
    let mut h = HistorySeries { step_s: 1, tier: "raw".into(), ..HistorySeries::default() };
    h.timestamps = (0..POINTS as i64).map(|i| T0 as i64 + i * 1000).collect();
    h.series.insert("cpu.percent".into(), (0..POINTS).map(|i| Some(((i * 7919) % 100) as f64)).collect());
    Timeline::from_history(h)
}

fn report(row: &str, (median, max): (f64, f64)) {
    web_sys::console::log_1(&format!("chart-bench | {row} | {median:.2} | {max:.2} |").into());
}

#[wasm_bindgen_test]
#[ignore]
fn drawing_a_day_at_one_hertz() {
    load_uplot();
    let plot = chart();
    let timeline = day();
    let values = &timeline.columns["cpu.percent"].mean;
    let xs: Vec<f64> = timeline.times.iter().map(|t| t / 1000.0).collect();
    // The same three series the dashboard's chart has: the line and its range.
    let all = [values.as_slice(), values.as_slice(), values.as_slice()];
    report("uPlot given all 86,400 points", time(|| draw_now(&plot, &uplot::aligned(&xs, &all))));

    let to = T0 + POINTS as f64 * 1000.0;
    let draw = |t: &Timeline| {
        let column = &t.columns["cpu.percent"];
        let d = decimate(&t.times, &[column.line()], T0, to, WIDTH, 10_000.0);
        let xs: Vec<f64> = d.times.iter().map(|t| t / 1000.0).collect();
        draw_now(&plot, &uplot::aligned(&xs, &[&d.lines[0].values, &d.lines[0].low, &d.lines[0].high]));
    };
    report("decimated to 2 points a column, then uPlot", time(|| draw(&timeline)));
    report(
        "decimation alone",
        time(|| {
            let column = &timeline.columns["cpu.percent"];
            let d = decimate(&timeline.times, &[LineData::plain(&column.mean)], T0, to, WIDTH, 10_000.0);
            assert!(d.times.len() <= 2 * WIDTH + 2);
        }),
    );
    // The floor for drawing it ourselves: the same decimated points as one bare
    // canvas polyline, no axes, grid, range band or cursor.
    let canvas: web_sys::HtmlCanvasElement = wasm_bindgen::JsCast::unchecked_into(
        web_sys::window()
            .and_then(|w| w.document())
            .expect("document")
            .create_element("canvas")
            .expect("canvas"),
    );
    canvas.set_width(WIDTH as u32);
    canvas.set_height(200);
    let ctx: web_sys::CanvasRenderingContext2d =
        wasm_bindgen::JsCast::unchecked_into(canvas.get_context("2d").ok().flatten().expect("a 2d context"));
    report(
        "decimated, then a bare canvas polyline (the floor for our own drawing)",
        time(|| {
            let column = &timeline.columns["cpu.percent"];
            let d = decimate(&timeline.times, &[column.line()], T0, to, WIDTH, 10_000.0);
            ctx.clear_rect(0.0, 0.0, WIDTH as f64, 200.0);
            ctx.begin_path();
            for (t, v) in d.times.iter().zip(&d.lines[0].values) {
                if let Some(v) = v {
                    ctx.line_to((t - T0) / (to - T0) * WIDTH as f64, 200.0 - v * 2.0);
                }
            }
            ctx.stroke();
        }),
    );
    let mut live = day();
    let mut second = POINTS;
    report(
        "a live sample: append, decimate, draw",
        time(|| {
            second += 1;
            let m = shared::PerfMetrics {
                timestamp: shared::Timestamp(String::from(
                    js_sys::Date::new(&(T0 + second as f64 * 1000.0).into()).to_iso_string(),
                )),
                cpu: shared::Cpu { percent: Some(50.0), ..shared::Cpu::default() },
                ..shared::PerfMetrics::default()
            };
            live.push(&m);
            draw(&live);
        }),
    );
    plot.destroy();
}
