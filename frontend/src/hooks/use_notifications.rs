//! `use_notifications`: the browser's notifications of alerts, for a page
//! left open in a background tab. Once the user allows them ([`Notifications::enable`]
//! asks the browser), every alert event that appears after the page loaded —
//! a firing, a resolution, a one-off like a run finishing — is shown as a
//! notification titled with the alert's title, its message as the body, and
//! tagged `perfmon-<id>-<state>` so that the same event shown again (another
//! tab, a reload) replaces the one there. The first answer is the baseline:
//! nothing from before the page loaded is notified ([`Seen`]).
//!
//! The page keeps a short log of what it notified, recorded when the browser
//! says a notification was shown (its `show` event) or could not be (its
//! `error` event, or the constructor refusing): the alerts section shows it,
//! so the user (and the end-to-end test) can see that notifying works.

use std::rc::Rc;

use shared::alerts::{AlertEvent, Alerts};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use yew::prelude::*;

use super::Load;
use crate::view::alerts::{Seen, tag};

/// How many notifications the log keeps.
const LOG_LEN: usize = 5;

/// Whether the page may show notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// This browser has no notifications, or not for this page: only a secure
    /// context has them (https, or http to localhost or 127.0.0.1).
    Unsupported,
    /// Not asked yet: a click on "Enable notifications" asks.
    Ask,
    /// Allowed.
    Granted,
    /// Refused; only the browser's site settings can allow them now.
    Denied,
}

impl Permission {
    /// The permission named by `Notification.permission`'s value.
    pub fn from_key(key: &str) -> Permission {
        match key {
            "granted" => Permission::Granted,
            "denied" => Permission::Denied,
            _ => Permission::Ask,
        }
    }

    /// The permission now.
    pub fn current() -> Permission {
        // `Notification` is missing outside a secure context; reading its
        // permission there would throw.
        let supported = web_sys::window()
            .is_some_and(|w| js_sys::Reflect::has(&w, &JsValue::from_str("Notification")).unwrap_or(false));
        if !supported {
            return Permission::Unsupported;
        }
        match web_sys::Notification::permission() {
            web_sys::NotificationPermission::Granted => Permission::Granted,
            web_sys::NotificationPermission::Denied => Permission::Denied,
            _ => Permission::Ask,
        }
    }
}

/// A notification the page showed, or tried to.
#[derive(Debug, Clone, PartialEq)]
pub struct Notified {
    /// Its tag (`perfmon-7-firing`).
    pub tag: String,
    /// Its title (the alert's).
    pub title: String,
    /// Why it was not shown; `None`: the browser showed it.
    pub error: Option<String>,
}

/// The last notifications, newest first.
#[derive(Debug, Default, PartialEq)]
struct Log(Rc<Vec<Notified>>);

impl Reducible for Log {
    type Action = Notified;

    fn reduce(self: Rc<Self>, notified: Notified) -> Rc<Self> {
        let list = std::iter::once(notified).chain(self.0.iter().take(LOG_LEN - 1).cloned()).collect();
        Rc::new(Log(Rc::new(list)))
    }
}

/// What [`use_notifications`] returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Notifications {
    /// Whether the page may notify.
    pub permission: Permission,
    /// Asks the browser for the permission (a click's handler: browsers
    /// want a user's gesture for it).
    pub enable: Callback<()>,
    /// The last notifications, newest first.
    pub log: Rc<Vec<Notified>>,
    /// Whether the baseline is taken: from now on, new alert events notify.
    pub watching: bool,
}

/// Notifications that cannot be shown: a page with no app root to poll
/// alerts (a test's), or before the hook has run.
impl Default for Notifications {
    fn default() -> Self {
        Notifications {
            permission: Permission::Unsupported,
            enable: Callback::noop(),
            log: Rc::default(),
            watching: false,
        }
    }
}

/// The handlers of every notification's `show` and `error` events: one
/// pair for the page, alive as long as the hook (the app's root, never
/// unmounted), so no closure is made, or leaked, per notification.
struct Handlers {
    show: Closure<dyn FnMut(web_sys::Event)>,
    error: Closure<dyn FnMut(web_sys::Event)>,
}

