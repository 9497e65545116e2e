//! One labelled metric: its value text, an optional detail, a bar and a sparkline.

use yew::prelude::*;

use crate::components::Sparkline;
use crate::view::format;

/// Props of [`Meter`].
#[derive(Properties, PartialEq)]
pub struct MeterProps {
    /// The metric's name (`CPU`).
    pub label: AttrValue,
    /// A stable hook for tests and styling (`cpu` gives `data-testid="cpu-value"`).
    pub id: AttrValue,
    /// The main value, already formatted.
    pub value: AttrValue,
    /// A secondary line, already formatted.
    #[prop_or_default]
    pub detail: Option<AttrValue>,
    /// The percentage the bar shows; no bar when `None`.
    #[prop_or_default]
    pub percent: Option<f64>,
    /// Recent values for a sparkline (percentages); none when empty.
    #[prop_or_default]
    pub history: Vec<f64>,
    /// Extra content under the bar (per-core bars, devices).
    #[prop_or_default]
    pub children: Html,
}

/// One labelled metric.
#[function_component(Meter)]
pub fn meter(props: &MeterProps) -> Html {
    let level = format::level(props.percent);
    html! {
        <section class={classes!("meter", format!("meter--{level}"))} data-testid={props.id.clone()}>
            <div class="meter__head">
                <span class="meter__label">{ props.label.clone() }</span>
                <span class="meter__value" data-testid={format!("{}-value", props.id)}>{ props.value.clone() }</span>
            </div>
            if let Some(detail) = &props.detail {
                <div class="meter__detail" data-testid={format!("{}-detail", props.id)}>{ detail.clone() }</div>
            }
            if props.percent.is_some() {
                <div class="meter__track" role="presentation">
                    <div class="meter__fill" style={format::bar_width(props.percent)}></div>
                </div>
            }
            if props.history.len() > 1 {
                <Sparkline values={props.history.clone()} max={Some(100.0)} label={format!("{} history", props.label)} />
            }
            { props.children.clone() }
        </section>
    }
}
