//! "Compare with" in a real (headless) browser with the real uPlot: a chart
//! given the same span a day earlier draws it as a faint series of its own
//! with a value from t − 1 d at t, says the change of the mean in its head,
//! the earlier value in its readout and the earlier mean in its text; a store
//! with nothing that far back is said so, not drawn as zero; without a
//! comparison nothing of this appears. On the dashboard (its requests answered
//! by a stand-in `fetch`), the picker asks for the earlier span with a second
//! request, keeps the choice in the URL, ignores an answer for a choice since
//! left, and while live asks again only once the window has moved a tenth.
#![cfg(target_arch = "wasm32")]

use frontend::components::charts::{ChartSet, ComparePicker, Line, TimeChart};
use frontend::hooks::Scheme;
use frontend::pages::Dashboard;
use frontend::route::{query_param, replace_query};
use frontend::state::range::Compare;
use frontend::state::timeline::Earlier;
use frontend::state::{Feed, FeedEvent, SharedTimeline, Timeline, Window};
use frontend::view::format::Unit;
use shared::api::HistorySeries;
use shared::{Cpu, PerfMetrics, Timestamp};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::Element;
use yew::prelude::*;

mod support;

use support::{T0, attr, find, has, load_uplot, mount_point, point_at, settle, sleep, text, until};

wasm_bindgen_test_configure!(run_in_browser);

const DAY: i64 = 86_400_000;

/// `values` a second apart from `start` (unix ms), as the store answers.
fn history(start: i64, values: &[Option<f64>]) -> HistorySeries {
    let mut h = HistorySeries { step_s: 1, tier: "raw".into(), ..HistorySeries::default() };
    h.timestamps = (0..values.len() as i64).map(|i| start + i * 1000).collect();
    h.series.insert("cpu.percent".into(), values.to_vec());
    h
}

/// Today: 10 % for a minute from T0.
fn today() -> SharedTimeline {
    SharedTimeline::new(Timeline::from_history(history(T0, &[Some(10.0); 60])))
}

/// A day before: 20 %, and 80 % at 30 s: a mean of 21 %.
fn a_day_before() -> Earlier {
    let mut values = vec![Some(20.0); 60];
    values[30] = Some(80.0);
    Earlier::ready(Compare::Day, history(T0 - DAY, &values))
}

const WINDOW: Window = Window { from: T0 as f64, to: (T0 + 59_000) as f64 };

#[derive(Properties, PartialEq)]
struct Host {
    timeline: SharedTimeline,
    earlier: Option<Earlier>,
}

#[function_component(ChartHost)]
fn chart_host(props: &Host) -> Html {
    html! {
        <TimeChart id="cpu" title="CPU" unit={Unit::Percent} lines={vec![Line::new("cpu.percent", "CPU")]}
            timeline={props.timeline.clone()} version={1} window={WINDOW} scheme={Scheme::Dark}
            earlier={props.earlier.clone()} />
    }
}

fn render_chart(earlier: Option<Earlier>) -> (Element, yew::AppHandle<ChartHost>) {
    load_uplot();
    let root = mount_point();
    let handle =
        yew::Renderer::<ChartHost>::with_root_and_props(root.clone(), Host { timeline: today(), earlier })
            .render();
    (root, handle)
}

#[wasm_bindgen_test]
async fn the_earlier_line_is_drawn_on_the_window_with_the_change_of_the_mean() {
    let (root, _handle) = render_chart(Some(a_day_before()));
    settle().await;
    let figure = find(&root, "[data-testid='cpu']");
    assert_eq!(attr(&figure, "data-series"), 4, "the line, its range's two edges, and its earlier twin");
    assert_eq!(attr(&figure, "data-earlier-points"), 60, "every earlier second lies in the window");
    // 10 % now against a mean of 21 % a day before.
    assert_eq!(text(&root, "[data-testid='compare']"), "\u{2212}52.4 % vs a day earlier");
    let summary = text(&root, "[data-testid='summary']");
    assert!(summary.ends_with("A day earlier: CPU mean 21.0 %."), "{summary}");
    // The value recorded at T0 + 30 s a day before is read at T0 + 30 s.
    point_at(&root, 30.0 / 59.0, false).await;
    let readout = text(&root, "[data-testid='readout']");
    assert!(readout.contains("CPU 10.0 %"), "today's value first: {readout}");
    assert!(readout.contains("a day earlier CPU 80.0 %"), "{readout}");
    point_at(&root, 10.0 / 59.0, false).await;
    let readout = text(&root, "[data-testid='readout']");
    assert!(readout.contains("a day earlier CPU 20.0 %"), "{readout}");
}

