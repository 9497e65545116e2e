//! `use_color_scheme`: the browser's `prefers-color-scheme`, re-rendering when
//! it changes, so the charts redraw in the page's new colours.

use gloo_events::EventListener;
use yew::prelude::*;

/// A colour scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Light text on dark (the default).
    Dark,
    /// Dark text on light.
    Light,
}

const LIGHT_QUERY: &str = "(prefers-color-scheme: light)";

fn current() -> Scheme {
    let light = web_sys::window()
        .and_then(|w| w.match_media(LIGHT_QUERY).ok().flatten())
        .is_some_and(|q| q.matches());
    if light { Scheme::Light } else { Scheme::Dark }
}

/// The scheme now, updated when the browser's preference changes.
#[hook]
pub fn use_color_scheme() -> Scheme {
    let scheme = use_state(current);
    {
        let scheme = scheme.clone();
        use_effect_with((), move |_| {
            let query = web_sys::window().and_then(|w| w.match_media(LIGHT_QUERY).ok().flatten());
            let listener = query.map(|q| EventListener::new(&q, "change", move |_| scheme.set(current())));
            move || drop(listener)
        });
    }
    *scheme
}
