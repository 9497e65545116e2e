//! Whole-machine memory and swap: `/proc/meminfo` kept open, with sysinfo where
//! there is no /proc.

use sysinfo::{MemoryRefreshKind, System};

use super::meminfo::MemoryDetailReading;
use super::procfs::ProcFile;

/// Memory and swap, in bytes, exactly as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemoryReading {
    /// Installed memory.
    pub total_bytes: u64,
    /// In use: total minus available (what `free` calls used plus what the kernel
    /// could not give back at once), never more than the total.
    pub used_bytes: u64,
    /// Swap configured (0 when there is none).
    pub swap_total_bytes: u64,
    /// Swap in use.
    pub swap_used_bytes: u64,
}

impl MemoryReading {
    /// `used / total` in percent; `None` when the total is unknown (0).
    pub fn percent(&self) -> Option<f64> {
        (self.total_bytes > 0).then(|| self.used_bytes as f64 * 100.0 / self.total_bytes as f64)
    }
}

/// Where readings come from.
#[derive(Debug)]
enum Source {
    /// Linux: `/proc/meminfo`, kept open.
    Proc(ProcFile),
    /// Elsewhere: sysinfo; `None` when it cannot read this OS either.
    Sysinfo(Option<Box<System>>),
}

/// Reads memory use.
#[derive(Debug)]
pub struct MemoryCollector {
    source: Source,
}

impl MemoryCollector {
    /// A collector; reads nothing yet. Blocking.
    pub fn new() -> Self {
        let mut meminfo = ProcFile::new("/proc/meminfo");
        let source = match meminfo.read().and_then(parse) {
            Some(_) => Source::Proc(meminfo),
            None => Source::Sysinfo(
                System::new()
                    .map(Box::new)
                    .map_err(|err| tracing::warn!("memory metrics unavailable: {err}"))
                    .ok(),
            ),
        };
        MemoryCollector { source }
    }

    /// Reads memory and swap (`None` when they cannot be read), and from the same read of `/proc/meminfo` its
    /// detail ([`super::meminfo`]; `None` where there is no /proc): one read
    /// of the file a tick, not two. Blocking.
    pub fn read_detailed(&mut self) -> (Option<MemoryReading>, Option<MemoryDetailReading>) {
        match &mut self.source {
            Source::Proc(meminfo) => match meminfo.read() {
                Some(text) => (parse(text), super::meminfo::parse(text)),
                None => (None, None),
            },
            Source::Sysinfo(_) => (self.read_sysinfo(), None),
        }
    }

    fn read_sysinfo(&mut self) -> Option<MemoryReading> {
        match &mut self.source {
            Source::Proc(_) => None,
            Source::Sysinfo(system) => {
                let system = system.as_mut()?;
                system.refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram().with_swap());
                Some(reading(
                    system.total_memory(),
                    system.used_memory(),
                    system.total_swap(),
                    system.used_swap(),
                ))
            }
        }
    }
}

/// A reading from a `/proc/meminfo` text (values in kB, which are KiB):
/// used = MemTotal − MemAvailable, swap used = SwapTotal − SwapFree.
fn parse(text: &str) -> Option<MemoryReading> {
    let field = |name: &str| -> Option<u64> {
        let value = super::procfs::field(text, name)?;
        value.split_whitespace().next()?.parse::<u64>().ok().map(|kib| kib * 1024)
    };
    let total = field("MemTotal")?;
    let available = field("MemAvailable")?;
    let (swap_total, swap_free) = (field("SwapTotal").unwrap_or(0), field("SwapFree").unwrap_or(0));
    Some(reading(total, total.saturating_sub(available), swap_total, swap_total.saturating_sub(swap_free)))
}

/// A reading from byte counts, with used memory capped at the total.
fn reading(total: u64, used: u64, swap_total: u64, swap_used: u64) -> MemoryReading {
    MemoryReading {
        total_bytes: total,
        used_bytes: used.min(total),
        swap_total_bytes: swap_total,
        swap_used_bytes: swap_used.min(swap_total),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEMINFO: &str = "\
MemTotal:       16384000 kB
MemFree:         1000000 kB
MemAvailable:   10240000 kB
Buffers:          100000 kB
SwapTotal:       2097152 kB
SwapFree:        2000000 kB
";

    #[test]
    fn used_is_total_minus_available() {
        let r = parse(MEMINFO).expect("parses");
        assert_eq!(r.total_bytes, 16_384_000 * 1024);
        assert_eq!(r.used_bytes, (16_384_000 - 10_240_000) * 1024);
        assert_eq!((r.swap_total_bytes, r.swap_used_bytes), (2_097_152 * 1024, 97_152 * 1024));
        assert_eq!(parse("MemTotal: 5 kB\n"), None, "no MemAvailable: not guessed");
    }

    #[test]
    fn used_never_exceeds_total() {
        let r = reading(8_000, 9_000, 100, 200);
        assert_eq!((r.used_bytes, r.swap_used_bytes), (8_000, 100));
        assert_eq!(r.percent(), Some(100.0));
    }

    #[test]
    fn an_unknown_total_has_no_percentage() {
        assert_eq!(reading(0, 0, 0, 0).percent(), None);
    }

    #[test]
    fn this_machine_matches_free() {
        let (r, detail) = MemoryCollector::new().read_detailed();
        let r = r.expect("memory is readable here");
        assert!(detail.is_some_and(|d| d.available_bytes.is_some()), "and its detail, from the same read");
        assert!(r.used_bytes > 0 && r.used_bytes <= r.total_bytes, "{r:?}");
        let out = std::process::Command::new("free").arg("-b").output().expect("free is part of procps");
        let text = String::from_utf8_lossy(&out.stdout);
        let total: u64 = text
            .lines()
            .find_map(|l| l.strip_prefix("Mem:"))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("free's total");
        assert_eq!(r.total_bytes, total, "the same total as free -b");
    }
}
