//! Reading the store: the projects it has runs for, the runs of a project, one
//! run's report, and the machine's history between two instants.
//!
//! History is answered from the coarsest tier whose rows fit a whole number of
//! times in the step (a 24 h range at one point a minute reads 1,440 minute rows,
//! not 86,400 raw ones). That choice only says which tier is best; what holds the
//! data decides where each part of the range is read: where the chosen tier has
//! been pruned (raw rows after 48 h), the coarser tiers that still hold it, and
//! what the chosen tier has not rolled up yet (the last minutes), the finer tier.
//! The parts are merged bucket by bucket, weighted by the time each row stands
//! for.
//!
//! Disks and interfaces are answered per name, at most
//! [`MAX_NAMED_PER_ANSWER`] of each kind: a tick stores at most 32 of each, but
//! names come and go (a container's `veth…`), and a month could name hundreds.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, Row, params};
use shared::alerts::{AlertEvent, AlertState, Severity};
use shared::api::{HistorySeries, RunBand, RunOutcome, RunRecord, RunReport, Runs};

use super::schema::{self, Metric, NAMED, Named, RUN, Tier};
use super::{Store, retention};
use crate::units::{gb, mb, round_to};

/// The most points one answer may hold.
pub const MAX_POINTS: u64 = 20_000;
/// About how many points `/api/history` answers with when no step is given.
pub const HISTORY_POINTS: u64 = 2_000;
/// About how many points a run's report holds.
pub const REPORT_POINTS: u64 = 1_000;
/// The most runs one page lists.
pub const MAX_RUNS_PAGE: u32 = 500;
/// The most disks, and the most interfaces, one history answer holds: twice
/// what one tick stores, so a range over which devices were replaced shows
/// both; beyond it, those present for the longest part of the range.
pub const MAX_NAMED_PER_ANSWER: usize = 64;
/// The most projects [`Store::projects`] lists: far more than anyone switches
/// between, and a bound on the answer.
pub const MAX_PROJECTS: u32 = 1000;

/// Steps a chosen resolution is rounded up to, seconds: each one a whole
/// number of the tier it reads.
const NICE_STEPS: &[u64] = &[
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400, 172_800,
    604_800,
];

/// Where a page of runs starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Before {
    /// Runs started before this instant, unix ms.
    Instant(i64),
    /// Runs after this one in the list's order (the `next_before` of a page).
    Run(String),
}

/// What `/api/history` (and a run's report) asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryQuery {
    /// The range's start, unix ms (inclusive).
    pub from_ms: i64,
    /// The range's end, unix ms (exclusive).
    pub to_ms: i64,
    /// Seconds per point; `None` picks one giving about `points`.
    pub step_s: Option<u64>,
    /// Whose runs (bands and tree series) to include.
    pub project: Option<String>,
    /// Only this run's tree series.
    pub run_id: Option<String>,
    /// About how many points to answer with when no step is given.
    pub points: u64,
    /// Every kept figure; else those the dashboard charts (all but the
    /// figures schema version 8 added, [`schema::charted_host_metrics`]).
    pub all: bool,
}

/// Why a query got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// The store is still opening its database.
    #[error("the store is still opening; try again in a moment")]
    NotReady,
    /// There is no database to read (`--no-store`, or it cannot be opened).
    #[error("history is not available: {0}")]
    Unavailable(String),
    /// The range is reversed, empty or too long.
    #[error("{0}")]
    BadRange(String),
    /// The step gives too many points.
    #[error("{0}")]
    BadStep(String),
    /// No such run in the project: the project, the run.
    #[error("no run {1} in project {0}")]
    NotFound(String, String),
    /// The database failed.
    #[error("the store could not answer: {0}")]
    Failed(String),
}

impl From<rusqlite::Error> for QueryError {
    fn from(err: rusqlite::Error) -> Self {
        tracing::warn!("a store query failed: {err}");
        QueryError::Failed(err.to_string())
    }
}

/// The smallest nice step at least `seconds`.
fn nice_step(seconds: u64) -> u64 {
    NICE_STEPS.iter().copied().find(|s| *s >= seconds).unwrap_or_else(|| seconds.div_ceil(86_400) * 86_400)
}

/// The coarsest tier whose rows fit a whole number of times in a step: the best
/// one to read where it holds the data ([`segments`] decides where it does).
fn tier_for(step_ms: i64) -> Tier {
    Tier::ALL
        .into_iter()
        .rev()
        .find(|t| step_ms >= t.millis() && step_ms % t.millis() == 0)
        .unwrap_or(Tier::Raw)
}

/// Per-bucket accumulator of one figure.
#[derive(Debug, Clone, Copy)]
struct Acc {
    min: f64,
    max: f64,
    sum: f64,
    weight: f64,
}

impl Acc {
    fn add(slot: &mut Option<Acc>, min: Option<f64>, mean: Option<f64>, max: Option<f64>, weight: f64) {
        let Some(mean) = mean else { return };
        let (min, max) = (min.unwrap_or(mean), max.unwrap_or(mean));
        match slot {
            Some(acc) => {
                acc.min = acc.min.min(min);
                acc.max = acc.max.max(max);
                acc.sum += mean * weight;
                acc.weight += weight;
            }
            None => *slot = Some(Acc { min, max, sum: mean * weight, weight }),
        }
    }
}

/// Buckets of one kind of row (the machine, one device, the runs): per metric,
/// one accumulator per bucket.
struct Grid {
    figures: Vec<Vec<Option<Acc>>>,
}

impl Grid {
    fn new(metrics: usize, buckets: usize) -> Self {
        Grid { figures: vec![vec![None; buckets]; metrics] }
    }

