//! A run's process tree: the registered pid and all its descendants, and what
//! they use together.

use std::collections::{HashMap, HashSet};

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
    fn a_missing_root_has_no_tree() {
        assert_eq!(usage(99, &[p(1, None, 0.0, 0)]), None);
    }

    #[test]
    fn a_parent_cycle_does_not_loop_forever() {
        let procs = [p(5, Some(6), 1.0, 1), p(6, Some(5), 1.0, 1)];
        assert_eq!(usage(5, &procs).map(|u| u.pids.len()), Some(2));
    }
}
