//! The panel rendered in a real (headless) browser.
#![cfg(target_arch = "wasm32")]

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use frontend::components::remote_write_banner::RemoteWriteBannerProps;
use frontend::components::store_banner::StoreBannerProps;
use frontend::components::{PerfMonButton, PerfPanel, PerfPanelProps, RemoteWriteBanner, StoreBanner};
use frontend::state::PerfState;
use frontend::stream::Event;
use frontend::view::format::NOT_AVAILABLE;
use shared::api::RemoteWriteHealth;
use shared::{
    Cpu, Disk, Gpu, GpuDevice, LoadAverage, Memory, Monitor, Network, PerfMetrics, RunProcess, ServerMsg,
    Tokens,
};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{Element, HtmlElement};
use yew::prelude::*;

wasm_bindgen_test_configure!(run_in_browser);

const SEED: &str = include_str!("../../shared/tests/fixtures/seed_perf_metrics.json");

fn seed_metrics() -> PerfMetrics {
    match serde_json::from_str::<ServerMsg>(SEED).expect("seed decodes") {
        ServerMsg::PerfMetrics(m) => m,
        other => panic!("expected perf_metrics, got {other:?}"),
    }
}

/// Every section filled in, as the server sends it with a GPU and a busy run.
fn full_metrics() -> PerfMetrics {
    let mut m = seed_metrics();
    m.seq = 9;
    m.interval_ms = 1000;
    m.tokens = Tokens { current_run: 50_000, total_session: 91_800, available: true, ..Tokens::default() };
    m.cpu = Cpu {
        percent: Some(91.4),
        per_core: vec![88.0, 95.0],
        load_average: Some(LoadAverage { one: 1.52, five: 1.1, fifteen: 0.75 }),
    };
    m.memory = Memory {
        used_gb: Some(6.2),
        total_gb: Some(16.0),
        percent: Some(38.8),
        swap_used_gb: Some(0.5),
        swap_total_gb: Some(2.0),
    };
    m.run.process = Some(RunProcess {
        cpu_percent: Some(45.5),
        rss_mb: Some(812.3),
        gpu_memory_gb: Some(3.1),
        process_count: 4,
        gpu_memory_reason: None,
    });
    m.gpu = Gpu {
        available: true,
        percent: Some(72.0),
        vram_used_gb: Some(30.5),
        vram_total_gb: Some(80.0),
        reason: None,
        devices: vec![GpuDevice {
            index: 0,
            name: "NVIDIA H100 80GB HBM3".into(),
            percent: Some(72.0),
            vram_used_gb: Some(30.5),
            vram_total_gb: Some(80.0),
            temperature_c: Some(54.0),
            power_w: Some(310.0),
            ..GpuDevice::default()
        }],
    };
    m.network = Network {
        rx_bytes_per_s: Some(1_234_567.0),
        tx_bytes_per_s: Some(340.0),
        rx_total_bytes: Some(1),
        tx_total_bytes: Some(1),
    };
    m.disk = Disk {
        read_bytes_per_s: Some(0.0),
        write_bytes_per_s: Some(12_500.0),
        used_gb: Some(120.0),
        total_gb: Some(480.0),
    };
    m.monitor = Monitor { cpu_percent: Some(0.1), rss_mb: Some(9.5) };
    m.timestamp = shared::Timestamp("2026-02-08T20:15:30.123Z".into());
    m
}

/// A handle as the hook builds it after receiving `m` (and any earlier samples).
fn handle_after(samples: Vec<PerfMetrics>) -> PerfState {
    let mut state = Rc::new(PerfState::default());
    for (i, m) in samples.into_iter().enumerate() {
        state = state.reduce(Event::Message(ServerMsg::PerfMetrics(m), i as f64 * 1000.0));
    }
    (*state).clone()
}

fn document() -> web_sys::Document {
    web_sys::window().expect("window").document().expect("document")
}

