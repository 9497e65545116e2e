//! The dashboard's parts rendered in a real (headless) browser with the real
//! uPlot: a chart decimates a day of samples to its width and keeps its spike,
//! its hover readout reads the data under the cursor (dated when the window
//! crosses midnight), runs are bands that never merge and failed ones are
//! marked, a stacked chart scales to its lines' sum, an empty chart and a gap
//! in the data say so, memory is scaled to
//! what is used and says what is installed; the runs table sorts, links and
//! pages.
#![cfg(target_arch = "wasm32")]

use std::rc::Rc;

use frontend::components::charts::{ChartSet, Line, TimeChart};
use frontend::components::runs::{RunSummary, RunsTable};
use frontend::hooks::Scheme;
use frontend::state::{SharedTimeline, Timeline, Window};
use frontend::view::format::Unit;
use shared::Timestamp;
use shared::api::{HistorySeries, RunBand, RunOutcome, RunRecord};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::Element;
use yew::prelude::*;

mod support;

use support::{T0, attr, find, load_uplot, mount_point, point_at, settle};

wasm_bindgen_test_configure!(run_in_browser);

/// `n` points a second apart from `start` (unix ms), valued by `value(i)`.
fn timeline(start: i64, n: usize, value: impl Fn(usize) -> Option<f64>) -> Timeline {
    let mut h = HistorySeries { step_s: 1, tier: "raw".into(), ..HistorySeries::default() };
    h.timestamps = (0..n as i64).map(|i| start + i * 1000).collect();
    h.series.insert("cpu.percent".into(), (0..n).map(value).collect());
    Timeline::from_history(h)
}

#[derive(Properties, PartialEq)]
struct Host {
    timeline: SharedTimeline,
    window: Window,
    #[prop_or_default]
    on_open_run: Callback<String>,
}

#[function_component(ChartHost)]
fn chart_host(props: &Host) -> Html {
    html! {
        <TimeChart id="cpu" title="CPU" unit={Unit::Percent} lines={vec![Line::new("cpu.percent", "CPU")]}
            timeline={props.timeline.clone()} version={1} window={props.window} scheme={Scheme::Dark}
            on_open_run={props.on_open_run.clone()} />
    }
}

fn render_chart(timeline: Timeline, window: Window) -> Element {
    render_chart_with(timeline, window, Callback::noop())
}

fn render_chart_with(timeline: Timeline, window: Window, on_open_run: Callback<String>) -> Element {
    load_uplot();
    let root = mount_point();
    yew::Renderer::<ChartHost>::with_root_and_props(
        root.clone(),
        Host { timeline: SharedTimeline::new(timeline), window, on_open_run },
    )
    .render();
    root
}

#[wasm_bindgen_test]
async fn a_day_of_samples_is_decimated_to_the_width_and_keeps_its_spike() {
    let day = 86_400;
    let root = render_chart(
        timeline(T0, day, |i| Some(if i == 50_001 { 100.0 } else { 10.0 + (i % 7) as f64 })),
        Window { from: T0 as f64, to: (T0 + day as i64 * 1000) as f64 },
    );
    settle().await;
    let figure = find(&root, "[data-testid='cpu']");
    let drawn = attr(&figure, "data-drawn-points");
    let width = find(&root, ".chart__plot").client_width() as usize;
    assert!(drawn > 0, "the chart draws");
    assert!(drawn <= 2 * width + 4, "{drawn} points drawn for {width} px: at most two a column");
    assert!(find(&root, "canvas").client_width() > 0, "uPlot drew a canvas");
    let summary = find(&root, "[data-testid='summary']").text_content().unwrap_or_default();
    assert!(summary.contains("max 100.0 %"), "the spike is in the summary: {summary}");
    assert!(summary.contains("min 10.0 %"), "{summary}");
}

