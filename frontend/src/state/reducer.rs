//! [`PerfState`]: what the panel shows, and the reducer that turns the sources'
//! [`Event`]s into it.
//!
//! Re-renders only when something visible changes: a sample whose [`PanelView`]
//! equals the shown one updates the sparkline data and the freshness clock, but
//! not the state. A clock tick marks the data stale when the newest sample is
//! older than 10 s or 2.5 intervals.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use shared::{PerfMetrics, ServerMsg};
use yew::Reducible;

use super::feed::Feed;
use super::series::Series;
use crate::stream::Event;
use crate::view::panel::PanelView;

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

/// What the hook hands to components.
#[derive(Debug, Clone, PartialEq)]
pub struct PerfState {
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
    /// Every sample as it arrives, for the dashboard's charts (the same feed for
    /// the whole life of the hook).
    pub feed: Feed,
    /// When the newest sample arrived (ms since the epoch, browser clock), and its
    /// cadence; kept outside the compared state so arrivals alone cause no render.
    freshness: Rc<Cell<(f64, u64)>>,
}

impl Default for PerfState {
    fn default() -> Self {
        PerfState {
            metrics: None,
            view: Rc::new(PanelView::new(None)),
            connection: Connection::default(),
            server_error: None,
            stale: false,
            mock: false,
            series: Rc::default(),
            feed: Feed::default(),
            freshness: Rc::default(),
        }
    }
}

impl PerfState {
    fn with(self: &Rc<Self>, change: impl FnOnce(&mut Self)) -> Rc<Self> {
        let mut next = (**self).clone();
        change(&mut next);
        Rc::new(next)
    }

