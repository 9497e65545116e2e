//! The header's PerfMon button with its Live/Idle badge. It opens the panel
//! through a portal into `<body>`, outside the header's stacking context, keeps it
//! under the button on scroll and resize, moves focus into it, and closes it on
//! Escape or a click outside, handing focus back to the button.

use gloo_events::{EventListener, EventListenerOptions};
use wasm_bindgen::JsCast;
use yew::prelude::*;

use crate::components::{Badge, PerfPanel};
use crate::state::{Connection, PerfState};

/// Gap between the button and the panel, in CSS pixels.
const GAP_PX: f64 = 8.0;

/// Props of [`PerfMonButton`].
#[derive(Properties, PartialEq)]
pub struct PerfMonButtonProps {
    /// The stream the panel shows.
    pub data: PerfState,
    /// The run's token budget (`?budget=`), for the tokens bar.
    #[prop_or_default]
    pub token_budget: Option<u64>,
}

/// The panel's fixed position under `button`: its top just below the button, its
/// right edge aligned with the button's (at least `GAP_PX` from the window edge).
pub fn panel_position(button_bottom: f64, button_right: f64, window_width: f64) -> String {
    let right = (window_width - button_right).max(GAP_PX);
    format!("top: {:.0}px; right: {:.0}px;", button_bottom + GAP_PX, right)
}

/// The PerfMon button and, while open, its panel.
#[function_component(PerfMonButton)]
pub fn perfmon_button(props: &PerfMonButtonProps) -> Html {
    let open = use_state(|| false);
    let position = use_state(String::new);
    let button_ref = use_node_ref();
    let panel_ref = use_node_ref();
    let live = props.data.view.live;

    let place = {
        let (button_ref, position) = (button_ref.clone(), position.clone());
        move || {
            let (Some(button), Some(window)) = (button_ref.cast::<web_sys::Element>(), web_sys::window())
            else {
                return;
            };
            let rect = button.get_bounding_client_rect();
            let width = window.inner_width().ok().and_then(|w| w.as_f64()).unwrap_or(rect.right());
            position.set(panel_position(rect.bottom(), rect.right(), width));
        }
    };
    let close = {
        let (open, button_ref) = (open.clone(), button_ref.clone());
        move || {
            open.set(false);
            if let Some(button) = button_ref.cast::<web_sys::HtmlElement>() {
                let _ = button.focus();
            }
        }
    };

    {
        let (place, close) = (place.clone(), close.clone());
        let (button_ref, panel_ref) = (button_ref.clone(), panel_ref.clone());
        use_effect_with(*open, move |open| {
            let mut listeners = Vec::new();
            if let (true, Some(window)) = (*open, web_sys::window()) {
                place();
                // Focus goes into the panel (it opened from a keypress as often
                // as a click): Tab then reaches its close button first, not the
                // page behind it. `close` hands it back to the button.
                if let Some(panel) = panel_ref.cast::<web_sys::HtmlElement>() {
                    let _ = panel.focus();
                }
                let on_move = {
                    let place = place.clone();
                    move |_: &Event| place()
                };
                listeners.push(EventListener::new(&window, "resize", on_move.clone()));
                // Capture, so scrolling any container moves the panel along.
                let capture =
                    EventListenerOptions { phase: gloo_events::EventListenerPhase::Capture, passive: true };
                listeners.push(EventListener::new_with_options(&window, "scroll", capture, on_move));
                let on_key = {
                    let close = close.clone();
                    move |event: &Event| {
                        if event.dyn_ref::<KeyboardEvent>().is_some_and(|k| k.key() == "Escape") {
                            close();
                        }
                    }
                };
                listeners.push(EventListener::new(&window, "keydown", on_key));
                let on_press = move |event: &Event| {
                    let target = event.target().and_then(|t| t.dyn_into::<web_sys::Node>().ok());
                    let inside = |node_ref: &NodeRef| {
                        node_ref.cast::<web_sys::Node>().is_some_and(|n| n.contains(target.as_ref()))
                    };
                    // The button toggles by itself; only clicks elsewhere close.
                    if !inside(&panel_ref) && !inside(&button_ref) {
                        close();
                    }
                };
                listeners.push(EventListener::new(&window, "mousedown", on_press));
            }
            move || drop(listeners)
        });
    }

    let on_toggle = {
        let open = open.clone();
        Callback::from(move |_: MouseEvent| open.set(!*open))
    };
    let on_close = Callback::from(move |()| close());
    // The header says when the server is out of reach: an "Idle" badge would
    // claim a quiet machine it cannot see.
    let badge = if props.data.connection == Connection::Refused {
        html! { <Badge label="Refused" variant="critical" /> }
    } else if props.data.lost() {
        html! { <Badge label="Offline" variant="warn" /> }
    } else if live {
        html! { <Badge label="Live" variant="live" /> }
    } else {
        html! { <Badge label="Idle" variant="idle" /> }
    };
    let body = web_sys::window().and_then(|w| w.document()).and_then(|d| d.body());
    let panel = match (*open, body) {
        (true, Some(body)) => create_portal(
            html! {
                <PerfPanel data={props.data.clone()} token_budget={props.token_budget} style={(*position).clone()}
                    {on_close} node_ref={panel_ref.clone()} />
            },
            body.into(),
        ),
        _ => html! {},
    };
    html! {
        <>
            <button
                class="perfmon-button"
                type="button"
                title="Machine and agent-run performance"
                aria-haspopup="dialog"
                aria-expanded={if *open { "true" } else { "false" }}
                data-testid="perfmon-button"
                ref={button_ref}
                onclick={on_toggle}
            >
                <span class="perfmon-button__label">{ "PerfMon" }</span>
                { badge }
            </button>
            { panel }
        </>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_panel_sits_under_the_button_and_inside_the_window() {
        assert_eq!(panel_position(44.0, 1180.0, 1200.0), "top: 52px; right: 20px;");
        assert_eq!(panel_position(44.0, 1200.0, 1200.0), "top: 52px; right: 8px;");
    }
}