#[wasm_bindgen_test]
async fn the_readout_shows_the_value_under_the_cursor() {
    // 101 points valued by their index across the window: the middle is 50.
    let root = render_chart(
        timeline(T0, 101, |i| Some(i as f64)),
        Window { from: T0 as f64, to: (T0 + 100_000) as f64 },
    );
    settle().await;
    let over = find(&root, ".u-over");
    for (fraction, expected) in [(0.5, "CPU 50.0 %"), (0.25, "CPU 25.0 %"), (0.9, "CPU 90.0 %")] {
        point_at(&root, fraction, false).await;
        let readout = find(&root, "[data-testid='readout']").text_content().unwrap_or_default();
        assert!(
            readout.contains(expected),
            "at {fraction} of the width the readout says {expected}: {readout}"
        );
    }
    let leave = web_sys::MouseEvent::new("mouseleave").expect("an event");
    over.dispatch_event(&leave).expect("dispatched");
    settle().await;
    let readout = find(&root, "[data-testid='readout']").text_content().unwrap_or_default();
    assert!(readout.contains("CPU 100.0 %"), "off the plot it shows the newest value: {readout}");
}

#[wasm_bindgen_test]
async fn a_run_is_a_band_and_clicking_it_opens_the_run() {
    let mut timeline = timeline(T0, 101, |i| Some(i as f64));
    timeline.runs.push(shared::api::RunBand {
        run_id: "42-2026-12-01T10:00:00Z".into(),
        label: Some("nightly".into()),
        start_ms: T0 + 40_000,
        end_ms: Some(T0 + 70_000),
        status: RunOutcome::Exited,
        exit_code: Some(0),
    });
    let opened = Rc::new(std::cell::RefCell::new(Vec::<String>::new()));
    let on_open_run = {
        let opened = opened.clone();
        Callback::from(move |run: String| opened.borrow_mut().push(run))
    };
    let root =
        render_chart_with(timeline, Window { from: T0 as f64, to: (T0 + 100_000) as f64 }, on_open_run);
    settle().await;
    assert_eq!(attr(&find(&root, "[data-testid='cpu']"), "data-bands"), 1);
    point_at(&root, 0.55, false).await;
    let readout = find(&root, "[data-testid='readout']").text_content().unwrap_or_default();
    assert!(readout.contains("run nightly"), "the readout names the run under the cursor: {readout}");
    point_at(&root, 0.2, true).await;
    assert!(opened.borrow().is_empty(), "a click beside the band opens nothing");
    point_at(&root, 0.55, true).await;
    assert_eq!(*opened.borrow(), ["42-2026-12-01T10:00:00Z"], "a click on the band opens its run");
}

fn band(id: &str, label: &str, from_s: i64, to_s: i64, status: RunOutcome, code: Option<i32>) -> RunBand {
    RunBand {
        run_id: id.into(),
        label: Some(label.into()),
        start_ms: T0 + from_s * 1000,
        end_ms: Some(T0 + to_s * 1000),
        status,
        exit_code: code,
    }
}

#[wasm_bindgen_test]
async fn back_to_back_runs_are_two_bands_each_named_and_a_failed_one_is_marked() {
    // 15 minutes; a 60 s build ends as a 45 s test run starts, which exits 1.
    let mut timeline = timeline(T0, 901, |i| Some((i % 50) as f64));
    timeline.runs = vec![
        band("7-a", "build-and-package", 300, 360, RunOutcome::Exited, Some(0)),
        band("8-b", "integration-tests", 360, 405, RunOutcome::Exited, Some(1)),
    ];
    let root = render_chart(timeline, Window { from: T0 as f64, to: (T0 + 900_000) as f64 });
    settle().await;
    let figure = find(&root, "[data-testid='cpu']");
    assert_eq!(attr(&figure, "data-bands"), 2);
    assert_eq!(attr(&figure, "data-drawn-bands"), 2, "two bands drawn, not one");
    assert_eq!(attr(&figure, "data-labelled-bands"), 2, "each named, the narrow ones too");
    assert_eq!(attr(&figure, "data-failed-bands"), 1);
    point_at(&root, 382.0 / 900.0, false).await;
    let readout = find(&root, "[data-testid='readout']").text_content().unwrap_or_default();
    assert!(readout.contains("run ✕ integration-tests"), "the failed run, marked: {readout}");
    point_at(&root, 330.0 / 900.0, false).await;
    let readout = find(&root, "[data-testid='readout']").text_content().unwrap_or_default();
    assert!(readout.contains("run build-and-package"), "{readout}");
    assert!(!readout.contains('✕'), "a run that exited 0 is not marked: {readout}");
}

