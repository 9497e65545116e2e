//! [`Feed`]: every sample the stream delivers, handed to whoever subscribed
//! (the dashboard's charts), beside the reducer that decides what the panel
//! re-renders. The panel skips samples that change nothing visible; a chart
//! must see each one to keep its right edge moving.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use shared::PerfMetrics;

/// What the feed hands on.
#[derive(Debug, Clone, Copy)]
pub enum FeedEvent<'a> {
    /// One new sample.
    Sample(&'a PerfMetrics),
    /// The stream's replay of its recent samples, oldest first (on every connect).
    Replay(&'a [PerfMetrics]),
}

type Subscriber = Rc<dyn Fn(FeedEvent<'_>)>;

#[derive(Default)]
struct Inner {
    subscribers: RefCell<Vec<(u64, Subscriber)>>,
    next_id: Cell<u64>,
    /// Live data arrived: mock samples are no longer handed on.
    live: Cell<bool>,
}

/// A handle on one page's feed; clones share it, and compare equal when they do.
#[derive(Clone, Default)]
pub struct Feed(Rc<Inner>);

impl PartialEq for Feed {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed").field("subscribers", &self.0.subscribers.borrow().len()).finish()
    }
}

/// Keeps a subscription; dropping it unsubscribes.
pub struct FeedSubscription {
    feed: Weak<Inner>,
    id: u64,
}

impl Drop for FeedSubscription {
    fn drop(&mut self) {
        if let Some(feed) = self.feed.upgrade() {
            feed.subscribers.borrow_mut().retain(|(id, _)| *id != self.id);
        }
    }
}

impl Feed {
    /// Calls `on_event` for every event from now on, until the subscription drops.
    pub fn subscribe(&self, on_event: impl Fn(FeedEvent<'_>) + 'static) -> FeedSubscription {
        let id = self.0.next_id.get();
        self.0.next_id.set(id + 1);
        self.0.subscribers.borrow_mut().push((id, Rc::new(on_event)));
        FeedSubscription { feed: Rc::downgrade(&self.0), id }
    }

    /// Hands a live event to every subscriber.
    pub fn publish(&self, event: FeedEvent<'_>) {
        self.0.live.set(true);
        self.deliver(event);
    }

    /// Hands a mock sample on, unless live data has arrived (live always wins).
    pub fn publish_mock(&self, sample: &PerfMetrics) {
        if !self.0.live.get() {
            self.deliver(FeedEvent::Sample(sample));
        }
    }

    fn deliver(&self, event: FeedEvent<'_>) {
        // Called on a copy: a subscriber may subscribe or unsubscribe meanwhile.
        let subscribers: Vec<Subscriber> =
            self.0.subscribers.borrow().iter().map(|(_, s)| s.clone()).collect();
        for subscriber in subscribers {
            subscriber(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribers_get_every_sample_until_they_drop() {
        let feed = Feed::default();
        let seen = Rc::new(Cell::new(0));
        let subscription = feed.subscribe({
            let seen = seen.clone();
            move |event| {
                if let FeedEvent::Sample(_) = event {
                    seen.set(seen.get() + 1)
                }
            }
        });
        let sample = PerfMetrics::default();
        feed.publish(FeedEvent::Sample(&sample));
        feed.publish(FeedEvent::Sample(&sample));
        drop(subscription);
        feed.publish(FeedEvent::Sample(&sample));
        assert_eq!(seen.get(), 2);
    }

    #[test]
    fn mock_samples_stop_once_live_data_arrives() {
        let feed = Feed::default();
        let seen = Rc::new(Cell::new(0));
        let _subscription = feed.subscribe({
            let seen = seen.clone();
            move |_| seen.set(seen.get() + 1)
        });
        let sample = PerfMetrics::default();
        feed.publish_mock(&sample);
        feed.publish(FeedEvent::Replay(&[]));
        feed.publish_mock(&sample);
        assert_eq!(seen.get(), 2, "one mock sample, one live replay, then no more mock");
    }
}
