//! Bodies of the HTTP API (`/api/projects/{project}/…`), shared by the server and
//! `perfmon`'s own client.

use serde::{Deserialize, Serialize};

/// `POST /api/projects/{project}/run`: register an existing process as the run.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRun {
    /// The run's root process.
    pub pid: u32,
    /// A label for the run in its record (`nightly build`), at most 128
    /// characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The process has not run its command yet (`perfmon run` holds it until it
    /// is registered): its whole CPU time is the run's. Otherwise the run counts
    /// from registration on.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub from_start: bool,
    /// Where this run's alerts go besides the configured destinations
    /// (`perfmon run --notify URL`): URLs, or `KIND:URL`. Secrets: never
    /// echoed, logged or shown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notify: Vec<String>,
}

// By hand: `notify` holds secrets, which a debug print must not show.
impl std::fmt::Debug for RegisterRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterRun")
            .field("pid", &self.pid)
            .field("label", &self.label)
            .field("from_start", &self.from_start)
            .field("notify", &format_args!("[{} destination(s)]", self.notify.len()))
            .finish()
    }
}

/// `POST /api/projects/{project}/tokens`: tokens used since the last report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenDelta {
    /// Tokens to add to the current run and the session.
    pub tokens: u64,
}

/// The body of every 4xx/5xx answer of the HTTP API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// What went wrong, for programs.
    pub code: String,
    /// The request field at fault, when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What went wrong, for people.
    pub message: String,
}

/// `GET /api/health`: whether PerfMon is up, and what it speaks. Public: it tells
/// nothing about the machine or its runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// `"ok"` while the server serves.
    pub status: String,
    /// The server's [`crate::PROTOCOL_VERSION`].
    pub protocol: u32,
    /// PerfMon's version (`0.1.0`).
    #[serde(default)]
    pub version: String,
    /// The commit it was built from, or `unknown`.
    #[serde(default)]
    pub commit: String,
    /// WebSockets open now.
    pub connections: u64,
    /// The store's state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<StoreHealth>,
    /// Each remote-write receiver's state (`perfmon serve --remote-write`);
    /// empty (and absent) when nothing is pushed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remote_write: Vec<RemoteWriteHealth>,
}

/// One remote-write receiver's state in `/api/health`. Its credentials, path
/// and query never appear here: the health check is public.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteWriteHealth {
    /// The receiver's origin (`https://vm.example.com:8428`).
    pub receiver: String,
    /// `starting` (nothing sent yet), `live` (caught up, sending each
    /// batch), `catching_up` (sending what it missed from the store, oldest
    /// first) or `retrying` (the receiver is unreachable or answered 5xx or
    /// 429: PerfMon keeps its place and tries again).
    pub state: String,
    /// How old the newest sample the receiver has accepted is, milliseconds:
    /// the push's delay behind the machine. Absent before the first accepted
    /// batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag_ms: Option<u64>,
    /// When the receiver last accepted a batch, unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sent_ms: Option<i64>,
    /// The last failure, in plain words (`HTTP 503: …`, `connection
    /// refused`), until a batch is accepted again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When that failure happened, unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error_ms: Option<i64>,
    /// Samples the receiver has accepted since the server started.
    pub samples_sent: u64,
    /// Batches the receiver refused with a 4xx other than 429 (logged and
    /// skipped, never retried) since the server started.
    pub batches_skipped: u64,
}

