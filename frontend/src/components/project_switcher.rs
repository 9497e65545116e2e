//! The header's project switcher: every project the server knows (those with
//! recorded runs, and those live or watched now), most recently active first;
//! picking one opens its dashboard. A server that cannot list them (an older
//! one, a refused token) leaves just the project shown.

use yew::prelude::*;

use crate::hooks::{Load, use_fetch};
use crate::route::{dashboard_href, token};
use crate::stream::http;

/// Props of [`ProjectSwitcher`].
#[derive(Properties, PartialEq)]
pub struct ProjectSwitcherProps {
    /// The project shown.
    pub project: AttrValue,
}

/// The names to offer: the server's list, with the shown project in it even
/// when the server does not know it yet (nothing recorded, nothing live).
pub fn choices(shown: &str, listed: &[String]) -> Vec<String> {
    let mut names = listed.to_vec();
    if !names.iter().any(|n| n == shown) {
        names.insert(0, shown.to_owned());
    }
    names
}

/// The switcher.
#[function_component(ProjectSwitcher)]
pub fn project_switcher(props: &ProjectSwitcherProps) -> Html {
    let listed = use_fetch((), |_| async { http::projects().await });
    let names: Vec<String> = match &listed {
        Load::Ready(list) => list.projects.iter().map(|p| p.name.clone()).collect(),
        _ => Vec::new(),
    };
    let live: Vec<String> = match &listed {
        Load::Ready(list) => list.projects.iter().filter(|p| p.live).map(|p| p.name.clone()).collect(),
        _ => Vec::new(),
    };
    let shown = props.project.to_string();
    let onchange = {
        let shown = shown.clone();
        Callback::from(move |event: Event| {
            let Some(select) = event.target_dyn_into::<web_sys::HtmlSelectElement>() else { return };
            let picked = select.value();
            if picked != shown
                && let Some(window) = web_sys::window()
            {
                let _ = window.location().set_href(&dashboard_href(&picked, token().as_deref()));
            }
        })
    };
    let options = choices(&shown, &names).into_iter().map(|name| {
        let text = if live.contains(&name) { format!("{name} · live") } else { name.clone() };
        html! { <option value={name.clone()} selected={name == shown}>{ text }</option> }
    });
    html! {
        <select class="topbar__project" aria-label="Project" title="Project" data-testid="project-switcher" {onchange}>
            { for options }
        </select>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shown_project_is_always_offered() {
        let listed = vec!["build".to_owned(), "train".to_owned()];
        assert_eq!(choices("train", &listed), ["build", "train"]);
        assert_eq!(choices("new", &listed), ["new", "build", "train"]);
    }
}
