//! NVIDIA GPUs: the aggregate and each device, or why there are none.

use yew::prelude::*;

use super::SectionProps;
use crate::components::Meter;
use crate::view::format::NOT_AVAILABLE;
use crate::view::panel::{GpuDeviceView, GpuView};

/// The GPU section.
#[function_component(Gpu)]
pub fn gpu(props: &SectionProps) -> Html {
    match &props.view.gpu {
        GpuView::Available { percent, bar, vram, devices } => html! {
            <Meter label="GPU" id="gpu" value={percent.clone()} detail={Some(AttrValue::from(format!("VRAM {vram}")))}
                percent={*bar} history={props.history.clone()}>
                { device_list(devices) }
            </Meter>
        },
        GpuView::Unavailable(reason, devices) => html! {
            <Meter label="GPU" id="gpu" value={NOT_AVAILABLE} detail={Some(AttrValue::from(reason.clone()))}>
                { device_list(devices) }
            </Meter>
        },
        GpuView::Waiting => html! { <Meter label="GPU" id="gpu" value={NOT_AVAILABLE} /> },
    }
}

/// One row per device: its figures, or greyed with why it does not answer.
fn device_list(devices: &[GpuDeviceView]) -> Html {
    if devices.is_empty() {
        return html! {};
    }
    html! {
        <ul class="devices" data-testid="gpu-devices">
            { for devices.iter().map(|d| match &d.lost {
                Some(reason) => html! {
                    <li class="devices__row devices__row--lost" data-testid="gpu-device-lost">
                        <span class="devices__name">{ d.name.clone() }</span>
                        <span>{ reason.clone() }</span>
                    </li>
                },
                None => html! {
                    <li class="devices__row" title={d.unsupported.clone()}>
                        <span class="devices__name">{ d.name.clone() }</span>
                        <span>{ d.figures.clone() }</span>
                    </li>
                },
            }) }
        </ul>
    }
}
