//! The hub: every project's run, token usage, recent history and stream of frames.
//!
//! The tick loop publishes into it once per tick ([`Hub`] is the loop's
//! [`Sink`]); the hub turns the host sample into one `perf_metrics` message per
//! due project, serialises it once, keeps it in the project's history and stores
//! it in the project's `watch` channel. Sockets hold receivers: each sees the
//! newest frame, and a slow socket skips to it instead of queueing history. The hub
//! knows nothing of HTTP: it hands out [`Frame`]s, shared bytes the web layer
//! wraps in WebSocket messages.
//!
//! - [`project`]: validated project names.
//! - [`runs`]: the run's lifecycle and the signals sent to its process tree.
//! - [`tokens`]: token reports.
//! - [`history`]: the replay ring.
//! - [`perfwatch`]: PerfWatch's machine-wide stream, every five seconds.
//! - [`meter`]: each run's own counters, measured tick by tick, and the
//!   machine's figures integrated over its life (`tracked` judges them).
//! - [`record`]: what is handed on to be remembered (to a [`Recorder`]: the
//!   store), without the hub ever waiting on it.

mod history;
pub mod meter;
pub mod perfwatch;
pub mod project;
pub mod record;
mod runs;
mod tokens;
mod tracked;
mod transcripts;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use shared::{ErrorMsg, PerfMetrics, Run, RunStatus, ServerMsg, Tokens};
use tokio::sync::{Notify, watch};

use crate::sampling::{HostSample, Sections, Sink, TreeReading};
use history::History;
use project::ProjectName;
pub use record::{Record, Recorder, RunSummary};
pub use runs::{RunError, label_is_valid, run_id_is_valid};
use tracked::Tracked;

/// One serialised server message (JSON text), shared by every socket of a project:
/// cloning it is a reference-count increment, not a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    text: Bytes,
    /// For a project's `perf_metrics`: its run's status, so each socket can
    /// send `agent_status` when it changes without parsing the text.
    status: Option<RunStatus>,
}

impl Frame {
    /// A project's `perf_metrics` (or `agent_status`) text, whose run has
    /// `status`.
    pub fn metrics(text: String, status: RunStatus) -> Self {
        Frame { text: Bytes::from(text), status: Some(status) }
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        // Only ever built from a `String`, so always UTF-8.
        std::str::from_utf8(&self.text).unwrap_or_default()
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.text.len()
    }

    /// Whether it is empty (never, for a real message).
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// The shared bytes, for the web layer to wrap.
    pub fn bytes(&self) -> Bytes {
        self.text.clone()
    }

    /// The run's status, for a project's `perf_metrics`.
    pub fn status(&self) -> Option<RunStatus> {
        self.status
    }
}

impl From<String> for Frame {
    fn from(text: String) -> Self {
        Frame { text: Bytes::from(text), status: None }
    }
}

/// The largest message the hub hands out: a history replay keeps its newest
/// samples within this, so a socket's write limit above it can always send it.
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;

/// The most projects tracked at once: names come from clients, so the set must
/// not grow without bound.
pub const MAX_PROJECTS: usize = 256;

/// How many ended runs a project keeps in memory for their exit reports (the
/// store keeps them all).
const KEEP_ENDED: usize = 8;

/// How long a project nobody watches keeps its history, so a reload finds it.
const FORGET_AFTER: Duration = Duration::from_secs(600);

