//! The writer thread: the store's one writing connection. It wakes when records
//! are queued (or once a second), commits everything queued in one transaction,
//! and runs the roll-ups and pruning in between.
//!
//! Trouble never reaches the hub: a database that cannot be opened or written
//! (a read-only directory, a full disk) marks the store `degraded` and is tried
//! again; the ticks of a failed batch are dropped and counted, while run records
//! wait in memory for the database to come back. A file that is not a database,
//! or a corrupt one, is moved aside and a fresh one started.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode, OptionalExtension, params, params_from_iter};
use shared::api::{ExitReport, RunOutcome};

use super::thin::Thinning;
use super::{DB_FILE, Event, LockError, Shared, State, WRITER_CACHE_KIB, lock, retention, schema, take_lock};
use crate::config::Secret;
use crate::hub::{Record, RunSummary};

/// How soon the writer tries again to write run records it holds (the
/// database could not be written), with nothing else queued.
const RETRY_HELD: Duration = Duration::from_secs(1);
/// How often a store without a database tries to open one again.
const REOPEN_EVERY: Duration = Duration::from_secs(30);
/// How often roll-ups and pruning run.
const MAINTAIN_EVERY: Duration = Duration::from_secs(60);
/// Run records kept in memory while the database cannot be written; beyond this
/// the oldest are given up (and logged).
const MAX_HELD_RUN_EVENTS: usize = 10_000;

/// The writer's state between batches.
struct Writer {
    db: Option<Connection>,
    next_open: Instant,
    next_maintenance: Instant,
    /// Run records and exit reports not yet written.
    held: VecDeque<Event>,
    /// GPU names written so far, so a name is written when it changes, not per tick.
    names: HashMap<u32, String>,
    /// Which rows of the kinds kept by name each tick writes.
    thinning: Thinning,
}

/// The writer thread's body: returns once the store is closed.
pub(super) fn run(shared: &Shared) {
    let mut writer = Writer {
        db: None,
        next_open: Instant::now(),
        next_maintenance: Instant::now(),
        held: VecDeque::new(),
        names: HashMap::new(),
        thinning: Thinning::new(),
    };
    // The database is opened at once, not after the first wait for records:
    // queries (and the server's start, which reads the runs left running)
    // wait for it.
    writer.ensure_open(shared);
    loop {
        let (ticks, events, stop) = take(shared, writer.next_wake());
        let handled = (ticks.len() + events.len()) as u64;
        let flush = events.iter().any(|e| matches!(e, Event::Flush));
        for event in events.into_iter().filter(|e| !matches!(e, Event::Flush)) {
            // A receiver's newer position replaces one not yet written: while
            // the database cannot be written, a push catching up must not
            // crowd run records out of the held queue.
            if let Event::Sent { receiver, .. } = &event {
                writer.held.retain(|held| !matches!(held, Event::Sent { receiver: r, .. } if r == receiver));
            }
            writer.held.push_back(event);
        }
        while writer.held.len() > MAX_HELD_RUN_EVENTS {
            writer.held.pop_front();
            tracing::warn!("the store cannot keep up with run records: the oldest was given up");
        }
        writer.ensure_open(shared);
        writer.write(shared, ticks);
        if flush || Instant::now() >= writer.next_maintenance {
            writer.maintain(shared);
        }
        *lock(&shared.done) += handled;
        shared.done_signal.notify_all();
        if stop {
            if let Some(db) = writer.db.take() {
                // Folds the WAL back into the database so a clean stop leaves one file.
                if let Err(err) = db.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);") {
                    tracing::warn!("the store's log could not be folded in at the stop: {err}");
                }
                drop(db);
            }
            *lock(&shared.stopped) = true;
            shared.stopped_signal.notify_all();
            return;
        }
    }
}

/// Waits for records (or until `wait` passes) and takes everything queued:
/// ticks, other events, and whether the store is closing.
fn take(shared: &Shared, wait: Duration) -> (Vec<Event>, Vec<Event>, bool) {
    let pending = lock(&shared.pending);
    let (mut pending, _) = shared
        .wake
        .wait_timeout_while(pending, wait, |p| p.ticks.is_empty() && p.runs.is_empty() && !p.stop)
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let ticks = pending.ticks.drain(..).collect();
    let events = pending.runs.drain(..).collect();
    (ticks, events, pending.stop)
}

