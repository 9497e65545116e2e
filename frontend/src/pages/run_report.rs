//! One run's report (`/projects/{p}/runs/{run_id}`, a real URL: a reload or a
//! shared link opens it): where its time went first (the verdict's headline,
//! its bar of shares, the evidence, what moved since the run before, the
//! counters behind it), then its figures, its comparison with the project's run
//! before it, the charts of its process tree and of the machine over its span
//! (drag to zoom in), and its CSV; then its alerts, listed and marked on its
//! charts. A run still going is asked for again every few seconds; its alerts
//! always are (the run's end is an alert of its own, a moment after it).

use std::rc::Rc;
use std::time::Duration;

use shared::api::{RunOutcome, RunReport};
use yew::prelude::*;

use crate::components::alerts::{AlertList, unavailable};
use crate::components::charts::ChartSet;
use crate::components::runs::{Comparison, CountersTable, RunSummary, VerdictSection};
use crate::hooks::{Load, Scheme, use_alerts, use_fetch};
use crate::route::{dashboard_href, token};
use crate::state::{Range, SharedTimeline, Timeline, Window};
use crate::stream::http::{self, AlertQuery};
use crate::view::alerts::merged;
use crate::view::time::epoch_millis;

/// Props of [`RunReportPage`].
#[derive(Properties, PartialEq)]
pub struct RunReportPageProps {
    /// The run's project.
    pub project: AttrValue,
    /// The run.
    pub run_id: AttrValue,
    /// The scheme the charts' colours follow.
    pub scheme: Scheme,
}

/// How often a running run's report is asked for again.
const REFRESH: Duration = Duration::from_secs(5);

/// The span of a run's charts: its start to its end (or now), with a little
/// room either side.
pub fn run_window(report: &RunReport, now: f64) -> Window {
    let start = epoch_millis(report.run.started_at.as_str()).unwrap_or(now);
    let end = report
        .run
        .ended_at
        .as_ref()
        .and_then(|t| epoch_millis(t.as_str()))
        .unwrap_or(now)
        .max(start + 1000.0);
    let margin = ((end - start) * 0.02).max(2000.0);
    Window { from: start - margin, to: end + margin }
}

/// The run report.
#[function_component(RunReportPage)]
pub fn run_report_page(props: &RunReportPageProps) -> Html {
    let refresh = use_state(|| 0u64);
    let report =
        use_fetch((props.project.to_string(), props.run_id.to_string(), *refresh), |(p, r, _)| async move {
            http::report(&p, &r).await
        });
    let alerts = use_alerts(AlertQuery {
        run_id: Some(props.run_id.to_string()),
        ..AlertQuery::project(&props.project)
    });
    let run_alerts = use_memo(alerts.clone(), |alerts| match alerts {
        Load::Ready(a) => Rc::new(merged(&[&a.active, &a.recent])),
        _ => Rc::default(),
    });
    let zoom = use_state(|| None::<Window>);
    let timeline = use_memo(report.clone(), |report| match report {
        Load::Ready(r) => SharedTimeline::new(Timeline::from_history(r.history.clone())),
        _ => SharedTimeline::default(),
    });
    let running = matches!(&report, Load::Ready(r) if r.run.status == RunOutcome::Running);
    {
        let refresh = refresh.clone();
        use_effect_with((running, *refresh), move |(running, n)| {
            let (running, n) = (*running, *n);
            let timer = running.then(|| after(REFRESH, move || refresh.set(n + 1)));
            move || drop(timer)
        });
    }
    let token = token();
    let back = html! {
        <a class="back" href={dashboard_href(&props.project, token.as_deref())}>{ "← Dashboard" }</a>
    };
    let report = match &report {
        Load::Loading => {
            return html! { <div class="report">{ back }<p class="muted">{ "Loading the run…" }</p></div> };
        }
        Load::Failed(err) => {
            return html! {
                <div class="report" data-testid="report-error">
                    { back }
                    <h1 class="report__title">{ "Run not found" }</h1>
                    <p class="notice" role="alert">{ err.to_string() }</p>
                </div>
            };
        }
        Load::Ready(report) => Rc::clone(report),
    };
    let window = (*zoom).unwrap_or_else(|| run_window(&report, js_sys::Date::now()));
    let on_zoom = {
        let zoom = zoom.clone();
        Callback::from(move |w: Window| {
            if let Range::Span(w) = Range::zoomed(w) {
                zoom.set(Some(w));
            }
        })
    };
    let reset = zoom.is_some().then(|| {
        let zoom = zoom.clone();
        html! { <button type="button" class="range__button" onclick={move |_| zoom.set(None)}>{ "Reset zoom" }</button> }
    });
    let run = &report.run;
    let csv = http::report_csv_href(&props.project, &props.run_id, token.as_deref());
    let title = run.label.clone().unwrap_or_else(|| format!("pid {}", run.pid));
    let alerts_view = match &alerts {
        Load::Loading => html! { <p class="muted">{ "Loading the run's alerts…" }</p> },
        Load::Failed(err) => match unavailable(err) {
            Some(words) => html! { <p class="muted">{ words }</p> },
            None => html! {
                <p class="notice" role="status">{ format!("The run's alerts could not be read: {err}") }</p>
            },
        },
        Load::Ready(_) if run_alerts.is_empty() => {
            html! { <p class="muted" data-testid="run-alerts-none">{ "No alerts for this run." }</p> }
        }
        Load::Ready(_) => html! { <AlertList alerts={(*run_alerts).clone()} /> },
    };
    html! {
        <div class="report" data-testid="report">
            { back }
            <h1 class="report__title">{ format!("Run: {title}") }</h1>
            <VerdictSection verdict={run.verdict.clone()} previous={report.previous.clone()} changes={report.changes.clone()} />
            if let Some(counters) = &report.counters {
                <CountersTable counters={counters.clone()} />
            }
            <p class="muted report__id">{ format!("{} · project {}", run.run_id, run.project) }</p>
            <RunSummary run={run.clone()} />
            <p><a class="download" href={csv} download="" data-testid="download-csv">{ "Download CSV" }</a></p>
            <Comparison run={run.clone()} previous={report.previous.clone()} token={token.map(AttrValue::from)} />
            <section class="alerts" aria-labelledby="run-alerts-title" data-testid="run-alerts">
                <h2 class="section__title" id="run-alerts-title">{ "Alerts" }</h2>
                { alerts_view }
            </section>
            <div class="dashboard__bar">{ for reset }</div>
            <ChartSet timeline={(*timeline).clone()} version={*refresh} {window} scheme={props.scheme} {on_zoom}
                alerts={(*run_alerts).clone()} />
        </div>
    }
}

/// Calls `f` once after `delay`, unless the returned sender is dropped first.
fn after(delay: Duration, f: impl FnOnce() + 'static) -> futures::channel::oneshot::Sender<()> {
    let (cancel, cancelled) = futures::channel::oneshot::channel::<()>();
    yew::platform::spawn_local(async move {
        let sleep = Box::pin(yew::platform::time::sleep(delay));
        if let futures::future::Either::Left(_) = futures::future::select(sleep, cancelled).await {
            f();
        }
    });
    cancel
}