/// `POST /api/projects/{project}/runs/{run_id}/exit`: how a run's command ended,
/// reported by `perfmon run` (exactly one of `exit_code` and `signal`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExitReport {
    /// The command's exit code, when it exited: 0–255.
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// The signal that killed it, when one did: 1–64.
    #[serde(default)]
    pub signal: Option<i32>,
    /// CPU time (user + system) of the command and every descendant it waited
    /// for, seconds, as the wrapper's `wait` returned it: exact where the
    /// server's 1 s readings miss the last moments. Finite and not negative.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_seconds: Option<f64>,
    /// When the command ended, unix ms, as the wrapper saw it: a report kept
    /// while no server answered still gives the run its true length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at_ms: Option<i64>,
    /// The run's own counters as the wrapper's `wait` and its `perf` counters
    /// gave them: exact totals of the command and every descendant it waited
    /// for (CPU user/system, faults, context switches, storage bytes, peak
    /// RSS) and the `perf stat`-style counters opened on the command before
    /// its first instruction. Only the tree's fields and `perf` are taken;
    /// the machine's figures are the server's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counters: Option<crate::why::RunCounters>,
}

impl ExitReport {
    /// An exit with `code`.
    pub fn exited(code: i32) -> Self {
        ExitReport {
            exit_code: Some(code),
            signal: None,
            cpu_seconds: None,
            ended_at_ms: None,
            counters: None,
        }
    }

    /// A death by `signal`.
    pub fn killed(signal: i32) -> Self {
        ExitReport {
            exit_code: None,
            signal: Some(signal),
            cpu_seconds: None,
            ended_at_ms: None,
            counters: None,
        }
    }

    /// How the run ended, by this report.
    pub fn outcome(&self) -> RunOutcome {
        if self.signal.is_some() { RunOutcome::Killed } else { RunOutcome::Exited }
    }

    /// The report's end, unix ms, when it lies between a run's start and now
    /// (a clock that jumped, or a lie, is not taken).
    pub fn ended_at_within(&self, started_ms: i64, now_ms: i64) -> Option<i64> {
        self.ended_at_ms.filter(|at| (started_ms..=now_ms).contains(at))
    }

    /// Why the report cannot be true, if it cannot: exactly one of an exit code
    /// (0–255) and a signal (1–64), and a CPU time that is a real duration.
    pub fn invalid(&self) -> Option<(&'static str, &'static str)> {
        match (self.exit_code, self.signal) {
            (Some(_), Some(_)) | (None, None) => {
                return Some(("exit_code", "report exactly one of exit_code and signal"));
            }
            (Some(code), None) if !(0..=255).contains(&code) => {
                return Some(("exit_code", "an exit code is 0-255"));
            }
            (None, Some(signal)) if !(1..=64).contains(&signal) => {
                return Some(("signal", "a signal is 1-64"));
            }
            _ => {}
        }
        if self.cpu_seconds.is_some_and(|s| !plausible_seconds(s)) {
            return Some(("cpu_seconds", "cpu_seconds is a number of seconds, 0 to 1e11"));
        }
        if self.ended_at_ms.is_some_and(|ms| ms <= 0) {
            return Some(("ended_at_ms", "ended_at_ms is a time in unix milliseconds"));
        }
        if let Some(counters) = &self.counters {
            let seconds = [counters.cpu_user_s, counters.cpu_system_s, counters.cpu_wait_s];
            if seconds.iter().flatten().any(|s| !plausible_seconds(*s)) || !plausible_seconds(counters.wall_s)
            {
                return Some(("counters", "counters' seconds are 0 to 1e11"));
            }
            let perf = counters.perf.iter().flat_map(|p| p.events.values());
            if perf.clone().count() > 32 || perf.filter_map(|e| e.value).any(|v| !v.is_finite() || v < 0.0) {
                return Some(("counters", "at most 32 perf events, each a finite count, not negative"));
            }
        }
        None
    }
}

/// Whether `seconds` can be a run's CPU or wall time: not negative, and at most
/// 1e11 s (three years of a thousand cores), so a made-up figure cannot
/// overflow the sums and roundings it goes through into an infinity.
fn plausible_seconds(seconds: f64) -> bool {
    (0.0..=1e11).contains(&seconds)
}

/// The answer to an exit report: the run and how it is now recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitAccepted {
    /// The run.
    pub run_id: String,
    /// Its outcome as recorded.
    pub status: RunOutcome,
}

