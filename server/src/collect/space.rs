//! The space of the filesystem PerfMon runs in (the mount holding its working
//! directory): the panel's disk used and size (sysinfo, `statvfs`).
//!
//! Read every 5 s on the slow sources' thread, not on the tick: `statvfs` on a
//! network mount waits on its server, and a local one cost the tick about 20 µs
//! of its 250 on this project's VM (BENCHMARKS.md: the disks source 86–89 µs
//! with it, 66–68 µs without), for a figure that moves by megabytes a minute.
//!
//! # Layout
//! - [`SpaceCollector`]: the mount, found once; [`SpaceCollector::read`].
//! - [`containing_mount`]: which mount holds a path.

use std::path::{Path, PathBuf};

use sysinfo::{DiskRefreshKind, Disks};

/// The filesystem's space, `None` where it cannot be read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpaceReading {
    /// Size minus the space available to users (what `df` counts against them).
    pub used_bytes: Option<u64>,
    /// The filesystem's size.
    pub total_bytes: Option<u64>,
}

/// Reads the space of the mount holding the working directory.
#[derive(Debug, Default)]
pub struct SpaceCollector {
    /// The mounts, listed once at start.
    disks: Option<Disks>,
    /// Which of them holds the working directory.
    home: Option<usize>,
}

impl SpaceCollector {
    /// Lists the mounts and finds the working directory's. Blocking.
    pub fn new() -> SpaceCollector {
        let disks = Disks::new_with_refreshed_list_specifics(DiskRefreshKind::nothing().with_storage())
            .map_err(|err| tracing::warn!("disk space unavailable: {err}"))
            .ok();
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        let home = disks.as_ref().and_then(|d| {
            let mounts: Vec<&Path> = d.iter().map(|disk| disk.mount_point()).collect();
            containing_mount(&cwd, &mounts)
        });
        SpaceCollector { disks, home }
    }

    /// The space now: one `statvfs`. Blocking.
    pub fn read(&mut self) -> SpaceReading {
        let Some(home) = self.disks.as_mut().zip(self.home).and_then(|(disks, index)| disks.get_mut(index))
        else {
            return SpaceReading::default();
        };
        home.refresh_specifics(DiskRefreshKind::nothing().with_storage());
        let total = home.total_space();
        if total == 0 {
            // A size of 0 is a failed `statvfs` (sysinfo leaves it unset), not
            // an empty filesystem.
            return SpaceReading::default();
        }
        SpaceReading {
            used_bytes: Some(total.saturating_sub(home.available_space())),
            total_bytes: Some(total),
        }
    }
}

/// The index of the mount point that holds `path` (the longest prefix).
pub fn containing_mount(path: &Path, mounts: &[&Path]) -> Option<usize> {
    mounts
        .iter()
        .enumerate()
        .filter(|(_, mount)| path.starts_with(mount))
        .max_by_key(|(_, mount)| mount.as_os_str().len())
        .map(|(index, _)| index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_working_directory_belongs_to_the_longest_matching_mount() {
        let mounts = [Path::new("/"), Path::new("/work"), Path::new("/work/main/x")];
        assert_eq!(containing_mount(Path::new("/work/main"), &mounts), Some(1));
        assert_eq!(containing_mount(Path::new("/etc"), &mounts), Some(0));
        assert_eq!(containing_mount(Path::new("/workshop"), &mounts), Some(0));
        assert_eq!(containing_mount(Path::new("/etc"), &[Path::new("/work")]), None);
    }

    #[test]
    fn this_machine_reads_the_size_df_reads() {
        let r = SpaceCollector::new().read();
        let (used, total) = (r.used_bytes.expect("used"), r.total_bytes.expect("total"));
        assert!(used <= total && total > 0, "{used} of {total}");
        // df's size is the same statvfs figure (f_blocks × f_frsize); it does not
        // move while the test runs, unlike the space used.
        let out = std::process::Command::new("df")
            .args(["--output=size", "-B1", "."])
            .output()
            .expect("df runs (coreutils)");
        let text = String::from_utf8_lossy(&out.stdout);
        let df: u64 = text.lines().nth(1).and_then(|l| l.trim().parse().ok()).expect("df's size");
        assert_eq!(total, df, "df -B1 says {df}");
    }

    #[test]
    fn without_a_mount_for_the_working_directory_nothing_is_made_up() {
        assert_eq!(SpaceCollector::default().read(), SpaceReading::default());
    }
}
