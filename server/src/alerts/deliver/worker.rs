//! A destination's worker thread: takes events from its own bounded queue,
//! one at a time, and sends each with retries. A receiver that hangs or fails
//! holds up only this thread and this queue.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use shared::alerts::{AlertEvent, DestinationStatus};
use ureq::http::HeaderMap;

use super::destination::Destination;
use super::payload::{self, Request};
use super::{Queued, Retry, outbox};

/// The most of a response body read (and thrown away) so the connection can
/// be reused; what a receiver answers does not matter beyond its status.
const MAX_RESPONSE_BYTES: u64 = 64 * 1024;

/// Locks `mutex`, poisoned or not.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Counters stay usable after a panic elsewhere.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What every worker and the deliverer share: a signal of change, for
/// `shutdown` (and the tests) to wait on events instead of polling, and the
/// word to give up.
#[derive(Debug, Default)]
pub(super) struct Control {
    /// Bumped after every delivery's outcome and every worker's end. A leaf
    /// lock: nothing else is locked while it is held.
    generation: Mutex<u64>,
    /// Notified on every bump, and on abandon.
    changed: Condvar,
    /// Set when `shutdown`'s limit has passed: retries stop and whatever is
    /// still queued is given up.
    abandoned: AtomicBool,
}

impl Control {
    /// Wakes whoever waits for a change.
    pub(super) fn bump(&self) {
        *lock(&self.generation) += 1;
        self.changed.notify_all();
    }

    pub(super) fn abandon(&self) {
        self.abandoned.store(true, Ordering::SeqCst);
        self.bump();
    }

    pub(super) fn abandoned(&self) -> bool {
        self.abandoned.load(Ordering::SeqCst)
    }

