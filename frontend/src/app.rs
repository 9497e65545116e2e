//! The root component: reads the page from the URL ([`Route`]), subscribes to
//! the project's stream, hands the data to the header's PerfMon button and the
//! page's feed to the page. It polls the project's alerts and notifies new
//! ones here, on every page, so a notification needs only some PerfMon page
//! open; the dashboard shows them.

use yew::prelude::*;

use crate::components::{ConnectionBanner, Footer, Header, PerfMonButton, RemoteWriteBanner, StoreBanner};
use crate::hooks::{use_alerts, use_color_scheme, use_notifications, use_perf_metrics, use_server_info};
use crate::pages::{Dashboard, RunReportPage, SettingsPage};
use crate::route::{Route, dashboard_href, query_param, token};
use crate::stream::http::AlertQuery;

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
    let alerts = use_alerts(AlertQuery::project(&project));
    let notifications = use_notifications(&alerts);
    {
        // The tab says which project (and run) it shows.
        let title = match &*route {
            Route::Dashboard { project } => format!("PerfMon — {project}"),
            Route::RunReport { project, run_id } => format!("PerfMon — {project} — run {run_id}"),
            Route::Settings { .. } => "PerfMon — settings".to_owned(),
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
            <Dashboard project={project.clone()} feed={data.feed.clone()} {scheme} server={server.clone()}
                {alerts} {notifications} />
        },
        Route::Settings { project } => html! { <SettingsPage project={project.clone()} /> },
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
            <RemoteWriteBanner server={server.clone()} />
            <main class="content">{ page }</main>
            <Footer {server} />
        </>
    }
}
