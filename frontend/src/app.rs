//! The root component: reads the project from the page URL, subscribes to its
//! stream, and hands the data to the header's PerfMon button.

use yew::prelude::*;

use crate::components::{Header, PerfMonButton};
use crate::hooks::use_perf_metrics;

/// The project watched when the URL names none (`?project=NAME`).
pub const DEFAULT_PROJECT: &str = "default";

/// The PerfMon app.
#[function_component(App)]
pub fn app() -> Html {
    let project = use_memo((), |_| {
        project_from_url().unwrap_or_else(|| DEFAULT_PROJECT.to_owned())
    });
    let data = use_perf_metrics(&project);
    html! {
        <>
            <Header project={AttrValue::from((*project).clone())}>
                <PerfMonButton {data} />
            </Header>
            <main class="content">
                <p>{ "Open the PerfMon panel from the header to watch this machine and the project's agent run live." }</p>
            </main>
        </>
    }
}

fn project_from_url() -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    let params = web_sys::UrlSearchParams::new_with_str(&search).ok()?;
    params.get("project").filter(|p| !p.is_empty())
}
