//! `use_perf_metrics`: the project's live `perf_metrics` stream.
//!
//! Opens a WebSocket to the page's own host (`wss://` under `https://`), decodes
//! every frame as a [`shared::ServerMsg`], keeps the recent samples for the
//! sparklines (the server replays its history on connect), and reconnects with
//! exponential backoff (1 s doubling to 30 s) when the socket drops — except after
//! a 4xxx close, where the server said why and retrying would not help.
//!
//! Re-renders only when something visible changes: a sample whose [`PanelView`]
//! equals the shown one updates the sparkline data and the freshness clock, but
//! not the component. A 1 s clock marks the data stale when the newest sample is
//! older than 10 s or 2.5 intervals.
//!
//! In debug builds made with `PERFMON_MOCK` set, a deterministic mock stands in
//! while no live data is there ([`super::mock`]); release builds have no mock.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;

use futures::StreamExt;
use futures::channel::oneshot;
use futures::future::{join, select};
use gloo_net::websocket::futures::WebSocket;
use gloo_net::websocket::{Message, WebSocketError};
use shared::{PerfMetrics, ServerMsg};
use yew::prelude::*;

use crate::view::PanelView;

/// The first wait before reconnecting.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait between reconnects.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Samples kept for the sparklines: ten minutes at one per second.
pub const SERIES_LEN: usize = 600;
/// Data older than this is stale whatever the cadence.
pub const STALE_AFTER_MS: f64 = 10_000.0;

/// Where the socket is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Connection {
    /// Opening the socket (first time or after a drop).
    #[default]
    Connecting,
    /// Frames are arriving.
    Open,
    /// The socket dropped; a reconnect is scheduled.
    Reconnecting,
    /// The server closed with a 4xxx code; no retry.
    Refused,
}

/// One sample's values for the sparklines.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Point {
    /// Whole-machine CPU %.
    pub cpu: Option<f64>,
    /// Memory %.
    pub memory: Option<f64>,
    /// Mean GPU %.
    pub gpu: Option<f64>,
    /// Receive rate, bytes/s.
    pub net_down: Option<f64>,
    /// Send rate, bytes/s.
    pub net_up: Option<f64>,
    /// Disk read rate, bytes/s.
    pub disk_read: Option<f64>,
    /// Disk write rate, bytes/s.
    pub disk_write: Option<f64>,
}

impl From<&PerfMetrics> for Point {
    fn from(m: &PerfMetrics) -> Self {
        Point {
            cpu: m.cpu.percent,
            memory: m.memory.percent,
            gpu: m.gpu.percent,
            net_down: m.network.rx_bytes_per_s,
            net_up: m.network.tx_bytes_per_s,
            disk_read: m.disk.read_bytes_per_s,
            disk_write: m.disk.write_bytes_per_s,
        }
    }
}

/// The recent samples, oldest first, at most [`SERIES_LEN`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// The points.
    pub points: VecDeque<Point>,
    /// The newest sample's `seq`, so a replayed sample is not added twice.
    last_seq: u64,
}

impl Series {
    /// Adds a sample unless it is one already held.
    pub fn push(&mut self, m: &PerfMetrics) {
        if m.seq != 0 && m.seq <= self.last_seq {
            return;
        }
        self.last_seq = m.seq;
        self.points.push_back(Point::from(m));
        while self.points.len() > SERIES_LEN {
            self.points.pop_front();
        }
    }

    /// One metric's values, oldest first (missing values skipped).
    pub fn values(&self, pick: fn(&Point) -> Option<f64>) -> Vec<f64> {
        self.points.iter().filter_map(pick).collect()
    }
}

/// What the hook hands to components.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PerfMetricsHandle {
    /// The shown sample; `None` until the first one arrives.
    pub metrics: Option<Rc<PerfMetrics>>,
    /// What the panel shows for it.
    pub view: Rc<PanelView>,
    /// The socket's state.
    pub connection: Connection,
    /// The last error the server reported, or why it refused the stream.
    pub server_error: Option<String>,
    /// The newest sample is too old to trust.
    pub stale: bool,
    /// The shown data is the dev mock, not the server's.
    pub mock: bool,
    /// Recent samples for the sparklines; updated in place, read at render.
    pub series: Rc<RefCell<Series>>,
    /// When the newest sample arrived (ms since the epoch, browser clock), and its
    /// cadence; kept outside the compared state so arrivals alone cause no render.
    freshness: Rc<Cell<(f64, u64)>>,
}