#[wasm_bindgen_test]
async fn nothing_recorded_that_far_back_is_said_not_drawn_as_zero() {
    let nothing = Earlier::ready(Compare::Day, HistorySeries { step_s: 60, ..HistorySeries::default() });
    let (root, _handle) = render_chart(Some(nothing));
    settle().await;
    let figure = find(&root, "[data-testid='cpu']");
    assert_eq!(attr(&figure, "data-earlier-points"), 0, "no faint line, no flat zero");
    assert_eq!(text(&root, "[data-testid='compare']"), "nothing recorded a day earlier");
    assert!(text(&root, "[data-testid='summary']").ends_with("Nothing recorded a day earlier."));
    point_at(&root, 0.5, false).await;
    assert!(text(&root, "[data-testid='readout']").contains("a day earlier CPU no data"));

    // Asked for and not answered yet: the faint series is there, empty, and
    // nothing is claimed.
    let (root, _handle) = render_chart(Some(Earlier::loading(Compare::Week)));
    settle().await;
    let figure = find(&root, "[data-testid='cpu']");
    assert_eq!((attr(&figure, "data-series"), attr(&figure, "data-earlier-points")), (4, 0));
    assert!(!has(&root, "[data-testid='compare']"));
    assert!(!text(&root, "[data-testid='summary']").contains("earlier"));
}

#[wasm_bindgen_test]
async fn without_a_comparison_nothing_changes() {
    let (root, mut handle) = render_chart(None);
    settle().await;
    let figure = find(&root, "[data-testid='cpu']");
    assert_eq!(attr(&figure, "data-series"), 3, "the line and its range's edges only");
    assert_eq!(attr(&figure, "data-earlier-points"), 0);
    let drawn = attr(&figure, "data-drawn-points");
    assert!(!has(&root, "[data-testid='compare']"));
    assert_eq!(
        text(&root, "[data-testid='summary']"),
        "CPU: latest 10.0 %, min 10.0 %, max 10.0 %, mean 10.0 %."
    );
    point_at(&root, 0.5, false).await;
    assert!(!text(&root, "[data-testid='readout']").contains("earlier"));

    // Turned on and off again: the chart is made anew each time, and back
    // to what it was.
    let timeline = today();
    handle.update(Host { timeline: timeline.clone(), earlier: Some(a_day_before()) });
    settle().await;
    assert_eq!(attr(&figure, "data-series"), 4);
    assert!(has(&root, "[data-testid='compare']"));
    handle.update(Host { timeline, earlier: None });
    settle().await;
    assert_eq!(attr(&figure, "data-series"), 3);
    assert_eq!(attr(&figure, "data-drawn-points"), drawn);
    assert!(!has(&root, "[data-testid='compare']"));
    assert!(!text(&root, "[data-testid='summary']").contains("earlier"));
}

#[derive(Properties, PartialEq)]
struct SetHost {
    timeline: SharedTimeline,
    #[prop_or_default]
    earlier: Option<Earlier>,
}

#[function_component(SetHostView)]
fn set_host(props: &SetHost) -> Html {
    html! {
        <ChartSet timeline={props.timeline.clone()} version={1} window={WINDOW} scheme={Scheme::Dark}
            earlier={props.earlier.clone()} />
    }
}

#[wasm_bindgen_test]
async fn every_chart_of_a_set_compares_and_a_report_s_set_does_not() {
    load_uplot();
    let mut h = history(T0, &[Some(10.0); 60]);
    h.series.insert("memory.used_gb".into(), vec![Some(5.0); 60]);
    h.series.insert("swap.used_gb".into(), vec![Some(1.0); 60]);
    let mut before = history(T0 - DAY, &[Some(20.0); 60]);
    before.series.insert("memory.used_gb".into(), vec![Some(4.0); 60]);
    let timeline = SharedTimeline::new(Timeline::from_history(h));

    // The run report's: no prop, no comparison anywhere.
    let root = mount_point();
    yew::Renderer::<SetHostView>::with_root_and_props(
        root.clone(),
        SetHost { timeline: timeline.clone(), earlier: None },
    )
    .render();
    settle().await;
    assert!(!has(&root, "[data-testid='compare']"));
    let figures = root.query_selector_all("figure.chart").expect("charts");
    assert!(figures.length() >= 4);
    for i in 0..figures.length() {
        let figure: Element = figures.get(i).expect("a chart").unchecked_into();
        assert_eq!(attr(&figure, "data-earlier-points"), 0);
    }

    let root = mount_point();
    let earlier = Some(Earlier::ready(Compare::Day, before));
    yew::Renderer::<SetHostView>::with_root_and_props(root.clone(), SetHost { timeline, earlier }).render();
    settle().await;
    assert_eq!(text(&root, "[data-testid='cpu'] [data-testid='compare']"), "\u{2212}50.0 % vs a day earlier");
    assert_eq!(
        text(&root, "[data-testid='memory'] [data-testid='compare']"),
        "Memory +25.0 % vs a day earlier",
        "swap was not recorded then: only memory has a change"
    );
    assert_eq!(
        text(&root, "[data-testid='network'] [data-testid='compare']"),
        "nothing recorded a day earlier"
    );
    assert_eq!(attr(&find(&root, "[data-testid='memory']"), "data-series"), 8, "two lines, each with a twin");
}