/// A fresh mount point, so tests do not see each other's DOM.
fn mount_point() -> Element {
    let div = document().create_element("div").expect("div");
    document().body().expect("body").append_child(&div).expect("append");
    div
}

fn find(root: &Element, test_id: &str) -> Option<Element> {
    root.query_selector(&format!("[data-testid='{test_id}']")).expect("valid selector")
}

fn text_of(root: &Element, test_id: &str) -> String {
    find(root, test_id)
        .unwrap_or_else(|| panic!("no element with data-testid={test_id}"))
        .text_content()
        .unwrap_or_default()
}

async fn settle() {
    yew::platform::time::sleep(Duration::from_millis(30)).await;
}

fn render_panel(data: PerfState) -> Element {
    let root = mount_point();
    yew::Renderer::<PerfPanel>::with_root_and_props(
        root.clone(),
        PerfPanelProps {
            data,
            token_budget: Some(200_000),
            style: AttrValue::default(),
            on_close: Callback::noop(),
            node_ref: NodeRef::default(),
        },
    )
    .render();
    root
}

#[wasm_bindgen_test]
async fn panel_shows_formatted_cpu_and_memory_from_the_seed_payload() {
    let root = render_panel(handle_after(vec![seed_metrics()]));
    settle().await;

    assert_eq!(text_of(&root, "cpu-value"), "37.2 %");
    assert_eq!(text_of(&root, "memory-value"), "6.2 / 16.0 GB");
    assert_eq!(text_of(&root, "memory-detail"), "38.8 %");
    // The seed says tokens are not available yet: no numbers for them.
    assert_eq!(text_of(&root, "tokens-value"), NOT_AVAILABLE);
    assert_eq!(text_of(&root, "gpu-value"), NOT_AVAILABLE);
    assert_eq!(text_of(&root, "run-status"), "Running · pid 12345");
    assert_eq!(text_of(&root, "run-elapsed"), "5m 30s");
    let fill = root.query_selector("[data-testid='cpu'] .meter__fill").expect("selector").expect("cpu bar");
    assert_eq!(fill.get_attribute("style").as_deref(), Some("width: 37.2%"));
}

#[wasm_bindgen_test]
async fn panel_renders_every_section_of_a_full_payload() {
    let mut earlier = full_metrics();
    earlier.seq = 8;
    earlier.cpu.percent = Some(20.0);
    let root = render_panel(handle_after(vec![earlier, full_metrics()]));
    settle().await;

    assert_eq!(text_of(&root, "tokens-value"), "50,000");
    assert_eq!(text_of(&root, "tokens-detail"), "session 91,800 · budget 200,000");
    assert_eq!(text_of(&root, "cpu-value"), "91.4 %");
    assert_eq!(text_of(&root, "cpu-detail"), "load 1.52 · 1.10 · 0.75");
    assert_eq!(root.query_selector_all("[data-testid='cores'] .cores__bar").expect("cores").length(), 2);
    assert!(
        root.query_selector("[data-testid='cpu'].meter--critical").expect("selector").is_some(),
        "91 % is critical"
    );
    assert_eq!(text_of(&root, "memory-detail"), "38.8 % · swap 0.5 / 2.0 GB");
    assert_eq!(text_of(&root, "gpu-value"), "72.0 %");
    assert_eq!(text_of(&root, "gpu-detail"), "VRAM 30.5 / 80.0 GB");
    assert!(text_of(&root, "gpu-devices").contains("NVIDIA H100 80GB HBM3"));
    assert!(text_of(&root, "gpu-devices").contains("54 °C"));
    assert_eq!(text_of(&root, "network-value"), "↓ 1.2 MB/s  ↑ 340 B/s");
    assert_eq!(text_of(&root, "disk-value"), "R 0 B/s · W 12.5 KB/s");
    assert_eq!(text_of(&root, "disk-detail"), "space 120.0 / 480.0 GB");
    assert_eq!(text_of(&root, "run-usage"), "Run tree: 45.5 % CPU · 812.3 MB · 3.1 GB VRAM");
    assert_eq!(text_of(&root, "monitor"), "PerfMon itself: 0.10 % CPU · 9.5 MB");
    // Two samples: the sparklines have a line to draw.
    let spark =
        root.query_selector("[data-testid='cpu'] [data-testid='sparkline'] polyline").expect("selector");
    assert!(spark.is_some(), "the CPU sparkline draws the history");
}

