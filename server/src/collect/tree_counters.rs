//! A run's own counters, summed over its whole process tree and over every
//! process that was ever in it: CPU user and system time, faults, threads (from
//! the `stat` the tree's walk reads every tick anyway), and run-queue delay,
//! context switches and storage bytes (read every [`COUNTERS_EVERY`], off the
//! tick, by [`CounterWorker`]).
//!
//! The kernel keeps two kinds of per-process counters, and a process that
//! leaves the tree is taken in by each kind's own rule:
//! - **handed to the parent** when it reaps a child: CPU time (`cutime`,
//!   `cstime`), faults (`cminflt`, `cmajflt`), and `/proc/PID/io` (the child's
//!   io is added to the parent's signal struct). [`Tally`] counts members' own
//!   figures (which already hold their reaped children's) plus the last reading
//!   of members that left *other* than by being reaped inside the tree.
//! - **lost with the thread**: run-queue delay (`/proc/PID/task/TID/schedstat`)
//!   and context switches (`/proc/PID/task/TID/status`) are per thread; the
//!   kernel keeps a process's dead threads' and reaped children's switches
//!   only for `getrusage`, never in /proc. [`ThreadTally`] counts every thread's
//!   last reading once it has gone. What a thread did after its last reading
//!   (at most [`COUNTERS_EVERY`]), and threads born and gone between two
//!   readings, are lost: those two counters are lower bounds.
//!
//! `/proc/PID/status` and `/proc/PID/schedstat` are the leader thread's alone
//! (checked on Linux 6.18: a process whose second thread made 2008 voluntary
//! switches showed only the leader's 2024 in `/proc/PID/status`; the
//! per-task files showed both, and after the thread exited its 2008 were in
//! `getrusage(RUSAGE_SELF)`'s 4035 but in no /proc file): hence the per-thread
//! reads.
//!
//! # Layout
//! - [`TreeCounters`]: what a tree did, cumulative since it was first read.
//! - [`parse_schedstat`], [`parse_switches`], [`parse_io`]: the /proc texts.
//! - [`Tally`] (handed-to-the-parent rule), [`ThreadTally`] (lost-with-the-thread
//!   rule): counters that never decrease.
//! - [`CounterFiles`]: the slow files, kept open; [`SlowTree`]: a tree's slow
//!   counters; [`CounterWorker`]: reads them on a thread of its own.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::procfs::{self, ProcFile};

/// How often the slow counters (run-queue delay, switches, storage bytes) are
/// read: a tree of 9 processes costs ~85 µs of /proc reads each time, which
/// every tick would put the tick with a run over its 300 µs budget.
pub const COUNTERS_EVERY: Duration = Duration::from_secs(5);

/// The reason a tree's slow figures give until their first reading.
pub const NOT_READ_YET: &str = "not read yet";

/// What a run's whole tree did, cumulative since PerfMon first read the tree
/// (the hub subtracts its own base, as for `cpu_seconds`). Every count takes
/// in the processes that already left; none ever decreases. A figure that
/// could not be read is `None` for the whole tree, with its reason under the
/// `RunCounters` field's name in `reasons`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TreeCounters {
    /// CPU time in user mode (`utime` + `cutime`), seconds.
    pub user_s: f64,
    /// CPU time in kernel mode (`stime` + `cstime`), seconds.
    pub system_s: f64,
    /// Time the tree's threads were runnable but waiting for a CPU (schedstat's
    /// run-queue delay, summed over threads), seconds.
    pub wait_s: Option<f64>,
    /// Voluntary context switches of the tree's threads.
    pub voluntary_switches: Option<u64>,
    /// Involuntary context switches of the tree's threads.
    pub involuntary_switches: Option<u64>,
    /// Threads in the tree now (the hub keeps the peak).
    pub threads: u32,
    /// Bytes the tree caused to be read from storage (`read_bytes`).
    pub read_bytes: Option<u64>,
    /// Bytes the tree caused to be written to storage (`write_bytes`), not
    /// less `cancelled_write_bytes`: the kernel counts a page as written when
    /// it is dirtied and as cancelled when it is truncated before writeback,
    /// per process, so the one that truncates another's file would go
    /// negative; `iotop` and `pidstat -d` show the two apart too.
    pub write_bytes: Option<u64>,
    /// Minor page faults (`minflt` + `cminflt`).
    pub minor_faults: u64,
    /// Major page faults (`majflt` + `cmajflt`).
    pub major_faults: u64,
    /// Why a `None` figure is `None`, by its `RunCounters` field name
    /// (`cpu_wait_s`, `voluntary_switches`, `involuntary_switches`,
    /// `read_bytes`, `write_bytes`).
    pub reasons: Vec<(&'static str, String)>,
    /// The slow figures (run-queue delay, switches, storage bytes) are not
    /// read yet: a new tree's first reading is on its way from the counters'
    /// thread. They are `None` with the reason [`NOT_READ_YET`] for now, which
    /// a run's counters keep only until a reading replaces it (`hub::meter`).
    pub slow_pending: bool,
}

