//! Every project's run, token usage, recent history and stream of frames.
//!
//! The sampler calls [`Hub::publish`] once per tick; the hub turns the host sample
//! into one `perf_metrics` message per due project, serialises it once, keeps it
//! in the project's history ring and stores it in the project's `watch` channel.
//! Sockets hold receivers: each sees the newest frame, and a slow socket skips to
//! it instead of queueing history.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::ws::Utf8Bytes;
use shared::{ErrorMsg, PerfMetrics, Run, RunStatus, ServerMsg, Tokens};
use tokio::sync::{Notify, watch};

use crate::project::ProjectName;
use crate::sampler::{self, HostSample};

/// A serialised server message, shared by every socket of a project (cloning is
/// a reference-count increment, not a copy).
pub type Frame = Utf8Bytes;

/// The most projects tracked at once: names come from clients, so the set must
/// not grow without bound.
pub const MAX_PROJECTS: usize = 256;

/// How long a project nobody watches keeps its history, so a reload finds it.
const FORGET_AFTER: Duration = Duration::from_secs(600);

/// Projects and their frame channels.
#[derive(Debug)]
pub struct Hub {
    /// Cadence while any run is live.
    live_interval: Duration,
    /// Cadence for projects whose run is not live.
    idle_interval: Duration,
    /// How much history each project keeps.
    history_window: Duration,
    /// Locked briefly, never across an `.await`.
    inner: Mutex<Inner>,
    /// Wakes the sampler when the cadence may have changed.
    cadence: Notify,
}

#[derive(Debug, Default)]
struct Inner {
    /// Projects that have a subscriber, a run, tokens, or recent watchers.
    projects: HashMap<ProjectName, Project>,
    /// The newest host sample, so a new subscriber gets data at once.
    last: Option<HostSample>,
}

#[derive(Debug)]
struct Project {
    /// The project's agent run.
    run: Run,
    /// Token usage reported for the project.
    tokens: Tokens,
    /// The newest frame; `None` until the first sample after subscription.
    frames: watch::Sender<Option<Frame>>,
    /// Recent frames with when they were pushed, oldest first.
    history: VecDeque<(Instant, Frame)>,
    /// The newest sample as data, for the JSON and Prometheus endpoints.
    latest: Option<PerfMetrics>,
    /// Frames pushed so far; the next frame's `seq` is one more.
    seq: u64,
    /// When a frame was last pushed, to space idle projects at the idle cadence.
    last_sent: Option<Instant>,
    /// When a socket last watched, to forget abandoned projects.
    last_watched: Instant,
}

/// Why a subscription was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SubscribeError {
    /// [`MAX_PROJECTS`] projects are already tracked.
    #[error("too many projects are being watched (at most {MAX_PROJECTS})")]
    TooManyProjects,
}

/// Why a run could not change as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    /// A live run is already registered for the project.
    #[error("project already has a live run (pid {0}); end it first")]
    AlreadyLive(u32),
    /// The project has no live run to act on.
    #[error("project has no live run")]
    NotLive,
    /// Too many projects are tracked.
    #[error(transparent)]
    Subscribe(#[from] SubscribeError),
}

impl Project {
    fn new() -> Self {
        Project {
            run: Run::default(),
            tokens: Tokens::default(),
            frames: watch::Sender::new(None),
            history: VecDeque::new(),
            latest: None,
            seq: 0,
            last_sent: None,
            last_watched: Instant::now(),
        }
    }

    fn is_kept(&self, now: Instant) -> bool {
        self.frames.receiver_count() > 0
            || self.run.status.is_live()
            || now.duration_since(self.last_watched) < FORGET_AFTER
    }

    fn interval(&self, hub: &Hub) -> Duration {
        if self.run.status.is_live() { hub.live_interval } else { hub.idle_interval }
    }

    fn metrics(&self, name: &ProjectName, sample: &HostSample, interval: Duration) -> PerfMetrics {
        let mut run = self.run.clone();
        if !run.status.is_live() {
            run.process = None;
        }
        PerfMetrics {
            timestamp: sample.timestamp.clone(),
            project: name.to_string(),
            run,
            tokens: self.tokens.clone(),
            cpu: sample.cpu.clone(),
            memory: sample.memory.clone(),
            gpu: sample.gpu.clone(),
            seq: self.seq + 1,
            interval_ms: interval.as_millis() as u64,
            network: sample.network.clone(),
            disk: sample.disk.clone(),
            monitor: sample.monitor.clone(),
        }
    }