impl Writer {
    /// How long the writer may sleep with nothing queued: until the next
    /// maintenance or reopening, or a second while it holds run records not
    /// written. Not a fixed second: each wake-up for nothing costs a thread
    /// switch, and the ticks wake it anyway.
    fn next_wake(&self) -> Duration {
        let now = Instant::now();
        let mut until = self.next_maintenance;
        if self.db.is_none() {
            until = until.min(self.next_open);
        }
        let wait = until.saturating_duration_since(now);
        if self.held.is_empty() { wait } else { wait.min(RETRY_HELD) }
    }

    /// Opens the database if there is none and a try is due.
    fn ensure_open(&mut self, shared: &Shared) {
        if self.db.is_some() || Instant::now() < self.next_open {
            return;
        }
        self.next_open = Instant::now() + REOPEN_EVERY;
        {
            let mut held = lock(&shared.lock);
            if held.is_none() {
                match take_lock(&shared.dir) {
                    Ok(file) => *held = Some(file),
                    Err(LockError::Held(pid)) => {
                        shared.set_state(State::Degraded(format!(
                            "another PerfMon (pid {pid}) keeps its history in this data directory"
                        )));
                        return;
                    }
                    Err(LockError::Io(reason)) => {
                        shared.set_state(State::Degraded(reason));
                        return;
                    }
                }
            }
        }
        match open(&shared.dir) {
            Ok((conn, moved)) => {
                self.db = Some(conn);
                self.names.clear();
                if let Some(moved) = moved {
                    shared.moved_aside(moved);
                }
                shared.set_state(State::Ok);
            }
            Err(reason) => shared.set_state(State::Degraded(reason)),
        }
    }

    /// Writes `ticks` and the held run records in one transaction.
    fn write(&mut self, shared: &Shared, ticks: Vec<Event>) {
        if ticks.is_empty() && self.held.is_empty() {
            return;
        }
        let Some(db) = self.db.as_mut() else {
            drop_ticks(shared, ticks.len());
            return;
        };
        let result = (|| {
            let tx = db.transaction()?;
            // Runs first, so a run's first ticks find its row. Figures only ever
            // grow (see the statements), so their order does not matter.
            for event in &self.held {
                write_event(&tx, event)?;
            }
            for event in &ticks {
                if let Event::Record(Record::Tick { sample, runs }) = event {
                    write_tick(&tx, sample, runs, &mut self.names, &mut self.thinning)?;
                }
            }
            tx.commit()
        })();
        match result {
            Ok(()) => {
                self.held.clear();
                shared.set_state(State::Ok);
            }
            Err(err) => {
                drop_ticks(shared, ticks.len());
                // The rows the dropped ticks were to write are not written:
                // the next tick starts afresh (writes the slow sources'
                // reading it has, and a window of its own).
                self.thinning = Thinning::new();
                // Nor are the GPU names it wrote: written again next time.
                self.names.clear();
                self.failed(shared, &err);
            }
        }
    }

    /// Rolls up and prunes what is due.
    fn maintain(&mut self, shared: &Shared) {
        self.next_maintenance = Instant::now() + MAINTAIN_EVERY;
        let Some(db) = self.db.as_mut() else { return };
        if let Err(err) = retention::run(db, (shared.clock)(), &shared.retention) {
            self.failed(shared, &err);
        }
        // The roll-ups' and pruning's statements were compiled and dropped:
        // what they freed goes back to the kernel now, not up to a minute
        // later at the service's next trim (trim.rs).
        crate::trim::release();
    }

    /// Decides what a failed statement means: a broken file is moved aside and
    /// replaced; anything else degrades the store until a write succeeds.
    fn failed(&mut self, shared: &Shared, err: &rusqlite::Error) {
        tracing::warn!("the store could not write: {err}");
        if is_corrupt(err) {
            self.db = None;
            if let Some(moved) = move_aside(&shared.dir.join(DB_FILE)) {
                shared.moved_aside(moved);
            }
            self.next_open = Instant::now();
            self.ensure_open(shared);
        } else {
            shared.set_state(State::Degraded(describe(err)));
        }
    }
}

fn drop_ticks(shared: &Shared, n: usize) {
    if n > 0 {
        shared.dropped(n as u64);
    }
}

