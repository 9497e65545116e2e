//! The rules, evaluated on every tick the hub hands on (no page needed): the
//! machine's (memory, filesystems), each live run's (stalled, GPU idle, the
//! user's `run.…` rules), the user's machine rules, and each run's end
//! (finished, failed, OOM-killed). It turns records into alert events; the
//! alerts thread stores and delivers them. Reads nothing but the records,
//! except at a firing (the biggest process) and at a run's start and end (its
//! memory cgroup's OOM count): rare, and on the alerts thread.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use shared::alerts::{ALERT_SCHEMA, AlertEvent, AlertState, Severity};

use super::config::AlertConfig;
use super::threshold::{Reading, Step, Threshold, Watch};
use crate::hub::{Record, RunSummary};
use crate::sampling::{HostSample, TreeReading};

/// How long a run's end waits for `perfmon run`'s exit report (and a tick
/// after the end, for the OOM count) before its alert goes out without it.
pub const EXIT_GRACE: Duration = Duration::from_secs(5);

/// How many ended runs are remembered as reported, so a late record of one
/// (its tokens read once more) does not report it again.
const KEEP_DONE: usize = 256;

/// Below this many cores busy (1 % of one), a run's tree is not using the CPU.
const IDLE_CORES: f64 = 0.01;

/// One watched condition for one subject, and its firing.
#[derive(Debug, Default)]
struct Watched {
    /// Its state over time.
    watch: Watch,
    /// The firing event, while it fires (a resolution and a repeat carry it).
    firing: Option<AlertEvent>,
}

/// What is known of a run.
#[derive(Debug)]
struct RunState {
    /// Its latest record.
    summary: RunSummary,
    /// The machine's OOM-kill count before it started.
    oom_base: Option<u64>,
    /// Its memory cgroup's OOM-kill counter file, and the count at its start
    /// (only where the run has a cgroup of its own, not the root).
    cgroup: Option<(PathBuf, u64)>,
    /// When its end was first heard of.
    ended: Option<DateTime<Utc>>,
    /// Its tree's storage bytes at the previous tick, for "no IO".
    io_bytes: Option<u64>,
    /// It had ended when first heard of: PerfMon was not watching when it
    /// ended (its end is learned at a start).
    late: bool,
}

impl RunState {
    /// A run first heard of now, with the OOM baselines it can have.
    fn new(summary: &RunSummary, oom_base: Option<u64>, cgroup: Option<(PathBuf, u64)>, late: bool) -> Self {
        RunState { summary: summary.clone(), oom_base, cgroup, ended: None, io_bytes: None, late }
    }
}

/// The rules' state.
#[derive(Debug)]
pub struct Engine {
    /// What the rules are.
    config: Arc<AlertConfig>,
    /// The next alert's id.
    next_id: i64,
    /// Each condition by (rule, subject): `""` the machine, a mount, a run id.
    watches: HashMap<(String, String), Watched>,
    /// Runs heard of and not yet reported ended.
    runs: HashMap<String, RunState>,
    /// Runs reported ended, newest last.
    done: VecDeque<String>,
    /// The machine's OOM-kill count at the latest tick.
    oom_kills: Option<u64>,
    /// The latest tick's time.
    last_tick: Option<DateTime<Utc>>,
    /// Runs ended since [`Engine::take_ended`] was last called, whether or
    /// not their end made an event (its rule may be off).
    ended: Vec<String>,
}

impl Engine {
    /// Rules from `config`, numbering alerts from `next_id`.
    pub fn new(config: Arc<AlertConfig>, next_id: i64) -> Self {
        Engine {
            config,
            next_id: next_id.max(1),
            watches: HashMap::new(),
            runs: HashMap::new(),
            done: VecDeque::new(),
            oom_kills: None,
            last_tick: None,
            ended: Vec::new(),
        }
    }

