//! The store: every run, and the machine's history, in an embedded SQLite
//! database (rusqlite with its bundled SQLite: nothing to install) that survives
//! restarts and crashes.
//!
//! The hub hands records over through [`Store::record`] (the hub's
//! [`Recorder`]): a push onto a bounded queue, never a wait on disk. A writer
//! thread commits what is queued in one transaction (so a `kill -9` loses at most
//! the last second), rolls raw samples up into per-minute and per-hour tiers and
//! prunes each tier in the background. If it falls behind, the oldest queued
//! samples are dropped and counted; if the disk is full or read-only, the store is
//! `degraded` with the reason while the live stream carries on.
//!
//! - [`schema`]: the tables and migrations, from one list of metrics.
//! - [`writer`]: the writer thread and its database connection.
//! - [`retention`]: roll-ups and pruning.
//! - [`query`]: runs, a run's report, and history between two instants.
//! - `export`: the raw tier in order, for remote write ([`Exporter`]).
//!
//! What is kept: the machine's totals and, since schema version 3, the
//! machine in depth (CPU by mode, pressure, memory detail, paging, sockets,
//! hardware counters, each GPU's clocks, PCIe and throttling, each disk and
//! interface: at most 32 of each a tick), every figure in every tier.

mod export;
pub mod query;
mod retention;
pub mod schema;
mod thin;
mod writer;

use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use shared::api::{ExitReport, StoreHealth};

use crate::config::Secret;
use crate::hub::project::ProjectName;
use crate::hub::{Record, Recorder};
pub use export::{Exporter, FinishedRun, RawBatch, RawRun, RawTick};
pub use query::{AlertQuery, HistoryQuery, QueryError};

/// The database's file name in the data directory.
pub const DB_FILE: &str = "perfmon.db";
/// The lock file that keeps a second server off the same directory.
pub const LOCK_FILE: &str = "perfmon.lock";

/// How long each tier is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Every tick.
    pub raw: Duration,
    /// Per-minute min/mean/max.
    pub minute: Duration,
    /// Per-hour min/mean/max.
    pub hour: Duration,
}

impl Retention {
    /// How far back history goes: the longest any tier is kept.
    pub fn longest(&self) -> Duration {
        self.raw.max(self.minute).max(self.hour)
    }
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            raw: Duration::from_secs(48 * 3600),
            minute: Duration::from_secs(30 * 86_400),
            hour: Duration::from_secs(365 * 86_400),
        }
    }
}

/// Where the store lives and what it keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// The data directory (`--data-dir`).
    pub dir: PathBuf,
    /// How long each tier is kept.
    pub retention: Retention,
}

/// The time the store prunes against, unix ms: the wall clock, or a test's.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The wall clock.
pub fn wall_clock() -> Clock {
    Arc::new(|| chrono::Utc::now().timestamp_millis())
}

/// Why the store would not open.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another PerfMon holds the data directory.
    #[error(
        "another PerfMon (pid {pid}) already keeps its history in {dir}; stop it, or give this one \
         another --data-dir (or --no-store)"
    )]
    Locked {
        /// The other server's pid.
        pid: u32,
        /// The directory.
        dir: PathBuf,
    },
}

/// Queued samples beyond this are dropped, oldest first: twenty minutes at the
/// live cadence, far more than a healthy disk ever lets pile up.
const MAX_PENDING_TICKS: usize = 1200;

/// How long a query waits for a store that is still opening its database.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// The writer's SQLite page cache, KiB. SQLite's default (2,000 KiB) is
/// where a long-lived writer ends up: every new page of every table is kept
/// until the cache is full, so an idle server's heap grew by 2 MB within hours.
/// A commit touches a few dozen pages (the right edge of each table), a
/// roll-up the last minute's; what falls out is read back from the OS's page
/// cache, not the disk.
const WRITER_CACHE_KIB: u32 = 256;
/// A query's page cache, KiB: each query has a connection of its own that
/// reads its range once, so a bigger cache holds little it reads again; it
/// bounds what a query leaves in the allocator's free lists after it ends.
const READER_CACHE_KIB: u32 = 512;

/// What the writer is handed.
#[derive(Debug)]
enum Event {
    /// A tick or a run from the hub.
    Record(Record),
    /// An exit report for a run the hub no longer holds (after a restart).
    Exit { project: String, run_id: String, report: Box<ExitReport> },
    /// An alert's firing, resolution or one-off event (the row by its id).
    Alert(Box<shared::alerts::AlertEvent>),
    /// A remote-write receiver has accepted the raw tier up to this tick.
    Sent { receiver: String, to_ms: i64 },
    /// The alerts are silenced until then (unix ms), or no longer.
    Silence(Option<i64>),
    /// `perfmon run --notify`'s destinations of a run, kept until its end is
    /// alerted.
    Notify { run_id: String, specs: Vec<Secret> },
    /// A run's end has been through the alerts.
    EndAlerted(String),
    /// Done once everything handed over before it is; runs the roll-ups due.
    Flush,
}

