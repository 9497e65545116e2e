//! Alerts on the page, rendered in a real (headless) browser with the page's
//! stylesheet and the real uPlot: the dashboard's section shows what fires
//! now as a card in its severity's colour and what happened lately one line
//! each (an active alert once, the rest behind a toggle), says a silence and
//! a failing destination, and says "No alerts." when there are none; the
//! notifications' switch says where it stands and asks on a click, and its
//! log says what was shown; a chart marks each alert where it fell, inside
//! its plot area, named for a screen reader; the settings show the rules and
//! the destinations' deliveries, and fit a phone.
#![cfg(target_arch = "wasm32")]

use std::cell::Cell;
use std::rc::Rc;

use frontend::components::alerts::{AlertsSection, NotificationControl};
use frontend::components::charts::{Line, TimeChart};
use frontend::components::settings::SettingsView;
use frontend::hooks::{Load, Notifications, Notified, Permission, Scheme};
use frontend::state::{SharedTimeline, Timeline, Window};
use frontend::view::alerts::{Mark, marks};
use frontend::view::format::Unit;
use frontend::view::time::browser_offset;
use shared::Timestamp;
use shared::alerts::{
    ALERT_SCHEMA, AlertEvent, AlertState, Alerts, DestinationStatus, RuleSetting, Settings, Severity,
};
use shared::api::HistorySeries;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{Element, HtmlElement};
use yew::prelude::*;

mod support;

use support::{T0, find, has, load_uplot_with, mount_point_at, settle, text};

wasm_bindgen_test_configure!(run_in_browser);

const CSS: &str = include_str!("../styles.css");

fn iso(ms: f64) -> Timestamp {
    Timestamp(String::from(js_sys::Date::new(&ms.into()).to_iso_string()))
}

fn alert(
    id: i64,
    state: AlertState,
    rule: &str,
    severity: Severity,
    fired: f64,
    resolved: Option<f64>,
) -> AlertEvent {
    AlertEvent {
        perfmon_alert: ALERT_SCHEMA,
        id,
        state,
        rule: rule.into(),
        severity,
        title: format!("{rule} {id}"),
        message: format!("What {rule} {id} saw."),
        project: Some("demo".into()),
        run_id: None,
        series: None,
        value: None,
        threshold: None,
        fired_at: iso(fired),
        resolved_at: resolved.map(iso),
        silenced: false,
    }
}

fn all(root: &Element, selector: &str) -> Vec<Element> {
    let list = root.query_selector_all(selector).expect("a selector");
    (0..list.length()).filter_map(|i| list.item(i)?.dyn_into::<Element>().ok()).collect()
}

fn has_class(el: &Element, class: &str) -> bool {
    el.get_attribute("class").unwrap_or_default().split_whitespace().any(|c| c == class)
}

fn notifications(permission: Permission) -> Notifications {
    Notifications { permission, enable: Callback::noop(), log: Rc::default(), watching: true }
}

#[derive(Properties, PartialEq)]
struct SectionHost {
    alerts: Load<Alerts>,
}

#[function_component(SectionPage)]
fn section_page(props: &SectionHost) -> Html {
    html! {
        <AlertsSection alerts={props.alerts.clone()} notifications={notifications(Permission::Ask)} />
    }
}

fn render_section(alerts: Alerts) -> Element {
    load_uplot_with(&[CSS]);
    let root = mount_point_at(390);
    yew::Renderer::<SectionPage>::with_root_and_props(
        root.clone(),
        SectionHost { alerts: Load::Ready(Rc::new(alerts)) },
    )
    .render();
    root
}

