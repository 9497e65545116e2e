//! Alerts that need no open page: rules evaluated on every tick on a thread of
//! their own, their firings and resolutions stored and delivered.
//!
//! The hub hands every tick and run record to the alerts as it does to the
//! store (a [`Recorder`] that never blocks: a full queue drops the record and
//! counts it). The alerts thread runs the [`engine`] over it; each event it
//! makes is kept (the store's `alerts` table, or the last ones in memory with
//! `--no-store`), listed by `GET /api/alerts`, and delivered unless a silence
//! holds it back. Delivery has threads of its own per destination
//! ([`deliver`]), so a receiver that hangs delays nothing else.
//!
//! A restart loses no run's end: the store marks each end the alerts have
//! handed to delivery, and [`Alerting::catch_up`] alerts at the next start the
//! ends they never saw (a run that ended while PerfMon was down). `perfmon run
//! --notify`'s destinations are kept in the store until their run's end is
//! handed to delivery, so a restart during the run keeps sending there.
//!
//! # Layout
//! - [`config`]: the configuration file, validated at start.
//! - `threshold`: one condition over time (for, clear, repeat).
//! - `series`: a configured rule's recorded series, read from a tick.
//! - `engine`: the rules over the records: the events they make.
//! - [`deliver`]: webhook, ntfy, Slack and Discord delivery, retried.
//! - This page: [`Alerting`], the handle the service starts and the web layer
//!   asks.

pub mod config;
pub mod deliver;
mod engine;
mod series;
mod threshold;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use shared::alerts::{AlertEvent, AlertState, Alerts, DestinationStatus, RuleSetting};

pub use config::{AlertConfig, ConfigError};
use deliver::{Deliverer, Destination, DestinationId};
pub use engine::Engine;

use crate::hub::{Record, Recorder, RunSummary};
use crate::store::{AlertQuery, Store};

/// Records waiting for the alerts thread; more are dropped (and counted): a
/// thread that fell this far behind catches up on the newest.
const QUEUE: usize = 256;

/// Events kept in memory for `GET /api/alerts` when there is no store.
const KEEP_RECENT: usize = 200;

/// How long a start waits for the store to write what it recorded (the runs
/// marked ended) before reading the ends not yet alerted.
const CATCH_UP_WAIT: Duration = Duration::from_secs(10);

/// The most alerts one listing returns.
pub const MAX_LIST: u32 = 1000;

/// The running alerts: their thread, their state and their delivery.
#[derive(Debug, Clone)]
pub struct Alerting {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Records for the thread.
    queue: SyncSender<Input>,
    /// What the thread publishes and the web layer reads.
    state: Mutex<State>,
    /// What the rules are.
    config: Arc<AlertConfig>,
    /// Where events go.
    deliverer: Deliverer,
    /// Where events are kept, if anywhere.
    store: Option<Store>,
    /// Records dropped because the queue was full.
    dropped: AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    /// Firing now, by id.
    active: BTreeMap<i64, AlertEvent>,
    /// Latest events, newest last (the listing without a store).
    recent: VecDeque<AlertEvent>,
    /// Deliveries are held back until then.
    silenced_until: Option<DateTime<Utc>>,
    /// Each live run's one-off destinations (`perfmon run --notify`).
    run_destinations: HashMap<String, Vec<DestinationId>>,
}

/// What the thread is handed.
#[derive(Debug)]
enum Input {
    /// A tick or run record from the hub (boxed: a run's record is large,
    /// and the queue holds many).
    Record(Box<Record>),
    /// A run's `--notify` destinations kept in the store, used again after a
    /// restart: attached on the thread, unless the run's end was already
    /// reported (or it has destinations already), so none is added twice or
    /// left behind for a run that has nothing more to hear.
    Destinations(String, Vec<Destination>),
    /// A run's end the alerts never saw, read from the store.
    Late(Box<RunSummary>),
    /// Stop once everything before it is handled: the runs whose end waits
    /// on their exit report are reported as they stand; then says so.
    Stop(std::sync::mpsc::Sender<()>),
}

/// Hands the hub's records to the alerts thread.
#[derive(Debug)]
struct Feed(Arc<Inner>);

