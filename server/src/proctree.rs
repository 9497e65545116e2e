//! A run's process tree: the registered pid and all its descendants, and what
//! they use together.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

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

/// One process as `/proc/PID/stat` describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// Its pid.
    pub pid: u32,
    /// Its parent's pid (0 for none).
    pub parent: u32,
    /// User + system CPU time so far, in 1/100 s ticks.
    pub cpu_ticks: u64,
    /// Resident pages.
    pub rss_pages: u64,
    /// Exited but not yet reaped: no longer running.
    pub zombie: bool,
}

/// Parses a `/proc/PID/stat` line; fields are counted after the last `)` because
/// the command name may hold spaces and parentheses.
pub fn parse_stat(pid: u32, stat: &str) -> Option<ProcStat> {
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // From field 3 (state): ppid 4, utime 14, stime 15, rss 24.
    let number = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    Some(ProcStat {
        pid,
        parent: number(1)? as u32,
        cpu_ticks: number(11)? + number(12)?,
        rss_pages: number(21)?,
        zombie: fields.first() == Some(&"Z"),
    })
}

/// Every process's stat, read straight from /proc: one small file per process
/// (sysinfo reads several, which made a tick with a run cost milliseconds).
/// `None` where /proc is missing (not Linux). Blocking.
pub fn scan() -> Option<Vec<ProcStat>> {
    let entries = std::fs::read_dir("/proc").ok()?;
    let mut out = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        // A process may exit between listing and reading: skip it.
        if let Ok(stat) = std::fs::read_to_string(entry.path().join("stat"))
            && let Some(parsed) = parse_stat(pid, &stat)
        {
            out.push(parsed);
        }
    }
    Some(out)
}

/// How often the whole of /proc is read to find the trees' new descendants; in
/// between, only the processes already known to be in a tree are read, so a tick
/// with a run costs a few stat reads instead of one per process on the machine.
/// (Kernels with `/proc/PID/task/TID/children` could walk the tree directly; not
/// every kernel has it.)
pub const FULL_SCAN_EVERY: Duration = Duration::from_secs(5);

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
#[derive(Debug, Default)]
pub struct Scanner {
    /// Each pid's CPU ticks at the previous scan, and when that was.
    previous: (HashMap<u32, u64>, Option<Instant>),
    /// The trees as the last full scan found them.
    known: Option<Known>,
}

impl Scanner {
    /// The processes of the trees of `roots`, with their CPU use since the
    /// previous scan (0 for a process seen for the first time): all of /proc every
    /// [`FULL_SCAN_EVERY`] or when the roots change, the known trees' processes
    /// otherwise. `None` where /proc is missing. Blocking.
    pub fn scan(&mut self, page_bytes: u64, roots: &[u32]) -> Option<Vec<ProcInfo>> {
        let now = Instant::now();
        let known =
            self.known.as_ref().filter(|k| k.roots == roots && now.duration_since(k.at) < FULL_SCAN_EVERY);
        let (stats, full) = match known {
            Some(known) => (read_pids(&known.pids), false),
            None => (scan()?, true),
        };
        let seconds = self.previous.1.map(|at| now.duration_since(at).as_secs_f64()).filter(|s| *s > 0.0);
        let infos: Vec<ProcInfo> = stats
            .iter()
            .filter(|p| !p.zombie)
            .map(|p| {
                let before = self.previous.0.get(&p.pid).copied();
                let cpu = match (before, seconds) {
                    (Some(before), Some(seconds)) => p.cpu_ticks.saturating_sub(before) as f64 / seconds,
                    _ => 0.0,
                };
                ProcInfo {
                    pid: p.pid,
                    parent: (p.parent != 0).then_some(p.parent),
                    cpu_percent_of_core: cpu,
                    rss_bytes: p.rss_pages * page_bytes,
                }
            })
            .collect();
        if full {
            let pids =
                roots.iter().filter_map(|root| usage(*root, &infos)).flat_map(|tree| tree.pids).collect();
            self.known = Some(Known { roots: roots.to_vec(), pids, at: now });
        }
        self.previous = (stats.iter().map(|p| (p.pid, p.cpu_ticks)).collect(), Some(now));
        Some(infos)
    }
}

/// The stats of `pids` that still exist. Blocking.
fn read_pids(pids: &HashSet<u32>) -> Vec<ProcStat> {
    pids.iter()
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            parse_stat(*pid, &stat)
        })
        .collect()
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
    fn stat_lines_parse_after_the_command_name() {
        let line = "4242 (my (odd) cmd) S 4200 4242 4200 0 -1 4194304 99 0 0 0 70 30 0 0 20 0 1 0 408805 2998272 372 18446744073709551615";
        assert_eq!(
            parse_stat(4242, line),
            Some(ProcStat { pid: 4242, parent: 4200, cpu_ticks: 100, rss_pages: 372, zombie: false })
        );
        let zombie = "7 (gone) Z 1 7 7 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 5 0 0 0";
        assert_eq!(parse_stat(7, zombie).map(|p| p.zombie), Some(true));
        assert_eq!(parse_stat(1, "garbage"), None);
    }

    #[test]
    fn a_real_scan_finds_this_process_and_its_parent() {
        if !cfg!(target_os = "linux") {
            return;
        }
        let me = std::process::id();
        let mut scanner = Scanner::default();
        let procs = scanner.scan(4096, &[me]).expect("/proc is there");
        let this = procs.iter().find(|p| p.pid == me).expect("this process is listed");
        assert!(this.rss_bytes > 0);
        assert!(this.parent.is_some());
        // The next scan reads only the known tree: this process (and its threads'
        // children, none here), not the whole machine.
        let again = scanner.scan(4096, &[me]).expect("/proc is there");
        assert!(again.iter().any(|p| p.pid == me));
        assert!(again.len() < procs.len(), "{} of {}", again.len(), procs.len());
        // Other roots force a full scan.
        let other = scanner.scan(4096, &[1]).expect("/proc is there");
        assert!(other.len() > again.len(), "a full scan lists the machine");
    }

    #[test]
    fn a_missing_root_has_no_tree() {
        assert_eq!(usage(99, &[p(1, None, 0.0, 0)]), None);
    }

    #[test]
    fn a_parent_cycle_does_not_loop_forever() {
        let procs = [p(5, Some(6), 1.0, 1), p(6, Some(5), 1.0, 1)];
        assert_eq!(usage(5, &procs).map(|u| u.pids.len()), Some(2));
    }
}
