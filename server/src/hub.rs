//! Every project's run state and its stream of frames.
//!
//! The sampler calls [`Hub::publish`] once per tick; the hub turns the host sample
//! into one `perf_metrics` message per watched project, serialises it once, and
//! stores it in that project's `watch` channel. Sockets hold receivers: each sees
//! the newest frame, and a slow socket skips to it instead of queueing history.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::ws::Utf8Bytes;
use shared::{PerfMetrics, Run, ServerMsg, Tokens};
use tokio::sync::{Notify, watch};

use crate::project::ProjectName;
use crate::sampler::HostSample;

/// A serialised `perf_metrics` message, shared by every socket of a project
/// (cloning is a reference-count increment, not a copy).
pub type Frame = Utf8Bytes;

/// Projects and their frame channels.
#[derive(Debug)]
pub struct Hub {
    /// Cadence while any run is live.
    live_interval: Duration,
    /// Cadence for projects whose run is not live.
    idle_interval: Duration,
    /// Locked briefly, never across an `.await`.
    inner: Mutex<Inner>,
    /// Wakes the sampler when the cadence may have changed.
    cadence: Notify,
}

#[derive(Debug, Default)]
struct Inner {
    /// Projects that have a subscriber or a run.
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
    /// When a frame was last pushed, to space idle projects at the idle cadence.
    last_sent: Option<Instant>,
}

impl Project {
    fn new() -> Self {
        Project {
            run: Run::default(),
            tokens: Tokens::default(),
            frames: watch::Sender::new(None),
            last_sent: None,
        }
    }

    fn is_kept(&self) -> bool {
        self.frames.receiver_count() > 0 || self.run.status.is_live() || self.tokens.available
    }

    fn push(&mut self, name: &ProjectName, sample: &HostSample, now: Instant) {
        let msg = ServerMsg::PerfMetrics(PerfMetrics {
            timestamp: sample.timestamp.clone(),
            project: name.to_string(),
            run: self.run.clone(),
            tokens: self.tokens.clone(),
            cpu: sample.cpu.clone(),
            memory: sample.memory.clone(),
            gpu: sample.gpu.clone(),
        });
        match serde_json::to_string(&msg) {
            Ok(text) => {
                self.frames.send_replace(Some(Frame::from(text)));
                self.last_sent = Some(now);
            }
            // Plain data always serialises; if that ever changes, skip one frame
            // rather than end the stream.
            Err(err) => tracing::error!("could not serialise perf_metrics: {err}"),
        }
    }
}

