//! One receiver's sender, on a thread of its own: reads the store's raw tier
//! after its position, sends it, and moves the position on only when the
//! receiver has taken it.
//!
//! - 2xx: the position moves to the batch's newest tick, kept in the store.
//! - No answer, 5xx, 429, or an answer that refuses every batch until
//!   someone fixes something (3xx, 401, 403, 404, 405, 407, 408, 415): the
//!   position stays;
//!   tried again after 1 s, doubling to 10 s. What was missed is then read
//!   from the store, oldest first, a request at most every
//!   [`CATCH_UP_PAUSE`] until caught up.
//! - 413: the same ticks again, in requests half the size.
//! - Any other 4xx (400, 409, 422…): the receiver will never take this
//!   batch (out of order, too old, malformed to it): logged with its answer,
//!   skipped, counted.
//!
//! Memory is one batch (at most [`MAX_TICKS`] ticks) whatever the outage's
//! length: the store holds the rest.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crate::store::{Exporter, Store};

use super::config::{Credentials, Receiver};
use super::series::{BaseLabels, Batch, MAX_PROJECTS, Outcomes};
use super::wire;

/// The most ticks one request carries: a minute at the live cadence.
pub const MAX_TICKS: usize = 60;
/// The pause between requests while catching up: up to 600 times real time
/// at the live cadence, an hour's outage sent in about 6 s, without loading
/// the receiver or this machine.
pub const CATCH_UP_PAUSE: Duration = Duration::from_millis(100);
/// The first wait after a failure; doubled after each, up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait between tries.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// A request's limit, from connecting to the end of the answer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How far back runs' ends are looked for again at each batch: a run's end
/// is committed after its last ticks (it waits for the exit report), so it
/// may land behind the position.
const ENDS_SLACK_MS: i64 = 10 * 60 * 1000;
/// The most of a refusing receiver's answer kept in the log and the status.
const MAX_ANSWER: usize = 300;

/// What `/api/health` shows of a sender.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// `starting`, `live`, `catching_up` or `retrying`.
    pub state: &'static str,
    /// The newest tick the receiver has accepted (or skipped), unix ms.
    pub accepted_to: Option<i64>,
    /// When it last accepted a batch, unix ms.
    pub last_sent_ms: Option<i64>,
    /// The last failure, until a batch is accepted.
    pub last_error: Option<String>,
    /// When it happened, unix ms.
    pub last_error_ms: Option<i64>,
    /// Samples accepted since start.
    pub samples_sent: u64,
    /// Batches refused with a 4xx and skipped since start.
    pub batches_skipped: u64,
}

/// The stop signal the handle and every sender share.
#[derive(Debug, Default)]
pub struct Stop {
    stopped: Mutex<bool>,
    signal: Condvar,
}

impl Stop {
    /// Wakes every sender to stop.
    pub fn stop(&self) {
        *lock(&self.stopped) = true;
        self.signal.notify_all();
    }

    /// Waits `limit` or until stopped; whether stopped.
    fn wait(&self, limit: Duration) -> bool {
        let stopped = lock(&self.stopped);
        let (stopped, _) = self
            .signal
            .wait_timeout_while(stopped, limit, |stopped| !*stopped)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *stopped
    }
}

/// A lock that stays usable after a panic elsewhere.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How a request ended. What the receiver answered goes to the log only:
/// `/api/health` is public, and an answer may quote the series it refused
/// (and so the host label).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Taken.
    Accepted,
    /// Refused for good (a 4xx about the batch): skip it.
    Refused {
        /// The status.
        status: u16,
        /// The start of the receiver's answer.
        answer: String,
    },
    /// Not taken now: keep the position and try again.
    Failed {
        /// In words: `HTTP 503`, `connection failed`.
        why: String,
        /// The start of the receiver's answer, if it answered.
        answer: String,
    },
}

