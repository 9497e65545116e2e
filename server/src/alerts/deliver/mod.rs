//! Delivery of alert events to destinations (webhooks, ntfy, Slack, Discord),
//! off every hot path: [`Deliverer::send`] only puts the event on each
//! destination's bounded queue and returns; a thread per destination does the
//! HTTP, with retries. A receiver that hangs or fails delays only its own
//! queue, never another destination and never the caller. Destination URLs
//! are secrets: only their masked form (scheme and host) is ever logged,
//! listed or put in an error (`docs/alerts.md`).
//!
//! # Layout
//! - [`destination`]: [`Destination`], [`Kind`], `--notify` specs and
//!   auto-detection, the secret URL and its masking, the errors.
//! - `payload`: what each kind is sent (pure, tested against exact bodies).
//! - `worker`: a destination's thread: its queue, the retry loop, what each
//!   status or error means, its counters.
//! - [`outbox`]: the configured destinations' alerts kept on disk until
//!   delivered or given up, queued again at the next start.
//! - [`http_agent`] is `crate::outbound`'s, the one HTTP client setup
//!   (rustls, the system's roots), shared with remote write.
//! - here: [`Deliverer`], the handle the rules engine and `perfmon run` use,
//!   and [`Retry`].

pub mod destination;
pub mod outbox;
mod payload;
mod worker;

#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use shared::alerts::{AlertEvent, DestinationStatus};

pub use crate::outbound::http_agent;
pub use destination::{Destination, Kind};
pub use outbox::Outbox;
use worker::{Control, Slot, lock};

/// Events each destination holds while its receiver is slow; beyond this new
/// events are dropped (and counted failed) rather than held without bound.
pub const QUEUE_BOUND: usize = 64;

/// The most `--notify` destinations one run may have: each is a thread, and a
/// phone, a chat and a webhook are three.
pub const RUN_DESTINATIONS_EACH: usize = 8;

/// The most runs' destinations at once, all runs together: a thread each, so a
/// bound, well under what the machine gives a process.
pub const RUN_DESTINATIONS_AT_ONCE: usize = 128;

/// A run's `--notify` specs with each given once (the first kept, in order),
/// or why not: more than [`RUN_DESTINATIONS_EACH`].
pub fn run_specs(mut specs: Vec<String>) -> Result<Vec<String>, String> {
    let mut seen = std::collections::HashSet::new();
    specs.retain(|spec| seen.insert(spec.clone()));
    match specs.len() {
        n if n > RUN_DESTINATIONS_EACH => {
            Err(format!("at most {RUN_DESTINATIONS_EACH} destinations a run ({n} different ones given)"))
        }
        _ => Ok(specs),
    }
}

/// How hard a delivery is tried. Connection errors, timeouts, HTTP 5xx and
/// 429 are retried; any other status but 2xx is given up at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Tries in all, the first included (0 counts as 1).
    pub attempts: u32,
    /// The wait after the first failure; doubled after each.
    pub first_backoff: Duration,
    /// The longest wait, a receiver's `Retry-After` included.
    pub max_backoff: Duration,
    /// The most one request may take: connecting, sending and the whole
    /// response.
    pub timeout: Duration,
}

impl Default for Retry {
    /// 20 attempts, waiting 1, 2, 4, 8, 16 and 32 s, then a minute, between
    /// them: about 15 minutes, so a receiver down for a network blip, a
    /// laptop's sleep or its own restart still gets the alert (5 attempts, 15 s
    /// in all, gave up on those). 10 s per request. Later events wait behind a
    /// retried one, keeping their order; at most [`QUEUE_BOUND`] wait.
    fn default() -> Self {
        Retry {
            attempts: 20,
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
        }
    }
}

/// A destination added with [`Deliverer::add`], for [`Deliverer::send_to`]
/// and [`Deliverer::remove`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DestinationId(u64);

/// The handle on every destination's queue and thread. Cheap to clone; the
/// clones share the destinations. When the last clone is dropped, each worker
/// finishes what is queued and ends.
#[derive(Clone)]
pub struct Deliverer {
    /// Shared by the clones.
    inner: Arc<Inner>,
}

/// What the clones of a [`Deliverer`] share.
struct Inner {
    /// One client (one connection pool) for every worker.
    agent: ureq::Agent,
    /// The same for every destination.
    retry: Retry,
    /// Change signal and give-up flag, shared with the workers.
    control: Arc<Control>,
    /// Destinations in the order configured, then added. Locked only briefly,
    /// never across a request.
    entries: Mutex<Vec<Entry>>,
    /// The next [`DestinationId`].
    next_id: AtomicU64,
    /// Set by `shutdown`: nothing new is queued or added.
    closed: AtomicBool,
    /// Where the configured destinations' alerts are kept until their
    /// delivery ends (`None`: kept in memory only).
    outbox: Option<Outbox>,
}

/// An alert in a destination's queue.
#[derive(Debug)]
pub(super) struct Queued {
    /// The alert.
    pub(super) event: Arc<AlertEvent>,
    /// Its file in the outbox, if it is kept there.
    pub(super) kept: Option<PathBuf>,
}