#[wasm_bindgen_test]
async fn panel_says_not_available_without_a_payload() {
    let root = render_panel(PerfState::default());
    settle().await;

    for id in ["cpu-value", "memory-value", "gpu-value", "tokens-value", "run-status"] {
        assert_eq!(text_of(&root, id), NOT_AVAILABLE, "{id}");
    }
    assert_eq!(text_of(&root, "network-value"), NOT_AVAILABLE);
    assert_eq!(text_of(&root, "disk-value"), NOT_AVAILABLE);
    assert!(find(&root, "server-error").is_none(), "no data is not an error");
}

#[wasm_bindgen_test]
async fn an_unavailable_gpu_shows_the_servers_reason() {
    let mut m = seed_metrics();
    m.gpu.reason = Some("NVIDIA driver library not found".into());
    let root = render_panel(handle_after(vec![m]));
    settle().await;
    assert_eq!(text_of(&root, "gpu-value"), NOT_AVAILABLE);
    assert_eq!(text_of(&root, "gpu-detail"), "NVIDIA driver library not found");
}

#[wasm_bindgen_test]
async fn a_lost_gpu_is_greyed_with_its_reason_beside_the_one_that_answers() {
    let mut m = full_metrics();
    let mut lost = m.gpu.devices[0].clone();
    lost.index = 1;
    lost.name = "NVIDIA A100-SXM4-40GB".into();
    lost.available = false;
    lost.reason = Some("GPU is lost".into());
    (lost.percent, lost.vram_used_gb, lost.vram_total_gb, lost.temperature_c, lost.power_w) =
        (None, None, None, None, None);
    m.gpu.devices.push(lost);
    m.gpu.devices[0].not_supported = vec!["power_w".into()];
    m.gpu.devices[0].power_w = None;
    let root = render_panel(handle_after(vec![m]));
    settle().await;
    let greyed = find(&root, "gpu-device-lost").expect("the lost device is listed");
    let text = greyed.text_content().unwrap_or_default();
    assert!(text.contains("NVIDIA A100-SXM4-40GB") && text.contains("GPU is lost"), "{text}");
    assert!(!text.contains("Not available"), "a reason, not a row of dashes: {text}");
    let devices = text_of(&root, "gpu-devices");
    assert!(devices.contains("72.0 % · 30.5 / 80.0 GB · 54 °C · n/s"), "{devices}");
}

#[wasm_bindgen_test]
async fn stale_data_is_badged_and_dimmed() {
    let state = Rc::new(handle_after(vec![full_metrics()])).reduce(Event::Tick(60_000.0));
    assert!(state.stale);
    let root = render_panel((*state).clone());
    settle().await;
    let panel = find(&root, "perf-panel").expect("panel");
    assert!(panel.get_attribute("class").unwrap_or_default().contains("panel--stale"));
    assert!(text_of(&root, "badge").eq_ignore_ascii_case("stale"));
    // The values stay readable, just dimmed.
    assert_eq!(text_of(&root, "cpu-value"), "91.4 %");
}

#[derive(Properties, PartialEq)]
struct ButtonHost {
    data: PerfState,
}

#[function_component(ButtonHarness)]
fn button_harness(props: &ButtonHost) -> Html {
    html! { <PerfMonButton data={props.data.clone()} /> }
}

fn button_in(root: &Element) -> HtmlElement {
    find(root, "perfmon-button").expect("button").dyn_into().expect("an HTML element")
}