/// Opens (or creates) the database in `dir` and brings it up to date: WAL,
/// migrations, and any run left `running` by a server that died marked
/// `interrupted`. A file that is not a database or is corrupt is moved aside and
/// a fresh one made, and the name it was given is returned beside the
/// connection. Plain words when it cannot be opened.
pub(super) fn open(dir: &Path) -> Result<(Connection, Option<String>), String> {
    let path = dir.join(DB_FILE);
    match open_at(&path) {
        Ok(conn) => Ok((conn, None)),
        Err(Failure::Sql(err)) if is_corrupt(&err) => {
            tracing::warn!("{} is not a usable database ({err})", path.display());
            let moved = move_aside(&path);
            open_at(&path).map(|conn| (conn, moved)).map_err(|failure| failure.to_string())
        }
        Err(failure) => {
            tracing::warn!("cannot open {}: {failure}", path.display());
            Err(failure.to_string())
        }
    }
}

/// Why a database would not open.
enum Failure {
    Sql(rusqlite::Error),
    /// The file belongs to a newer PerfMon, or its version field was changed.
    Version(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Sql(err) => f.write_str(&describe(err)),
            Failure::Version(why) => f.write_str(why),
        }
    }
}

fn open_at(path: &Path) -> Result<Connection, Failure> {
    let mut conn = Connection::open(path).map_err(Failure::Sql)?;
    keep_private(path);
    let setup = format!(
        "PRAGMA auto_vacuum = INCREMENTAL;
         PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA cache_size = -{WRITER_CACHE_KIB};"
    );
    conn.busy_timeout(Duration::from_secs(5)).map_err(Failure::Sql)?;
    conn.execute_batch(&setup).map_err(Failure::Sql)?;
    // A page-level check: a file damaged inside (not just its header) is caught
    // here rather than by a query hours later.
    let check: String = conn.query_row("PRAGMA quick_check", [], |row| row.get(0)).map_err(Failure::Sql)?;
    if check != "ok" {
        return Err(Failure::Sql(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
            Some(check),
        )));
    }
    schema::migrate(&mut conn).map_err(|err| match err {
        rusqlite_migration::Error::RusqliteError { err, .. } => Failure::Sql(err),
        other => Failure::Version(format!(
            "the data directory's history was written by another PerfMon version ({other}); give this \
             one another --data-dir"
        )),
    })?;
    schema::register_functions(&conn).map_err(Failure::Sql)?;
    let interrupted = mark_interrupted(&conn).map_err(Failure::Sql)?;
    if interrupted > 0 {
        tracing::info!("{interrupted} run(s) live when PerfMon last stopped are marked interrupted");
    }
    Ok(conn)
}

/// Makes the database readable by its owner only, with its WAL and shared
/// memory files where they are there already (SQLite gives the ones it makes
/// later the database's mode): it holds `perfmon run --notify` URLs, secrets,
/// while their runs last, and a data directory PerfMon did not make may be
/// open to others.
fn keep_private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let suffixed = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    for file in [path.to_path_buf(), suffixed("-wal"), suffixed("-shm")] {
        match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => tracing::warn!("cannot make {} private: {err}", file.display()),
        }
    }
}

/// Marks `interrupted` the runs left `running` by a server that stopped, whose
/// process is gone (or is another process under the same pid): a run still
/// alive stays `running`, for the server to follow again. How many were marked.
fn mark_interrupted(conn: &Connection) -> rusqlite::Result<usize> {
    let running: Vec<(String, u32, i64)> = conn
        .prepare("SELECT run_id, pid, started_at FROM runs WHERE status = 'running'")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut marked = 0;
    for (run_id, pid, started_at) in running {
        let started = chrono::DateTime::from_timestamp_millis(started_at).unwrap_or_default();
        if crate::sampling::process_alive_since(pid, started) {
            continue;
        }
        marked += conn.execute(
            "UPDATE runs SET status = 'interrupted', ended_at = COALESCE(last_seen, started_at)
             WHERE run_id = ?1 AND status = 'running'",
            params![run_id],
        )?;
    }
    Ok(marked)
}

fn is_corrupt(err: &rusqlite::Error) -> bool {
    matches!(err.sqlite_error_code(), Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase))
}