#[wasm_bindgen_test]
async fn the_section_shows_what_fires_now_prominently_and_what_happened_lately_in_a_line_each() {
    let now = js_sys::Date::now();
    let firing = alert(20, AlertState::Firing, "memory_low", Severity::Critical, now - 60_000.0, None);
    let mut recent = vec![
        firing.clone(),
        alert(
            19,
            AlertState::Resolved,
            "disk_low",
            Severity::Warning,
            now - 600_000.0,
            Some(now - 300_000.0),
        ),
    ];
    recent.extend((1..=7).map(|i| {
        alert(i, AlertState::Event, "run_finished", Severity::Info, now - 900_000.0 - i as f64 * 1000.0, None)
    }));
    let failing = DestinationStatus {
        name: "hook".into(),
        kind: "webhook".into(),
        target: "http://127.0.0.1/…".into(),
        failed: 2,
        last_error: Some("HTTP 500 after 5 attempts".into()),
        ..DestinationStatus::default()
    };
    let root = render_section(Alerts {
        active: vec![firing],
        recent,
        silenced_until: Some(iso(now + 3_600_000.0)),
        destinations: vec![failing],
        stored: true,
    });
    settle().await;
    let section = find(&root, "[data-testid='alerts']");
    assert_eq!(section.get_attribute("data-state").as_deref(), Some("ready"));

    let active = all(&root, "[data-testid='alert-active']");
    assert_eq!(active.len(), 1);
    assert!(has_class(&active[0], "alert--critical"), "in its severity's colour");
    let card = active[0].text_content().unwrap_or_default();
    assert!(card.contains("memory_low 20") && card.contains("What memory_low 20 saw."), "{card}");
    assert!(card.contains("since "), "{card}");

    // The firing one is above, not again in the list; five lines, the rest behind a toggle.
    let rows = all(&root, "[data-testid='alert-row']");
    assert_eq!(rows.len(), 8, "every recent alert but the active one");
    assert!(rows.iter().all(|r| r.get_attribute("data-alert-id").as_deref() != Some("20")));
    assert_eq!(rows[0].get_attribute("data-state").as_deref(), Some("resolved"));
    assert!(rows[0].text_content().unwrap_or_default().contains("resolved "), "says when it resolved");
    assert_eq!(text(&root, ".alerts__more > summary"), "3 more");
    assert_eq!(all(&root, ".alerts__more [data-testid='alert-row']").len(), 3);

    assert!(text(&root, "[data-testid='alerts-silenced']").contains("silenced until"));
    assert!(text(&root, "[data-testid='delivery-failing']").contains("hook are failing: HTTP 500"));
    let el = root.clone().dyn_into::<HtmlElement>().expect("an HTML element");
    assert!(el.scroll_width() <= el.client_width(), "the section fits 390 px");
}

#[wasm_bindgen_test]
async fn with_no_alerts_the_section_says_so_in_a_line() {
    let root = render_section(Alerts::default());
    settle().await;
    assert_eq!(text(&root, "[data-testid='alerts-empty']"), "No alerts.");
    assert!(!has(&root, "[data-testid='alert-list']"));
    assert!(has(&root, "[data-testid='enable-notifications']"), "the switch is there all the same");
}

#[derive(Properties, PartialEq)]
struct ControlHost {
    permission: Permission,
    on_enable: Callback<()>,
    log: Rc<Vec<Notified>>,
}

#[function_component(ControlPage)]
fn control_page(props: &ControlHost) -> Html {
    html! {
        <NotificationControl permission={props.permission} on_enable={props.on_enable.clone()}
            log={props.log.clone()} watching=true />
    }
}

fn render_control(permission: Permission, on_enable: Callback<()>, log: Vec<Notified>) -> Element {
    load_uplot_with(&[CSS]);
    let root = mount_point_at(390);
    yew::Renderer::<ControlPage>::with_root_and_props(
        root.clone(),
        ControlHost { permission, on_enable, log: Rc::new(log) },
    )
    .render();
    root
}

#[wasm_bindgen_test]
async fn the_notifications_switch_asks_on_a_click_and_says_where_it_stands() {
    let asked = Rc::new(Cell::new(0));
    let on_enable = {
        let asked = asked.clone();
        Callback::from(move |_| asked.set(asked.get() + 1))
    };
    let root = render_control(Permission::Ask, on_enable, Vec::new());
    settle().await;
    let button = find(&root, "[data-testid='enable-notifications']");
    assert_eq!(button.text_content().as_deref(), Some("Enable notifications"));
    button.dyn_into::<HtmlElement>().expect("a button").click();
    settle().await;
    assert_eq!(asked.get(), 1, "a click asks the browser");

    let shown =
        Notified { tag: "perfmon-3-event".into(), title: "Run “nightly” finished".into(), error: None };
    let failed =
        Notified { tag: "perfmon-4-firing".into(), title: "Memory low".into(), error: Some("no".into()) };
    let root = render_control(Permission::Granted, Callback::noop(), vec![shown, failed]);
    settle().await;
    assert_eq!(text(&root, "[data-testid='notifications-on']"), "Notifications are on");
    assert!(!has(&root, "[data-testid='enable-notifications']"));
    let log = all(&root, "[data-testid='notified']");
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].text_content().as_deref(), Some("Notified: Run “nightly” finished"));
    assert_eq!(log[0].get_attribute("data-tag").as_deref(), Some("perfmon-3-event"));
    assert_eq!(log[1].get_attribute("data-shown").as_deref(), Some("false"));
    assert_eq!(log[1].text_content().as_deref(), Some("Not notified: Memory low (no)"));

    let root = render_control(Permission::Denied, Callback::noop(), Vec::new());
    settle().await;
    assert!(text(&root, "[data-testid='notifications-blocked']").contains("site settings"));
    let root = render_control(Permission::Unsupported, Callback::noop(), Vec::new());
    settle().await;
    assert!(text(&root, "[data-testid='notifications']").contains("https"));
}

