//! The header's PerfMon button with its Live/Idle badge; it opens the panel
//! through a portal into `<body>`, outside the header's stacking context.

use yew::prelude::*;

use crate::components::{Badge, PerfPanel};
use crate::hooks::PerfMetricsHandle;

/// Props of [`PerfMonButton`].
#[derive(Properties, PartialEq)]
pub struct PerfMonButtonProps {
    /// The stream the panel shows.
    pub data: PerfMetricsHandle,
}

/// The PerfMon button and, while open, its panel.
#[function_component(PerfMonButton)]
pub fn perfmon_button(props: &PerfMonButtonProps) -> Html {
    let open = use_state(|| false);
    let live = props
        .data
        .metrics
        .as_ref()
        .is_some_and(|m| m.run.status.is_live());
    let on_toggle = {
        let open = open.clone();
        Callback::from(move |_: MouseEvent| open.set(!*open))
    };
    let on_close = {
        let open = open.clone();
        Callback::from(move |()| open.set(false))
    };
    let panel = match (
        *open,
        web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.body()),
    ) {
        (true, Some(body)) => create_portal(
            html! { <PerfPanel data={props.data.clone()} {on_close} /> },
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
                onclick={on_toggle}
            >
                <span class="perfmon-button__label">{ "PerfMon" }</span>
                if live {
                    <Badge label="Live" variant="live" />
                } else {
                    <Badge label="Idle" variant="idle" />
                }
            </button>
            { panel }
        </>
    }
}