#[derive(Properties, PartialEq)]
struct PickerHost {
    compare: Compare,
    on_pick: Callback<Compare>,
}

#[function_component(PickerHostView)]
fn picker_host(props: &PickerHost) -> Html {
    html! { <ComparePicker compare={props.compare} on_pick={props.on_pick.clone()} /> }
}

#[wasm_bindgen_test]
async fn the_picker_is_a_group_of_toggle_buttons() {
    let root = mount_point();
    let picked = std::rc::Rc::new(std::cell::Cell::new(Compare::Off));
    let on_pick = {
        let picked = picked.clone();
        Callback::from(move |c: Compare| picked.set(c))
    };
    yew::Renderer::<PickerHostView>::with_root_and_props(
        root.clone(),
        PickerHost { compare: Compare::Day, on_pick },
    )
    .render();
    settle().await;
    let group = find(&root, "[data-testid='compare-picker']");
    assert_eq!(group.get_attribute("role").as_deref(), Some("group"));
    let label = group.get_attribute("aria-labelledby").expect("labelled");
    assert_eq!(text(&root, &format!("#{label}")), "Compare with");
    let pressed = |id: &str| find(&root, &format!("[data-testid='{id}']")).get_attribute("aria-pressed");
    assert_eq!(pressed("compare-off").as_deref(), Some("false"));
    assert_eq!(pressed("compare-1d").as_deref(), Some("true"));
    assert_eq!(pressed("compare-7d").as_deref(), Some("false"));
    for id in ["compare-off", "compare-1d", "compare-7d"] {
        let button = find(&root, &format!("[data-testid='{id}']"));
        assert_eq!(button.tag_name(), "BUTTON", "a native button: Tab reaches it, Enter and Space press it");
        assert_eq!(button.get_attribute("type").as_deref(), Some("button"));
    }
    find(&root, "[data-testid='compare-7d']").unchecked_into::<web_sys::HtmlElement>().click();
    assert_eq!(picked.get(), Compare::Week);
    assert_eq!(text(&root, "[data-testid='compare-7d']"), "A week earlier");
}

/// Answers the page's requests in place of a server: `/api/history` with
/// `cpu.percent` at 10 % for a span ending within 12 hours, 20 % for one a day
/// back (answered after 400 ms), 40 % for one a week back; no runs. Each
/// history request's `from` (unix ms) is kept in `__historyFroms`.
fn stand_in_server() {
    js_sys::eval(
        r#"
        globalThis.__historyFroms = [];
        globalThis.fetch = async (input) => {
            const url = new URL(typeof input === 'string' ? input : input.url, location.href);
            const json = (body, status) => new Response(JSON.stringify(body),
                { status: status || 200, headers: { 'content-type': 'application/json' } });
            if (url.pathname === '/api/history') {
                const from = Date.parse(url.searchParams.get('from'));
                const to = Date.parse(url.searchParams.get('to'));
                __historyFroms.push(from);
                const back = Date.now() - to;
                const value = back > 3 * 86400000 ? 40 : back > 12 * 3600000 ? 20 : 10;
                if (value === 20) await new Promise(r => setTimeout(r, 400));
                const timestamps = [], cpu = [];
                for (let t = Math.ceil(from / 1000) * 1000; t <= to; t += 1000) { timestamps.push(t); cpu.push(value); }
                return json({ step_s: 1, tier: 'raw', timestamps, series: { 'cpu.percent': cpu } });
            }
            if (url.pathname.endsWith('/runs')) return json({ runs: [], next_before: null });
            return json({ code: 'not_found', message: 'no such thing' }, 404);
        };
        "#,
    )
    .expect("the stand-in fetch installs");
}

/// How many history requests reached back about `days` days.
fn asked_back(days: f64) -> usize {
    let froms = js_sys::Reflect::get(&js_sys::global(), &"__historyFroms".into()).expect("kept");
    let now = js_sys::Date::now();
    js_sys::Array::from(&froms)
        .iter()
        .filter_map(|v| v.as_f64())
        .filter(|from| ((now - from) / DAY as f64 - days).abs() < 0.1)
        .count()
}