impl Hub {
    /// An empty hub with the given cadence.
    pub fn new(live_interval: Duration, idle_interval: Duration) -> Self {
        Hub {
            live_interval,
            idle_interval,
            inner: Mutex::default(),
            cadence: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock leaves plain data behind, still usable.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A receiver of `project`'s frames, already holding a frame built from the
    /// newest sample when there is one.
    pub fn subscribe(&self, project: &ProjectName) -> watch::Receiver<Option<Frame>> {
        let mut inner = self.lock();
        let Inner { projects, last } = &mut *inner;
        let entry = projects.entry(project.clone()).or_insert_with(Project::new);
        if entry.frames.borrow().is_none()
            && let Some(sample) = last
        {
            entry.push(project, sample, Instant::now());
        }
        entry.frames.subscribe()
    }

    /// Publishes one host sample: a frame for every project that is due.
    pub fn publish(&self, sample: HostSample) {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.projects.retain(|_, project| project.is_kept());
        // Idle projects ride on a faster tick when another project is live; half a
        // live interval of slack keeps them from slipping a whole tick late.
        let slack = self.live_interval / 2;
        for (name, project) in inner.projects.iter_mut() {
            let due = project.run.status.is_live()
                || project
                    .last_sent
                    .is_none_or(|at| now.duration_since(at) + slack >= self.idle_interval);
            if due && project.frames.receiver_count() > 0 {
                project.push(name, &sample, now);
            }
        }
        inner.last = Some(sample);
    }

    /// How long the sampler should wait before the next sample.
    pub fn interval(&self) -> Duration {
        let live = self
            .lock()
            .projects
            .values()
            .any(|p| p.run.status.is_live());
        if live {
            self.live_interval
        } else {
            self.idle_interval
        }
    }

    /// Resolves when a run's status changed, so the sampler can switch cadence at once.
    pub async fn cadence_changed(&self) {
        self.cadence.notified().await
    }

    /// Replaces `project`'s run and wakes the sampler if the cadence may change.
    pub fn set_run(&self, project: &ProjectName, run: Run) {
        let mut inner = self.lock();
        let entry = inner
            .projects
            .entry(project.clone())
            .or_insert_with(Project::new);
        let was_live = entry.run.status.is_live();
        let is_live = run.status.is_live();
        entry.run = run;
        drop(inner);
        if was_live != is_live {
            self.cadence.notify_one();
        }
    }

    /// The number of projects the hub currently tracks.
    pub fn project_count(&self) -> usize {
        self.lock().projects.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::{Cpu, Gpu, Memory, RunStatus, Timestamp};

    fn sample(ts: &str) -> HostSample {
        HostSample {
            timestamp: Timestamp(ts.into()),
            cpu: Cpu {
                percent: Some(12.5),
            },
            memory: Memory {
                used_gb: Some(1.0),
                total_gb: Some(2.0),
                percent: Some(50.0),
            },
            gpu: Gpu::default(),
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
        let hub = Hub::new(Duration::from_secs(1), Duration::from_secs(3));
        let a = hub.subscribe(&name("demo"));
        let b = hub.subscribe(&name("demo"));
        hub.publish(sample("2026-01-01T00:00:00.000Z"));
        let (fa, fb) = (a.borrow().clone(), b.borrow().clone());
        assert_eq!(fa, fb);
        let m = decode(&fa);
        assert_eq!(m.project, "demo");
        assert_eq!(m.timestamp.as_str(), "2026-01-01T00:00:00.000Z");
        assert_eq!(m.cpu.percent, Some(12.5));
    }

    #[test]
    fn a_late_subscriber_gets_the_newest_sample_at_once() {
        let hub = Hub::new(Duration::from_secs(1), Duration::from_secs(3));
        hub.publish(sample("2026-01-01T00:00:00.000Z"));
        let rx = hub.subscribe(&name("late"));
        assert_eq!(decode(&rx.borrow()).project, "late");
    }

    #[test]
    fn idle_projects_are_not_pushed_faster_than_the_idle_cadence() {
        let hub = Hub::new(Duration::from_secs(1), Duration::from_secs(3));
        let rx = hub.subscribe(&name("idle"));
        hub.publish(sample("2026-01-01T00:00:00.000Z"));
        hub.publish(sample("2026-01-01T00:00:01.000Z"));
        assert_eq!(
            decode(&rx.borrow()).timestamp.as_str(),
            "2026-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn live_projects_are_pushed_every_tick_and_set_the_cadence() {
        let hub = Hub::new(Duration::from_secs(1), Duration::from_secs(3));
        let project = name("busy");
        let rx = hub.subscribe(&project);
        assert_eq!(hub.interval(), Duration::from_secs(3));
        hub.set_run(
            &project,
            Run {
                status: RunStatus::Running,
                pid: Some(42),
                ..Run::default()
            },
        );
        assert_eq!(hub.interval(), Duration::from_secs(1));
        hub.publish(sample("2026-01-01T00:00:00.000Z"));
        hub.publish(sample("2026-01-01T00:00:01.000Z"));
        let m = decode(&rx.borrow());
        assert_eq!(m.timestamp.as_str(), "2026-01-01T00:00:01.000Z");
        assert_eq!((m.run.status, m.run.pid), (RunStatus::Running, Some(42)));
    }

    #[test]
    fn projects_nobody_watches_are_forgotten() {
        let hub = Hub::new(Duration::from_secs(1), Duration::from_secs(3));
        drop(hub.subscribe(&name("gone")));
        hub.publish(sample("2026-01-01T00:00:00.000Z"));
        assert_eq!(hub.project_count(), 0);
    }
}