    /// The runs that ended since the last call: their one-off destinations
    /// have nothing more to hear.
    pub fn take_ended(&mut self) -> Vec<String> {
        std::mem::take(&mut self.ended)
    }

    /// The events one record makes, at `now`.
    pub fn observe(&mut self, record: &Record, now: DateTime<Utc>) -> Vec<AlertEvent> {
        let mut events = Vec::new();
        match record {
            Record::Tick { sample, runs } => {
                self.tick(sample, runs, &mut events);
                events.extend(self.due(now));
            }
            Record::Run(summary) => {
                if self.done.contains(&summary.run_id) {
                    return events;
                }
                let oom_base = self.oom_kills;
                let state = self.runs.entry(summary.run_id.clone()).or_insert_with(|| {
                    let cgroup = if summary.ended_at.is_none() { cgroup_oom(summary.pid) } else { None };
                    RunState::new(summary, oom_base, cgroup, false)
                });
                state.summary = summary.clone();
                if summary.ended_at.is_some() && state.ended.is_none() {
                    state.ended = Some(now);
                }
                events.extend(self.due(now));
            }
        }
        events
    }

    /// A run's end PerfMon did not see (it ended while PerfMon was down), read
    /// from the store at a start, or again with the exit its wrapper reported
    /// since: reported as any end, saying so (what the OOM-kill counters were
    /// before it is unknown). Nothing for a run whose end was reported.
    pub fn observe_late(&mut self, summary: &RunSummary, now: DateTime<Utc>) -> Vec<AlertEvent> {
        if self.reported(&summary.run_id) || summary.ended_at.is_none() {
            return Vec::new();
        }
        let state = self
            .runs
            .entry(summary.run_id.clone())
            .or_insert_with(|| RunState::new(summary, None, None, true));
        state.summary = summary.clone();
        state.ended.get_or_insert(now);
        self.due(now)
    }

    /// Whether `run_id`'s end has been reported (among the last 256).
    pub fn reported(&self, run_id: &str) -> bool {
        self.done.iter().any(|done| done == run_id)
    }

    /// The ends whose wait is over at `now` (the alerts thread calls this
    /// when no record came for a while, too).
    pub fn due(&mut self, now: DateTime<Utc>) -> Vec<AlertEvent> {
        let grace = chrono::Duration::from_std(EXIT_GRACE).unwrap_or_default();
        let ready: Vec<String> = self
            .runs
            .iter()
            .filter(|(_, r)| {
                let Some(heard) = r.ended else { return false };
                let exit_known = r.summary.exit_code.is_some() || r.summary.signal.is_some();
                let ticked_after = match (self.last_tick, r.summary.ended_at) {
                    (Some(tick), Some(end)) => tick >= end,
                    _ => false,
                };
                (exit_known && ticked_after) || now - heard >= grace
            })
            .map(|(id, _)| id.clone())
            .collect();
        let mut events = Vec::new();
        for run_id in ready {
            if let Some(run) = self.runs.remove(&run_id) {
                self.end_run(run, now, &mut events);
            }
        }
        events
    }

