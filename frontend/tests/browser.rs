//! The panel rendered in a real (headless) browser.
#![cfg(target_arch = "wasm32")]

use std::rc::Rc;
use std::time::Duration;

use frontend::components::{PerfMonButton, PerfPanel, PerfPanelProps};
use frontend::format::NOT_AVAILABLE;
use frontend::hooks::{Connection, PerfMetricsHandle};
use shared::{PerfMetrics, ServerMsg};
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

fn document() -> web_sys::Document {
    web_sys::window()
        .expect("window")
        .document()
        .expect("document")
}

/// A fresh mount point, so tests do not see each other's DOM.
fn mount_point() -> Element {
    let div = document().create_element("div").expect("div");
    document()
        .body()
        .expect("body")
        .append_child(&div)
        .expect("append");
    div
}

fn text_of(root: &Element, test_id: &str) -> String {
    root.query_selector(&format!("[data-testid='{test_id}']"))
        .expect("valid selector")
        .unwrap_or_else(|| panic!("no element with data-testid={test_id}"))
        .text_content()
        .unwrap_or_default()
}

async fn settle() {
    yew::platform::time::sleep(Duration::from_millis(30)).await;
}

#[wasm_bindgen_test]
async fn panel_shows_formatted_cpu_and_memory_from_a_payload() {
    let root = mount_point();
    let data = PerfMetricsHandle {
        metrics: Some(Rc::new(seed_metrics())),
        connection: Connection::Open,
        server_error: None,
    };
    yew::Renderer::<PerfPanel>::with_root_and_props(
        root.clone(),
        PerfPanelProps {
            data,
            on_close: Callback::noop(),
        },
    )
    .render();
    settle().await;

    assert_eq!(text_of(&root, "cpu-value"), "37.2 %");
    assert_eq!(text_of(&root, "memory-value"), "6.2 / 16.0 GB");
    assert_eq!(text_of(&root, "memory-detail"), "38.8 %");
    // The seed says tokens are not available yet: no numbers for them.
    assert_eq!(text_of(&root, "tokens-value"), NOT_AVAILABLE);
    assert_eq!(text_of(&root, "gpu-value"), NOT_AVAILABLE);
    assert_eq!(text_of(&root, "run-status"), "Running · pid 12345");
    let fill = root
        .query_selector("[data-testid='cpu'] .meter__fill")
        .expect("selector")
        .expect("cpu bar");
    assert_eq!(fill.get_attribute("style").as_deref(), Some("width: 37.2%"));
}

#[wasm_bindgen_test]
async fn panel_says_not_available_without_a_payload() {
    let root = mount_point();
    yew::Renderer::<PerfPanel>::with_root_and_props(
        root.clone(),
        PerfPanelProps {
            data: PerfMetricsHandle::default(),
            on_close: Callback::noop(),
        },
    )
    .render();
    settle().await;

    for id in [
        "cpu-value",
        "memory-value",
        "gpu-value",
        "tokens-value",
        "run-status",
    ] {
        assert_eq!(text_of(&root, id), NOT_AVAILABLE, "{id}");
    }
    assert_eq!(
        text_of(&root, "sample-time"),
        "Waiting for the first sample"
    );
}

#[derive(Properties, PartialEq)]
struct ButtonHost {
    data: PerfMetricsHandle,
}

#[function_component(ButtonHarness)]
fn button_harness(props: &ButtonHost) -> Html {
    html! { <PerfMonButton data={props.data.clone()} /> }
}

#[wasm_bindgen_test]
async fn the_button_opens_the_panel_as_a_direct_child_of_body() {
    let root = mount_point();
    let data = PerfMetricsHandle {
        metrics: Some(Rc::new(seed_metrics())),
        connection: Connection::Open,
        server_error: None,
    };
    yew::Renderer::<ButtonHarness>::with_root_and_props(root.clone(), ButtonHost { data }).render();
    settle().await;

    let button: HtmlElement = root
        .query_selector("[data-testid='perfmon-button']")
        .expect("selector")
        .expect("button")
        .dyn_into()
        .expect("an HTML element");
    assert_eq!(
        button.get_attribute("aria-expanded").as_deref(),
        Some("false")
    );
    // The seed's run is running: the badge says Live.
    assert_eq!(text_of(&root, "badge"), "Live");

    button.click();
    settle().await;
    assert_eq!(
        button.get_attribute("aria-expanded").as_deref(),
        Some("true")
    );
    let panel = document()
        .query_selector("[data-testid='perf-panel']")
        .expect("selector")
        .expect("panel rendered");
    let parent = panel.parent_element().expect("panel has a parent");
    assert_eq!(
        parent.tag_name(),
        "BODY",
        "the panel is portaled into <body>"
    );
    assert!(
        !root.contains(Some(&panel)),
        "the panel is not inside the header"
    );

    button.click();
    settle().await;
    assert!(
        document()
            .query_selector("[data-testid='perf-panel']")
            .expect("selector")
            .is_none()
    );
}