/// How a recorded run ended, or that it has not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// Still being watched.
    Running,
    /// Its process exited (`exit_code` when known: `perfmon run` reports it).
    Exited,
    /// Its process was killed by `signal`.
    Killed,
    /// PerfMon stopped tracking it (`perfmon end`); its processes were left alone.
    Ended,
    /// PerfMon itself stopped (a crash, a restart) while the run was live.
    Interrupted,
}

impl RunOutcome {
    /// Whether a run that ended so, with `exit_code`, failed: a non-zero exit,
    /// a signal, or PerfMon's own stop. An exit whose code is not known is not
    /// counted as a failure. The page's table, bands and the CLI share it.
    pub fn failed(self, exit_code: Option<i32>) -> bool {
        match self {
            RunOutcome::Exited => exit_code.is_some_and(|c| c != 0),
            RunOutcome::Killed | RunOutcome::Interrupted => true,
            RunOutcome::Running | RunOutcome::Ended => false,
        }
    }
}

/// One recorded run, as `GET /api/projects/{project}/runs` lists it. No command
/// lines, paths or environment are ever kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// `{pid}-{started_at}`.
    pub run_id: String,
    /// The project it belongs to.
    pub project: String,
    /// The label given with `perfmon run --label`.
    #[serde(default)]
    pub label: Option<String>,
    /// The run's root process.
    pub pid: u32,
    /// When it started.
    pub started_at: crate::Timestamp,
    /// When it ended; `null` while it runs.
    #[serde(default)]
    pub ended_at: Option<crate::Timestamp>,
    /// How it ended.
    pub status: RunOutcome,
    /// The command's exit code, when known.
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// The signal that killed it.
    #[serde(default)]
    pub signal: Option<i32>,
    /// From start to end (or to now, while it runs), seconds.
    pub duration_s: f64,
    /// CPU time of the whole process tree, seconds.
    pub cpu_seconds: f64,
    /// The tree's highest CPU use, as a share of the machine, 0–100.
    #[serde(default)]
    pub peak_cpu_percent: Option<f64>,
    /// The tree's highest resident memory, MB (MiB).
    #[serde(default)]
    pub peak_rss_mb: Option<f64>,
    /// The most GPU memory the tree held, GB (GiB); `null` when unknown.
    #[serde(default)]
    pub peak_gpu_memory_gb: Option<f64>,
    /// The most processes in the tree at once.
    pub peak_process_count: u32,
    /// Tokens the agent reported for the run.
    pub tokens: u64,
    /// Where its time went, once it ended (and, while it runs, so far);
    /// `null` for runs recorded before PerfMon measured it ("not measured").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<crate::why::Verdict>,
    /// Where its token count comes from (`claude-code`, `codex`, `api`);
    /// absent when it has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_source: Option<crate::TokenSource>,
    /// Its tokens by kind, when they were read from its agent's transcripts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_detail: Option<crate::TokenDetail>,
}

impl RunRecord {
    /// How the run ended, in words the page and the CLI share: `exit 0`,
    /// `exit 3`, `killed (SIGTERM)`, `exited`, `killed`, `ended`,
    /// `interrupted`, `running`.
    pub fn outcome_text(&self) -> String {
        match (self.status, self.exit_code, self.signal) {
            (RunOutcome::Running, ..) => "running".into(),
            (RunOutcome::Killed, _, Some(signal)) => format!("killed ({})", signal_name(signal)),
            (RunOutcome::Killed, _, None) => "killed".into(),
            (RunOutcome::Exited, Some(code), _) => format!("exit {code}"),
            (RunOutcome::Exited, None, _) => "exited".into(),
            (RunOutcome::Ended, ..) => "ended".into(),
            (RunOutcome::Interrupted, ..) => "interrupted".into(),
        }
    }
}