/// The writer's queue.
#[derive(Debug, Default)]
struct Pending {
    /// Ticks, oldest first; dropped from the front when too many.
    ticks: VecDeque<Event>,
    /// Run records and exit reports: few, and never dropped.
    runs: VecDeque<Event>,
    /// Events handed over so far (or dropped), for [`Store::flush`].
    handed: u64,
    /// Set to stop the writer once the queue is empty.
    stop: bool,
}

/// The store's state, as health reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Starting,
    Ok,
    Degraded(String),
}

/// Shared by the handle, the hub's hand-offs and the writer thread.
struct Shared {
    /// The data directory.
    dir: PathBuf,
    /// How long each tier is kept.
    retention: Retention,
    /// The time pruning is measured against.
    clock: Clock,
    /// The writer's queue and its wake-up.
    pending: Mutex<Pending>,
    wake: Condvar,
    /// Events the writer is done with (committed, or dropped), and its signal.
    done: Mutex<u64>,
    done_signal: Condvar,
    /// Whether the writer has stopped (its database checkpointed and closed),
    /// and its signal: [`Store::close`] waits for it.
    stopped: Mutex<bool>,
    stopped_signal: Condvar,
    /// The store's state.
    state: Mutex<State>,
    /// What the user should know of a store that works: a damaged database
    /// was moved aside, so history before it is not in this one.
    notice: Mutex<Option<String>>,
    /// Samples dropped so far.
    dropped: AtomicU64,
    /// The lock on the data directory, held for the store's life; taken again by
    /// the writer if the directory could not be locked at start.
    lock: Mutex<Option<File>>,
    /// A read-only store that no server holds.
    offline: bool,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("dir", &self.dir).field("retention", &self.retention).finish()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The queue and counters stay usable after a panic elsewhere.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The store: a cheap handle on the writer thread and the database.
#[derive(Debug, Clone)]
pub struct Store {
    shared: Arc<Shared>,
}

impl Store {
    /// Opens the store in `config.dir`, with the wall clock. Blocking.
    pub fn open(config: &StoreConfig) -> Result<Store, StoreError> {
        Self::open_with_clock(config, wall_clock())
    }

    /// Opens the store with `clock` as the time pruning is measured against.
    /// Refuses a directory another PerfMon holds; any other trouble (a read-only
    /// directory, a full disk) gives a store that is `degraded` and says why.
    /// Blocking.
    pub fn open_with_clock(config: &StoreConfig, clock: Clock) -> Result<Store, StoreError> {
        let (lock_file, state) = match take_lock(&config.dir) {
            Ok(file) => (Some(file), State::Starting),
            Err(LockError::Held(pid)) => return Err(StoreError::Locked { pid, dir: config.dir.clone() }),
            Err(LockError::Io(reason)) => (None, State::Degraded(reason)),
        };
        let shared = Arc::new(Shared::new(config, clock, state, lock_file));
        let writer = shared.clone();
        std::thread::Builder::new()
            .name("perfmon-store".into())
            .spawn(move || writer::run(&writer))
            .map_err(|err| tracing::error!("cannot start the store's writer: {err}"))
            .ok();
        Ok(Store { shared })
    }

    /// The store's state for `/api/health`.
    pub fn health(&self) -> StoreHealth {
        let (state, reason) = match &*lock(&self.shared.state) {
            State::Starting => ("starting", None),
            State::Ok => ("ok", lock(&self.shared.notice).clone()),
            State::Degraded(reason) => ("degraded", Some(reason.clone())),
        };
        StoreHealth {
            state: state.to_owned(),
            reason,
            dropped_samples: self.shared.dropped.load(Ordering::Relaxed),
            keeps_s: Some(self.shared.retention.longest().as_secs()),
        }
    }

    /// The store in `config.dir` for reading only (`perfmon runs` while no server
    /// runs): no writer, no lock. Refused when there is no database there.
    pub fn read_only(config: &StoreConfig) -> Result<Store, String> {
        if !config.dir.join(DB_FILE).is_file() {
            return Err(format!("no history in {} (is that the server's --data-dir?)", config.dir.display()));
        }
        // Whether a server holds the directory now decides how a run left
        // running reads (still running, or cut short by a server that died).
        let offline = check_free(&config.dir).is_ok();
        Ok(Store {
            shared: Arc::new(Shared { offline, ..Shared::new(config, wall_clock(), State::Ok, None) }),
        })
    }