    /// Sleeps `duration` (a backoff), or less if the deliverer gives up.
    fn sleep(&self, duration: Duration) {
        let until = Instant::now() + duration;
        let mut generation = lock(&self.generation);
        // Checked under the lock `abandon` notifies under, so its wake-up
        // cannot be missed.
        while !self.abandoned() {
            let now = Instant::now();
            if now >= until {
                return;
            }
            generation =
                self.changed.wait_timeout(generation, until - now).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    /// Waits until `done` holds (checked after every change) or `deadline`
    /// passes; whether it held.
    pub(super) fn wait_until(&self, deadline: Instant, mut done: impl FnMut() -> bool) -> bool {
        loop {
            let seen = *lock(&self.generation);
            // Outside the lock: `done` takes other locks.
            if done() {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            let generation = lock(&self.generation);
            if *generation == seen {
                let _ = self.changed.wait_timeout(generation, deadline - now);
            }
        }
    }
}

/// A destination and how its deliveries went, shared by its worker and the
/// deliverer.
#[derive(Debug)]
pub(super) struct Slot {
    /// Where the worker sends.
    pub(super) destination: Destination,
    /// The masked URL, computed once for every log line and status.
    pub(super) target: String,
    /// The counters behind its [`DestinationStatus`].
    stats: Mutex<Stats>,
    /// Set when the worker has ended: the status of a removed destination
    /// disappears then.
    ended: AtomicBool,
}

/// Counters for [`DestinationStatus`].
#[derive(Debug, Default)]
struct Stats {
    /// Accepted by the receiver.
    delivered: u64,
    /// Given up on, or dropped.
    failed: u64,
    /// In the queue or being sent.
    queued: u64,
    /// The last failure, in words.
    last_error: Option<String>,
    /// When it happened.
    last_error_at: Option<shared::Timestamp>,
}

impl Slot {
    pub(super) fn new(destination: Destination) -> Slot {
        let target = destination.masked();
        Slot { destination, target, stats: Mutex::default(), ended: AtomicBool::new(false) }
    }

    pub(super) fn status(&self) -> DestinationStatus {
        let stats = lock(&self.stats);
        DestinationStatus {
            name: self.destination.name.clone(),
            kind: self.destination.kind.key().to_owned(),
            target: self.target.clone(),
            delivered: stats.delivered,
            failed: stats.failed,
            queued: stats.queued,
            last_error: stats.last_error.clone(),
            last_error_at: stats.last_error_at.clone(),
        }
    }

    pub(super) fn ended(&self) -> bool {
        self.ended.load(Ordering::SeqCst)
    }

    /// Counts an event about to be queued.
    pub(super) fn queue_one(&self) {
        lock(&self.stats).queued += 1;
    }

    /// Counts `count` queued events as finished: delivered, or failed for
    /// `error` (logged).
    pub(super) fn finish(&self, count: u64, error: Option<&str>) {
        let mut stats = lock(&self.stats);
        stats.queued = stats.queued.saturating_sub(count);
        match error {
            None => stats.delivered += count,
            Some(error) => {
                stats.failed += count;
                stats.last_error = Some(error.to_owned());
                stats.last_error_at = Some(crate::sampling::timestamp_millis(chrono::Utc::now()));
            }
        }
        drop(stats);
        if let Some(error) = error {
            tracing::warn!(
                destination = %self.destination.name,
                target = %self.target,
                "alert not delivered: {error}"
            );
        }
    }

    /// Records that the worker could not start: its status says why, and it
    /// counts as ended, so removing it is not waited for.
    pub(super) fn broken(&self, error: String) {
        let mut stats = lock(&self.stats);
        stats.last_error = Some(error);
        stats.last_error_at = Some(crate::sampling::timestamp_millis(chrono::Utc::now()));
        self.ended.store(true, Ordering::SeqCst);
    }
}

/// Marks the slot ended however the worker leaves (a panic included), so
/// `remove` and `shutdown` never wait for a worker that is gone.
struct EndGuard<'a>(&'a Slot, &'a Control);

impl Drop for EndGuard<'_> {
    fn drop(&mut self) {
        self.0.ended.store(true, Ordering::SeqCst);
        self.1.bump();
    }
}

/// The worker thread's body: returns once its queue is closed (removed, shut
/// down, or the deliverer dropped) and empty.
///
/// Alerts kept in the outbox that the server's shutdown cuts short stay kept,
/// for the next start. `first` (those kept from before) are sent before the
/// queue.
pub(super) fn run(
    slot: Arc<Slot>,
    (first, queue): (Vec<Queued>, Receiver<Queued>),
    agent: ureq::Agent,
    retry: Retry,
    control: Arc<Control>,
) {
    let _end = EndGuard(&slot, &control);
    let mut first = first.into_iter();
    while let Some(queued) = first.next().or_else(|| queue.recv().ok()) {
        if control.abandoned() {
            // Past shutdown's limit: no more requests, one line for the lot;
            // their kept files stay.
            let left: Vec<Queued> =
                std::iter::once(queued).chain(first.by_ref()).chain(queue.try_iter()).collect();
            let kept = left.iter().filter(|q| q.kept.is_some()).count();
            let count = left.len();
            let said = match kept {
                0 => format!("{count} not sent: the server shut down"),
                _ if kept == count => {
                    format!("{count} not sent: the server shut down; kept, to be sent at the next start")
                }
                _ => format!(
                    "{count} not sent: the server shut down; {kept} kept, to be sent at the next start"
                ),
            };
            slot.finish(count as u64, Some(&said));
            break;
        }
        let outcome = deliver(&agent, &slot, &retry, &control, &queued.event);
        // A delivery the shutdown stopped stays kept: the next start tries again.
        let outcome = match (&queued.kept, outcome) {
            (Some(_), Err(Failure::CutShort(error))) => {
                Err(format!("{error}; kept, to be sent at the next start"))
            }
            (Some(path), outcome) => {
                outbox::done(path);
                outcome.map_err(Failure::words)
            }
            (None, outcome) => outcome.map_err(Failure::words),
        };
        slot.finish(1, outcome.err().as_deref());
        control.bump();
    }
}

/// Why a delivery ended without the receiver taking it.
#[derive(Debug, PartialEq)]
enum Failure {
    /// For good: refused, or out of attempts.
    GivenUp(String),
    /// The server's shutdown stopped its retries.
    CutShort(String),
}

impl Failure {
    fn words(self) -> String {
        match self {
            Failure::GivenUp(words) | Failure::CutShort(words) => words,
        }
    }
}

/// One attempt's outcome.
#[derive(Debug, PartialEq)]
enum Attempt {
    /// A 2xx.
    Delivered,
    /// Something no retry changes (a 4xx, a TLS failure): the whole message.
    Refused(String),
    /// Worth another try.
    Failed {
        /// Why, in words ("HTTP 503", "timed out").
        reason: String,
        /// How long the receiver asked us to wait, if it did.
        retry_after: Option<Duration>,
    },
}

/// Sends `event` with retries; why it was not taken, if it was not.
fn deliver(
    agent: &ureq::Agent,
    slot: &Slot,
    retry: &Retry,
    control: &Control,
    event: &AlertEvent,
) -> Result<(), Failure> {
    let request = payload::request(&slot.destination, event)
        .map_err(|err| Failure::GivenUp(format!("could not build the request: {err}")))?;
    let attempts = retry.attempts.max(1);
    let mut backoff = retry.first_backoff;
    let mut last = String::new();
    for attempt in 1..=attempts {
        if attempt > 1 && control.abandoned() {
            return Err(Failure::CutShort(format!(
                "{last} after {} attempt{}, then the server shut down",
                attempt - 1,
                plural(attempt - 1)
            )));
        }
        match send(agent, &slot.destination, &request) {
            Attempt::Delivered => return Ok(()),
            Attempt::Refused(reason) => return Err(Failure::GivenUp(reason)),
            Attempt::Failed { reason, retry_after } => {
                if attempt < attempts {
                    let wait = retry_after.unwrap_or(backoff).min(retry.max_backoff);
                    tracing::debug!(
                        destination = %slot.destination.name,
                        target = %slot.target,
                        "alert delivery attempt {attempt} failed ({reason}); retrying in {wait:?}"
                    );
                    control.sleep(wait);
                    backoff = backoff.saturating_mul(2).min(retry.max_backoff);
                }
                last = reason;
            }
        }
    }
    Err(Failure::GivenUp(format!("{last} after {attempts} attempt{}", plural(attempts))))
}

fn plural(count: u32) -> &'static str {
    if count == 1 { "" } else { "s" }
}

/// One POST.
fn send(agent: &ureq::Agent, destination: &Destination, request: &Request) -> Attempt {
    let mut call = agent.post(destination.request_url());
    for (name, value) in &request.headers {
        call = call.header(*name, value);
    }
    if let Some(authorization) = destination.authorization() {
        call = call.header("Authorization", authorization);
    }
    match call.send(&request.body[..]) {
        Ok(mut response) => {
            let status = response.status().as_u16();
            let retry_after = retry_after(response.headers());
            // The status has decided; a body that fails to arrive changes nothing.
            let _ = response.body_mut().with_config().limit(MAX_RESPONSE_BYTES).read_to_vec();
            status_outcome(status, retry_after)
        }
        Err(err) => error_outcome(&err, destination.request_url().starts_with("https:")),
    }
}

fn status_outcome(status: u16, retry_after: Option<Duration>) -> Attempt {
    match status {
        200..=299 => Attempt::Delivered,
        429 | 503 => Attempt::Failed { reason: format!("HTTP {status}"), retry_after },
        500..=599 => Attempt::Failed { reason: format!("HTTP {status}"), retry_after: None },
        _ => Attempt::Refused(format!("HTTP {status}: refused, not retried")),
    }
}

/// `Retry-After` in seconds (Discord sends fractions); dates are ignored.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds: f64 = headers.get("retry-after")?.to_str().ok()?.trim().parse().ok()?;
    Duration::try_from_secs_f64(seconds).ok()
}