impl Default for PanelView {
    fn default() -> Self {
        PanelView::new(None)
    }
}

/// Changes to the handle.
// One action at a time, consumed at once: boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum PerfAction {
    /// A socket is being opened.
    Connecting,
    /// A message arrived at the given time (ms since the epoch).
    Received(ServerMsg, f64),
    /// The socket closed or failed; a retry follows.
    Dropped,
    /// The server closed with a 4xxx code and this reason; no retry follows.
    Refused(String),
    /// The clock ticked (ms since the epoch): re-check staleness.
    Tick(f64),
    /// A mock sample, shown only while no live data is there.
    Mock(PerfMetrics),
}

impl PerfMetricsHandle {
    fn with(self: &Rc<Self>, change: impl FnOnce(&mut Self)) -> Rc<Self> {
        let mut next = (**self).clone();
        change(&mut next);
        Rc::new(next)
    }

    fn show(self: Rc<Self>, metrics: PerfMetrics, now: f64) -> Rc<Self> {
        self.freshness.set((now, metrics.interval_ms));
        let view = PanelView::new(Some(&metrics));
        // Nothing visible changes: keep the state, skip the render.
        if !self.mock && !self.stale && self.connection == Connection::Open && *self.view == view {
            return self;
        }
        self.with(|next| {
            next.metrics = Some(Rc::new(metrics));
            next.view = Rc::new(view);
            next.connection = Connection::Open;
            next.stale = false;
            next.mock = false;
        })
    }
}

impl Reducible for PerfMetricsHandle {
    type Action = PerfAction;

    fn reduce(self: Rc<Self>, action: PerfAction) -> Rc<Self> {
        match action {
            PerfAction::Connecting if self.connection == Connection::Open => {
                self.with(|next| next.connection = Connection::Reconnecting)
            }
            PerfAction::Connecting => self,
            PerfAction::Received(ServerMsg::PerfMetrics(metrics), now) => {
                self.series.borrow_mut().push(&metrics);
                self.show(metrics, now)
            }
            PerfAction::Received(ServerMsg::History(history), now) => {
                let newest = {
                    let mut series = self.series.borrow_mut();
                    // Live data replaces whatever the mock drew.
                    if self.mock {
                        *series = Series::default();
                    }
                    for sample in &history.samples {
                        series.push(sample);
                    }
                    history.samples.into_iter().last()
                };
                match newest {
                    Some(newest) => self.show(newest, now),
                    None => self,
                }
            }
            PerfAction::Received(ServerMsg::Pong, _) => self,
            PerfAction::Received(ServerMsg::Error(err), _) => {
                self.with(|next| next.server_error = Some(err.message))
            }
            PerfAction::Dropped if self.connection == Connection::Reconnecting => self,
            PerfAction::Dropped => self.with(|next| next.connection = Connection::Reconnecting),
            PerfAction::Refused(reason) => self.with(|next| {
                next.connection = Connection::Refused;
                next.server_error = Some(reason);
            }),
            PerfAction::Tick(now) => {
                let (arrived, interval_ms) = self.freshness.get();
                let stale = self.metrics.is_some() && !self.mock && is_stale(now - arrived, interval_ms);
                if stale == self.stale { self } else { self.with(|next| next.stale = stale) }
            }
            PerfAction::Mock(metrics) => {
                // Live data always wins over the mock.
                if self.metrics.is_some() && !self.mock {
                    return self;
                }
                self.series.borrow_mut().push(&metrics);
                let view = Rc::new(PanelView::new(Some(&metrics)));
                self.with(|next| {
                    next.metrics = Some(Rc::new(metrics));
                    next.view = view;
                    next.mock = true;
                })
            }
        }
    }
}

/// Whether data `age_ms` old, pushed every `interval_ms`, is stale: older than
/// 10 s or 2.5 intervals, whichever is larger.
pub fn is_stale(age_ms: f64, interval_ms: u64) -> bool {
    age_ms > STALE_AFTER_MS.max(2.5 * interval_ms as f64)
}

/// Close codes 4000–4999 are the server's own refusals (bad project, bad token):
/// retrying would be refused again.
pub fn is_final_close(code: u16) -> bool {
    (4000..=4999).contains(&code)
}