/// Plain words for a database error, for `/api/health`.
fn describe(err: &rusqlite::Error) -> String {
    match err.sqlite_error_code() {
        Some(ErrorCode::DiskFull) => "the disk is full".into(),
        Some(ErrorCode::ReadOnly) => "the data directory is read-only".into(),
        Some(ErrorCode::CannotOpen) => {
            "the database cannot be opened (is the data directory writable?)".into()
        }
        Some(ErrorCode::PermissionDenied) => "permission denied in the data directory".into(),
        Some(ErrorCode::SystemIoFailure) => "the disk reported an I/O error".into(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => "the database is locked".into(),
        _ => format!("the database failed: {err}"),
    }
}

/// Renames `path` (and its WAL and shared-memory files) to `…corrupt-<time>`,
/// so nothing is deleted and a fresh database can take its place; the
/// database's new file name, when it was moved.
fn move_aside(path: &Path) -> Option<String> {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let mut moved = None;
    for suffix in ["", "-wal", "-shm"] {
        let from = PathBuf::from(format!("{}{suffix}", path.display()));
        if !from.exists() {
            continue;
        }
        let to = PathBuf::from(format!("{}.corrupt-{stamp}", from.display()));
        match std::fs::rename(&from, &to) {
            Ok(()) => {
                tracing::warn!("moved {} aside to {}; starting a fresh one", from.display(), to.display());
                if suffix.is_empty() {
                    moved = to.file_name().map(|name| name.to_string_lossy().into_owned());
                }
            }
            Err(err) => tracing::error!("cannot move {} aside: {err}", from.display()),
        }
    }
    moved
}

fn insert_sql(table: &str, keys: &[&str], metrics: &[schema::Metric], extra: &[&str]) -> String {
    let columns: Vec<String> = keys
        .iter()
        .map(|k| (*k).to_owned())
        .chain(schema::columns(metrics, schema::Tier::Raw))
        .chain(extra.iter().map(|e| (*e).to_owned()))
        .collect();
    let marks = vec!["?"; columns.len()].join(", ");
    format!("INSERT OR REPLACE INTO {table}_raw ({}) VALUES ({marks})", columns.join(", "))
}

/// Writes one tick: the machine, each answering GPU, each disk and interface
/// (at most as many as the payload lists), the cores', sensors' and
/// filesystems' rows due at it ([`Thinning`]), each live run's tree and its
/// record's running figures.
fn write_tick(
    tx: &rusqlite::Transaction<'_>,
    sample: &crate::sampling::HostSample,
    runs: &[(RunSummary, crate::sampling::TreeReading)],
    names: &mut HashMap<u32, String>,
    thinning: &mut Thinning,
) -> rusqlite::Result<()> {
    static SQL: std::sync::OnceLock<[String; 3]> = std::sync::OnceLock::new();
    static NAMED_SQL: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let [host, gpu, run] = SQL.get_or_init(|| {
        [
            insert_sql("host", &["ts"], schema::host_metrics(), &["cores"]),
            insert_sql("gpu", &["ts", "device"], schema::device_metrics(), &[]),
            insert_sql("run", &["run_id", "ts"], schema::RUN, &[]),
        ]
    });
    let named_sql = NAMED_SQL.get_or_init(|| {
        schema::NAMED.iter().map(|kind| insert_sql(kind.table, &["ts", "name"], kind.metrics, &[])).collect()
    });
    let ts = sample.taken_at.timestamp_millis();
    let mut values: Vec<rusqlite::types::Value> = vec![ts.into()];
    values.extend(schema::host_values(sample).into_iter().map(rusqlite::types::Value::from));
    values.push(schema::cores_blob(&sample.cpu.per_core).into());
    tx.prepare_cached(host)?.execute(params_from_iter(values))?;
    for device in &sample.gpu.devices {
        let Some(figures) = schema::device_values(device) else { continue };
        let mut values: Vec<rusqlite::types::Value> = vec![ts.into(), i64::from(device.index).into()];
        values.extend(figures.into_iter().map(rusqlite::types::Value::from));
        tx.prepare_cached(gpu)?.execute(params_from_iter(values))?;
        if names.get(&device.index) != Some(&device.name) {
            tx.execute(
                "INSERT OR REPLACE INTO gpu_names (device, name) VALUES (?1, ?2)",
                params![device.index, device.name],
            )?;
            names.insert(device.index, device.name.clone());
        }
    }
    for (k, (kind, sql)) in schema::NAMED.iter().zip(named_sql).enumerate() {
        let mut statement = tx.prepare_cached(sql)?;
        let rows = (kind.rows)(&sample.depth).into_iter().take(kind.per_tick).collect();
        for (name, figures) in thinning.rows(k, &sample.depth, ts, rows) {
            let mut values: Vec<rusqlite::types::Value> = vec![ts.into(), name.into_owned().into()];
            values.extend(figures.into_iter().map(rusqlite::types::Value::from));
            statement.execute(params_from_iter(values))?;
        }
    }
    for (summary, tree) in runs {
        let mut values: Vec<rusqlite::types::Value> = vec![summary.run_id.clone().into(), ts.into()];
        values.extend(schema::tree_values(tree).into_iter().map(rusqlite::types::Value::from));
        tx.prepare_cached(run)?.execute(params_from_iter(values))?;
        // The figures so far (never lowered: a run record written in the same
        // batch may be newer); the status is left to the run's own records.
        tx.prepare_cached(
            "UPDATE runs SET cpu_seconds = max(cpu_seconds, ?2),
                 peak_cpu_percent = max(coalesce(peak_cpu_percent, ?3), coalesce(?3, peak_cpu_percent)),
                 peak_rss_bytes = max(coalesce(peak_rss_bytes, ?4), coalesce(?4, peak_rss_bytes)),
                 peak_gpu_bytes = max(coalesce(peak_gpu_bytes, ?5), coalesce(?5, peak_gpu_bytes)),
                 peak_processes = max(peak_processes, ?6),
                 last_seen = max(coalesce(last_seen, ?7), ?7),
                 counters = coalesce(?8, counters),
                 verdict = coalesce(?9, verdict),
                 token_source = coalesce(?10, token_source),
                 token_detail = coalesce(?11, token_detail),
                 tokens = max(tokens, ?12)
             WHERE run_id = ?1",
        )?
        .execute(params![
            summary.run_id,
            summary.cpu_seconds,
            summary.peak_cpu_percent,
            summary.peak_rss_bytes.map(saturating_i64),
            summary.peak_gpu_bytes.map(saturating_i64),
            summary.peak_processes,
            ts,
            json(&summary.counters),
            json(&summary.verdict),
            json(&summary.token_source),
            json(&summary.token_detail),
            saturating_i64(summary.tokens),
        ])?;
    }
    Ok(())
}

/// A run's counters or verdict as stored: the contract's JSON; `NULL` for
/// none (a tick's record carries them only every few seconds).
fn json<T: serde::Serialize>(value: &Option<T>) -> Option<String> {
    value.as_ref().and_then(|v| serde_json::to_string(v).ok())
}

fn saturating_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The stored name of an outcome.
pub(super) fn outcome_name(outcome: RunOutcome) -> &'static str {
    match outcome {
        RunOutcome::Running => "running",
        RunOutcome::Exited => "exited",
        RunOutcome::Killed => "killed",
        RunOutcome::Ended => "ended",
        RunOutcome::Interrupted => "interrupted",
    }
}