/// Everything one sender needs.
#[derive(Debug)]
pub struct Sender {
    /// Where it sends.
    pub receiver: Receiver,
    /// Where it reads.
    pub store: Store,
    /// The client (shared connection pool with the other senders).
    pub agent: ureq::Agent,
    /// What requests authenticate with.
    pub credentials: Option<Credentials>,
    /// The labels every series carries.
    pub labels: BaseLabels,
    /// How often it sends while caught up.
    pub interval: Duration,
    /// What health shows.
    pub status: Arc<Mutex<Status>>,
    /// Set when the server stops.
    pub stop: Arc<Stop>,
}

impl Sender {
    /// The thread's body: returns once stopped.
    pub fn run(self) {
        let Some((exporter, mut position, mut outcomes)) = self.start() else { return };
        let mut exporter = Some(exporter);
        let mut backoff = FIRST_BACKOFF;
        // Slow start: the first request carries one tick, and each one taken
        // (or skipped) doubles the next, up to MAX_TICKS. A crash can lose the
        // last second's position; the receiver then refuses the ticks it
        // already has as out of order, a small request at a time, instead of
        // a full one that holds new ticks with them.
        let mut max_ticks = 1;
        loop {
            let step = match exporter.as_ref() {
                Some(reader) => self.step(reader, &mut position, &mut outcomes, &mut max_ticks),
                // Opened again after a failed read: the writer may have moved
                // a corrupt file aside and started a new database.
                None => match self.store.exporter() {
                    Ok(reader) => {
                        exporter = Some(reader);
                        continue;
                    }
                    Err(err) => Err(Failure::Store(err.to_string())),
                },
            };
            let (wait, accepted) = match step {
                Ok(Step::Idle) => (self.interval, true),
                Ok(Step::Sent { full }) => (if full { CATCH_UP_PAUSE } else { self.interval }, true),
                Err(failure) => {
                    let why = match failure {
                        Failure::Store(why) => {
                            exporter = None;
                            format!("cannot read the store: {why}")
                        }
                        Failure::Receiver(why) => why,
                    };
                    self.failed(&why);
                    (backoff, false)
                }
            };
            backoff = if accepted { FIRST_BACKOFF } else { (backoff * 2).min(MAX_BACKOFF) };
            if self.stop.wait(wait) {
                return;
            }
        }
    }

    /// The store's reader, the position to send after, and the runs' last
    /// outcomes as of it; waits for a store that is not ready yet.
    fn start(&self) -> Option<(Exporter, i64, Outcomes)> {
        loop {
            match self.open() {
                Ok(started) => return Some(started),
                Err(why) => self.failed(&format!("cannot read the store: {why}")),
            }
            if self.stop.wait(MAX_BACKOFF) {
                return None;
            }
        }
    }

    fn open(&self) -> Result<(Exporter, i64, Outcomes), crate::store::QueryError> {
        let exporter = self.store.exporter()?;
        let position = match self.store.sent_position(&self.receiver.url)? {
            Some(position) => {
                lock(&self.status).accepted_to = Some(position);
                position
            }
            // A receiver never sent to starts from now: history from before
            // it was configured is not pushed into it. The start is kept at
            // once, so a receiver down from the first moment still gets
            // everything after a restart of PerfMon.
            None => {
                let start = now_ms() - i64::try_from(self.interval.as_millis()).unwrap_or(0);
                self.store.record_sent(&self.receiver.url, start);
                start
            }
        };
        let mut outcomes = Outcomes::default();
        outcomes.add(exporter.finished_runs(None, position, MAX_PROJECTS)?);
        outcomes.advance_to(position);
        lock(&self.status).state = "starting";
        Ok((exporter, position, outcomes))
    }

