//! Roll-ups and pruning, run by the writer between batches.
//!
//! Raw rows (the machine's, each GPU's, disk's, interface's and run's) are
//! rolled into per-minute rows once their minute is closed (a newer minute has
//! machine samples), minutes into ten minutes and those into hours the same way; `meta` keeps how far each roll-up has got (`rolled_1m`,
//! `rolled_10m`, `rolled_1h`: everything before it is rolled). A tier is pruned by age (its retention, measured
//! against the store's clock), but never past what has been rolled up out of it,
//! so nothing is lost between tiers.

use rusqlite::{Connection, OptionalExtension, params};

use super::Retention;
use super::schema::{self, NAMED, RUN, TIERED, Tier};

/// How much is rolled up per transaction, so a long backlog (a first start on
/// an old file) never holds one huge transaction.
fn chunk_ms(into: Tier) -> i64 {
    match into {
        Tier::Hour | Tier::TenMinutes => 7 * 86_400_000,
        _ => 6 * 3_600_000,
    }
}

/// The `meta` key of how far rows have been rolled into `into`.
pub(super) fn watermark_key(into: Tier) -> String {
    format!("rolled_{}", into.suffix())
}

/// How far rows have been rolled into `into`: rows of the finer tier before it
/// are in `into`.
pub(super) fn watermark(conn: &Connection, into: Tier) -> rusqlite::Result<Option<i64>> {
    conn.query_row("SELECT value FROM meta WHERE key = ?1", [watermark_key(into)], |r| r.get(0)).optional()
}

/// Rolls up what is closed, then prunes each tier, then gives freed pages back.
pub(super) fn run(conn: &mut Connection, now_ms: i64, keep: &Retention) -> rusqlite::Result<()> {
    for into in Tier::ALL {
        if let Some(from) = into.finer() {
            roll(conn, from, into)?;
        }
    }
    prune(conn, now_ms, keep)?;
    // auto_vacuum = INCREMENTAL: hand a bounded number of free pages back to
    // the file system per pass, so the file shrinks after pruning without a
    // full VACUUM.
    conn.execute_batch("PRAGMA incremental_vacuum(4096);")
}

/// The roll-up statements from `from` into `into`, for rows in `[?1, ?2)`.
fn roll_statements(from: Tier, into: Tier) -> Vec<String> {
    let (f, t, size) = (from.suffix(), into.suffix(), into.millis());
    let columns = |metrics| schema::columns(metrics, into).join(", ");
    let (host, device) = (schema::host_metrics(), schema::device_metrics());
    let mut statements = vec![
        format!(
            "INSERT OR REPLACE INTO host_{t} (ts, {}, cores)
             SELECT (ts / {size}) * {size} AS bucket, {}, cores_avg(cores)
             FROM host_{f} WHERE ts >= ?1 AND ts < ?2 GROUP BY bucket",
            columns(host),
            schema::aggregates(host, from)
        ),
        format!(
            "INSERT OR REPLACE INTO gpu_{t} (ts, device, {})
             SELECT (ts / {size}) * {size} AS bucket, device, {}
             FROM gpu_{f} WHERE ts >= ?1 AND ts < ?2 GROUP BY bucket, device",
            columns(device),
            schema::aggregates(device, from)
        ),
        format!(
            "INSERT OR REPLACE INTO run_{t} (run_id, ts, {})
             SELECT run_id, (ts / {size}) * {size} AS bucket, {}
             FROM run_{f} WHERE ts >= ?1 AND ts < ?2 GROUP BY run_id, bucket",
            columns(RUN),
            schema::aggregates(RUN, from)
        ),
    ];
    statements.extend(NAMED.iter().map(|kind| {
        format!(
            "INSERT OR REPLACE INTO {table}_{t} (ts, name, {})
             SELECT (ts / {size}) * {size} AS bucket, name, {}
             FROM {table}_{f} WHERE ts >= ?1 AND ts < ?2 GROUP BY bucket, name",
            columns(kind.metrics),
            schema::aggregates(kind.metrics, from),
            table = kind.table
        )
    }));
    statements
}

/// Rolls every closed period of `from` into `into`: periods before the one
/// holding `from`'s newest row.
fn roll(conn: &mut Connection, from: Tier, into: Tier) -> rusqlite::Result<()> {
    let size = into.millis();
    let (oldest, newest): (Option<i64>, Option<i64>) =
        conn.query_row(&format!("SELECT min(ts), max(ts) FROM host_{}", from.suffix()), [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let (Some(oldest), Some(newest)) = (oldest, newest) else { return Ok(()) };
    let closed = newest.div_euclid(size) * size;
    let mut start = watermark(conn, into)?.unwrap_or(oldest.div_euclid(size) * size);
    let statements = roll_statements(from, into);
    while start < closed {
        let end = (start + chunk_ms(into)).min(closed);
        let tx = conn.transaction()?;
        for sql in &statements {
            tx.prepare_cached(sql)?.execute(params![start, end])?;
        }
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
            params![watermark_key(into), end],
        )?;
        tx.commit()?;
        start = end;
    }
    Ok(())
}

/// Deletes rows older than each tier's retention, but never rows not yet rolled
/// up into the next tier, and only whole periods of the next tier's rows: the
/// period a tier's oldest row is in is held whole, which lets queries read it
/// there rather than from its one coarser row (`query::held_from`).
fn prune(conn: &mut Connection, now_ms: i64, keep: &Retention) -> rusqlite::Result<()> {
    let age =
        |d: std::time::Duration| now_ms.saturating_sub(i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let mut cuts = Vec::new();
    for tier in Tier::ALL {
        let kept = match tier {
            Tier::Raw => keep.raw,
            Tier::Minute | Tier::TenMinutes => keep.minute,
            Tier::Hour => keep.hour,
        };
        let cut = match tier.coarser() {
            Some(into) => {
                let rolled = watermark(conn, into)?.unwrap_or(i64::MIN);
                let cut = age(kept).min(rolled);
                cut.checked_sub(cut.rem_euclid(into.millis())).unwrap_or(i64::MIN)
            }
            None => age(kept),
        };
        cuts.push((tier, cut));
    }
    let tx = conn.transaction()?;
    for (tier, cut) in cuts {
        for kind in TIERED {
            tx.prepare_cached(&format!("DELETE FROM {kind}_{} WHERE ts < ?1", tier.suffix()))?
                .execute([cut])?;
        }
    }
    tx.commit()
}