    /// Hands an exit report for a run the hub no longer holds to the writer.
    pub fn report_exit(&self, project: &ProjectName, run_id: &str, report: ExitReport) {
        self.enqueue(Event::Exit {
            project: project.to_string(),
            run_id: run_id.to_owned(),
            report: Box::new(report),
        });
    }

    /// Hands an alert's firing, resolution or event to the writer (a
    /// resolution updates its firing's row).
    pub fn record_alert(&self, event: shared::alerts::AlertEvent) {
        self.enqueue(Event::Alert(Box::new(event)));
    }

    /// Keeps how far a remote-write receiver has accepted the raw tier (unix
    /// ms of the newest tick it took), committed with the next batch.
    pub fn record_sent(&self, receiver: &str, to_ms: i64) {
        self.enqueue(Event::Sent { receiver: receiver.to_owned(), to_ms });
    }

    /// Keeps until when the alerts are silenced (`None`: not silenced), for
    /// the next start.
    pub fn record_silence(&self, until_ms: Option<i64>) {
        self.enqueue(Event::Silence(until_ms));
    }

    /// Keeps `perfmon run --notify`'s destinations of `run_id` (as given:
    /// `KIND:URL` or URLs) until its end has been alerted, so that a restart
    /// during the run keeps sending its alerts there.
    pub fn keep_notify(&self, run_id: &str, specs: Vec<String>) {
        let specs = specs.into_iter().map(Secret::new).collect();
        self.enqueue(Event::Notify { run_id: run_id.to_owned(), specs });
    }

    /// `run_id`'s end has been through the alerts (sent, or its rule is off):
    /// the next start does not alert it again, and its `--notify`
    /// destinations are forgotten.
    pub fn end_alerted(&self, run_id: &str) {
        self.enqueue(Event::EndAlerted(run_id.to_owned()));
    }

    fn enqueue(&self, event: Event) {
        let mut pending = lock(&self.shared.pending);
        pending.handed += 1;
        match event {
            tick @ Event::Record(Record::Tick { .. }) => {
                pending.ticks.push_back(tick);
                if pending.ticks.len() > MAX_PENDING_TICKS {
                    pending.ticks.pop_front();
                    drop(pending);
                    self.shared.dropped(1);
                    *lock(&self.shared.done) += 1;
                    self.shared.done_signal.notify_all();
                    self.shared.wake.notify_one();
                    return;
                }
            }
            other => pending.runs.push_back(other),
        }
        drop(pending);
        self.shared.wake.notify_one();
    }

    /// Waits (up to `limit`) until everything handed over so far is committed or
    /// dropped, and the roll-ups due have run; whether it got there. Blocking.
    pub fn flush(&self, limit: Duration) -> bool {
        let target = {
            let mut pending = lock(&self.shared.pending);
            pending.handed += 1;
            pending.runs.push_back(Event::Flush);
            pending.handed
        };
        self.shared.wake.notify_one();
        let done = lock(&self.shared.done);
        let (done, _) = self
            .shared
            .done_signal
            .wait_timeout_while(done, limit, |done| *done < target)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *done >= target
    }

    /// Commits what is queued, stops the writer and waits for it to have
    /// folded the write-ahead log into the database (a clean stop leaves no
    /// copy of a deleted row there), all within about `limit`. Blocking.
    pub fn close(&self, limit: Duration) {
        let deadline = std::time::Instant::now() + limit;
        self.flush(limit);
        lock(&self.shared.pending).stop = true;
        self.shared.wake.notify_one();
        let stopped = lock(&self.shared.stopped);
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let (stopped, _) = self
            .shared
            .stopped_signal
            .wait_timeout_while(stopped, left, |stopped| !*stopped)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !*stopped {
            tracing::warn!(
                "the store's writer did not stop within {limit:?}: its log is folded in at the next start"
            );
        }
    }

