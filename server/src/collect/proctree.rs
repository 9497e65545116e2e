//! A run's process tree: the registered pid and all its descendants, and what
//! they use together.
//!
//! Where the kernel lists each thread's children (`/proc/PID/task/TID/children`,
//! `CONFIG_PROC_CHILDREN`, on in the common distributions' kernels), [`Scanner`]
//! walks the tree from its root every tick: a few small reads per process of the
//! tree, through files kept open, and a new descendant is counted at once.
//! Elsewhere descendants can only be found by reading every process's parent, so
//! it reads all of /proc every [`FULL_SCAN_EVERY`] (and when the roots change), and
//! only the known trees' processes on the ticks in between.
//!
//! Each tree also has its counters ([`TreeCounters`], see
//! [`super::tree_counters`]): CPU time by mode, faults and threads from the same
//! `stat` reads every tick; run-queue delay, switches and storage bytes every
//! [`COUNTERS_EVERY`] on a thread of their own, and at once for a new tree or
//! one the caller asks for ([`Scanner::force_counters`]).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use sysinfo::{ProcessRefreshKind, ProcessStatus, ProcessesToUpdate, System};

use super::asleep::Asleep;
use super::procfs::{self, ProcFile, ProcStat};
use super::tree_counters::{COUNTERS_EVERY, CounterFiles, CounterWorker, Member, MemberId, SlowTree, Tally};
pub use super::tree_counters::{NOT_READ_YET, TreeCounters};

/// How often the whole of /proc is read to find the trees' new descendants.
pub const FULL_SCAN_EVERY: Duration = Duration::from_secs(5);

/// One process as the tree needs it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcInfo {
    /// Its pid.
    pub pid: u32,
    /// Its parent's pid, if any.
    pub parent: Option<u32>,
    /// CPU use in % of one core.
    pub cpu_percent_of_core: f64,
    /// Resident memory in bytes.
    pub rss_bytes: u64,
    /// Its own counters and those of the children it reaped; `None` where /proc
    /// does not say (sysinfo's table).
    pub counts: Option<StatCounts>,
    /// Its threads (1 where /proc does not say).
    pub threads: u32,
    /// Exited, not yet reaped: it runs no more, but its times are final.
    pub zombie: bool,
    /// When it started, 1/100 s ticks after boot (tells a pid's reuse); 0 where
    /// /proc does not say.
    pub start_ticks: u64,
}

/// A process's counters that its `stat` gives, its reaped children's
/// included (what the kernel hands a parent on `wait`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatCounts {
    /// User-mode CPU time, 1/100 s ticks.
    pub user_ticks: u64,
    /// Kernel-mode CPU time, 1/100 s ticks.
    pub system_ticks: u64,
    /// Minor page faults.
    pub minor_faults: u64,
    /// Major page faults.
    pub major_faults: u64,
}

impl StatCounts {
    /// As a [`Tally`] counts them.
    fn values(self) -> [u64; 4] {
        [self.user_ticks, self.system_ticks, self.minor_faults, self.major_faults]
    }
}

/// What a tree uses in total.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TreeUsage {
    /// The running pids in the tree, root included.
    pub pids: HashSet<u32>,
    /// Summed CPU, in % of one core; `None` until two readings of the tree
    /// give a rate (its first has nothing to measure against).
    pub cpu_percent_of_core: Option<f64>,
    /// Summed resident memory, in bytes.
    pub rss_bytes: u64,
    /// CPU time of every process that has been in the tree since it was first
    /// seen (see [`Tally`]), 1/100 s ticks; `None` without /proc.
    pub cpu_ticks: Option<u64>,
    /// The tree's counters (from [`Scanner::trees`] only); `None` without /proc.
    pub counters: Option<TreeCounters>,
    /// When their slow part (run-queue delay, switches, storage bytes) was read.
    pub counters_read_at: Option<Instant>,
    /// Each member (zombies too).
    members: HashMap<u32, MemberInfo>,
}

/// A process of a tree, as its counters need it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct MemberInfo {
    /// Its parent, start and `stat` counters (user, system, minor, major).
    member: Member<4>,
    /// Its threads.
    threads: u32,
    /// Exited, not yet reaped.
    zombie: bool,
}

impl TreeUsage {
    /// The members as the slow counters' read needs them.
    fn member_ids(&self) -> Vec<MemberId> {
        let id = |(&pid, m): (&u32, &MemberInfo)| MemberId {
            pid,
            parent: m.member.parent,
            start: m.member.start,
            threads: m.threads,
        };
        self.members.iter().map(id).collect()
    }
}

/// A tree's counters that come from `stat`, kept between ticks.
#[derive(Debug, Default)]
struct TreeState {
    /// User and system ticks, minor and major faults.
    stat: Tally<4>,
    /// The CPU counter at the previous reading, and when (for the rate).
    cpu: Option<(u64, Instant)>,
    /// When its slow counters were first asked for (a new tree's are asked
    /// for at once, and come a tick later).
    slow_asked: Option<Instant>,
}

impl TreeState {
    /// Takes in the tree's members now: its CPU counter and rate, and the
    /// `stat` part of its counters.
    fn update(&mut self, tree: &mut TreeUsage, now: Instant) {
        let members = tree.members.iter().map(|(&pid, m)| (pid, m.member)).collect();
        let [user, system, minor_faults, major_faults] = self.stat.update(members, &running_now);
        let total = user + system;
        let percent = self.cpu.and_then(|(before, at)| {
            procfs::cpu_percent(before, total, now.saturating_duration_since(at).as_secs_f64())
        });
        self.cpu = Some((total, now));
        tree.cpu_ticks = Some(total);
        tree.cpu_percent_of_core = percent;
        let threads = tree.members.values().filter(|m| !m.zombie).map(|m| m.threads).sum();
        tree.counters = Some(TreeCounters {
            user_s: user as f64 / procfs::TICKS_PER_SECOND,
            system_s: system as f64 / procfs::TICKS_PER_SECOND,
            threads,
            minor_faults,
            major_faults,
            ..TreeCounters::default()
        });
    }
}

/// The trees found by the last full scan.
#[derive(Debug)]
struct Known {
    /// The roots they were found for.
    roots: Vec<u32>,
    /// Every pid in those trees.
    pids: HashSet<u32>,
    /// When.
    at: Instant,
}

