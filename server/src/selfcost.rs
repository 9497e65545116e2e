//! What PerfMon itself costs, from `/proc/self`: two small reads per tick instead
//! of a process refresh through sysinfo.

use std::time::Instant;

/// Linux reports process CPU time in clock ticks of 1/100 s (USER_HZ, fixed by
/// the kernel's ABI for /proc whatever the kernel's own tick rate).
const TICKS_PER_SECOND: f64 = 100.0;

/// This process's CPU time and resident memory, read at one instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    /// User + system CPU time so far, in ticks.
    pub cpu_ticks: u64,
    /// Resident memory in bytes.
    pub rss_bytes: u64,
    /// When it was read.
    pub at: Instant,
}

/// Reads this process's counters; `None` where /proc is missing (not Linux).
/// Blocking.
pub fn read() -> Option<Reading> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    Some(Reading { cpu_ticks: cpu_ticks(&stat)?, rss_bytes: rss_bytes(&status)?, at: Instant::now() })
}

/// utime + stime (fields 14 and 15) of a `/proc/PID/stat` line. The command name
/// (field 2) may hold spaces and parentheses, so fields are counted after the
/// last `)`.
pub fn cpu_ticks(stat: &str) -> Option<u64> {
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // `after` starts at field 3 (state): utime is field 14, stime 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// `VmRSS` of a `/proc/PID/status` text, in bytes.
pub fn rss_bytes(status: &str) -> Option<u64> {
    let kb: u64 =
        status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.split_whitespace().next()?.parse().ok()?;
    Some(kb * 1024)
}

/// The size of a memory page, from this process's own RSS as /proc reports it
/// in pages and in kB (no libc call needed); 4 KiB where that cannot be read.
/// Blocking.
pub fn page_bytes() -> u64 {
    let pages = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| crate::proctree::parse_stat(std::process::id(), &stat))
        .map(|p| p.rss_pages)
        .filter(|p| *p > 0);
    let bytes = std::fs::read_to_string("/proc/self/status").ok().and_then(|s| rss_bytes(&s));
    match (pages, bytes) {
        // Both are read a moment apart: round to the nearest power of two.
        (Some(pages), Some(bytes)) => nearest_power_of_two(bytes / pages).max(4096),
        _ => 4096,
    }
}

fn nearest_power_of_two(x: u64) -> u64 {
    let up = x.max(1).next_power_of_two();
    let down = up / 2;
    if down > 0 && x - down < up - x { down } else { up }
}

/// CPU use between two readings, in % of one core.
pub fn cpu_percent(before: &Reading, after: &Reading) -> Option<f64> {
    let seconds = after.at.checked_duration_since(before.at)?.as_secs_f64();
    if seconds <= 0.0 {
        return None;
    }
    let used = after.cpu_ticks.saturating_sub(before.cpu_ticks) as f64 / TICKS_PER_SECOND;
    Some(used / seconds * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn cpu_ticks_are_counted_after_the_command_name() {
        let stat = "20630 (my (odd) name) R 20625 20625 1063 0 -1 4194304 99 0 0 0 7 3 0 0 20 0 1 0 408805";
        assert_eq!(cpu_ticks(stat), Some(10));
        assert_eq!(cpu_ticks("garbage"), None);
    }

    #[test]
    fn rss_comes_from_vmrss_in_kilobytes() {
        assert_eq!(rss_bytes("Name:\tperfmon\nVmRSS:\t   12345 kB\nThreads: 3\n"), Some(12_345 * 1024));
        assert_eq!(rss_bytes("Name:\tperfmon\n"), None);
    }

    #[test]
    fn cpu_percent_is_ticks_over_wall_time() {
        let t0 = Instant::now();
        let before = Reading { cpu_ticks: 100, rss_bytes: 0, at: t0 };
        let after = Reading { cpu_ticks: 150, rss_bytes: 0, at: t0 + Duration::from_secs(1) };
        assert_eq!(cpu_percent(&before, &after), Some(50.0));
        assert_eq!(cpu_percent(&after, &before), None);
    }

    #[test]
    fn ratios_round_to_the_nearest_power_of_two() {
        assert_eq!(nearest_power_of_two(4100), 4096);
        assert_eq!(nearest_power_of_two(4000), 4096);
        assert_eq!(nearest_power_of_two(16_000), 16_384);
    }

    #[test]
    fn the_page_size_is_a_power_of_two_of_at_least_4_kib() {
        let page = page_bytes();
        assert!(page >= 4096 && page.is_power_of_two(), "{page}");
    }

    #[test]
    fn this_process_can_be_read_on_linux() {
        if cfg!(target_os = "linux") {
            let r = read().expect("a reading");
            assert!(r.rss_bytes > 0);
        }
    }
}