/// The WebSocket URL of `project` on the server that served `location`.
pub fn stream_url(protocol: &str, host: &str, project: &str) -> String {
    let scheme = if protocol == "https:" { "wss" } else { "ws" };
    format!("{scheme}://{host}/ws/projects/{}", js_sys::encode_uri_component(project))
}

/// The next backoff after `current`: doubled, at most [`MAX_BACKOFF`].
pub fn next_backoff(current: Duration) -> Duration {
    (current * 2).min(MAX_BACKOFF)
}

/// Subscribes to `project`'s metrics for as long as the component is mounted.
#[hook]
pub fn use_perf_metrics(project: &str) -> PerfMetricsHandle {
    let state = use_reducer(PerfMetricsHandle::default);
    {
        let dispatcher = state.dispatcher();
        use_effect_with(project.to_owned(), move |project| {
            // Dropping `cancel` (on unmount) ends the tasks and closes the socket.
            let (cancel, cancelled) = oneshot::channel::<()>();
            let target = page_stream_url(project);
            let project = project.clone();
            yew::platform::spawn_local(async move {
                let stream = async {
                    if let Some(target) = target {
                        stream(target, dispatcher.clone()).await;
                    }
                };
                let tasks = Box::pin(join(stream, clock(project, dispatcher.clone())));
                let _ = select(tasks, cancelled).await;
            });
            move || drop(cancel)
        });
    }
    (*state).clone()
}

/// The stream's URL for the page's host, and the token from the page URL
/// (`?token=`), if any.
fn page_stream_url(project: &str) -> Option<(String, Option<String>)> {
    let location = web_sys::window()?.location();
    let url = stream_url(&location.protocol().ok()?, &location.host().ok()?, project);
    let search = location.search().ok()?;
    let token = web_sys::UrlSearchParams::new_with_str(&search).ok()?.get("token").filter(|t| !t.is_empty());
    Some((url, token))
}

/// The subprotocols a client offers: `perfmon`, and the token as
/// `perfmon.token.<TOKEN>` — browsers cannot set an Authorization header on a
/// WebSocket, and a subprotocol keeps the token out of URLs and server logs.
pub fn protocols(token: Option<&str>) -> Vec<String> {
    let mut offered = vec!["perfmon".to_owned()];
    if let Some(token) = token {
        offered.push(format!("perfmon.token.{token}"));
    }
    offered
}

async fn stream((url, token): (String, Option<String>), dispatch: UseReducerDispatcher<PerfMetricsHandle>) {
    let offered = protocols(token.as_deref());
    let mut backoff = FIRST_BACKOFF;
    loop {
        dispatch.dispatch(PerfAction::Connecting);
        if let Ok(socket) = WebSocket::open_with_protocols(&url, &offered) {
            let (_sink, mut frames) = socket.split();
            while let Some(frame) = frames.next().await {
                let text = match frame {
                    Ok(Message::Text(text)) => text,
                    Ok(Message::Bytes(_)) => continue,
                    Err(WebSocketError::ConnectionClose(close)) if is_final_close(close.code) => {
                        let reason = if close.reason.is_empty() {
                            format!("the server refused the stream (code {})", close.code)
                        } else {
                            close.reason
                        };
                        dispatch.dispatch(PerfAction::Refused(reason));
                        return;
                    }
                    Err(_) => break,
                };
                match serde_json::from_str::<ServerMsg>(&text) {
                    Ok(msg) => {
                        backoff = FIRST_BACKOFF;
                        dispatch.dispatch(PerfAction::Received(msg, js_sys::Date::now()));
                    }
                    // A newer server may send messages this build does not know.
                    Err(err) => {
                        web_sys::console::warn_1(&format!("PerfMon: undecodable message: {err}").into())
                    }
                }
            }
        }
        dispatch.dispatch(PerfAction::Dropped);
        yew::platform::time::sleep(backoff).await;
        backoff = next_backoff(backoff);
    }
}