/// The run-queue delay in a `schedstat` text (`on-CPU-ns wait-ns timeslices`),
/// nanoseconds.
pub fn parse_schedstat(text: &str) -> Option<u64> {
    text.split_whitespace().nth(1)?.parse().ok()
}

/// (voluntary, involuntary) context switches in a `status` text.
pub fn parse_switches(text: &str) -> Option<(u64, u64)> {
    let field = |name: &str| super::procfs::field(text, name)?.parse::<u64>().ok();
    Some((field("voluntary_ctxt_switches")?, field("nonvoluntary_ctxt_switches")?))
}

/// (`read_bytes`, `write_bytes`) in an `/proc/PID/io` text.
pub fn parse_io(text: &str) -> Option<(u64, u64)> {
    let field = |name: &str| super::procfs::field(text, name)?.parse::<u64>().ok();
    Some((field("read_bytes")?, field("write_bytes")?))
}

/// One process of a tree, with the counters one [`Tally`] keeps of it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Member<const N: usize> {
    /// Its parent's pid.
    pub parent: Option<u32>,
    /// When it started (tells the same process from a reused pid).
    pub start: u64,
    /// Its own counters, its reaped children's included.
    pub values: [u64; N],
}

/// A process as it is now: its parent and start, if it still runs (not a
/// zombie). Called only for members that left since the previous reading.
pub type NowOf<'a> = &'a dyn Fn(u32) -> Option<(Option<u32>, u64)>;

/// Counters the kernel hands a parent when it reaps a child, as counters that
/// take in every process that was in the tree: the members' own figures (so a
/// child born and reaped between two readings is counted, through its
/// parent's), plus the last reading of members that left without being
/// reaped inside the tree (the root, reaped by whoever started it; an orphan
/// adopted by init; the child of a parent that ignores `SIGCHLD`, which the
/// kernel reaps itself, handing the parent nothing). Never decreases.
#[derive(Debug, Clone, PartialEq)]
pub struct Tally<const N: usize> {
    /// The members at the previous reading.
    members: HashMap<u32, Member<N>>,
    /// What members that left other than by being reaped inside the tree had.
    departed: [u64; N],
    /// The counters at the previous reading.
    total: [u64; N],
}

impl<const N: usize> Default for Tally<N> {
    fn default() -> Self {
        Tally { members: HashMap::new(), departed: [0; N], total: [0; N] }
    }
}

impl<const N: usize> Tally<N> {
    /// Takes a reading of the tree's members; the counters now.
    pub fn update(&mut self, members: HashMap<u32, Member<N>>, now_of: NowOf) -> [u64; N] {
        // What each member that stayed has gained since the previous reading,
        // less what the children it reaped already account for: a reaped
        // child's figures can be in its reaper's only up to that.
        let mut unclaimed: HashMap<u32, [u64; N]> = HashMap::new();
        let mut left: Vec<(u32, &Member<N>)> = (self.members.iter())
            .filter(|(pid, gone)| members.get(pid).is_none_or(|m| m.start != gone.start))
            .map(|(&pid, gone)| (pid, gone))
            .collect();
        // Largest first, so that a reaper's gain goes to the children that fill
        // it best, and the same readings always give the same count.
        left.sort_by(|a, b| b.1.values.cmp(&a.1.values).then(a.0.cmp(&b.0)));
        let mut departed = [0; N];
        for (pid, gone) in left {
            let counted_elsewhere = match now_of(pid) {
                // Still running under a parent in the tree: missed by this reading
                // (a thread's children list read as it exited), back at the next.
                Some((parent, start)) if start == gone.start => {
                    parent.is_some_and(|parent| members.contains_key(&parent))
                }
                // Gone (or the pid reused) with an ancestor still in the tree: it
                // was reaped on the way up (a whole subtree may end between two
                // readings), so its figures sit in that ancestor's reaped ones —
                // if that ancestor gained at least as much. If not, the kernel
                // reaped it (its parent ignores SIGCHLD) and they are nowhere.
                _ => self.ancestors(pid).find(|a| members.contains_key(a)).is_some_and(|reaper| {
                    let gained = unclaimed.entry(reaper).or_insert_with(|| {
                        let (now, before) = (&members[&reaper], self.members.get(&reaper));
                        let before = before.filter(|b| b.start == now.start).map_or([0; N], |b| b.values);
                        std::array::from_fn(|i| now.values[i].saturating_sub(before[i]))
                    });
                    let covered = gained.iter().zip(&gone.values).all(|(gained, had)| gained >= had);
                    if covered {
                        for (gained, had) in gained.iter_mut().zip(&gone.values) {
                            *gained -= had;
                        }
                    }
                    covered
                }),
            };
            // Otherwise it left for good, by a parent outside the tree (the root's
            // starter), orphaned to init, or reaped by the kernel: what it had
            // stays counted.
            if !counted_elsewhere {
                add(&mut departed, &gone.values);
            }
        }
        add(&mut self.departed, &departed);
        let mut now = self.departed;
        for member in members.values() {
            add(&mut now, &member.values);
        }
        for (total, now) in self.total.iter_mut().zip(now) {
            *total = (*total).max(now);
        }
        self.members = members;
        self.total
    }