    fn push(&mut self, hub: &Hub, name: &ProjectName, sample: &HostSample, now: Instant) {
        let metrics = self.metrics(name, sample, self.interval(hub));
        let msg = ServerMsg::PerfMetrics(metrics);
        let text = match serde_json::to_string(&msg) {
            Ok(text) => text,
            // Plain data always serialises; if that ever changes, skip one frame
            // rather than end the stream.
            Err(err) => {
                tracing::error!("could not serialise perf_metrics: {err}");
                return;
            }
        };
        let ServerMsg::PerfMetrics(metrics) = msg else {
            return;
        };
        let frame = Frame::from(text);
        self.seq = metrics.seq;
        self.latest = Some(metrics);
        self.last_sent = Some(now);
        self.history.push_back((now, frame.clone()));
        while self.history.front().is_some_and(|(at, _)| now.duration_since(*at) > hub.history_window) {
            self.history.pop_front();
        }
        // Bounded by count too, whatever the clock does.
        let cap = hub.history_capacity();
        while self.history.len() > cap {
            self.history.pop_front();
        }
        self.frames.send_replace(Some(frame));
    }
}

/// What a new socket starts from.
#[derive(Debug)]
pub struct Subscription {
    /// The project's recent samples as one `history` message, if there are any.
    pub history: Option<Frame>,
    /// Newer frames; the current one is already in `history`.
    pub frames: watch::Receiver<Option<Frame>>,
}

