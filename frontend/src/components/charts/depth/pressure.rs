//! Pressure stall information: the share of time some task (and every task at
//! once, `full`) waited for CPU, IO or memory — what usage figures cannot say.
//! A kernel without PSI says why in the newest sample.

use shared::series;
use yew::prelude::*;

use super::{Chart, DepthProps, DepthSection, any_values, no_data, state_line};
use crate::view::format::Unit;

/// The section.
#[function_component(PressureSection)]
pub fn pressure_section(props: &DepthProps) -> Html {
    let timeline = props.timeline.0.borrow();
    let lines = [
        (series::PRESSURE_CPU_SOME, "cpu some"),
        (series::PRESSURE_IO_SOME, "io some"),
        (series::PRESSURE_IO_FULL, "io full"),
        (series::PRESSURE_MEMORY_SOME, "memory some"),
        (series::PRESSURE_MEMORY_FULL, "memory full"),
    ];
    let names: Vec<&str> = lines.iter().map(|(name, _)| *name).collect();
    // Only what the sample says is missing: a source that is there but has
    // nothing recorded yet is "no data", not "not available".
    let missing = props.latest.as_ref().map(|m| &m.pressure).filter(|p| !p.available);
    let reason =
        missing.map(|p| p.reason.clone().unwrap_or_else(|| "the kernel does not report it".to_owned()));
    let state = match (&reason, any_values(&timeline, &names)) {
        (Some(why), false) => format!("not available: {why}"),
        _ => state_line(
            &timeline,
            props.window,
            &[
                ("cpu some", series::PRESSURE_CPU_SOME.to_owned(), Unit::Percent),
                ("io some", series::PRESSURE_IO_SOME.to_owned(), Unit::Percent),
                ("memory some", series::PRESSURE_MEMORY_SOME.to_owned(), Unit::Percent),
            ],
        ),
    };
    let body = if any_values(&timeline, &names) {
        let some = Chart::new(props, "pressure-some", "Some task waited (% of time)", Unit::Percent)
            .line(series::PRESSURE_CPU_SOME, "cpu")
            .line(series::PRESSURE_IO_SOME, "io")
            .line(series::PRESSURE_MEMORY_SOME, "memory");
        let full = Chart::new(props, "pressure-full", "Every task waited at once (% of time)", Unit::Percent)
            .line(series::PRESSURE_IO_FULL, "io")
            .line(series::PRESSURE_MEMORY_FULL, "memory");
        html! { <div class="charts__group">{ some.html() }{ full.html() }</div> }
    } else {
        no_data("pressure-none", "pressure", reason.as_deref())
    };
    html! { <DepthSection id="depth-pressure" title="Pressure" state={state}>{ body }</DepthSection> }
}
