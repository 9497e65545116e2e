//! `use_perf_metrics`: the project's live `perf_metrics`, as [`PerfState`].
//!
//! A thin composition: the sources of [`crate::stream`] (the socket, the clock,
//! the dev mock) report events, and the reducer of [`crate::state`] turns them into
//! what the panel shows, re-rendering only when something visible changes.

use yew::prelude::*;

use crate::state::PerfState;
use crate::stream;

/// Subscribes to `project`'s metrics for as long as the component is mounted.
#[hook]
pub fn use_perf_metrics(project: &str) -> PerfState {
    let state = use_reducer(PerfState::default);
    {
        let dispatcher = state.dispatcher();
        use_effect_with(project.to_owned(), move |project| {
            let sources = stream::start(project, move |event| dispatcher.dispatch(event));
            move || drop(sources)
        });
    }
    (*state).clone()
}