/// One destination as the deliverer holds it.
struct Entry {
    /// For `send_to` and `remove`.
    id: DestinationId,
    /// Whether [`Deliverer::send`] reaches it: the configured destinations
    /// do; a run's one-off only gets what is sent to it.
    everyone: bool,
    /// `None` once removed or shut down: the worker finishes what is queued,
    /// then ends.
    queue: Option<SyncSender<Queued>>,
    /// Its counters, shared with its worker.
    slot: Arc<Slot>,
}

/// A destination to offer an alert to, taken from its [`Entry`] under the
/// lock and used after it: keeping the alert in the outbox writes a file, and
/// the lock is also taken by `status`, which an async handler calls.
struct Target {
    /// Its queue (a clone of the entry's sender).
    queue: SyncSender<Queued>,
    /// Its counters.
    slot: Arc<Slot>,
    /// A configured destination: its alerts are kept in the outbox.
    everyone: bool,
}

impl Entry {
    fn target(&self) -> Option<Target> {
        let queue = self.queue.clone()?;
        Some(Target { queue, slot: Arc::clone(&self.slot), everyone: self.everyone })
    }
}

impl Target {
    /// Queues `event` without waiting; a full queue drops it. A configured
    /// destination's alert is kept in the outbox first. Blocking (a file).
    fn offer(&self, event: &Arc<AlertEvent>, inner: &Inner) {
        if inner.closed.load(Ordering::SeqCst) {
            return;
        }
        let kept = match &inner.outbox {
            Some(outbox) if self.everyone => outbox.keep(&self.slot.destination.name, event),
            _ => None,
        };
        self.slot.queue_one();
        let (dropped, kept) = match self.queue.try_send(Queued { event: Arc::clone(event), kept }) {
            Ok(()) => return,
            Err(TrySendError::Full(queued)) => {
                (format!("dropped: {QUEUE_BOUND} alerts were already waiting"), queued.kept)
            }
            Err(TrySendError::Disconnected(queued)) => {
                ("dropped: its delivery thread is not running".to_owned(), queued.kept)
            }
        };
        if let Some(path) = kept {
            outbox::done(&path);
        }
        self.slot.finish(1, Some(&dropped));
        inner.control.bump();
    }
}

impl Deliverer {
    /// Starts a worker thread, with its own queue of [`QUEUE_BOUND`], for each of
    /// `destinations`; [`send`](Deliverer::send) reaches all of them.
    pub fn start(destinations: Vec<Destination>, retry: Retry) -> Deliverer {
        Self::start_kept(destinations, retry, None)
    }

    /// [`start`](Deliverer::start), keeping each configured destination's
    /// alerts in `outbox` until their delivery ends; those an earlier start
    /// kept are queued first, in order, for the destination of the same
    /// name (dropped, with a warning, where there is none now). Blocking
    /// (reads the outbox).
    pub fn start_kept(destinations: Vec<Destination>, retry: Retry, outbox: Option<Outbox>) -> Deliverer {
        let mut pending = outbox.as_ref().map(Outbox::pending).unwrap_or_default();
        let deliverer = Deliverer {
            inner: Arc::new(Inner {
                agent: http_agent(retry.timeout),
                retry,
                control: Arc::default(),
                entries: Mutex::default(),
                next_id: AtomicU64::new(1),
                closed: AtomicBool::new(false),
                outbox,
            }),
        };
        if !pending.is_empty() {
            tracing::info!("sending {} alert(s) kept from before the restart", pending.len());
        }
        for destination in destinations {
            // Handed to the worker before its queue, so however many a
            // shutdown left (a full queue and one in flight), none is dropped.
            let (ours, rest) = pending.into_iter().partition(|kept| kept.destination == destination.name);
            pending = rest;
            let first = ours
                .into_iter()
                .map(|kept: outbox::Pending| Queued { event: Arc::new(kept.event), kept: Some(kept.path) })
                .collect();
            deliverer.spawn(destination, true, first);
        }
        for kept in pending {
            tracing::warn!(
                destination = %kept.destination,
                "an alert kept for a destination no longer configured is dropped: {}",
                kept.event.title
            );
            outbox::done(&kept.path);
        }
        deliverer
    }