    /// When the next end's wait is over, for the thread's timer.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        let grace = chrono::Duration::from_std(EXIT_GRACE).unwrap_or_default();
        self.runs.values().filter_map(|r| r.ended).min().map(|heard| heard + grace)
    }

    fn id(&mut self) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn tick(
        &mut self,
        sample: &HostSample,
        runs: &[(RunSummary, TreeReading)],
        events: &mut Vec<AlertEvent>,
    ) {
        let now = sample.taken_at;
        self.last_tick = Some(now);
        // The count before this tick: a run first heard of here (one a
        // restarted server follows again) counts a kill in this very tick.
        let oom_before = self.oom_kills.or(sample.depth.paging.oom_kills);
        if let Some(count) = sample.depth.paging.oom_kills {
            self.oom_kills = Some(count);
        }
        let config = self.config.clone();
        if let Some(t) = config.default_rule("memory_low").and_then(|r| r.threshold) {
            let memory = sample.memory.as_ref().filter(|m| m.total_bytes > 0);
            let available = memory.map(|m| (m.total_bytes - m.used_bytes.min(m.total_bytes)) as f64);
            let percent = memory.zip(available).map(|(m, a)| a * 100.0 / m.total_bytes as f64);
            let live: Vec<(String, u32)> = runs.iter().map(|(s, _)| (name_of(s), s.pid)).collect();
            self.threshold("memory_low", "", &t, percent, now, events, |v| {
                let total = memory.map_or(0, |m| m.total_bytes);
                let mut message = format!(
                    "{} of {} available (below {} %).",
                    gb(available.unwrap_or(0.0)),
                    gb(total as f64),
                    t.trigger
                );
                // Names only: a command line may carry secrets.
                if let Some((name, rss)) = crate::sampling::biggest_process(None) {
                    message
                        .push_str(&format!(" The machine's biggest process: {name} ({}).", gb(rss as f64)));
                }
                for (run, pid) in &live {
                    if let Some((name, rss)) = crate::sampling::biggest_process(Some(*pid)) {
                        message.push_str(&format!(" Run {run}'s biggest: {name} ({}).", gb(rss as f64)));
                    }
                }
                Alert::new(Severity::Critical, format!("Memory almost full: {v:.1} % available"), message)
                    .series("memory.available_percent")
            });
        }
        if let Some(t) = config.default_rule("filesystem_full").and_then(|r| r.threshold) {
            for fs in &sample.depth.filesystems.filesystems {
                let mount = fs.mount_point.clone().unwrap_or_else(|| fs.device.clone());
                let free = fs.free_gb;
                self.threshold("filesystem_full", &mount.clone(), &t, fs.used_percent, now, events, |v| {
                    let free = free.map(|f| format!(" ({f:.1} GB free)")).unwrap_or_default();
                    Alert::new(
                        Severity::Critical,
                        format!("Filesystem {mount} is {v:.1} % full"),
                        format!("{mount} is above {} % used{free}.", t.trigger),
                    )
                    .series("filesystem.used_percent")
                });
            }
            // A full filesystem that is no longer mounted (a backup drive taken
            // away) is over, when the list is whole: read, and not cut at its bound.
            let listed = &sample.depth.filesystems;
            if listed.available && listed.filesystems.len() < shared::depth::disks::MAX_FILESYSTEMS {
                let mounted: HashSet<String> = listed
                    .filesystems
                    .iter()
                    .map(|fs| fs.mount_point.clone().unwrap_or_else(|| fs.device.clone()))
                    .collect();
                let gone: Vec<(String, String)> = self
                    .watches
                    .keys()
                    .filter(|(rule, mount)| rule == "filesystem_full" && !mounted.contains(mount))
                    .cloned()
                    .collect();
                for key in gone {
                    self.close(&key, now, None, events, |took| {
                        format!("The filesystem is no longer mounted, after {took} firing.")
                    });
                }
            }
        }
        for (summary, tree) in runs {
            if self.done.contains(&summary.run_id) {
                continue;
            }
            // A run first heard of in a tick (a restarted server follows it
            // again without a new record) gets its OOM baselines here, or a
            // SIGKILL by the OOM killer would read as a plain failure.
            let state = self
                .runs
                .entry(summary.run_id.clone())
                .or_insert_with(|| RunState::new(summary, oom_before, cgroup_oom(summary.pid), false));
            let io = tree.counters.as_ref().and_then(|c| Some(c.read_bytes? + c.write_bytes?));
            let previous_io = std::mem::replace(&mut state.io_bytes, io);
            let run = name_of(summary);
            let context = |alert: Alert| alert.run(summary);
            if let Some(t) = config.default_rule("run_stalled").and_then(|r| r.threshold) {
                let cores = tree.cpu_percent.map(|p| p / 100.0 * sample.cpu.per_core.len().max(1) as f64);
                // A tree's first reading has no CPU rate yet: nothing to judge.
                let reading = match cores {
                    Some(cores) => {
                        let still = cores < IDLE_CORES && io.is_some() && io == previous_io;
                        Reading::Known { bad: still, clear: !still }
                    }
                    None => Reading::Unknown,
                };
                let hold = t.hold;
                self.watch("run_stalled", &summary.run_id, &t, reading, None, now, events, |_| {
                    context(Alert::new(
                        Severity::Warning,
                        format!("Run {run} stalled"),
                        format!(
                            "Run {run} of {} has used no CPU and done no disk IO for {} (a hung agent?).",
                            summary.project,
                            crate::verdict::duration_words(hold.as_secs_f64())
                        ),
                    ))
                });
            }
            if let Some(t) = config.default_rule("gpu_idle").and_then(|r| r.threshold) {
                let held = tree.gpu_memory_bytes.filter(|b| *b > 0);
                let busy = tree.gpu_percent.or_else(|| device_mean(sample));
                let reading = match held {
                    None => Reading::Known { bad: false, clear: true },
                    Some(_) => t.judge(busy),
                };
                let hold = t.hold;
                self.watch("gpu_idle", &summary.run_id, &t, reading, busy, now, events, |_| {
                    context(Alert::new(
                        Severity::Warning,
                        format!("Run {run} holds GPU memory on an idle GPU"),
                        format!(
                            "Run {run} of {} holds {} of GPU memory, and the GPU has been idle for {}.",
                            summary.project,
                            gb(held.unwrap_or(0) as f64),
                            crate::verdict::duration_words(hold.as_secs_f64())
                        ),
                    ))
                    .series("run.gpu_percent")
                });
            }
            for rule in config.rules.iter().filter(|r| r.series.is_run()) {
                if rule.project.as_ref().is_some_and(|p| *p != summary.project) {
                    continue;
                }
                let value = rule.series.read(sample, &mut None, Some(tree));
                self.custom(rule, &summary.run_id, value, now, events, |a| a.run(summary));
            }
        }
        let mut host = None;
        for rule in config.rules.iter().filter(|r| !r.series.is_run()) {
            let subject = rule.project.clone().unwrap_or_default();
            let value = match &rule.project {
                // A project's rule over a machine series holds while its run is live.
                Some(project) => match runs.iter().find(|(s, _)| s.project == *project) {
                    Some(_) => rule.series.read(sample, &mut host, None),
                    None => {
                        let key = (rule.name.clone(), subject);
                        self.close(&key, now, Some(rule.threshold.clear), events, |took| {
                            format!("No longer holds, after {took}.")
                        });
                        continue;
                    }
                },
                None => rule.series.read(sample, &mut host, None),
            };
            let project = rule.project.clone();
            self.custom(rule, &subject, value, now, events, |mut a| {
                a.project = project;
                a
            });
        }
    }

    /// A user's rule: its firing's words.
    fn custom(
        &mut self,
        rule: &super::config::CustomRule,
        subject: &str,
        value: Option<f64>,
        now: DateTime<Utc>,
        events: &mut Vec<AlertEvent>,
        context: impl FnOnce(Alert) -> Alert,
    ) {
        let t = rule.threshold;
        let (name, series, severity) = (rule.name.clone(), rule.series_name.clone(), rule.severity);
        self.threshold(&rule.name, subject, &t, value, now, events, |v| {
            let held = if t.hold.is_zero() {
                String::new()
            } else {
                format!(" for {}", crate::verdict::duration_words(t.hold.as_secs_f64()))
            };
            let clear = if t.clear == t.trigger {
                String::new()
            } else {
                format!(" It resolves at {}.", number(t.clear))
            };
            context(
                Alert::new(
                    severity,
                    format!("{name}: {series} {} {} ({})", t.op.word(), number(t.trigger), number(v)),
                    format!(
                        "{series} has been {} {}{held}: {}.{clear}",
                        t.op.word(),
                        number(t.trigger),
                        number(v)
                    ),
                )
                .series(&series),
            )
        });
    }

    /// A threshold rule's reading of `value`.
    #[allow(clippy::too_many_arguments)]
    fn threshold(
        &mut self,
        rule: &str,
        subject: &str,
        t: &Threshold,
        value: Option<f64>,
        now: DateTime<Utc>,
        events: &mut Vec<AlertEvent>,
        fire: impl FnOnce(f64) -> Alert,
    ) {
        let reading = t.judge(value);
        self.watch(rule, subject, t, reading, value, now, events, |v| fire(v.unwrap_or_default()));
    }

    /// One reading of a condition, and the event it makes.
    #[allow(clippy::too_many_arguments)]
    fn watch(
        &mut self,
        rule: &str,
        subject: &str,
        t: &Threshold,
        reading: Reading,
        value: Option<f64>,
        now: DateTime<Utc>,
        events: &mut Vec<AlertEvent>,
        fire: impl FnOnce(Option<f64>) -> Alert,
    ) {
        let key = (rule.to_owned(), subject.to_owned());
        let step = {
            let watched = self.watches.entry(key.clone()).or_default();
            watched.watch.step(t.hold, t.repeat, reading, now)
        };
        match step {
            Step::Quiet => {
                // A subject with nothing firing or pending keeps no state.
                if self.watches.get(&key).is_some_and(|w| w.watch == Watch::default()) {
                    self.watches.remove(&key);
                }
            }
            Step::Fire => {
                let id = self.id();
                let alert = fire(value);
                let mut event = alert.event(id, rule, now);
                event.value = value.map(round);
                event.threshold = Some(t.trigger);
                if let Some(w) = self.watches.get_mut(&key) {
                    w.firing = Some(event.clone());
                }
                events.push(event);
            }
            Step::Repeat => {
                if let Some(firing) = self.watches.get(&key).and_then(|w| w.firing.clone()) {
                    events.push(firing);
                }
            }
            Step::Resolve => {
                if let Some(firing) = self.watches.remove(&key).and_then(|w| w.firing) {
                    let how = match value {
                        Some(v) => format!("Back to {} after {}.", number(v), since(&firing, now)),
                        None => format!("No longer holds, after {}.", since(&firing, now)),
                    };
                    events.push(resolved(firing, now, value, Some(t.clear), how));
                }
            }
        }
    }

    /// Forgets a condition whose subject is gone; a firing resolves, saying
    /// `how` (given how long it fired).
    fn close(
        &mut self,
        key: &(String, String),
        now: DateTime<Utc>,
        clear: Option<f64>,
        events: &mut Vec<AlertEvent>,
        how: impl FnOnce(String) -> String,
    ) {
        if let Some(firing) = self.watches.remove(key).and_then(|w| w.firing) {
            let took = since(&firing, now);
            events.push(resolved(firing, now, None, clear, how(took)));
        }
    }

    /// A run's end: its watches resolve, and one event says how it ended.
    fn end_run(&mut self, run: RunState, now: DateTime<Utc>, events: &mut Vec<AlertEvent>) {
        let s = &run.summary;
        let open: Vec<(String, String)> =
            self.watches.keys().filter(|(_, subject)| *subject == s.run_id).cloned().collect();
        for key in open {
            self.close(&key, now, None, events, |took| format!("The run ended, after {took} firing."));
        }
        self.done.push_back(s.run_id.clone());
        self.ended.push(s.run_id.clone());
        if self.done.len() > KEEP_DONE {
            self.done.pop_front();
        }
        let name = name_of(s);
        let took = s
            .ended_at
            .map(|end| {
                crate::verdict::duration_words((end - s.started_at).num_milliseconds().max(0) as f64 / 1000.0)
            })
            .unwrap_or_else(|| "an unknown time".into());
        let mut verdict =
            s.verdict.as_ref().filter(|v| v.judged).map(|v| format!(" {}", v.headline)).unwrap_or_default();
        if run.late {
            verdict.push_str(" It ended while PerfMon was not running: this is sent at its next start.");
        }
        let sigkill = s.signal == Some(9) || (s.signal.is_none() && s.exit_code == Some(137));
        let machine_rose = match (run.oom_base, self.oom_kills) {
            (Some(before), Some(after)) => Some(after > before),
            _ => None,
        };
        let cgroup_rose = run
            .cgroup
            .as_ref()
            .and_then(|(file, before)| read_oom_kill(file).map(|after| after > *before))
            .unwrap_or(false);
        let how = ended_words(s);
        let oom = cgroup_rose || (sigkill && machine_rose == Some(true));
        let failed = s.outcome.failed(s.exit_code) || s.exit_code.is_some_and(|c| c != 0);
        let (rule, alert) = if oom && self.config.default_rule("run_oom").is_some() {
            let why = if cgroup_rose {
                "its memory cgroup recorded an OOM kill".to_owned()
            } else {
                "the kernel's OOM killer killed a process during the run (vmstat oom_kill rose)".to_owned()
            };
            let message = format!("Run {name} of {}: {how} after {took}; {why}.{verdict}", s.project);
            ("run_oom", Alert::new(Severity::Critical, format!("Run {name} was OOM-killed"), message))
        } else if failed || oom {
            let cause = if sigkill && run.late {
                " (killed by SIGKILL while PerfMon was not watching: cause unknown)"
            } else if sigkill {
                match machine_rose {
                    Some(_) => {
                        " (killed by SIGKILL, cause unknown: the kernel's OOM-kill count did not rise)"
                    }
                    None => " (killed by SIGKILL, cause unknown: the kernel's OOM-kill count cannot be read)",
                }
            } else {
                ""
            };
            let message = format!("Run {name} of {}: {how} after {took}{cause}.{verdict}", s.project);
            ("run_failed", Alert::new(Severity::Warning, format!("Run {name} failed: {how}"), message))
        } else {
            let message = format!("Run {name} of {}: {how} after {took}.{verdict}", s.project);
            ("run_finished", Alert::new(Severity::Info, format!("Run {name} finished"), message))
        };
        if self.config.default_rule(rule).is_none() {
            return;
        }
        let id = self.id();
        let mut event = alert.run(s).event(id, rule, s.ended_at.unwrap_or(now));
        event.state = AlertState::Event;
        events.push(event);
    }
}

