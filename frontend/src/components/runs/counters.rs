//! [`CountersTable`]: the run's own counters behind its verdict, in a
//! collapsible `<details>` (the keyboard opens it; a screen reader says
//! whether it is open). A figure that could not be read shows a dash with its
//! reason beside it in small text — a tooltip alone would hide it from touch
//! screens — and as the cell's title.

use shared::why::{CountedFrom, RunCounters};
use yew::prelude::*;

use crate::view::why::counter_rows;

/// Props of [`CountersTable`].
#[derive(Properties, PartialEq)]
pub struct CountersTableProps {
    /// The run's counters.
    pub counters: RunCounters,
}

/// The counters table.
#[function_component(CountersTable)]
pub fn counters_table(props: &CountersTableProps) -> Html {
    let rows = counter_rows(&props.counters);
    let from = match props.counters.counted_from {
        CountedFrom::Start => "Counted from the command's first instruction, over its whole process tree.",
        CountedFrom::Registration => {
            "Counted from when the run was registered (perfmon register): what it did before is not in them."
        }
    };
    html! {
        <details class="counters" data-testid="counters">
            <summary class="counters__summary">{ "Counters" }</summary>
            <p class="why__note">{ from }</p>
            <table class="counters__table">
                <thead><tr><th scope="col">{ "Counter" }</th><th scope="col">{ "Over the run" }</th></tr></thead>
                <tbody>
                    { for rows.iter().map(|row| html! {
                        <tr data-testid="counter-row" data-counter={row.id.clone()}>
                            <th scope="row">{ row.label.clone() }</th>
                            <td class="num" title={row.reason.clone()}>
                                { row.shown() }
                                if let Some(reason) = &row.reason {
                                    <small class="counters__reason" data-testid="counter-reason">{ reason.clone() }</small>
                                }
                            </td>
                        </tr>
                    }) }
                </tbody>
            </table>
        </details>
    }
}
