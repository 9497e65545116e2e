//! CPU time by mode, scheduler rates and the CPU's sensors: the `cpu_detail`
//! section of a sample.
//!
//! Modes are shares of the CPU time that passed between two readings of
//! `/proc/stat`, so they sum to 100 (up to the one-decimal rounding). The kernel
//! counts a guest's time twice, in `user` (or `nice`) and again in `guest` (or
//! `guest_nice`); here it is counted once, in [`CpuModes::guest_percent`], and
//! taken out of `user_percent` and `nice_percent` — as `vmstat` takes guest time
//! out of its `us` column.
//!
//! # Layout
//! - [`CpuDetail`]: the section: machine-wide and per-core [`CpuModes`], the
//!   scheduler's rates and gauges, and [`CpuSensors`].
//! - [`CpuSensors`]: frequency per core, [`Temperatures`] and [`ThrottleCounts`],
//!   read every 5 s and sent with their age.

use serde::{Deserialize, Serialize};

/// The most cores the per-core lists hold (indexed by core number): enough for
/// the largest servers, a bound on the payload whatever the kernel says.
pub const MAX_CORES: usize = 1024;

/// The most temperature sensors listed.
pub const MAX_TEMPERATURES: usize = 64;

/// CPU time by mode, the scheduler's activity and the CPU's sensors.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CpuDetail {
    /// The whole machine's time by mode since the previous sample; `null` before
    /// a second reading or where there is no `/proc/stat`.
    pub modes: Option<CpuModes>,
    /// Each core's time by mode, indexed by core number (`cpu0` first); `null`
    /// for a core the kernel does not list (offline) or that has no previous
    /// reading yet. At most [`MAX_CORES`] entries.
    pub per_core: Vec<Option<CpuModes>>,
    /// Context switches per second, machine-wide (`ctxt`; `vmstat`'s `cs`).
    pub context_switches_per_s: Option<f64>,
    /// Interrupts serviced per second, machine-wide (`intr`'s total; `vmstat`'s `in`).
    pub interrupts_per_s: Option<f64>,
    /// Processes and threads created per second (`processes`, which counts forks).
    pub forks_per_s: Option<f64>,
    /// Tasks runnable at the moment of reading (`procs_running`; `vmstat`'s `r`).
    pub procs_running: Option<u64>,
    /// Tasks blocked on I/O at the moment of reading (`procs_blocked`; `vmstat`'s `b`).
    pub procs_blocked: Option<u64>,
    /// Frequency, temperatures and throttling, read less often.
    pub sensors: CpuSensors,
}

/// Shares of CPU time by mode, each 0–100, summing to 100. A mode is `null`
/// where the kernel's line has no such column (steal before 2.6.11, guest
/// before 2.6.24).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CpuModes {
    /// Running user code at normal priority, guest time excluded.
    pub user_percent: Option<f64>,
    /// Running niced user code, niced guest time excluded.
    pub nice_percent: Option<f64>,
    /// Running kernel code for processes.
    pub system_percent: Option<f64>,
    /// Idle with no I/O outstanding.
    pub idle_percent: Option<f64>,
    /// Idle while some task waited for I/O.
    pub iowait_percent: Option<f64>,
    /// Servicing hardware interrupts.
    pub irq_percent: Option<f64>,
    /// Servicing softirqs (deferred interrupt work: network, timers, block).
    pub softirq_percent: Option<f64>,
    /// Taken by the hypervisor for other virtual machines while this one wanted
    /// to run.
    pub steal_percent: Option<f64>,
    /// Running virtual CPUs of guests (niced or not).
    pub guest_percent: Option<f64>,
}

/// Frequency, temperatures and thermal throttling: slow-changing and costlier
/// to read (a file per core or sensor), so read at most every 5 s.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CpuSensors {
    /// How long ago these were read, in ms; `null` before the first reading.
    pub age_ms: Option<u64>,
    /// Current frequency of each core in MHz, indexed by core number; `null`
    /// for a core with none to read. At most [`MAX_CORES`] entries.
    pub frequency_mhz: Vec<Option<f64>>,
    /// Where the frequencies come from: `"cpufreq"` (the governor's current
    /// frequency, `scaling_cur_freq`) or `"cpuinfo"` (`/proc/cpuinfo`'s
    /// `cpu MHz`); `null` when neither has one.
    pub frequency_source: Option<String>,
    /// Temperature sensors.
    pub temperatures: Temperatures,
    /// Thermal throttling events.
    pub throttle: ThrottleCounts,
}