impl Hub {
    /// An empty hub with the given cadence and history window.
    pub fn new(live_interval: Duration, idle_interval: Duration, history_window: Duration) -> Self {
        Hub { live_interval, idle_interval, history_window, inner: Mutex::default(), cadence: Notify::new() }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock leaves plain data behind, still usable.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn history_capacity(&self) -> usize {
        let fastest = self.live_interval.min(self.idle_interval).max(Duration::from_millis(1));
        (self.history_window.as_millis() / fastest.as_millis()) as usize + 1
    }

    /// The project's entry, created if there is room.
    fn entry<'a>(inner: &'a mut Inner, project: &ProjectName) -> Result<&'a mut Project, SubscribeError> {
        if !inner.projects.contains_key(project) && inner.projects.len() >= MAX_PROJECTS {
            return Err(SubscribeError::TooManyProjects);
        }
        Ok(inner.projects.entry(project.clone()).or_insert_with(Project::new))
    }

    /// Subscribes to `project`: its history so far (with a first frame built from
    /// the newest sample when the project is new) and a receiver of newer frames.
    /// Taken under one lock, so no frame is missed or sent twice.
    pub fn subscribe(&self, project: &ProjectName) -> Result<Subscription, SubscribeError> {
        let mut inner = self.lock();
        let last = inner.last.clone();
        let entry = Self::entry(&mut inner, project)?;
        entry.last_watched = Instant::now();
        if entry.history.is_empty()
            && let Some(sample) = &last
        {
            entry.push(self, project, sample, Instant::now());
        }
        let history = (!entry.history.is_empty()).then(|| history_frame(&entry.history));
        Ok(Subscription { history, frames: entry.frames.subscribe() })
    }

    /// Publishes one host sample: updates runs from it, then pushes a frame to
    /// every project that is due.
    pub fn publish(&self, sample: HostSample) {
        let now = Instant::now();
        let mut cadence_changed = false;
        let mut inner = self.lock();
        inner.projects.retain(|_, project| project.is_kept(now));
        // Idle projects ride on a faster tick when another project is live; half a
        // live interval of slack keeps them from slipping a whole tick late.
        let slack = self.live_interval / 2;
        for (name, project) in inner.projects.iter_mut() {
            if project.run.status.is_live()
                && let Some(pid) = project.run.pid
                && let Some(reading) = sample.runs.get(&pid)
            {
                match reading {
                    Some(usage) => project.run.process = Some(usage.clone()),
                    None => {
                        tracing::info!("run of project {name} (pid {pid}) exited");
                        project.run.status = RunStatus::Stopped;
                        project.run.process = None;
                        cadence_changed = true;
                    }
                }
            }
            let due = project.run.status.is_live()
                || project.last_sent.is_none_or(|at| now.duration_since(at) + slack >= self.idle_interval);
            if due {
                project.push(self, name, &sample, now);
            }
        }
        inner.last = Some(sample);
        drop(inner);
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

    /// How long the sampler should wait before the next sample.
    pub fn interval(&self) -> Duration {
        let live = self.lock().projects.values().any(|p| p.run.status.is_live());
        if live { self.live_interval } else { self.idle_interval }
    }

    /// Resolves when a run's status changed, so the sampler can switch cadence at once.
    pub async fn cadence_changed(&self) {
        self.cadence.notified().await
    }

    /// The root pids of every live run, for the sampler to measure.
    pub fn live_pids(&self) -> Vec<u32> {
        let inner = self.lock();
        inner.projects.values().filter(|p| p.run.status.is_live()).filter_map(|p| p.run.pid).collect()
    }

    /// Starts a run of `pid` for `project`, now. Refused while another run is live.
    pub fn start_run(&self, project: &ProjectName, pid: u32) -> Result<Run, RunError> {
        let mut inner = self.lock();
        let entry = Self::entry(&mut inner, project)?;
        if entry.run.status.is_live() {
            return Err(RunError::AlreadyLive(entry.run.pid.unwrap_or_default()));
        }
        let started_at = sampler::now_seconds();
        entry.run = Run {
            status: RunStatus::Running,
            pid: Some(pid),
            run_id: Some(format!("{pid}-{}", started_at.as_str())),
            started_at: Some(started_at),
            process: None,
        };
        // A new run counts its own tokens; the session total carries on.
        entry.tokens.current_run = 0;
        let run = entry.run.clone();
        drop(inner);
        self.cadence.notify_one();
        Ok(run)
    }

    /// Sets the live run's status (paused, running, stopped) and returns the run.
    pub fn set_status(&self, project: &ProjectName, status: RunStatus) -> Result<Run, RunError> {
        let mut inner = self.lock();
        let entry =
            inner.projects.get_mut(project).filter(|p| p.run.status.is_live()).ok_or(RunError::NotLive)?;
        entry.run.status = status;
        if !status.is_live() {
            entry.run.process = None;
        }
        let run = entry.run.clone();
        drop(inner);
        self.cadence.notify_one();
        Ok(run)
    }

    /// The project's run as it stands.
    pub fn run(&self, project: &ProjectName) -> Run {
        self.lock().projects.get(project).map(|p| p.run.clone()).unwrap_or_default()
    }

    /// Adds `tokens` to the current run and the session total.
    pub fn add_tokens(&self, project: &ProjectName, tokens: u64) -> Result<Tokens, SubscribeError> {
        let mut inner = self.lock();
        let entry = Self::entry(&mut inner, project)?;
        entry.tokens.current_run = entry.tokens.current_run.saturating_add(tokens);
        entry.tokens.total_session = entry.tokens.total_session.saturating_add(tokens);
        entry.tokens.available = true;
        // Token counts outlive the watchers' absence for as long as history does.
        entry.last_watched = Instant::now();
        Ok(entry.tokens.clone())
    }

    /// The project's newest sample; built from the newest host sample when nothing
    /// has been pushed for it yet. `None` before the first sample.
    pub fn latest(&self, project: &ProjectName) -> Option<PerfMetrics> {
        let inner = self.lock();
        match inner.projects.get(project) {
            Some(p) => p
                .latest
                .clone()
                .or_else(|| inner.last.as_ref().map(|s| p.metrics(project, s, p.interval(self)))),
            None => inner.last.as_ref().map(|s| Project::new().metrics(project, s, self.idle_interval)),
        }
    }

    /// Every tracked project's newest sample, and the newest host sample.
    pub fn snapshot(&self) -> (Option<HostSample>, Vec<PerfMetrics>) {
        let inner = self.lock();
        let projects = inner.projects.values().filter_map(|p| p.latest.clone()).collect();
        (inner.last.clone(), projects)
    }

    /// The number of projects the hub currently tracks.
    pub fn project_count(&self) -> usize {
        self.lock().projects.len()
    }
}

