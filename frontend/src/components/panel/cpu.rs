//! Whole-machine CPU, its load averages and a bar per core.

use yew::prelude::*;

use super::SectionProps;
use crate::components::Meter;
use crate::view::format;

/// The CPU section.
#[function_component(Cpu)]
pub fn cpu(props: &SectionProps) -> Html {
    let view = &props.view;
    let cores = (!view.cores.is_empty()).then(|| {
        html! {
            <div class="cores" data-testid="cores" aria-label="Per-core use">
                { for view.cores.iter().enumerate().map(|(i, c)| html! {
                    <span class={classes!("cores__bar", format!("cores__bar--{}", format::level(Some(f64::from(*c)))))}
                        title={format!("core {i}: {c} %")}>
                        <span style={format!("height: {c}%")}></span>
                    </span>
                }) }
            </div>
        }
    });
    html! {
        <Meter label="CPU" id="cpu" value={view.cpu.clone()} detail={view.load.clone().map(AttrValue::from)}
            percent={view.cpu_bar} history={props.history.clone()}>
            { cores.unwrap_or_default() }
        </Meter>
    }
}