    /// A read-only connection for a query; `None` while the store has no
    /// database. Blocking.
    fn reader(&self) -> Result<rusqlite::Connection, QueryError> {
        // A query in the first moments after start waits for the database
        // rather than failing; a store that stays starting this long is stuck.
        let deadline = std::time::Instant::now() + READY_WITHIN;
        while matches!(*lock(&self.shared.state), State::Starting) {
            if std::time::Instant::now() >= deadline {
                return Err(QueryError::NotReady);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = rusqlite::Connection::open_with_flags(self.shared.dir.join(DB_FILE), flags)
            .map_err(|err| QueryError::Unavailable(self.why_unavailable(&err)))?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.execute_batch(&format!("PRAGMA cache_size = -{READER_CACHE_KIB};"))?;
        // No `cores_avg` here: queries add rows up themselves (see `query`).
        Ok(conn)
    }

    fn why_unavailable(&self, err: &rusqlite::Error) -> String {
        match &*lock(&self.shared.state) {
            State::Degraded(reason) => reason.clone(),
            _ => err.to_string(),
        }
    }

    /// The time queries and pruning are measured against, unix ms.
    fn now(&self) -> i64 {
        (self.shared.clock)()
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// Whether this is a read of a store no server holds (`perfmon runs` while
    /// PerfMon is stopped): its runs still marked running are not.
    fn offline(&self) -> bool {
        self.shared.offline
    }
}

impl Shared {
    fn new(config: &StoreConfig, clock: Clock, state: State, lock: Option<File>) -> Shared {
        Shared {
            dir: config.dir.clone(),
            retention: config.retention,
            clock,
            pending: Mutex::default(),
            wake: Condvar::new(),
            done: Mutex::new(0),
            done_signal: Condvar::new(),
            stopped: Mutex::new(false),
            stopped_signal: Condvar::new(),
            notice: Mutex::new(None),
            state: Mutex::new(state),
            dropped: AtomicU64::new(0),
            lock: Mutex::new(lock),
            offline: false,
        }
    }

    /// Counts `n` samples that will never be written.
    fn dropped(&self, n: u64) {
        let before = self.dropped.fetch_add(n, Ordering::Relaxed);
        // Logged at the first drop and then every hundredth, not per sample.
        if before == 0 || before / 100 != (before + n) / 100 {
            tracing::warn!("the store dropped samples it could not write: {} so far", before + n);
        }
    }

    /// A damaged database was moved aside as `moved` (a file name in the data
    /// directory): said in `/api/health` from now on, and on the page.
    fn moved_aside(&self, moved: String) {
        let at = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");
        *lock(&self.notice) = Some(format!(
            "the database was damaged and moved aside at {at} (to {moved} in the data directory): \
             history before then is in that file, not here"
        ));
    }

    fn set_state(&self, state: State) {
        let mut current = lock(&self.state);
        if *current != state {
            match &state {
                State::Degraded(reason) => tracing::warn!("the store is degraded: {reason}"),
                State::Ok if matches!(*current, State::Degraded(_)) => tracing::info!("the store recovered"),
                _ => {}
            }
            *current = state;
        }
    }
}

impl Recorder for Store {
    fn record(&self, record: Record) {
        self.enqueue(Event::Record(record));
    }
}

/// Whether `dir` is free for a store: refused when another server holds it.
/// Nothing is created or kept locked. Blocking.
pub fn check_free(dir: &Path) -> Result<(), StoreError> {
    let Ok(mut file) = std::fs::OpenOptions::new().read(true).write(true).open(dir.join(LOCK_FILE)) else {
        return Ok(());
    };
    match file.try_lock() {
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            Err(StoreError::Locked { pid: text.trim().parse().unwrap_or(0), dir: dir.to_owned() })
        }
        _ => Ok(()),
    }
}

/// Why the data directory could not be locked.
enum LockError {
    /// Another process holds it: its pid.
    Held(u32),
    /// The directory or the lock file could not be made: why, in plain words.
    Io(String),
}

/// Plain words for an I/O error (no paths: they go to the log, not the API).
pub(crate) fn plain(err: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match err.kind() {
        ErrorKind::PermissionDenied => "permission denied in the data directory".into(),
        ErrorKind::ReadOnlyFilesystem => "the data directory is read-only".into(),
        ErrorKind::StorageFull => "the disk is full".into(),
        ErrorKind::NotFound => "the data directory does not exist".into(),
        _ => format!("the data directory cannot be written ({})", err.kind()),
    }
}

/// Creates `dir` (mode 0700) and takes the lock file's exclusive lock, writing
/// this process's pid in it for whoever comes second.
fn take_lock(dir: &Path) -> Result<File, LockError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|err| {
        tracing::warn!("cannot create the data directory {}: {err}", dir.display());
        LockError::Io(plain(&err))
    })?;
    let path = dir.join(LOCK_FILE);
    let mut file =
        std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(
            |err| {
                tracing::warn!("cannot open {}: {err}", path.display());
                LockError::Io(plain(&err))
            },
        )?;
    match file.try_lock() {
        Ok(()) => {
            let _ = file
                .set_len(0)
                .and_then(|_| file.rewind())
                .and_then(|_| write!(file, "{}", std::process::id()));
            Ok(file)
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            Err(LockError::Held(text.trim().parse().unwrap_or(0)))
        }
        Err(std::fs::TryLockError::Error(err)) => Err(LockError::Io(plain(&err))),
    }
}

#[cfg(test)]
mod tests;