/// A signal's name as `kill -l` gives it (`SIGTERM`), or `signal N` for one
/// without a common name.
pub fn signal_name(signal: i32) -> String {
    let name = match signal {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        10 => "SIGUSR1",
        11 => "SIGSEGV",
        12 => "SIGUSR2",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        24 => "SIGXCPU",
        25 => "SIGXFSZ",
        _ => return format!("signal {signal}"),
    };
    name.to_owned()
}

/// The change from `previous` to `now` in percent, to a tenth, as the page and
/// the CLI show it (`+12.5 %`, `−3.0 %`, `±0.0 %`); `None` when either is
/// unknown or `previous` is 0.
pub fn percent_change(now: Option<f64>, previous: Option<f64>) -> Option<String> {
    let (now, previous) = (now?, previous?);
    if previous == 0.0 || !now.is_finite() || !previous.is_finite() {
        return None;
    }
    let rounded = ((now - previous) / previous.abs() * 1000.0).round() / 10.0;
    Some(match rounded {
        r if r > 0.0 => format!("+{r:.1} %"),
        r if r < 0.0 => format!("\u{2212}{:.1} %", -r),
        _ => "\u{b1}0.0 %".to_owned(),
    })
}

/// `GET /api/projects/{project}/runs`: newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Runs {
    /// The page of runs.
    pub runs: Vec<RunRecord>,
    /// Pass as `?before=` for the next page (the run id this page ends on:
    /// runs started within the same second are never skipped); `null` on the
    /// last.
    #[serde(default)]
    pub next_before: Option<String>,
}

/// A recorded run shown as a band on a chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunBand {
    /// `{pid}-{started_at}`.
    pub run_id: String,
    /// Its label, if any.
    #[serde(default)]
    pub label: Option<String>,
    /// When it started, unix ms.
    pub start_ms: i64,
    /// When it ended, unix ms; `null` while it runs.
    #[serde(default)]
    pub end_ms: Option<i64>,
    /// How it ended.
    pub status: RunOutcome,
    /// Its command's exit code, when known (`perfmon run` reports it): a chart
    /// marks a run that exited non-zero as failed. Absent from older servers.
    #[serde(default)]
    pub exit_code: Option<i32>,
}

/// Recorded series between two instants, columnar (uPlot's shape): one
/// timestamp array, and per series one value per timestamp (`null` where nothing
/// was recorded). Where a point stands for several samples, `min` and `max`
/// carry their extremes beside the mean in `series`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HistorySeries {
    /// Seconds each point covers.
    pub step_s: u64,
    /// The store tier read: `raw`, `minute` or `hour`.
    pub tier: String,
    /// Each point's start, unix ms.
    pub timestamps: Vec<i64>,
    /// Means, by series name (`cpu.percent`, `memory.used_gb`, `gpu.0.percent`,
    /// `cpu.core.3`, `run.rss_mb`, …; units as in the stream).
    pub series: std::collections::BTreeMap<String, Vec<Option<f64>>>,
    /// Smallest sample of each point, where a point stands for several.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub min: std::collections::BTreeMap<String, Vec<Option<f64>>>,
    /// Largest sample of each point, where a point stands for several.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub max: std::collections::BTreeMap<String, Vec<Option<f64>>>,
    /// Each GPU device's name, by index (the `0` of `gpu.0.percent`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub gpu_names: std::collections::BTreeMap<String, String>,
    /// The runs (of the asked project) that overlap the range.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<RunBand>,
}

/// `GET /api/projects/{project}/runs/{run_id}`: the record, its tree's series and
/// the machine's over its span (about 1,000 points), and the project's previous
/// run for comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// The record.
    pub run: RunRecord,
    /// The project's run before it, if any.
    #[serde(default)]
    pub previous: Option<RunRecord>,
    /// Its series over its span.
    pub history: HistorySeries,
    /// The run's own counters; `null` for runs recorded before PerfMon
    /// measured them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counters: Option<crate::why::RunCounters>,
    /// What moved since the previous run's verdict ("IO stall 4 % → 37 %"),
    /// biggest first; empty when either has no verdict or nothing moved.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<crate::why::Change>,
}

