//! `use_perf_metrics`: the project's live `perf_metrics`, as [`PerfState`].
//!
//! A thin composition: the sources of [`crate::stream`] (the socket, the clock,
//! the dev mock) report events; every sample goes to the state's [`Feed`] (the
//! dashboard's charts), and the reducer of [`crate::state`] turns the events into
//! what the panel shows, re-rendering only when something visible changes.

use shared::ServerMsg;
use yew::prelude::*;

use crate::state::{Feed, FeedEvent, PerfState};
use crate::stream::{self, Event};

/// Subscribes to `project`'s metrics for as long as the component is mounted.
#[hook]
pub fn use_perf_metrics(project: &str) -> PerfState {
    let state = use_reducer(PerfState::default);
    {
        let dispatcher = state.dispatcher();
        let feed = state.feed.clone();
        use_effect_with(project.to_owned(), move |project| {
            let sources = stream::start(project, move |event| {
                hand_on(&feed, &event);
                dispatcher.dispatch(event)
            });
            move || drop(sources)
        });
    }
    (*state).clone()
}

/// Hands the samples of `event` to the feed.
fn hand_on(feed: &Feed, event: &Event) {
    match event {
        Event::Message(ServerMsg::PerfMetrics(m), _) => feed.publish(FeedEvent::Sample(m)),
        Event::Message(ServerMsg::History(h), _) => feed.publish(FeedEvent::Replay(&h.samples)),
        Event::Mock(m) => feed.publish_mock(m),
        _ => {}
    }
}
