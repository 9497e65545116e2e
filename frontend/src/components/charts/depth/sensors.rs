//! Temperatures: each sensor the machine has (hwmon's chips, else the thermal
//! zones), one line each, the hottest named in the summary. A VM or a machine
//! without sensor drivers has none, and the newest sample says why.

use shared::series;
use yew::prelude::*;

use super::{Chart, DepthProps, DepthSection, device_names, first_few, newest, no_data};
use crate::view::format::Unit;

/// The most sensors drawn on the chart (a machine can have dozens; the
/// summary still names the hottest of all).
const MAX_LINES: usize = 12;

/// The section.
#[function_component(SensorsSection)]
pub fn sensors_section(props: &DepthProps) -> Html {
    let timeline = props.timeline.0.borrow();
    let sampled =
        props.latest.iter().flat_map(|m| series::sensor_names(&m.cpu_detail.sensors.temperatures.sensors));
    let keys = timeline.columns.keys().map(String::as_str);
    let names = device_names(keys, series::TEMPERATURE_PREFIX, &[series::TEMPERATURE_C], sampled);
    let names: Vec<String> =
        names.into_iter().filter(|name| timeline.has_values(&series::temperature(name))).collect();
    let temperatures = &props.latest.as_ref().map(|m| m.cpu_detail.sensors.temperatures.clone());
    let reason = temperatures
        .as_ref()
        .filter(|t| !t.available)
        .map(|t| t.reason.clone().unwrap_or_else(|| "the machine exposes none".to_owned()));
    // Hottest first, by their newest reading.
    let mut hottest: Vec<(f64, &String)> = names
        .iter()
        .filter_map(|name| Some((newest(&timeline, &series::temperature(name), props.window)?, name)))
        .collect();
    hottest.sort_by(|a, b| b.0.total_cmp(&a.0));
    let state = match (&reason, names.is_empty()) {
        (Some(why), true) => format!("not available: {why}"),
        (None, true) => "no data".to_owned(),
        _ => first_few(
            hottest.iter().map(|(c, name)| format!("{name} {}", Unit::Celsius.format(*c))).collect(),
            2,
        ),
    };
    let body = if names.is_empty() {
        no_data("sensors-none", "temperature", reason.as_deref())
    } else {
        let shown: Vec<&String> = hottest.iter().map(|(_, name)| *name).take(MAX_LINES).collect();
        let more = names.len().saturating_sub(shown.len());
        let chart = shown
            .iter()
            .fold(Chart::new(props, "temperatures", "Temperatures", Unit::Celsius), |c, name| {
                c.line(series::temperature(name), name.as_str())
            })
            .note(
                (more > 0)
                    .then(|| format!("The {MAX_LINES} hottest now; {more} more in /metrics and the API.")),
            );
        html! { <div class="charts__group">{ chart.html() }</div> }
    };
    html! { <DepthSection id="depth-sensors" title="Temperatures" state={state}>{ body }</DepthSection> }
}
