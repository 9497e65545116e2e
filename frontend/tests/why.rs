//! Where a run's time went, rendered in a real (headless) browser with the
//! page's stylesheet: the report opens with the verdict's headline, its bar's
//! segments fill the bar as wide as their shares and the bar says its shares
//! in words (the legend carries the numbers); a run recorded before PerfMon
//! measured it says "not measured", one too short to judge shows its headline
//! only; a counter that could not be read shows a dash with its reason in
//! visible text; the runs table names each run's bound in a word; at 390 px
//! none of it is wider than the phone.
#![cfg(target_arch = "wasm32")]

use std::rc::Rc;

use frontend::components::runs::{CountersTable, RunsTable, VerdictSection};
use shared::Timestamp;
use shared::api::{RunOutcome, RunRecord};
use shared::why::{Change, RunCounters, Share, ShareKind, Verdict};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{Element, HtmlElement};
use yew::prelude::*;

mod support;

use support::{find, has, load_uplot_with, mount_point_at, settle, text};

wasm_bindgen_test_configure!(run_in_browser);

const CSS: &str = include_str!("../styles.css");

fn share(kind: ShareKind, percent: f64, evidence: &str) -> Share {
    Share { kind, percent, evidence: evidence.into() }
}

fn judged() -> Verdict {
    Verdict {
        judged: true,
        headline: "CPU-bound on 1 of 2 cores for 82 % of its 41 min; 12 % waiting for a CPU".into(),
        bound: Some(ShareKind::Cpu),
        cores_busy: Some(1.0),
        cores: Some(2),
        shares: vec![
            share(ShareKind::Cpu, 82.0, "CPU 1,990.0 s user + 27.4 s system over 41 min"),
            share(ShareKind::CpuWait, 12.0, "295.2 s runnable, waiting for a CPU"),
            share(ShareKind::Idle, 6.0, "147.6 s neither on a CPU nor stalled"),
        ],
        gpu_shares: vec![share(ShareKind::GpuBusy, 40.0, "984 s busy")],
    }
}

#[derive(Properties, PartialEq)]
struct VerdictHost {
    verdict: Option<Verdict>,
    changes: Vec<Change>,
}

#[function_component(VerdictPage)]
fn verdict_page(props: &VerdictHost) -> Html {
    html! { <VerdictSection verdict={props.verdict.clone()} changes={props.changes.clone()} /> }
}

fn width(el: &Element) -> f64 {
    el.get_bounding_client_rect().width()
}

fn fits(root: &Element) -> bool {
    let el = root.clone().dyn_into::<HtmlElement>().expect("an HTML element");
    el.scroll_width() <= el.client_width()
}

#[wasm_bindgen_test]
async fn the_report_opens_with_the_headline_and_a_bar_that_reads_without_colour() {
    load_uplot_with(&[CSS]);
    let root = mount_point_at(390);
    let changes =
        vec![Change { kind: ShareKind::Io, before: 4.0, after: 37.0, text: "IO stall 4 % → 37 %".into() }];
    yew::Renderer::<VerdictPage>::with_root_and_props(
        root.clone(),
        VerdictHost { verdict: Some(judged()), changes },
    )
    .render();
    settle().await;

    let first_shown = find(&root, "[data-testid='verdict'] > :not(.visually-hidden)");
    assert_eq!(first_shown.get_attribute("data-testid").as_deref(), Some("verdict-headline"));
    assert!(text(&root, "[data-testid='verdict-headline']").starts_with("CPU-bound on 1 of 2 cores"));

    let bar = find(&root, "[data-testid='verdict-bar']");
    assert_eq!(bar.get_attribute("role").as_deref(), Some("img"));
    assert_eq!(
        bar.get_attribute("aria-label").as_deref(),
        Some("Where its time went: On CPU 82 %, Waiting for CPU 12 %, Idle (waiting outside) 6 %")
    );
    let segments = root.query_selector_all(".why-bar__segment").expect("segments");
    assert_eq!(segments.length(), 3);
    let widths: Vec<f64> = (0..segments.length())
        .filter_map(|i| segments.item(i)?.dyn_into::<Element>().ok())
        .map(|s| width(&s))
        .collect();
    let inner = f64::from(bar.client_width());
    assert!(
        (widths.iter().sum::<f64>() - inner).abs() < 1.5,
        "the segments fill the bar: {widths:?} of {inner}"
    );
    assert!((widths[0] / inner - 0.82).abs() < 0.02, "the first is 82 % wide: {widths:?} of {inner}");

    let legend = text(&root, "[data-testid='verdict-legend']");
    for entry in ["On CPU 82 %", "Waiting for CPU 12 %", "Idle (waiting outside) 6 %"] {
        assert!(legend.contains(entry), "the legend says {entry}: {legend}");
    }
    assert!(text(&root, "[data-testid='verdict-evidence']").contains("27.4 s system"));
    assert!(text(&root, "[data-testid='verdict-gpu']").contains("GPU busy 40 %"));
    assert_eq!(text(&root, "[data-testid='verdict-changes']"), "IO stall 4 % → 37 %");
    assert!(fits(&root), "the verdict fits 390 px");
}

