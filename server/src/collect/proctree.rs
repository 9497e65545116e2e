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

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use sysinfo::{ProcessRefreshKind, ProcessStatus, ProcessesToUpdate, System};

use super::procfs::{self, ProcFile, ProcStat};

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
    /// Its own CPU time and that of the children it reaped, 1/100 s ticks;
    /// `None` where /proc does not say (sysinfo's table).
    pub total_ticks: Option<u64>,
    /// Exited, not yet reaped: it runs no more, but its times are final.
    pub zombie: bool,
    /// When it started, 1/100 s ticks after boot (tells a pid's reuse); 0 where
    /// /proc does not say.
    pub start_ticks: u64,
}

/// What a tree uses in total.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TreeUsage {
    /// The running pids in the tree, root included.
    pub pids: HashSet<u32>,
    /// Summed CPU, in % of one core.
    pub cpu_percent_of_core: f64,
    /// Summed resident memory, in bytes.
    pub rss_bytes: u64,
    /// CPU time of every process that has been in the tree since it was first
    /// seen (see [`TreeCpu`]), 1/100 s ticks; `None` without /proc.
    pub cpu_ticks: Option<u64>,
    /// Each member (zombies too).
    members: HashMap<u32, Member>,
}

/// A process of a tree, as its CPU counter needs it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Member {
    /// Its parent's pid.
    parent: Option<u32>,
    /// Its own and its reaped children's CPU time, 1/100 s ticks.
    ticks: u64,
    /// When it started (tells the same process from a reused pid).
    start: u64,
}

/// A tree's CPU time as a counter that takes in every process that ran in it:
/// the members' own and reaped children's times (so a child that lived and was
/// waited for between two readings is counted, through its parent's `cutime`),
/// plus the last reading of members that left without being reaped inside the
/// tree (the root, reaped by whoever started it; an orphan adopted by init).
/// Never decreases.
#[derive(Debug, Default)]
struct TreeCpu {
    /// The members at the previous reading.
    members: HashMap<u32, Member>,
    /// Ticks of members that left other than by being reaped inside the tree.
    departed: u64,
    /// The counter at the previous reading.
    total: u64,
    /// When that was.
    at: Option<Instant>,
}

impl TreeCpu {
    /// Takes a reading of the tree's members; the counter, and the CPU since
    /// the previous reading in % of one core (`None` at the first). `now_of`
    /// tells a process as it is now (its parent and start), if it still runs:
    /// called only for members that left the tree since the previous reading.
    fn update(
        &mut self,
        members: HashMap<u32, Member>,
        now: Instant,
        now_of: impl Fn(u32) -> Option<(Option<u32>, u64)>,
    ) -> (u64, Option<f64>) {
        for (&pid, gone) in &self.members {
            if members.contains_key(&pid) {
                continue;
            }
            let counted_elsewhere = match now_of(pid) {
                // Still running under a parent in the tree: missed by this reading
                // (a thread's children list read as it exited), back at the next.
                Some((parent, start)) if start == gone.start => {
                    parent.is_some_and(|parent| members.contains_key(&parent))
                }
                // Gone (or the pid reused) with an ancestor still in the tree: it
                // was reaped on the way up (a whole subtree may end between two
                // readings), so its time sits in that ancestor's reaped ticks.
                _ => self.ancestors(pid).any(|a| members.contains_key(&a)),
            };
            // Otherwise it left for good, by a parent outside the tree (the root's
            // starter) or orphaned to init: what it had stays counted.
            if !counted_elsewhere {
                self.departed += gone.ticks;
            }
        }
        let total = (self.departed + members.values().map(|m| m.ticks).sum::<u64>()).max(self.total);
        let percent = self.at.and_then(|at| {
            procfs::cpu_percent(self.total, total, now.saturating_duration_since(at).as_secs_f64())
        });
        self.members = members;
        (self.total, self.at) = (total, Some(now));
        (total, percent)
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
    /// Whether this kernel lists children (`/proc/PID/task/TID/children`).
    walk: bool,
    /// Bytes per memory page, for resident sizes in /proc.
    page_bytes: u64,
    /// sysinfo's portable (and slower) process table, only where /proc is missing.
    fallback: Option<System>,
    /// Each root's CPU counter.
    counters: HashMap<u32, TreeCpu>,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner {
            previous: (HashMap::new(), None),
            known: None,
            files: HashMap::new(),
            children: HashMap::new(),
            walk: children_listed(),
            page_bytes: procfs::page_bytes(),
            fallback: None,
            counters: HashMap::new(),
        }
    }
}

