//! A small status pill: `Live` / `Idle` and friends.

use yew::prelude::*;

/// Props of [`Badge`].
#[derive(Properties, PartialEq)]
pub struct BadgeProps {
    /// The text in the pill.
    pub label: AttrValue,
    /// Colour variant, a CSS modifier (`live`, `idle`, `warn`).
    pub variant: AttrValue,
}

/// A small status pill.
#[function_component(Badge)]
pub fn badge(props: &BadgeProps) -> Html {
    html! {
        <span class={classes!("badge", format!("badge--{}", props.variant))} data-testid="badge">
            { props.label.clone() }
        </span>
    }
}