    /// `pid`'s ancestors among the previous reading's members, nearest first.
    fn ancestors(&self, pid: u32) -> impl Iterator<Item = u32> + '_ {
        let mut next = self.members.get(&pid).and_then(|m| m.parent);
        // Bounded: a parent cycle from pid reuse must not loop forever.
        std::iter::from_fn(move || {
            let current = next?;
            next = self.members.get(&current).and_then(|m| m.parent);
            Some(current)
        })
        .take(self.members.len())
    }
}

/// Adds `b` to `a`, saturating.
fn add<const N: usize>(a: &mut [u64; N], b: &[u64; N]) {
    for (a, b) in a.iter_mut().zip(b) {
        *a = a.saturating_add(*b);
    }
}

/// A thread of a tree: (pid, tid).
pub type ThreadId = (u32, u32);

/// A thread's run-queue delay (ns), voluntary and involuntary switches.
pub type ThreadValues = [u64; 3];

/// Per-thread counters the kernel drops with the thread, as counters that take
/// in every thread that was read in the tree: the live threads' figures plus
/// each gone thread's last reading. What a thread did after its last reading,
/// and threads that lived only between two readings, are lost. Never
/// decreases.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ThreadTally {
    /// Each thread at the previous reading, with its process's start (a reused
    /// pid is another process).
    threads: HashMap<ThreadId, (u64, ThreadValues)>,
    /// What threads that left had at their last reading.
    departed: ThreadValues,
    /// The counters at the previous reading.
    total: ThreadValues,
}

impl ThreadTally {
    /// Takes a reading of the tree's threads; the counters now. `still_there`
    /// tells a thread missed by this reading while it still runs (its process,
    /// same start, missed by the walk): not counted as gone.
    pub fn update(
        &mut self,
        threads: HashMap<ThreadId, (u64, ThreadValues)>,
        still_there: impl Fn(ThreadId, u64) -> bool,
    ) -> ThreadValues {
        for (&id, &(start, values)) in &self.threads {
            let same = threads.get(&id).is_some_and(|(now_start, _)| *now_start == start);
            if !same && !still_there(id, start) {
                add(&mut self.departed, &values);
            }
        }
        let mut now = self.departed;
        for (_, values) in threads.values() {
            add(&mut now, values);
        }
        for (total, now) in self.total.iter_mut().zip(now) {
            *total = (*total).max(now);
        }
        self.threads = threads;
        self.total
    }
}

/// A process of a tree, as the slow read needs it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemberId {
    /// Its pid.
    pub pid: u32,
    /// Its parent's pid.
    pub parent: Option<u32>,
    /// When it started.
    pub start: u64,
    /// Its threads (one: the thread is the pid, no listing needed).
    pub threads: u32,
}

/// One slow reading of a tree's processes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SlowRead {
    /// Each member's (`read_bytes`, `write_bytes`).
    pub io: HashMap<u32, Member<2>>,
    /// Each thread's run-queue delay and switches, with its process's start.
    pub threads: HashMap<ThreadId, (u64, ThreadValues)>,
    /// Why run-queue delay could not be read, if it could not.
    pub wait_refused: Option<String>,
    /// Why the switches could not be read, if they could not.
    pub switches_refused: Option<String>,
    /// Why the storage bytes could not be read, if they could not.
    pub io_refused: Option<String>,
}

/// The slow counters' files, kept open between reads (one `pread` each), and
/// what this kernel cannot give at all.
#[derive(Debug)]
pub struct CounterFiles {
    /// Where /proc is (a directory of fake texts in tests).
    proc: PathBuf,
    /// Each member's `io`.
    io: HashMap<u32, ProcFile>,
    /// Each thread's `schedstat`.
    schedstat: HashMap<ThreadId, ProcFile>,
    /// Each thread's `status`.
    status: HashMap<ThreadId, ProcFile>,
    /// The threads read since the last [`CounterFiles::keep_only`]: the files of
    /// others (threads that exited) are closed there.
    touched: HashSet<ThreadId>,
    /// Why this kernel keeps no run-queue delay, if it does not.
    wait_off: Option<String>,
    /// Why this kernel keeps no storage bytes per process, if it does not.
    io_off: Option<String>,
}

