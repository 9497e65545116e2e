//! The dashboard (`/?project=NAME`): the machine's and the project's run's
//! charts over a range — the last 15 minutes to 30 days, read from the store
//! (`/api/history`) and kept moving by the live stream without refetching, or a
//! span dragged across a chart — and the project's runs.
//!
//! Above the charts, the project's alerts and the machine's
//! ([`AlertsSection`]: the app polls them, and notifies new ones when allowed);
//! on the charts, a mark where each alert in the range fell — those the store
//! lists for the range (asked for with the range) and the newest the app's
//! poll brings, so a live range's marks come as the alerts do.
//!
//! A server without a store (`--no-store`) still has its stream's last ten
//! minutes: the dashboard shows those and says why there is no more.
//!
//! "Compare with" (`?compare=1d|7d`, PerfWatch's comparison view) asks the
//! store for the same span a day or a week earlier with a second request, and
//! every chart draws it faint under its lines. While the range follows the
//! live stream, the earlier span is asked for again only once the window has
//! moved by a tenth of its length (it is fetched with that much more at the
//! right, so the faint lines reach the edge meanwhile).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use shared::alerts::Alerts;
use shared::api::Health;
use shared::{PerfMetrics, RunStatus};
use yew::prelude::*;

use crate::components::alerts::AlertsSection;
use crate::components::charts::{ChartSet, ComparePicker, RangePicker};
use crate::components::runs::RunsTable;
use crate::hooks::{Load, Notifications, Scheme, use_fetch};
use crate::route::{query_param, replace_query, report_href, token};
use crate::state::range::Compare;
use crate::state::timeline::Earlier;
use crate::state::{Feed, FeedEvent, Preset, Range, SharedTimeline, Timeline, Window};
use crate::stream::http::{self, AlertQuery};
use crate::view::alerts::merged;
use crate::view::runs::LiveRun;
use crate::view::time::{browser_offset, span_text};

/// Props of [`Dashboard`].
#[derive(Properties, PartialEq)]
pub struct DashboardProps {
    /// The project watched.
    pub project: AttrValue,
    /// Every sample of the project's stream.
    pub feed: Feed,
    /// The scheme the charts' colours follow.
    pub scheme: Scheme,
    /// What the server says of itself: how far back its store keeps history.
    #[prop_or_default]
    pub server: Option<Health>,
    /// The project's alerts and the machine's, as the app's poll last had them.
    #[prop_or(Load::Loading)]
    pub alerts: Load<Alerts>,
    /// The browser's notifications of them.
    #[prop_or_default]
    pub notifications: Notifications,
}

/// Where the charts' data comes from.
#[derive(Debug, Clone, PartialEq)]
enum Source {
    /// The store's answer is on its way.
    Loading,
    /// The store, with points of this many seconds.
    Store(u64),
    /// Only the live stream's recent samples, and why.
    StreamOnly(String),
    /// Nothing to show, and why.
    Failed(String),
}

/// The earlier span asked for last, and what for.
#[derive(Debug, Clone, PartialEq)]
struct Asked {
    /// The project, range and comparison it was asked for: any change asks anew.
    project: AttrValue,
    range: Range,
    compare: Compare,
    /// The span asked for (already a day or a week back).
    span: Window,
}

/// Runs per page of the table.
const RUNS_PER_PAGE: u32 = 20;

/// The most alerts asked for over a range: the server's own cap.
const ALERTS_PER_RANGE: u32 = 1000;

/// How long the stream's own samples are kept for a server without a store.
const STREAM_KEEP_MS: f64 = 10.0 * 60_000.0;

/// A counter that moves whenever the timeline changed.
#[derive(Default)]
struct Version(u64);

impl Reducible for Version {
    type Action = ();
    fn reduce(self: Rc<Self>, _: ()) -> Rc<Self> {
        Rc::new(Version(self.0 + 1))
    }
}

fn now() -> f64 {
    js_sys::Date::now()
}

