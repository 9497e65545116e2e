//! PerfMon's own cost: its CPU, every tick, and its resident memory.
//!
//! - CPU time from `getrusage(RUSAGE_SELF)`: every thread's, live and ended, to
//!   the µs, with no text for the kernel to write. `/proc/self/stat` said the
//!   same in 10 ms ticks (so a cost of 0.02 % of a core read as 0 or 1 % from
//!   one second to the next), and its text, written over a dozen threads, was
//!   one of the tick's costlier reads when cold (25 µs).
//! - Resident memory from `/proc/self/statm` (nothing but `/proc` tells the
//!   current figure: `getrusage` has the peak), read every [`RSS_EVERY`]: it
//!   moves slowly, and each read is one more cold file on the tick.

use std::time::{Duration, Instant};

use nix::sys::resource::{UsageWho, getrusage};

use super::procfs::{self, ProcFile};

/// How often PerfMon's resident memory is read again.
pub const RSS_EVERY: Duration = Duration::from_secs(5);

/// PerfMon's own cost, exactly as read.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct OwnReading {
    /// CPU since the previous reading, % of one core; `None` at the first.
    pub cpu_percent_of_core: Option<f64>,
    /// Resident memory as last read, bytes; `None` without `/proc`.
    pub rss_bytes: Option<u64>,
}

/// Reads PerfMon's own CPU and memory.
#[derive(Debug)]
pub struct OwnCollector {
    /// `/proc/self/statm`, kept open.
    statm: ProcFile,
    /// Bytes per memory page.
    page_bytes: u64,
    /// CPU time at the previous reading, and when.
    cpu: Option<(Duration, Instant)>,
    /// Resident bytes as last read, and when.
    rss: Option<(Option<u64>, Instant)>,
}

impl Default for OwnCollector {
    fn default() -> Self {
        OwnCollector {
            statm: ProcFile::new("/proc/self/statm"),
            page_bytes: procfs::page_bytes(),
            cpu: None,
            rss: None,
        }
    }
}

impl OwnCollector {
    /// Reads at `now`: CPU since the last call, memory when due. Blocking.
    pub fn read(&mut self, now: Instant) -> OwnReading {
        let used = cpu_time();
        let cpu_percent_of_core = match (self.cpu, used) {
            (Some((before, at)), Some(used)) => {
                let seconds = now.saturating_duration_since(at).as_secs_f64();
                (seconds > 0.0).then(|| used.saturating_sub(before).as_secs_f64() / seconds * 100.0)
            }
            _ => None,
        };
        self.cpu = used.map(|used| (used, now));
        if self.rss.is_none_or(|(_, at)| now.saturating_duration_since(at) >= RSS_EVERY) {
            let pages = self.statm.read().and_then(parse_resident_pages);
            self.rss = Some((pages.map(|pages| pages.saturating_mul(self.page_bytes)), now));
        }
        OwnReading { cpu_percent_of_core, rss_bytes: self.rss.and_then(|(bytes, _)| bytes) }
    }
}

/// This process's user and system time so far, every thread's.
fn cpu_time() -> Option<Duration> {
    let usage = getrusage(UsageWho::RUSAGE_SELF).ok()?;
    let micros = |t: nix::sys::time::TimeVal| {
        u64::try_from(t.tv_sec()).ok()?.checked_mul(1_000_000)?.checked_add(u64::try_from(t.tv_usec()).ok()?)
    };
    Some(Duration::from_micros(micros(usage.user_time())?.checked_add(micros(usage.system_time())?)?))
}

/// The resident pages in a `statm` text (`size resident shared text lib data dt`).
fn parse_resident_pages(text: &str) -> Option<u64> {
    text.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_pages_are_statms_second_field() {
        assert_eq!(parse_resident_pages("5000 1200 300 100 0 900 0\n"), Some(1200));
        assert_eq!(parse_resident_pages("5000"), None);
    }

    #[test]
    fn its_own_cpu_shows_work_to_the_microsecond() {
        let mut own = OwnCollector::default();
        let first = own.read(Instant::now());
        assert_eq!(first.cpu_percent_of_core, None, "no baseline yet");
        assert!(first.rss_bytes.is_some_and(|rss| rss > 1_000_000), "{first:?}");
        // 20 ms of work: a share 10 ms ticks could read as nothing.
        let busy = Instant::now();
        let mut x = 0u64;
        while busy.elapsed() < Duration::from_millis(20) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        let percent = own.read(Instant::now()).cpu_percent_of_core.expect("a rate");
        // Other tests' threads count too: only a floor holds.
        assert!(percent > 1.0, "{percent}");
    }

    #[test]
    fn memory_is_read_again_only_when_due() {
        let path = std::env::temp_dir().join(format!("perfmon-own-statm-{}", std::process::id()));
        std::fs::write(&path, "5000 10 3 1 0 9 0\n").expect("statm");
        let mut own = OwnCollector { statm: ProcFile::new(&path), ..OwnCollector::default() };
        let page = own.page_bytes;
        let start = Instant::now();
        assert_eq!(own.read(start).rss_bytes, Some(10 * page));
        std::fs::write(&path, "5000 20 3 1 0 9 0\n").expect("statm");
        assert_eq!(own.read(start + Duration::from_secs(1)).rss_bytes, Some(10 * page), "kept");
        assert_eq!(own.read(start + RSS_EVERY).rss_bytes, Some(20 * page), "due");
        std::fs::write(&path, "garbage").expect("statm");
        assert_eq!(own.read(start + RSS_EVERY * 2).rss_bytes, None, "unreadable is unknown");
        let _ = std::fs::remove_file(&path);
    }
}
