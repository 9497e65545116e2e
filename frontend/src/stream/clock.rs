//! A one-second clock: it re-checks staleness, and in mock builds paces the mock.

use std::time::Duration;

use futures::StreamExt;

use super::Event;

/// Ticks once a second until dropped, emitting [`Event::Tick`] (and, in dev
/// builds made with `PERFMON_MOCK`, the mock's samples for `project`).
#[cfg_attr(not(debug_assertions), allow(unused_variables))]
pub async fn run(project: String, emit: impl Fn(Event)) {
    let mut ticks = Box::pin(yew::platform::time::interval(Duration::from_secs(1)));
    #[cfg(debug_assertions)]
    let mut mock = super::mock::enabled().then(super::mock::MockClock::default);
    while ticks.next().await.is_some() {
        let now = js_sys::Date::now();
        emit(Event::Tick(now));
        #[cfg(debug_assertions)]
        if let Some(mut sample) =
            mock.as_mut().and_then(|m| m.next(&project, (now - super::mock::epoch()) / 1000.0))
        {
            // Stamped with the real time, so the dashboard's live edge moves with it.
            sample.timestamp =
                shared::Timestamp(String::from(js_sys::Date::new(&now.into()).to_iso_string()));
            emit(Event::Mock(sample));
        }
    }
}