impl Recorder for Feed {
    fn record(&self, record: Record) {
        match self.0.queue.try_send(Input::Record(Box::new(record))) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                if self.0.dropped.fetch_add(1, Ordering::Relaxed).is_multiple_of(60) {
                    tracing::warn!("the alerts fell behind the ticks: a record was dropped");
                }
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

impl Alerting {
    /// Starts the alerts thread over `config`, keeping events in `store`.
    /// Blocking (reads where the store's alert ids stand); call it off the
    /// async workers.
    pub fn start(config: AlertConfig, store: Option<Store>) -> std::io::Result<Alerting> {
        let config = Arc::new(config);
        let (queue, records) = std::sync::mpsc::sync_channel(QUEUE);
        // Alerts waiting for a receiver are kept beside the store, so a
        // restart does not lose them; with the store off, nothing is written.
        let outbox = store.as_ref().and_then(|store| {
            let dir = store.dir().join(deliver::outbox::DIR);
            deliver::Outbox::open(&dir)
                .map_err(|err| {
                    tracing::warn!("alerts waiting for delivery are not kept in {}: {err}", dir.display())
                })
                .ok()
        });
        let deliverer = Deliverer::start_kept(config.destinations.clone(), deliver::Retry::default(), outbox);
        // A silence set before a restart still holds: what it held back
        // (the restart's resolutions among them) is not sent.
        let silenced_until = store
            .as_ref()
            .and_then(|store| {
                store.alert_silence().unwrap_or_else(|err| {
                    tracing::warn!("cannot read the alerts' silence: {err}");
                    None
                })
            })
            .and_then(DateTime::from_timestamp_millis)
            .filter(|until| *until > Utc::now());
        let (next_id, open) = match &store {
            Some(store) => match store.alerts_at_start() {
                Ok((max, open)) => (max + 1, open),
                Err(err) => {
                    tracing::warn!("cannot read the stored alerts, numbering new ones after the time: {err}");
                    (Utc::now().timestamp_millis(), Vec::new())
                }
            },
            None => (1, Vec::new()),
        };
        let inner = Arc::new(Inner {
            queue,
            state: Mutex::new(State { silenced_until, ..State::default() }),
            config: config.clone(),
            deliverer,
            store,
            dropped: AtomicU64::new(0),
        });
        // Alerts that fired before a restart are closed: the rules start over
        // and fire again if they still hold.
        let now = Utc::now();
        for firing in open {
            // A resolution carries its rule's clear level (the trigger where
            // the rule is gone from the configuration).
            let (value, threshold) = (firing.value, config.clear_level(&firing.rule).or(firing.threshold));
            let how = "Closed when PerfMon restarted; it fires again if it still holds.".to_owned();
            inner.publish(engine::resolved(firing, now, value, threshold, how), now);
        }
        let engine = Engine::new(config, next_id);
        let thread_inner = inner.clone();
        std::thread::Builder::new()
            .name("perfmon-alerts".into())
            .spawn(move || thread_inner.run(engine, records))?;
        Ok(Alerting { inner })
    }

    /// What the hub hands its records to.
    pub fn recorder(&self) -> Arc<dyn Recorder> {
        Arc::new(Feed(self.inner.clone()))
    }

    /// The configuration in effect.
    pub fn config(&self) -> &AlertConfig {
        &self.inner.config
    }

    /// Active alerts, recent ones matching `query`, the silence and delivery.
    /// Blocking (the store's query).
    pub fn list(&self, query: &AlertQuery) -> Result<Alerts, crate::store::QueryError> {
        let recent = match &self.inner.store {
            Some(store) => store.alerts(query)?,
            None => {
                let state = self.inner.lock();
                let matches = |e: &&AlertEvent| {
                    query
                        .project
                        .as_ref()
                        .is_none_or(|p| e.project.is_none() || e.project.as_ref() == Some(p))
                        && query.run_id.as_ref().is_none_or(|r| e.run_id.as_ref() == Some(r))
                        && in_window(e, query)
                };
                // One entry per alert, as the store lists them: the newest event of each.
                let mut seen = std::collections::HashSet::new();
                state
                    .recent
                    .iter()
                    .rev()
                    .filter(matches)
                    .filter(|e| seen.insert(e.id))
                    .take(query.limit as usize)
                    .cloned()
                    .collect()
            }
        };
        let state = self.inner.lock();
        let active = state
            .active
            .values()
            .filter(|e| {
                query.project.as_ref().is_none_or(|p| e.project.is_none() || e.project.as_ref() == Some(p))
            })
            .filter(|e| query.run_id.as_ref().is_none_or(|r| e.run_id.as_ref() == Some(r)))
            .cloned()
            .collect();
        Ok(Alerts {
            active,
            recent,
            silenced_until: silence_of(&state, Utc::now()),
            destinations: self.inner.deliverer.status(),
            stored: self.inner.store.is_some(),
        })
    }

    /// Holds deliveries back for `span` from now (zero lifts a silence);
    /// until when.
    pub fn silence(&self, span: Duration) -> Option<shared::Timestamp> {
        let now = Utc::now();
        let mut state = self.inner.lock();
        state.silenced_until =
            chrono::Duration::from_std(span).ok().filter(|d| !d.is_zero()).map(|d| now + d);
        match state.silenced_until {
            Some(until) => tracing::info!("alerts silenced until {until}"),
            None => tracing::info!("alerts no longer silenced"),
        }
        if let Some(store) = &self.inner.store {
            store.record_silence(state.silenced_until.map(|until| until.timestamp_millis()));
        }
        silence_of(&state, now)
    }

    /// Until when deliveries are silenced.
    pub fn silenced_until(&self) -> Option<shared::Timestamp> {
        silence_of(&self.inner.lock(), Utc::now())
    }

    /// Each destination's delivery.
    pub fn destinations(&self) -> Vec<DestinationStatus> {
        self.inner.deliverer.status()
    }

    /// The rules in effect, for the settings page.
    pub fn rules(&self) -> Vec<RuleSetting> {
        rule_settings(&self.inner.config)
    }

    /// How many more runs' destinations may start now (of
    /// [`deliver::RUN_DESTINATIONS_AT_ONCE`]).
    pub fn run_destinations_room(&self) -> usize {
        deliver::RUN_DESTINATIONS_AT_ONCE.saturating_sub(self.inner.deliverer.run_destinations())
    }

    /// Sends `run_id`'s alerts to `destination` too, until the run's end has
    /// been sent (`perfmon run --notify URL`).
    pub fn notify_run(&self, run_id: &str, destination: Destination) {
        let id = self.inner.deliverer.add(destination);
        self.inner.lock().run_destinations.entry(run_id.to_owned()).or_default().push(id);
    }

    /// `perfmon run --notify`: sends `run_id`'s alerts to `destinations` too
    /// (made from `specs`), and keeps `specs` in the store until the run's end
    /// has been alerted, so that a restart during the run keeps sending there.
    pub fn notify_run_kept(&self, run_id: &str, specs: Vec<String>, destinations: Vec<Destination>) {
        for destination in destinations {
            self.notify_run(run_id, destination);
        }
        if let Some(store) = &self.inner.store {
            store.keep_notify(run_id, specs);
        }
    }

    /// At a start, once the runs left running are followed again (`resumed`)
    /// or marked ended: their kept `--notify` destinations are used again, and
    /// the ends the alerts never saw (the run ended while PerfMon was down, or
    /// it died before their alert went out) are alerted now, as any end is.
    /// Blocking: it waits for the store's writes and reads it.
    pub fn catch_up(&self, resumed: &[String]) {
        let Some(store) = &self.inner.store else { return };
        // The runs followed again first: one may end at any moment.
        for run_id in resumed {
            self.restore_notify(store, run_id);
        }
        // What the start wrote (runs marked interrupted, exit reports kept
        // while PerfMon was down) is read back.
        if !store.flush(CATCH_UP_WAIT) {
            tracing::warn!("the store is slow to write: ends PerfMon did not see may not be alerted now");
        }
        let late = store.ends_not_alerted().unwrap_or_else(|err| {
            tracing::warn!("cannot read the runs whose end was not alerted: {err}");
            Vec::new()
        });
        if !late.is_empty() {
            tracing::info!(
                "{} run(s) ended while PerfMon was not watching: their end is alerted now",
                late.len()
            );
        }
        for run in late {
            self.late_end(store, run);
        }
    }

    /// A stored run's exit, reported after this server marked it interrupted
    /// (the wrapper outlived a restart): its end is alerted with the exit if
    /// it has not been yet (the start hands the alerts such an end a few
    /// seconds before it goes out without one). Blocking: it waits for the
    /// store's write and reads it.
    pub fn exit_reported_late(&self, project: &str, run_id: &str) {
        let Some(store) = &self.inner.store else { return };
        if !store.flush(CATCH_UP_WAIT) {
            return;
        }
        match store.end_not_alerted(project, run_id) {
            Ok(Some(run)) => self.late_end(store, run),
            Ok(None) => {}
            Err(err) => tracing::warn!("cannot read run {run_id} for its end's alert: {err}"),
        }
    }

    /// Hands the thread an end it never saw, after the run's kept destinations.
    fn late_end(&self, store: &Store, run: RunSummary) {
        self.restore_notify(store, &run.run_id);
        let _ = self.inner.queue.send(Input::Late(Box::new(run)));
    }

    /// Hands the thread the `--notify` destinations the store kept for `run_id`.
    fn restore_notify(&self, store: &Store, run_id: &str) {
        let specs = store.notify_specs(run_id).unwrap_or_else(|err| {
            tracing::warn!("cannot read run {run_id}'s --notify destinations: {err}");
            Vec::new()
        });
        let destinations: Vec<Destination> = specs
            .iter()
            .filter_map(|spec| match Destination::parse_spec("--notify", spec) {
                Ok(destination) => Some(destination),
                // Not the error: it would quote the URL, a secret.
                Err(_) => {
                    tracing::warn!("a kept --notify destination of run {run_id} is no longer usable");
                    None
                }
            })
            .collect();
        if !destinations.is_empty() {
            let _ = self.inner.queue.send(Input::Destinations(run_id.to_owned(), destinations));
        }
    }

    /// Stops the thread after what it was handed (a run that just ended is
    /// reported), and waits up to `limit` in all for that and the deliveries
    /// under way. Blocking.
    pub fn shutdown(&self, limit: Duration) {
        let started = std::time::Instant::now();
        let (done, stopped) = std::sync::mpsc::channel();
        if self.inner.queue.send(Input::Stop(done)).is_ok() {
            let _ = stopped.recv_timeout(limit);
        }
        self.inner.deliverer.shutdown(limit.saturating_sub(started.elapsed()));
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Plain data: usable after a panic elsewhere.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The thread: records in, events out; wakes for a run's end that waits
    /// on its exit report when no record comes.
    fn run(self: Arc<Self>, mut engine: Engine, records: Receiver<Input>) {
        loop {
            let wait = engine
                .next_due()
                .map(|at| (at - Utc::now()).to_std().unwrap_or_default())
                .unwrap_or(Duration::from_secs(60));
            let events = match records.recv_timeout(wait) {
                Ok(Input::Record(record)) => engine.observe(&record, Utc::now()),
                Ok(Input::Destinations(run_id, destinations)) => {
                    self.attach(&engine, run_id, destinations);
                    Vec::new()
                }
                Ok(Input::Late(run)) => engine.observe_late(&run, Utc::now()),
                Ok(Input::Stop(done)) => {
                    let now = Utc::now();
                    for event in
                        engine.due(now + chrono::Duration::from_std(engine::EXIT_GRACE).unwrap_or_default())
                    {
                        self.publish(event, now);
                    }
                    self.forget_ended(&mut engine);
                    let _ = done.send(());
                    return;
                }
                Err(RecvTimeoutError::Disconnected) => return,
                Err(RecvTimeoutError::Timeout) => engine.due(Utc::now()),
            };
            let now = Utc::now();
            for event in events {
                self.publish(event, now);
            }
            self.forget_ended(&mut engine);
        }
    }

    /// Sends `run_id`'s alerts to `destinations` too, unless its end has been
    /// reported or it has destinations already.
    fn attach(&self, engine: &Engine, run_id: String, destinations: Vec<Destination>) {
        if engine.reported(&run_id) || self.lock().run_destinations.contains_key(&run_id) {
            return;
        }
        let ids = destinations.into_iter().map(|destination| self.deliverer.add(destination)).collect();
        self.lock().run_destinations.insert(run_id, ids);
    }

    /// Drops the one-off destinations of runs that ended without an event
    /// to take them (their end's rule is off): each holds a thread. And tells
    /// the store each of these ends went through, so that no start alerts it
    /// again, and it forgets the run's destinations.
    fn forget_ended(&self, engine: &mut Engine) {
        for run in engine.take_ended() {
            let left = self.lock().run_destinations.remove(&run);
            for id in left.into_iter().flatten() {
                self.deliverer.remove(id);
            }
            if let Some(store) = &self.store {
                store.end_alerted(&run);
            }
        }
    }

    /// Keeps, lists and delivers one event.
    fn publish(&self, mut event: AlertEvent, now: DateTime<Utc>) {
        let mut state = self.lock();
        event.silenced = state.silenced_until.is_some_and(|until| until > now);
        match event.state {
            AlertState::Firing => {
                state.active.insert(event.id, event.clone());
            }
            AlertState::Resolved => {
                state.active.remove(&event.id);
            }
            AlertState::Event => {}
        }
        state.recent.push_back(event.clone());
        if state.recent.len() > KEEP_RECENT {
            state.recent.pop_front();
        }
        let run_destinations = event.run_id.as_ref().and_then(|run| {
            // A run's end is its one-off destinations' last event.
            if event.state == AlertState::Event {
                state.run_destinations.remove(run)
            } else {
                state.run_destinations.get(run).cloned()
            }
        });
        drop(state);
        let verb = match event.state {
            AlertState::Firing => "fired",
            AlertState::Resolved => "resolved",
            AlertState::Event => "happened",
        };
        tracing::info!("alert {} {verb}: {}", event.rule, event.title);
        if let Some(store) = &self.store {
            store.record_alert(event.clone());
        }
        if !event.silenced {
            self.deliverer.send(&event);
        }
        for id in run_destinations.iter().flatten() {
            if !event.silenced {
                self.deliverer.send_to(*id, &event);
            }
            if event.state == AlertState::Event {
                self.deliverer.remove(*id);
            }
        }
    }
}

/// Whether `e` was active within `query`'s `from`–`to`, as the store reads
/// it: fired by `to`, and resolved (a one-off event: fired) at or after
/// `from`, or firing still.
fn in_window(e: &AlertEvent, query: &AlertQuery) -> bool {
    let ms =
        |t: &shared::Timestamp| DateTime::parse_from_rfc3339(t.as_str()).ok().map(|t| t.timestamp_millis());
    let fired = ms(&e.fired_at).unwrap_or_default();
    let until = match (&e.resolved_at, e.state) {
        (Some(resolved), _) => ms(resolved).unwrap_or(i64::MAX),
        (None, AlertState::Firing) => i64::MAX,
        (None, _) => fired,
    };
    query.from_ms.is_none_or(|from| until >= from) && query.to_ms.is_none_or(|to| fired <= to)
}

fn silence_of(state: &State, now: DateTime<Utc>) -> Option<shared::Timestamp> {
    state.silenced_until.filter(|until| *until > now).map(crate::sampling::timestamp_millis)
}

/// The rules in effect, in words.
fn rule_settings(config: &AlertConfig) -> Vec<RuleSetting> {
    use shared::alerts::Severity;
    let words = |d: Duration| crate::verdict::duration_words(d.as_secs_f64());
    let mut rules: Vec<RuleSetting> = config
        .defaults
        .iter()
        .map(|(name, rule)| {
            let (condition, severity) = match (*name, rule.threshold) {
                ("run_finished", _) => ("a run ends with exit 0 (with its duration and verdict)".into(), Severity::Info),
                ("run_failed", _) => ("a run ends with a non-zero exit or a signal".into(), Severity::Warning),
                ("run_oom", _) => (
                    "a run is killed by SIGKILL while the kernel's OOM-kill count rose, or its memory cgroup records an OOM kill"
                        .into(),
                    Severity::Critical,
                ),
                ("run_stalled", Some(t)) => {
                    (format!("a live run uses no CPU and does no disk IO for {}", words(t.hold)), Severity::Warning)
                }
                ("memory_low", Some(t)) => (
                    format!(
                        "memory available below {} % for {} (resolves above {} %)",
                        t.trigger,
                        words(t.hold),
                        t.clear
                    ),
                    Severity::Critical,
                ),
                ("filesystem_full", Some(t)) => (
                    format!("a filesystem above {} % used (resolves at {} %)", t.trigger, t.clear),
                    Severity::Critical,
                ),
                ("gpu_idle", Some(t)) => (
                    format!(
                        "a run holds GPU memory while the GPU is below {} % busy for {} (resolves at {} %)",
                        t.trigger,
                        words(t.hold),
                        t.clear
                    ),
                    Severity::Warning,
                ),
                (other, _) => (other.to_owned(), Severity::Info),
            };
            RuleSetting {
                name: (*name).to_owned(),
                condition,
                severity,
                source: "default".into(),
                enabled: rule.enabled,
                project: None,
                repeat_s: rule.threshold.and_then(|t| t.repeat).map(|d| d.as_secs()),
            }
        })
        .collect();
    rules.extend(config.rules.iter().map(|r| {
        let t = r.threshold;
        let held = if t.hold.is_zero() { String::new() } else { format!(" for {}", words(t.hold)) };
        let clear = if t.clear == t.trigger { String::new() } else { format!(" (resolves at {})", t.clear) };
        RuleSetting {
            name: r.name.clone(),
            condition: format!("{} {} {}{held}{clear}", r.series_name, t.op.word(), t.trigger),
            severity: r.severity,
            source: "config".into(),
            enabled: true,
            project: r.project.clone(),
            repeat_s: t.repeat.map(|d| d.as_secs()),
        }
    }));
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_runs_one_off_destination_goes_when_it_ends_even_with_its_end_rule_off() {
        use crate::hub::{Record, RunSummary};
        let text = "[alerts.defaults.run_finished]\nenabled = false\n";
        let config = AlertConfig::parse(std::path::Path::new("config.toml"), text).expect("config");
        let alerting = Alerting::start(config, None).expect("started");
        let hook = Destination::parse_spec("--notify", "http://127.0.0.1:9/hook").expect("spec");
        alerting.notify_run("r1", hook);
        assert_eq!(alerting.destinations().len(), 1);
        let started = Utc::now();
        let mut run = RunSummary::started("r1".into(), "demo".into(), None, 4242, started);
        let recorder = alerting.recorder();
        recorder.record(Record::Run(run.clone()));
        run.end(started, shared::api::RunOutcome::Exited);
        run.exit_code = Some(0);
        recorder.record(Record::Run(run));
        let sample = crate::sampling::HostSample { taken_at: Utc::now(), ..Default::default() };
        recorder.record(Record::Tick { sample: Arc::new(sample), runs: Vec::new() });
        // Stopping waits for everything handed over before it.
        alerting.shutdown(Duration::from_secs(10));
        assert!(alerting.destinations().is_empty(), "{:?}", alerting.destinations());
        assert!(alerting.inner.lock().run_destinations.is_empty());
    }

    /// Alert `id`, `memory_low` at 3 % against its 5 % trigger, in `state`,
    /// fired and resolved at those unix ms.
    fn alert(id: i64, state: AlertState, fired: i64, resolved: Option<i64>) -> AlertEvent {
        let at =
            |ms: i64| crate::sampling::timestamp_millis(DateTime::from_timestamp_millis(ms).expect("ms"));
        AlertEvent {
            perfmon_alert: shared::alerts::ALERT_SCHEMA,
            id,
            state,
            rule: "memory_low".into(),
            severity: shared::alerts::Severity::Critical,
            title: "Memory almost full".into(),
            message: "m".into(),
            project: None,
            run_id: None,
            series: None,
            value: Some(3.0),
            threshold: Some(5.0),
            fired_at: at(fired),
            resolved_at: resolved.map(at),
            silenced: false,
        }
    }

    #[test]
    fn without_a_store_the_listing_keeps_to_from_and_to_as_the_store_does() {
        let window = |from, to| AlertQuery { from_ms: Some(from), to_ms: Some(to), ..AlertQuery::default() };
        let resolved = alert(1, AlertState::Resolved, 1_000, Some(5_000));
        let firing = alert(2, AlertState::Firing, 1_000, None);
        let once = alert(3, AlertState::Event, 1_000, None);
        assert!(in_window(&resolved, &window(4_000, 9_000)) && !in_window(&resolved, &window(6_000, 9_000)));
        assert!(in_window(&firing, &window(60_000, 90_000)), "still firing");
        assert!(in_window(&once, &window(0, 1_000)) && !in_window(&once, &window(2_000, 9_000)));
        assert!(!in_window(&firing, &window(0, 500)), "fired after `to`");
        assert!(in_window(&once, &AlertQuery::default()));
    }

    #[test]
    fn a_silence_outlives_a_restart_and_holds_back_the_restarts_resolutions() {
        let dir = std::env::temp_dir().join(format!("perfmon-alerts-silence-{}", std::process::id()));
        let config = crate::store::StoreConfig { dir: dir.clone(), retention: Default::default() };
        let store = Store::open(&config).expect("store");
        let first = Alerting::start(AlertConfig::default(), Some(store.clone())).expect("started");
        // Beside the store, the outbox of alerts waiting for a receiver.
        assert!(dir.join(deliver::outbox::DIR).is_dir());
        let until = first.silence(Duration::from_secs(3600)).expect("silenced");
        let firing = alert(7, AlertState::Firing, Utc::now().timestamp_millis(), None);
        store.record_alert(AlertEvent { silenced: true, ..firing });
        first.shutdown(Duration::from_secs(5));
        assert!(store.flush(Duration::from_secs(10)));

        let second = Alerting::start(AlertConfig::default(), Some(store.clone())).expect("started");
        assert_eq!(second.silenced_until(), Some(until));
        let listed = second.list(&AlertQuery { limit: 10, ..AlertQuery::default() }).expect("listed");
        let closed = listed.recent.iter().find(|e| e.id == 7).expect("closed at the start");
        assert!(closed.silenced, "{closed:#?}");
        // Lifted, it stays lifted.
        assert_eq!(second.silence(Duration::ZERO), None);
        second.shutdown(Duration::from_secs(5));
        assert!(store.flush(Duration::from_secs(10)));
        let third = Alerting::start(AlertConfig::default(), Some(store.clone())).expect("started");
        assert_eq!(third.silenced_until(), None);
        third.shutdown(Duration::from_secs(1));
        store.close(Duration::from_secs(5));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_restart_closes_what_was_firing() {
        let dir = std::env::temp_dir().join(format!("perfmon-alerts-{}", std::process::id()));
        let config = crate::store::StoreConfig { dir: dir.clone(), retention: Default::default() };
        let store = Store::open(&config).expect("store");
        store.record_alert(alert(41, AlertState::Firing, Utc::now().timestamp_millis(), None));
        assert!(store.flush(Duration::from_secs(10)));
        let alerting = Alerting::start(AlertConfig::default(), Some(store.clone())).expect("started");
        assert!(store.flush(Duration::from_secs(10)));
        let listed = alerting.list(&AlertQuery { limit: 10, ..AlertQuery::default() }).expect("listed");
        assert!(listed.active.is_empty(), "{listed:#?}");
        let closed = &listed.recent[0];
        assert_eq!((closed.id, closed.state), (41, AlertState::Resolved));
        assert!(closed.resolved_at.is_some() && closed.value == Some(3.0), "{closed:#?}");
        // As delivered, it carries memory_low's clear level (the listing's row
        // keeps what fired it).
        let sent = alerting.inner.lock().recent.back().cloned().expect("published");
        assert_eq!((sent.id, sent.threshold), (41, Some(10.0)));
        // Nothing is open any more, and new alerts number on after it.
        let (max, open) = store.alerts_at_start().expect("read");
        assert_eq!((max, open.len()), (41, 0));
        alerting.shutdown(Duration::from_secs(1));
        store.close(Duration::from_secs(5));
        let _ = std::fs::remove_dir_all(dir);
    }
}
