//! The settings page (`/settings?project=NAME`): what the server runs with,
//! read-only ([`SettingsView`]); asked for again every ten seconds, so the
//! destinations' deliveries stay current while it is open. Settings are
//! changed in the configuration file, as the page says, never from here.

use std::time::Duration;

use yew::prelude::*;

use crate::components::settings::SettingsView;
use crate::hooks::{Load, use_poll};
use crate::route::{dashboard_href, token};
use crate::stream::http;

/// Props of [`SettingsPage`].
#[derive(Properties, PartialEq)]
pub struct SettingsPageProps {
    /// The project the page came from, which its link goes back to.
    pub project: AttrValue,
}

/// How often the settings (and the deliveries in them) are asked for again.
const REFRESH: Duration = Duration::from_secs(10);

/// The settings page.
#[function_component(SettingsPage)]
pub fn settings_page(props: &SettingsPageProps) -> Html {
    let settings = use_poll((), REFRESH, |_| async { http::settings().await });
    let body = match &settings {
        Load::Loading => html! { <p class="muted">{ "Loading the settings…" }</p> },
        Load::Failed(err) if err.code() == Some("not_found") => html! {
            <p class="notice" role="status">{ "This server has no settings page (it is older than this page)." }</p>
        },
        Load::Failed(err) => html! {
            <p class="notice" role="alert">{ format!("The settings could not be read: {err}") }</p>
        },
        Load::Ready(settings) => html! { <SettingsView settings={settings.clone()} /> },
    };
    html! {
        <div class="report" data-testid="settings-page">
            <a class="back" href={dashboard_href(&props.project, token().as_deref())}>{ "← Dashboard" }</a>
            <h1 class="report__title">{ "Settings" }</h1>
            <p class="muted report__id">{ "What this PerfMon server runs with, read-only." }</p>
            { body }
        </div>
    }
}