/// Ticks once a second: staleness, and in mock builds the mock's samples.
#[cfg_attr(not(debug_assertions), allow(unused_variables))]
async fn clock(project: String, dispatch: UseReducerDispatcher<PerfMetricsHandle>) {
    let mounted = js_sys::Date::now();
    let mut ticks = Box::pin(yew::platform::time::interval(Duration::from_secs(1)));
    #[cfg(debug_assertions)]
    let mut mock = super::mock::enabled().then(super::mock::MockClock::default);
    while ticks.next().await.is_some() {
        let now = js_sys::Date::now();
        dispatch.dispatch(PerfAction::Tick(now));
        #[cfg(debug_assertions)]
        if let Some(sample) = mock.as_mut().and_then(|m| m.next(&project, (now - mounted) / 1000.0)) {
            dispatch.dispatch(PerfAction::Mock(sample));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_thirty_seconds() {
        let mut b = FIRST_BACKOFF;
        let mut seen = vec![b.as_secs()];
        for _ in 0..7 {
            b = next_backoff(b);
            seen.push(b.as_secs());
        }
        assert_eq!(seen, [1, 2, 4, 8, 16, 30, 30, 30]);
    }

    #[test]
    fn stale_means_older_than_ten_seconds_or_two_and_a_half_intervals() {
        assert!(!is_stale(9_000.0, 1000));
        assert!(is_stale(10_001.0, 1000));
        assert!(!is_stale(12_000.0, 5000));
        assert!(is_stale(12_501.0, 5000));
    }

    #[test]
    fn the_token_travels_as_a_subprotocol() {
        assert_eq!(protocols(None), ["perfmon"]);
        assert_eq!(protocols(Some("abc.def")), ["perfmon", "perfmon.token.abc.def"]);
    }

    #[test]
    fn only_4xxx_closes_are_final() {
        assert!(is_final_close(4001));
        assert!(is_final_close(4004));
        assert!(!is_final_close(1001));
        assert!(!is_final_close(1006));
    }

    fn sample(seq: u64, cpu: f64) -> PerfMetrics {
        PerfMetrics {
            seq,
            cpu: shared::Cpu { percent: Some(cpu), ..Default::default() },
            ..Default::default()
        }
    }

    #[test]
    fn samples_equal_at_display_precision_keep_the_state() {
        let s0 = Rc::new(PerfMetricsHandle::default());
        let s1 = s0.reduce(PerfAction::Received(ServerMsg::PerfMetrics(sample(1, 37.21)), 0.0));
        let s2 = s1.clone().reduce(PerfAction::Received(ServerMsg::PerfMetrics(sample(2, 37.24)), 1000.0));
        assert!(Rc::ptr_eq(&s1, &s2), "no visible change: same state, no render");
        assert_eq!(s2.series.borrow().points.len(), 2, "the sparkline still gets the point");
        let s3 = s2.clone().reduce(PerfAction::Received(ServerMsg::PerfMetrics(sample(3, 40.0)), 2000.0));
        assert!(!Rc::ptr_eq(&s2, &s3));
        assert_eq!(s3.view.cpu, "40.0 %");
    }

    #[test]
    fn the_clock_marks_old_data_stale_and_new_data_clears_it() {
        let s = Rc::new(PerfMetricsHandle::default()).reduce(PerfAction::Received(
            ServerMsg::PerfMetrics(PerfMetrics { interval_ms: 1000, ..sample(1, 5.0) }),
            0.0,
        ));
        let fresh = s.clone().reduce(PerfAction::Tick(5_000.0));
        assert!(Rc::ptr_eq(&s, &fresh));
        let stale = fresh.reduce(PerfAction::Tick(11_000.0));
        assert!(stale.stale);
        let again = stale.reduce(PerfAction::Received(ServerMsg::PerfMetrics(sample(2, 5.0)), 11_500.0));
        assert!(!again.stale);
    }

    #[test]
    fn live_data_wins_over_the_mock() {
        let mocked = Rc::new(PerfMetricsHandle::default()).reduce(PerfAction::Mock(sample(1, 50.0)));
        assert!(mocked.mock);
        let live = mocked.reduce(PerfAction::Received(ServerMsg::PerfMetrics(sample(1, 20.0)), 0.0));
        assert!(!live.mock);
        let after = live.clone().reduce(PerfAction::Mock(sample(2, 60.0)));
        assert!(Rc::ptr_eq(&live, &after), "the mock is ignored once live data is there");
    }

    #[test]
    fn history_fills_the_series_without_duplicates() {
        let history = shared::History { samples: (1..=5).map(|i| sample(i, i as f64)).collect() };
        let s = Rc::new(PerfMetricsHandle::default())
            .reduce(PerfAction::Received(ServerMsg::History(history), 0.0));
        let s = s.reduce(PerfAction::Received(ServerMsg::PerfMetrics(sample(5, 5.0)), 0.0));
        assert_eq!(s.series.borrow().values(|p| p.cpu), [1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(s.view.cpu, "5.0 %");
    }
}