    /// Starts `destination`'s worker, which sends `first` before its queue.
    fn spawn(&self, destination: Destination, everyone: bool, first: Vec<Queued>) -> DestinationId {
        let inner = &self.inner;
        let id = DestinationId(inner.next_id.fetch_add(1, Ordering::Relaxed));
        // Held throughout, so `shutdown` (which sets `closed`, then takes the
        // lock) cannot miss this destination.
        let mut entries = lock(&inner.entries);
        if inner.closed.load(Ordering::SeqCst) {
            // After shutdown: an id that takes nothing.
            return id;
        }
        let slot = Arc::new(Slot::new(destination));
        for _ in &first {
            slot.queue_one();
        }
        let waiting = first.len() as u64;
        let (sender, receiver) = std::sync::mpsc::sync_channel(QUEUE_BOUND);
        let spawned = std::thread::Builder::new().name(format!("alerts-{}", id.0)).spawn({
            let (slot, agent, retry, control) =
                (Arc::clone(&slot), inner.agent.clone(), inner.retry, Arc::clone(&inner.control));
            move || worker::run(slot, (first, receiver), agent, retry, control)
        });
        if let Err(err) = spawned {
            // Its queue stays open with no reader: every event is counted failed
            // (those kept from before stay kept, for the start after).
            tracing::error!(
                destination = %slot.destination.name,
                target = %slot.target,
                "cannot start the alert delivery thread: {err}"
            );
            slot.broken(format!("no delivery thread: {err}"));
            if waiting > 0 {
                slot.finish(waiting, Some("not sent: no delivery thread; kept for the next start"));
            }
        }
        prune(&mut entries);
        entries.push(Entry { id, everyone, queue: Some(sender), slot });
        id
    }

    /// Queues `event` for every configured destination (not those added with
    /// [`add`](Deliverer::add)). Never blocks: a full queue drops the event,
    /// counts it failed and logs it.
    pub fn send(&self, event: &AlertEvent) {
        let event = Arc::new(event.clone());
        let targets: Vec<Target> =
            lock(&self.inner.entries).iter().filter(|e| e.everyone).filter_map(Entry::target).collect();
        for target in targets {
            target.offer(&event, &self.inner);
        }
    }

    /// Adds a destination that only [`send_to`](Deliverer::send_to) reaches
    /// (a run's `perfmon run --notify URL`), with its own queue and thread.
    pub fn add(&self, destination: Destination) -> DestinationId {
        self.spawn(destination, false, Vec::new())
    }

    /// How many runs' destinations ([`add`](Deliverer::add)) hold a thread now,
    /// those still sending what was queued before their removal included.
    pub fn run_destinations(&self) -> usize {
        let mut entries = lock(&self.inner.entries);
        prune(&mut entries);
        entries.iter().filter(|e| !e.everyone).count()
    }

    /// Queues `event` for one destination, as [`send`](Deliverer::send)
    /// does; nothing if it was removed.
    pub fn send_to(&self, id: DestinationId, event: &AlertEvent) {
        let event = Arc::new(event.clone());
        let target = lock(&self.inner.entries).iter().find(|e| e.id == id).and_then(Entry::target);
        if let Some(target) = target {
            target.offer(&event, &self.inner);
        }
    }

    /// Stops a destination taking events. Its worker still delivers what is
    /// queued, then ends, and its status disappears.
    pub fn remove(&self, id: DestinationId) {
        let mut entries = lock(&self.inner.entries);
        if let Some(entry) = entries.iter_mut().find(|e| e.id == id) {
            entry.queue = None;
        }
        prune(&mut entries);
    }

    /// Each destination and how its deliveries went, configured ones first.
    pub fn status(&self) -> Vec<DestinationStatus> {
        let mut entries = lock(&self.inner.entries);
        prune(&mut entries);
        entries.iter().map(|e| e.slot.status()).collect()
    }

    /// Stops taking events and waits up to `limit` for every queue to be
    /// delivered (or given up). Past the limit it returns anyway; the
    /// workers then stop retrying and give up what is left, and a request
    /// in flight ends by its own timeout. For the server's shutdown.
    pub fn shutdown(&self, limit: Duration) {
        // A limit past the end of time waits a year.
        let deadline = Instant::now()
            .checked_add(limit)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400 * 365));
        self.inner.closed.store(true, Ordering::SeqCst);
        for entry in lock(&self.inner.entries).iter_mut() {
            entry.queue = None;
        }
        let all_ended = || lock(&self.inner.entries).iter().all(|e| e.slot.ended());
        if !self.inner.control.wait_until(deadline, all_ended) {
            let waiting: u64 = self.status().iter().map(|s| s.queued).sum();
            tracing::warn!("alert delivery: {waiting} alerts not delivered within {limit:?} of shutdown");
            self.inner.control.abandon();
        }
    }

    /// Waits up to `limit` until `done` holds for the status list, checking
    /// after every delivery's outcome.
    #[cfg(test)]
    fn wait_for(&self, limit: Duration, mut done: impl FnMut(&[DestinationStatus]) -> bool) -> bool {
        self.inner.control.wait_until(Instant::now() + limit, || done(&self.status()))
    }
}

/// Forgets destinations that were removed and whose worker has ended.
fn prune(entries: &mut Vec<Entry>) {
    entries.retain(|e| e.queue.is_some() || !e.slot.ended());
}

impl std::fmt::Debug for Deliverer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Destinations by name and masked target only.
        let entries = lock(&self.inner.entries);
        let names: Vec<String> = entries.iter().map(|e| e.slot.destination.to_string()).collect();
        f.debug_struct("Deliverer").field("destinations", &names).field("retry", &self.inner.retry).finish()
    }
}
