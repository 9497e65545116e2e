//! Whole-machine memory and swap (sysinfo: `/proc/meminfo` on Linux).

use sysinfo::{MemoryRefreshKind, System};

/// Memory and swap, in bytes, exactly as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemoryReading {
    /// Installed memory.
    pub total_bytes: u64,
    /// In use: total minus available, never more than the total.
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

/// Reads memory use.
#[derive(Debug)]
pub struct MemoryCollector {
    /// `None` when sysinfo cannot read this OS.
    system: Option<System>,
}

impl MemoryCollector {
    /// A collector; reads nothing yet.
    pub fn new() -> Self {
        let system = System::new().map_err(|err| tracing::warn!("memory metrics unavailable: {err}")).ok();
        MemoryCollector { system }
    }

    /// Reads memory and swap; `None` when they cannot be read. Blocking.
    pub fn read(&mut self) -> Option<MemoryReading> {
        let system = self.system.as_mut()?;
        system.refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram().with_swap());
        Some(reading(system.total_memory(), system.used_memory(), system.total_swap(), system.used_swap()))
    }
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
    fn this_machine_has_memory_in_use() {
        let r = MemoryCollector::new().read().expect("memory is readable here");
        assert!(r.used_bytes > 0 && r.used_bytes <= r.total_bytes, "{r:?}");
    }
}