/// Turns successive scans into CPU rates per process.
#[derive(Debug)]
pub struct Scanner {
    /// Each pid's CPU ticks at the previous scan, and when that was.
    previous: (HashMap<u32, u64>, Option<Instant>),
    /// The trees as the last full scan found them.
    known: Option<Known>,
    /// The stat file of each known process, kept open between ticks.
    files: HashMap<u32, ProcFile>,
    /// The children file of each known single-threaded process, kept open.
    children: HashMap<u32, ProcFile>,
    /// Each member's children as its list last read, for a walk to take while
    /// it has not run since.
    listed: HashMap<u32, Vec<u32>>,
    /// The members the last walk found, each with whether it had exited.
    walked: HashMap<u32, bool>,
    /// Which walked members have not run since their `stat` was read, so that
    /// it need not be read again.
    asleep: Asleep,
    /// Whether this kernel lists children (`/proc/PID/task/TID/children`).
    walk: bool,
    /// Bytes per memory page, for resident sizes in /proc.
    page_bytes: u64,
    /// sysinfo's portable (and slower) process table, only where /proc is missing.
    fallback: Option<System>,
    /// Each root's counters from `stat`.
    counters: HashMap<u32, TreeState>,
    /// Reads the trees' slow counters on its own thread (started with the first
    /// tree), or why it could not start.
    worker: Option<Result<CounterWorker, String>>,
    /// When the slow counters were last asked for.
    slow_asked_at: Option<Instant>,
    /// Roots whose slow counters the next [`Scanner::trees`] reads at once.
    forced: HashSet<u32>,
    /// What the last walk of the children lists found, and the machine's fork
    /// count then: while that count stands still, no process was created, so
    /// the trees can only have lost members, which their own `stat` shows.
    steady: Option<Steady>,
}

/// The trees as the last walk found them.
#[derive(Debug)]
struct Steady {
    /// The machine's fork count at that walk.
    forks: u64,
    /// The roots walked.
    roots: Vec<u32>,
    /// Every member and its parent then, in the walk's order.
    members: Vec<(u32, u32)>,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner {
            previous: (HashMap::new(), None),
            known: None,
            files: HashMap::new(),
            children: HashMap::new(),
            listed: HashMap::new(),
            walked: HashMap::new(),
            asleep: Asleep::default(),
            walk: children_listed(),
            page_bytes: procfs::page_bytes(),
            fallback: None,
            counters: HashMap::new(),
            worker: None,
            slow_asked_at: None,
            forced: HashSet::new(),
            steady: None,
        }
    }
}

impl Scanner {
    /// Each root's tree (`None` once the root has exited), its CPU over the
    /// interval since the previous call taken from the tree's counter, so that
    /// processes born and reaped between two readings count. Blocking.
    /// Each tree carries its counters: the `stat` part as of now, the slow part
    /// as last read (see [`Scanner::force_counters`]).
    /// `forks`: the machine's fork count read this tick, if it was (see
    /// [`Scanner::scan`]).
    pub fn trees(&mut self, roots: &[u32], forks: Option<u64>) -> Vec<(u32, Option<TreeUsage>)> {
        let now = Instant::now();
        let procs = self.scan(roots, forks);
        self.counters.retain(|root, _| roots.contains(root));
        let mut trees: Vec<(u32, Option<TreeUsage>)> = roots
            .iter()
            .map(|&root| {
                let mut tree = usage(root, &procs);
                match tree.as_mut().filter(|t| t.cpu_ticks.is_some()) {
                    Some(tree) => self.counters.entry(root).or_default().update(tree, now),
                    // A root gone takes its counters: a later process under its
                    // pid starts from nothing.
                    None => {
                        self.counters.remove(&root);
                    }
                }
                (root, tree)
            })
            .collect();
        self.slow_counters(&mut trees, now);
        trees
    }

    /// With no tree to follow (the last run ended), closes the files kept open
    /// for the trees' processes, which would otherwise stay open until the next
    /// run's first walk.
    pub fn close_files(&mut self) {
        if !self.files.is_empty() || !self.children.is_empty() {
            self.files.clear();
            self.children.clear();
            self.listed.clear();
            self.walked.clear();
            self.asleep.retain(|_| false);
            self.steady = None;
        }
    }

    /// The next [`Scanner::trees`] reads these roots' slow counters at once and
    /// waits for them (at most a second), instead of giving the last reading:
    /// for a run's end, when the caller knows it comes.
    pub fn force_counters(&mut self, roots: &[u32]) {
        self.forced.extend(roots);
    }

    /// Asks for the trees' slow counters when due (every [`COUNTERS_EVERY`],
    /// and at once for a new tree), and waits for them only for a forced one
    /// ([`Scanner::force_counters`]); fills each tree's counters with their
    /// last reading.
    ///
    /// A new tree's first reading is not waited for: with the counters'
    /// thread started and nine processes' `schedstat`, `status` and `io`
    /// opened, that wait was most of the run's first tick (about 0.4 of its
    /// 0.8–1.7 ms). Its slow figures are pending until that reading lands (a tick or so).
    fn slow_counters(&mut self, trees: &mut [(u32, Option<TreeUsage>)], now: Instant) {
        let live: Vec<u32> = trees
            .iter()
            .filter(|(_, tree)| tree.as_ref().is_some_and(|t| t.counters.is_some()))
            .map(|(root, _)| *root)
            .collect();
        if live.is_empty() {
            return;
        }
        let worker = self.worker.get_or_insert_with(|| {
            CounterWorker::start().map_err(|err| format!("no thread to read them on: {err}"))
        });
        let Ok(worker) = worker.as_ref() else { return };
        let wait = std::mem::take(&mut self.forced).iter().any(|root| live.contains(root));
        let mut new_tree = false;
        // A young tree is read oftener: what its processes did after their
        // last reading is lost when they exit, and that is a larger share of a
        // short run (at most a twelfth of its age, from 1 s to COUNTERS_EVERY).
        let mut every = COUNTERS_EVERY;
        for root in &live {
            let state = self.counters.entry(*root).or_default();
            new_tree |= state.slow_asked.is_none();
            let age = now.saturating_duration_since(*state.slow_asked.get_or_insert(now));
            every = every.min((age / 12).clamp(Duration::from_secs(1), COUNTERS_EVERY));
        }
        // (A tick a little early is still on time.)
        let slack = Duration::from_millis(100);
        let due = new_tree
            || self.slow_asked_at.is_none_or(|at| now.saturating_duration_since(at) + slack >= every);
        // The member lists are built only for a read: most ticks take the last.
        let members = || -> Vec<(u32, Vec<MemberId>)> {
            trees
                .iter()
                .filter_map(|(root, tree)| {
                    tree.as_ref().filter(|t| t.counters.is_some()).map(|t| (*root, t.member_ids()))
                })
                .collect()
        };
        if wait {
            worker.read_now(members());
            self.slow_asked_at = Some(now);
        } else if due && worker.ask(members()) {
            self.slow_asked_at = Some(now);
        }
        for (root, tree) in trees.iter_mut() {
            let Some(tree) = tree.as_mut() else { continue };
            let Some(counters) = tree.counters.as_mut() else { continue };
            match worker.latest(*root) {
                Some((slow, at)) => {
                    fill_slow(counters, slow);
                    tree.counters_read_at = Some(at);
                }
                None => {
                    fill_slow(counters, not_read(NOT_READ_YET));
                    counters.slow_pending = true;
                }
            }
        }
    }