#[derive(Properties, PartialEq)]
struct ChartHost {
    timeline: SharedTimeline,
    window: Window,
    marks: Rc<Vec<Mark>>,
}

#[function_component(ChartPage)]
fn chart_page(props: &ChartHost) -> Html {
    html! {
        <TimeChart id="cpu" title="CPU" unit={Unit::Percent} lines={vec![Line::new("cpu.percent", "CPU")]}
            timeline={props.timeline.clone()} version={1} window={props.window} scheme={Scheme::Dark}
            marks={props.marks.clone()} />
    }
}

#[wasm_bindgen_test]
async fn a_chart_marks_each_alert_where_it_fell_inside_its_plot_area() {
    let mut h = HistorySeries { step_s: 1, tier: "raw".into(), ..HistorySeries::default() };
    h.timestamps = (0..101).map(|i| T0 + i * 1000).collect();
    h.series.insert("cpu.percent".into(), (0..101).map(|i| Some(i as f64)).collect());
    let t0 = T0 as f64;
    let alerts = vec![
        alert(1, AlertState::Resolved, "memory_low", Severity::Critical, t0 + 10_000.0, Some(t0 + 30_000.0)),
        alert(2, AlertState::Event, "run_finished", Severity::Info, t0 + 50_000.0, None),
        alert(3, AlertState::Event, "run_failed", Severity::Warning, t0 - 50_000.0, None),
    ];
    load_uplot_with(&[CSS]);
    let root = mount_point_at(900);
    yew::Renderer::<ChartPage>::with_root_and_props(
        root.clone(),
        ChartHost {
            timeline: SharedTimeline::new(Timeline::from_history(h)),
            window: Window { from: t0, to: t0 + 100_000.0 },
            marks: Rc::new(marks(&alerts, t0, t0 + 100_000.0, browser_offset)),
        },
    )
    .render();
    settle().await;
    let marks = all(&root, "[data-testid='alert-mark']");
    assert_eq!(marks.len(), 2, "the one before the window is left out");
    assert!(has_class(&marks[0], "alert-mark--critical"));
    assert!(has_class(&marks[1], "alert-mark--info"));
    let title = marks[0].get_attribute("title").unwrap_or_default();
    assert!(title.starts_with("memory_low fired ") && title.contains(", resolved "), "{title}");
    assert_eq!(marks[0].text_content(), Some(title), "the same words for a screen reader");

    // The marks' box lies on uPlot's plot area, so 10 % of the window is 10 %
    // of the plot's width from its left edge.
    let over = find(&root, ".u-over").get_bounding_client_rect();
    let area = find(&root, "[data-testid='alert-marks']").get_bounding_client_rect();
    assert!((area.left() - over.left()).abs() < 1.5, "{} vs {}", area.left(), over.left());
    assert!((area.width() - over.width()).abs() < 1.5, "{} vs {}", area.width(), over.width());
    assert!((area.top() - over.top()).abs() < 1.5 && (area.height() - over.height()).abs() < 1.5);
    let first = marks[0].get_bounding_client_rect();
    let expected = over.left() + over.width() * 0.1;
    assert!((first.left() + 1.0 - expected).abs() < 2.0, "fired at 10 %: {} vs {expected}", first.left());
    assert!((first.width() - over.width() * 0.2).abs() < 3.0, "resolved at 30 %: {}", first.width());
    assert!(
        find(&root, ".chart__plot").get_attribute("aria-hidden").is_some(),
        "the canvas is hidden, the marks are not"
    );
}

#[derive(Properties, PartialEq)]
struct SettingsHost {
    settings: Rc<Settings>,
}

#[function_component(SettingsPage)]
fn settings_page(props: &SettingsHost) -> Html {
    html! { <SettingsView settings={props.settings.clone()} /> }
}