impl Scanner {
    /// Each root's tree (`None` once the root has exited), its CPU over the
    /// interval since the previous call taken from the tree's counter, so that
    /// processes born and reaped between two readings count. Blocking.
    pub fn trees(&mut self, roots: &[u32]) -> Vec<(u32, Option<TreeUsage>)> {
        let now = Instant::now();
        let procs = self.scan(roots);
        self.counters.retain(|root, _| roots.contains(root));
        roots
            .iter()
            .map(|&root| {
                let mut tree = usage(root, &procs);
                match tree.as_mut().filter(|t| t.cpu_ticks.is_some()) {
                    Some(tree) => {
                        let counter = self.counters.entry(root).or_default();
                        let members = std::mem::take(&mut tree.members);
                        let (total, percent) = counter.update(members, now, running_now);
                        tree.cpu_ticks = Some(total);
                        tree.cpu_percent_of_core = percent.unwrap_or(0.0);
                    }
                    // A root gone takes its counter: a later process under its
                    // pid starts from nothing.
                    None => {
                        self.counters.remove(&root);
                    }
                }
                (root, tree)
            })
            .collect()
    }

    /// The processes of the trees of `roots`, with their CPU use since the
    /// previous scan (0 for a process seen for the first time): all of /proc every
    /// [`FULL_SCAN_EVERY`] or when the roots change, the known trees' processes
    /// otherwise. Blocking.
    pub fn scan(&mut self, roots: &[u32]) -> Vec<ProcInfo> {
        let now = Instant::now();
        if self.walk {
            let stats = self.walk_trees(roots);
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

    /// Every process of the trees of `roots`, found by following the kernel's
    /// children lists from each root.
    fn walk_trees(&mut self, roots: &[u32]) -> Vec<ProcStat> {
        let mut seen = HashSet::new();
        let mut stats = Vec::new();
        let mut stack = roots.to_vec();
        while let Some(pid) = stack.pop() {
            if !seen.insert(pid) {
                continue;
            }
            let file = self.files.entry(pid).or_insert_with(|| ProcFile::new(format!("/proc/{pid}/stat")));
            let Some(stat) = file.read().and_then(|text| procfs::parse_stat(pid, text)) else { continue };
            if stat.threads <= 1 {
                let file = self
                    .children
                    .entry(pid)
                    .or_insert_with(|| ProcFile::new(format!("/proc/{pid}/task/{pid}/children")));
                stack.extend(file.read().into_iter().flat_map(procfs::parse_children));
            } else {
                // Each thread lists the children it started.
                stack.extend(thread_children(pid));
            }
            stats.push(stat);
        }
        // Files of processes that left the trees (or exited) are closed.
        let found: HashSet<u32> = stats.iter().map(|s| s.pid).collect();
        self.files.retain(|pid, _| found.contains(pid));
        self.children.retain(|pid, _| found.contains(pid));
        stats
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
                    total_ticks: p.cpu_ticks.checked_add(p.reaped_ticks),
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
                total_ticks: None,
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
    usage(root, &Scanner::default().scan(&[root]))
}

/// The CPU time of `root`'s tree now, as [`TreeUsage::cpu_ticks`] counts it at
/// a first reading; `None` if `root` is gone or /proc does not say. Blocking.
pub fn cpu_ticks_now(root: u32) -> Option<u64> {
    usage_now(root)?.cpu_ticks
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
            total.cpu_percent_of_core += p.cpu_percent_of_core;
            total.rss_bytes += p.rss_bytes;
            total.cpu_ticks = total.cpu_ticks.zip(p.total_ticks).map(|(a, b)| a + b);
            let member = Member { parent: p.parent, ticks: p.total_ticks.unwrap_or(0), start: p.start_ticks };
            total.members.insert(pid, member);
        }
        if let Some(kids) = children.get(&pid) {
            stack.extend(kids);
        }
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
            total_ticks: None,
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
        assert_eq!(u.cpu_percent_of_core, 80.0);
        assert_eq!(u.rss_bytes, 111);
    }

    #[test]
    fn the_walk_finds_a_new_descendant_at_once_and_forgets_one_that_exited() {
        let mut scanner = Scanner::default();
        assert!(scanner.walk, "this kernel lists children (CONFIG_PROC_CHILDREN)");
        let mut shell =
            std::process::Command::new("sh").args(["-c", "sleep 30 & sleep 30 & wait"]).spawn().expect("sh");
        let root = shell.id();
        let mut tree = None;
        for _ in 0..100 {
            let procs = scanner.scan(&[root]);
            tree = usage(root, &procs);
            if tree.as_ref().is_some_and(|t| t.pids.len() == 3) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(tree.map(|t| t.pids.len()), Some(3), "the shell and its two sleeps");
        let _ = std::process::Command::new("pkill").args(["-KILL", "-P", &root.to_string()]).status();
        let _ = shell.kill();
        let _ = shell.wait();
        assert!(usage(root, &scanner.scan(&[root])).is_none(), "gone at the next scan");
        assert!(scanner.files.is_empty() && scanner.children.is_empty(), "its files are closed");
    }

    #[test]
    fn a_full_scan_finds_this_process_and_its_parent() {
        let me = std::process::id();
        let mut scanner = Scanner { walk: false, ..Scanner::default() };
        let procs = scanner.scan(&[me]);
        let this = procs.iter().find(|p| p.pid == me).expect("this process is listed");
        assert!(this.rss_bytes > 0);
        assert!(this.parent.is_some());
        // The next scan reads only the known tree: this process (and its threads'
        // children, none here), not the whole machine.
        let again = scanner.scan(&[me]);
        assert!(again.iter().any(|p| p.pid == me));
        assert!(again.len() < procs.len(), "{} of {}", again.len(), procs.len());
        // Other roots force a full scan.
        let other = scanner.scan(&[1]);
        assert!(other.len() > again.len(), "a full scan lists the machine");
    }

    #[test]
    fn a_missing_root_has_no_tree() {
        assert_eq!(usage(99, &[p(1, None, 0.0, 0)]), None);
        // Pids are at most 2^22 on Linux: this one cannot exist.
        assert_eq!(tree_now(u32::MAX - 1), None);
        assert!(!alive(u32::MAX - 1));
        assert!(alive(std::process::id()));
    }

    /// Members as (pid, parent, ticks), each started at its pid's tick.
    fn members(list: &[(u32, Option<u32>, u64)]) -> HashMap<u32, Member> {
        list.iter()
            .map(|&(pid, parent, ticks)| (pid, Member { parent, ticks, start: u64::from(pid) }))
            .collect()
    }

    #[test]
    fn the_counter_counts_each_process_that_ran_in_the_tree_once() {
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        let gone = |_: u32| None;
        let mut cpu = TreeCpu::default();
        // make (1) → sh (2) → gcc (3), then the whole subtree ends and is
        // reaped before the next reading: make's reaped ticks take in all of it.
        let (total, percent) =
            cpu.update(members(&[(1, Some(0), 5), (2, Some(1), 1), (3, Some(2), 50)]), at(0), gone);
        assert_eq!((total, percent), (56, None), "the first reading has no rate");
        let (total, percent) = cpu.update(members(&[(1, Some(0), 5 + 1 + 120)]), at(1), gone);
        assert_eq!(total, 126, "gcc's 120 ticks counted once, through make's cutime");
        assert_eq!(percent, Some(70.0), "70 ticks in 1 s");
        // A child orphaned out of the tree (still running, adopted by init):
        // what it had is kept, as it will never reach make's reaped ticks.
        cpu.update(members(&[(1, Some(0), 126), (4, Some(1), 0), (5, Some(4), 30)]), at(2), gone);
        let (total, _) =
            cpu.update(members(&[(1, Some(0), 126)]), at(3), |pid| (pid == 5).then_some((Some(1_000), 5)));
        assert_eq!(total, 126 + 30);
        // A member missed by one reading while it still runs under a member is
        // not counted twice when it is back.
        cpu.update(members(&[(1, Some(0), 126), (6, Some(1), 10)]), at(4), gone);
        let (total, _) =
            cpu.update(members(&[(1, Some(0), 126)]), at(5), |pid| (pid == 6).then_some((Some(1), 6)));
        assert_eq!(total, 126 + 30 + 10, "the earlier counter stands");
        let (total, _) = cpu.update(members(&[(1, Some(0), 126), (6, Some(1), 12)]), at(6), gone);
        assert_eq!(total, 126 + 30 + 12, "its ticks once, not twice");
        // A member reparented away then never lowers the counter.
        let (total, _) = cpu.update(members(&[(1, Some(0), 100)]), at(7), gone);
        assert_eq!(total, 168, "never decreases");
    }

    #[test]
    fn a_parent_cycle_does_not_loop_forever() {
        let procs = [p(5, Some(6), 1.0, 1), p(6, Some(5), 1.0, 1)];
        assert_eq!(usage(5, &procs).map(|u| u.pids.len()), Some(2));
    }
}