    /// Adds a row of `tier` (its [`schema::columns`] from column `first`: a
    /// value per metric, or its min, mean and max) to `bucket`, each row
    /// weighing `weight`.
    fn add_row(
        &mut self,
        row: &Row<'_>,
        bucket: usize,
        weight: f64,
        first: usize,
        tier: Tier,
    ) -> rusqlite::Result<()> {
        for (i, slots) in self.figures.iter_mut().enumerate() {
            if tier == Tier::Raw {
                let value = row.get(first + i)?;
                Acc::add(&mut slots[bucket], value, value, value, weight);
            } else {
                let at = first + 3 * i;
                Acc::add(&mut slots[bucket], row.get(at)?, row.get(at + 1)?, row.get(at + 2)?, weight);
            }
        }
        Ok(())
    }

    /// Fills each bucket that holds a tick (`ticked`) and no row with the row
    /// before it, at most [`schema::HELD_FOR_MS`] back: a
    /// [`schema::Cadence::Reading`] kind's reading stands until the next one,
    /// as the stream repeats it at each tick. Whole rows: a figure the reading
    /// lacked stays `None` at the ticks after it too. `before` is the row
    /// before the range (its bucket, 0 or less, and a one-bucket grid), so the
    /// range's first ticks have the reading that stood then.
    fn hold(&mut self, ticked: &[bool], step_ms: i64, before: Option<&(i64, Grid)>) {
        let reach = schema::HELD_FOR_MS / step_ms.max(1);
        let buckets = self.figures.first().map_or(0, Vec::len);
        // The bucket of the row that stands, and whether it is `before`'s.
        let mut last: Option<(i64, bool)> = before.map(|(at, _)| (*at, true));
        for b in 0..buckets {
            let here = i64::try_from(b).unwrap_or(i64::MAX);
            if self.figures.iter().any(|slots| slots[b].is_some()) {
                last = Some((here, false));
            } else if ticked.get(b) == Some(&true)
                && let Some((at, from_before)) = last.filter(|(at, _)| here - at <= reach)
            {
                for (i, slots) in self.figures.iter_mut().enumerate() {
                    slots[b] = match (from_before, before) {
                        (true, Some((_, grid))) => grid.figures[i][0],
                        _ => usize::try_from(at).ok().and_then(|at| slots[at]),
                    };
                }
            }
        }
    }

    /// Writes the grid's series as `prefix + metric.series`.
    fn emit(self, metrics: &[Metric], prefix: &str, bands: bool, out: &mut HistorySeries) {
        for (metric, slots) in metrics.iter().zip(self.figures) {
            let name = format!("{prefix}{}", metric.series);
            let value = |v: f64| round_to(v / metric.divisor, metric.decimals);
            out.series
                .insert(name.clone(), slots.iter().map(|a| a.map(|a| value(a.sum / a.weight))).collect());
            if bands {
                out.min.insert(name.clone(), slots.iter().map(|a| a.map(|a| value(a.min))).collect());
                out.max.insert(name, slots.iter().map(|a| a.map(|a| value(a.max))).collect());
            }
        }
    }
}

/// The parts of `[from, to)` each tier answers for when `tier` is chosen: the
/// coarser tiers before where `tier` holds data (a step that is not a whole
/// number of minutes still prefers raw rows, which are pruned long before the
/// minutes they were rolled into), then `tier` and the finer ones ([`descend`]).
fn segments(conn: &Connection, tier: Tier, from: i64, to: i64) -> rusqlite::Result<Vec<(Tier, i64, i64)>> {
    let mut parts = Vec::new();
    let mut start = from;
    if let Some(coarser) = tier.coarser() {
        let held = held_from(conn, tier, coarser)?.min(to);
        if start < held {
            parts.extend(segments(conn, coarser, start, held)?);
            start = held;
        }
    }
    if start < to {
        parts.extend(descend(conn, tier, start, to)?);
    }
    Ok(parts)
}

/// Where `tier` holds data from: the start of the row of `coarser` that holds
/// its oldest row, so the two never answer for the same time; `i64::MAX` when
/// it holds none. Pruning cuts whole rows of `coarser` (`retention::prune`),
/// so `tier` holds every row it ever had of that period (a new store's first,
/// partial minute among them, second by second), and never passes what was
/// rolled up, so `coarser` holds what lies before.
fn held_from(conn: &Connection, tier: Tier, coarser: Tier) -> rusqlite::Result<i64> {
    let oldest: Option<i64> =
        conn.query_row(&format!("SELECT min(ts) FROM host_{}", tier.suffix()), [], |r| r.get(0))?;
    let size = coarser.millis();
    Ok(oldest.map_or(i64::MAX, |ts| ts.div_euclid(size) * size))
}

/// The parts of `[from, to)` that `tier` answers for up to how far it is
/// rolled, and the finer tiers after that. Only ever finer, so it never meets
/// [`segments`]' step back to a coarser tier.
fn descend(conn: &Connection, tier: Tier, from: i64, to: i64) -> rusqlite::Result<Vec<(Tier, i64, i64)>> {
    let Some(finer) = tier.finer() else { return Ok(vec![(tier, from, to)]) };
    let rolled = retention::watermark(conn, tier)?.unwrap_or(i64::MIN);
    let mut parts = Vec::new();
    if from < rolled.min(to) {
        parts.push((tier, from, rolled.min(to)));
    }
    if rolled.max(from) < to {
        parts.extend(descend(conn, finer, rolled.max(from), to)?);
    }
    Ok(parts)
}

impl Store {
    fn max_span_ms(&self) -> i64 {
        let r = self.shared.retention;
        let longest = r.raw.max(r.minute).max(r.hour) + std::time::Duration::from_secs(86_400);
        i64::try_from(longest.as_millis()).unwrap_or(i64::MAX)
    }

