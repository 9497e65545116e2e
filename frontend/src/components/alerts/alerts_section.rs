//! [`AlertsSection`]: the dashboard's alerts — each one firing now as a card
//! in its severity's colour with its message and since when; what happened
//! lately one line each, newest first (the first few, the rest behind a
//! toggle); a line when deliveries are silenced or a destination is failing;
//! and the switch for browser notifications. With nothing to say, one short
//! line.

use std::rc::Rc;

use shared::alerts::Alerts;
use yew::prelude::*;

use super::{AlertList, NotificationControl, badge_variant, unavailable};
use crate::components::Badge;
use crate::hooks::{Load, Notifications};
use crate::view::alerts::when;
use crate::view::time::{browser_offset, epoch_millis};

/// Props of [`AlertsSection`].
#[derive(Properties, PartialEq)]
pub struct AlertsSectionProps {
    /// The project's alerts and the machine's, as last answered.
    pub alerts: Load<Alerts>,
    /// The browser's notifications.
    pub notifications: Notifications,
}

/// Recent alerts shown before the rest's toggle.
const FIRST_FEW: usize = 5;

/// `until 16:02:11` for an instant, the text itself when it cannot be read.
fn until(ts: &shared::Timestamp, now: f64) -> String {
    epoch_millis(ts.as_str()).map_or_else(|| ts.as_str().to_owned(), |ms| when(ms, now, browser_offset))
}

/// The section.
#[function_component(AlertsSection)]
pub fn alerts_section(props: &AlertsSectionProps) -> Html {
    let n = &props.notifications;
    let control = html! {
        <NotificationControl permission={n.permission} on_enable={n.enable.clone()} log={n.log.clone()}
            watching={n.watching} />
    };
    let now = js_sys::Date::now();
    let (state, body) = match &props.alerts {
        Load::Loading => ("loading", html! { <p class="muted alerts__empty">{ "Loading alerts…" }</p> }),
        Load::Failed(err) => match unavailable(err) {
            Some(words) => ("unavailable", html! { <p class="muted alerts__empty">{ words }</p> }),
            None => (
                "failed",
                html! { <p class="notice" role="status">{ format!("The alerts could not be read: {err}") }</p> },
            ),
        },
        Load::Ready(alerts) => ("ready", body(alerts, now)),
    };
    html! {
        <section class="alerts" aria-labelledby="alerts-title" data-testid="alerts" data-state={state}>
            <div class="alerts__head">
                <h2 class="section__title" id="alerts-title">{ "Alerts" }</h2>
                { control }
            </div>
            { body }
        </section>
    }
}

/// What the answer says: the silence, failing destinations, the active
/// alerts, the recent ones.
fn body(alerts: &Alerts, now: f64) -> Html {
    let silence = alerts.silenced_until.as_ref().map(|t| {
        html! {
            <p class="muted alerts__note" data-testid="alerts-silenced">
                { format!("Deliveries are silenced until {} (alerts are still listed here); \
                           `perfmon alerts silence 0` lifts it.", until(t, now)) }
            </p>
        }
    });
    let failing = alerts.destinations.iter().filter(|d| d.failed > 0 && d.last_error.is_some()).map(|d| {
        let error = d.last_error.clone().unwrap_or_default();
        html! {
            <p class="notice alerts__note" role="status" data-testid="delivery-failing">
                { format!("Deliveries to {} are failing: {error}. The settings (⚙ above) show each destination's \
                           deliveries.", d.name) }
            </p>
        }
    });
    let active = (!alerts.active.is_empty()).then(|| {
        html! {
            <ul class="alerts__active" aria-label="Firing now">
                { for alerts.active.iter().map(|alert| {
                    let since = epoch_millis(alert.fired_at.as_str())
                        .map(|ms| format!("since {}", when(ms, now, browser_offset)))
                        .unwrap_or_default();
                    html! {
                        <li class={classes!("alert", format!("alert--{}", alert.severity.key()))}
                            data-testid="alert-active" data-alert-id={alert.id.to_string()} data-rule={alert.rule.clone()}>
                            <div class="alert__head">
                                <Badge label={alert.severity.key()} variant={badge_variant(alert.severity)} />
                                <strong class="alert__title">{ alert.title.clone() }</strong>
                                <span class="alert__since">{ since }</span>
                            </div>
                            <p class="alert__message">{ alert.message.clone() }</p>
                        </li>
                    }
                }) }
            </ul>
        }
    });
    // The active ones are above: the list is of what else happened.
    let recent: Vec<_> =
        alerts.recent.iter().filter(|r| !alerts.active.iter().any(|a| a.id == r.id)).cloned().collect();
    let empty = alerts.active.is_empty() && recent.is_empty();
    let rest = recent.len().saturating_sub(FIRST_FEW);
    let first: Rc<Vec<_>> = Rc::new(recent.iter().take(FIRST_FEW).cloned().collect());
    let more = (rest > 0).then(|| {
        let others: Rc<Vec<_>> = Rc::new(recent[FIRST_FEW..].to_vec());
        html! {
            <details class="alerts__more">
                <summary>{ format!("{rest} more") }</summary>
                <AlertList alerts={others} />
            </details>
        }
    });
    html! {
        <>
            { for silence }
            { for failing }
            { for active }
            if empty {
                <p class="muted alerts__empty" data-testid="alerts-empty">{ "No alerts." }</p>
            } else if !first.is_empty() {
                <h3 class="alerts__subtitle">{ "Recent" }</h3>
                <AlertList alerts={first} />
                { for more }
            }
        </>
    }
}
