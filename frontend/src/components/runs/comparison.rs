//! A run beside the project's run before it: duration, peaks, tokens and their
//! cost, and the change of each in percent.

use shared::api::RunRecord;
use yew::prelude::*;

use crate::route::report_href;
use crate::view::format::{NOT_AVAILABLE, Unit};
use crate::view::runs;

/// Props of [`Comparison`].
#[derive(Properties, PartialEq)]
pub struct ComparisonProps {
    /// The run.
    pub run: RunRecord,
    /// The project's run before it.
    pub previous: Option<RunRecord>,
    /// The page's token, carried into links.
    #[prop_or_default]
    pub token: Option<AttrValue>,
}

/// How a compared figure reads.
#[derive(Clone, Copy)]
enum Shown {
    /// A stopwatch duration from seconds.
    Duration,
    /// A value of a unit.
    In(Unit),
    /// A grouped count.
    Count,
    /// US dollars.
    Dollars,
}

impl Shown {
    fn text(self, value: f64) -> String {
        match self {
            Shown::Duration => crate::view::time::elapsed(value.round() as i64),
            Shown::In(unit) => unit.format(value),
            Shown::Count => crate::view::format::count(value as u64),
            Shown::Dollars => crate::view::format::dollars(value),
        }
    }
}

/// What a run's tokens cost, where its transcripts and the prices tell it.
fn cost(run: &RunRecord) -> Option<f64> {
    run.token_detail.as_ref().and_then(|d| d.cost_usd)
}

/// The comparison table.
#[function_component(Comparison)]
pub fn comparison(props: &ComparisonProps) -> Html {
    let Some(previous) = &props.previous else {
        return html! {
            <section class="comparison" data-testid="comparison">
                <h2 class="section__title">{ "Compared with the previous run" }</h2>
                <p class="muted">{ "This is the project's first recorded run: nothing to compare with." }</p>
            </section>
        };
    };
    let run = &props.run;
    let rows = [
        ("Duration", Some(run.duration_s), Some(previous.duration_s), Shown::Duration),
        ("Peak CPU", run.peak_cpu_percent, previous.peak_cpu_percent, Shown::In(Unit::Percent)),
        ("Peak RSS", run.peak_rss_mb, previous.peak_rss_mb, Shown::In(Unit::Megabytes)),
        ("Peak GPU memory", run.peak_gpu_memory_gb, previous.peak_gpu_memory_gb, Shown::In(Unit::Gigabytes)),
        ("Tokens", Some(run.tokens as f64), Some(previous.tokens as f64), Shown::Count),
        ("Token cost", cost(run), cost(previous), Shown::Dollars),
    ];
    let href = report_href(&previous.project, &previous.run_id, props.token.as_deref());
    html! {
        <section class="comparison" data-testid="comparison">
            <h2 class="section__title">
                { "Compared with the previous run " }
                <a href={href}>{ previous.label.clone().unwrap_or_else(|| previous.run_id.clone()) }</a>
                { format!(" ({})", runs::outcome(previous)) }
            </h2>
            <table class="comparison__table">
                <thead><tr>
                    <th scope="col">{ "" }</th><th scope="col">{ "This run" }</th>
                    <th scope="col">{ "Previous" }</th><th scope="col">{ "Change" }</th>
                </tr></thead>
                <tbody>
                    { for rows.iter().map(|(label, now, before, show)| {
                        let text = |v: Option<f64>| v.map_or_else(|| NOT_AVAILABLE.to_owned(), |v| show.text(v));
                        html! {
                            <tr data-testid="comparison-row">
                                <th scope="row">{ *label }</th>
                                <td class="num">{ text(*now) }</td>
                                <td class="num">{ text(*before) }</td>
                                <td class="num">{ runs::change(*now, *before).unwrap_or_else(|| "—".to_owned()) }</td>
                            </tr>
                        }
                    }) }
                </tbody>
            </table>
        </section>
    }
}