/// A run's end in words.
fn ended_words(s: &RunSummary) -> String {
    match (s.exit_code, s.signal) {
        (_, Some(signal)) => format!("killed by {}", signal_name(signal)),
        (Some(code), None) => format!("exit {code}"),
        (None, None) => match s.outcome {
            shared::api::RunOutcome::Ended => "PerfMon stopped watching it".to_owned(),
            shared::api::RunOutcome::Interrupted => "PerfMon stopped while it ran".to_owned(),
            _ => "its process ended (exit code unknown: it was not started with `perfmon run`)".to_owned(),
        },
    }
}

/// `SIGTERM` for 15.
fn signal_name(signal: i32) -> String {
    nix::sys::signal::Signal::try_from(signal)
        .map_or_else(|_| format!("signal {signal}"), |s| s.as_str().to_owned())
}

/// The run's name in texts: its label, else its id.
fn name_of(s: &RunSummary) -> String {
    match &s.label {
        Some(label) => format!("“{label}”"),
        None => s.run_id.clone(),
    }
}

fn device_mean(sample: &HostSample) -> Option<f64> {
    let busy: Vec<f64> = sample
        .gpu
        .devices
        .iter()
        .filter(|d| d.lost.is_none())
        .filter_map(|d| d.percent)
        .map(f64::from)
        .collect();
    (!busy.is_empty()).then(|| busy.iter().sum::<f64>() / busy.len() as f64)
}