#[wasm_bindgen_test]
async fn the_readout_is_dated_when_the_window_crosses_midnight() {
    // This browser's midnight, whatever its zone.
    let midnight = js_sys::Date::new_with_year_month_day(2026, 11, 2).get_time();
    let start = (midnight - 600_000.0) as i64;
    let root = render_chart(
        timeline(start, 901, |i| Some(i as f64)),
        Window { from: start as f64, to: start as f64 + 900_000.0 },
    );
    settle().await;
    point_at(&root, 0.2, false).await;
    let readout = find(&root, "[data-testid='readout']").text_content().unwrap_or_default();
    assert!(readout.starts_with("Dec 1 23:"), "before midnight, with the date and seconds: {readout}");
    assert_eq!(readout.split(" · ").next().map(|t| t.matches(':').count()), Some(2), "{readout}");

    let root = render_chart(
        timeline(start, 301, |i| Some(i as f64)),
        Window { from: start as f64, to: start as f64 + 300_000.0 },
    );
    settle().await;
    point_at(&root, 0.5, false).await;
    let readout = find(&root, "[data-testid='readout']").text_content().unwrap_or_default();
    assert!(readout.starts_with("23:5"), "within one day: no date: {readout}");
}

#[derive(Properties, PartialEq)]
struct SetHost {
    timeline: SharedTimeline,
    window: Window,
}

#[function_component(ChartSetHost)]
fn chart_set_host(props: &SetHost) -> Html {
    html! { <ChartSet timeline={props.timeline.clone()} version={1} window={props.window} scheme={Scheme::Dark} /> }
}

#[wasm_bindgen_test]
async fn memory_is_scaled_to_what_is_used_and_says_what_is_installed() {
    // 0.4–0.9 GB used of 24 GB.
    let mut h = HistorySeries { step_s: 1, tier: "raw".into(), ..HistorySeries::default() };
    h.timestamps = (0..300).map(|i| T0 + i * 1000).collect();
    h.series.insert("memory.used_gb".into(), (0..300).map(|i| Some(0.4 + (i % 6) as f64 / 10.0)).collect());
    h.series.insert("memory.total_gb".into(), vec![Some(24.0); 300]);
    load_uplot();
    let root = mount_point();
    yew::Renderer::<ChartSetHost>::with_root_and_props(
        root.clone(),
        SetHost {
            timeline: SharedTimeline::new(Timeline::from_history(h)),
            window: Window { from: T0 as f64, to: (T0 + 300_000) as f64 },
        },
    )
    .render();
    settle().await;
    let memory = find(&root, "[data-testid='memory']");
    let title = find(&memory, ".chart__title").text_content().unwrap_or_default();
    assert_eq!(title, "Memory and swap (of 24.0 GB installed)");
    let top: f64 = memory.get_attribute("data-y-top").and_then(|v| v.parse().ok()).expect("a top");
    assert_eq!(top, 1.0, "the scale ends just above 0.9 GB, not at 24 GB");
}

#[derive(Properties, PartialEq)]
struct StackHost {
    timeline: SharedTimeline,
    stacked: bool,
}

#[function_component(StackedHost)]
fn stacked_host(props: &StackHost) -> Html {
    let lines = vec![Line::new("a", "A"), Line::new("b", "B")];
    html! {
        <TimeChart id="stack" title="Two" unit={Unit::Count} {lines} stacked={props.stacked}
            timeline={props.timeline.clone()} version={1} scheme={Scheme::Dark}
            window={Window { from: T0 as f64, to: (T0 + 60_000) as f64 }} />
    }
}

#[wasm_bindgen_test]
async fn a_stacked_chart_scales_to_the_sum_and_reads_out_each_line() {
    let mut h = HistorySeries { step_s: 1, tier: "raw".into(), ..HistorySeries::default() };
    h.timestamps = (0..60).map(|i| T0 + i * 1000).collect();
    h.series.insert("a".into(), vec![Some(60.0); 60]);
    h.series.insert("b".into(), vec![Some(60.0); 60]);
    let timeline = SharedTimeline::new(Timeline::from_history(h));
    load_uplot();
    let mut tops = Vec::new();
    for stacked in [false, true] {
        let root = mount_point();
        yew::Renderer::<StackedHost>::with_root_and_props(
            root.clone(),
            StackHost { timeline: timeline.clone(), stacked },
        )
        .render();
        settle().await;
        let figure = find(&root, "[data-testid='stack']");
        assert!(attr(&figure, "data-drawn-points") > 0);
        tops.push(figure.get_attribute("data-y-top").unwrap_or_default());
        let summary = find(&root, "[data-testid='summary']").text_content().unwrap_or_default();
        assert!(summary.contains("B: latest 60"), "each line's own value, stacked or not: {summary}");
    }
    assert_eq!(tops, ["100", "200"], "side by side 60 reaches 100; stacked, 120 reaches 200");
}

