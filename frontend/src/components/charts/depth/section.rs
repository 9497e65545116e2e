//! [`DepthSection`]: one collapsible section of the machine in depth — a
//! native `<details>`, so the keyboard opens and closes it (Tab to its
//! summary, Enter or Space) and a screen reader says whether it is expanded.
//! Its content is made only while it is open.

use yew::prelude::*;

/// Props of [`DepthSection`].
#[derive(Properties, PartialEq)]
pub struct DepthSectionProps {
    /// The section's `data-testid` (`depth-pressure`).
    pub id: AttrValue,
    /// What is inside (`Pressure`).
    pub title: AttrValue,
    /// One line of its newest state (`io some 2.1 %`).
    pub state: AttrValue,
    /// Open when first drawn.
    #[prop_or_default]
    pub open: bool,
    /// The content, made while open.
    #[prop_or_default]
    pub children: Html,
}

/// A collapsible section.
#[function_component(DepthSection)]
pub fn depth_section(props: &DepthSectionProps) -> Html {
    let open = use_state_eq(|| props.open);
    let ontoggle = {
        let open = open.clone();
        // The browser has already opened or closed it: follow, so the content
        // is made (or dropped) to match.
        Callback::from(move |e: Event| {
            if let Some(details) = e.target_dyn_into::<web_sys::Element>() {
                open.set(details.has_attribute("open"));
            }
        })
    };
    html! {
        <details class="depth__section" data-testid={props.id.clone()} open={*open} {ontoggle}>
            <summary class="depth__summary">
                <span class="depth__title">{ props.title.clone() }</span>
                <span class="depth__state" data-testid="depth-state">{ format!(" — {}", props.state) }</span>
            </summary>
            if *open {
                <div class="depth__body">{ props.children.clone() }</div>
            }
        </details>
    }
}