/// Projects and their frame channels.
#[derive(Debug)]
pub struct Hub {
    /// This start of the server, carried by every sample (`instance`), so clients
    /// tell a restart (whose `seq` starts again at 1) from a replay.
    instance: String,
    /// Cadence while any run is live.
    live_interval: Duration,
    /// Cadence for projects whose run is not live.
    idle_interval: Duration,
    /// How much history each project keeps.
    history_window: Duration,
    /// Locked briefly, never across an `.await` or a blocking call.
    inner: Mutex<Inner>,
    /// Wakes the tick loop when the cadence may have changed.
    cadence: Notify,
    /// Where ticks and runs are handed on to be remembered (the store), if anywhere.
    recorders: Vec<Arc<dyn Recorder>>,
    /// PerfWatch's stream of the machine's samples.
    perfwatch: perfwatch::PerfWatchFeed,
    /// Reads the runs' agents' transcripts, if on.
    transcripts: Option<transcripts::Follower>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Projects that have a subscriber, a run, tokens, or recent watchers.
    projects: HashMap<ProjectName, Project>,
    /// The newest host sample, so a new subscriber gets data at once.
    last: Option<Arc<HostSample>>,
    /// Run ids handed out this second, so none is handed out twice.
    issued: runs::IssuedIds,
    /// Runs that ended, whose transcripts are read once more before they are
    /// forgotten (the agent's last lines may come after the last reading):
    /// project, run id, when.
    finishing: Vec<(ProjectName, String, Instant)>,
}

impl Inner {
    /// The project's entry, created if there is room. When every place is
    /// taken, the project watched longest ago that nobody watches now and that
    /// has no live run gives up its place (it would be forgotten after
    /// [`FORGET_AFTER`] anyway, its runs are in the store): sockets opened and
    /// closed in a loop never keep a run, or a watcher, out. One whose run
    /// just ended goes last: its exit report and last transcript reading may
    /// still come.
    fn entry(&mut self, project: &ProjectName) -> Result<&mut Project, SubscribeError> {
        if !self.projects.contains_key(project) && self.projects.len() >= MAX_PROJECTS {
            let idle = self
                .projects
                .iter()
                .filter(|(_, p)| p.frames.receiver_count() == 0 && !p.is_live())
                .min_by_key(|(_, p)| (!p.ended.is_empty(), p.last_watched))
                .map(|(name, _)| name.clone());
            let Some(idle) = idle else { return Err(SubscribeError::TooManyProjects) };
            self.projects.remove(&idle);
        }
        Ok(self.projects.entry(project.clone()).or_insert_with(Project::new))
    }
}

#[derive(Debug)]
struct Project {
    /// The live runs, oldest first. The stream shows the first: a second run
    /// started while one is live is followed and recorded beside it, and shown
    /// once the runs before it have ended.
    live: Vec<Tracked>,
    /// The runs that ended last, newest last (a few: two runs may end in one
    /// tick and each still take its exit report); the newest is shown as
    /// stopped while none is live.
    ended: std::collections::VecDeque<Tracked>,
    /// Token usage reported for the project.
    tokens: Tokens,
    /// The newest frame; `None` until the first sample after subscription.
    frames: watch::Sender<Option<Frame>>,
    /// Recent frames.
    history: History,
    /// The newest sample as data, for the JSON endpoint.
    latest: Option<PerfMetrics>,
    /// Frames pushed so far; the next frame's `seq` is one more.
    seq: u64,
    /// When a frame was last pushed, to space idle projects at the idle cadence.
    last_sent: Option<Instant>,
    /// The shown run (id and status) in the last pushed frame: a change is
    /// pushed at once, whatever the cadence.
    last_sent_run: Option<(Option<String>, RunStatus)>,
    /// When a socket last watched (or an agent reported), to forget abandoned projects.
    last_watched: Instant,
}

/// Why a subscription was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SubscribeError {
    /// [`MAX_PROJECTS`] projects are already watched or have a live run.
    #[error("too many projects are being watched (at most {MAX_PROJECTS})")]
    TooManyProjects,
}

impl Project {
    fn new() -> Self {
        Project {
            live: Vec::new(),
            ended: std::collections::VecDeque::new(),
            tokens: Tokens::default(),
            frames: watch::Sender::new(None),
            history: History::default(),
            latest: None,
            seq: 0,
            last_sent: None,
            last_sent_run: None,
            last_watched: Instant::now(),
        }
    }

    fn touch(&mut self) {
        self.last_watched = Instant::now();
    }

    fn is_live(&self) -> bool {
        !self.live.is_empty()
    }

    fn is_kept(&self, now: Instant) -> bool {
        self.frames.receiver_count() > 0
            || self.is_live()
            || now.saturating_duration_since(self.last_watched) < FORGET_AFTER
    }