#[wasm_bindgen_test]
async fn older_runs_say_not_measured_and_short_ones_show_their_headline_only() {
    let root = mount_point_at(390);
    yew::Renderer::<VerdictPage>::with_root_and_props(
        root.clone(),
        VerdictHost { verdict: None, changes: vec![] },
    )
    .render();
    settle().await;
    assert_eq!(text(&root, "[data-testid='verdict-headline']"), "Where its time went: not measured");
    assert!(!has(&root, "[data-testid='verdict-bar']"));

    let root = mount_point_at(390);
    let short = Verdict {
        judged: false,
        headline: "Too short to judge: 4 s (under 10 s)".into(),
        ..Verdict::default()
    };
    yew::Renderer::<VerdictPage>::with_root_and_props(
        root.clone(),
        VerdictHost { verdict: Some(short), changes: vec![] },
    )
    .render();
    settle().await;
    assert_eq!(text(&root, "[data-testid='verdict-headline']"), "Too short to judge: 4 s (under 10 s)");
    assert!(!has(&root, "[data-testid='verdict-bar']"));
    assert!(!has(&root, "[data-testid='verdict-changes']"));
}

#[derive(Properties, PartialEq)]
struct CountersHost {
    counters: RunCounters,
}

#[function_component(CountersPage)]
fn counters_page(props: &CountersHost) -> Html {
    html! { <CountersTable counters={props.counters.clone()} /> }
}

#[wasm_bindgen_test]
async fn a_counter_not_read_shows_a_dash_and_its_reason_in_plain_sight() {
    load_uplot_with(&[CSS]);
    let root = mount_point_at(390);
    let mut counters = RunCounters { cpu_user_s: Some(33.6), ..RunCounters::default() };
    counters.not_measured.insert(
        "cpu_wait_s".into(),
        "schedstat is off on this kernel (kernel.sched_schedstats = 0), so run-queue delay cannot be read"
            .into(),
    );
    yew::Renderer::<CountersPage>::with_root_and_props(root.clone(), CountersHost { counters }).render();
    settle().await;
    let details = find(&root, "[data-testid='counters']");
    assert!(!details.has_attribute("open"), "collapsed at first");
    details.set_attribute("open", "").expect("opens");
    settle().await;

    assert_eq!(text(&root, "[data-counter='cpu_user_s'] td"), "33.6 s");
    let cell = find(&root, "[data-counter='cpu_wait_s'] td");
    assert!(cell.get_attribute("title").is_some_and(|t| t.starts_with("schedstat is off")));
    let reason = find(&root, "[data-counter='cpu_wait_s'] [data-testid='counter-reason']");
    assert!(width(&reason) > 0.0, "the reason is shown, not only a tooltip");
    assert!(cell.text_content().unwrap_or_default().starts_with('—'));
    assert!(text(&root, "[data-counter='perf'] td").contains("not measured"));
    assert!(fits(&root), "the counters fit 390 px");
}

#[derive(Properties, PartialEq)]
struct RunsHost {
    runs: Rc<Vec<RunRecord>>,
}

#[function_component(TablePage)]
fn table_page(props: &RunsHost) -> Html {
    html! { <RunsTable project="demo" runs={props.runs.clone()} /> }
}

fn run(id: &str, started: &str, verdict: Option<Verdict>) -> RunRecord {
    RunRecord {
        run_id: id.into(),
        project: "demo".into(),
        label: None,
        pid: 1,
        started_at: Timestamp(started.into()),
        ended_at: Some(Timestamp(started.into())),
        status: RunOutcome::Exited,
        exit_code: Some(0),
        signal: None,
        duration_s: 60.0,
        cpu_seconds: 1.0,
        peak_cpu_percent: Some(50.0),
        peak_rss_mb: Some(100.0),
        peak_gpu_memory_gb: None,
        peak_process_count: 1,
        tokens: 0,
        verdict,
        token_source: None,
        token_detail: None,
    }
}

#[wasm_bindgen_test]
async fn the_runs_table_names_each_runs_bound_in_a_word() {
    let root = mount_point_at(900);
    let io = Verdict {
        judged: true,
        bound: Some(ShareKind::Io),
        headline: "IO-stalled".into(),
        ..Verdict::default()
    };
    let runs = Rc::new(vec![
        run("1-a", "2026-12-01T08:00:00Z", None),
        run("2-b", "2026-12-01T09:00:00Z", Some(judged())),
        run("3-c", "2026-12-01T10:00:00Z", Some(io)),
    ]);
    yew::Renderer::<TablePage>::with_root_and_props(root.clone(), RunsHost { runs }).render();
    settle().await;
    let bound = |id: &str| text(&root, &format!("[data-run-id='{id}'] [data-testid='run-bound']"));
    assert_eq!((bound("3-c"), bound("2-b"), bound("1-a")), ("IO".into(), "CPU".into(), "—".into()));
    let cell = find(&root, "[data-run-id='1-a'] [data-testid='run-bound']");
    assert_eq!(cell.get_attribute("title").as_deref(), Some("not measured"));
    assert!(has(&root, "[data-testid='sort-bound']"), "the column sorts like every other");
}