fn mouse_down() -> web_sys::MouseEvent {
    let init = web_sys::MouseEventInit::new();
    init.set_bubbles(true);
    web_sys::MouseEvent::new_with_mouse_event_init_dict("mousedown", &init).expect("event")
}

fn open_panel() -> Option<Element> {
    document().query_selector("body > [data-testid='perf-panel']").expect("selector")
}

#[wasm_bindgen_test]
async fn the_badge_says_live_for_a_running_run_and_idle_otherwise() {
    let live = mount_point();
    yew::Renderer::<ButtonHarness>::with_root_and_props(
        live.clone(),
        ButtonHost { data: handle_after(vec![seed_metrics()]) },
    )
    .render();
    let mut idle_metrics = seed_metrics();
    idle_metrics.run = shared::Run::default();
    let idle = mount_point();
    yew::Renderer::<ButtonHarness>::with_root_and_props(
        idle.clone(),
        ButtonHost { data: handle_after(vec![idle_metrics]) },
    )
    .render();
    let none = mount_point();
    yew::Renderer::<ButtonHarness>::with_root_and_props(
        none.clone(),
        ButtonHost { data: PerfState::default() },
    )
    .render();
    settle().await;
    assert_eq!(text_of(&live, "badge"), "Live");
    assert_eq!(text_of(&idle, "badge"), "Idle");
    assert_eq!(text_of(&none, "badge"), "Idle");
}

#[wasm_bindgen_test]
async fn the_panel_is_portaled_into_body_and_closes_on_escape_and_outside_click() {
    let root = mount_point();
    let data = handle_after(vec![seed_metrics()]);
    yew::Renderer::<ButtonHarness>::with_root_and_props(root.clone(), ButtonHost { data }).render();
    settle().await;
    let button = button_in(&root);
    assert_eq!(button.get_attribute("aria-expanded").as_deref(), Some("false"));
    assert_eq!(button.get_attribute("aria-haspopup").as_deref(), Some("dialog"));

    button.click();
    settle().await;
    assert_eq!(button.get_attribute("aria-expanded").as_deref(), Some("true"));
    let panel = open_panel().expect("the panel is a direct child of <body>");
    assert!(!root.contains(Some(&panel)), "the panel is not inside the header");
    let style = panel.get_attribute("style").unwrap_or_default();
    assert!(style.contains("top:") && style.contains("right:"), "positioned under the button: {style}");

    // Clicks inside the panel keep it open.
    panel.dispatch_event(&mouse_down()).expect("dispatch");
    settle().await;
    assert!(open_panel().is_some());

    // Escape closes and gives focus back to the button.
    let init = web_sys::KeyboardEventInit::new();
    init.set_key("Escape");
    init.set_bubbles(true);
    let escape = web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).expect("event");
    document().dispatch_event(&escape).expect("dispatch");
    settle().await;
    assert!(open_panel().is_none(), "Escape closes the panel");
    assert_eq!(
        document().active_element().map(|e| e.get_attribute("data-testid")),
        Some(Some("perfmon-button".into()))
    );

    // A click outside closes it too.
    button.click();
    settle().await;
    assert!(open_panel().is_some());
    document().body().expect("body").dispatch_event(&mouse_down()).expect("dispatch");
    settle().await;
    assert!(open_panel().is_none(), "an outside click closes the panel");
}

thread_local! {
    static RENDERS: Cell<u32> = const { Cell::new(0) };
    static DISPATCH: std::cell::RefCell<Option<UseReducerDispatcher<PerfState>>> = const { std::cell::RefCell::new(None) };
}

/// Renders the panel from the hook's reducer, counting renders.
#[function_component(CountingPanel)]
fn counting_panel() -> Html {
    let state = use_reducer(PerfState::default);
    RENDERS.with(|r| r.set(r.get() + 1));
    DISPATCH.with(|d| *d.borrow_mut() = Some(state.dispatcher()));
    html! { <PerfPanel data={(*state).clone()} /> }
}