/// Writes a run record (the whole row) or an exit report.
fn write_event(tx: &rusqlite::Transaction<'_>, event: &Event) -> rusqlite::Result<()> {
    match event {
        Event::Record(Record::Run(run)) => {
            // A run id belongs to one project: a record of another project
            // under the same id never overwrites it (the hub never hands out an
            // id twice; this guards the store whatever a client does). And a run
            // whose exit is recorded keeps its ending as recorded.
            let written = tx
                .prepare_cached(
                    "INSERT INTO runs (run_id, project, label, pid, started_at, ended_at, status, exit_code, signal,
                     cpu_seconds, peak_cpu_percent, peak_rss_bytes, peak_gpu_bytes, peak_processes, tokens,
                     cpu_base, counters, verdict, token_source, token_detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)
                 ON CONFLICT (run_id) DO UPDATE SET label = excluded.label,
                     ended_at = CASE WHEN runs.exit_code IS NOT NULL OR runs.signal IS NOT NULL THEN ended_at ELSE excluded.ended_at END,
                     status = CASE WHEN runs.exit_code IS NOT NULL OR runs.signal IS NOT NULL THEN status ELSE excluded.status END,
                     exit_code = CASE WHEN runs.exit_code IS NOT NULL OR runs.signal IS NOT NULL THEN exit_code ELSE excluded.exit_code END,
                     signal = CASE WHEN runs.exit_code IS NOT NULL OR runs.signal IS NOT NULL THEN signal ELSE excluded.signal END,
                     cpu_seconds = max(cpu_seconds, excluded.cpu_seconds),
                     peak_cpu_percent = max(coalesce(peak_cpu_percent, excluded.peak_cpu_percent),
                         coalesce(excluded.peak_cpu_percent, peak_cpu_percent)),
                     peak_rss_bytes = max(coalesce(peak_rss_bytes, excluded.peak_rss_bytes),
                         coalesce(excluded.peak_rss_bytes, peak_rss_bytes)),
                     peak_gpu_bytes = max(coalesce(peak_gpu_bytes, excluded.peak_gpu_bytes),
                         coalesce(excluded.peak_gpu_bytes, peak_gpu_bytes)),
                     peak_processes = max(peak_processes, excluded.peak_processes),
                     tokens = max(tokens, excluded.tokens),
                     cpu_base = coalesce(cpu_base, excluded.cpu_base),
                     counters = coalesce(excluded.counters, counters),
                     verdict = coalesce(excluded.verdict, verdict),
                     token_source = coalesce(excluded.token_source, token_source),
                     token_detail = coalesce(excluded.token_detail, token_detail)
                 WHERE runs.project = excluded.project",
                )?
                .execute(params![
                    run.run_id,
                    run.project,
                    run.label,
                    run.pid,
                    run.started_at.timestamp_millis(),
                    run.ended_at.map(|t| t.timestamp_millis()),
                    outcome_name(run.outcome),
                    run.exit_code,
                    run.signal,
                    run.cpu_seconds,
                    run.peak_cpu_percent,
                    run.peak_rss_bytes.map(saturating_i64),
                    run.peak_gpu_bytes.map(saturating_i64),
                    run.peak_processes,
                    saturating_i64(run.tokens),
                    run.cpu_base,
                    json(&run.counters),
                    json(&run.verdict),
                    json(&run.token_source),
                    json(&run.token_detail),
                ])?;
            if written == 0 {
                tracing::warn!(
                    "run {} of project {} was not recorded: another project's run has that id",
                    run.run_id,
                    run.project
                );
            }
        }
        Event::Exit { project, run_id, report } => write_exit(tx, project, run_id, report)?,
        Event::Alert(alert) => write_alert(tx, alert)?,
        Event::Sent { receiver, to_ms } => {
            // Never backwards: a late write of an older position loses to a newer one.
            tx.prepare_cached(
                "INSERT INTO remote_write (receiver, sent_to) VALUES (?1, ?2)
                 ON CONFLICT (receiver) DO UPDATE SET sent_to = max(sent_to, excluded.sent_to)",
            )?
            .execute(params![receiver, to_ms])?;
        }
        Event::Silence(Some(until)) => {
            tx.prepare_cached(
                "INSERT INTO alert_silence (id, until) VALUES (1, ?1)
                 ON CONFLICT (id) DO UPDATE SET until = excluded.until",
            )?
            .execute([until])?;
        }
        Event::Silence(None) => {
            tx.execute("DELETE FROM alert_silence", [])?;
        }
        Event::Notify { run_id, specs } => {
            // Not for a run whose end is already alerted: nothing would read it.
            // A value replaced is zeroed where it stood (see `EndAlerted`).
            let _zeroed = SecureDelete::on(tx);
            tx.prepare_cached(
                "INSERT INTO run_notify (run_id, specs)
                 SELECT ?1, ?2 WHERE NOT EXISTS (SELECT 1 FROM runs WHERE run_id = ?1 AND end_alerted = 1)
                 ON CONFLICT (run_id) DO UPDATE SET specs = excluded.specs",
            )?
            .execute(params![run_id, json(&Some(specs.iter().map(Secret::expose).collect::<Vec<_>>()))])?;
        }
        Event::EndAlerted(run_id) => {
            tx.prepare_cached("UPDATE runs SET end_alerted = 1 WHERE run_id = ?1")?.execute([run_id])?;
            // The URLs are secrets: their bytes are zeroed in the page, not
            // left in its free space for the file to carry until reused.
            let _zeroed = SecureDelete::on(tx);
            tx.prepare_cached("DELETE FROM run_notify WHERE run_id = ?1")?.execute([run_id])?;
        }
        Event::Record(Record::Tick { .. }) | Event::Flush => {}
    }
    Ok(())
}

