//! NVIDIA GPUs: the aggregate and each device, or why there are none.

use yew::prelude::*;

use super::SectionProps;
use crate::components::Meter;
use crate::view::format::NOT_AVAILABLE;
use crate::view::panel::GpuView;

/// The GPU section.
#[function_component(Gpu)]
pub fn gpu(props: &SectionProps) -> Html {
    match &props.view.gpu {
        GpuView::Available { percent, bar, vram, devices } => html! {
            <Meter label="GPU" id="gpu" value={percent.clone()} detail={Some(AttrValue::from(format!("VRAM {vram}")))}
                percent={*bar} history={props.history.clone()}>
                <ul class="devices" data-testid="gpu-devices">
                    { for devices.iter().map(|d| html! {
                        <li class="devices__row">
                            <span class="devices__name">{ d.name.clone() }</span>
                            <span>{ format!("{} · {} · {}", d.percent, d.vram, d.temperature) }</span>
                        </li>
                    }) }
                </ul>
            </Meter>
        },
        GpuView::Unavailable(reason) => html! {
            <Meter label="GPU" id="gpu" value={NOT_AVAILABLE} detail={Some(AttrValue::from(reason.clone()))} />
        },
        GpuView::Waiting => html! { <Meter label="GPU" id="gpu" value={NOT_AVAILABLE} /> },
    }
}