fn dispatch(m: PerfMetrics) {
    DISPATCH.with(|d| {
        d.borrow()
            .as_ref()
            .expect("mounted")
            .dispatch(Event::Message(ServerMsg::PerfMetrics(m), js_sys::Date::now()))
    });
}

#[wasm_bindgen_test]
async fn samples_below_display_precision_do_not_re_render() {
    let root = mount_point();
    yew::Renderer::<CountingPanel>::with_root(root.clone()).render();
    settle().await;
    let mut m = full_metrics();
    dispatch(m.clone());
    settle().await;
    let after_first = RENDERS.with(Cell::get);
    assert_eq!(text_of(&root, "cpu-value"), "91.4 %");

    // 91.41, 91.43, 91.36: all still "91.4 %".
    for (seq, cpu) in [(10, 91.41), (11, 91.43), (12, 91.36)] {
        m.seq = seq;
        m.cpu.percent = Some(cpu);
        dispatch(m.clone());
        settle().await;
    }
    assert_eq!(RENDERS.with(Cell::get), after_first, "no re-render for invisible changes");

    m.seq = 13;
    m.cpu.percent = Some(92.0);
    dispatch(m);
    settle().await;
    assert_eq!(RENDERS.with(Cell::get), after_first + 1, "one render for a visible change");
    assert_eq!(text_of(&root, "cpu-value"), "92.0 %");
}