/// SQLite's `secure_delete` for as long as it is held: what a statement
/// deletes or overwrites meanwhile is zeroed in its page. Only around the
/// secrets' rows: on everywhere it would zero every pruned tick's row too.
struct SecureDelete<'a>(&'a rusqlite::Connection);

impl<'a> SecureDelete<'a> {
    /// (`pragma_update` prepares the pragma afresh each time, which is what
    /// sets it: a cached pragma statement would not set it again.)
    fn on(conn: &'a rusqlite::Connection) -> SecureDelete<'a> {
        if let Err(err) = conn.pragma_update(None, "secure_delete", true) {
            tracing::warn!("store: secure_delete could not be set: {err}");
        }
        SecureDelete(conn)
    }
}

impl Drop for SecureDelete<'_> {
    fn drop(&mut self) {
        let _ = self.0.pragma_update(None, "secure_delete", false);
    }
}

/// An alert's row: a firing or event inserts it; a resolution (same id)
/// marks it resolved and keeps what fired it.
fn write_alert(tx: &rusqlite::Transaction<'_>, a: &shared::alerts::AlertEvent) -> rusqlite::Result<()> {
    let ms = |t: &shared::Timestamp| {
        chrono::DateTime::parse_from_rfc3339(t.as_str()).ok().map(|t| t.timestamp_millis())
    };
    tx.prepare_cached(
        "INSERT INTO alerts (id, rule, severity, state, title, message, project, run_id, series, value, threshold,
             fired_at, resolved_at, silenced)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
         ON CONFLICT (id) DO UPDATE SET state = excluded.state, resolved_at = excluded.resolved_at",
    )?
    .execute(params![
        a.id,
        a.rule,
        a.severity.key(),
        a.state.key(),
        a.title,
        a.message,
        a.project,
        a.run_id,
        a.series,
        a.value,
        a.threshold,
        ms(&a.fired_at).unwrap_or_default(),
        a.resolved_at.as_ref().and_then(ms),
        a.silenced,
    ])?;
    Ok(())
}