    /// Reads and sends one batch.
    fn step(
        &self,
        exporter: &Exporter,
        position: &mut i64,
        outcomes: &mut Outcomes,
        max_ticks: &mut usize,
    ) -> Result<Step, Failure> {
        let raw =
            exporter.ticks_after(*position, *max_ticks).map_err(|err| Failure::Store(err.to_string()))?;
        let Some(newest) = raw.ticks.last().map(|t| t.ts) else {
            let mut status = lock(&self.status);
            if status.state != "retrying" {
                status.state = "live";
            }
            return Ok(Step::Idle);
        };
        let full = raw.ticks.len() == *max_ticks;
        let ended = exporter
            .finished_runs(Some(*position - ENDS_SLACK_MS), newest, MAX_PROJECTS)
            .map_err(|err| Failure::Store(err.to_string()))?;
        // The outcomes move on only with a batch the receiver took (or
        // refused for good): a retried batch is built again as it was.
        let mut next = outcomes.clone();
        next.add(ended);
        let mut batch = Batch::new(&self.labels);
        for tick in &raw.ticks {
            next.advance_to(tick.ts);
            batch.tick(&raw, tick, &mut next);
        }
        let samples = batch.samples() as u64;
        let body = wire::encode(&batch.into_request())
            .map_err(|err| Failure::Receiver(format!("cannot compress: {err}")))?;
        match self.send(body) {
            Outcome::Accepted => {
                let mut status = lock(&self.status);
                status.state = if full { "catching_up" } else { "live" };
                status.samples_sent += samples;
                status.last_sent_ms = Some(now_ms());
                status.last_error = None;
                status.last_error_ms = None;
            }
            // Too large: the same ticks again in smaller requests.
            Outcome::Refused { status: 413, answer } if raw.ticks.len() > 1 => {
                *max_ticks = (raw.ticks.len() / 2).max(1);
                tracing::warn!(
                    "remote write to {}: a request of {} ticks is too large for it{}; sending {} at a time",
                    self.receiver.origin,
                    raw.ticks.len(),
                    quoted(&answer),
                    *max_ticks
                );
                return Ok(Step::Sent { full: true });
            }
            Outcome::Refused { status: code, answer } => {
                let mut status = lock(&self.status);
                status.batches_skipped += 1;
                // The first and every hundredth: a long outage caught up
                // into a receiver that takes nothing that old refuses
                // thousands in a row.
                let skipped = status.batches_skipped;
                if skipped == 1 || skipped.is_multiple_of(100) {
                    tracing::warn!(
                        "remote write to {} refused a batch of {samples} samples for good (HTTP {code}{}): \
                         skipped ({skipped} so far)",
                        self.receiver.origin,
                        quoted(&answer)
                    );
                }
                status.last_error =
                    Some(format!("HTTP {code}: a batch was refused and skipped (see the log)"));
                status.last_error_ms = Some(now_ms());
            }
            Outcome::Failed { why, answer } => {
                if !answer.is_empty() {
                    tracing::debug!(
                        "remote write to {} answered {why}{}",
                        self.receiver.origin,
                        quoted(&answer)
                    );
                }
                // The next try sends these ticks and no more: a receiver that
                // took them but whose answer was lost refuses a resend holding
                // anything older than its newest sample as out of order,
                // whole, so a longer resend would lose the ticks it added.
                *max_ticks = raw.ticks.len();
                return Err(Failure::Receiver(why));
            }
        }
        *position = newest;
        *outcomes = next;
        // Requests grow back to full size once one is taken.
        *max_ticks = (*max_ticks * 2).min(MAX_TICKS);
        lock(&self.status).accepted_to = Some(newest);
        self.store.record_sent(&self.receiver.url, newest);
        Ok(Step::Sent { full })
    }

    /// One POST.
    fn send(&self, body: Vec<u8>) -> Outcome {
        let mut call = self.agent.post(&self.receiver.url);
        for (name, value) in wire::HEADERS {
            call = call.header(name, value);
        }
        if let Some(credentials) = &self.credentials {
            call = call.header("Authorization", credentials.header());
        }
        match call.send(&body[..]) {
            Ok(mut response) => {
                let status = response.status().as_u16();
                let answer =
                    response.body_mut().with_config().limit(4096).read_to_string().unwrap_or_default();
                outcome(status, &answer)
            }
            Err(err) => Outcome::Failed {
                why: crate::outbound::failure(&err, self.receiver.url.starts_with("https:")).words,
                answer: String::new(),
            },
        }
    }

