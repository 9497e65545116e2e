//! Network rates, received and sent.

use yew::prelude::*;

use super::SectionProps;
use crate::components::Sparkline;

/// The network section.
#[function_component(Network)]
pub fn network(props: &SectionProps) -> Html {
    html! {
        <section class="meter meter--rates" data-testid="network">
            <div class="meter__head">
                <span class="meter__label">{ "Network" }</span>
                <span class="meter__value" data-testid="network-value">{ props.view.network.clone() }</span>
            </div>
            <Sparkline values={props.history.clone()} second={props.second.clone()}
                label="Network history: received, and sent in the second colour" />
        </section>
    }
}
