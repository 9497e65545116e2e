//! A banner across the page while the server is out of reach: the charts and
//! the panel keep what they last had, which looks just like a quiet machine —
//! so the page says the data stopped, since when, and that it is retrying.

use yew::prelude::*;

use crate::state::PerfState;
use crate::view::time::{browser_offset, epoch_millis, local_clock};

/// Props of [`ConnectionBanner`].
#[derive(Properties, PartialEq)]
pub struct ConnectionBannerProps {
    /// The stream's state.
    pub data: PerfState,
}

/// The banner; nothing while samples arrive.
#[function_component(ConnectionBanner)]
pub fn connection_banner(props: &ConnectionBannerProps) -> Html {
    if !props.data.lost() {
        return html! {};
    }
    let since =
        props.data.metrics.as_ref().and_then(|m| epoch_millis(m.timestamp.as_str())).map(|ms| {
            format!(" What the page shows stopped at {}.", local_clock(ms, browser_offset(ms), false))
        });
    html! {
        <div class="connection-banner" role="alert" data-testid="connection-lost">
            <strong>{ "Lost the connection to PerfMon: " }</strong>
            { format!("retrying.{}", since.unwrap_or_default()) }
        </div>
    }
}
