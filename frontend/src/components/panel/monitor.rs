//! What PerfMon itself costs.

use yew::prelude::*;

use super::SectionProps;

/// The panel's foot line.
#[function_component(Monitor)]
pub fn monitor(props: &SectionProps) -> Html {
    match &props.view.monitor {
        Some(monitor) => html! { <div class="panel__foot" data-testid="monitor">{ monitor.clone() }</div> },
        None => html! {},
    }
}