fn sample_at(ms: f64) -> PerfMetrics {
    PerfMetrics {
        timestamp: Timestamp(String::from(js_sys::Date::new(&ms.into()).to_iso_string())),
        cpu: Cpu { percent: Some(10.0), per_core: vec![], load_average: None },
        interval_ms: 1000,
        ..PerfMetrics::default()
    }
}

#[derive(Properties, PartialEq)]
struct DashboardHost {
    feed: Feed,
}

#[function_component(DashboardHostView)]
fn dashboard_host(props: &DashboardHost) -> Html {
    html! { <Dashboard project="p" feed={props.feed.clone()} scheme={Scheme::Dark} /> }
}

fn click(root: &Element, id: &str) {
    find(root, &format!("[data-testid='{id}']")).unchecked_into::<web_sys::HtmlElement>().click();
}

#[wasm_bindgen_test]
async fn the_dashboard_asks_for_the_earlier_span_and_keeps_the_choice_in_the_url() {
    load_uplot();
    stand_in_server();
    replace_query(&[("range", None), ("from", None), ("to", None), ("compare", None)]);
    let root = mount_point();
    let feed = Feed::default();
    yew::Renderer::<DashboardHostView>::with_root_and_props(
        root.clone(),
        DashboardHost { feed: feed.clone() },
    )
    .render();
    let cpu_change = || {
        root.query_selector("[data-testid='cpu'] [data-testid='compare']")
            .ok()
            .flatten()
            .and_then(|e| e.text_content())
    };
    until("the charts", || has(&root, "[data-testid='cpu']") && asked_back(0.0) == 1).await;
    settle().await;
    assert_eq!(cpu_change(), None, "off by default: no comparison");
    assert_eq!(asked_back(1.0) + asked_back(7.0), 0, "and no second request");
    assert_eq!(query_param("compare"), None);

    // A day earlier, then at once a week earlier: the day's answer comes last
    // and is left unread.
    click(&root, "compare-1d");
    settle().await;
    assert_eq!(query_param("compare").as_deref(), Some("1d"));
    click(&root, "compare-7d");
    until("a week's comparison", || cpu_change().is_some()).await;
    assert_eq!(query_param("compare").as_deref(), Some("7d"));
    sleep(600).await;
    assert_eq!(asked_back(1.0), 1);
    assert_eq!(asked_back(7.0), 1);
    assert_eq!(cpu_change().as_deref(), Some("\u{2212}75.0 % vs a week earlier"), "10 % against 40 %");
    assert!(text(&root, "[data-testid='range-caption']").contains("dashed: the same span a week earlier"));

    // Live samples move the window: a second on asks nothing more; past a
    // tenth of the 15 minutes (90 s), the earlier span is asked for again.
    let now = js_sys::Date::now();
    feed.publish(FeedEvent::Sample(&sample_at(now + 1_000.0)));
    settle().await;
    assert_eq!(asked_back(7.0), 1, "not on every sample");
    feed.publish(FeedEvent::Sample(&sample_at(now + 100_000.0)));
    until("the earlier span asked again", || asked_back(7.0) == 2).await;
    settle().await;
    assert_eq!(cpu_change().as_deref(), Some("\u{2212}75.0 % vs a week earlier"));

    click(&root, "compare-off");
    settle().await;
    assert_eq!(query_param("compare"), None, "off leaves the URL without it");
    assert_eq!(cpu_change(), None);
    assert_eq!(attr(&find(&root, "[data-testid='cpu']"), "data-series"), 3);
}

#[wasm_bindgen_test]
async fn a_shared_link_opens_with_its_comparison() {
    load_uplot();
    stand_in_server();
    replace_query(&[
        ("range", Some("1h".into())),
        ("from", None),
        ("to", None),
        ("compare", Some("1d".into())),
    ]);
    let root = mount_point();
    yew::Renderer::<DashboardHostView>::with_root_and_props(
        root.clone(),
        DashboardHost { feed: Feed::default() },
    )
    .render();
    until("a day's comparison", || has(&root, "[data-testid='cpu'] [data-testid='compare']")).await;
    assert_eq!(
        find(&root, "[data-testid='compare-1d']").get_attribute("aria-pressed").as_deref(),
        Some("true")
    );
    assert_eq!(text(&root, "[data-testid='cpu'] [data-testid='compare']"), "\u{2212}50.0 % vs a day earlier");
    assert_eq!(asked_back(1.0), 1);
    replace_query(&[("range", None), ("compare", None)]);
}
