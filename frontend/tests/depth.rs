//! The machine in depth on the dashboard, in a real (headless) browser with
//! the real uPlot and the page's stylesheet: the sections come collapsed with
//! a summary line each, and only the dashboard has them; opening one draws its
//! charts (CPU time by mode stacked); each disk and interface in the data gets
//! its charts; a hardware event the machine cannot count is named with its
//! reason where its chart would be; each temperature sensor and each
//! filesystem's use; a GPU's clocks, its throttling band and what holds it
//! now; and where there is nothing, a note says so.
#![cfg(target_arch = "wasm32")]

use std::rc::Rc;

use frontend::components::charts::ChartSet;
use frontend::hooks::Scheme;
use frontend::state::{SharedTimeline, Timeline, Window};
use shared::api::HistorySeries;
use shared::depth::disks::{DiskDevice, Filesystem};
use shared::depth::perf::{self as event, PerfEvent};
use shared::{GpuDevice, PerfMetrics, series};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{Element, HtmlElement};
use yew::prelude::*;

mod support;

use support::{T0, find, load_uplot_with, mount_point_at, text, until};

wasm_bindgen_test_configure!(run_in_browser);

/// Points in each test's timeline, a second apart.
const N: usize = 120;
const PMU: &str = "no hardware performance counters on this machine (a VM without a CPU PMU)";

/// uPlot and the page's own stylesheet, as `index.html` loads them.
fn load_page_assets() {
    load_uplot_with(&[include_str!("../styles.css")]);
}

fn all(root: &Element, selector: &str) -> Vec<Element> {
    let list = root.query_selector_all(selector).expect("a selector");
    (0..list.length()).filter_map(|i| list.item(i)?.dyn_into::<Element>().ok()).collect()
}