#[wasm_bindgen_test]
async fn an_empty_chart_says_there_is_no_data() {
    let root = render_chart(Timeline::default(), Window { from: T0 as f64, to: (T0 + 60_000) as f64 });
    settle().await;
    let figure = find(&root, "[data-testid='cpu']");
    assert_eq!(attr(&figure, "data-drawn-points"), 0);
    assert_eq!(
        find(&root, "[data-testid='summary']").text_content().as_deref(),
        Some("No data in this range.")
    );
    assert_eq!(find(&root, "[data-testid='readout']").text_content().as_deref(), Some("No data"));
}

#[wasm_bindgen_test]
async fn a_gap_in_the_data_breaks_the_line_and_stays_out_of_the_figures() {
    // Ten minutes, an hour without samples (the server was down), ten minutes.
    let mut h = HistorySeries { step_s: 1, tier: "raw".into(), ..HistorySeries::default() };
    h.timestamps =
        (0..600).map(|i| T0 + i * 1000).chain((0..600).map(|i| T0 + 4_200_000 + i * 1000)).collect();
    h.series
        .insert("cpu.percent".into(), (0..1200).map(|i| Some(if i < 600 { 20.0 } else { 60.0 })).collect());
    let root =
        render_chart(Timeline::from_history(h), Window { from: T0 as f64, to: (T0 + 4_800_000) as f64 });
    settle().await;
    let figure = find(&root, "[data-testid='cpu']");
    assert_eq!(attr(&figure, "data-breaks"), 1, "one break, over the hour without data");
    let summary = find(&root, "[data-testid='summary']").text_content().unwrap_or_default();
    assert!(summary.contains("mean 40.0 %"), "the hole counts for nothing: {summary}");
}

fn run(id: &str, started: &str, code: i32, duration: f64, rss: f64) -> RunRecord {
    RunRecord {
        run_id: id.into(),
        project: "demo".into(),
        label: Some(format!("run {id}")),
        pid: 1,
        started_at: Timestamp(started.into()),
        ended_at: Some(Timestamp(started.into())),
        status: RunOutcome::Exited,
        exit_code: Some(code),
        signal: None,
        duration_s: duration,
        cpu_seconds: 1.0,
        peak_cpu_percent: Some(50.0),
        peak_rss_mb: Some(rss),
        peak_gpu_memory_gb: None,
        peak_process_count: 2,
        tokens: 10,
        verdict: None,
        token_source: None,
        token_detail: None,
    }
}

#[derive(Properties, PartialEq)]
struct RunsHost {
    runs: Rc<Vec<RunRecord>>,
}

#[function_component(TableHost)]
fn table_host(props: &RunsHost) -> Html {
    html! { <RunsTable project="demo" runs={props.runs.clone()} has_older=true /> }
}

fn row_ids(root: &Element) -> Vec<String> {
    let rows = root.query_selector_all("[data-testid='run-row']").expect("rows");
    (0..rows.length())
        .filter_map(|i| rows.item(i)?.dyn_into::<Element>().ok()?.get_attribute("data-run-id"))
        .collect()
}

