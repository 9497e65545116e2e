//! [`AlertList`]: alerts one line each — when, how much it matters, the
//! alert's title, and how it stands (`firing`, `resolved 14:05:00`) — for
//! the dashboard's recent alerts and a run report's.

use std::rc::Rc;

use shared::alerts::{AlertEvent, AlertState};
use yew::prelude::*;

use super::badge_variant;
use crate::components::Badge;
use crate::view::alerts::{state_key, when};
use crate::view::time::{browser_offset, epoch_millis};

/// Props of [`AlertList`].
#[derive(Properties, PartialEq)]
pub struct AlertListProps {
    /// The alerts, in the order shown.
    pub alerts: Rc<Vec<AlertEvent>>,
}

/// `resolved 14:05:00`, `firing`, or nothing for a one-off event; a silenced
/// one says so (its delivery was held back).
fn standing(alert: &AlertEvent, now: f64) -> String {
    let state = match (alert.state, alert.resolved_at.as_ref().and_then(|t| epoch_millis(t.as_str()))) {
        (AlertState::Event, _) => String::new(),
        (_, Some(resolved)) => format!("resolved {}", when(resolved, now, browser_offset)),
        (state, None) => state_key(state).to_owned(),
    };
    match (state.is_empty(), alert.silenced) {
        (_, false) => state,
        (true, true) => "silenced".to_owned(),
        (false, true) => format!("{state} · silenced"),
    }
}

/// The list.
#[function_component(AlertList)]
pub fn alert_list(props: &AlertListProps) -> Html {
    let now = js_sys::Date::now();
    html! {
        <ul class="alert-list" data-testid="alert-list">
            { for props.alerts.iter().map(|alert| {
                let fired = epoch_millis(alert.fired_at.as_str())
                    .map_or_else(|| alert.fired_at.as_str().to_owned(), |ms| when(ms, now, browser_offset));
                let standing = standing(alert, now);
                html! {
                    <li class="alert-list__row" data-testid="alert-row" data-alert-id={alert.id.to_string()}
                        data-state={state_key(alert.state)} data-rule={alert.rule.clone()}>
                        <time class="alert-list__time" datetime={alert.fired_at.as_str().to_owned()}>{ fired }</time>
                        <Badge label={alert.severity.key()} variant={badge_variant(alert.severity)} />
                        <span class="alert-list__title" title={alert.message.clone()}>{ alert.title.clone() }</span>
                        if !standing.is_empty() {
                            <span class="alert-list__state">{ standing }</span>
                        }
                    </li>
                }
            }) }
        </ul>
    }
}
