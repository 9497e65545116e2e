//! The raw tier read in order, for remote write (`crate::fleet`): the ticks
//! after a position, each with every figure the store keeps of it, and the
//! runs that ended around them.
//!
//! A sender reads often (every few seconds, and in quick succession while it
//! catches up), so it keeps one read connection, an [`Exporter`], rather than
//! opening one per query as the history API does. Each read is a few short
//! statements in one read transaction, so the writer's checkpoints are
//! never held up for long.
//!
//! Figures are returned as stored (bytes, tenths of a percent, thousandths of
//! a GiB: see [`schema::Metric`]); the caller scales them with the metric's
//! divisor. A tick's rows in every table are committed in one transaction, so
//! a tick whose machine row is visible has all of its rows visible.

use std::collections::HashMap;

use rusqlite::{Connection, Row, params};
use shared::why::Verdict;

use super::schema::{self, NAMED, RUN, Tier};
use super::{QueryError, Store};

/// One tick's figures, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RawTick {
    /// When it was taken, unix ms.
    pub ts: i64,
    /// The machine's figures, in [`schema::host_metrics`]' order.
    pub host: Vec<Option<f64>>,
    /// Each core's use, whole percents (the heat strip's bytes).
    pub cores: Vec<u8>,
    /// Each GPU device's figures by index, in [`schema::device_metrics`]' order.
    pub devices: Vec<(u32, Vec<Option<f64>>)>,
    /// Each kind of [`NAMED`], in its order (disks, interfaces, cores'
    /// detail, temperature sensors, filesystems): each device's name and its
    /// figures, in the kind's metrics' order.
    pub named: [Vec<(String, Vec<Option<f64>>)>; NAMED.len()],
    /// Each live run's tree.
    pub runs: Vec<RawRun>,
}

/// A live run's tree at one tick.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRun {
    /// The run's id.
    pub run_id: String,
    /// Its project.
    pub project: String,
    /// Its figures, in [`RUN`]'s order.
    pub values: Vec<Option<f64>>,
}

/// Consecutive ticks of the raw tier, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawBatch {
    /// The ticks.
    pub ticks: Vec<RawTick>,
    /// Each GPU device's name by index (the newest one recorded).
    pub gpu_names: HashMap<u32, String>,
}

/// A run that has ended, as its outcome is exported.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishedRun {
    /// Its project.
    pub project: String,
    /// Its id.
    pub run_id: String,
    /// When it started and ended, unix ms.
    pub started_at: i64,
    /// When it ended, unix ms.
    pub ended_at: i64,
    /// Its exit code, when it exited.
    pub exit_code: Option<i32>,
    /// The signal that killed it, when one did.
    pub signal: Option<i32>,
    /// Where its time went, when judged.
    pub verdict: Option<Verdict>,
}

/// The exporter's SQLite page cache, KiB.
const EXPORTER_CACHE_KIB: u32 = 64;

/// A read connection kept for exporting.
#[derive(Debug)]
pub struct Exporter {
    conn: Connection,
    /// The SELECT of each table's raw figures after `ts > ?1 AND ts <= ?2`.
    host_sql: String,
    device_sql: String,
    named_sql: [String; NAMED.len()],
    run_sql: String,
}