fn gb(bytes: f64) -> String {
    format!("{:.1} GB", bytes / crate::units::BYTES_PER_GB)
}

fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// A figure as people write it: no trailing zeros.
fn number(v: f64) -> String {
    let text = format!("{:.3}", round(v));
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn since(firing: &AlertEvent, now: DateTime<Utc>) -> String {
    let fired =
        DateTime::parse_from_rfc3339(firing.fired_at.as_str()).map(|t| t.with_timezone(&Utc)).unwrap_or(now);
    crate::verdict::duration_words((now - fired).num_milliseconds().max(0) as f64 / 1000.0)
}

/// A firing's resolution.
pub(super) fn resolved(
    firing: AlertEvent,
    now: DateTime<Utc>,
    value: Option<f64>,
    clear: Option<f64>,
    how: String,
) -> AlertEvent {
    AlertEvent {
        state: AlertState::Resolved,
        title: format!("Resolved: {}", firing.title),
        message: how,
        value: value.map(round),
        threshold: clear,
        resolved_at: Some(crate::sampling::timestamp_millis(now)),
        silenced: false,
        ..firing
    }
}

/// An alert's words and context, before it has an id.
#[derive(Debug)]
struct Alert {
    severity: Severity,
    title: String,
    message: String,
    project: Option<String>,
    run_id: Option<String>,
    series: Option<String>,
}

impl Alert {
    fn new(severity: Severity, title: String, message: String) -> Self {
        Alert { severity, title, message, project: None, run_id: None, series: None }
    }

    fn series(mut self, name: &str) -> Self {
        self.series = Some(name.to_owned());
        self
    }

    fn run(mut self, s: &RunSummary) -> Self {
        self.project = Some(s.project.clone());
        self.run_id = Some(s.run_id.clone());
        self
    }

    fn event(self, id: i64, rule: &str, at: DateTime<Utc>) -> AlertEvent {
        AlertEvent {
            perfmon_alert: ALERT_SCHEMA,
            id,
            state: AlertState::Firing,
            rule: rule.to_owned(),
            severity: self.severity,
            title: self.title,
            message: self.message,
            project: self.project,
            run_id: self.run_id,
            series: self.series,
            value: None,
            threshold: None,
            fired_at: crate::sampling::timestamp_millis(at),
            resolved_at: None,
            silenced: false,
        }
    }
}

/// The OOM-kill counter of `pid`'s memory cgroup, when it has one of its own
/// (v2 `memory.events`, v1 `memory.oom_control`), and its count now. Blocking.
fn cgroup_oom(pid: u32) -> Option<(PathBuf, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    for line in text.lines() {
        // `ID:CONTROLLERS:PATH`: v1's memory controller, or v2's single line.
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        if path == "/" || path.is_empty() {
            continue;
        }
        let file = if controllers.split(',').any(|c| c == "memory") {
            PathBuf::from(format!("/sys/fs/cgroup/memory{path}/memory.oom_control"))
        } else if controllers.is_empty() {
            PathBuf::from(format!("/sys/fs/cgroup{path}/memory.events"))
        } else {
            continue;
        };
        if let Some(count) = read_oom_kill(&file) {
            return Some((file, count));
        }
    }
    None
}

/// The `oom_kill N` line of a cgroup's file. Blocking.
fn read_oom_kill(file: &std::path::Path) -> Option<u64> {
    parse_oom_kill(&std::fs::read_to_string(file).ok()?)
}

fn parse_oom_kill(text: &str) -> Option<u64> {
    text.lines().find_map(|l| l.strip_prefix("oom_kill ")).and_then(|n| n.trim().parse().ok())
}

#[cfg(test)]
mod tests;