impl CounterFiles {
    /// The files under `proc`, with what the kernel keeps told by process
    /// `probe`'s files (this process's own, under the real /proc). Blocking.
    pub fn new(proc: impl Into<PathBuf>, probe: u32) -> Self {
        let proc = proc.into();
        let dir = proc.join(probe.to_string());
        let wait_off = match std::fs::read_to_string(dir.join("schedstat")) {
            Err(_) => {
                Some("this kernel has no /proc/PID/schedstat (built without CONFIG_SCHED_INFO)".to_owned())
            }
            // A process reading its own file has run: all zeros means the
            // kernel does not keep the figures.
            Ok(text) if text.split_whitespace().all(|f| f == "0") => {
                Some("this kernel keeps no run-queue delay (schedstat reads 0 0 0)".to_owned())
            }
            Ok(_) => None,
        };
        let io_off = (!dir.join("io").exists())
            .then(|| "this kernel has no /proc/PID/io (built without CONFIG_TASK_IO_ACCOUNTING)".to_owned());
        CounterFiles {
            proc,
            io: HashMap::new(),
            schedstat: HashMap::new(),
            status: HashMap::new(),
            touched: HashSet::new(),
            wait_off,
            io_off,
        }
    }

    /// Reads the slow counters of `members`. Blocking.
    pub fn read(&mut self, members: &[MemberId]) -> SlowRead {
        let mut read = SlowRead {
            wait_refused: self.wait_off.clone(),
            io_refused: self.io_off.clone(),
            ..SlowRead::default()
        };
        for m in members {
            let dir = self.proc.join(m.pid.to_string());
            if self.io_off.is_none() {
                let file = self.io.entry(m.pid).or_insert_with(|| ProcFile::new(dir.join("io")));
                match file.try_read() {
                    Ok(text) => {
                        if let Some((r, w)) = parse_io(text) {
                            read.io
                                .insert(m.pid, Member { parent: m.parent, start: m.start, values: [r, w] });
                        }
                    }
                    Err(err) if procfs::gone(&err) => {}
                    Err(err) => {
                        read.io_refused.get_or_insert_with(|| refused("io", m.pid, &err));
                    }
                }
            }
            let tids = if m.threads <= 1 { vec![m.pid] } else { list_threads(&dir) };
            for tid in tids {
                let id = (m.pid, tid);
                self.touched.insert(id);
                let task = dir.join("task").join(tid.to_string());
                let mut values = [0; 3];
                let mut there = true;
                if self.wait_off.is_none() {
                    let file =
                        self.schedstat.entry(id).or_insert_with(|| ProcFile::new(task.join("schedstat")));
                    match file.try_read() {
                        Ok(text) => values[0] = parse_schedstat(text).unwrap_or(0),
                        Err(err) if procfs::gone(&err) => there = false,
                        Err(err) => {
                            read.wait_refused.get_or_insert_with(|| refused("schedstat", m.pid, &err));
                        }
                    }
                }
                let file = self.status.entry(id).or_insert_with(|| ProcFile::new(task.join("status")));
                match file.try_read() {
                    Ok(text) => {
                        if let Some((voluntary, involuntary)) = parse_switches(text) {
                            (values[1], values[2]) = (voluntary, involuntary);
                        }
                    }
                    Err(err) if procfs::gone(&err) => there = false,
                    Err(err) => {
                        read.switches_refused.get_or_insert_with(|| refused("status", m.pid, &err));
                    }
                }
                if there {
                    read.threads.insert(id, (m.start, values));
                }
            }
        }
        read
    }

    /// Closes the files of processes not among `members` (they left the trees
    /// or exited) and of threads not read since the last call.
    pub fn keep_only<'a>(&mut self, members: impl IntoIterator<Item = &'a MemberId>) {
        let pids: HashSet<u32> = members.into_iter().map(|m| m.pid).collect();
        let touched = std::mem::take(&mut self.touched);
        self.io.retain(|pid, _| pids.contains(pid));
        self.schedstat.retain(|id, _| touched.contains(id));
        self.status.retain(|id, _| touched.contains(id));
    }

    /// Whether thread `id` of the process started at `start` still runs.
    /// Blocking.
    fn thread_still_there(&self, (pid, tid): ThreadId, start: u64) -> bool {
        let dir = self.proc.join(pid.to_string());
        let same_process = std::fs::read_to_string(dir.join("stat"))
            .ok()
            .and_then(|text| procfs::parse_stat(pid, &text))
            .is_some_and(|stat| stat.start_ticks == start && !stat.zombie);
        same_process && dir.join("task").join(tid.to_string()).exists()
    }

    /// Process `pid`'s parent and start, if it runs (not a zombie). Blocking.
    fn running(&self, pid: u32) -> Option<(Option<u32>, u64)> {
        let text = std::fs::read_to_string(self.proc.join(pid.to_string()).join("stat")).ok()?;
        let stat = procfs::parse_stat(pid, &text).filter(|s| !s.zombie)?;
        Some(((stat.parent != 0).then_some(stat.parent), stat.start_ticks))
    }
}

