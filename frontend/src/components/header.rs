//! The sticky top bar: product name and the project switcher on the left,
//! controls on the right.

use yew::prelude::*;

use super::ProjectSwitcher;

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
    html! {
        <header class="topbar">
            <div class="topbar__brand">
                <span class="topbar__logo" aria-hidden="true">{ "◆" }</span>
                <span class="topbar__name">{ "PerfMon" }</span>
                <ProjectSwitcher project={props.project.clone()} />
            </div>
            <div class="topbar__controls">{ props.children.clone() }</div>
        </header>
    }
}
