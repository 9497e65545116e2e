//! The one sampler: reads the machine once per tick on a blocking thread and hands
//! the result to the [`Hub`](crate::hub::Hub), which serialises it once per project
//! and fans it out to every socket.

use std::sync::Arc;
use std::time::Instant;

use shared::{Cpu, Gpu, Memory, Timestamp};
use sysinfo::{CpuRefreshKind, MemoryRefreshKind, System};
use tokio_util::sync::CancellationToken;

use crate::AppState;
use crate::gpu;

const BYTES_PER_GB: f64 = 1e9;

/// What the machine looked like at one instant: the project-independent part of a
/// `perf_metrics` message.
#[derive(Debug, Clone, PartialEq)]
pub struct HostSample {
    /// When the sample was taken (UTC, milliseconds).
    pub timestamp: Timestamp,
    /// Whole-machine CPU use.
    pub cpu: Cpu,
    /// Whole-machine memory use.
    pub memory: Memory,
    /// NVIDIA GPUs, or why there are none.
    pub gpu: Gpu,
}

/// Reads the machine; owns the sysinfo state that CPU rates are computed from.
#[derive(Debug)]
pub struct HostSampler {
    /// `None` when sysinfo cannot read this OS; every value is then `null`.
    system: Option<System>,
    /// When CPU counters were last read: CPU % is only meaningful after
    /// `sysinfo::MINIMUM_CPU_UPDATE_INTERVAL`.
    last_cpu_refresh: Instant,
}

impl Default for HostSampler {
    fn default() -> Self {
        Self::new()
    }
}

impl HostSampler {
    /// Takes the first CPU reading, so that the next [`sample`](Self::sample) has a
    /// baseline to compute usage from.
    pub fn new() -> Self {
        let system = match System::new() {
            Ok(mut system) => {
                system.refresh_cpu_specifics(CpuRefreshKind::nothing().with_usage());
                Some(system)
            }
            Err(err) => {
                tracing::warn!("host metrics unavailable: {err}");
                None
            }
        };
        HostSampler {
            system,
            last_cpu_refresh: Instant::now(),
        }
    }

    /// Reads CPU, memory and GPUs. Blocking: run it on a blocking thread.
    pub fn sample(&mut self) -> HostSample {
        let timestamp = now();
        let (cpu, memory) = match self.system.as_mut() {
            Some(system) => {
                let cpu_ready =
                    self.last_cpu_refresh.elapsed() >= sysinfo::MINIMUM_CPU_UPDATE_INTERVAL;
                system.refresh_cpu_specifics(CpuRefreshKind::nothing().with_usage());
                self.last_cpu_refresh = Instant::now();
                system.refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());
                // Too soon after the previous reading the rate is noise: say nothing.
                let cpu = Cpu {
                    percent: cpu_ready
                        .then(|| round1(f64::from(system.global_cpu_usage()).clamp(0.0, 100.0))),
                };
                (cpu, memory_of(system.total_memory(), system.used_memory()))
            }
            None => (Cpu::default(), Memory::default()),
        };
        HostSample {
            timestamp,
            cpu,
            memory,
            gpu: gpu::sample(),
        }
    }
}

/// Memory section from byte counts; all `null` when the total is unknown (0).
pub fn memory_of(total_bytes: u64, used_bytes: u64) -> Memory {
    if total_bytes == 0 {
        return Memory::default();
    }
    let used_bytes = used_bytes.min(total_bytes);
    Memory {
        used_gb: Some(round1(used_bytes as f64 / BYTES_PER_GB)),
        total_gb: Some(round1(total_bytes as f64 / BYTES_PER_GB)),
        percent: Some(round1(used_bytes as f64 * 100.0 / total_bytes as f64)),
    }
}

/// The current UTC time in the contract's format.
pub fn now() -> Timestamp {
    Timestamp(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

fn round1(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

/// The sampler task: one per server. Samples, publishes, sleeps for the hub's
/// current cadence, until `shutdown` is cancelled.
pub async fn run(state: Arc<AppState>, shutdown: CancellationToken) {
    // Even creating the reader touches /proc: keep it off the async workers too.
    let mut sampler = tokio::task::spawn_blocking(HostSampler::new).await.ok();
    loop {
        let interval = state.hub.interval();
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
            // A run that turns live must not wait out the long idle sleep.
            _ = state.hub.cadence_changed() => {}
        }
        let host = sampler.take();
        let joined = tokio::task::spawn_blocking(move || {
            let mut host = host.unwrap_or_default();
            let sample = host.sample();
            (host, sample)
        })
        .await;
        match joined {
            Ok((host, sample)) => {
                sampler = Some(host);
                state.hub.publish(sample);
            }
            Err(err) => {
                // A panic inside sysinfo or NVML: start from a fresh reader next tick
                // rather than leave every client without data.
                tracing::error!("sampling failed, restarting the sampler: {err}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_is_rounded_to_one_decimal_gb() {
        let m = memory_of(16_000_000_000, 6_240_000_000);
        assert_eq!(
            (m.used_gb, m.total_gb, m.percent),
            (Some(6.2), Some(16.0), Some(39.0))
        );
    }

    #[test]
    fn unknown_total_memory_is_null_not_zero() {
        assert_eq!(memory_of(0, 0), Memory::default());
    }

    #[test]
    fn used_memory_never_exceeds_total() {
        assert_eq!(memory_of(8_000_000_000, 9_000_000_000).percent, Some(100.0));
    }

    #[test]
    fn timestamps_are_utc_with_milliseconds() {
        let ts = now();
        let text = ts.as_str();
        assert!(text.ends_with('Z'), "{text}");
        assert!(chrono::DateTime::parse_from_rfc3339(text).is_ok(), "{text}");
        let fraction = text.rsplit('.').next().unwrap_or_default();
        assert_eq!(fraction.len(), 4, "three digits and Z: {text}");
    }

    #[test]
    fn a_sample_after_the_minimum_interval_has_plausible_values() {
        let mut sampler = HostSampler::new();
        std::thread::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL);
        let sample = sampler.sample();
        let cpu = sample.cpu.percent.expect("cpu after the minimum interval");
        assert!((0.0..=100.0).contains(&cpu), "{cpu}");
        let (used, total) = (
            sample.memory.used_gb.expect("used"),
            sample.memory.total_gb.expect("total"),
        );
        assert!(used > 0.0 && used <= total, "{used} of {total}");
    }

    #[test]
    fn a_sample_too_soon_reports_no_cpu_rather_than_noise() {
        let mut sampler = HostSampler::new();
        assert_eq!(sampler.sample().cpu.percent, None);
    }
}
