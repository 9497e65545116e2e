//! Linux pressure stall information (PSI, `/proc/pressure/{cpu,io,memory}`): the
//! `pressure` section of a sample. Where usage says how busy a resource is,
//! pressure says how much work waited for it.
//!
//! `some` is the share of time at least one task stalled on the resource; `full`
//! the share of time every non-idle task stalled at once. Two figures of each:
//! the kernel's own 10-second average, and the share of wall time stalled since
//! the previous sample (the rate of the kernel's `total` counter of µs stalled,
//! which integrates to the time stalled over a run).
//!
//! # Layout
//! - [`Pressure`]: the section, one [`ResourcePressure`] per resource.

use serde::{Deserialize, Serialize};

/// Pressure stall information for CPU, I/O and memory.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Pressure {
    /// Whether the kernel reports pressure (Linux 4.20+, built with
    /// `CONFIG_PSI` and not booted with `psi=0`).
    pub available: bool,
    /// Why there is no pressure to report; `null` when available.
    pub reason: Option<String>,
    /// CPU pressure; `null` when its file cannot be read.
    pub cpu: Option<ResourcePressure>,
    /// I/O pressure; `null` when its file cannot be read.
    pub io: Option<ResourcePressure>,
    /// Memory pressure; `null` when its file cannot be read.
    pub memory: Option<ResourcePressure>,
}

/// One resource's stalls, each 0–100. `full` for CPU is absent before Linux
/// 5.13 (`null`) and reads 0 machine-wide on later kernels, which define it only
/// for cgroups; it is sent as the kernel states it.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourcePressure {
    /// Share of the last 10 s in which some task stalled (the kernel's `avg10`).
    pub some_avg10_percent: Option<f64>,
    /// Share of wall time in which some task stalled since the previous sample;
    /// `null` on the first.
    pub some_stall_percent: Option<f64>,
    /// Share of the last 10 s in which all non-idle tasks stalled at once.
    pub full_avg10_percent: Option<f64>,
    /// Share of wall time in which all non-idle tasks stalled at once since the
    /// previous sample; `null` on the first.
    pub full_stall_percent: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section_round_trips_with_its_field_names() {
        let cpu = ResourcePressure {
            some_avg10_percent: Some(12.5),
            some_stall_percent: Some(14.02),
            full_avg10_percent: Some(0.0),
            full_stall_percent: None,
        };
        let pressure =
            Pressure { available: true, reason: None, cpu: Some(cpu), io: Some(cpu), memory: None };
        let json = serde_json::to_value(&pressure).expect("serialises");
        assert_eq!(json["available"], true);
        assert_eq!(json["cpu"]["some_avg10_percent"], 12.5);
        assert_eq!(json["io"]["some_stall_percent"], 14.02);
        assert_eq!(json["cpu"]["full_stall_percent"], serde_json::Value::Null);
        assert_eq!(json["memory"], serde_json::Value::Null);
        assert_eq!(serde_json::from_value::<Pressure>(json).expect("deserialises"), pressure);
    }

    #[test]
    fn a_missing_source_says_why_and_old_payloads_decode() {
        let off: Pressure =
            serde_json::from_str(r#"{"available":false,"reason":"no /proc/pressure"}"#).expect("decodes");
        assert_eq!((off.available, off.reason.as_deref(), off.cpu), (false, Some("no /proc/pressure"), None));
        assert_eq!(serde_json::from_str::<Pressure>("{}").expect("decodes"), Pressure::default());
    }
}