#[wasm_bindgen_test]
async fn the_runs_table_sorts_links_each_run_and_marks_failures() {
    let root = mount_point();
    let runs = Rc::new(vec![
        run("1-a", "2026-12-01T08:00:00Z", 0, 300.0, 900.0),
        run("2-b", "2026-12-01T09:00:00Z", 3, 30.0, 100.0),
        run("3-c", "2026-12-01T10:00:00Z", 0, 90.0, 400.0),
    ]);
    yew::Renderer::<TableHost>::with_root_and_props(root.clone(), RunsHost { runs }).render();
    settle().await;
    assert_eq!(row_ids(&root), ["3-c", "2-b", "1-a"], "newest first");
    let link = find(&root, "[data-run-id='2-b'] a").get_attribute("href").unwrap_or_default();
    assert_eq!(link, "/projects/demo/runs/2-b");
    let outcome = find(&root, "[data-run-id='2-b'] [data-testid='run-outcome']");
    assert_eq!(outcome.text_content().as_deref(), Some("exit 3"));
    assert!(outcome.class_name().contains("failed"));

    let by_duration =
        find(&root, "[data-testid='sort-duration']").dyn_into::<web_sys::HtmlElement>().expect("a button");
    by_duration.click();
    settle().await;
    assert_eq!(row_ids(&root), ["1-a", "3-c", "2-b"], "longest first");
    let th = by_duration.parent_element().expect("its heading");
    assert_eq!(th.get_attribute("aria-sort").as_deref(), Some("descending"));
    by_duration.click();
    settle().await;
    assert_eq!(row_ids(&root), ["2-b", "3-c", "1-a"], "shortest first");
    assert_eq!(th.get_attribute("aria-sort").as_deref(), Some("ascending"));

    let newer = find(&root, "[data-testid='runs-newer']");
    let older = find(&root, "[data-testid='runs-older']");
    assert!(newer.has_attribute("disabled"), "the first page has nothing newer");
    assert!(!older.has_attribute("disabled"));
}

#[derive(Properties, PartialEq)]
struct SummaryHost {
    run: RunRecord,
}

#[function_component(SummaryHostView)]
fn summary_host(props: &SummaryHost) -> Html {
    html! { <RunSummary run={props.run.clone()} /> }
}

#[wasm_bindgen_test]
async fn a_short_runs_start_and_end_differ_to_the_second_with_date_and_zone() {
    let root = mount_point();
    let mut short = run("5-a", "2026-12-01T10:00:03Z", 0, 4.0, 10.0);
    short.ended_at = Some(Timestamp("2026-12-01T10:00:07Z".into()));
    yew::Renderer::<SummaryHostView>::with_root_and_props(root.clone(), SummaryHost { run: short }).render();
    settle().await;
    let value =
        |id: &str| find(&root, &format!("[data-testid='{id}'] dd")).text_content().unwrap_or_default();
    let (started, ended) = (value("run-started"), value("run-ended"));
    assert_ne!(started, ended, "four seconds apart");
    for shown in [&started, &ended] {
        assert!(
            shown.starts_with("Dec 1 ") || shown.starts_with("Nov 30 ") || shown.starts_with("Dec 2 "),
            "{shown}"
        );
        assert!(shown.contains("(UTC"), "the zone is named: {shown}");
        let time = shown.split(' ').nth(2).unwrap_or_default();
        assert_eq!(time.matches(':').count(), 2, "to the second: {shown}");
    }
    assert!(started.contains(":03 ") && ended.contains(":07 "), "{started} – {ended}");
}

/// The dev mock's history (debug builds only) is what the dashboard draws with
/// no server: every series as long as its timestamps, and the GPU's figures
/// exactly where the mock's GPU is on.
#[cfg(debug_assertions)]
#[wasm_bindgen_test]
fn the_mocks_history_keeps_every_series_aligned_with_its_timestamps() {
    use frontend::stream::mock;
    let now = js_sys::Date::now();
    let history = mock::history(now - 900_000.0, now);
    assert!(history.timestamps.len() >= 900, "about a point a second for 15 minutes");
    for (name, values) in &history.series {
        assert_eq!(values.len(), history.timestamps.len(), "{name}");
    }
    let epoch = mock::epoch();
    for (i, t) in history.timestamps.iter().enumerate() {
        let on = mock::metrics("mock", (*t as f64 - epoch) / 1000.0, 0).gpu.available;
        assert_eq!(history.series["gpu.0.percent"][i].is_some(), on, "at {t}");
    }
    assert_eq!(history.runs.len(), 1, "the newer mock run falls in the last 15 minutes");
    assert_eq!(mock::history(now - 6.0 * 3_600_000.0, now).runs.len(), 2, "both in the last 6 hours");
    let runs = mock::runs("mock", 20, None);
    let failed = runs.runs.iter().find(|r| r.exit_code == Some(3)).expect("a failed mock run");
    let report = mock::report("mock", &failed.run_id).expect("its report");
    assert_eq!(report.previous.map(|p| p.exit_code), Some(Some(0)));
}
