//! The panel's status badge: where the stream is.

use yew::prelude::*;

use crate::components::Badge;
use crate::state::Connection;

/// Props of [`Status`].
#[derive(Properties, PartialEq)]
pub struct StatusProps {
    /// The socket's state.
    pub connection: Connection,
    /// The shown data is the dev mock.
    pub mock: bool,
    /// The shown data is too old to trust.
    pub stale: bool,
}

/// Refused, Mock, Stale, Connected, Connecting… or Reconnecting….
#[function_component(Status)]
pub fn status(props: &StatusProps) -> Html {
    if props.connection == Connection::Refused {
        html! { <Badge label="Refused" variant="critical" /> }
    } else if cfg!(debug_assertions) && props.mock {
        // Only dev builds have a mock; release builds drop this branch and its label.
        html! { <Badge label="Mock" variant="mock" /> }
    } else if props.stale {
        html! { <Badge label="Stale" variant="warn" /> }
    } else {
        match props.connection {
            Connection::Open => html! { <Badge label="Connected" variant="live" /> },
            Connection::Connecting => html! { <Badge label="Connecting…" variant="idle" /> },
            _ => html! { <Badge label="Reconnecting…" variant="warn" /> },
        }
    }
}