    /// The processes of the trees of `roots`, with their CPU use since the
    /// previous scan (0 for a process seen for the first time): all of /proc every
    /// [`FULL_SCAN_EVERY`] or when the roots change, the known trees' processes
    /// otherwise. Where the kernel lists children, the trees are walked from
    /// their roots, unless `forks` (the machine's fork count, read this tick)
    /// has not moved since the last walk: then only the members' `stat` files
    /// are read. Blocking.
    pub fn scan(&mut self, roots: &[u32], forks: Option<u64>) -> Vec<ProcInfo> {
        let now = Instant::now();
        if self.walk {
            let stats = match self.steady_members(roots, forks, now) {
                Some(stats) => stats,
                None => {
                    // Members that have not run keep their children lists,
                    // unless a member has exited since the last walk (its
                    // orphans may have been handed to one that did not run);
                    // then every list is read.
                    let stats = match self.walk_trees(roots, now, true) {
                        Some(stats) => stats,
                        None => self.walk_trees(roots, now, false).unwrap_or_default(),
                    };
                    self.steady = forks.map(|forks| Steady {
                        forks,
                        roots: roots.to_vec(),
                        members: stats.iter().map(|s| (s.pid, s.parent)).collect(),
                    });
                    stats
                }
            };
            return self.rates(&stats, now);
        }
        let known =
            self.known.as_ref().filter(|k| k.roots == roots && now.duration_since(k.at) < FULL_SCAN_EVERY);
        let (stats, full) = match known {
            Some(known) => {
                let files = &mut self.files;
                let stats = known
                    .pids
                    .iter()
                    .filter_map(|&pid| {
                        let file =
                            files.entry(pid).or_insert_with(|| ProcFile::new(format!("/proc/{pid}/stat")));
                        procfs::parse_stat(pid, file.read()?)
                    })
                    .collect();
                (stats, false)
            }
            None => match procfs::scan() {
                Some(stats) => (stats, true),
                None => return self.scan_with_sysinfo(),
            },
        };
        let infos = self.rates(&stats, now);
        if full {
            let pids =
                roots.iter().filter_map(|root| usage(*root, &infos)).flat_map(|tree| tree.pids).collect();
            self.known = Some(Known { roots: roots.to_vec(), pids, at: now });
        }
        infos
    }

    /// The members of the last walk, each read again, while nothing can have
    /// joined the trees (no fork anywhere since: `forks` unchanged) and nothing
    /// has left them (each member still there, with the same parent: a process
    /// whose parent exited is handed to another and leaves its tree); `None`
    /// when the trees must be walked again.
    fn steady_members(&mut self, roots: &[u32], forks: Option<u64>, now: Instant) -> Option<Vec<ProcStat>> {
        let steady = self.steady.as_ref().filter(|s| Some(s.forks) == forks && s.roots == roots)?;
        let mut stats = Vec::with_capacity(steady.members.len());
        // Members whose parent has exited this tick were handed to another
        // parent without running themselves: their kept `stat` would still name
        // the old one. (The walk lists parents before their children.)
        let mut exited: Vec<u32> = Vec::new();
        for &(pid, parent) in &steady.members {
            let file = self.files.entry(pid).or_insert_with(|| ProcFile::new(format!("/proc/{pid}/stat")));
            let stat = self.asleep.stat(pid, file, now, !exited.contains(&parent))?;
            if stat.zombie {
                exited.push(pid);
            }
            if stat.parent != parent && !roots.contains(&pid) {
                return None;
            }
            stats.push(stat);
        }
        Some(stats)
    }

    /// Every process of the trees of `roots`, found by following the kernel's
    /// children lists from each root. With `keep_lists`, a member that has not
    /// run since its list was read keeps that list; `None` then when that could
    /// have missed a member: a member of the last walk has exited (since that
    /// walk) or left, or a kept list named a pid that is now another's child
    /// (reused).
    fn walk_trees(&mut self, roots: &[u32], now: Instant, keep_lists: bool) -> Option<Vec<ProcStat>> {
        let mut seen = HashSet::new();
        let mut stats = Vec::new();
        // Each pid to visit, and the parent whose kept list named it.
        let mut stack: Vec<(u32, Option<u32>)> = roots.iter().map(|&root| (root, None)).collect();
        while let Some((pid, listed_by)) = stack.pop() {
            if !seen.insert(pid) {
                continue;
            }
            let file = self.files.entry(pid).or_insert_with(|| ProcFile::new(format!("/proc/{pid}/stat")));
            let Some(stat) = self.asleep.stat(pid, file, now, true) else { continue };
            let newly_exited = stat.zombie && self.walked.get(&pid) != Some(&true);
            if listed_by.is_some_and(|parent| stat.parent != parent) || (keep_lists && newly_exited) {
                return None;
            }
            // A member that has not run has made and reaped no child since its
            // list was read.
            let stands = self.asleep.children_stand(pid);
            let kept = if keep_lists && stands { self.listed.get(&pid) } else { None };
            match kept {
                Some(children) => stack.extend(children.iter().map(|&child| (child, Some(pid)))),
                None => {
                    let children: Vec<u32> = if stat.threads <= 1 {
                        let file = self
                            .children
                            .entry(pid)
                            .or_insert_with(|| ProcFile::new(format!("/proc/{pid}/task/{pid}/children")));
                        file.read().into_iter().flat_map(procfs::parse_children).collect()
                    } else {
                        // Each thread lists the children it started.
                        thread_children(pid)
                    };
                    stack.extend(children.iter().map(|&child| (child, None)));
                    self.listed.insert(pid, children);
                }
            }
            stats.push(stat);
        }
        let found: HashSet<u32> = stats.iter().map(|s| s.pid).collect();
        if keep_lists && !self.walked.keys().all(|pid| found.contains(pid)) {
            return None;
        }
        // Files of processes that left the trees (or exited) are closed.
        self.files.retain(|pid, _| found.contains(pid));
        self.children.retain(|pid, _| found.contains(pid));
        self.listed.retain(|pid, _| found.contains(pid));
        self.asleep.retain(|pid| found.contains(&pid));
        self.walked = stats.iter().map(|s| (s.pid, s.zombie)).collect();
        Some(stats)
    }