    fn failed(&self, why: &str) {
        let mut status = lock(&self.status);
        if status.state != "retrying" {
            tracing::warn!(
                "remote write to {}: {why}; keeping its place and trying again",
                self.receiver.origin
            );
        }
        status.state = "retrying";
        status.last_error = Some(why.to_owned());
        status.last_error_ms = Some(now_ms());
    }
}

/// Why a step sent nothing.
enum Failure {
    /// The store could not be read: the reader is opened again.
    Store(String),
    /// The receiver did not take the batch: tried again as it was.
    Receiver(String),
}

/// What one step did.
enum Step {
    /// Nothing new in the store.
    Idle,
    /// A batch went; `full` when more is waiting.
    Sent { full: bool },
}

/// What an answer means for the batch.
pub fn outcome(status: u16, answer: &str) -> Outcome {
    let answer: String = answer.trim().chars().take(MAX_ANSWER).collect();
    match status {
        200..=299 => Outcome::Accepted,
        // Not the batch's fault: the receiver is overloaded or down, or it
        // refuses everyone until its owner fixes credentials or the URL.
        // Skipping would lose every batch until then; the position waits.
        401 | 403 | 404 | 405 | 407 | 408 | 415 | 429 | 500..=599 => {
            Outcome::Failed { why: format!("HTTP {status}"), answer }
        }
        // Requests are never redirected (a redirected POST loses its body):
        // the receiver moved, and every batch would be refused the same way.
        300..=399 => {
            Outcome::Failed { why: format!("HTTP {status}: redirected; give the URL it points to"), answer }
        }
        _ => Outcome::Refused { status, answer },
    }
}

/// `: ANSWER` for a log line, or nothing.
fn quoted(answer: &str) -> String {
    if answer.is_empty() { String::new() } else { format!(": {answer}") }
}

/// The wall clock, unix ms.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_decide_taken_skipped_or_tried_again() {
        let failed = |why: &str, answer: &str| Outcome::Failed { why: why.into(), answer: answer.into() };
        let refused = |status, answer: &str| Outcome::Refused { status, answer: answer.into() };
        assert_eq!(outcome(204, ""), Outcome::Accepted);
        assert_eq!(outcome(200, "ok"), Outcome::Accepted);
        assert_eq!(outcome(503, ""), failed("HTTP 503", ""));
        assert_eq!(outcome(429, "slow down"), failed("HTTP 429", "slow down"));
        assert_eq!(outcome(400, "out of bounds\n"), refused(400, "out of bounds"));
        assert_eq!(outcome(401, ""), failed("HTTP 401", ""));
        assert_eq!(outcome(404, "no such path"), failed("HTTP 404", "no such path"));
        assert_eq!(outcome(422, ""), refused(422, ""));
        assert_eq!(outcome(308, ""), failed("HTTP 308: redirected; give the URL it points to", ""));
        assert_eq!(outcome(415, ""), failed("HTTP 415", ""));
        let long = "x".repeat(1000);
        assert_eq!(outcome(413, &long), refused(413, &"x".repeat(MAX_ANSWER)));
    }

    #[test]
    fn a_stop_wakes_a_waiting_sender_at_once() {
        let stop = Arc::new(Stop::default());
        let waiting = {
            let stop = stop.clone();
            std::thread::spawn(move || stop.wait(Duration::from_secs(600)))
        };
        stop.stop();
        assert!(waiting.join().expect("the waiter"), "woken by the stop, not the limit");
        assert!(stop.wait(Duration::from_secs(600)), "stays stopped");
    }
}
