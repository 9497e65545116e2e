//! A page of a project's runs: start, label, duration, how it ended, peak CPU,
//! where its time went (the verdict's bound in a word), the other peaks and
//! tokens. Every column sorts (a button in its heading, `aria-sort` on it);
//! each row links to the run's report; Newer and Older page through the store.

use std::rc::Rc;

use shared::api::RunRecord;
use yew::prelude::*;

use crate::route::report_href;
use crate::view::format::Unit;
use crate::view::runs::{self, LiveRun, SortKey};
use crate::view::time::{Clock, browser_offset, epoch_millis, local_instant, local_time};
use crate::view::why::bound_cell;

/// Props of [`RunsTable`].
#[derive(Properties, PartialEq)]
pub struct RunsTableProps {
    /// The project the runs belong to.
    pub project: AttrValue,
    /// This page of runs, newest first.
    pub runs: Rc<Vec<RunRecord>>,
    /// The live run as the stream shows it: its row moves with it.
    #[prop_or_default]
    pub live: Option<LiveRun>,
    /// The page's token, carried into links.
    #[prop_or_default]
    pub token: Option<AttrValue>,
    /// Whether there are newer runs than this page (a page was turned).
    #[prop_or_default]
    pub has_newer: bool,
    /// Whether there are older runs than this page.
    #[prop_or_default]
    pub has_older: bool,
    /// Turns to the newer page.
    #[prop_or_default]
    pub on_newer: Callback<()>,
    /// Turns to the older page.
    #[prop_or_default]
    pub on_older: Callback<()>,
}

/// When a run started, in local time with the date and to the second (runs a
/// few seconds apart must read apart), and the same with its offset named.
fn started(run: &RunRecord) -> (String, String) {
    match epoch_millis(run.started_at.as_str()) {
        Some(ms) => {
            let offset = browser_offset(ms);
            (local_time(ms, offset, Clock { date: true, seconds: true }), local_instant(ms, offset))
        }
        None => (run.started_at.as_str().to_owned(), run.started_at.as_str().to_owned()),
    }
}

/// The command that records a run here: `perfmon run` finds a server on the
/// default port by itself; on any other it must be told where (`--bind`).
fn start_command(project: &str) -> String {
    let host = web_sys::window().and_then(|w| w.location().host().ok()).unwrap_or_default();
    start_command_for(project, &host)
}

/// [`start_command`] for a page served from `host` (`127.0.0.1:9100`).
fn start_command_for(project: &str, host: &str) -> String {
    let project = if project.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        project.to_owned()
    } else {
        format!("'{}'", project.replace('\'', "'\\''"))
    };
    let bind = match host {
        "" | "127.0.0.1:8000" | "localhost:8000" => String::new(),
        host => format!(
            " --bind {}",
            host.strip_prefix("localhost:").map_or(host.to_owned(), |p| format!("127.0.0.1:{p}"))
        ),
    };
    format!("perfmon run --project {project}{bind} -- <command>")
}

/// The name of a run's link: its start as shown, then its label and how it
/// ended, so a screen reader's list of links tells runs apart.
fn link_name(run: &RunRecord, start: &str) -> String {
    let label = run.label.as_deref().filter(|l| !l.is_empty()).map(|l| format!(" “{l}”")).unwrap_or_default();
    format!("{start}: report of run{label}, {}", runs::outcome(run))
}

/// The runs table.
#[function_component(RunsTable)]
pub fn runs_table(props: &RunsTableProps) -> Html {
    let sort = use_state(|| (SortKey::Start, true));
    let (key, descending) = *sort;
    let rows = {
        let mut rows: Vec<RunRecord> =
            props.runs.iter().map(|r| runs::with_live(r, props.live.as_ref())).collect();
        runs::sort(&mut rows, key, descending);
        rows
    };
    let headings = SortKey::COLUMNS.iter().map(|(column, heading)| {
        let active = *column == key;
        let aria = match (active, descending) {
            (false, _) => "none",
            (true, true) => "descending",
            (true, false) => "ascending",
        };
        let sort = sort.clone();
        let column = *column;
        let onclick = move |_| {
            // A new column sorts biggest (or newest) first; the same one flips.
            let next = if sort.0 == column { !sort.1 } else { true };
            sort.set((column, next));
        };
        let arrow = match (active, descending) {
            (false, _) => "",
            (true, true) => " ↓",
            (true, false) => " ↑",
        };
        html! {
            <th scope="col" aria-sort={aria}>
                <button type="button" class="runs__sort" {onclick}
                    data-testid={format!("sort-{column:?}").to_lowercase()}>
                    { format!("{heading}{arrow}") }
                </button>
            </th>
        }
    });
    let token = props.token.as_deref();
    let body = rows.iter().map(|run| {
        let href = report_href(&props.project, &run.run_id, token);
        let outcome_class =
            if runs::failed(run) { "runs__outcome runs__outcome--failed" } else { "runs__outcome" };
        let (start, exact) = started(run);
        let (bound, bound_title) = bound_cell(run);
        html! {
            <tr data-testid="run-row" data-run-id={run.run_id.clone()}>
                <td><a href={href} title={exact} aria-label={link_name(run, &start)}>{ start }</a></td>
                <td>{ run.label.clone().unwrap_or_default() }</td>
                <td class="num">{ runs::duration(run) }</td>
                <td class={outcome_class} data-testid="run-outcome">{ runs::outcome(run) }</td>
                <td class="num">{ runs::figure(run.peak_cpu_percent, Unit::Percent) }</td>
                <td class="runs__bound" title={bound_title} data-testid="run-bound">{ bound }</td>
                <td class="num">{ runs::figure(run.peak_rss_mb, Unit::Megabytes) }</td>
                <td class="num">{ runs::figure(run.peak_gpu_memory_gb, Unit::Gigabytes) }</td>
                <td class="num">{ runs::tokens(run) }</td>
            </tr>
        }
    });
    let on_newer = props.on_newer.reform(|_: MouseEvent| ());
    let on_older = props.on_older.reform(|_: MouseEvent| ());
    html! {
        <section class="runs" aria-labelledby="runs-title" data-testid="runs">
            <h2 id="runs-title" class="section__title">{ "Runs" }</h2>
            if props.runs.is_empty() {
                <p class="muted" data-testid="runs-empty">
                    { "No runs recorded for this project yet. Start one with " }
                    <code>{ start_command(&props.project) }</code>
                </p>
            } else {
                <div class="runs__scroll">
                    <table class="runs__table">
                        <thead><tr>{ for headings }</tr></thead>
                        <tbody>{ for body }</tbody>
                    </table>
                </div>
            }
            <div class="runs__pages">
                <button type="button" disabled={!props.has_newer} onclick={on_newer} data-testid="runs-newer">
                    { "← Newer" }
                </button>
                <button type="button" disabled={!props.has_older} onclick={on_older} data-testid="runs-older">
                    { "Older →" }
                </button>
            </div>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_command_names_the_port_only_when_it_is_not_the_default() {
        assert_eq!(start_command_for("demo", "127.0.0.1:8000"), "perfmon run --project demo -- <command>");
        assert_eq!(
            start_command_for("demo", "localhost:9100"),
            "perfmon run --project demo --bind 127.0.0.1:9100 -- <command>"
        );
        assert_eq!(
            start_command_for("my app", "10.0.0.5:8000"),
            "perfmon run --project 'my app' --bind 10.0.0.5:8000 -- <command>"
        );
    }
}
