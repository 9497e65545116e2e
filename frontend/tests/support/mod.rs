//! What the browser tests of charts share: loading uPlot as the page does, a
//! mount point, finding and reading elements, waiting for the page to settle,
//! and moving the mouse over a plot. Each test file has `mod support;`.
#![cfg(target_arch = "wasm32")]
// Each test file uses only some of these.
#![allow(dead_code)]

use std::time::Duration;

use web_sys::Element;

/// The first timestamp of the tests' timelines (unix ms, in November 2026).
pub const T0: i64 = 1_795_000_000_000;

/// The page loads uPlot from `index.html`; a test page has to load it itself.
pub fn load_uplot() {
    load_uplot_with(&[]);
}

/// uPlot and its stylesheet, and `stylesheets` besides, loaded once per test
/// page.
pub fn load_uplot_with(stylesheets: &[&str]) {
    let loaded = js_sys::Reflect::has(&js_sys::global(), &"uPlot".into()).unwrap_or(false);
    if !loaded {
        // `eval` runs in its caller's scope here: the script's `var uPlot` must be made global.
        let source = include_str!("../../node_modules/uplot/dist/uPlot.iife.min.js");
        js_sys::eval(&format!("{source}\n;globalThis.uPlot = uPlot;")).expect("uPlot loads");
        let uplot_css = include_str!("../../node_modules/uplot/dist/uPlot.min.css");
        for css in std::iter::once(&uplot_css).chain(stylesheets) {
            let style = document().create_element("style").expect("a style element");
            style.set_text_content(Some(css));
            document().head().expect("a head").append_child(&style).expect("styles attach");
        }
    }
}

pub fn document() -> web_sys::Document {
    web_sys::window().and_then(|w| w.document()).expect("a document")
}

/// A fresh element 900 px wide at the end of the body.
pub fn mount_point() -> Element {
    mount_point_at(900)
}

/// A fresh element `width` px wide at the end of the body.
pub fn mount_point_at(width: u32) -> Element {
    let el = document().create_element("div").expect("a div");
    el.set_attribute("style", &format!("width: {width}px")).expect("style");
    document().body().expect("a body").append_child(&el).expect("mounts");
    el
}

pub fn find(root: &Element, selector: &str) -> Element {
    root.query_selector(selector).ok().flatten().unwrap_or_else(|| panic!("{selector} renders"))
}

pub fn text(root: &Element, selector: &str) -> String {
    find(root, selector).text_content().unwrap_or_default()
}

pub fn has(root: &Element, selector: &str) -> bool {
    root.query_selector(selector).ok().flatten().is_some()
}

/// An attribute's value as a number; it must be set.
pub fn attr(el: &Element, name: &str) -> usize {
    el.get_attribute(name).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{name} is set"))
}

pub async fn sleep(ms: u64) {
    yew::platform::time::sleep(Duration::from_millis(ms)).await;
}

/// Gives the page time to render and uPlot to draw.
pub async fn settle() {
    sleep(150).await;
}

/// Waits (at most 3 s) for `ready`, polling.
pub async fn until(what: &str, ready: impl Fn() -> bool) {
    for _ in 0..60 {
        if ready() {
            return;
        }
        sleep(50).await;
    }
    panic!("timed out waiting for {what}");
}

/// Moves the mouse to `fraction` of the plot's width, then clicks there if asked
/// (pressed and released in place, as a real click is: uPlot takes a click
/// after a press elsewhere for the end of a drag).
pub async fn point_at(root: &Element, fraction: f64, click: bool) {
    let over = find(root, ".u-over");
    let rect = over.get_bounding_client_rect();
    let init = web_sys::MouseEventInit::new();
    init.set_client_x((rect.left() + rect.width() * fraction).round() as i32);
    init.set_client_y((rect.top() + rect.height() / 2.0) as i32);
    init.set_bubbles(true);
    for kind in if click { &["mousemove", "mousedown", "mouseup", "click"][..] } else { &["mousemove"][..] } {
        let event = web_sys::MouseEvent::new_with_mouse_event_init_dict(kind, &init).expect("an event");
        over.dispatch_event(&event).expect("dispatched");
        settle().await;
    }
}