/// One `history` message from stored frames, without decoding them: each stored
/// frame is a whole `perf_metrics` object, and a history sample is the same object
/// (its extra `"type"` field is ignored when decoded as [`PerfMetrics`]).
fn history_frame(history: &VecDeque<(Instant, Frame)>) -> Frame {
    let size: usize = history.iter().map(|(_, f)| f.len() + 1).sum();
    let mut text = String::with_capacity(size + 32);
    text.push_str(r#"{"type":"history","samples":["#);
    for (i, (_, frame)) in history.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(frame.as_str());
    }
    text.push_str("]}");
    Frame::from(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::{Cpu, Memory, RunProcess, Timestamp};

    fn hub() -> Hub {
        Hub::new(Duration::from_secs(1), Duration::from_secs(3), Duration::from_secs(600))
    }

    fn sample(ts: &str) -> HostSample {
        HostSample {
            timestamp: Timestamp(ts.into()),
            cpu: Cpu { percent: Some(12.5), ..Cpu::default() },
            memory: Memory {
                used_gb: Some(1.0),
                total_gb: Some(2.0),
                percent: Some(50.0),
                ..Memory::default()
            },
            ..HostSample::default()
        }
    }

    fn decode(frame: &Option<Frame>) -> PerfMetrics {
        let text = frame.as_ref().expect("a frame");
        match serde_json::from_str::<ServerMsg>(text.as_str()).expect("valid json") {
            ServerMsg::PerfMetrics(m) => m,
            other => panic!("expected perf_metrics, got {other:?}"),
        }
    }

    fn name(s: &str) -> ProjectName {
        ProjectName::parse(s).expect("valid name")
    }

    #[test]
    fn subscribers_of_one_project_share_one_frame() {
        let hub = hub();
        let a = hub.subscribe(&name("demo")).expect("subscribe").frames;
        let b = hub.subscribe(&name("demo")).expect("subscribe").frames;
        hub.publish(sample("2026-01-01T00:00:00.000Z"));
        let (fa, fb) = (a.borrow().clone(), b.borrow().clone());
        assert_eq!(fa, fb);
        let m = decode(&fa);
        assert_eq!(m.project, "demo");
        assert_eq!(m.timestamp.as_str(), "2026-01-01T00:00:00.000Z");
        assert_eq!((m.seq, m.interval_ms), (1, 3000));
    }

    #[test]
    fn a_late_subscriber_gets_the_newest_sample_as_history_at_once() {
        let hub = hub();
        hub.publish(sample("2026-01-01T00:00:00.000Z"));
        let sub = hub.subscribe(&name("late")).expect("subscribe");
        let history = sub.history.expect("history");
        let ServerMsg::History(h) = serde_json::from_str(history.as_str()).expect("history decodes") else {
            panic!("expected history")
        };
        assert_eq!(h.samples.len(), 1);
        assert_eq!(h.samples[0].project, "late");
        // The receiver has already seen that frame: it must not be sent twice.
        assert!(!sub.frames.has_changed().expect("sender alive"));
    }

    #[test]
    fn history_replays_every_pushed_sample_in_order() {
        let hub = hub();
        let project = name("replay");
        let _keep = hub.subscribe(&project).expect("subscribe");
        hub.start_run(&project, std::process::id()).expect("start");
        for second in 0..5 {
            hub.publish(sample(&format!("2026-01-01T00:00:0{second}.000Z")));
        }
        let sub = hub.subscribe(&project).expect("subscribe");
        let ServerMsg::History(h) =
            serde_json::from_str(sub.history.expect("history").as_str()).expect("decode")
        else {
            panic!("expected history")
        };
        let seqs: Vec<u64> = h.samples.iter().map(|m| m.seq).collect();
        assert_eq!(seqs, [1, 2, 3, 4, 5]);
    }

    #[test]
    fn history_is_bounded_by_the_window() {
        let hub = Hub::new(Duration::from_millis(100), Duration::from_millis(100), Duration::from_secs(1));
        let project = name("bounded");
        let _keep = hub.subscribe(&project).expect("subscribe");
        hub.start_run(&project, std::process::id()).expect("start");
        for i in 0..100 {
            hub.publish(sample(&format!("2026-01-01T00:00:00.{i:03}Z")));
        }
        let sub = hub.subscribe(&project).expect("subscribe");
        let ServerMsg::History(h) =
            serde_json::from_str(sub.history.expect("history").as_str()).expect("decode")
        else {
            panic!("expected history")
        };
        assert_eq!(h.samples.len(), 11, "1 s of 100 ms samples, plus the newest");
        assert_eq!(h.samples.last().map(|m| m.seq), Some(100));
    }

    #[test]
    fn idle_projects_are_not_pushed_faster_than_the_idle_cadence() {
        let hub = hub();
        let rx = hub.subscribe(&name("idle")).expect("subscribe").frames;
        hub.publish(sample("2026-01-01T00:00:00.000Z"));
        hub.publish(sample("2026-01-01T00:00:01.000Z"));
        assert_eq!(decode(&rx.borrow()).timestamp.as_str(), "2026-01-01T00:00:00.000Z");
    }

    #[test]
    fn live_projects_are_pushed_every_tick_and_set_the_cadence() {
        let hub = hub();
        let project = name("busy");
        let rx = hub.subscribe(&project).expect("subscribe").frames;
        assert_eq!(hub.interval(), Duration::from_secs(3));
        let run = hub.start_run(&project, 42).expect("start");
        assert_eq!(run.run_id, Some(format!("42-{}", run.started_at.as_ref().expect("started").as_str())));
        assert_eq!(hub.interval(), Duration::from_secs(1));
        assert_eq!(hub.live_pids(), [42]);
        let mut s = sample("2026-01-01T00:00:00.000Z");
        s.runs.insert(42, Some(RunProcess { process_count: 2, ..RunProcess::default() }));
        hub.publish(s);
        hub.publish(sample("2026-01-01T00:00:01.000Z"));
        let m = decode(&rx.borrow());
        assert_eq!(m.timestamp.as_str(), "2026-01-01T00:00:01.000Z");
        assert_eq!((m.run.status, m.run.pid, m.interval_ms), (RunStatus::Running, Some(42), 1000));
        assert_eq!(m.run.process.map(|p| p.process_count), Some(2));
    }

    #[test]
    fn an_exited_run_is_stopped_and_the_cadence_drops_to_idle() {
        let hub = hub();
        let project = name("exits");
        hub.start_run(&project, 42).expect("start");
        let mut s = sample("2026-01-01T00:00:00.000Z");
        s.runs.insert(42, None);
        hub.publish(s);
        assert_eq!(hub.run(&project).status, RunStatus::Stopped);
        assert_eq!(hub.interval(), Duration::from_secs(3));
        assert!(hub.live_pids().is_empty());
    }

    #[test]
    fn a_second_live_run_is_refused() {
        let hub = hub();
        let project = name("one-at-a-time");
        hub.start_run(&project, 1).expect("start");
        assert_eq!(hub.start_run(&project, 2), Err(RunError::AlreadyLive(1)));
        hub.set_status(&project, RunStatus::Stopped).expect("stop");
        assert!(hub.start_run(&project, 2).is_ok());
    }

    #[test]
    fn tokens_add_to_run_and_session_and_a_new_run_resets_only_the_run() {
        let hub = hub();
        let project = name("tokens");
        assert!(!hub.latest(&project).map(|m| m.tokens.available).unwrap_or(false));
        hub.start_run(&project, 1).expect("start");
        hub.add_tokens(&project, 100).expect("add");
        let t = hub.add_tokens(&project, 50).expect("add");
        assert_eq!((t.current_run, t.total_session, t.available), (150, 150, true));
        hub.set_status(&project, RunStatus::Stopped).expect("stop");
        hub.start_run(&project, 2).expect("start again");
        let t = hub.add_tokens(&project, 10).expect("add");
        assert_eq!((t.current_run, t.total_session), (10, 160));
    }

    #[test]
    fn pause_and_resume_need_a_live_run() {
        let hub = hub();
        let project = name("pausable");
        assert_eq!(hub.set_status(&project, RunStatus::Paused), Err(RunError::NotLive));
        hub.start_run(&project, 7).expect("start");
        assert_eq!(hub.set_status(&project, RunStatus::Paused).map(|r| r.status), Ok(RunStatus::Paused));
        assert_eq!(hub.interval(), Duration::from_secs(1), "paused is still live");
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
    }
}
