//! [`SettingsView`]: what the server runs with, read-only — how to change it
//! (the configuration file read, if any), the alert rules in effect, where
//! alerts go and how their deliveries went, the silence, and the sampling,
//! history and store settings.

use std::rc::Rc;

use shared::alerts::Settings;
use yew::prelude::*;

use super::{DestinationsTable, RulesTable};
use crate::view::alerts::{millis_words, seconds_words, tier_words, when};
use crate::view::time::{browser_offset, epoch_millis};

/// Props of [`SettingsView`].
#[derive(Properties, PartialEq)]
pub struct SettingsViewProps {
    /// The server's answer.
    pub settings: Rc<Settings>,
}

/// Said when the server gives no words of its own on how to change them.
const HOW_TO_CHANGE: &str = "Settings are read at start: write them in a TOML file and start the server with \
     `perfmon serve --config FILE`, or put the file at `$XDG_CONFIG_HOME/perfmon/config.toml` \
     (`~/.config/perfmon/config.toml`), then restart PerfMon.";

/// The view.
#[function_component(SettingsView)]
pub fn settings_view(props: &SettingsViewProps) -> Html {
    let s = &props.settings;
    let how =
        if s.how_to_change.trim().is_empty() { HOW_TO_CHANGE.to_owned() } else { s.how_to_change.clone() };
    let file = match &s.config_file {
        Some(path) => html! { <>{ "Configuration file: " }<code>{ path.clone() }</code></> },
        None => html! { { "No configuration file was read: the defaults below are in effect." } },
    };
    let silence = match s.silenced_until.as_ref() {
        Some(t) => {
            let until = epoch_millis(t.as_str())
                .map_or_else(|| t.as_str().to_owned(), |ms| when(ms, js_sys::Date::now(), browser_offset));
            format!(
                "Deliveries are silenced until {until}: alerts are still kept and listed. \
                 `perfmon alerts silence 0` lifts it."
            )
        }
        None => "Deliveries are not silenced; `perfmon alerts silence 2h` holds them back for two hours."
            .to_owned(),
    };
    let figures = vec![
        ("live-interval", "Sampling while a run is live", millis_words(s.live_interval_ms)),
        ("idle-interval", "Sampling otherwise", millis_words(s.idle_interval_ms)),
        ("history-window", "History a new page is sent", seconds_words(s.history_window_s)),
        (
            "data-dir",
            "Data directory",
            s.data_dir
                .clone()
                .unwrap_or_else(|| "none: history is kept in memory only (--no-store)".to_owned()),
        ),
    ];
    let kept = s.retention_s.iter().map(|(tier, seconds)| (tier_words(tier), seconds_words(*seconds)));
    html! {
        <div class="settings" data-testid="settings">
            <section class="settings__section" aria-labelledby="settings-change">
                <h2 class="section__title" id="settings-change">{ "How to change them" }</h2>
                <p class="settings__how" data-testid="how-to-change">{ how }</p>
                <p data-testid="config-file">{ file }</p>
            </section>
            <section class="settings__section" aria-labelledby="settings-rules">
                <h2 class="section__title" id="settings-rules">{ "Alert rules" }</h2>
                <RulesTable rules={Rc::new(s.rules.clone())} />
            </section>
            <section class="settings__section" aria-labelledby="settings-destinations">
                <h2 class="section__title" id="settings-destinations">{ "Destinations" }</h2>
                <p class="muted" data-testid="silence">{ silence }</p>
                <DestinationsTable destinations={Rc::new(s.destinations.clone())} />
            </section>
            <section class="settings__section" aria-labelledby="settings-sampling">
                <h2 class="section__title" id="settings-sampling">{ "Sampling and history" }</h2>
                <dl class="figures">
                    { for figures.into_iter().map(|(id, label, value)| html! {
                        <div class="figure" data-testid={format!("setting-{id}")}>
                            <dt class="figure__label">{ label }</dt>
                            <dd class="figure__value">{ value }</dd>
                        </div>
                    }) }
                    { for kept.map(|(tier, keep)| html! {
                        <div class="figure" data-testid="setting-retention">
                            <dt class="figure__label">{ format!("{tier}: kept") }</dt>
                            <dd class="figure__value">{ keep }</dd>
                        </div>
                    }) }
                </dl>
            </section>
        </div>
    }
}