fn drawn(figure: &Element) -> usize {
    figure.get_attribute("data-drawn-points").and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// Opens a section the way a click on its summary does.
async fn open(root: &Element, section: &str) -> Element {
    let selector = format!("[data-testid='{section}']");
    until(&format!("{section} renders"), || root.query_selector(&selector).ok().flatten().is_some()).await;
    let details = find(root, &selector);
    find(&details, "summary").dyn_into::<HtmlElement>().expect("an element").click();
    until(&format!("{section} opens"), || details.query_selector(".depth__body").ok().flatten().is_some())
        .await;
    details
}

/// A series' value at point `i`.
type Values = fn(usize) -> Option<f64>;

/// `N` points; each series `(name, value at i)`.
fn timeline(series: &[(String, Values)]) -> Timeline {
    let mut h = HistorySeries { step_s: 1, tier: "raw".into(), ..HistorySeries::default() };
    h.timestamps = (0..N as i64).map(|i| T0 + i * 1000).collect();
    h.series.insert(series::CPU_PERCENT.into(), (0..N).map(|i| Some(30.0 + (i % 5) as f64)).collect());
    for (name, value) in series {
        h.series.insert(name.clone(), (0..N).map(value).collect());
    }
    h.gpu_names.insert("0".into(), "NVIDIA H100".into());
    Timeline::from_history(h)
}

fn window() -> Window {
    Window { from: T0 as f64, to: (T0 + N as i64 * 1000) as f64 }
}

/// Every machine-wide series of the machine in depth, and two disks and an
/// interface; the GPU's clocks held for the last 20 points.
fn full_timeline() -> Timeline {
    let mut s: Vec<(String, Values)> = vec![
        (series::CPU_USER.into(), |i| Some(40.0 + (i % 3) as f64)),
        (series::CPU_SYSTEM.into(), |_| Some(5.0)),
        (series::CPU_IOWAIT.into(), |_| Some(1.5)),
        (series::CPU_IRQ.into(), |_| Some(0.5)),
        (series::CPU_SOFTIRQ.into(), |_| Some(1.0)),
        (series::CPU_STEAL.into(), |_| Some(2.0)),
        (series::CPU_NICE.into(), |_| Some(0.0)),
        (series::CPU_GUEST.into(), |_| None),
        (series::CONTEXT_SWITCHES.into(), |_| Some(1200.0)),
        (series::PRESSURE_CPU_SOME.into(), |_| Some(3.0)),
        (series::PRESSURE_IO_SOME.into(), |_| Some(2.1)),
        (series::PRESSURE_IO_FULL.into(), |_| Some(1.0)),
        (series::PRESSURE_MEMORY_SOME.into(), |_| Some(0.0)),
        (series::MEMORY_AVAILABLE_GB.into(), |_| Some(12.3)),
        (series::MEMORY_CACHED_GB.into(), |_| Some(4.0)),
        (series::PAGE_FAULTS.into(), |_| Some(850.0)),
        (series::MAJOR_FAULTS.into(), |_| Some(0.5)),
        (series::PERF_CONTEXT_SWITCHES.into(), |_| Some(1190.0)),
        (series::PERF_PAGE_FAULTS.into(), |_| Some(840.0)),
        (series::gpu_device(0, series::device::SM_CLOCK_MHZ), |i| {
            Some(if i < 100 { 1980.0 } else { 1410.0 })
        }),
        (series::gpu_device(0, series::device::MEMORY_CLOCK_MHZ), |_| Some(2619.0)),
        (series::gpu_device(0, series::device::THROTTLED), |i| Some(if i < 100 { 0.0 } else { 1.0 })),
        (series::gpu_device(0, "held_by_sw_power_cap"), |i| Some(if i < 100 { 0.0 } else { 1.0 })),
        (series::gpu_device(0, "held_by_hw_slowdown"), |_| Some(0.0)),
    ];
    for disk in ["vda", "nvme0n1"] {
        use series::disk_device as f;
        let fields: [(&str, Values); 6] = [
            (f::READ_BYTES_PER_S, |_| Some(1e6)),
            (f::WRITE_BYTES_PER_S, |_| Some(2e6)),
            (f::READ_IOPS, |_| Some(120.0)),
            (f::WRITE_IOPS, |_| Some(80.0)),
            (f::AWAIT_MS, |_| Some(4.2)),
            (f::UTIL_PERCENT, |i| Some(10.0 + (i % 2) as f64)),
        ];
        s.extend(fields.map(|(field, v)| (series::disk_device(disk, field), v)));
    }
    use series::interface as f;
    let fields: [(&str, Values); 4] = [
        (f::RX_BYTES_PER_S, |_| Some(1.2e6)),
        (f::TX_BYTES_PER_S, |_| Some(3e3)),
        (f::RX_PACKETS_PER_S, |_| Some(900.0)),
        (f::RX_DROPS_PER_S, |_| Some(2.0)),
    ];
    s.extend(fields.map(|(field, v)| (series::interface("eth0", field), v)));
    s.push((series::temperature("nvme Composite"), |_| Some(38.0)));
    s.push((series::temperature("coretemp Package id 0"), |i| Some(50.0 + (i % 6) as f64)));
    s.push((series::filesystem("vda1", series::filesystem::USED_PERCENT), |i| Some(39.0 + i as f64 / 100.0)));
    timeline(&s)
}

/// The newest sample: a third disk the timeline has no series for yet, a
/// filesystem, hardware events a VM cannot count, and a GPU held by its power cap.
fn sample() -> PerfMetrics {
    let mut m = PerfMetrics::default();
    m.pressure.available = true;
    m.memory_detail.available = true;
    m.paging.available = true;
    m.disks.available = true;
    m.disks.devices = ["nvme0n1", "sdc", "vda"]
        .map(|name| DiskDevice { name: name.into(), ..DiskDevice::default() })
        .to_vec();
    m.filesystems.available = true;
    m.filesystems.filesystems = vec![Filesystem {
        device: "vda1".into(),
        fs_type: "ext4".into(),
        mount_point: Some("/".into()),
        size_gb: Some(100.0),
        used_gb: Some(40.0),
        free_gb: Some(60.0),
        used_percent: Some(40.0),
    }];
    m.interfaces.available = true;
    m.perf_events.available = true;
    for name in [event::CYCLES, event::INSTRUCTIONS, event::CACHE_MISSES, event::BRANCH_MISSES] {
        let e = PerfEvent {
            available: false,
            reason: Some(PMU.into()),
            kind: "hardware".into(),
            ..PerfEvent::default()
        };
        m.perf_events.events.insert(name.into(), e);
    }
    for name in [event::CONTEXT_SWITCHES, event::PAGE_FAULTS] {
        let e = PerfEvent {
            available: true,
            kind: "software".into(),
            per_s: Some(1190.0),
            ..PerfEvent::default()
        };
        m.perf_events.events.insert(name.into(), e);
    }
    m.gpu.available = true;
    m.gpu.devices = vec![GpuDevice {
        index: 0,
        name: "NVIDIA H100".into(),
        sm_clock_mhz: Some(1410),
        sm_clock_max_mhz: Some(1980),
        memory_clock_mhz: Some(2619),
        memory_clock_max_mhz: Some(2619),
        pstate: Some("P0".into()),
        clock_event_reasons: Some(vec!["sw_power_cap".into()]),
        ..GpuDevice::default()
    }];
    m
}

#[derive(Properties, PartialEq)]
struct Host {
    timeline: SharedTimeline,
    depth: bool,
    latest: Option<Rc<PerfMetrics>>,
}

#[function_component(SetHost)]
fn set_host(props: &Host) -> Html {
    html! {
        <ChartSet timeline={props.timeline.clone()} version={1} window={window()} scheme={Scheme::Dark}
            depth={props.depth} latest={props.latest.clone()} />
    }
}

fn render_at(width: u32, timeline: Timeline, depth: bool, latest: Option<PerfMetrics>) -> Element {
    load_page_assets();
    let root = mount_point_at(width);
    let props = Host { timeline: SharedTimeline::new(timeline), depth, latest: latest.map(Rc::new) };
    yew::Renderer::<SetHost>::with_root_and_props(root.clone(), props).render();
    root
}

fn render(timeline: Timeline, latest: Option<PerfMetrics>) -> Element {
    render_at(900, timeline, true, latest)
}

#[wasm_bindgen_test]
async fn the_sections_come_collapsed_below_the_machine_with_a_line_each() {
    let root = render(full_timeline(), Some(sample()));
    until("the depth part", || root.query_selector("[data-testid='depth']").ok().flatten().is_some()).await;
    let depth = find(&root, "[data-testid='depth']");
    let machine = find(&root, "[aria-label='The machine']");
    assert_eq!(
        machine.compare_document_position(&depth) & web_sys::Node::DOCUMENT_POSITION_FOLLOWING,
        web_sys::Node::DOCUMENT_POSITION_FOLLOWING,
        "below the machine's charts: the first screen is as it was"
    );
    let sections: Vec<String> =
        all(&depth, "details").iter().filter_map(|d| d.get_attribute("data-testid")).collect();
    assert_eq!(
        sections,
        [
            "depth-cpu",
            "depth-sensors",
            "depth-pressure",
            "depth-memory",
            "depth-disks",
            "depth-network",
            "depth-perf",
            "depth-gpu"
        ]
    );
    for details in all(&depth, "details") {
        assert!(!details.has_attribute("open"), "collapsed: {:?}", details.get_attribute("data-testid"));
        let summary = find(&details, "summary").dyn_into::<HtmlElement>().expect("an element");
        assert_eq!(summary.tab_index(), 0, "a summary is reached with Tab");
    }
    assert!(all(&depth, "figure").is_empty(), "no chart is made while its section is closed");
    let line = |id: &str| text(&root, &format!("[data-testid='{id}'] summary"));
    assert_eq!(line("depth-pressure"), "Pressure — cpu some 3.0 % · io some 2.1 % · memory some 0.0 %");
    assert_eq!(
        line("depth-sensors"),
        "Temperatures — coretemp Package id 0 55 °C · nvme Composite 38 °C",
        "hottest first"
    );
    assert_eq!(
        line("depth-cpu"),
        "CPU time by mode — user 42.0 % · system 5.0 % · iowait 1.5 % · steal 2.0 %"
    );
    assert_eq!(
        line("depth-memory"),
        "Memory detail and paging — available 12.30 GB · cached 4.00 GB · page faults 850/s · major 0.5/s"
    );
    assert_eq!(line("depth-disks"), "Disks — nvme0n1 11.0 % busy · sdc · vda 11.0 % busy");
    assert_eq!(
        line("depth-network"),
        "Network interfaces — eth0 in 1.2 MB/s out 3.0 KB/s, 2.0/s errors and drops"
    );
    assert_eq!(
        line("depth-perf"),
        format!("Hardware counters — IPC not counted: {PMU} · context switches 1.2 k/s")
    );
    assert_eq!(line("depth-gpu"), "GPU clocks and throttling — GPU 0 1410 MHz, P0 · held by the power cap");

    let without = render_at(900, full_timeline(), false, Some(sample()));
    until("the machine's charts", || without.query_selector("[data-testid='cpu']").ok().flatten().is_some())
        .await;
    assert!(
        without.query_selector("[data-testid='depth']").ok().flatten().is_none(),
        "a run's report has none"
    );
}

#[wasm_bindgen_test]
async fn opening_cpu_by_mode_draws_its_modes_stacked() {
    let root = render(full_timeline(), None);
    let details = open(&root, "depth-cpu").await;
    let modes = find(&details, "[data-testid='cpu-modes']");
    until("the modes drawn", || drawn(&modes) > 0).await;
    assert_eq!(
        modes.get_attribute("data-y-top").as_deref(),
        Some("100"),
        "shares of the machine: 0 to 100 %"
    );
    let summary = text(&modes, "[data-testid='summary']");
    assert!(summary.contains("user: latest 42.0 %") && summary.contains("steal: latest 2.0 %"), "{summary}");
    assert!(!summary.contains("guest:"), "a mode with no value is left out, not drawn as 0: {summary}");
    let legend: Vec<String> =
        all(&modes, ".depth__legend li").iter().filter_map(|l| l.text_content()).collect();
    assert_eq!(legend, ["user", "system", "softirq", "irq", "iowait", "steal", "nice", "guest"]);
    let scheduler = find(&details, "[data-testid='cpu-scheduler']");
    until("the scheduler drawn", || drawn(&scheduler) > 0).await;

    // Closed again, its charts go (and cost nothing per sample).
    find(&details, "summary").dyn_into::<HtmlElement>().expect("an element").click();
    until("the charts dropped", || details.query_selector("figure").ok().flatten().is_none()).await;
}

#[wasm_bindgen_test]
async fn each_disk_and_interface_in_the_data_has_its_charts() {
    let root = render(full_timeline(), Some(sample()));
    let disks = open(&root, "depth-disks").await;
    let groups: Vec<String> =
        all(&disks, ".depth__device").iter().filter_map(|d| d.get_attribute("data-testid")).collect();
    assert_eq!(groups, ["disk-nvme0n1", "disk-sdc", "disk-vda"], "from the series and the newest sample");
    for disk in ["nvme0n1", "vda"] {
        for chart in ["bytes", "iops", "await", "util"] {
            let figure = find(&disks, &format!("[data-testid='disk-{disk}-{chart}']"));
            until(&format!("{disk} {chart} drawn"), || drawn(&figure) > 0).await;
        }
    }
    let iops = text(&disks, "[data-testid='disk-vda-iops'] [data-testid='summary']");
    assert!(iops.contains("Reads: latest 120/s"), "{iops}");
    let latency = text(&disks, "[data-testid='disk-vda-await'] [data-testid='summary']");
    assert!(latency.contains("latest 4.2 ms"), "{latency}");
    let sdc = text(&disks, "[data-testid='disk-sdc'] [data-testid='device-none']");
    assert_eq!(
        sdc, "No data for sdc in this range.",
        "a disk only the sample has: a note, not four empty charts"
    );
    assert!(all(&disks, "[data-testid='disk-sdc'] figure").is_empty());
    let used = find(&disks, "[data-testid='filesystems-used']");
    until("the filesystems' use drawn", || drawn(&used) > 0).await;
    let summary = text(&used, "[data-testid='summary']");
    assert!(summary.contains("vda1: latest 40.2 %"), "{summary}");
    let rows = all(&disks, "[data-testid='filesystems'] tbody tr");
    assert_eq!(rows.len(), 1);
    let row = rows[0].text_content().unwrap_or_default();
    assert!(
        row.contains("vda1") && row.contains("ext4") && row.contains("100.00 GB") && row.contains("40.0 %"),
        "{row}"
    );

    let network = open(&root, "depth-network").await;
    let errors = find(&network, "[data-testid='interface-eth0-errors']");
    until("eth0's errors drawn", || drawn(&errors) > 0).await;
    let summary = text(&errors, "[data-testid='summary']");
    assert!(summary.contains("Received, dropped: latest 2.0/s"), "{summary}");
    assert_eq!(all(&network, ".depth__device").len(), 1, "one interface");
    assert!(
        text(&network, "[data-testid='sockets-none']").starts_with("No socket data"),
        "no sockets recorded"
    );
}

#[wasm_bindgen_test]
async fn each_temperature_sensor_is_a_line() {
    let root = render(full_timeline(), None);
    let sensors = open(&root, "depth-sensors").await;
    let chart = find(&sensors, "[data-testid='temperatures']");
    until("the temperatures drawn", || drawn(&chart) > 0).await;
    let summary = text(&chart, "[data-testid='summary']");
    assert!(
        summary.contains("coretemp Package id 0: latest 55 °C")
            && summary.contains("nvme Composite: latest 38 °C"),
        "{summary}"
    );
}

#[wasm_bindgen_test]
async fn an_event_the_machine_cannot_count_is_named_with_its_reason() {
    let root = render(full_timeline(), Some(sample()));
    let perf = open(&root, "depth-perf").await;
    for id in ["perf-ipc", "perf-cycles", "perf-misses"] {
        let reason = text(&perf, &format!("[data-testid='{id}-unavailable']"));
        assert!(reason.contains(PMU), "{id}: {reason}");
        assert!(
            perf.query_selector(&format!("[data-testid='{id}']")).ok().flatten().is_none(),
            "no empty {id} chart"
        );
    }
    let ipc = text(&perf, "[data-testid='perf-ipc-unavailable']");
    assert!(ipc.contains("cycles and instructions:"), "{ipc}");
    let software = find(&perf, "[data-testid='perf-software']");
    until("the software events drawn", || drawn(&software) > 0).await;
}

#[wasm_bindgen_test]
async fn a_gpus_clocks_its_throttling_and_what_holds_it_now() {
    let root = render(full_timeline(), Some(sample()));
    let gpu = open(&root, "depth-gpu").await;
    assert_eq!(text(&gpu, "[data-testid='gpu-now']"), "Now: P0 · held by the power cap");
    let clocks = find(&gpu, "[data-testid='gpu-0-clocks']");
    assert_eq!(text(&clocks, ".chart__title"), "GPU 0 clocks (at most SM 1980 MHz, memory 2619 MHz)");
    until("the clocks drawn", || drawn(&clocks) > 0).await;
    // A band per reason that held the clocks: the power cap, not the
    // hardware slowdown that was read and never held.
    let held = find(&gpu, "[data-testid='gpu-0-held']");
    assert_eq!(held.get_attribute("data-rows").as_deref(), Some("1"));
    assert_eq!(text(&held, ".heat__label"), "power cap");
    let canvas = find(&held, "canvas");
    let lit = || canvas.get_attribute("data-lit-cells").and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
    until("the power cap's band drawn", || lit() > 0).await;
    let summary = text(&held, "[data-testid='summary']");
    assert!(
        summary.starts_with("Held by the power cap ") && summary.ends_with(" % of the time."),
        "{summary}"
    );
    let pcie = text(&gpu, "[data-testid='gpu-0-pcie'] [data-testid='summary']");
    assert_eq!(pcie, "No data in this range.", "PCIe not recorded here: the chart says so");
}

#[wasm_bindgen_test]
async fn without_data_each_section_says_so_and_why_where_the_sample_knows() {
    let mut off = PerfMetrics::default();
    off.pressure.reason = Some("no /proc/pressure (a kernel without PSI)".into());
    off.gpu.reason = Some("NVML is not installed".into());
    off.perf_events.error = Some("perf_event_open is not allowed".into());
    off.cpu_detail.sensors.temperatures.reason = Some("no hwmon sensor or thermal zone".into());
    let root = render(timeline(&[]), Some(off));
    until("the depth part", || root.query_selector("[data-testid='depth']").ok().flatten().is_some()).await;
    let line = |id: &str| text(&root, &format!("[data-testid='{id}'] [data-testid='depth-state']"));
    assert_eq!(line("depth-cpu"), " — no data");
    assert_eq!(line("depth-pressure"), " — not available: no /proc/pressure (a kernel without PSI)");
    assert_eq!(line("depth-gpu"), " — no GPU: NVML is not installed");
    for (section, note, expected) in [
        ("depth-cpu", "cpu-modes-none", "No CPU-by-mode data in this range."),
        (
            "depth-sensors",
            "sensors-none",
            "No temperature data in this range: no hwmon sensor or thermal zone.",
        ),
        (
            "depth-pressure",
            "pressure-none",
            "No pressure data in this range: no /proc/pressure (a kernel without PSI).",
        ),
        ("depth-memory", "memory-detail-none", "No memory detail data in this range: not readable."),
        ("depth-disks", "disks-none", "No disk data in this range: not readable."),
        ("depth-network", "interfaces-none", "No interface data in this range: not readable."),
        ("depth-gpu", "gpu-clocks-none", "No GPU data in this range: NVML is not installed."),
    ] {
        let details = open(&root, section).await;
        assert_eq!(text(&details, &format!("[data-testid='{note}']")), expected);
        assert!(
            details.query_selector("figure.chart:not(.depth__unavailable)").ok().flatten().is_none(),
            "{section}: no empty chart"
        );
    }
    let perf = open(&root, "depth-perf").await;
    let ipc = text(&perf, "[data-testid='perf-ipc-unavailable']");
    assert!(ipc.contains("perf_event_open is not allowed"), "the section's own error for each event: {ipc}");

    // No sample at all (a page still connecting, an older server): no claims, just no data.
    let bare = render(timeline(&[]), None);
    let pressure = open(&bare, "depth-pressure").await;
    assert_eq!(text(&pressure, "[data-testid='pressure-none']"), "No pressure data in this range.");
    let perf = open(&bare, "depth-perf").await;
    assert_eq!(text(&perf, "[data-testid='perf-none']"), "No hardware counter data in this range.");
}

#[wasm_bindgen_test]
async fn at_a_phones_width_nothing_scrolls_sideways() {
    let root = render_at(390, full_timeline(), true, Some(sample()));
    for section in ["depth-cpu", "depth-disks", "depth-network", "depth-perf", "depth-gpu"] {
        open(&root, section).await;
    }
    let modes = find(&root, "[data-testid='cpu-modes']");
    until("the modes drawn", || drawn(&modes) > 0).await;
    let depth = find(&root, "[data-testid='depth']");
    assert!(
        depth.scroll_width() <= 390,
        "the part is {} px wide in 390: something pushes it sideways",
        depth.scroll_width()
    );
    for figure in all(&depth, "figure") {
        assert!(figure.get_bounding_client_rect().right() <= root.get_bounding_client_rect().right() + 0.5);
    }
}
