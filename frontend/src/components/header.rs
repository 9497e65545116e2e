//! The sticky top bar: product name and the project switcher on the left,
//! controls on the right, the first of them a small link to the settings.
//!
//! The link's `href` never holds the page's token: the header is on every
//! page, and a token in the page's markup would go wherever its source or a
//! copied link goes. A plain click carries the token on (as the project
//! switcher does); a link opened in a new tab goes without it, which a server
//! with no token (PerfMon on loopback) does not need.

use yew::prelude::*;

use super::ProjectSwitcher;
use crate::route::{settings_href, token};

/// Props of [`Header`].
#[derive(Properties, PartialEq)]
pub struct HeaderProps {
    /// The project being watched, shown beside the product name.
    pub project: AttrValue,
    /// Controls on the right-hand side (the PerfMon button).
    #[prop_or_default]
    pub children: Html,
}

/// The sticky top bar.
#[function_component(Header)]
pub fn header(props: &HeaderProps) -> Html {
    let onclick = {
        let project = props.project.clone();
        Callback::from(move |event: MouseEvent| {
            let plain = event.button() == 0
                && !(event.ctrl_key() || event.meta_key() || event.shift_key() || event.alt_key());
            if let Some(token) = token().filter(|_| plain)
                && let Some(window) = web_sys::window()
            {
                event.prevent_default();
                let _ = window.location().set_href(&settings_href(&project, Some(&token)));
            }
        })
    };
    html! {
        <header class="topbar">
            <div class="topbar__brand">
                <span class="topbar__logo" aria-hidden="true">{ "◆" }</span>
                <span class="topbar__name">{ "PerfMon" }</span>
                <ProjectSwitcher project={props.project.clone()} />
            </div>
            <div class="topbar__controls">
                <a class="topbar__link" href={settings_href(&props.project, None)} {onclick}
                    aria-label="Settings" title="Settings" data-testid="settings-link">
                    <span aria-hidden="true">{ "⚙" }</span>
                </a>
                { props.children.clone() }
            </div>
        </header>
    }
}
