//! Disk rates, and the space of the filesystem PerfMon runs in.

use yew::prelude::*;

use super::SectionProps;
use crate::components::{Meter, Sparkline};

/// The disk section.
#[function_component(Disk)]
pub fn disk(props: &SectionProps) -> Html {
    let view = &props.view;
    html! {
        <Meter label="Disk" id="disk" value={view.disk_io.clone()}
            detail={Some(AttrValue::from(format!("space {}", view.disk_space)))} percent={view.disk_bar}>
            <Sparkline values={props.history.clone()} second={props.second.clone()}
                label="Disk history: read, and written in the second colour" />
        </Meter>
    }
}
