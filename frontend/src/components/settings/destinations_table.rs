//! [`DestinationsTable`]: where alerts go — each destination's name, kind and
//! masked target (the server never sends a URL's secret part) — and how its
//! deliveries went: delivered, failed, queued, and the last error with when.

use std::rc::Rc;

use shared::alerts::DestinationStatus;
use yew::prelude::*;

use crate::view::alerts::when;
use crate::view::format::count;
use crate::view::time::{browser_offset, epoch_millis};

/// Props of [`DestinationsTable`].
#[derive(Properties, PartialEq)]
pub struct DestinationsTableProps {
    /// The destinations.
    pub destinations: Rc<Vec<DestinationStatus>>,
}

/// `HTTP 500 after 5 attempts (14:02:11)`, or `none`.
fn last_error(d: &DestinationStatus, now: f64) -> String {
    let Some(error) = &d.last_error else { return "none".to_owned() };
    match d.last_error_at.as_ref().and_then(|t| epoch_millis(t.as_str())) {
        Some(ms) => format!("{error} ({})", when(ms, now, browser_offset)),
        None => error.clone(),
    }
}

/// The table.
#[function_component(DestinationsTable)]
pub fn destinations_table(props: &DestinationsTableProps) -> Html {
    if props.destinations.is_empty() {
        return html! {
            <p class="muted" data-testid="destinations-none">
                { "No destinations: alerts are listed on this page only (and notified by the browser when that is on)." }
            </p>
        };
    }
    let now = js_sys::Date::now();
    html! {
        <div class="runs__scroll">
            <table class="runs__table settings__table" data-testid="destinations">
                <thead><tr>
                    <th scope="col">{ "Destination" }</th><th scope="col">{ "Kind" }</th>
                    <th scope="col">{ "Target" }</th><th scope="col" class="num">{ "Delivered" }</th>
                    <th scope="col" class="num">{ "Failed" }</th><th scope="col" class="num">{ "Queued" }</th>
                    <th scope="col">{ "Last error" }</th>
                </tr></thead>
                <tbody>
                    { for props.destinations.iter().map(|d| html! {
                        <tr data-testid="destination-row" data-destination={d.name.clone()}>
                            <th scope="row">{ d.name.clone() }</th>
                            <td>{ d.kind.clone() }</td>
                            <td><code>{ d.target.clone() }</code></td>
                            <td class="num" data-testid="delivered">{ count(d.delivered) }</td>
                            <td class={classes!("num", (d.failed > 0).then_some("runs__outcome--failed"))}
                                data-testid="failed">{ count(d.failed) }</td>
                            <td class="num" data-testid="queued">{ count(d.queued) }</td>
                            <td class="settings__wrap" data-testid="last-error">{ last_error(d, now) }</td>
                        </tr>
                    }) }
                </tbody>
            </table>
        </div>
    }
}