/// The store's state, in `GET /api/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreHealth {
    /// `ok`, `degraded` (the live stream works, history is not being kept),
    /// `starting`, or `off` (`--no-store`).
    pub state: String,
    /// Why it is degraded, in plain words; for an `ok` store, what the user
    /// should know of it (a damaged database moved aside at start, so its
    /// history begins again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Samples dropped because the store fell behind or could not write.
    pub dropped_samples: u64,
    /// How far back history goes, seconds: what the longest-kept tier keeps
    /// (`--keep-hours`, a year by default), so the page offers no range the
    /// store cannot answer. Absent with `--no-store` (`off`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keeps_s: Option<u64>,
}

/// `GET /api/projects`: the projects a user can switch between, most recently
/// active first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Projects {
    /// The projects: those with recorded runs and those the server holds now
    /// (a live run, or a page watching it), live ones first, then by their
    /// newest run's start, newest first; projects without a run last, by name.
    pub projects: Vec<ProjectSummary>,
    /// Whether recorded projects are listed: `false` with `--no-store` (or while
    /// the store cannot be read), when the list holds only the projects the
    /// server holds now, and `reason` says why.
    pub stored: bool,
    /// Why recorded projects are not listed, in plain words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One project in [`Projects`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectSummary {
    /// Its name, as `?project=` takes it.
    pub name: String,
    /// Its recorded runs; `null` when nothing is recorded (`stored` is false).
    #[serde(default)]
    pub run_count: Option<u64>,
    /// When its newest run started (to the second); `null` when it has none.
    #[serde(default)]
    pub last_run_started_at: Option<crate::Timestamp>,
    /// Whether a run of it is running or paused now.
    pub live: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: Serialize + serde::de::DeserializeOwned>(value: &T) -> T {
        serde_json::from_str(&serde_json::to_string(value).expect("encode")).expect("decode")
    }

    #[test]
    fn projects_round_trip_and_keep_their_documented_shape() {
        let projects = Projects {
            projects: vec![
                ProjectSummary {
                    name: "demo".into(),
                    run_count: Some(3),
                    last_run_started_at: Some(crate::Timestamp("2026-11-25T08:00:00Z".into())),
                    live: true,
                },
                ProjectSummary {
                    name: "idle".into(),
                    run_count: None,
                    last_run_started_at: None,
                    live: false,
                },
            ],
            stored: true,
            reason: None,
        };
        assert_eq!(round_trip(&projects), projects);
        assert_eq!(
            serde_json::to_value(&projects).expect("json"),
            serde_json::json!({"projects":[
                {"name":"demo","run_count":3,"last_run_started_at":"2026-11-25T08:00:00Z","live":true},
                {"name":"idle","run_count":null,"last_run_started_at":null,"live":false}],
                "stored":true})
        );
        let off = Projects { projects: vec![], stored: false, reason: Some("no store".into()) };
        assert_eq!(round_trip(&off), off);
    }

    #[test]
    fn store_health_says_how_far_back_history_goes_and_older_servers_still_decode() {
        let health =
            StoreHealth { state: "ok".into(), reason: None, dropped_samples: 0, keeps_s: Some(31_536_000) };
        assert_eq!(round_trip(&health), health);
        assert_eq!(
            serde_json::to_value(&health).expect("json"),
            serde_json::json!({"state":"ok","dropped_samples":0,"keeps_s":31_536_000})
        );
        let off: StoreHealth =
            serde_json::from_str(r#"{"state":"off","dropped_samples":0}"#).expect("decode");
        assert_eq!(off.keeps_s, None, "a server without a store (or an older one) says nothing");
        let text = serde_json::to_string(&off).expect("encode");
        assert!(!text.contains("keeps_s"), "{text}");
    }
}