#[wasm_bindgen_test]
async fn the_settings_show_the_rules_and_the_deliveries_and_fit_a_phone() {
    let rule = |name: &str, condition: &str, severity: Severity, source: &str, enabled: bool| RuleSetting {
        name: name.into(),
        condition: condition.into(),
        severity,
        source: source.into(),
        enabled,
        project: None,
        repeat_s: None,
    };
    let settings = Settings {
        config_file: Some("/home/someone/.config/perfmon/a/rather/long/path/to/config.toml".into()),
        how_to_change: "Edit the file and restart: perfmon serve --config FILE.".into(),
        live_interval_ms: 1000,
        idle_interval_ms: 3000,
        history_window_s: 600,
        data_dir: Some("/var/lib/perfmon".into()),
        retention_s: vec![("raw".into(), 172_800), ("1m".into(), 30 * 86_400)],
        rules: vec![
            rule("memory_low", "memory available below 5 % for 1m", Severity::Critical, "default", true),
            RuleSetting {
                repeat_s: Some(1800),
                ..rule("gpu_hot", "a GPU above 85 °C for 2m", Severity::Warning, "config", false)
            },
        ],
        destinations: vec![DestinationStatus {
            name: "hook".into(),
            kind: "webhook".into(),
            target: "http://127.0.0.1:9/…".into(),
            delivered: 12,
            failed: 1,
            queued: 0,
            last_error: Some("HTTP 500 after 5 attempts".into()),
            last_error_at: Some(iso(js_sys::Date::now())),
        }],
        silenced_until: None,
    };
    load_uplot_with(&[CSS]);
    let root = mount_point_at(390);
    yew::Renderer::<SettingsPage>::with_root_and_props(
        root.clone(),
        SettingsHost { settings: Rc::new(settings) },
    )
    .render();
    settle().await;
    let rows = all(&root, "[data-testid='rule-row']");
    assert_eq!(rows.len(), 2);
    let off = rows[1].text_content().unwrap_or_default();
    assert!(
        off.contains("gpu_hot")
            && off.contains("config")
            && off.contains("every 30 min")
            && off.contains("off"),
        "{off}"
    );
    let destination = find(&root, "[data-testid='destination-row']");
    assert_eq!(text(&destination, "[data-testid='delivered']"), "12");
    assert_eq!(text(&destination, "[data-testid='failed']"), "1");
    assert!(text(&destination, "[data-testid='last-error']").starts_with("HTTP 500 after 5 attempts ("));
    assert!(destination.text_content().unwrap_or_default().contains("http://127.0.0.1:9/…"));
    assert!(text(&root, "[data-testid='how-to-change']").contains("--config FILE"));
    assert!(text(&root, "[data-testid='config-file']").contains("config.toml"));
    assert!(text(&root, "[data-testid='silence']").contains("perfmon alerts silence 2h"));
    assert_eq!(text(&root, "[data-testid='setting-live-interval'] dd"), "1 s");
    assert_eq!(all(&root, "[data-testid='setting-retention']").len(), 2);
    let el = root.clone().dyn_into::<HtmlElement>().expect("an HTML element");
    assert!(
        el.scroll_width() <= el.client_width(),
        "the settings fit 390 px: the tables scroll in their box"
    );
}

#[derive(Properties, PartialEq)]
struct LaterHost {
    timeline: SharedTimeline,
    window: Window,
    later: Rc<Vec<Mark>>,
}

/// A chart whose alerts come after it is drawn, as the dashboard's do.
#[function_component(LaterPage)]
fn later_page(props: &LaterHost) -> Html {
    let marks = use_state(Rc::<Vec<Mark>>::default);
    {
        let (marks, later) = (marks.clone(), props.later.clone());
        use_effect_with((), move |_| {
            yew::platform::spawn_local(async move {
                yew::platform::time::sleep(std::time::Duration::from_millis(300)).await;
                marks.set(later);
            });
        });
    }
    html! {
        <TimeChart id="cpu" title="CPU" unit={Unit::Percent} lines={vec![Line::new("cpu.percent", "CPU")]}
            timeline={props.timeline.clone()} version={1} window={props.window} scheme={Scheme::Dark}
            marks={(*marks).clone()} />
    }
}

#[wasm_bindgen_test]
async fn alerts_that_come_after_the_chart_is_drawn_leave_its_plot_in_place() {
    let mut h = HistorySeries { step_s: 1, tier: "raw".into(), ..HistorySeries::default() };
    h.timestamps = (0..101).map(|i| T0 + i * 1000).collect();
    h.series.insert("cpu.percent".into(), (0..101).map(|i| Some(i as f64)).collect());
    let t0 = T0 as f64;
    let later = vec![alert(1, AlertState::Event, "run_finished", Severity::Info, t0 + 50_000.0, None)];
    load_uplot_with(&[CSS]);
    let root = mount_point_at(900);
    yew::Renderer::<LaterPage>::with_root_and_props(
        root.clone(),
        LaterHost {
            timeline: SharedTimeline::new(Timeline::from_history(h)),
            window: Window { from: t0, to: t0 + 100_000.0 },
            later: Rc::new(marks(&later, t0, t0 + 100_000.0, browser_offset)),
        },
    )
    .render();
    settle().await;
    assert_eq!(all(&root, ".chart__plot canvas").len(), 1, "drawn");
    assert!(all(&root, "[data-testid='alert-mark']").is_empty());
    let plot = find(&root, ".chart__plot");
    support::sleep(400).await;
    assert_eq!(all(&root, "[data-testid='alert-mark']").len(), 1, "the alert came");
    assert!(
        find(&root, ".chart__plot").is_same_node(Some(&plot)),
        "the plot's element is the one uPlot drew in"
    );
    assert_eq!(all(&root, ".chart__plot canvas").len(), 1, "the plot is where it was");
}
