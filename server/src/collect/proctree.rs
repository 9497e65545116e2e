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
}

/// What a tree uses in total.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TreeUsage {
    /// The pids in the tree, root included.
    pub pids: HashSet<u32>,
    /// Summed CPU, in % of one core.
    pub cpu_percent_of_core: f64,
    /// Summed resident memory, in bytes.
    pub rss_bytes: u64,
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
        }
    }
}

impl Scanner {
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
            .filter(|p| !p.zombie)
            .map(|p| {
                let before = self.previous.0.get(&p.pid).copied();
                let cpu = match (before, seconds) {
                    (Some(before), Some(seconds)) => procfs::cpu_percent(before, p.cpu_ticks, seconds),
                    _ => None,
                };
                ProcInfo {
                    pid: p.pid,
                    parent: (p.parent != 0).then_some(p.parent),
                    cpu_percent_of_core: cpu.unwrap_or(0.0),
                    rss_bytes: p.rss_pages.saturating_mul(self.page_bytes),
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
    let infos = Scanner::default().scan(&[root]);
    usage(root, &infos).map(|tree| tree.pids)
}

/// Whether `pid` is a live (not zombie) process. Blocking.
pub fn alive(pid: u32) -> bool {
    match procfs::read_stat(pid) {
        Some(stat) => !stat.zombie,
        None => Scanner::default().scan_with_sysinfo().iter().any(|p| p.pid == pid),
    }
}

/// Sums `root` and its descendants among `processes`; `None` if `root` is not there.
pub fn usage(root: u32, processes: &[ProcInfo]) -> Option<TreeUsage> {
    let by_pid: HashMap<u32, &ProcInfo> = processes.iter().map(|p| (p.pid, p)).collect();
    by_pid.get(&root)?;
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for p in processes {
        if let Some(parent) = p.parent {
            children.entry(parent).or_default().push(p.pid);
        }
    }
    let mut total = TreeUsage::default();
    let mut stack = vec![root];
    while let Some(pid) = stack.pop() {
        // A pid seen twice would mean a cycle from pid reuse mid-scan: count it once.
        if !total.pids.insert(pid) {
            continue;
        }
        if let Some(p) = by_pid.get(&pid) {
            total.cpu_percent_of_core += p.cpu_percent_of_core;
            total.rss_bytes += p.rss_bytes;
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
        ProcInfo { pid, parent, cpu_percent_of_core: cpu, rss_bytes: rss }
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

    #[test]
    fn a_parent_cycle_does_not_loop_forever() {
        let procs = [p(5, Some(6), 1.0, 1), p(6, Some(5), 1.0, 1)];
        assert_eq!(usage(5, &procs).map(|u| u.pids.len()), Some(2));
    }
}
