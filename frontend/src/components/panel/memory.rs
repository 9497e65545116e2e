//! Whole-machine memory, with swap.

use yew::prelude::*;

use super::SectionProps;
use crate::components::Meter;

/// The memory section.
#[function_component(Memory)]
pub fn memory(props: &SectionProps) -> Html {
    let view = &props.view;
    let detail = view.memory_percent.clone().map(|p| {
        AttrValue::from(match &view.swap {
            Some(swap) => format!("{p} · {swap}"),
            None => p,
        })
    });
    html! {
        <Meter label="Memory" id="memory" value={view.memory.clone()} {detail}
            percent={view.memory_bar} history={props.history.clone()} />
    }
}
