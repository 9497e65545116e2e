//! The root component: reads the project (`?project=`) and the token budget
//! (`?budget=`) from the page URL, subscribes to the project's stream, and hands
//! the data to the header's PerfMon button.

use yew::prelude::*;

use crate::components::panel::DEFAULT_TOKEN_BUDGET;
use crate::components::{Footer, Header, PerfMonButton, StoreBanner};
use crate::hooks::{use_perf_metrics, use_server_info};

/// The project watched when the URL names none (`?project=NAME`).
pub const DEFAULT_PROJECT: &str = "default";

/// The PerfMon app.
#[function_component(App)]
pub fn app() -> Html {
    let project = use_memo((), |_| query_param("project").unwrap_or_else(|| DEFAULT_PROJECT.to_owned()));
    let budget =
        use_memo((), |_| query_param("budget").and_then(|b| b.parse::<u64>().ok()).filter(|b| *b > 0));
    let data = use_perf_metrics(&project);
    let server = use_server_info();
    html! {
        <>
            <Header project={AttrValue::from((*project).clone())}>
                <PerfMonButton {data} token_budget={budget.unwrap_or(DEFAULT_TOKEN_BUDGET)} />
            </Header>
            <StoreBanner server={server.clone()} />
            <main class="content">
                <p>{ "Open the PerfMon panel from the header to watch this machine and the project's agent run live." }</p>
            </main>
            <Footer {server} />
        </>
    }
}

/// A non-empty `?name=` value of the page URL.
fn query_param(name: &str) -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    let params = web_sys::UrlSearchParams::new_with_str(&search).ok()?;
    params.get(name).filter(|p| !p.is_empty())
}