    /// The run the stream shows: the oldest live one, else the last to end.
    fn shown(&self) -> Option<&Tracked> {
        self.live.first().or(self.ended.back())
    }

    /// The shown run as the contract has it (idle when there is none).
    fn run(&self) -> Run {
        self.shown().map(Tracked::contract).unwrap_or_default()
    }

    /// The tree of the shown run, while it is live.
    fn tree(&self) -> Option<&TreeReading> {
        self.live.first().and_then(|t| t.tree.as_ref())
    }

    /// The tracked run `run_id`, live or recently ended.
    fn find_mut(&mut self, run_id: &str) -> Option<&mut Tracked> {
        self.live.iter_mut().chain(self.ended.iter_mut()).find(|t| t.summary.run_id == run_id)
    }

    /// Moves live run `index` to the ended ones, stopped.
    fn retire(&mut self, index: usize) {
        let mut run = self.live.remove(index);
        run.set_status(RunStatus::Stopped);
        if self.live.is_empty() {
            // Its count stays the project's current run until another starts.
            self.tokens.current_run = run.summary.tokens;
            self.tokens.source = run.summary.token_source;
            self.tokens.run = run.summary.token_detail.as_deref().cloned();
        }
        if self.ended.len() == KEEP_ENDED {
            self.ended.pop_front();
        }
        self.ended.push_back(run);
    }

    /// Adds what its runs' transcripts changed to the session's count.
    fn add_session_tokens(&mut self, delta: i64) {
        let session = &mut self.tokens.total_session;
        *session = if delta >= 0 {
            session.saturating_add(delta.unsigned_abs())
        } else {
            session.saturating_sub(delta.unsigned_abs())
        };
        if delta != 0 {
            self.tokens.available = true;
        }
    }

    /// Token counts as the stream shows them: the shown live run's own, else
    /// the project's (the last run's, and reports made while none was live).
    fn tokens(&self) -> Tokens {
        let mut tokens = self.tokens.clone();
        if let Some(run) = self.live.first() {
            tokens.current_run = run.summary.tokens;
            tokens.source = run.summary.token_source;
            tokens.run = run.summary.token_detail.as_deref().cloned();
        }
        tokens.available |= tokens.source.is_some();
        tokens
    }

    fn interval(&self, hub: &Hub) -> Duration {
        if self.is_live() { hub.live_interval } else { hub.idle_interval }
    }

    fn metrics(&self, hub: &Hub, name: &ProjectName, sections: &Sections, interval: Duration) -> PerfMetrics {
        PerfMetrics {
            timestamp: sections.timestamp.clone(),
            project: name.to_string(),
            run: self.run(),
            tokens: self.tokens(),
            cpu: sections.cpu.clone(),
            memory: sections.memory.clone(),
            gpu: sections.gpu.clone(),
            seq: self.seq + 1,
            instance: hub.instance.clone(),
            interval_ms: interval.as_millis() as u64,
            network: sections.network.clone(),
            disk: sections.disk.clone(),
            monitor: sections.monitor.clone(),
            cpu_detail: sections.depth.cpu_detail.clone(),
            pressure: sections.depth.pressure.clone(),
            memory_detail: sections.depth.memory_detail.clone(),
            paging: sections.depth.paging.clone(),
            disks: sections.depth.disks.clone(),
            filesystems: sections.depth.filesystems.clone(),
            interfaces: sections.depth.interfaces.clone(),
            sockets: sections.depth.sockets.clone(),
            perf_events: sections.depth.perf_events.clone(),
        }
    }