    /// Whether the server is out of reach: the socket dropped and is being
    /// retried, or samples stopped coming (a server that hangs keeps its socket
    /// open). The mock is never lost; a refusal is said on its own.
    pub fn lost(&self) -> bool {
        !self.mock
            && match self.connection {
                Connection::Reconnecting => true,
                Connection::Open => self.stale,
                Connection::Connecting | Connection::Refused => false,
            }
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

impl Reducible for PerfState {
    type Action = Event;

    fn reduce(self: Rc<Self>, event: Event) -> Rc<Self> {
        match event {
            Event::Connecting if self.connection == Connection::Open => {
                self.with(|next| next.connection = Connection::Reconnecting)
            }
            Event::Connecting => self,
            Event::Message(ServerMsg::PerfMetrics(metrics), now) => {
                self.series.borrow_mut().push(&metrics);
                self.show(metrics, now)
            }
            Event::Message(ServerMsg::History(history), now) => {
                let newest = {
                    let mut series = self.series.borrow_mut();
                    // The server's history is its whole recent past: it replaces
                    // what the series held (an older server's samples, the mock's).
                    *series = Series::default();
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
            // The run's status is in every sample too; this message is for
            // AutoForge's panel, which reads its Live badge from it alone.
            Event::Message(ServerMsg::Pong | ServerMsg::AgentStatus(_), _) => self,
            Event::Message(ServerMsg::Error(err), _) => {
                self.with(|next| next.server_error = Some(err.message))
            }
            Event::Dropped if self.connection == Connection::Reconnecting => self,
            Event::Dropped => self.with(|next| next.connection = Connection::Reconnecting),
            Event::Refused(reason) => self.with(|next| {
                next.connection = Connection::Refused;
                next.server_error = Some(reason);
            }),
            Event::Tick(now) => {
                let (arrived, interval_ms) = self.freshness.get();
                let stale = self.metrics.is_some() && !self.mock && is_stale(now - arrived, interval_ms);
                if stale == self.stale { self } else { self.with(|next| next.stale = stale) }
            }
            Event::Mock(metrics) => {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_means_older_than_ten_seconds_or_two_and_a_half_intervals() {
        assert!(!is_stale(9_000.0, 1000));
        assert!(is_stale(10_001.0, 1000));
        assert!(!is_stale(12_000.0, 5000));
        assert!(is_stale(12_501.0, 5000));
    }

    fn sample(seq: u64, cpu: f64) -> PerfMetrics {
        PerfMetrics {
            seq,
            cpu: shared::Cpu { percent: Some(cpu), ..Default::default() },
            ..Default::default()
        }
    }

    fn received(m: PerfMetrics, at: f64) -> Event {
        Event::Message(ServerMsg::PerfMetrics(m), at)
    }

    #[test]
    fn samples_equal_at_display_precision_keep_the_state() {
        let s0 = Rc::new(PerfState::default());
        let s1 = s0.reduce(received(sample(1, 37.21), 0.0));
        let s2 = s1.clone().reduce(received(sample(2, 37.24), 1000.0));
        assert!(Rc::ptr_eq(&s1, &s2), "no visible change: same state, no render");
        assert_eq!(s2.series.borrow().points.len(), 2, "the sparkline still gets the point");
        let s3 = s2.clone().reduce(received(sample(3, 40.0), 2000.0));
        assert!(!Rc::ptr_eq(&s2, &s3));
        assert_eq!(s3.view.cpu, "40.0 %");
    }

    #[test]
    fn the_clock_marks_old_data_stale_and_new_data_clears_it() {
        let s = Rc::new(PerfState::default())
            .reduce(received(PerfMetrics { interval_ms: 1000, ..sample(1, 5.0) }, 0.0));
        let fresh = s.clone().reduce(Event::Tick(5_000.0));
        assert!(Rc::ptr_eq(&s, &fresh));
        let stale = fresh.reduce(Event::Tick(11_000.0));
        assert!(stale.stale);
        let again = stale.reduce(received(sample(2, 5.0), 11_500.0));
        assert!(!again.stale);
    }

    #[test]
    fn a_dropped_socket_or_silent_server_is_lost_until_samples_come_again() {
        let first = Rc::new(PerfState::default());
        assert!(!first.lost(), "connecting for the first time is not lost");
        assert!(first.clone().reduce(Event::Dropped).lost(), "never reached: lost");
        let open = first.reduce(received(PerfMetrics { interval_ms: 1000, ..sample(1, 5.0) }, 0.0));
        assert!(!open.lost());
        let dropped = open.clone().reduce(Event::Dropped);
        assert!(dropped.lost());
        assert!(dropped.reduce(Event::Connecting).lost(), "still lost while it retries");
        let silent = open.clone().reduce(Event::Tick(11_000.0));
        assert!(silent.lost(), "an open socket with no samples is lost too");
        assert!(!silent.reduce(received(sample(2, 5.0), 11_500.0)).lost());
        assert!(!open.reduce(Event::Refused("no".into())).lost(), "a refusal says so on its own");
    }

    #[test]
    fn live_data_wins_over_the_mock() {
        let mocked = Rc::new(PerfState::default()).reduce(Event::Mock(sample(1, 50.0)));
        assert!(mocked.mock);
        let live = mocked.reduce(received(sample(1, 20.0), 0.0));
        assert!(!live.mock);
        let after = live.clone().reduce(Event::Mock(sample(2, 60.0)));
        assert!(Rc::ptr_eq(&live, &after), "the mock is ignored once live data is there");
    }

    #[test]
    fn history_fills_the_series_without_duplicates() {
        let history = shared::History { samples: (1..=5).map(|i| sample(i, i as f64)).collect() };
        let s = Rc::new(PerfState::default()).reduce(Event::Message(ServerMsg::History(history), 0.0));
        let s = s.reduce(received(sample(5, 5.0), 0.0));
        assert_eq!(s.series.borrow().values(|p| p.cpu), [1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(s.view.cpu, "5.0 %");
    }

    #[test]
    fn a_history_message_replaces_the_series() {
        let s = Rc::new(PerfState::default());
        for seq in 1..=20 {
            s.clone().reduce(received(sample(seq, 1.0), 0.0));
        }
        let history = shared::History { samples: (1..=2).map(|i| sample(i, 50.0)).collect() };
        let s = s.reduce(Event::Message(ServerMsg::History(history), 0.0));
        assert_eq!(s.series.borrow().values(|p| p.cpu), [50.0, 50.0]);
    }

    #[test]
    fn a_refusal_is_final_and_says_why() {
        let s = Rc::new(PerfState::default()).reduce(Event::Refused("authentication required".into()));
        assert_eq!(s.connection, Connection::Refused);
        assert_eq!(s.server_error.as_deref(), Some("authentication required"));
    }
}