/// A failed request: a certificate or handshake does not fix itself
/// between retries; anything else may.
fn error_outcome(err: &ureq::Error, tls: bool) -> Attempt {
    let failure = crate::outbound::failure(err, tls);
    if failure.lasting {
        Attempt::Refused(format!("{}, not retried", failure.words))
    } else {
        Attempt::Failed { reason: failure.words, retry_after: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_decide_delivered_retried_or_refused() {
        let after = Some(Duration::from_secs(2));
        assert_eq!(status_outcome(204, None), Attempt::Delivered);
        assert_eq!(
            status_outcome(500, after),
            Attempt::Failed { reason: "HTTP 500".into(), retry_after: None }
        );
        assert_eq!(
            status_outcome(503, after),
            Attempt::Failed { reason: "HTTP 503".into(), retry_after: after }
        );
        assert_eq!(
            status_outcome(429, after),
            Attempt::Failed { reason: "HTTP 429".into(), retry_after: after }
        );
        assert_eq!(status_outcome(404, None), Attempt::Refused("HTTP 404: refused, not retried".into()));
        assert_eq!(status_outcome(301, None), Attempt::Refused("HTTP 301: refused, not retried".into()));
    }

    #[test]
    fn retry_after_reads_seconds_only() {
        let header = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert("retry-after", value.parse().expect("a header value"));
            retry_after(&headers)
        };
        assert_eq!(header("3"), Some(Duration::from_secs(3)));
        assert_eq!(header(" 1.5 "), Some(Duration::from_millis(1500)));
        assert_eq!(header("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(header("-1"), None);
        assert_eq!(header("1e300"), None);
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }
}
