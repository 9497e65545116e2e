//! A banner across the page while the server's store is degraded (a full disk,
//! a read-only data directory): the live view works, but history is not being
//! kept, and the user should know before they rely on it. A quieter one when
//! the store works but its history begins again (a damaged database was moved
//! aside at start), so an empty history is not taken for the whole of it.

use shared::api::Health;
use yew::prelude::*;

/// Props of [`StoreBanner`].
#[derive(Properties, PartialEq)]
pub struct StoreBannerProps {
    /// The server's health answer, once it came.
    pub server: Option<Health>,
}

/// The banner; nothing while the store is fine with nothing to say, off, or
/// not known yet.
#[function_component(StoreBanner)]
pub fn store_banner(props: &StoreBannerProps) -> Html {
    let Some(store) = props.server.as_ref().and_then(|h| h.store.as_ref()) else { return html! {} };
    match (store.state.as_str(), &store.reason) {
        ("degraded", _) => {}
        ("ok", Some(notice)) => {
            return html! {
                <div class="store-banner" role="status" data-testid="store-banner">
                    <strong>{ "History begins again: " }</strong>
                    { format!("{notice}.") }
                </div>
            };
        }
        _ => return html! {},
    }
    let reason = store.reason.clone().unwrap_or_else(|| "the store cannot write".to_owned());
    let dropped = match store.dropped_samples {
        0 => String::new(),
        1 => " 1 sample was not kept.".to_owned(),
        n => format!(" {n} samples were not kept."),
    };
    html! {
        <div class="store-banner" role="alert" data-testid="store-banner">
            <strong>{ "History is not being kept: " }</strong>
            { format!("{reason}. The live view works.{dropped}") }
        </div>
    }
}