/// Why a file of `pid` could not be read, in plain words.
fn refused(file: &str, pid: u32, err: &std::io::Error) -> String {
    let whose = if err.kind() == std::io::ErrorKind::PermissionDenied {
        " (a process of another user: PerfMon reads it only as root or as that user)"
    } else {
        ""
    };
    format!("reading /proc/{pid}/{file} failed: {err}{whose}")
}

/// The threads of the process at `dir`. Blocking.
fn list_threads(dir: &Path) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(dir.join("task")) else { return Vec::new() };
    tasks.filter_map(Result::ok).filter_map(|t| t.file_name().to_str()?.parse().ok()).collect()
}

/// A tree's slow counters: run-queue delay and switches (per thread, lost with
/// the thread) and storage bytes (handed to the parent). A counter the kernel
/// refused once stays `None` for the tree: a sum with a process missing would
/// be a guess.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SlowTree {
    /// Storage bytes read and written.
    io: Tally<2>,
    /// Run-queue delay and switches.
    threads: ThreadTally,
    /// Why run-queue delay is `None`, once it is.
    wait_off: Option<String>,
    /// Why the switches are `None`, once they are.
    switches_off: Option<String>,
    /// Why the storage bytes are `None`, once they are.
    io_off: Option<String>,
    /// When it was last read.
    pub at: Option<Instant>,
}

impl SlowTree {
    /// Takes in one reading of the tree's processes.
    pub fn apply(&mut self, read: SlowRead, files: &CounterFiles, now: Instant) {
        self.wait_off = self.wait_off.take().or(read.wait_refused);
        self.switches_off = self.switches_off.take().or(read.switches_refused);
        self.io_off = self.io_off.take().or(read.io_refused);
        self.io.update(read.io, &|pid| files.running(pid));
        self.threads.update(read.threads, |id, start| files.thread_still_there(id, start));
        self.at = Some(now);
    }

    /// Fills the slow fields of `counters`, or their reasons.
    pub fn fill(&self, counters: &mut TreeCounters) {
        let [wait_ns, voluntary, involuntary] = self.threads.total;
        let [read, written] = self.io.total;
        let mut set = |name: &'static str, off: &Option<String>| match off {
            Some(reason) => {
                counters.reasons.push((name, reason.clone()));
                false
            }
            None => true,
        };
        let wait = set("cpu_wait_s", &self.wait_off);
        let switches =
            [set("voluntary_switches", &self.switches_off), set("involuntary_switches", &self.switches_off)];
        let io = [set("read_bytes", &self.io_off), set("write_bytes", &self.io_off)];
        counters.wait_s = wait.then_some(wait_ns as f64 / 1e9);
        counters.voluntary_switches = switches[0].then_some(voluntary);
        counters.involuntary_switches = switches[1].then_some(involuntary);
        counters.read_bytes = io[0].then_some(read);
        counters.write_bytes = io[1].then_some(written);
    }
}

/// A request to the worker: read these trees (by root, with their members
/// now); trees not listed are forgotten. `done` is told when the readings are
/// in.
struct Request {
    trees: Vec<(u32, Vec<MemberId>)>,
    done: Option<mpsc::Sender<()>>,
}

/// Each tree's slow fields as last read (the rest of the [`TreeCounters`] at
/// their defaults), and when, by root.
type Latest = Arc<Mutex<HashMap<u32, (TreeCounters, Instant)>>>;

/// Reads the trees' slow counters on a thread of its own, so the tick pays
/// only for handing over the members every [`COUNTERS_EVERY`] and copying the
/// last readings out. The thread ends when the worker is dropped.
#[derive(Debug)]
pub struct CounterWorker {
    /// Requests to the thread (one waiting at most: a read due while one is
    /// still going is skipped).
    requests: mpsc::SyncSender<Request>,
    /// The last readings.
    latest: Latest,
}

impl CounterWorker {
    /// Starts the thread, reading under the real /proc.
    pub fn start() -> std::io::Result<Self> {
        Self::start_after(None)
    }

    /// A worker that reads nothing until the returned sender sends or is
    /// dropped: a test's way to see what a tick gives before a reading.
    #[cfg(test)]
    pub fn held() -> (Self, mpsc::Sender<()>) {
        let (release, gate) = mpsc::channel();
        (Self::start_after(Some(gate)).expect("a thread"), release)
    }

    fn start_after(gate: Option<mpsc::Receiver<()>>) -> std::io::Result<Self> {
        let (requests, inbox) = mpsc::sync_channel::<Request>(1);
        let latest = Latest::default();
        let shared = Arc::clone(&latest);
        std::thread::Builder::new().name("tree-counters".into()).spawn(move || {
            if let Some(gate) = gate {
                let _ = gate.recv();
            }
            let mut files = CounterFiles::new("/proc", std::process::id());
            let mut trees: HashMap<u32, SlowTree> = HashMap::new();
            while let Ok(Request { trees: asked, done }) = inbox.recv() {
                trees.retain(|root, _| asked.iter().any(|(r, _)| r == root));
                let mut figures = HashMap::new();
                for (root, members) in &asked {
                    let read = files.read(members);
                    let tree = trees.entry(*root).or_default();
                    let now = Instant::now();
                    tree.apply(read, &files, now);
                    let mut counters = TreeCounters::default();
                    tree.fill(&mut counters);
                    figures.insert(*root, (counters, now));
                }
                files.keep_only(asked.iter().flat_map(|(_, members)| members));
                if let Ok(mut latest) = shared.lock() {
                    *latest = figures;
                }
                if let Some(done) = done {
                    let _ = done.send(());
                }
            }
        })?;
        Ok(CounterWorker { requests, latest })
    }