/// An exit report for a stored run: the wrapper knows how its command ended
/// better than a server that died meanwhile (`interrupted`), and when. A run
/// whose exit is already recorded keeps it.
fn write_exit(
    tx: &rusqlite::Transaction<'_>,
    project: &str,
    run_id: &str,
    report: &ExitReport,
) -> rusqlite::Result<()> {
    let outcome = report.outcome();
    let known: Option<(i64, bool)> = tx
        .query_row(
            "SELECT started_at, exit_code IS NOT NULL OR signal IS NOT NULL FROM runs
             WHERE run_id = ?1 AND project = ?2",
            params![run_id, project],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((started_at, exited)) = known else {
        tracing::info!("an exit report for unknown run {run_id} of {project} was ignored");
        return Ok(());
    };
    if exited {
        tracing::info!("run {run_id} of {project} already has its exit recorded; a later report was ignored");
        return Ok(());
    }
    // The wrapper's time of the end, when it is a sane one.
    let ended_at = report.ended_at_within(started_at, chrono::Utc::now().timestamp_millis());
    let peak_rss = report.counters.as_ref().and_then(|c| c.peak_rss_bytes).map(saturating_i64);
    if let Some(exit) = &report.counters {
        // What the server measured before it stopped, with the wrapper's exact
        // totals taken in, judged again.
        let stored: Option<String> =
            tx.query_row("SELECT counters FROM runs WHERE run_id = ?1", [run_id], |r| r.get(0))?;
        let mut counters: shared::why::RunCounters =
            stored.and_then(|text| serde_json::from_str(&text).ok()).unwrap_or_default();
        crate::hub::meter::merge_exit(&mut counters, exit);
        let cores =
            std::thread::available_parallelism().map_or(1, |n| u32::try_from(n.get()).unwrap_or(u32::MAX));
        let verdict = crate::verdict::judge(&counters, cores);
        tx.execute(
            "UPDATE runs SET counters = ?2, verdict = ?3 WHERE run_id = ?1",
            params![run_id, json(&Some(counters)), json(&Some(verdict))],
        )?;
    }
    tx.execute(
        "UPDATE runs SET status = ?3, exit_code = ?4, signal = ?5,
             ended_at = COALESCE(?6, ended_at, last_seen, started_at),
             cpu_seconds = max(cpu_seconds, coalesce(?7, 0)),
             peak_rss_bytes = max(coalesce(peak_rss_bytes, ?8), coalesce(?8, peak_rss_bytes))
         WHERE run_id = ?1 AND project = ?2",
        params![
            run_id,
            project,
            outcome_name(outcome),
            report.exit_code,
            report.signal,
            ended_at,
            report.cpu_seconds,
            peak_rss
        ],
    )?;
    Ok(())
}