    fn push(&mut self, hub: &Hub, name: &ProjectName, sections: &Sections, now: Instant) {
        let msg = ServerMsg::PerfMetrics(self.metrics(hub, name, sections, self.interval(hub)));
        let text = match serde_json::to_string(&msg) {
            Ok(text) => text,
            // Plain data always serialises; if that ever changes, skip one frame
            // rather than end the stream.
            Err(err) => {
                tracing::error!("could not serialise perf_metrics: {err}");
                return;
            }
        };
        let ServerMsg::PerfMetrics(mut metrics) = msg else { return };
        let frame = Frame::metrics(text, metrics.run.status);
        // The replay a new client gets keeps the four totals, the run and the
        // tokens of each sample, not the machine in depth: a full sample is
        // ~6 KB, and ten minutes of them would not fit one message. The
        // dashboard reads the depth's history from the store.
        let depth = take_depth(&mut metrics);
        // Nor the run's tokens by kind and session: the newest sample has them.
        let token_detail = metrics.tokens.run.take();
        let msg = ServerMsg::PerfMetrics(metrics);
        let replayed = serde_json::to_string(&msg).map(Frame::from);
        let ServerMsg::PerfMetrics(mut metrics) = msg else { return };
        put_depth(&mut metrics, depth);
        metrics.tokens.run = token_detail;
        self.seq = metrics.seq;
        self.last_sent_run = Some((metrics.run.run_id.clone(), metrics.run.status));
        self.latest = Some(metrics);
        self.last_sent = Some(now);
        if let Ok(replayed) = replayed {
            self.history.push(replayed, now, hub.history_window, hub.history_capacity());
        }
        self.frames.send_replace(Some(frame));
    }
}

/// Moves the machine-in-depth sections out of `m`, leaving their defaults
/// (which serialise to nothing: see `shared::depth::is_default`).
fn take_depth(m: &mut PerfMetrics) -> crate::sampling::Depth {
    use std::mem::take;
    crate::sampling::Depth {
        cpu_detail: take(&mut m.cpu_detail),
        pressure: take(&mut m.pressure),
        memory_detail: take(&mut m.memory_detail),
        paging: take(&mut m.paging),
        disks: take(&mut m.disks),
        filesystems: take(&mut m.filesystems),
        interfaces: take(&mut m.interfaces),
        sockets: take(&mut m.sockets),
        perf_events: take(&mut m.perf_events),
    }
}

/// Puts back what [`take_depth`] took.
fn put_depth(m: &mut PerfMetrics, d: crate::sampling::Depth) {
    m.cpu_detail = d.cpu_detail;
    m.pressure = d.pressure;
    m.memory_detail = d.memory_detail;
    m.paging = d.paging;
    m.disks = d.disks;
    m.filesystems = d.filesystems;
    m.interfaces = d.interfaces;
    m.sockets = d.sockets;
    m.perf_events = d.perf_events;
}

/// What a new socket starts from.
#[derive(Debug)]
pub struct Subscription {
    /// The project's recent samples as one `history` message, if there are any.
    pub history: Option<Frame>,
    /// Newer frames; the current one is already in `history`.
    pub frames: watch::Receiver<Option<Frame>>,
    /// The project's run's status now (for `agent_status` on connect, sample
    /// or not).
    pub status: RunStatus,
}

/// One project as a scrape sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectSnapshot {
    /// Its name.
    pub name: ProjectName,
    /// Whether its run is running or paused.
    pub live: bool,
    /// The ids of its live runs, oldest first.
    pub live_runs: Vec<String>,
    /// What the live run's tree used at the newest sample, exactly as read.
    pub tree: Option<TreeReading>,
    /// Its token counts.
    pub tokens: Tokens,
}

impl Hub {
    /// An empty hub with the given cadence and history window.
    pub fn new(live_interval: Duration, idle_interval: Duration, history_window: Duration) -> Self {
        Hub {
            instance: new_instance(),
            live_interval,
            idle_interval,
            history_window,
            inner: Mutex::default(),
            cadence: Notify::new(),
            recorders: Vec::new(),
            perfwatch: perfwatch::PerfWatchFeed::default(),
            transcripts: None,
        }
    }

    /// PerfWatch's stream (`/api/ws/metrics`).
    pub fn perfwatch(&self) -> &perfwatch::PerfWatchFeed {
        &self.perfwatch
    }