impl Store {
    /// A read connection for exporting the raw tier; fails while the store
    /// has no database. Blocking.
    pub fn exporter(&self) -> Result<Exporter, QueryError> {
        let raw = |metrics| schema::columns(metrics, Tier::Raw).join(", ");
        let t = Tier::Raw.suffix();
        let conn = self.reader()?;
        // Kept for the server's life, it reads the last seconds of each table
        // again and again: the pages at their right edge, which the OS's
        // cache holds anyway. A small cache keeps its memory flat.
        conn.execute_batch(&format!("PRAGMA cache_size = -{EXPORTER_CACHE_KIB};"))?;
        Ok(Exporter {
            conn,
            host_sql: format!(
                "SELECT ts, cores, {} FROM host_{t} WHERE ts > ?1 ORDER BY ts LIMIT ?2",
                raw(schema::host_metrics())
            ),
            device_sql: format!(
                "SELECT ts, device, {} FROM gpu_{t} WHERE ts >= ?1 AND ts <= ?2 ORDER BY ts, device",
                raw(schema::device_metrics())
            ),
            named_sql: NAMED.map(|kind| {
                format!(
                    "SELECT ts, name, {} FROM {}_{t} WHERE ts >= ?1 AND ts <= ?2 ORDER BY ts, name",
                    raw(kind.metrics),
                    kind.table
                )
            }),
            run_sql: format!(
                "SELECT r.ts, r.run_id, runs.project, {} FROM run_{t} r JOIN runs USING (run_id)
                 WHERE r.ts >= ?1 AND r.ts <= ?2 ORDER BY r.ts, r.run_id",
                schema::columns(RUN, Tier::Raw)
                    .iter()
                    .map(|c| format!("r.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
    }

    /// How far `receiver` has accepted the raw tier (unix ms of the newest
    /// tick it took), if it ever accepted any. Blocking.
    pub fn sent_position(&self, receiver: &str) -> Result<Option<i64>, QueryError> {
        let conn = self.reader()?;
        let mut statement = conn.prepare("SELECT sent_to FROM remote_write WHERE receiver = ?1")?;
        let mut rows = statement.query(params![receiver])?;
        Ok(match rows.next()? {
            Some(row) => Some(row.get(0)?),
            None => None,
        })
    }
}

impl Exporter {
    /// Up to `max_ticks` ticks taken after `after_ms`, oldest first, with
    /// every figure kept of each. Blocking.
    pub fn ticks_after(&self, after_ms: i64, max_ticks: usize) -> Result<RawBatch, QueryError> {
        // One read transaction: every table as of one moment. The ticks' rows
        // were committed together, but pruning deletes each table's oldest
        // rows in a transaction of its own, which must not fall between these
        // reads and leave a tick with its machine row and nothing else.
        let snapshot = self.conn.unchecked_transaction()?;
        let batch = self.read_after(after_ms, max_ticks)?;
        snapshot.commit()?;
        Ok(batch)
    }

    fn read_after(&self, after_ms: i64, max_ticks: usize) -> Result<RawBatch, QueryError> {
        let conn = &self.conn;
        let limit = i64::try_from(max_ticks).unwrap_or(i64::MAX);
        let mut ticks: Vec<RawTick> = conn
            .prepare_cached(&self.host_sql)?
            .query_map(params![after_ms, limit], |row| {
                Ok(RawTick {
                    ts: row.get(0)?,
                    cores: row.get::<_, Option<Vec<u8>>>(1)?.unwrap_or_default(),
                    host: figures(row, 2, schema::host_metrics().len())?,
                    devices: Vec::new(),
                    named: Default::default(),
                    runs: Vec::new(),
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        let (Some(first), Some(last)) = (ticks.first().map(|t| t.ts), ticks.last().map(|t| t.ts)) else {
            return Ok(RawBatch::default());
        };
        let index: HashMap<i64, usize> = ticks.iter().enumerate().map(|(i, t)| (t.ts, i)).collect();
        let at = |ts: i64| index.get(&ts).copied();

        let mut statement = conn.prepare_cached(&self.device_sql)?;
        let mut rows = statement.query(params![first, last])?;
        while let Some(row) = rows.next()? {
            if let Some(i) = at(row.get(0)?) {
                let device: u32 = row.get(1)?;
                ticks[i].devices.push((device, figures(row, 2, schema::device_metrics().len())?));
            }
        }
        for (k, (kind, sql)) in NAMED.iter().zip(&self.named_sql).enumerate() {
            let mut statement = conn.prepare_cached(sql)?;
            let mut rows = statement.query(params![first, last])?;
            while let Some(row) = rows.next()? {
                if let Some(i) = at(row.get(0)?) {
                    ticks[i].named[k].push((row.get(1)?, figures(row, 2, kind.metrics.len())?));
                }
            }
        }
        let mut statement = conn.prepare_cached(&self.run_sql)?;
        let mut rows = statement.query(params![first, last])?;
        while let Some(row) = rows.next()? {
            if let Some(i) = at(row.get(0)?) {
                ticks[i].runs.push(RawRun {
                    run_id: row.get(1)?,
                    project: row.get(2)?,
                    values: figures(row, 3, RUN.len())?,
                });
            }
        }
        let gpu_names = conn
            .prepare_cached("SELECT device, name FROM gpu_names")?
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(RawBatch { ticks, gpu_names })
    }

    /// The runs that ended after `after_ms` and by `until_ms`, oldest end
    /// first; with `after_ms` `None`, the newest ended run of each of the
    /// `projects` projects whose runs ended last, by `until_ms`. Blocking.
    pub fn finished_runs(
        &self,
        after_ms: Option<i64>,
        until_ms: i64,
        projects: usize,
    ) -> Result<Vec<FinishedRun>, QueryError> {
        finished_runs(&self.conn, after_ms, until_ms, projects)
    }
}

impl Store {
    /// The newest ended run of each of the `projects` projects whose runs
    /// ended last (`/metrics`' last-run families). Blocking.
    pub fn last_runs(&self, projects: usize) -> Result<Vec<FinishedRun>, QueryError> {
        finished_runs(&self.reader()?, None, i64::MAX, projects)
    }
}

fn finished_runs(
    conn: &Connection,
    after_ms: Option<i64>,
    until_ms: i64,
    projects: usize,
) -> Result<Vec<FinishedRun>, QueryError> {
    const COLUMNS: &str = "project, run_id, started_at, ended_at, exit_code, signal, verdict";
    let limit = i64::try_from(projects).unwrap_or(i64::MAX);
    let mut runs: Vec<FinishedRun> = match after_ms {
        Some(after) => conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM runs WHERE ended_at > ?1 AND ended_at <= ?2 ORDER BY ended_at"
            ))?
            .query_map(params![after, until_ms], finished)?
            .collect::<rusqlite::Result<_>>()?,
        None => conn
            .prepare_cached(&format!(
                // One per project: two runs a crash ended at the same tick
                // end at the same instant (the one recorded last wins).
                "SELECT {COLUMNS} FROM (SELECT *, row_number() OVER
                         (PARTITION BY project ORDER BY ended_at DESC, rowid DESC) AS newest
                     FROM runs WHERE ended_at <= ?1)
                 WHERE newest = 1 ORDER BY ended_at DESC LIMIT ?2"
            ))?
            .query_map(params![until_ms, limit], finished)?
            .collect::<rusqlite::Result<_>>()?,
    };
    runs.sort_by_key(|r| r.ended_at);
    Ok(runs)
}

/// `n` figures of a row from column `from` on.
fn figures(row: &Row<'_>, from: usize, n: usize) -> rusqlite::Result<Vec<Option<f64>>> {
    (from..from + n).map(|i| row.get(i)).collect()
}

fn finished(row: &Row<'_>) -> rusqlite::Result<FinishedRun> {
    Ok(FinishedRun {
        project: row.get(0)?,
        run_id: row.get(1)?,
        started_at: row.get(2)?,
        ended_at: row.get(3)?,
        exit_code: row.get(4)?,
        signal: row.get(5)?,
        // A verdict this build cannot read is left out, as the report does.
        verdict: super::query::json_column(row, 6)?,
    })
}