    /// Checks a range and step; the step in seconds.
    fn step_for(&self, q: &HistoryQuery) -> Result<u64, QueryError> {
        if q.to_ms <= q.from_ms {
            return Err(QueryError::BadRange("from must be before to".into()));
        }
        let span_ms = q.to_ms - q.from_ms;
        if span_ms > self.max_span_ms() {
            // The bound has a day's slack over the longest tier (max_span_ms).
            let kept_min = (self.max_span_ms() - 86_400_000) / 60_000;
            let kept = match kept_min {
                m if m >= 48 * 60 => format!("{} days", m / (24 * 60)),
                m if m >= 120 => format!("{} hours", m / 60),
                m => format!("{m} minutes"),
            };
            return Err(QueryError::BadRange(format!("the range is longer than the {kept} history is kept")));
        }
        let span_s = (span_ms as u64).div_ceil(1000);
        match q.step_s {
            Some(0) => Err(QueryError::BadStep("step must be at least 1 second".into())),
            Some(step) if span_s.div_ceil(step) > MAX_POINTS => Err(QueryError::BadStep(format!(
                "a step of {step} s gives {} points over this range; at most {MAX_POINTS}",
                span_s.div_ceil(step)
            ))),
            Some(step) => Ok(step),
            None => {
                let mut step = nice_step(span_s.div_ceil(q.points.max(1)));
                // A range reaching back before a tier's retention reads the tier
                // that still holds it.
                let age = self.now() - q.from_ms;
                let keep = |d: std::time::Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
                let r = self.shared.retention;
                if age > keep(r.raw) && step < 60 {
                    step = 60;
                }
                if age > keep(r.minute) && step < 3600 {
                    step = 3600;
                }
                Ok(step)
            }
        }
    }

    /// The machine's series (and the project's runs') between two instants.
    /// Blocking.
    pub fn history(&self, q: &HistoryQuery) -> Result<HistorySeries, QueryError> {
        let step_s = self.step_for(q)?;
        let conn = self.reader()?;
        history(&conn, self.reader()?, q, step_s, (self.now(), self.offline()))
    }