    fn rates(&mut self, stats: &[ProcStat], now: Instant) -> Vec<ProcInfo> {
        let seconds = self.previous.1.map(|at| now.duration_since(at).as_secs_f64());
        let infos = stats
            .iter()
            .map(|p| {
                let before = self.previous.0.get(&p.pid).copied();
                let cpu = match (before, seconds) {
                    (Some(before), Some(seconds)) if !p.zombie => {
                        procfs::cpu_percent(before, p.cpu_ticks, seconds)
                    }
                    _ => None,
                };
                ProcInfo {
                    pid: p.pid,
                    parent: (p.parent != 0).then_some(p.parent),
                    cpu_percent_of_core: cpu.unwrap_or(0.0),
                    rss_bytes: p.rss_pages.saturating_mul(self.page_bytes),
                    counts: Some(StatCounts {
                        user_ticks: p.user_ticks,
                        system_ticks: p.system_ticks,
                        minor_faults: p.minor_faults,
                        major_faults: p.major_faults,
                    }),
                    threads: p.threads,
                    zombie: p.zombie,
                    start_ticks: p.start_ticks,
                }
            })
            .collect();
        self.previous = (stats.iter().map(|p| (p.pid, p.cpu_ticks)).collect(), Some(now));
        infos
    }

    /// No /proc (not Linux): sysinfo's process table.
    fn scan_with_sysinfo(&mut self) -> Vec<ProcInfo> {
        if self.fallback.is_none() {
            self.fallback = System::new().ok();
        }
        let Some(system) = self.fallback.as_mut() else { return Vec::new() };
        let kind = ProcessRefreshKind::nothing().with_cpu().with_memory();
        system.refresh_processes_specifics(ProcessesToUpdate::All, true, kind);
        system
            .processes()
            .values()
            // An exited child not yet reaped by its parent is no longer running.
            .filter(|p| p.status() != ProcessStatus::Zombie)
            .map(|p| ProcInfo {
                pid: p.pid().as_u32(),
                parent: p.parent().map(|pp| pp.as_u32()),
                cpu_percent_of_core: f64::from(p.cpu_usage()),
                rss_bytes: p.memory(),
                counts: None,
                threads: 1,
                zombie: false,
                start_ticks: 0,
            })
            .collect()
    }
}

/// Whether this kernel lists each thread's children: this process's own file.
fn children_listed() -> bool {
    let me = std::process::id();
    std::path::Path::new(&format!("/proc/{me}/task/{me}/children")).exists()
}

/// The children every thread of `pid` started. Blocking.
fn thread_children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return Vec::new() };
    tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|text| procfs::parse_children(&text).collect::<Vec<_>>())
        .collect()
}

/// The pids of `root`'s tree now; `None` if `root` is gone.
/// Blocking.
pub fn tree_now(root: u32) -> Option<HashSet<u32>> {
    usage_now(root).map(|tree| tree.pids)
}

/// `root`'s tree as one fresh scan finds it. Blocking.
fn usage_now(root: u32) -> Option<TreeUsage> {
    usage(root, &Scanner::default().scan(&[root], None))
}

/// The CPU time of `root`'s tree now, as [`TreeUsage::cpu_ticks`] counts it at
/// a first reading; `None` if `root` is gone or /proc does not say. Blocking.
pub fn cpu_ticks_now(root: u32) -> Option<u64> {
    usage_now(root)?.cpu_ticks
}

/// The counters of `root`'s tree now, as [`Scanner::trees`] counts them at a
/// first reading (a run counted from registration takes its base from here);
/// `None` if `root` is gone or /proc does not say. Blocking (reads every
/// thread's files, once).
pub fn counters_now(root: u32) -> Option<TreeCounters> {
    let mut tree = usage_now(root).filter(|t| t.cpu_ticks.is_some())?;
    TreeState::default().update(&mut tree, Instant::now());
    let mut files = CounterFiles::new("/proc", std::process::id());
    let mut slow = SlowTree::default();
    slow.apply(files.read(&tree.member_ids()), &files, Instant::now());
    let mut counters = tree.counters?;
    let mut figures = TreeCounters::default();
    slow.fill(&mut figures);
    fill_slow(&mut counters, figures);
    Some(counters)
}

/// Sets the slow fields of `counters` (run-queue delay, switches, storage
/// bytes, and their reasons) to those of `slow`.
fn fill_slow(counters: &mut TreeCounters, slow: TreeCounters) {
    counters.wait_s = slow.wait_s;
    counters.voluntary_switches = slow.voluntary_switches;
    counters.involuntary_switches = slow.involuntary_switches;
    counters.read_bytes = slow.read_bytes;
    counters.write_bytes = slow.write_bytes;
    counters.reasons = slow.reasons;
}

/// Slow fields that were not read, each with `reason`.
fn not_read(reason: &str) -> TreeCounters {
    let names = ["cpu_wait_s", "voluntary_switches", "involuntary_switches", "read_bytes", "write_bytes"];
    TreeCounters {
        reasons: names.iter().map(|n| (*n, reason.to_owned())).collect(),
        ..TreeCounters::default()
    }
}

