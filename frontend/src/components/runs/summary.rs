//! One run's figures: when it started and ended (local, to the second, with
//! the date and the offset, so that a short run's two ends differ), how it
//! ended, how long it took, the CPU time of its whole process tree, its peaks
//! and its tokens.

use shared::api::RunRecord;
use yew::prelude::*;

use crate::view::format::{NOT_AVAILABLE, Unit};
use crate::view::runs;
use crate::view::time::{browser_offset, epoch_millis, local_instant};

/// Props of [`RunSummary`].
#[derive(Properties, PartialEq)]
pub struct RunSummaryProps {
    /// The run.
    pub run: RunRecord,
}

/// `Dec 1 13:15:20 (UTC+01:00)`: each instant with the offset in force then.
fn local(ts: Option<&shared::Timestamp>) -> String {
    ts.and_then(|t| epoch_millis(t.as_str()))
        .map_or_else(|| NOT_AVAILABLE.to_owned(), |ms| local_instant(ms, browser_offset(ms)))
}

/// The run's figures.
#[function_component(RunSummary)]
pub fn run_summary(props: &RunSummaryProps) -> Html {
    let run = &props.run;
    let outcome_class =
        if runs::failed(run) { "figure__value figure__value--failed" } else { "figure__value" };
    let rows = [
        ("started", "Started", local(Some(&run.started_at)), "figure__value"),
        (
            "ended",
            "Ended",
            if run.ended_at.is_some() { local(run.ended_at.as_ref()) } else { "still running".into() },
            "figure__value",
        ),
        ("outcome", "Outcome", runs::outcome(run), outcome_class),
        ("duration", "Duration", runs::duration(run), "figure__value"),
        ("cpu-seconds", "CPU time", format!("{:.1} s", run.cpu_seconds), "figure__value"),
        ("peak-cpu", "Peak CPU", runs::figure(run.peak_cpu_percent, Unit::Percent), "figure__value"),
        ("peak-rss", "Peak RSS", runs::figure(run.peak_rss_mb, Unit::Megabytes), "figure__value"),
        (
            "peak-gpu",
            "Peak GPU memory",
            runs::figure(run.peak_gpu_memory_gb, Unit::Gigabytes),
            "figure__value",
        ),
        ("peak-processes", "Peak processes", run.peak_process_count.to_string(), "figure__value"),
        ("tokens", "Tokens", runs::tokens_in_full(run), "figure__value"),
    ];
    html! {
        <dl class="figures" data-testid="run-summary">
            { for rows.into_iter().map(|(id, label, value, class)| html! {
                <div class="figure" data-testid={format!("run-{id}")}>
                    <dt class="figure__label">{ label }</dt>
                    <dd class={class}>{ value }</dd>
                </div>
            }) }
        </dl>
    }
}
