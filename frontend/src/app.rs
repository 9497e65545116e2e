//! The root component: reads the page from the URL ([`Route`]), subscribes to
//! the project's stream, hands the data to the header's PerfMon button and the
//! page's feed to the page.

use yew::prelude::*;

use crate::components::{ConnectionBanner, Footer, Header, PerfMonButton, StoreBanner};
use crate::hooks::{use_color_scheme, use_perf_metrics, use_server_info};
use crate::pages::{Dashboard, RunReportPage};
use crate::route::{Route, dashboard_href, query_param, token};

/// The PerfMon app.
#[function_component(App)]
pub fn app() -> Html {
    let route = use_memo((), |_| Route::current());
    let project = route.project().to_owned();
    let budget =
        use_memo((), |_| query_param("budget").and_then(|b| b.parse::<u64>().ok()).filter(|b| *b > 0));
    let data = use_perf_metrics(&project);
    let server = use_server_info();
    let scheme = use_color_scheme();
    {
        // The tab says which project (and run) it shows.
        let title = match &*route {
            Route::Dashboard { project } => format!("PerfMon — {project}"),
            Route::RunReport { project, run_id } => format!("PerfMon — {project} — run {run_id}"),
            Route::NotFound => "PerfMon".to_owned(),
        };
        use_effect_with(title, |title| {
            if let Some(document) = web_sys::window().and_then(|w| w.document()) {
                document.set_title(title);
            }
        });
    }
    let page = match &*route {
        Route::Dashboard { project } => html! {
            <Dashboard project={project.clone()} feed={data.feed.clone()} {scheme} server={server.clone()} />
        },
        Route::RunReport { project, run_id } => html! {
            <RunReportPage project={project.clone()} run_id={run_id.clone()} {scheme} />
        },
        Route::NotFound => html! {
            <div class="report">
                <h1 class="report__title">{ "No such page" }</h1>
                <p><a href={dashboard_href(&project, token().as_deref())}>{ "Open the dashboard" }</a></p>
            </div>
        },
    };
    html! {
        <>
            <Header project={AttrValue::from(project.clone())}>
                <PerfMonButton data={data.clone()} token_budget={*budget} />
            </Header>
            <ConnectionBanner {data} />
            <StoreBanner server={server.clone()} />
            <main class="content">{ page }</main>
            <Footer {server} />
        </>
    }
}