fn sparkline_points(root: &Element, section: &str) -> usize {
    root.query_selector(&format!("[data-testid='{section}'] [data-testid='sparkline']"))
        .expect("selector")
        .and_then(|svg| svg.get_attribute("data-points"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[wasm_bindgen_test]
async fn a_restarted_server_moves_the_sparkline_again() {
    let root = mount_point();
    yew::Renderer::<CountingPanel>::with_root(root.clone()).render();
    settle().await;
    let mut m = full_metrics();
    m.instance = "before-restart".into();
    for seq in 1..=40 {
        m.seq = seq;
        m.cpu.percent = Some(if seq % 2 == 0 { 10.0 } else { 20.0 });
        dispatch(m.clone());
    }
    settle().await;
    assert_eq!(sparkline_points(&root, "cpu"), 40);

    // The restarted server counts seq from 1 again, under a new instance.
    m.instance = "after-restart".into();
    for (seq, cpu) in [(1, 70.0), (2, 80.0), (3, 90.0)] {
        m.seq = seq;
        m.cpu.percent = Some(cpu);
        dispatch(m.clone());
        settle().await;
    }
    assert_eq!(sparkline_points(&root, "cpu"), 3, "the new server's samples, not a frozen line");
    assert_eq!(text_of(&root, "cpu-value"), "90.0 %");
}

fn health_with_store(state: &str, reason: Option<&str>, dropped: u64) -> shared::api::Health {
    shared::api::Health {
        status: "ok".into(),
        protocol: shared::PROTOCOL_VERSION,
        version: "0.1.0".into(),
        commit: "abc1234".into(),
        connections: 1,
        store: Some(shared::api::StoreHealth {
            state: state.into(),
            reason: reason.map(str::to_owned),
            dropped_samples: dropped,
            keeps_s: None,
        }),
        remote_write: Vec::new(),
    }
}

#[wasm_bindgen_test]
async fn a_degraded_store_is_announced_with_its_reason_and_a_healthy_one_is_not() {
    let degraded = mount_point();
    let server = Some(health_with_store("degraded", Some("the disk is full"), 12));
    yew::Renderer::<StoreBanner>::with_root_and_props(degraded.clone(), StoreBannerProps { server }).render();
    let fine = mount_point();
    let server = Some(health_with_store("ok", None, 0));
    yew::Renderer::<StoreBanner>::with_root_and_props(fine.clone(), StoreBannerProps { server }).render();
    settle().await;
    let banner = degraded.query_selector("[data-testid=store-banner]").ok().flatten().expect("a banner");
    assert_eq!(banner.get_attribute("role").as_deref(), Some("alert"));
    let text = banner.text_content().unwrap_or_default();
    assert!(text.contains("the disk is full") && text.contains("12 samples were not kept"), "{text}");
    assert!(fine.query_selector("[data-testid=store-banner]").ok().flatten().is_none(), "no banner when ok");

    // A store that works but began again says so, quietly.
    let reset = mount_point();
    let server = Some(health_with_store("ok", Some("the database was damaged and moved aside"), 0));
    yew::Renderer::<StoreBanner>::with_root_and_props(reset.clone(), StoreBannerProps { server }).render();
    settle().await;
    let banner = reset.query_selector("[data-testid=store-banner]").ok().flatten().expect("a banner");
    assert_eq!(banner.get_attribute("role").as_deref(), Some("status"));
    let text = banner.text_content().unwrap_or_default();
    assert!(text.starts_with("History begins again: the database was damaged"), "{text}");
}

fn receiver(url: &str, state: &str, lag_ms: Option<u64>, error: Option<&str>) -> RemoteWriteHealth {
    RemoteWriteHealth {
        receiver: url.into(),
        state: state.into(),
        lag_ms,
        last_sent_ms: Some(1_770_581_730_000),
        last_error: error.map(str::to_owned),
        last_error_ms: error.map(|_| 1_770_581_731_000),
        samples_sent: 1_234,
        batches_skipped: 0,
    }
}

fn render_remote_write_banner(receivers: Vec<RemoteWriteHealth>) -> Element {
    let root = mount_point();
    let mut health = health_with_store("ok", None, 0);
    health.remote_write = receivers;
    let props = RemoteWriteBannerProps { server: Some(health) };
    yew::Renderer::<RemoteWriteBanner>::with_root_and_props(root.clone(), props).render();
    root
}

#[wasm_bindgen_test]
async fn a_lagging_push_is_announced_one_line_a_receiver_and_a_live_one_is_not() {
    let lagging = render_remote_write_banner(vec![
        receiver("http://prom:9090", "retrying", Some(120_000), Some("HTTP 503 Service Unavailable")),
        receiver("http://vm:8428", "catching_up", Some(12 * 60_000), None),
        receiver("https://mimir:443", "live", Some(2_000), None),
    ]);
    let live = render_remote_write_banner(vec![receiver("http://vm:8428", "live", Some(3_000), None)]);
    let slow = render_remote_write_banner(vec![receiver("http://vm:8428", "live", Some(16_000), None)]);
    let none = render_remote_write_banner(Vec::new());
    let unknown = mount_point();
    let props = RemoteWriteBannerProps { server: None };
    yew::Renderer::<RemoteWriteBanner>::with_root_and_props(unknown.clone(), props).render();
    settle().await;

    let banner = find(&lagging, "remote-write-banner").expect("a banner");
    assert_eq!(banner.get_attribute("role").as_deref(), Some("status"));
    let lines = banner.query_selector_all("[data-testid=remote-write-line]").expect("valid selector");
    let lines: Vec<String> = (0..lines.length())
        .filter_map(|i| lines.item(i))
        .map(|line| line.text_content().unwrap_or_default())
        .collect();
    assert_eq!(
        lines,
        [
            "Pushing to http://prom:9090 is 2 min behind: HTTP 503 Service Unavailable. PerfMon keeps every \
             sample and sends what it missed when the receiver answers.",
            "Catching up with http://vm:8428: 12 min behind, sending what it missed, oldest first.",
        ],
        "the live receiver under the threshold has no line"
    );
    let slow = find(&slow, "remote-write-banner").expect("a banner for a live receiver 16 s behind");
    assert!(slow.text_content().unwrap_or_default().contains("is 16 s behind"));
    assert!(find(&live, "remote-write-banner").is_none(), "no banner while every receiver keeps up");
    assert!(find(&none, "remote-write-banner").is_none(), "no banner when nothing is pushed");
    assert!(find(&unknown, "remote-write-banner").is_none(), "no banner before the health answer");
}
