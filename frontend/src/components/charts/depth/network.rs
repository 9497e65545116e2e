//! Each network interface but loopback — bytes, packets, and errors with
//! drops, each way — found from the timeline's `interfaces.` series and the
//! newest sample's interfaces; and the machine's TCP connections and
//! retransmits.

use shared::series::{self, interface as field};
use yew::prelude::*;

use super::{Chart, DepthProps, DepthSection, any_values, device_names, first_few, newest, no_data};
use crate::state::Timeline;
use crate::view::format::Unit;

/// Every field an interface's series may have.
const FIELDS: [&str; 8] = [
    field::RX_BYTES_PER_S,
    field::TX_BYTES_PER_S,
    field::RX_PACKETS_PER_S,
    field::TX_PACKETS_PER_S,
    field::RX_ERRORS_PER_S,
    field::TX_ERRORS_PER_S,
    field::RX_DROPS_PER_S,
    field::TX_DROPS_PER_S,
];

/// The interfaces with a series in `timeline` or in the newest sample.
pub fn interfaces(timeline: &Timeline, props: &DepthProps) -> Vec<String> {
    let sampled = props.latest.iter().flat_map(|m| m.interfaces.interfaces.iter().map(|i| i.name.clone()));
    device_names(timeline.columns.keys().map(String::as_str), series::INTERFACE_PREFIX, &FIELDS, sampled)
}

/// One interface's charts; a note instead when none of its series has a value.
fn interface(props: &DepthProps, timeline: &Timeline, name: &str) -> Html {
    let key = |f: &str| series::interface(name, f);
    let keys: Vec<String> = FIELDS.iter().map(|f| key(f)).collect();
    if !any_values(timeline, &keys) {
        return html! {
            <div class="depth__device" data-testid={format!("interface-{name}")}>
                <h3 class="depth__device-title">{ name.to_owned() }</h3>
                <p class="muted charts__note" data-testid="device-none">{ format!("No data for {name} in this range.") }</p>
            </div>
        };
    }
    html! {
        <div class="depth__device" data-testid={format!("interface-{name}")}>
            <h3 class="depth__device-title">{ name.to_owned() }</h3>
            <div class="charts__group">
                { Chart::new(props, format!("interface-{name}-bytes"), format!("{name} traffic"), Unit::BytesPerSecond)
                    .line(key(field::RX_BYTES_PER_S), "Received")
                    .line(key(field::TX_BYTES_PER_S), "Sent")
                    .html() }
                { Chart::new(props, format!("interface-{name}-packets"), format!("{name} packets"), Unit::PerSecond)
                    .line(key(field::RX_PACKETS_PER_S), "Received")
                    .line(key(field::TX_PACKETS_PER_S), "Sent")
                    .html() }
                { Chart::new(props, format!("interface-{name}-errors"), format!("{name} errors and drops"), Unit::PerSecond)
                    .line(key(field::RX_ERRORS_PER_S), "Receive errors")
                    .line(key(field::TX_ERRORS_PER_S), "Send errors")
                    .line(key(field::RX_DROPS_PER_S), "Received, dropped")
                    .line(key(field::TX_DROPS_PER_S), "To send, dropped")
                    .html() }
            </div>
        </div>
    }
}

/// The section.
#[function_component(NetworkSection)]
pub fn network_section(props: &DepthProps) -> Html {
    let timeline = props.timeline.0.borrow();
    let names = interfaces(&timeline, props);
    let latest = props.latest.as_deref();
    let reason = latest
        .filter(|m| !m.interfaces.available)
        .map(|m| m.interfaces.reason.clone().unwrap_or_else(|| "not readable".to_owned()));
    let sockets = [series::TCP_ESTABLISHED, series::TCP_TIME_WAIT, series::TCP_RETRANSMITS];
    let has_sockets = any_values(&timeline, &sockets);
    let sockets_reason = latest
        .filter(|m| !m.sockets.available)
        .map(|m| m.sockets.reason.clone().unwrap_or_else(|| "not readable".to_owned()));
    let traffic = names
        .iter()
        .map(|name| {
            let rate = |f: &str| newest(&timeline, &series::interface(name, f), props.window);
            let errors: f64 = [
                field::RX_ERRORS_PER_S,
                field::TX_ERRORS_PER_S,
                field::RX_DROPS_PER_S,
                field::TX_DROPS_PER_S,
            ]
            .iter()
            .filter_map(|f| rate(f))
            .sum();
            let mut part = match (rate(field::RX_BYTES_PER_S), rate(field::TX_BYTES_PER_S)) {
                (Some(rx), Some(tx)) => format!(
                    "{name} in {} out {}",
                    Unit::BytesPerSecond.format(rx),
                    Unit::BytesPerSecond.format(tx)
                ),
                _ => name.clone(),
            };
            if errors > 0.0 {
                part.push_str(&format!(", {} errors and drops", Unit::PerSecond.format(errors)));
            }
            part
        })
        .collect();
    let state = match (&reason, names.is_empty()) {
        (Some(why), true) => format!("not available: {why}"),
        (None, true) => "no data".to_owned(),
        (_, false) => first_few(traffic, 2),
    };
    let sockets_view = if has_sockets {
        html! {
            <div class="charts__group">
                { Chart::new(props, "tcp-connections", "TCP connections", Unit::Count)
                    .line(series::TCP_ESTABLISHED, "Established")
                    .line(series::TCP_TIME_WAIT, "Time-wait")
                    .html() }
                { Chart::new(props, "tcp-retransmits", "TCP retransmits", Unit::PerSecond)
                    .line(series::TCP_RETRANSMITS, "Retransmits")
                    .html() }
            </div>
        }
    } else {
        no_data("sockets-none", "socket", sockets_reason.as_deref())
    };
    let body = html! {
        <>
            if names.is_empty() {
                { no_data("interfaces-none", "interface", reason.as_deref()) }
            }
            { for names.iter().map(|name| interface(props, &timeline, name)) }
            <h3 class="depth__device-title">{ "Sockets" }</h3>
            { sockets_view }
        </>
    };
    html! { <DepthSection id="depth-network" title="Network interfaces" state={state}>{ body }</DepthSection> }
}