/// A running (not zombie) process's parent and start, from /proc alone (the
/// tree's counter exists only where /proc does). Blocking.
fn running_now(pid: u32) -> Option<(Option<u32>, u64)> {
    procfs::read_stat(pid).filter(|s| !s.zombie).map(|s| ((s.parent != 0).then_some(s.parent), s.start_ticks))
}

/// Whether `pid` is a live (not zombie) process. Blocking.
pub fn alive(pid: u32) -> bool {
    match procfs::read_stat(pid) {
        Some(stat) => !stat.zombie,
        None => Scanner::default().scan_with_sysinfo().iter().any(|p| p.pid == pid),
    }
}

/// Sums `root` and its descendants among `processes`; `None` if `root` is not
/// there or has exited (a zombie). Exited descendants not yet reaped are members
/// (their CPU time is final) but not counted as running processes.
pub fn usage(root: u32, processes: &[ProcInfo]) -> Option<TreeUsage> {
    let by_pid: HashMap<u32, &ProcInfo> = processes.iter().map(|p| (p.pid, p)).collect();
    by_pid.get(&root).filter(|p| !p.zombie)?;
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for p in processes {
        if let Some(parent) = p.parent {
            children.entry(parent).or_default().push(p.pid);
        }
    }
    let mut total = TreeUsage { cpu_ticks: Some(0), ..TreeUsage::default() };
    let mut counted = true;
    let mut stack = vec![root];
    let mut seen = HashSet::new();
    while let Some(pid) = stack.pop() {
        // A pid seen twice would mean a cycle from pid reuse mid-scan: count it once.
        if !seen.insert(pid) {
            continue;
        }
        if let Some(p) = by_pid.get(&pid) {
            if !p.zombie {
                total.pids.insert(pid);
            }
            total.cpu_percent_of_core =
                Some(total.cpu_percent_of_core.unwrap_or(0.0) + p.cpu_percent_of_core);
            total.rss_bytes += p.rss_bytes;
            counted &= p.counts.is_some();
            let counts = p.counts.unwrap_or_default();
            total.cpu_ticks = total.cpu_ticks.map(|t| t + counts.user_ticks + counts.system_ticks);
            let member = Member { parent: p.parent, start: p.start_ticks, values: counts.values() };
            total.members.insert(pid, MemberInfo { member, threads: p.threads, zombie: p.zombie });
        }
        if let Some(kids) = children.get(&pid) {
            stack.extend(kids);
        }
    }
    if !counted {
        total.cpu_ticks = None;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pid: u32, parent: Option<u32>, cpu: f64, rss: u64) -> ProcInfo {
        ProcInfo {
            pid,
            parent,
            cpu_percent_of_core: cpu,
            rss_bytes: rss,
            counts: None,
            threads: 1,
            zombie: false,
            start_ticks: 0,
        }
    }

    #[test]
    fn the_tree_is_the_root_and_every_descendant() {
        let procs = [
            p(1, None, 0.0, 1),
            p(10, Some(1), 50.0, 100),
            p(11, Some(10), 25.0, 10),
            p(12, Some(11), 5.0, 1),
            p(20, Some(1), 99.0, 1000), // a sibling, not in the tree
        ];
        let u = usage(10, &procs).expect("root exists");
        assert_eq!(u.pids, HashSet::from([10, 11, 12]));
        assert_eq!(u.cpu_percent_of_core, Some(80.0));
        assert_eq!(u.rss_bytes, 111);
    }

    #[test]
    fn the_walk_finds_a_new_descendant_at_once_and_forgets_one_that_exited() {
        let mut scanner = Scanner::default();
        assert!(scanner.walk, "this kernel lists children (CONFIG_PROC_CHILDREN)");
        let mut shell =
            std::process::Command::new("sh").args(["-c", "sleep 30 & sleep 30 & wait"]).spawn().expect("sh");
        let root = shell.id();
        // No fork count: every scan walks.
        let tree = scan_until(&mut scanner, root, None, false, |t| t.pids.len() == 3);
        assert_eq!(tree.map(|t| t.pids.len()), Some(3), "the shell and its two sleeps");
        let _ = std::process::Command::new("pkill").args(["-KILL", "-P", &root.to_string()]).status();
        let _ = shell.kill();
        let _ = shell.wait();
        assert!(usage(root, &scanner.scan(&[root], None)).is_none(), "gone at the next scan");
        assert!(scanner.files.is_empty() && scanner.children.is_empty(), "its files are closed");
    }

    #[test]
    fn with_no_tree_left_to_follow_the_kept_files_are_closed() {
        let mut scanner = Scanner::default();
        let mut shell = std::process::Command::new("sh").args(["-c", "sleep 30 & wait"]).spawn().expect("sh");
        let root = shell.id();
        let tree = scan_until(&mut scanner, root, Some(u64::MAX), true, |t| t.pids.len() == 2);
        assert_eq!(tree.map(|t| t.pids.len()), Some(2), "the shell and its sleep");
        assert!(!scanner.files.is_empty() && !scanner.children.is_empty());
        // The run ends while its processes live on (a daemon it left behind).
        scanner.close_files();
        assert!(scanner.files.is_empty() && scanner.children.is_empty() && scanner.steady.is_none());
        let _ = std::process::Command::new("pkill").args(["-KILL", "-P", &root.to_string()]).status();
        let _ = shell.kill();
        let _ = shell.wait();
    }

    /// Whether `pid` runs `command` (its `comm`).
    fn is_command(pid: u32, command: &str) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == command)
    }

    /// Scans `root`'s tree until `done` holds of it (at most 2 s), walking it
    /// afresh each time where `walk`; the last tree found.
    fn scan_until(
        scanner: &mut Scanner,
        root: u32,
        forks: Option<u64>,
        walk: bool,
        done: impl Fn(&TreeUsage) -> bool,
    ) -> Option<TreeUsage> {
        let mut tree = None;
        for _ in 0..100 {
            if walk {
                scanner.steady = None;
            }
            tree = usage(root, &scanner.scan(&[root], forks));
            if tree.as_ref().is_some_and(&done) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        tree
    }

    #[test]
    fn with_no_fork_the_members_are_read_without_a_walk_and_an_orphan_still_leaves_the_tree() {
        let mut scanner = Scanner::default();
        // The root, a child shell, and its sleep (a grandchild); and a sleep of the root's.
        let mut shell = std::process::Command::new("sh")
            .args(["-c", "sh -c 'sleep 30 & wait' & sleep 30 & wait"])
            .spawn()
            .expect("sh");
        let root = shell.id();
        // A fork count no real one equals: the first scan walks and keeps it.
        let forks = Some(u64::MAX);
        let tree = scan_until(&mut scanner, root, forks, true, |t| t.pids.len() == 4).expect("the tree");
        assert_eq!(tree.pids.len(), 4, "the shell, the child shell, two sleeps");
        // The same count: the walk is skipped, the members are read again.
        scanner.children.clear();
        let again = usage(root, &scanner.scan(&[root], forks)).expect("the tree");
        assert_eq!(again.pids, tree.pids);
        assert!(scanner.children.is_empty(), "no children list was read");
        // The child shell is killed: its sleep is handed to another parent and
        // leaves the tree, which its `stat` shows even though the count (here)
        // did not move.
        let child = tree.pids.iter().copied().find(|pid| *pid != root && is_command(*pid, "sh"));
        let child = child.expect("the child shell");
        let grandchild = *std::fs::read_to_string(format!("/proc/{child}/task/{child}/children"))
            .ok()
            .and_then(|t| procfs::parse_children(&t).collect::<Vec<_>>().first().copied())
            .as_ref()
            .expect("its sleep");
        let _ = std::process::Command::new("kill").args(["-KILL", &child.to_string()]).status();
        let left = scan_until(&mut scanner, root, forks, false, |t| {
            !t.pids.contains(&grandchild) && !t.pids.contains(&child)
        });
        let left = left.expect("the tree");
        assert!(!left.pids.contains(&grandchild), "the orphan left the tree: {:?}", left.pids);
        let _ = std::process::Command::new("kill").args(["-KILL", &grandchild.to_string()]).status();
        let _ = std::process::Command::new("pkill").args(["-KILL", "-P", &root.to_string()]).status();
        let _ = shell.kill();
        let _ = shell.wait();
    }

    #[test]
    fn an_orphan_whose_parent_is_not_reaped_leaves_the_tree_although_it_did_not_run() {
        let mut scanner = Scanner::default();
        // The root becomes a `sleep` that never reaps: its child shell, killed,
        // stays a zombie, and the child's sleep is handed to another parent.
        let mut root_process = std::process::Command::new("sh")
            .args(["-c", "sh -c 'sleep 30 & wait' & exec sleep 30"])
            .spawn()
            .expect("sh");
        let root = root_process.id();
        let forks = Some(u64::MAX);
        let execed = || is_command(root, "sleep");
        let tree =
            scan_until(&mut scanner, root, forks, true, |t| execed() && t.pids.len() == 3).expect("the tree");
        assert_eq!(tree.pids.len(), 3, "the root, its shell, the shell's sleep");
        let shell = tree.pids.iter().copied().find(|pid| is_command(*pid, "sh"));
        let shell = shell.expect("the child shell");
        let orphan = *tree.pids.iter().find(|pid| **pid != root && **pid != shell).expect("its sleep");
        // Steady, with every member's `stat` kept: the sleeps have not run.
        for _ in 0..3 {
            usage(root, &scanner.scan(&[root], forks));
        }
        let _ = std::process::Command::new("kill").args(["-KILL", &shell.to_string()]).status();
        let left =
            scan_until(&mut scanner, root, forks, false, |t| !t.pids.contains(&orphan)).expect("the tree");
        assert!(!left.pids.contains(&orphan), "the orphan left the tree: {:?}", left.pids);
        assert!(
            std::fs::read_to_string(format!("/proc/{shell}/stat")).is_ok_and(|s| s.contains(") Z ")),
            "its parent was still a zombie: the orphan was told by its own stat"
        );
        let _ = std::process::Command::new("kill").args(["-KILL", &orphan.to_string()]).status();
        let _ = root_process.kill();
        let _ = root_process.wait();
    }

    #[test]
    fn a_full_scan_finds_this_process_and_its_parent() {
        let me = std::process::id();
        let mut scanner = Scanner { walk: false, ..Scanner::default() };
        let procs = scanner.scan(&[me], None);
        let this = procs.iter().find(|p| p.pid == me).expect("this process is listed");
        assert!(this.rss_bytes > 0);
        assert!(this.parent.is_some());
        // The next scan reads only the known tree: this process (and its threads'
        // children, none here), not the whole machine.
        let again = scanner.scan(&[me], None);
        assert!(again.iter().any(|p| p.pid == me));
        assert!(again.len() < procs.len(), "{} of {}", again.len(), procs.len());
        // Other roots force a full scan.
        let other = scanner.scan(&[1], None);
        assert!(other.len() > again.len(), "a full scan lists the machine");
    }

    #[test]
    fn a_walk_keeps_the_lists_of_members_that_have_not_run_and_reads_every_list_after_an_exit() {
        let mut scanner = Scanner::default();
        // The root, a child shell and its sleep, and a sleep of the root's.
        let run = Run::start("sh -c 'sleep 30 & wait' & sleep 30 & wait");
        let root = run.pid();
        // No fork count: every scan walks. Both sleeps exec'd (a forked child
        // is an `sh` until it does: on a busy machine, for a while), so the
        // one `sh` besides the root is the child shell.
        let settled = |t: &TreeUsage| {
            t.pids.len() == 4 && t.pids.iter().filter(|&&pid| is_command(pid, "sleep")).count() == 2
        };
        let tree = scan_until(&mut scanner, root, None, true, settled).expect("the tree");
        assert_eq!(tree.pids.len(), 4, "the shell, the child shell, two sleeps");
        // Once every member sleeps, a walk reads no children list (opens no file).
        let mut quiet = false;
        for _ in 0..100 {
            scanner.children.clear();
            let again = usage(root, &scanner.scan(&[root], None)).expect("the tree");
            assert_eq!(again.pids, tree.pids);
            if scanner.children.is_empty() {
                quiet = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(quiet, "the sleeping members' lists were read at every walk");

        // A kept list that misses a child, as one would that was handed an
        // orphan unseen (a subreaper's): it stands while nothing exits.
        let shell = *tree.pids.iter().find(|&&pid| pid != root && is_command(pid, "sh")).expect("the shell");
        let its_sleep = scanner.listed[&shell][0];
        let roots_sleep = *tree
            .pids
            .iter()
            .find(|&&pid| pid != shell && pid != root && pid != its_sleep)
            .expect("its sleep");
        scanner.listed.insert(shell, Vec::new());
        scanner.walked.remove(&its_sleep);
        let kept = usage(root, &scanner.scan(&[root], None)).expect("the tree");
        assert!(!kept.pids.contains(&its_sleep), "the kept list stood: {:?}", kept.pids);
        // A member exits: every list is read again, and the child is found.
        let _ = std::process::Command::new("kill").args(["-KILL", &roots_sleep.to_string()]).status();
        let after = scan_until(&mut scanner, root, None, true, |t| !t.pids.contains(&roots_sleep));
        let after = after.expect("the tree");
        assert!(!after.pids.contains(&roots_sleep));
        assert!(after.pids.contains(&its_sleep), "{:?}", after.pids);
    }

    #[test]
    fn a_missing_root_has_no_tree() {
        assert_eq!(usage(99, &[p(1, None, 0.0, 0)]), None);
        // Pids are at most 2^22 on Linux: this one cannot exist.
        assert_eq!(tree_now(u32::MAX - 1), None);
        assert!(!alive(u32::MAX - 1));
        assert!(alive(std::process::id()));
    }

    /// A scratch dir for a test's files.
    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("perfmon-tree-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        dir
    }

    /// A shell running `script` as a run's root, killed with its tree on drop.
    struct Run(std::process::Child);

    impl Run {
        fn start(script: &str) -> Self {
            Run(std::process::Command::new("sh").args(["-c", script]).spawn().expect("sh"))
        }
        fn pid(&self) -> u32 {
            self.0.id()
        }
    }

    impl Drop for Run {
        fn drop(&mut self) {
            let _ =
                std::process::Command::new("pkill").args(["-KILL", "-P", &self.0.id().to_string()]).status();
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// Reads `root`'s tree at a 200 ms cadence until `done` exists (at most
    /// 8 s), then once more with the slow counters read at once.
    fn follow(scanner: &mut Scanner, root: u32, done: &std::path::Path) -> TreeCounters {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !done.exists() && Instant::now() < deadline {
            scanner.trees(&[root], None);
            std::thread::sleep(Duration::from_millis(200));
        }
        assert!(done.exists(), "the workload finished in time");
        scanner.force_counters(&[root]);
        let (_, tree) = scanner.trees(&[root], None).pop().expect("one tree");
        tree.and_then(|t| t.counters).expect("the root still runs, and /proc has counters")
    }

    /// A new tree's first reading does not wait for its slow counters: with
    /// the counters' thread held, they are pending, `None` with "not read
    /// yet"; once it reads, a reading a moment later has them.
    #[test]
    fn a_new_trees_slow_counters_are_pending_on_its_first_reading_and_there_soon_after() {
        let run = Run::start("sleep 30");
        let (worker, release) = CounterWorker::held();
        let mut scanner = Scanner { worker: Some(Ok(worker)), ..Scanner::default() };
        let counters = |scanner: &mut Scanner| {
            scanner.trees(&[run.pid()], None).pop().and_then(|(_, t)| t?.counters).expect("counters")
        };
        let first = counters(&mut scanner);
        assert!(first.slow_pending, "{first:?}");
        assert_eq!((first.wait_s, first.voluntary_switches, first.write_bytes), (None, None, None));
        assert!(first.reasons.iter().any(|(field, why)| *field == "cpu_wait_s" && why == NOT_READ_YET));
        drop(release);
        let deadline = Instant::now() + Duration::from_secs(30);
        let later = loop {
            std::thread::sleep(Duration::from_millis(20));
            let later = counters(&mut scanner);
            if !later.slow_pending || Instant::now() > deadline {
                break later;
            }
        };
        assert!(!later.slow_pending, "the first reading came within 30 s: {later:?}");
        assert!(later.voluntary_switches.is_some() && later.write_bytes.is_some(), "{later:?}");
    }

    /// A shell that burns CPU itself, then runs children that burn CPU and
    /// fault pages in and exit long before the next slow read: their CPU and
    /// faults are in the counters (through the shell's reaped figures), to the
    /// tick of what the kernel says for the shell (`/proc/PID/stat`, own and
    /// reaped), and the tree's counters never decrease on the way.
    #[test]
    fn children_that_exit_early_still_count_their_cpu_and_faults() {
        let dir = scratch("children");
        let done = dir.join("done");
        let burn = "i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done";
        let run = Run::start(&format!(
            "{burn}; for j in 1 2 3 4; do sh -c '{burn}; head -c 8000000 /dev/zero | cat >/dev/null'; done; \
             touch {done}; sleep 30",
            done = done.display()
        ));
        let mut scanner = Scanner::default();
        let first = scanner.trees(&[run.pid()], None).pop().and_then(|(_, t)| t?.counters).expect("counters");
        let counters = follow(&mut scanner, run.pid(), &done);
        let stat = procfs::read_stat(run.pid()).expect("the shell's stat");
        let _ = std::fs::remove_dir_all(&dir);
        let seconds = |ticks: u64| ticks as f64 / procfs::TICKS_PER_SECOND;
        // Same kernel figures read microseconds apart, the shell asleep: equal
        // but for a tick of rounding.
        let tolerance = 0.02;
        assert!((counters.user_s - seconds(stat.user_ticks)).abs() <= tolerance, "{counters:?} vs {stat:?}");
        assert!(
            (counters.system_s - seconds(stat.system_ticks)).abs() <= tolerance,
            "{counters:?} vs {stat:?}"
        );
        assert!(stat.reaped_ticks > 0, "the children burned CPU: {stat:?}");
        assert!(counters.minor_faults >= stat.minor_faults, "{counters:?} vs {stat:?}");
        assert!(counters.minor_faults > first.minor_faults + 100, "the children's faults: {counters:?}");
        // (The first reading's slow figures may be pending: `None`.)
        assert!(counters.user_s >= first.user_s, "never decreases");
        assert!(first.wait_s.is_none_or(|first| counters.wait_s >= Some(first)), "never decreases");
        assert!(counters.wait_s.is_some() && counters.voluntary_switches.is_some(), "{counters:?}");
        assert_eq!(counters.threads, 2, "the shell and its sleep: {counters:?}");
    }

    /// A parent that ignores SIGCHLD (perl, Essential in Debian): the kernel
    /// reaps its child and hands it nothing, so the child's CPU is in no
    /// member's figures once it is gone; what it had when last read stays
    /// counted, and what the parent burns after is counted on top of it.
    #[test]
    fn a_child_the_kernel_reaps_keeps_its_cpu_and_its_parent_counts_on_top() {
        let dir = scratch("sigchld");
        let done = dir.join("done");
        let script = format!(
            r#"$SIG{{CHLD}} = "IGNORE";
               sub cpu {{ my @t = times; $t[0] + $t[1] }}
               my $pid = fork();
               if ($pid == 0) {{ 1 while cpu() < 0.5; exit 0; }}
               select(undef, undef, undef, 0.05) while kill 0, $pid;
               1 while cpu() < 0.6;
               open(my $f, ">", "{done}"); close $f;
               sleep 30;"#,
            done = done.display()
        );
        let mut perl = std::process::Command::new("perl").args(["-e", &script]).spawn().expect("perl");
        let mut scanner = Scanner::default();
        let counters = follow(&mut scanner, perl.id(), &done);
        let stat = procfs::read_stat(perl.id()).expect("perl's stat");
        let _ = perl.kill();
        let _ = perl.wait();
        let _ = std::fs::remove_dir_all(&dir);
        let own = (stat.user_ticks + stat.system_ticks) as f64 / procfs::TICKS_PER_SECOND;
        assert_eq!(stat.reaped_ticks, 0, "the kernel reaped the child: {stat:?}");
        // The child burned 0.5 s and was read every 200 ms while it did.
        let tree = counters.user_s + counters.system_s;
        assert!(tree >= own + 0.2, "the tree {tree} s, perl alone {own} s: {counters:?}");
    }

    /// Synchronous writes by a child that exits (`dd … conv=fsync`): the bytes
    /// reach the tree's `write_bytes` through the shell that reaped it.
    #[test]
    fn synchronous_writes_move_write_bytes() {
        let dir = scratch("writes");
        let (done, file) = (dir.join("done"), dir.join("data"));
        let run = Run::start(&format!(
            "dd if=/dev/zero of={file} bs=64k count=64 conv=fsync 2>/dev/null; touch {done}; sleep 30",
            file = file.display(),
            done = done.display()
        ));
        let mut scanner = Scanner::default();
        let counters = follow(&mut scanner, run.pid(), &done);
        let _ = std::fs::remove_dir_all(&dir);
        let written = counters.write_bytes.expect("/proc/PID/io is readable as root");
        assert!(written >= 4 << 20, "4 MiB written and synced, {written} B counted");
    }

    /// Two threads of this process handing a token back and forth: each wait
    /// is a voluntary switch, counted per thread (`/proc/PID/status` alone is
    /// the leader's); the threads are read while they still live.
    #[test]
    fn two_threads_ping_ponging_move_voluntary_switches() {
        use std::sync::mpsc::channel;
        let me = std::process::id();
        let mut scanner = Scanner::default();
        scanner.force_counters(&[me]);
        let before = scanner.trees(&[me], None).pop().and_then(|(_, t)| t?.counters).expect("counters");
        let (to_b, b_in) = channel::<u32>();
        let (to_a, a_in) = channel::<u32>();
        let (finished, wait_finished) = channel::<()>();
        let (stop, stopped) = channel::<()>();
        let b = std::thread::spawn(move || {
            while let Ok(n) = b_in.recv() {
                if to_a.send(n).is_err() {
                    break;
                }
            }
        });
        let a = std::thread::spawn(move || {
            for n in 0..2000 {
                let _ = to_b.send(n);
                let _ = a_in.recv();
            }
            let _ = finished.send(());
            // Alive until read: a thread's switches leave /proc with it.
            let _ = stopped.recv();
            drop(to_b);
        });
        wait_finished.recv_timeout(Duration::from_secs(8)).expect("2000 round trips");
        scanner.force_counters(&[me]);
        let after = scanner.trees(&[me], None).pop().and_then(|(_, t)| t?.counters).expect("counters");
        let _ = stop.send(());
        let _ = a.join();
        let _ = b.join();
        let (before, after) =
            (before.voluntary_switches.expect("read"), after.voluntary_switches.expect("read"));
        assert!(after >= before + 2000, "two threads waiting 2000 times each: {before} → {after}");
    }

    /// Three CPU burners pinned to one core, each staying alive once done (a
    /// thread's run-queue delay leaves /proc with it): the tree's threads
    /// waited for the CPU about two thirds of the time they burned.
    #[test]
    fn burners_pinned_to_one_core_wait_for_it() {
        let taskset = std::process::Command::new("taskset").arg("-V").output();
        assert!(taskset.is_ok(), "taskset (util-linux) is missing: run scripts/setup.sh");
        let dir = scratch("wait");
        let done = dir.join("done");
        let burn = "i=0; while [ $i -lt 600000 ]; do i=$((i+1)); done";
        let burners: Vec<String> = (0..3)
            .map(|j| {
                format!(
                    "taskset -c 0 sh -c '{burn}; touch {}; sleep 30' &",
                    dir.join(format!("fin{j}")).display()
                )
            })
            .collect();
        let run = Run::start(&format!(
            "{} while [ $(ls {dir} | grep -c fin) -lt 3 ]; do sleep 0.05; done; touch {done}; sleep 30",
            burners.join(" "),
            dir = dir.display(),
            done = done.display()
        ));
        let mut scanner = Scanner::default();
        let counters = follow(&mut scanner, run.pid(), &done);
        let _ = std::fs::remove_dir_all(&dir);
        let wait = counters.wait_s.expect("this kernel keeps run-queue delay");
        let cpu = counters.user_s + counters.system_s;
        assert!(
            wait > 0.3 && wait > cpu / 3.0,
            "3 burners on one core: {cpu:.2} s on CPU, {wait:.2} s waiting"
        );
        assert!(counters.involuntary_switches.is_some_and(|n| n > 10), "{counters:?}");
    }

    #[test]
    fn a_parent_cycle_does_not_loop_forever() {
        let procs = [p(5, Some(6), 1.0, 1), p(6, Some(5), 1.0, 1)];
        assert_eq!(usage(5, &procs).map(|u| u.pids.len()), Some(2));
    }
}