/// The dashboard.
#[function_component(Dashboard)]
pub fn dashboard(props: &DashboardProps) -> Html {
    // The range the URL names (a reload or a shared link shows the same span).
    let initial = use_memo((), |_| {
        Range::from_query(
            query_param("range").as_deref(),
            query_param("from").as_deref(),
            query_param("to").as_deref(),
        )
        .unwrap_or_default()
    });
    let range = use_state(|| *initial);
    let last_preset = use_state(|| match *initial {
        Range::Last(p) => p,
        Range::Span(_) => Preset::Minutes15,
    });
    let window = use_state(|| initial.window(now()));
    use_effect_with(*range, |range| {
        let query = range.to_query();
        let get = |name: &str| query.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone());
        replace_query(&[("range", get("range")), ("from", get("from")), ("to", get("to"))]);
    });
    let source = use_state(|| Source::Loading);
    let version = use_reducer(Version::default);
    let timeline = use_memo((), |_| SharedTimeline::default());
    // The stream's own recent samples, for a server without a store.
    let streamed = use_memo((), |_| RefCell::new(Timeline::default()));
    let stream_only = use_memo((), |_| Cell::new(false));
    let gpu_reason = use_state_eq(|| None::<String>);
    // The newest sample, for what the machine in depth says that is not a series.
    let latest = use_state(|| None::<Rc<PerfMetrics>>);
    // The live run as the stream shows it, so its row in the table moves.
    let live_run = use_state_eq(|| None::<LiveRun>);
    let runs_reload = use_reducer(Version::default);
    let generation = use_memo((), |_| Cell::new(0u64));
    // What the charts compare with, from the URL like the range.
    let compare = use_state(|| Compare::from_query(query_param("compare").as_deref()));
    use_effect_with(*compare, |compare| replace_query(&[("compare", compare.key().map(str::to_owned))]));
    let earlier = use_state_eq(|| None::<Earlier>);
    let earlier_failed = use_state_eq(|| None::<String>);
    let asked = use_memo((), |_| RefCell::new(None::<Asked>));
    let earlier_generation = use_memo((), |_| Cell::new(0u64));

    // The store's answer for the range.
    {
        let (timeline, streamed, stream_only) = (timeline.clone(), streamed.clone(), stream_only.clone());
        let (window, source, version) = (window.clone(), source.clone(), version.dispatcher());
        use_effect_with((props.project.clone(), *range), move |(project, range)| {
            let w = range.window(now());
            window.set(w);
            source.set(Source::Loading);
            let this = generation.get() + 1;
            generation.set(this);
            let project = project.to_string();
            yew::platform::spawn_local(async move {
                let answer = http::history(&project, w.from, w.to).await;
                if generation.get() != this {
                    return; // The range changed meanwhile.
                }
                match answer {
                    Ok(history) => {
                        let step = history.step_s;
                        *timeline.0.borrow_mut() = Timeline::from_history(history);
                        stream_only.set(false);
                        source.set(Source::Store(step));
                    }
                    Err(err) if err.code().is_some_and(|c| c.starts_with("store_")) => {
                        *timeline.0.borrow_mut() = streamed.borrow().clone();
                        stream_only.set(true);
                        source.set(Source::StreamOnly(err.to_string()));
                    }
                    Err(err) => source.set(Source::Failed(err.to_string())),
                }
                version.dispatch(());
            });
        });
    }

    // The same span earlier: asked for when the range or the comparison
    // changes, and again when a live window has moved past what was asked.
    {
        let (earlier, earlier_failed) = (earlier.clone(), earlier_failed.clone());
        let deps = (props.project.clone(), *range, *compare, *window);
        use_effect_with(deps, move |(project, range, compare, w)| {
            let (project, range, compare) = (project.clone(), *range, *compare);
            let same = asked
                .borrow()
                .as_ref()
                .is_some_and(|a| (&a.project, a.range, a.compare) == (&project, range, compare));
            if compare == Compare::Off {
                if asked.borrow().is_none() {
                    return; // Off and nothing asked: each sample passes by here.
                }
                earlier_generation.set(earlier_generation.get() + 1);
                *asked.borrow_mut() = None;
                earlier.set(None);
                earlier_failed.set(None);
                return;
            }
            if same && asked.borrow().as_ref().is_some_and(|a| compare.covers(a.span, *w)) {
                return;
            }
            // A new range: its window, which the range's own effect has just
            // set but this render does not hold yet.
            let w = if same { *w } else { range.window(now()) };
            let Some(span) = compare.earlier_span(w, range.follows_live()) else { return };
            let this = earlier_generation.get() + 1;
            earlier_generation.set(this);
            *asked.borrow_mut() = Some(Asked { project: project.clone(), range, compare, span });
            if !same {
                // A live window's next span keeps the lines it has until it comes.
                earlier.set(Some(Earlier::loading(compare)));
                earlier_failed.set(None);
            }
            yew::platform::spawn_local(async move {
                let answer = http::history(&project, span.from, span.to).await;
                if earlier_generation.get() != this {
                    return; // The range or the comparison changed meanwhile.
                }
                match answer {
                    Ok(history) => {
                        earlier.set(Some(Earlier::ready(compare, history)));
                        earlier_failed.set(None);
                    }
                    Err(err) => {
                        earlier.set(None);
                        earlier_failed.set(Some(format!("{} could not be read: {err}", compare.words())));
                    }
                }
            });
        });
    }

    // Live samples: the right edge moves, no refetch.
    {
        let (timeline, streamed, stream_only) = (timeline.clone(), streamed.clone(), stream_only.clone());
        let (window, version, runs_reload) = (window.clone(), version.dispatcher(), runs_reload.dispatcher());
        let (gpu_reason, live_run, latest) = (gpu_reason.clone(), live_run.clone(), latest.clone());
        let last_run = Rc::new(RefCell::new(None::<(Option<String>, RunStatus)>));
        let tracked_run = Rc::new(RefCell::new(None::<LiveRun>));
        use_effect_with((props.feed.clone(), *range), move |(feed, range)| {
            let range = *range;
            let subscription = feed.subscribe(move |event| {
                match event {
                    FeedEvent::Replay(samples) => {
                        latest.set(samples.last().cloned().map(Rc::new));
                        *streamed.borrow_mut() = Timeline::from_samples(samples);
                        if stream_only.get() {
                            *timeline.0.borrow_mut() = streamed.borrow().clone();
                        }
                    }
                    FeedEvent::Sample(m) => {
                        {
                            let mut streamed = streamed.borrow_mut();
                            streamed.push(m);
                            streamed.trim_before(now() - STREAM_KEEP_MS);
                        }
                        let reason = (!m.gpu.available).then(|| m.gpu.reason.clone()).flatten();
                        // An equal reason renders nothing (use_state_eq); the
                        // handle here is this effect's, so it is not compared.
                        gpu_reason.set(reason);
                        latest.set(Some(Rc::new(m.clone())));
                        let run = (m.run.run_id.clone(), m.run.status);
                        if last_run.borrow().as_ref().is_some_and(|last| *last != run) {
                            runs_reload.dispatch(());
                        }
                        *last_run.borrow_mut() = Some(run);
                        // The subscription outlives renders: it keeps its own
                        // copy, the state is only what is shown.
                        let next = LiveRun::next(tracked_run.borrow().as_ref(), m);
                        *tracked_run.borrow_mut() = next.clone();
                        live_run.set(next);
                        if !range.follows_live() {
                            return;
                        }
                        let mut t = timeline.0.borrow_mut();
                        if !t.push(m) {
                            return;
                        }
                        let edge = t.times.last().copied().unwrap_or_else(now).max(now());
                        let w = range.window(edge);
                        t.trim_before(w.from);
                        drop(t);
                        window.set(w);
                    }
                }
                version.dispatch(());
            });
            move || drop(subscription)
        });
    }

    // The project's runs, a page at a time, fetched again when a run ends.
    let pages = use_state(Vec::<Option<String>>::new); // the `before` of each newer page
    let before = use_state(|| None::<String>);
    let runs = use_fetch(
        (props.project.to_string(), (*before).clone(), runs_reload.0),
        |(project, before, _)| async move { http::runs(&project, RUNS_PER_PAGE, before.as_deref()).await },
    );

    // The alerts of the range for the charts' marks, asked for with it; the
    // poll's newest are added, so a live range gets the new ones as they come.
    let ranged = use_fetch((props.project.to_string(), *range), |(project, range)| async move {
        let w = range.window(now());
        let query = AlertQuery {
            span: Some((w.from, w.to)),
            limit: Some(ALERTS_PER_RANGE),
            ..AlertQuery::project(&project)
        };
        http::alerts(&query).await
    });
    let marked = use_memo((ranged.clone(), props.alerts.clone()), |(ranged, polled)| {
        let mut lists: Vec<&[shared::alerts::AlertEvent]> = Vec::new();
        for answer in [ranged, polled] {
            if let Load::Ready(a) = answer {
                lists.extend([a.active.as_slice(), a.recent.as_slice()]);
            }
        }
        Rc::new(merged(&lists))
    });

    let on_pick = {
        let (range, last_preset) = (range.clone(), last_preset.clone());
        Callback::from(move |picked: Range| {
            if let Range::Last(p) = picked {
                last_preset.set(p);
            }
            range.set(picked);
        })
    };
    let on_compare = {
        let compare = compare.clone();
        Callback::from(move |picked: Compare| compare.set(picked))
    };
    let on_zoom = {
        let range = range.clone();
        Callback::from(move |w: Window| range.set(Range::zoomed(w)))
    };
    let on_open_run = {
        let project = props.project.to_string();
        Callback::from(move |run_id: String| {
            if let Some(window) = web_sys::window() {
                let _ = window.location().set_href(&report_href(&project, &run_id, token().as_deref()));
            }
        })
    };

    // The presets the server can fill: none past what its store keeps, only
    // the live stream's minutes without a store; all until it has said.
    let offered = match props.server.as_ref().and_then(|h| h.store.as_ref()) {
        Some(store) if store.state == "off" => Preset::offered(None),
        Some(store) => Preset::offered(Some(store.keeps_s.map(|s| s as f64 * 1000.0))),
        None => Preset::ALL.to_vec(),
    };
    let w = *window;
    let span = match *range {
        Range::Last(p) => format!("Showing {}", p.words()),
        Range::Span(_) => "Zoomed in".to_owned(),
    };
    let points = match &*source {
        Source::Loading => " · loading…".to_owned(),
        Source::Store(step) => format!(" · {} points", step_words(*step)),
        Source::StreamOnly(_) | Source::Failed(_) => String::new(),
    };
    let against = match compare.key() {
        Some(_) => format!(" · dashed: the same span {}", compare.words()),
        None => String::new(),
    };
    // Each end with its own offset: a week may cross a change of daylight saving.
    let caption = format!("{span}: {}{points}{against}", span_text(w.from, w.to, browser_offset));
    // Nothing to compare with on a server that keeps no history.
    let comparable = props.server.as_ref().and_then(|h| h.store.as_ref()).is_none_or(|s| s.state != "off");
    let notice = match &*source {
        Source::StreamOnly(why) => {
            Some(format!("History is not available: {why}. Showing the live stream's last ten minutes."))
        }
        Source::Failed(why) => Some(format!("The history could not be read: {why}")),
        _ => None,
    };
    let runs_view = match &runs {
        Load::Loading => html! { <p class="muted">{ "Loading runs…" }</p> },
        Load::Failed(err) if err.code().is_some_and(|c| c.starts_with("store_")) => html! {
            <section class="runs" data-testid="runs"><h2 class="section__title">{ "Runs" }</h2>
                <p class="muted">{ format!("Runs are not recorded: {err}") }</p></section>
        },
        Load::Failed(err) => {
            html! { <p class="notice" role="alert">{ format!("The runs could not be read: {err}") }</p> }
        }
        Load::Ready(page) => {
            let on_older = {
                let (pages, before, next) = (pages.clone(), before.clone(), page.next_before.clone());
                Callback::from(move |_| {
                    if let Some(next) = &next {
                        let mut stack = (*pages).clone();
                        stack.push((*before).clone());
                        pages.set(stack);
                        before.set(Some(next.as_str().to_owned()));
                    }
                })
            };
            let on_newer = {
                let (pages, before) = (pages.clone(), before.clone());
                Callback::from(move |_| {
                    let mut stack = (*pages).clone();
                    if let Some(newer) = stack.pop() {
                        pages.set(stack);
                        before.set(newer);
                    }
                })
            };
            html! {
                <RunsTable project={props.project.clone()} runs={Rc::new(page.runs.clone())}
                    token={token().map(AttrValue::from)} live={(*live_run).clone()} has_newer={!pages.is_empty()}
                    has_older={page.next_before.is_some()} {on_newer} {on_older} />
            }
        }
    };
    html! {
        <div class="dashboard" data-testid="dashboard">
            <h1 class="visually-hidden">{ format!("Dashboard of project {}", props.project) }</h1>
            <div class="dashboard__bar">
                <RangePicker range={*range} last_preset={*last_preset} {offered} {on_pick} />
                if comparable {
                    <ComparePicker compare={*compare} on_pick={on_compare} />
                }
                <p class="dashboard__caption" data-testid="range-caption"
                    data-from={format!("{:.0}", w.from)} data-to={format!("{:.0}", w.to)}>
                    { caption }
                </p>
            </div>
            if let Some(notice) = notice {
                <p class="notice" role="status" data-testid="history-notice">{ notice }</p>
            }
            if let Some(failed) = (*earlier_failed).clone() {
                <p class="notice" role="status" data-testid="compare-notice">
                    { format!("The same span {failed}.") }</p>
            }
            <AlertsSection alerts={props.alerts.clone()} notifications={props.notifications.clone()} />
            <ChartSet timeline={(*timeline).clone()} version={version.0} window={w} scheme={props.scheme}
                {on_zoom} {on_open_run} gpu_reason={(*gpu_reason).clone().map(AttrValue::from)}
                depth=true latest={(*latest).clone()} earlier={(*earlier).clone()} alerts={(*marked).clone()} />
            { runs_view }
        </div>
    }
}

/// `1 s`, `1 min`, `10 min`, `1 h`: what one stored point covers.
fn step_words(step_s: u64) -> String {
    match step_s {
        s if s % 3600 == 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}