    /// A page of `project`'s runs, newest first: all of them, those started
    /// before an instant, or those after a run in this order (the cursor a page
    /// hands on, so runs started within the same second are never skipped).
    /// Blocking.
    pub fn runs(&self, project: &str, limit: u32, before: Option<&Before>) -> Result<Runs, QueryError> {
        let conn = self.reader()?;
        let limit = limit.clamp(1, MAX_RUNS_PAGE);
        // Runs are ordered by start, then by when they were recorded: run ids
        // and starts are to the second, so two short runs can share one.
        let (after_ms, after_row) = match before {
            None => (i64::MAX, i64::MAX),
            Some(Before::Instant(ms)) => (*ms, i64::MIN),
            Some(Before::Run(run_id)) => conn
                .query_row(
                    "SELECT started_at, rowid FROM runs WHERE project = ?1 AND run_id = ?2",
                    params![project, run_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?
                .ok_or_else(|| QueryError::NotFound(project.to_owned(), run_id.clone()))?,
        };
        let mut statement = conn.prepare_cached(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE project = ?1 AND (started_at, rowid) < (?2, ?3)
             ORDER BY started_at DESC, rowid DESC LIMIT ?4"
        ))?;
        let (now, offline) = (self.now(), self.offline());
        let mut runs = statement
            .query_map(params![project, after_ms, after_row, limit + 1], |row| record(row, now, offline))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let next_before = (runs.len() > limit as usize).then(|| {
            runs.truncate(limit as usize);
            runs.last().map(|r| r.run_id.clone())
        });
        Ok(Runs { runs, next_before: next_before.flatten() })
    }

    /// One run's record, the project's run before it, and its series over its
    /// span. Blocking.
    pub fn report(&self, project: &str, run_id: &str) -> Result<RunReport, QueryError> {
        let conn = self.reader()?;
        let (now, offline) = (self.now(), self.offline());
        let run = conn
            .query_row(
                &format!("SELECT {RUN_COLUMNS} FROM runs WHERE project = ?1 AND run_id = ?2"),
                params![project, run_id],
                |row| record(row, now, offline),
            )
            .optional()?
            .ok_or_else(|| QueryError::NotFound(project.to_owned(), run_id.to_owned()))?;
        let (started, row, ended): (i64, i64, Option<i64>) = conn.query_row(
            "SELECT started_at, rowid, ended_at, status, last_seen FROM runs WHERE project = ?1 AND run_id = ?2",
            params![project, run_id],
            |r| {
                let started = r.get(0)?;
                let (_, ended) = as_read(r.get(3)?, r.get(2)?, r.get(4)?, started, offline);
                Ok((started, r.get(1)?, ended))
            },
        )?;
        // The run before it in the runs' order: two short runs may share a second.
        let previous = conn
            .query_row(
                &format!(
                    "SELECT {RUN_COLUMNS} FROM runs WHERE project = ?1 AND (started_at, rowid) < (?2, ?3)
                     ORDER BY started_at DESC, rowid DESC LIMIT 1"
                ),
                params![project, started, row],
                |row| record(row, now, offline),
            )
            .optional()?;
        // Up to and including its end: a run the server died under ends at its
        // last tick, which a range open at the end would leave out (and the
        // record's duration is rounded to a tenth, so it is not used here).
        let end = ended.unwrap_or(now).max(started);
        let q = HistoryQuery {
            from_ms: started,
            to_ms: (end + 1).max(started + 1000),
            step_s: None,
            project: Some(project.to_owned()),
            run_id: Some(run_id.to_owned()),
            points: REPORT_POINTS,
            all: false,
        };
        let step_s = self.step_for(&q)?;
        let history = history(&conn, self.reader()?, &q, step_s, (now, offline))?;
        let counters = conn.query_row(
            "SELECT counters FROM runs WHERE project = ?1 AND run_id = ?2",
            params![project, run_id],
            |row| json_column(row, 0),
        )?;
        let changes = match (&run.verdict, previous.as_ref().and_then(|p| p.verdict.as_ref())) {
            (Some(now), Some(before)) if now.judged && before.judged => crate::verdict::changes(before, now),
            _ => Vec::new(),
        };
        Ok(RunReport { run, previous, history, counters, changes })
    }

    /// The runs a previous server left `running` whose process still runs (the
    /// store marked the others `interrupted` when it opened), for this server
    /// to follow again. Blocking.
    pub fn unfinished_runs(&self) -> Result<Vec<crate::hub::RunSummary>, QueryError> {
        self.summaries("status = 'running' ORDER BY started_at", [])
    }

    /// The runs that ended without their end going through the alerts (they
    /// ended while PerfMon was down, or it died before their alert went out),
    /// as stored, oldest end first: for the alerts to send at start. Blocking.
    pub fn ends_not_alerted(&self) -> Result<Vec<crate::hub::RunSummary>, QueryError> {
        self.summaries("ended_at IS NOT NULL AND end_alerted = 0 ORDER BY ended_at", [])
    }

    /// `project`'s run `run_id` as stored, if it has ended and its end has not
    /// been through the alerts yet (an exit report that came after the server
    /// marked the run interrupted). Blocking.
    pub fn end_not_alerted(
        &self,
        project: &str,
        run_id: &str,
    ) -> Result<Option<crate::hub::RunSummary>, QueryError> {
        let filter = "project = ?1 AND run_id = ?2 AND ended_at IS NOT NULL AND end_alerted = 0";
        Ok(self.summaries(filter, params![project, run_id])?.pop())
    }

    /// `perfmon run --notify`'s destinations kept for `run_id`: none once its
    /// end has been alerted. Blocking.
    pub fn notify_specs(&self, run_id: &str) -> Result<Vec<String>, QueryError> {
        let conn = self.reader()?;
        let specs: Option<String> = conn
            .query_row("SELECT specs FROM run_notify WHERE run_id = ?1", [run_id], |r| r.get(0))
            .optional()?;
        Ok(specs.and_then(|text| serde_json::from_str(&text).ok()).unwrap_or_default())
    }

    /// The runs `filter` (an SQL condition and order, over `values`) selects,
    /// as the hub and the alerts hold them.
    fn summaries(
        &self,
        filter: &str,
        values: impl rusqlite::Params,
    ) -> Result<Vec<crate::hub::RunSummary>, QueryError> {
        let conn = self.reader()?;
        let mut statement = conn.prepare(&format!(
            "SELECT run_id, project, label, pid, started_at, cpu_seconds, peak_cpu_percent, peak_rss_bytes,
                 peak_gpu_bytes, peak_processes, tokens, cpu_base, counters, token_source, token_detail,
                 ended_at, status, exit_code, signal, verdict
             FROM runs WHERE {filter}"
        ))?;
        let runs = statement
            .query_map(values, |row| {
                let bytes = |i| row.get::<_, Option<i64>>(i).map(|b| b.map(|b| b.max(0) as u64));
                let at = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default();
                let mut run = crate::hub::RunSummary::started(
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    at(row.get(4)?),
                );
                run.cpu_seconds = row.get(5)?;
                run.peak_cpu_percent = row.get(6)?;
                run.peak_rss_bytes = bytes(7)?;
                run.peak_gpu_bytes = bytes(8)?;
                run.peak_processes = row.get(9)?;
                run.tokens = row.get::<_, i64>(10)?.max(0) as u64;
                run.cpu_base = row.get(11)?;
                run.counters = json_column(row, 12)?;
                run.token_source = json_column(row, 13)?;
                run.token_detail = json_column(row, 14)?;
                run.ended_at = row.get::<_, Option<i64>>(15)?.map(at);
                run.outcome = outcome(&row.get::<_, String>(16)?);
                run.exit_code = row.get(17)?;
                run.signal = row.get(18)?;
                run.verdict = json_column(row, 19)?;
                Ok(run)
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(runs)
    }

    /// The exit recorded for `project`'s stored run `run_id`; `None` when
    /// there is no such run. Blocking.
    pub fn recorded_exit(&self, project: &str, run_id: &str) -> Result<Option<RecordedExit>, QueryError> {
        let conn = self.reader()?;
        Ok(conn
            .query_row(
                "SELECT exit_code, signal FROM runs WHERE project = ?1 AND run_id = ?2",
                params![project, run_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// Stored alerts, the one most recently fired or resolved first. Blocking.
    pub fn alerts(&self, q: &AlertQuery) -> Result<Vec<AlertEvent>, QueryError> {
        let conn = self.reader()?;
        let mut statement = conn.prepare_cached(
            "SELECT id, rule, severity, state, title, message, project, run_id, series, value, threshold,
                 fired_at, resolved_at, silenced FROM alerts
             WHERE (?1 IS NULL OR project = ?1 OR project IS NULL) AND (?2 IS NULL OR run_id = ?2)
                 AND (?3 IS NULL OR coalesce(resolved_at, CASE state WHEN 'firing' THEN ?5 ELSE fired_at END) >= ?3)
                 AND (?4 IS NULL OR fired_at <= ?4)
             ORDER BY max(fired_at, coalesce(resolved_at, 0)) DESC, id DESC LIMIT ?6",
        )?;
        let rows = statement
            .query_map(params![q.project, q.run_id, q.from_ms, q.to_ms, i64::MAX, q.limit], alert_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Until when (unix ms) the alerts were silenced when last set; `None`
    /// when they were not. Blocking.
    pub fn alert_silence(&self) -> Result<Option<i64>, QueryError> {
        let conn = self.reader()?;
        Ok(conn.query_row("SELECT until FROM alert_silence WHERE id = 1", [], |r| r.get(0)).optional()?)
    }

    /// The highest alert id stored (0 for none), and the alerts still firing
    /// (a server that stopped while they fired). Blocking.
    pub fn alerts_at_start(&self) -> Result<(i64, Vec<AlertEvent>), QueryError> {
        let conn = self.reader()?;
        let max: i64 = conn.query_row("SELECT coalesce(max(id), 0) FROM alerts", [], |r| r.get(0))?;
        let mut statement = conn.prepare(
            "SELECT id, rule, severity, state, title, message, project, run_id, series, value, threshold,
                 fired_at, resolved_at, silenced FROM alerts WHERE state = 'firing' ORDER BY id",
        )?;
        let open = statement.query_map([], alert_from_row)?.collect::<Result<_, _>>()?;
        Ok((max, open))
    }

    /// Whether `project` has a stored run `run_id`. Blocking.
    pub fn has_run(&self, project: &str, run_id: &str) -> Result<bool, QueryError> {
        let conn = self.reader()?;
        let found = conn
            .query_row(
                "SELECT 1 FROM runs WHERE project = ?1 AND run_id = ?2",
                params![project, run_id],
                |_| Ok(()),
            )
            .optional()?;
        Ok(found.is_some())
    }

    /// Every project with a recorded run (the [`MAX_PROJECTS`] whose newest
    /// run started last), newest first. Blocking.
    pub fn projects(&self) -> Result<Vec<StoredProject>, QueryError> {
        let conn = self.reader()?;
        // One pass over `runs_by_project`: the newest start per project is the
        // first entry of its range in the index.
        let mut statement = conn.prepare_cached(
            "SELECT project, count(*), max(started_at) AS newest FROM runs GROUP BY project
             ORDER BY newest DESC, project LIMIT ?1",
        )?;
        let projects = statement
            .query_map(params![MAX_PROJECTS], |r| {
                Ok(StoredProject {
                    name: r.get(0)?,
                    runs: r.get::<_, i64>(1)?.max(0) as u64,
                    newest_start_ms: r.get(2)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(projects)
    }
}

/// A project as the store knows it, for the list of projects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredProject {
    /// Its name.
    pub name: String,
    /// Its recorded runs.
    pub runs: u64,
    /// When its newest run started, unix ms.
    pub newest_start_ms: i64,
}

/// A stored run's exit: its exit code and signal, both `None` while none is
/// recorded.
pub type RecordedExit = (Option<i32>, Option<i32>);

const RUN_COLUMNS: &str = "run_id, project, label, pid, started_at, ended_at, status, exit_code, signal, \
                           cpu_seconds, peak_cpu_percent, peak_rss_bytes, peak_gpu_bytes, peak_processes, tokens, \
                           last_seen, verdict, token_source, token_detail";

/// A JSON column (a run's counters or verdict) as its contract type; `None`
/// when `NULL` (a run recorded before PerfMon measured it) or unreadable (a
/// newer server's shape: better "not measured" than a failed page).
pub(super) fn json_column<T: serde::de::DeserializeOwned>(
    row: &Row<'_>,
    index: usize,
) -> rusqlite::Result<Option<T>> {
    let text: Option<String> = row.get(index)?;
    Ok(text.and_then(|text| match serde_json::from_str(&text) {
        Ok(value) => Some(value),
        Err(err) => {
            tracing::warn!("a stored run's column {index} could not be read: {err}");
            None
        }
    }))
}

fn outcome(name: &str) -> RunOutcome {
    match name {
        "running" => RunOutcome::Running,
        "killed" => RunOutcome::Killed,
        "ended" => RunOutcome::Ended,
        "interrupted" => RunOutcome::Interrupted,
        _ => RunOutcome::Exited,
    }
}

fn instant(ms: i64) -> shared::Timestamp {
    let at = chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default();
    crate::sampling::timestamp_seconds(at)
}

/// A run's status and end as they read: with `offline` (no server holds the
/// store), a run still marked running was cut short by a server that died:
/// it reads `interrupted` at the last moment it was seen (`last_seen`), never
/// as running on.
fn as_read(
    status: String,
    ended: Option<i64>,
    last_seen: Option<i64>,
    started: i64,
    offline: bool,
) -> (String, Option<i64>) {
    if offline && status == "running" {
        ("interrupted".into(), Some(last_seen.unwrap_or(started)))
    } else {
        (status, ended)
    }
}

/// A `runs` row (selected as [`RUN_COLUMNS`]) as the API shows it; `now` ends
/// a run still going. Read `offline` (no server holds the store), a run still
/// marked running was cut short by a server that died: it reads `interrupted`
/// at the last moment it was seen, never as running on.
fn record(row: &Row<'_>, now: i64, offline: bool) -> rusqlite::Result<RunRecord> {
    let started: i64 = row.get(4)?;
    let (status, ended) = as_read(row.get(6)?, row.get(5)?, row.get(15)?, started, offline);
    let bytes = |i| row.get::<_, Option<i64>>(i).map(|b| b.map(|b| b.max(0) as u64));
    Ok(RunRecord {
        run_id: row.get(0)?,
        project: row.get(1)?,
        label: row.get(2)?,
        pid: row.get(3)?,
        started_at: instant(started),
        ended_at: ended.map(instant),
        status: outcome(&status),
        exit_code: row.get(7)?,
        signal: row.get(8)?,
        duration_s: round_to((ended.unwrap_or(now).max(started) - started) as f64 / 1000.0, 1),
        cpu_seconds: round_to(row.get(9)?, 1),
        peak_cpu_percent: row.get::<_, Option<f64>>(10)?.map(|p| round_to(p, 1)),
        peak_rss_mb: bytes(11)?.map(mb),
        peak_gpu_memory_gb: bytes(12)?.map(gb),
        peak_process_count: row.get(13)?,
        tokens: row.get::<_, i64>(14)?.max(0) as u64,
        verdict: json_column(row, 16)?,
        token_source: json_column(row, 17)?,
        token_detail: json_column(row, 18)?,
    })
}

/// The names of `kind` that `parts` answer with: all of them, or the
/// [`MAX_NAMED_PER_ANSWER`] present for the longest time (then by name).
fn named_kept(
    conn: &Connection,
    kind: Named,
    parts: &[(Tier, i64, i64)],
) -> rusqlite::Result<BTreeSet<String>> {
    let mut present: HashMap<String, i64> = HashMap::new();
    for &(part, from, to) in parts {
        let sql = format!(
            "SELECT name, count(*) FROM {}_{} WHERE ts >= ?1 AND ts < ?2 GROUP BY name",
            kind.table,
            part.suffix()
        );
        let mut statement = conn.prepare_cached(&sql)?;
        let mut rows = statement.query(params![from, to])?;
        while let Some(row) = rows.next()? {
            *present.entry(row.get(0)?).or_default() += row.get::<_, i64>(1)? * part.millis();
        }
    }
    let mut longest: Vec<(String, i64)> = present.into_iter().collect();
    if longest.len() > MAX_NAMED_PER_ANSWER {
        longest.sort_by(|(a, a_ms), (b, b_ms)| b_ms.cmp(a_ms).then_with(|| a.cmp(b)));
        longest.truncate(MAX_NAMED_PER_ANSWER);
    }
    Ok(longest.into_iter().map(|(name, _)| name).collect())
}

/// Rows standing when a range starts, by name: each row's bucket (0 or
/// before it) and the row, as a one-bucket grid.
type Standing = BTreeMap<String, (i64, Grid)>;

/// One kind of named rows in an answer: a grid per name answered for and,
/// for a kind read when new, the rows standing when a range that starts in
/// the raw tier starts.
struct NamedAnswer {
    kind: Named,
    grids: BTreeMap<String, Grid>,
    standing: Standing,
}

/// The newest raw row of each of `kind`'s names in the
/// [`schema::HELD_FOR_MS`] before `from`, with its bucket by `bucket_of`: a
/// reading taken then still stands at the first ticks from `from` on.
fn standing_at(
    conn: &Connection,
    kind: Named,
    from: i64,
    bucket_of: impl Fn(i64) -> i64,
) -> rusqlite::Result<Standing> {
    let sql = format!(
        "SELECT ts, {}, name FROM {}_raw WHERE ts >= ?1 AND ts < ?2 ORDER BY ts DESC",
        schema::columns(kind.metrics, Tier::Raw).join(", "),
        kind.table
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let mut rows = statement.query(params![from - schema::HELD_FOR_MS, from])?;
    let mut standing = BTreeMap::new();
    while let Some(row) = rows.next()? {
        let name: String = row.get(1 + kind.metrics.len())?;
        if let std::collections::btree_map::Entry::Vacant(entry) = standing.entry(name) {
            let mut grid = Grid::new(kind.metrics.len(), 1);
            grid.add_row(row, 0, 1.0, 1, Tier::Raw)?;
            entry.insert((bucket_of(row.get(0)?), grid));
        }
    }
    Ok(standing)
}

/// Where a range's rows go: `count` buckets of `step` ms from `origin`.
#[derive(Debug, Clone, Copy)]
struct Buckets {
    origin: i64,
    step: i64,
    count: usize,
}

impl Buckets {
    /// The bucket of a row at `ts`; `None` outside the range. A coarser row
    /// stamped before the first bucket (an hour's, at a step of a minute) is
    /// read only when its period holds the range's start: the first bucket's.
    fn of(&self, ts: i64) -> Option<usize> {
        if ts < self.origin {
            return (self.count > 0).then_some(0);
        }
        usize::try_from((ts - self.origin).div_euclid(self.step)).ok().filter(|b| *b < self.count)
    }
}

/// How many columns `metrics` take in a row of `tier`: a value each, or a
/// min, mean and max.
fn width(metrics: &[Metric], tier: Tier) -> usize {
    metrics.len() * if tier == Tier::Raw { 1 } else { 3 }
}

/// The machine's rows, each GPU's and the runs' over `parts`, read on one
/// connection: the machine's grid, each core's buckets, the buckets that hold
/// a tick of the machine's, each device's grid and the runs' grid.
struct HostAnswer {
    host: Grid,
    cores: Vec<Vec<Option<Acc>>>,
    ticked: Vec<bool>,
    devices: BTreeMap<u32, Grid>,
    runs: Grid,
}

/// Reads the machine's rows of `parts`, each GPU's, and the runs' when `q`
/// names a project or a run.
fn read_host(
    conn: &Connection,
    q: &HistoryQuery,
    parts: &[(Tier, i64, i64)],
    buckets: Buckets,
    (host_metrics, device_metrics): (&[Metric], &[Metric]),
) -> rusqlite::Result<HostAnswer> {
    let mut answer = HostAnswer {
        host: Grid::new(host_metrics.len(), buckets.count),
        cores: Vec::new(),
        ticked: vec![false; buckets.count],
        devices: BTreeMap::new(),
        runs: Grid::new(RUN.len(), buckets.count),
    };
    // Rows are read in time order and added to their bucket here: SQLite's
    // GROUP BY on a computed bucket sorts every row through a temporary
    // b-tree first, and its aggregates cost a call per figure.
    for &(part, from, to) in parts {
        let t = part.suffix();
        let weight = part.millis() as f64;
        let columns = |metrics| schema::columns(metrics, part).join(", ");

        let sql =
            format!("SELECT ts, {}, cores FROM host_{t} WHERE ts >= ?1 AND ts < ?2", columns(host_metrics));
        let mut statement = conn.prepare_cached(&sql)?;
        let mut rows = statement.query(params![from, to])?;
        while let Some(row) = rows.next()? {
            let Some(b) = buckets.of(row.get(0)?) else { continue };
            answer.ticked[b] = true;
            answer.host.add_row(row, b, weight, 1, part)?;
            if let ValueRef::Blob(blob) = row.get_ref(1 + width(host_metrics, part))? {
                if answer.cores.len() < blob.len() {
                    answer.cores.resize(blob.len(), vec![None; buckets.count]);
                }
                for (core, value) in answer.cores.iter_mut().zip(blob) {
                    let v = Some(f64::from(*value));
                    Acc::add(&mut core[b], v, v, v, weight);
                }
            }
        }

        let sql =
            format!("SELECT ts, {}, device FROM gpu_{t} WHERE ts >= ?1 AND ts < ?2", columns(device_metrics));
        let mut statement = conn.prepare_cached(&sql)?;
        let mut rows = statement.query(params![from, to])?;
        while let Some(row) = rows.next()? {
            let Some(b) = buckets.of(row.get(0)?) else { continue };
            let device: u32 = row.get(1 + width(device_metrics, part))?;
            answer
                .devices
                .entry(device)
                .or_insert_with(|| Grid::new(device_metrics.len(), buckets.count))
                .add_row(row, b, weight, 1, part)?;
        }

        if q.project.is_some() || q.run_id.is_some() {
            let sql = format!(
                "SELECT ts, {} FROM run_{t} WHERE ts >= ?1 AND ts < ?2 AND run_id IN
                     (SELECT run_id FROM runs WHERE (?3 IS NULL OR project = ?3) AND (?4 IS NULL OR run_id = ?4))",
                columns(RUN)
            );
            let mut statement = conn.prepare_cached(&sql)?;
            let mut rows = statement.query(params![from, to, q.project, q.run_id])?;
            while let Some(row) = rows.next()? {
                let Some(b) = buckets.of(row.get(0)?) else { continue };
                answer.runs.add_row(row, b, weight, 1, part)?;
            }
        }
    }
    Ok(answer)
}

/// Each kind kept by name that `q` asks for, read over `parts` on one
/// connection.
fn read_named(
    conn: &Connection,
    q: &HistoryQuery,
    parts: &[(Tier, i64, i64)],
    buckets: Buckets,
) -> rusqlite::Result<Vec<NamedAnswer>> {
    let mut named = Vec::new();
    for kind in NAMED.into_iter().filter(|kind| kind.charted || q.all) {
        let standing = match parts.first() {
            Some(&(Tier::Raw, from, _)) if matches!(kind.cadence, schema::Cadence::Reading { .. }) => {
                standing_at(conn, kind, from, |ts| (ts - buckets.origin).div_euclid(buckets.step))?
            }
            _ => BTreeMap::new(),
        };
        let mut answer = NamedAnswer { kind, grids: BTreeMap::new(), standing };
        // Nearly always a kind has no more names over the range than an answer
        // holds, and one pass reads them all. Past that, the names present
        // longest are chosen first and the rows read again for those only, so
        // a month of passing `veth…`s never holds a grid each.
        if !read_named_rows(conn, &mut answer, parts, buckets, None)? {
            answer.grids.clear();
            let kept = named_kept(conn, kind, parts)?;
            read_named_rows(conn, &mut answer, parts, buckets, Some(&kept))?;
        }
        // A reading standing at the range's start with no row of its own in
        // it is answered too, while there is room (never after a choice: the
        // chosen names fill the answer, each with rows).
        for name in answer.standing.keys() {
            if answer.grids.len() < MAX_NAMED_PER_ANSWER && !answer.grids.contains_key(name) {
                answer.grids.insert(name.clone(), Grid::new(kind.metrics.len(), buckets.count));
            }
        }
        named.push(answer);
    }
    Ok(named)
}

/// One pass over `answer`'s kind's rows in `parts`, into a grid per name:
/// only `only`'s names when given; otherwise every name, unless there are
/// more than [`MAX_NAMED_PER_ANSWER`], when the pass stops and says `false`.
fn read_named_rows(
    conn: &Connection,
    answer: &mut NamedAnswer,
    parts: &[(Tier, i64, i64)],
    buckets: Buckets,
    only: Option<&BTreeSet<String>>,
) -> rusqlite::Result<bool> {
    let kind = answer.kind;
    for &(part, from, to) in parts {
        let sql = format!(
            "SELECT ts, {}, name FROM {}_{} WHERE ts >= ?1 AND ts < ?2",
            schema::columns(kind.metrics, part).join(", "),
            kind.table,
            part.suffix()
        );
        let mut statement = conn.prepare_cached(&sql)?;
        let mut rows = statement.query(params![from, to])?;
        let weight = part.millis() as f64;
        while let Some(row) = rows.next()? {
            let Some(b) = buckets.of(row.get(0)?) else { continue };
            let name = row.get_ref(1 + width(kind.metrics, part))?.as_str().map_err(rusqlite::Error::from)?;
            if !answer.grids.contains_key(name) {
                match only {
                    Some(only) if !only.contains(name) => continue,
                    None if answer.grids.len() >= MAX_NAMED_PER_ANSWER => return Ok(false),
                    _ => {}
                }
                answer.grids.insert(name.to_owned(), Grid::new(kind.metrics.len(), buckets.count));
            }
            if let Some(grid) = answer.grids.get_mut(name) {
                grid.add_row(row, b, weight, 1, part)?;
            }
        }
    }
    Ok(true)
}

/// Reads every series of `q` at `step_s`: the machine's rows on `conn`, the
/// kinds kept by name on `beside` at the same time, on a thread of their own.
/// A month's answer reads about as many rows of each, so on a machine of two
/// cores it takes the longer of the two rather than their sum.
fn history(
    conn: &Connection,
    beside: Connection,
    q: &HistoryQuery,
    step_s: u64,
    (now, offline): (i64, bool),
) -> Result<HistorySeries, QueryError> {
    let step = i64::try_from(step_s).unwrap_or(i64::MAX / 1000) * 1000;
    let origin = q.from_ms.div_euclid(step) * step;
    let count = usize::try_from((q.to_ms - origin + step - 1) / step).unwrap_or(0);
    let buckets = Buckets { origin, step, count };
    let mut parts = segments(conn, tier_for(step), q.from_ms, q.to_ms)?;
    // A coarser tier's row is stamped with the start of its minute or hour:
    // the row whose period holds the range's start answers for it too (an
    // old run's report starts within a minute).
    if let Some((tier, from, _)) = parts.first_mut().filter(|(tier, _, _)| *tier != Tier::Raw) {
        *from = from.div_euclid(tier.millis()) * tier.millis();
    }
    // The answer names the tier that answers for most of the range.
    let tier = parts.iter().max_by_key(|(_, from, to)| to - from).map_or(Tier::Raw, |(t, _, _)| *t);
    let downsampled = step_s > 1 || parts.iter().any(|(t, _, _)| *t != Tier::Raw);

    let metrics = if q.all {
        (schema::host_metrics(), schema::device_metrics())
    } else {
        (schema::charted_host_metrics(), schema::charted_device_metrics())
    };
    let (host_metrics, device_metrics) = metrics;
    let parts = &parts;
    let (host, named) = std::thread::scope(|scope| {
        let read_beside = move || read_named(&beside, q, parts, buckets);
        // Where no thread can be had (a process at its limit), `conn` reads
        // them after.
        match std::thread::Builder::new().name("perfmon-query".into()).spawn_scoped(scope, read_beside) {
            Ok(thread) => {
                let host = read_host(conn, q, parts, buckets, metrics);
                let named = thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                (host, named)
            }
            Err(_) => (read_host(conn, q, parts, buckets, metrics), read_named(conn, q, parts, buckets)),
        }
    });
    let HostAnswer { host, cores, ticked, devices, runs } = host?;

    let mut out = HistorySeries {
        step_s,
        tier: tier.name().to_owned(),
        timestamps: (0..count as i64).map(|i| origin + i * step).collect(),
        ..HistorySeries::default()
    };
    host.emit(host_metrics, "", downsampled, &mut out);
    for (i, core) in cores.iter().enumerate() {
        let values = core.iter().map(|a| a.map(|a| round_to(a.sum / a.weight, 0))).collect();
        out.series.insert(shared::series::cpu_core(i), values);
    }
    for (device, grid) in devices {
        grid.emit(
            device_metrics,
            &format!("{}{device}.", shared::series::GPU_DEVICE_PREFIX),
            downsampled,
            &mut out,
        );
    }
    for NamedAnswer { kind, grids, standing } in named? {
        for (name, mut grid) in grids {
            if matches!(kind.cadence, schema::Cadence::Reading { .. }) {
                grid.hold(&ticked, step, standing.get(&name));
            }
            grid.emit(kind.metrics, &format!("{}{name}.", kind.prefix), downsampled, &mut out);
        }
    }
    let mut names = conn.prepare_cached("SELECT device, name FROM gpu_names")?;
    out.gpu_names = names
        .query_map([], |r| Ok((r.get::<_, i64>(0)?.to_string(), r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    if q.project.is_some() || q.run_id.is_some() {
        runs.emit(RUN, shared::series::RUN_PREFIX, downsampled, &mut out);
    }
    if let Some(project) = &q.project {
        let mut statement = conn.prepare_cached(
            "SELECT run_id, label, started_at, ended_at, status, exit_code, last_seen FROM runs
             WHERE project = ?1 AND started_at < ?3 AND COALESCE(ended_at, ?4) >= ?2
             ORDER BY started_at LIMIT 1000",
        )?;
        out.runs = statement
            .query_map(params![project, q.from_ms, q.to_ms, now], |r| {
                let started: i64 = r.get(2)?;
                let (status, end_ms) = as_read(r.get(4)?, r.get(3)?, r.get(6)?, started, offline);
                Ok(RunBand {
                    run_id: r.get(0)?,
                    label: r.get(1)?,
                    start_ms: started,
                    end_ms,
                    status: outcome(&status),
                    exit_code: r.get(5)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
    }
    Ok(out)
}

#[cfg(test)]
#[path = "query_tests.rs"]
mod query_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_round_up_to_whole_tiers() {
        assert_eq!(nice_step(43), 60);
        assert_eq!(nice_step(1), 1);
        assert_eq!(nice_step(1296), 1800);
        assert_eq!(nice_step(700_000), 777_600);
        assert_eq!(tier_for(1_000), Tier::Raw);
        assert_eq!(tier_for(30_000), Tier::Raw);
        assert_eq!(tier_for(60_000), Tier::Minute);
        assert_eq!(tier_for(90_000), Tier::Raw, "not a whole number of minutes");
        assert_eq!(tier_for(300_000), Tier::Minute);
        assert_eq!(tier_for(1_800_000), Tier::TenMinutes);
        assert_eq!(tier_for(7_200_000), Tier::Hour);
    }

    #[test]
    fn buckets_merge_weighted_by_time() {
        let mut slot = None;
        Acc::add(&mut slot, Some(1.0), Some(2.0), Some(3.0), 60.0);
        Acc::add(&mut slot, None, Some(8.0), None, 20.0);
        Acc::add(&mut slot, None, None, None, 1000.0);
        let acc = slot.expect("values");
        assert_eq!((acc.min, acc.max, acc.sum / acc.weight), (1.0, 8.0, 3.5));
    }
}

/// Which stored alerts [`Store::alerts`] lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertQuery {
    /// That project's alerts and the machine's; `None`: every one.
    pub project: Option<String>,
    /// Only that run's.
    pub run_id: Option<String>,
    /// Only alerts active at or after this instant, unix ms.
    pub from_ms: Option<i64>,
    /// Only alerts fired at or before this instant, unix ms.
    pub to_ms: Option<i64>,
    /// At most this many.
    pub limit: u32,
}

/// One row of `alerts` as the contract has it.
fn alert_from_row(r: &Row<'_>) -> rusqlite::Result<AlertEvent> {
    let time = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms).map(crate::sampling::timestamp_millis).unwrap_or_default()
    };
    let severity: String = r.get(2)?;
    let state: String = r.get(3)?;
    Ok(AlertEvent {
        perfmon_alert: shared::alerts::ALERT_SCHEMA,
        id: r.get(0)?,
        rule: r.get(1)?,
        severity: Severity::from_key(&severity).unwrap_or_default(),
        state: AlertState::from_key(&state).unwrap_or(AlertState::Event),
        title: r.get(4)?,
        message: r.get(5)?,
        project: r.get(6)?,
        run_id: r.get(7)?,
        series: r.get(8)?,
        value: r.get(9)?,
        threshold: r.get(10)?,
        fired_at: time(r.get(11)?),
        resolved_at: r.get::<_, Option<i64>>(12)?.map(time),
        silenced: r.get(13)?,
    })
}