impl Handlers {
    fn new(log: UseReducerDispatcher<Log>) -> Handlers {
        let record = |log: UseReducerDispatcher<Log>, error: Option<&'static str>| {
            move |event: web_sys::Event| {
                let Some(shown) = event.target().and_then(|t| t.dyn_into::<web_sys::Notification>().ok())
                else {
                    return;
                };
                log.dispatch(Notified {
                    tag: shown.tag().unwrap_or_default(),
                    title: shown.title(),
                    error: error.map(str::to_owned),
                });
            }
        };
        Handlers {
            show: Closure::new(record(log.clone(), None)),
            error: Closure::new(record(log, Some("the browser did not show it"))),
        }
    }
}

/// Shows `event` as a notification; what came of it reaches the log
/// through `handlers` (or at once, when the browser refuses to make one).
fn show(event: &AlertEvent, handlers: &Handlers, log: &UseReducerDispatcher<Log>) {
    let options = web_sys::NotificationOptions::new();
    options.set_body(&event.message);
    options.set_tag(&tag(event));
    match web_sys::Notification::new_with_options(&event.title, &options) {
        Ok(notification) => {
            // Set after construction, before the browser's next task: the
            // `show` event is dispatched from a later one.
            notification.set_onshow(Some(handlers.show.as_ref().unchecked_ref()));
            notification.set_onerror(Some(handlers.error.as_ref().unchecked_ref()));
        }
        Err(err) => {
            // Chrome on Android, for one, makes notifications only through a
            // service worker, which PerfMon does not have.
            let why = js_sys::Error::from(err).message().as_string().unwrap_or_default();
            log.dispatch(Notified { tag: tag(event), title: event.title.clone(), error: Some(why) });
        }
    }
}

/// Notifies the alert events of `alerts` that appear after the first answer.
#[hook]
pub fn use_notifications(alerts: &Load<Alerts>) -> Notifications {
    let permission = use_state_eq(Permission::current);
    let log = use_reducer(Log::default);
    let watching = use_state_eq(|| false);
    let seen = use_mut_ref(Seen::default);
    let handlers = {
        let log = log.dispatcher();
        use_memo((), move |_| Handlers::new(log))
    };
    {
        let (watching, log) = (watching.clone(), log.dispatcher());
        use_effect_with(alerts.clone(), move |alerts| {
            let Load::Ready(alerts) = alerts else { return };
            let fresh = seen.borrow_mut().fresh(alerts);
            watching.set(true);
            // Read at each answer, not taken from the state: the user may
            // allow or block them in the browser's site settings meanwhile.
            // What the switch says follows the page's load and its click.
            if Permission::current() == Permission::Granted {
                for event in &fresh {
                    show(event, &handlers, &log);
                }
            }
        });
    }
    let enable = {
        let permission = permission.setter();
        use_callback((), move |_: (), _| {
            let Ok(asked) = web_sys::Notification::request_permission() else {
                permission.set(Permission::current());
                return;
            };
            let permission = permission.clone();
            yew::platform::spawn_local(async move {
                let answer = wasm_bindgen_futures::JsFuture::from(asked).await;
                permission.set(
                    answer
                        .ok()
                        .and_then(|a| a.as_string())
                        .map_or_else(Permission::current, |a| Permission::from_key(&a)),
                );
            });
        })
    };
    Notifications { permission: *permission, enable, log: Rc::clone(&log.0), watching: *watching }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_are_read_from_their_keys() {
        assert_eq!(Permission::from_key("granted"), Permission::Granted);
        assert_eq!(Permission::from_key("denied"), Permission::Denied);
        assert_eq!(Permission::from_key("default"), Permission::Ask);
    }

    #[test]
    fn the_log_keeps_the_newest_few() {
        let mut log = Rc::new(Log::default());
        for i in 0..7 {
            log = log.reduce(Notified {
                tag: format!("perfmon-{i}-event"),
                title: format!("{i}"),
                error: None,
            });
        }
        let titles: Vec<&str> = log.0.iter().map(|n| n.title.as_str()).collect();
        assert_eq!(titles, ["6", "5", "4", "3", "2"]);
    }
}