/// Temperature sensors: hwmon's, else the thermal zones'.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Temperatures {
    /// Whether the machine exposes any temperature sensor.
    pub available: bool,
    /// Why there are none (a VM, no sensor drivers); `null` when available.
    pub reason: Option<String>,
    /// Each sensor, in the kernel's order; at most [`MAX_TEMPERATURES`].
    pub sensors: Vec<Temperature>,
}

/// One temperature sensor.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Temperature {
    /// The chip and the sensor's label, as `sensors` shows them
    /// (`coretemp Package id 0`, `nvme Composite`), or the thermal zone's type
    /// (`x86_pkg_temp`).
    pub name: String,
    /// Degrees Celsius; `null` when the sensor failed to answer.
    pub temperature_c: Option<f64>,
}

/// Thermal throttling events since boot, as the kernel counts them on Intel CPUs
/// (`/sys/devices/system/cpu/cpuN/thermal_throttle/`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ThrottleCounts {
    /// Whether any core has the counters.
    pub available: bool,
    /// Why there are none; `null` when available.
    pub reason: Option<String>,
    /// Times each core was throttled for its own temperature, indexed by core
    /// number; at most [`MAX_CORES`] entries.
    pub core: Vec<Option<u64>>,
    /// Times each core's package was throttled, indexed by core number (the
    /// cores of one package repeat its count); at most [`MAX_CORES`] entries.
    pub package: Vec<Option<u64>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section_round_trips_and_names_its_units() {
        let modes = CpuModes {
            user_percent: Some(40.0),
            nice_percent: Some(0.0),
            system_percent: Some(10.0),
            idle_percent: Some(49.0),
            iowait_percent: Some(1.0),
            irq_percent: Some(0.0),
            softirq_percent: Some(0.0),
            steal_percent: Some(0.0),
            guest_percent: None,
        };
        let detail = CpuDetail {
            modes: Some(modes),
            per_core: vec![Some(modes), None],
            context_switches_per_s: Some(1200.0),
            interrupts_per_s: Some(300.0),
            forks_per_s: Some(2.5),
            procs_running: Some(3),
            procs_blocked: Some(0),
            sensors: CpuSensors {
                age_ms: Some(1200),
                frequency_mhz: vec![Some(2600.0), None],
                frequency_source: Some("cpuinfo".into()),
                temperatures: Temperatures {
                    available: false,
                    reason: Some("no sensors".into()),
                    sensors: vec![],
                },
                throttle: ThrottleCounts {
                    available: true,
                    reason: None,
                    core: vec![Some(2)],
                    package: vec![None],
                },
            },
        };
        let json = serde_json::to_value(&detail).expect("serialises");
        assert_eq!(json["modes"]["user_percent"], 40.0);
        assert_eq!(json["modes"]["guest_percent"], serde_json::Value::Null);
        assert_eq!(json["per_core"][1], serde_json::Value::Null);
        assert_eq!(json["context_switches_per_s"], 1200.0);
        assert_eq!(json["sensors"]["frequency_mhz"][0], 2600.0);
        assert_eq!(json["sensors"]["temperatures"]["available"], false);
        assert_eq!(json["sensors"]["throttle"]["core"][0], 2);
        let back: CpuDetail = serde_json::from_value(json).expect("deserialises");
        assert_eq!(back, detail);
    }

    #[test]
    fn an_older_payload_without_the_newer_fields_decodes() {
        let old: CpuDetail = serde_json::from_str(r#"{"modes":{"user_percent":5.0}}"#).expect("decodes");
        assert_eq!(old.modes.and_then(|m| m.user_percent), Some(5.0));
        assert_eq!(old.sensors, CpuSensors::default());
        assert!(old.per_core.is_empty());
    }
}
