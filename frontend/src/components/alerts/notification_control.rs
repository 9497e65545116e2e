//! [`NotificationControl`]: the switch for the browser's notifications of
//! alerts — a button while they are not asked for yet, a line saying they
//! are on, or how to allow them once refused — and the log of the last
//! notifications the page showed (or could not), each recorded when the
//! browser said so.

use std::rc::Rc;

use yew::prelude::*;

use crate::hooks::{Notified, Permission};

/// Props of [`NotificationControl`].
#[derive(Properties, PartialEq)]
pub struct NotificationControlProps {
    /// Whether the page may notify.
    pub permission: Permission,
    /// Asks the browser for the permission.
    pub on_enable: Callback<()>,
    /// The last notifications, newest first.
    #[prop_or_default]
    pub log: Rc<Vec<Notified>>,
    /// Whether new alert events notify from now on (the first answer came).
    #[prop_or_default]
    pub watching: bool,
}

/// The switch and the log.
#[function_component(NotificationControl)]
pub fn notification_control(props: &NotificationControlProps) -> Html {
    let state = match props.permission {
        Permission::Unsupported => html! {
            <span class="muted">{ "This browser cannot notify from this page (notifications need https, or PerfMon on localhost)." }</span>
        },
        Permission::Ask => {
            let on_enable = props.on_enable.clone();
            html! {
                <button type="button" class="notify__button" data-testid="enable-notifications"
                    onclick={move |_| on_enable.emit(())}>{ "Enable notifications" }</button>
            }
        }
        Permission::Granted => html! {
            <span class="notify__on" data-testid="notifications-on">{ "Notifications are on" }</span>
        },
        Permission::Denied => html! {
            <span class="muted" data-testid="notifications-blocked">
                { "Notifications are blocked for this page: allow them in the browser's site settings (the icon \
                   left of the address), then reload." }
            </span>
        },
    };
    let permission = match props.permission {
        Permission::Unsupported => "unsupported",
        Permission::Ask => "default",
        Permission::Granted => "granted",
        Permission::Denied => "denied",
    };
    html! {
        <div class="notify" data-testid="notifications" data-permission={permission}
            data-watching={props.watching.to_string()}>
            { state }
            if !props.log.is_empty() {
                <ul class="notify__log" aria-label="Notifications shown" data-testid="notified-log">
                    { for props.log.iter().map(|n| html! {
                        <li data-testid="notified" data-tag={n.tag.clone()} data-shown={n.error.is_none().to_string()}>
                            { match &n.error {
                                None => format!("Notified: {}", n.title),
                                Some(why) => format!("Not notified: {} ({why})", n.title),
                            } }
                        </li>
                    }) }
                </ul>
            }
        </div>
    }
}