    /// The same hub, handing ticks and runs on to `recorder` too (the store,
    /// the alerts).
    pub fn with_recorder(mut self, recorder: Arc<dyn Recorder>) -> Self {
        self.recorders.push(recorder);
        self
    }

    /// Hands `record` on to every recorder (built once; a tick's record is
    /// shared pieces, so a copy is cheap).
    fn remember(&self, record: impl FnOnce() -> Record) {
        if let Some((last, others)) = self.recorders.split_last() {
            let record = record();
            for recorder in others {
                recorder.record(record.clone());
            }
            last.record(record);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock leaves plain data behind, still usable.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn history_capacity(&self) -> usize {
        let fastest = self.live_interval.min(self.idle_interval).max(Duration::from_millis(1));
        (self.history_window.as_millis() / fastest.as_millis()) as usize + 1
    }

    /// Subscribes to `project`: its history so far (with a first frame built from
    /// the newest sample when the project is new) and a receiver of newer frames.
    /// Taken under one lock, so no frame is missed or sent twice.
    pub fn subscribe(&self, project: &ProjectName) -> Result<Subscription, SubscribeError> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let sections = inner.last.as_deref().map(HostSample::sections);
        let entry = inner.entry(project)?;
        entry.touch();
        if entry.history.is_empty()
            && let Some(sections) = &sections
        {
            entry.push(self, project, sections, Instant::now());
        }
        let history = (!entry.history.is_empty()).then(|| entry.history.message(MAX_MESSAGE_BYTES));
        let status = entry.run().status;
        Ok(Subscription { history, frames: entry.frames.subscribe(), status })
    }

    /// Publishes one host sample: updates runs from it, then pushes a frame to
    /// every project that is due.
    pub fn publish(&self, sample: HostSample) {
        let now = Instant::now();
        let sections = sample.sections();
        let sample = Arc::new(sample);
        let cores = sample.cpu.per_core.len();
        let mut cadence_changed = false;
        let mut ended = Vec::new();
        let mut ticked = Vec::new();
        let mut inner = self.lock();
        self.finish_transcripts(&mut inner, now, &mut ended);
        inner.projects.retain(|_, project| project.is_kept(now));
        // Idle projects ride on a faster tick when another project is live; half a
        // live interval of slack keeps them from slipping a whole tick late.
        let slack = self.live_interval / 2;
        let mut finishing = Vec::new();
        for (name, project) in inner.projects.iter_mut() {
            let mut index = 0;
            // What the runs' transcripts changed this tick, for the session.
            let mut added = 0i64;
            while let Some(tracked) = project.live.get_mut(index) {
                // Only a reading that changed is taken in: the tick copies nothing
                // while the agent writes nothing.
                if let (Some((version, found)), Some(prices)) = (
                    self.transcripts_changed(&tracked.summary.run_id, tracked.transcripts_seen),
                    self.prices(),
                ) {
                    tracked.transcripts_seen = version;
                    added = added.saturating_add(tracked.take_transcripts(&found, prices));
                }
                match tracked.run.pid.and_then(|pid| sample.runs.get(&pid)) {
                    // Not measured this tick (it started after the tick began).
                    None => index += 1,
                    Some(Some(tree)) => {
                        ticked.push((tracked.measure(&sample, tree, now, cores), tree.clone()));
                        index += 1;
                    }
                    Some(None) => {
                        tracing::info!("run {} of project {name} exited", tracked.summary.run_id);
                        finishing.push((name.clone(), tracked.summary.run_id.clone()));
                        tracked.end(sample.taken_at, shared::api::RunOutcome::Exited, cores);
                        ended.push(tracked.summary.clone());
                        project.retire(index);
                        cadence_changed = true;
                    }
                }
            }
            project.add_session_tokens(added);
            let shown = project.run();
            let due = project.is_live()
                || project.last_sent_run.as_ref() != Some(&(shown.run_id, shown.status))
                || project
                    .last_sent
                    .is_none_or(|at| now.saturating_duration_since(at) + slack >= self.idle_interval);
            if due {
                project.push(self, name, &sections, now);
            }
        }
        for (name, run_id) in finishing {
            self.read_transcripts_once_more(&mut inner, name, run_id, now);
        }
        inner.last = Some(sample.clone());
        drop(inner);
        self.remember(|| Record::Tick { sample, runs: ticked });
        for summary in ended {
            self.remember(|| Record::Run(summary));
        }
        if cadence_changed {
            self.cadence.notify_one();
        }
    }

    /// Tells every watching client about a server-side fault. The message takes
    /// the place of the newest frame (it is not history); the next sample
    /// replaces it.
    pub fn broadcast_error(&self, error: ErrorMsg) {
        let text = match serde_json::to_string(&ServerMsg::Error(error)) {
            Ok(text) => Frame::from(text),
            Err(err) => {
                tracing::error!("could not serialise an error: {err}");
                return;
            }
        };
        for project in self.lock().projects.values() {
            project.frames.send_replace(Some(text.clone()));
        }
    }

    /// How long the tick loop should wait before the next sample.
    pub fn interval(&self) -> Duration {
        let live = self.lock().projects.values().any(Project::is_live);
        if live { self.live_interval } else { self.idle_interval }
    }

    /// The root pids of every live run, for the tick loop to measure.
    pub fn live_pids(&self) -> Vec<u32> {
        let inner = self.lock();
        let mut pids: Vec<u32> =
            inner.projects.values().flat_map(|p| &p.live).filter_map(|t| t.run.pid).collect();
        // One process may be the run of several projects: measured once.
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// The project's newest sample; built from the newest host sample when nothing
    /// has been pushed for it yet. `None` before the first sample.
    pub fn latest(&self, project: &ProjectName) -> Option<PerfMetrics> {
        let inner = self.lock();
        let sections = || inner.last.as_deref().map(HostSample::sections);
        match inner.projects.get(project) {
            Some(p) => p
                .latest
                .clone()
                .or_else(|| sections().map(|s| p.metrics(self, project, &s, p.interval(self)))),
            None => sections().map(|s| Project::new().metrics(self, project, &s, self.idle_interval)),
        }
    }

    /// The newest host sample, exactly as read.
    pub fn latest_sample(&self) -> Option<Arc<HostSample>> {
        self.lock().last.clone()
    }

    /// The newest host sample and every tracked project, exactly as read.
    pub fn snapshot(&self) -> (Option<Arc<HostSample>>, Vec<ProjectSnapshot>) {
        let inner = self.lock();
        let projects = inner
            .projects
            .iter()
            .filter(|(_, p)| p.latest.is_some())
            .map(|(name, p)| ProjectSnapshot {
                name: name.clone(),
                live: p.is_live(),
                live_runs: p.live.iter().map(|t| t.summary.run_id.clone()).collect(),
                tree: p.tree().cloned(),
                tokens: p.tokens(),
            })
            .collect();
        (inner.last.clone(), projects)
    }
}

/// An id no earlier start of this server had: the start time in microseconds and
/// the pid, in hex.
fn new_instance() -> String {
    let micros = chrono::Utc::now().timestamp_micros();
    format!("{micros:x}-{:x}", std::process::id())
}

impl Sink for Hub {
    fn interval(&self) -> Duration {
        Hub::interval(self)
    }

    fn live_pids(&self) -> Vec<u32> {
        Hub::live_pids(self)
    }

    async fn cadence_changed(&self) {
        self.cadence.notified().await
    }

    fn publish(&self, sample: HostSample) {
        Hub::publish(self, sample)
    }

    fn sampling_failed(&self) {
        self.broadcast_error(ErrorMsg {
            code: shared::ErrorCode::SamplerRestarted,
            message: "sampling failed; the sampler was restarted and data resumes next tick".into(),
        });
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn hub() -> Hub {
        Hub::new(Duration::from_secs(1), Duration::from_secs(3), Duration::from_secs(600))
    }

    pub fn name(s: &str) -> ProjectName {
        ProjectName::parse(s).expect("valid name")
    }

    fn sample(ts: &str) -> HostSample {
        let mut sample = HostSample {
            taken_at: chrono::DateTime::parse_from_rfc3339(ts).expect("time").to_utc(),
            ..HostSample::default()
        };
        sample.cpu.percent = Some(12.5);
        sample
    }

    fn decode(frame: &Option<Frame>) -> PerfMetrics {
        let text = frame.as_ref().expect("a frame");
        match serde_json::from_str::<ServerMsg>(text.as_str()).expect("valid json") {
            ServerMsg::PerfMetrics(m) => m,
            other => panic!("expected perf_metrics, got {other:?}"),
        }
    }

    fn history_of(sub: Subscription) -> shared::History {
        match serde_json::from_str(sub.history.expect("history").as_str()).expect("decode") {
            ServerMsg::History(h) => h,
            other => panic!("expected history, got {other:?}"),
        }
    }

    #[test]
    fn subscribers_of_one_project_share_one_frame() {
        let hub = hub();
        let a = hub.subscribe(&name("demo")).expect("subscribe").frames;
        let b = hub.subscribe(&name("demo")).expect("subscribe").frames;
        hub.publish(sample("2026-01-01T00:00:00Z"));
        let (fa, fb) = (a.borrow().clone(), b.borrow().clone());
        assert_eq!(fa, fb);
        let m = decode(&fa);
        assert_eq!(m.project, "demo");
        assert_eq!(m.timestamp.as_str(), "2026-01-01T00:00:00.000Z");
        assert_eq!((m.seq, m.interval_ms), (1, 3000));
        assert_eq!(m.cpu.percent, Some(12.5));
    }

    #[test]
    fn every_start_of_the_server_has_its_own_instance() {
        let (first, second) = (hub(), hub());
        first.publish(sample("2026-01-01T00:00:00Z"));
        second.publish(sample("2026-01-01T00:00:00Z"));
        let a = first.latest(&name("p")).expect("a sample");
        let b = second.latest(&name("p")).expect("a sample");
        assert!(!a.instance.is_empty());
        assert_ne!(a.instance, b.instance, "a restarted server is told apart by its instance");
        assert_eq!((a.seq, b.seq), (1, 1), "while seq starts again");
    }

    #[test]
    fn a_late_subscriber_gets_the_newest_sample_as_history_at_once() {
        let hub = hub();
        hub.publish(sample("2026-01-01T00:00:00Z"));
        let sub = hub.subscribe(&name("late")).expect("subscribe");
        // The receiver has already seen that frame: it must not be sent twice.
        assert!(!sub.frames.has_changed().expect("sender alive"));
        let h = history_of(sub);
        assert_eq!(h.samples.len(), 1);
        assert_eq!(h.samples[0].project, "late");
    }

    #[test]
    fn the_replay_leaves_the_depth_out_and_the_live_frame_keeps_it() {
        let hub = hub();
        let project = name("depth");
        let live = hub.subscribe(&project).expect("subscribe").frames;
        let mut deep = sample("2026-01-01T00:00:00Z");
        deep.depth.pressure.available = true;
        deep.depth.sockets.tcp_listen = Some(2);
        hub.publish(deep);
        let text = live.borrow().clone().expect("a frame");
        assert!(text.as_str().contains("\"pressure\"") && text.as_str().contains("\"tcp_listen\":2"));
        let m = decode(&Some(text));
        assert!(m.pressure.available);
        let replay = hub.subscribe(&project).expect("subscribe").history.expect("history");
        assert!(!replay.as_str().contains("\"pressure\""), "{}", replay.as_str());
        let h = history_of(hub.subscribe(&project).expect("subscribe"));
        assert_eq!(h.samples[0].cpu.percent, Some(12.5), "the totals are replayed");
        assert_eq!(h.samples[0].pressure, Default::default(), "the depth is not");
        assert!(hub.latest(&project).expect("latest").pressure.available, "the latest keeps it");
    }

    #[test]
    fn history_replays_every_pushed_sample_in_order() {
        let hub = hub();
        let project = name("replay");
        let _keep = hub.subscribe(&project).expect("subscribe");
        hub.start_run(&project, std::process::id(), None).expect("start");
        for second in 0..5 {
            hub.publish(sample(&format!("2026-01-01T00:00:0{second}Z")));
        }
        let seqs: Vec<u64> =
            history_of(hub.subscribe(&project).expect("subscribe")).samples.iter().map(|m| m.seq).collect();
        assert_eq!(seqs, [1, 2, 3, 4, 5]);
    }

    #[test]
    fn idle_projects_are_not_pushed_faster_than_the_idle_cadence() {
        let hub = hub();
        let rx = hub.subscribe(&name("idle")).expect("subscribe").frames;
        hub.publish(sample("2026-01-01T00:00:00Z"));
        hub.publish(sample("2026-01-01T00:00:01Z"));
        assert_eq!(decode(&rx.borrow()).timestamp.as_str(), "2026-01-01T00:00:00.000Z");
    }

    #[test]
    fn live_projects_are_pushed_every_tick_and_set_the_cadence() {
        let hub = hub();
        let project = name("busy");
        let rx = hub.subscribe(&project).expect("subscribe").frames;
        assert_eq!(hub.interval(), Duration::from_secs(3));
        let run = hub.start_run(&project, 42, None).expect("start");
        assert_eq!(run.run_id, Some(format!("42-{}", run.started_at.as_ref().expect("started").as_str())));
        assert_eq!(hub.interval(), Duration::from_secs(1));
        assert_eq!(hub.live_pids(), [42]);
        let mut s = sample("2026-01-01T00:00:00Z");
        s.runs.insert(42, Some(TreeReading { process_count: 2, ..TreeReading::default() }));
        hub.publish(s);
        hub.publish(sample("2026-01-01T00:00:01Z"));
        let m = decode(&rx.borrow());
        assert_eq!(m.timestamp.as_str(), "2026-01-01T00:00:01.000Z");
        assert_eq!((m.run.status, m.run.pid, m.interval_ms), (RunStatus::Running, Some(42), 1000));
        assert_eq!(m.run.process.map(|p| p.process_count), Some(2));
    }

    #[test]
    fn an_exited_run_is_stopped_and_the_cadence_drops_to_idle() {
        let hub = hub();
        let project = name("exits");
        let rx = hub.subscribe(&project).expect("subscribe").frames;
        hub.start_run(&project, 42, None).expect("start");
        hub.publish(sample("2026-01-01T00:00:00Z"));
        let mut s = sample("2026-01-01T00:00:01Z");
        s.runs.insert(42, None);
        hub.publish(s);
        assert_eq!(hub.run(&project).status, RunStatus::Stopped);
        // Pushed at once, not an idle interval later.
        let m = decode(&rx.borrow());
        assert_eq!((m.timestamp.as_str(), m.run.status), ("2026-01-01T00:00:01.000Z", RunStatus::Stopped));
        assert_eq!(hub.interval(), Duration::from_secs(3));
        assert!(hub.live_pids().is_empty());
    }

    #[test]
    fn the_project_count_is_capped() {
        let hub = hub();
        let mut subs = Vec::new();
        for i in 0..MAX_PROJECTS {
            subs.push(hub.subscribe(&name(&format!("p{i}"))).expect("room"));
        }
        assert_eq!(hub.subscribe(&name("one-too-many")).err(), Some(SubscribeError::TooManyProjects));
        // Existing projects still subscribe.
        assert!(hub.subscribe(&name("p0")).is_ok());
        // One nobody watches any more gives up its place: the one watched
        // longest ago, never one still watched.
        drop(subs.remove(7));
        drop(subs.remove(7));
        subs.push(hub.subscribe(&name("new")).expect("p7 or p8 made room"));
        let kept = hub.lock().projects.keys().filter(|p| ["p7", "p8"].contains(&p.as_str())).count();
        assert_eq!(kept, 1);
        subs.push(hub.subscribe(&name("newer")).expect("the other made room"));
        assert_eq!(hub.subscribe(&name("newest")).err(), Some(SubscribeError::TooManyProjects));
    }
}