    /// Asks for a reading of `trees`; `false` if one is still going.
    pub fn ask(&self, trees: Vec<(u32, Vec<MemberId>)>) -> bool {
        self.requests.try_send(Request { trees, done: None }).is_ok()
    }

    /// Reads `trees` now and waits for it (at most a second); `false` if it
    /// did not finish. Blocking.
    pub fn read_now(&self, trees: Vec<(u32, Vec<MemberId>)>) -> bool {
        let (done, finished) = mpsc::channel();
        self.requests.send(Request { trees, done: Some(done) }).is_ok()
            && finished.recv_timeout(Duration::from_secs(1)).is_ok()
    }

    /// `root`'s slow fields as last read, and when, if they were.
    pub fn latest(&self, root: u32) -> Option<(TreeCounters, Instant)> {
        self.latest.lock().ok()?.get(&root).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_proc_texts_parse() {
        assert_eq!(parse_schedstat("100291554 62787049 2040\n"), Some(62_787_049));
        assert_eq!(parse_schedstat("5"), None);
        let status = "Name:\tsh\nvoluntary_ctxt_switches:\t2024\nnonvoluntary_ctxt_switches:\t9\n";
        assert_eq!(parse_switches(status), Some((2024, 9)), "voluntary_ is not read off nonvoluntary_");
        assert_eq!(parse_switches("Name:\tsh\n"), None);
        let io = "rchar: 6976\nwchar: 0\nsyscr: 10\nsyscw: 0\nread_bytes: 4096\nwrite_bytes: 1064960\ncancelled_write_bytes: 8192\n";
        assert_eq!(parse_io(io), Some((4096, 1_064_960)));
        assert_eq!(parse_io("rchar: 1\n"), None);
    }

    /// Members as (pid, parent, value), each started at its pid's tick.
    fn members(list: &[(u32, Option<u32>, u64)]) -> HashMap<u32, Member<1>> {
        list.iter()
            .map(|&(pid, parent, value)| (pid, Member { parent, start: u64::from(pid), values: [value] }))
            .collect()
    }

    #[test]
    fn the_tally_counts_each_process_that_ran_in_the_tree_once() {
        let gone = |_: u32| None;
        let mut cpu = Tally::<1>::default();
        // make (1) → sh (2) → gcc (3), then the whole subtree ends and is
        // reaped before the next reading: make's reaped ticks take in all of it.
        assert_eq!(cpu.update(members(&[(1, Some(0), 5), (2, Some(1), 1), (3, Some(2), 50)]), &gone), [56]);
        let total = cpu.update(members(&[(1, Some(0), 5 + 1 + 120)]), &gone);
        assert_eq!(total, [126], "gcc's 120 ticks counted once, through make's cutime");
        // A child orphaned out of the tree (still running, adopted by init):
        // what it had is kept, as it will never reach make's reaped ticks.
        cpu.update(members(&[(1, Some(0), 126), (4, Some(1), 0), (5, Some(4), 30)]), &gone);
        let total = cpu.update(members(&[(1, Some(0), 126)]), &|pid| (pid == 5).then_some((Some(1_000), 5)));
        assert_eq!(total, [126 + 30]);
        // A member missed by one reading while it still runs under a member is
        // not counted twice when it is back.
        cpu.update(members(&[(1, Some(0), 126), (6, Some(1), 10)]), &gone);
        let total = cpu.update(members(&[(1, Some(0), 126)]), &|pid| (pid == 6).then_some((Some(1), 6)));
        assert_eq!(total, [126 + 30 + 10], "the earlier counter stands");
        let total = cpu.update(members(&[(1, Some(0), 126), (6, Some(1), 12)]), &gone);
        assert_eq!(total, [126 + 30 + 12], "its ticks once, not twice");
        // A member reparented away then never lowers the counter.
        assert_eq!(cpu.update(members(&[(1, Some(0), 100)]), &gone), [168], "never decreases");
    }

    #[test]
    fn a_child_the_kernel_reaped_for_a_parent_that_ignores_sigchld_keeps_its_last_reading() {
        let gone = |_: u32| None;
        let mut cpu = Tally::<1>::default();
        // A parent (1) with 5 ticks and a child (2) with 50.
        assert_eq!(cpu.update(members(&[(1, Some(0), 5), (2, Some(1), 50)]), &gone), [55]);
        // The child exits and the kernel reaps it: the parent gained nothing, so
        // the child's 50 ticks are in no member's figures any more.
        assert_eq!(cpu.update(members(&[(1, Some(0), 5)]), &gone), [55]);
        // What the parent does next is counted on top (before, it was hidden
        // under the 55 until the parent alone passed it).
        assert_eq!(cpu.update(members(&[(1, Some(0), 25)]), &gone), [75]);
        // Two children reaped by the parent in one interval: its gain covers
        // both, so neither is counted twice; a third the kernel reaped is kept.
        cpu.update(members(&[(1, Some(0), 25), (3, Some(1), 10), (4, Some(1), 20), (5, Some(1), 7)]), &gone);
        let total = cpu.update(members(&[(1, Some(0), 25 + 10 + 20 + 1)]), &gone);
        assert_eq!(total, [50 + 25 + 10 + 20 + 1 + 7]);
    }

    #[test]
    fn a_member_reaped_in_the_tree_is_counted_by_its_parent_and_one_that_left_by_its_last_reading() {
        let gone = |_: u32| None;
        let mut io = Tally::<2>::default();
        let m = |pid, parent, r, w| (pid, Member { parent, start: 7, values: [r, w] });
        io.update(HashMap::from([m(1, Some(0), 10, 0), m(2, Some(1), 5, 100)]), &gone);
        // 2 wrote 50 more and was reaped by 1: 1's io holds 2's 150.
        let total = io.update(HashMap::from([m(1, Some(0), 15, 150)]), &gone);
        assert_eq!(total, [15, 150], "once, through the parent");
        // 3 left by a parent outside the tree (orphaned, still running).
        io.update(HashMap::from([m(1, Some(0), 15, 150), m(3, Some(1), 0, 40)]), &gone);
        let total = io.update(HashMap::from([m(1, Some(0), 15, 150)]), &|_| Some((Some(1_000), 7)));
        assert_eq!(total, [15, 190], "its last reading stays");
        // Pid 1 reused by another process (another start): the first one left.
        let reused = (1, Member { parent: Some(0), start: 99, values: [1, 1] });
        let total = io.update(HashMap::from([reused]), &gone);
        assert_eq!(total, [16, 191], "the first's last reading plus the new one's");
    }

    #[test]
    fn a_gone_threads_last_reading_stays_and_a_thread_missed_once_is_not_counted_twice() {
        let mut tally = ThreadTally::default();
        let t = |pid, tid, start, wait| ((pid, tid), (start, [wait, wait / 10, 1]));
        let nobody = |_: ThreadId, _: u64| false;
        assert_eq!(tally.update(HashMap::from([t(1, 1, 5, 100), t(1, 2, 5, 300)]), nobody), [400, 40, 2]);
        // Thread 2 exited: the kernel keeps none of its figures in /proc.
        assert_eq!(tally.update(HashMap::from([t(1, 1, 5, 150)]), nobody), [450, 45, 2]);
        // Missed while it still runs: not counted as gone, back at once.
        tally.update(HashMap::from([t(1, 1, 5, 150), t(2, 2, 9, 70)]), nobody);
        let total = tally.update(HashMap::from([t(1, 1, 5, 160)]), |id, _| id == (2, 2));
        assert_eq!(total, [520, 52, 3], "the earlier total stands: never decreases");
        assert_eq!(tally.update(HashMap::from([t(1, 1, 5, 160), t(2, 2, 9, 80)]), nobody), [540, 54, 3]);
        // Pid 1 reused: its thread 1 is another one.
        let total = tally.update(HashMap::from([t(1, 1, 77, 0), t(2, 2, 9, 80)]), nobody);
        assert_eq!(total, [540, 54, 4], "the old thread's 160 counted, the new one's 0 added");
    }

    /// A fake /proc under a temp dir.
    struct FakeProc(PathBuf);

    impl FakeProc {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!("perfmon-fakeproc-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            FakeProc(dir)
        }
        fn write(&self, path: &str, text: &str) {
            let path = self.0.join(path);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("dir");
            std::fs::write(path, text).expect("write");
        }
        fn thread(&self, pid: u32, tid: u32, wait: u64, voluntary: u64) {
            if pid == tid {
                // The process's own file is its leader thread's.
                self.write(&format!("{pid}/schedstat"), &format!("1000 {wait} 3\n"));
            }
            self.write(&format!("{pid}/task/{tid}/schedstat"), &format!("1000 {wait} 3\n"));
            let status = format!("voluntary_ctxt_switches:\t{voluntary}\nnonvoluntary_ctxt_switches:\t1\n");
            self.write(&format!("{pid}/task/{tid}/status"), &status);
        }
        fn io(&self, pid: u32, read: u64, write: u64) {
            self.write(
                &format!("{pid}/io"),
                &format!("rchar: 1\nread_bytes: {read}\nwrite_bytes: {write}\n"),
            );
        }
    }

    impl Drop for FakeProc {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn id(pid: u32, parent: u32, threads: u32) -> MemberId {
        MemberId { pid, parent: Some(parent), start: 1, threads }
    }

    #[test]
    fn a_fake_trees_threads_and_io_are_summed() {
        let proc = FakeProc::new("sum");
        proc.thread(1, 1, 1_000_000_000, 3);
        proc.io(1, 100, 200);
        // A process of two threads: each thread's files.
        proc.thread(2, 2, 500_000_000, 10);
        proc.thread(2, 3, 250_000_000, 20);
        proc.io(2, 1, 2);
        let mut files = CounterFiles::new(&proc.0, 1);
        let members = [id(1, 0, 1), id(2, 1, 2)];
        let mut tree = SlowTree::default();
        tree.apply(files.read(&members), &files, Instant::now());
        let mut counters = TreeCounters::default();
        tree.fill(&mut counters);
        assert_eq!(counters.wait_s, Some(1.75));
        assert_eq!((counters.voluntary_switches, counters.involuntary_switches), (Some(33), Some(3)));
        assert_eq!((counters.read_bytes, counters.write_bytes), (Some(101), Some(202)));
        assert!(counters.reasons.is_empty(), "{:?}", counters.reasons);
        files.keep_only(&members);
        // Process 2's second thread exits: its last reading stays.
        std::fs::remove_dir_all(proc.0.join("2/task/3")).expect("thread gone");
        tree.apply(files.read(&members), &files, Instant::now());
        let mut counters = TreeCounters::default();
        tree.fill(&mut counters);
        assert_eq!((counters.wait_s, counters.voluntary_switches), (Some(1.75), Some(33)));
        files.keep_only(&members);
        assert_eq!(files.status.len(), 2, "the exited thread's files are closed");
    }

    #[test]
    fn a_kernel_without_schedstat_or_io_gives_none_with_the_reason() {
        let proc = FakeProc::new("missing");
        proc.write("1/status", "voluntary_ctxt_switches:\t1\nnonvoluntary_ctxt_switches:\t1\n");
        proc.thread(1, 1, 5, 1);
        std::fs::remove_file(proc.0.join("1/task/1/schedstat")).expect("no schedstat");
        std::fs::remove_file(proc.0.join("1/schedstat")).expect("no schedstat");
        let mut files = CounterFiles::new(&proc.0, 1);
        let mut tree = SlowTree::default();
        tree.apply(files.read(&[id(1, 0, 1)]), &files, Instant::now());
        let mut counters = TreeCounters::default();
        tree.fill(&mut counters);
        assert_eq!((counters.wait_s, counters.read_bytes, counters.write_bytes), (None, None, None));
        assert_eq!(counters.voluntary_switches, Some(1), "what can be read still is");
        let names: Vec<&str> = counters.reasons.iter().map(|(name, _)| *name).collect();
        assert_eq!(names, ["cpu_wait_s", "read_bytes", "write_bytes"]);
        assert!(counters.reasons[0].1.contains("CONFIG_SCHED_INFO"), "{:?}", counters.reasons);
        assert!(counters.reasons[1].1.contains("CONFIG_TASK_IO_ACCOUNTING"), "{:?}", counters.reasons);
        // A schedstat of zeros: the kernel keeps none.
        proc.write("1/schedstat", "0 0 0\n");
        let files = CounterFiles::new(&proc.0, 1);
        assert!(files.wait_off.as_deref().is_some_and(|r| r.contains("0 0 0")), "{:?}", files.wait_off);
    }

    #[test]
    fn one_refused_member_makes_the_whole_trees_figure_none_for_good() {
        let proc = FakeProc::new("refused");
        proc.thread(1, 1, 5, 1);
        proc.io(1, 10, 10);
        proc.thread(2, 2, 5, 1);
        // Not ENOENT/ESRCH (a process gone) but a read that fails: EISDIR here,
        // EACCES for another user's io under the real /proc (root reads all).
        std::fs::create_dir_all(proc.0.join("2/io")).expect("dir");
        let mut files = CounterFiles::new(&proc.0, 1);
        let mut tree = SlowTree::default();
        let members = [id(1, 0, 1), id(2, 1, 1)];
        tree.apply(files.read(&members), &files, Instant::now());
        std::fs::remove_dir_all(proc.0.join("2")).expect("2 exits");
        tree.apply(files.read(&members[..1]), &files, Instant::now());
        let mut counters = TreeCounters::default();
        tree.fill(&mut counters);
        assert_eq!((counters.read_bytes, counters.write_bytes), (None, None), "a sum without 2 is a guess");
        let reason = &counters.reasons.iter().find(|(name, _)| *name == "read_bytes").expect("a reason").1;
        assert!(reason.contains("/proc/2/io"), "{reason}");
        assert_eq!(counters.wait_s, Some(10e-9), "the others still count");
    }
}
