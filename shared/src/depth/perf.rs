//! Machine-wide hardware and software counters (`perf_event_open`), in the
//! shape of PerfWatch's `perf_events` section — `available`, `error` and
//! `events` keyed by `perf stat`'s own event names, each with its own
//! `available` and `reason` — plus PerfMon's per-second rates and `ipc`.
//!
//! Every count covers one interval: the time between two readings, measured
//! by the kernel's own clock for the counters (`interval_ms`). A counter the
//! kernel shared with others (multiplexing: more hardware events than the CPU
//! has registers) is scaled as `perf stat` scales it, by the share of the
//! interval it ran (`running_percent`).
//!
//! # Layout
//! - [`PerfEvents`]: the section, and [`PerfEvents::event`] to look one up.
//! - [`PerfEvent`]: one event over the last interval.
//! - The event names ([`CYCLES`], [`CONTEXT_SWITCHES`], …), [`EVENT_NAMES`] in
//!   the order the server lists them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// CPU cycles (hardware).
pub const CYCLES: &str = "cycles";
/// Instructions retired (hardware).
pub const INSTRUCTIONS: &str = "instructions";
/// Cache references, usually the last-level cache (hardware).
pub const CACHE_REFERENCES: &str = "cache-references";
/// Cache misses, usually the last-level cache (hardware).
pub const CACHE_MISSES: &str = "cache-misses";
/// Branch instructions retired (hardware).
pub const BRANCHES: &str = "branches";
/// Mispredicted branches (hardware).
pub const BRANCH_MISSES: &str = "branch-misses";
/// Context switches (software).
pub const CONTEXT_SWITCHES: &str = "context-switches";
/// Tasks moved from one CPU to another (software).
pub const CPU_MIGRATIONS: &str = "cpu-migrations";
/// Page faults, minor and major (software).
pub const PAGE_FAULTS: &str = "page-faults";
/// CPU time the counters were enabled, in msec (software): on every CPU for
/// the whole interval, so about `interval_ms × cpus`.
pub const CPU_CLOCK: &str = "cpu-clock";

/// Every event the server opens, hardware first, as `perf stat -e` names them.
pub const EVENT_NAMES: [&str; 10] = [
    CYCLES,
    INSTRUCTIONS,
    CACHE_REFERENCES,
    CACHE_MISSES,
    BRANCHES,
    BRANCH_MISSES,
    CONTEXT_SWITCHES,
    CPU_MIGRATIONS,
    PAGE_FAULTS,
    CPU_CLOCK,
];

/// Hardware and software counters summed over every online CPU.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PerfEvents {
    /// Whether any event could be counted; when false, `error` says why.
    pub available: bool,
    /// Why no event could be counted, in plain words (PerfWatch's field);
    /// `null` when at least one is. Each event has its own `reason` too.
    pub error: Option<String>,
    /// Online CPUs the counters were opened on (one counter per CPU and event).
    pub cpus: Option<u32>,
    /// Length of the interval the values cover, in ms, by the counters' clock.
    pub interval_ms: Option<f64>,
    /// How long before this sample the counters were read, in ms: they are
    /// read every 5 s off the sampler's tick (reading interrupts every CPU).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age_ms: Option<u64>,
    /// Instructions per cycle over the interval: `instructions / cycles`;
    /// `null` when either is not counted or no cycle was.
    pub ipc: Option<f64>,
    /// Each event by its `perf stat` name (see [`EVENT_NAMES`]; at most 16).
    pub events: BTreeMap<String, PerfEvent>,
}

impl PerfEvents {
    /// The event called `name` (one of [`EVENT_NAMES`]), if listed.
    pub fn event(&self, name: &str) -> Option<&PerfEvent> {
        self.events.get(name)
    }

    /// The event called `name`'s rate, per second; `None` when it is not
    /// listed or not counted.
    pub fn per_s(&self, name: &str) -> Option<f64> {
        self.event(name).and_then(|e| e.per_s)
    }
}

/// One event over the last interval.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PerfEvent {
    /// Whether the event is counted on every online CPU; when false its values
    /// are `null` and `reason` says why.
    pub available: bool,
    /// Why the event is not counted (`no hardware performance counters on this
    /// machine (a VM without a CPU PMU)`, the `kernel.perf_event_paranoid`
    /// level that refuses it), or why this interval has no value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `hardware` (the CPU's PMU) or `software` (the kernel).
    pub kind: String,
    /// The unit of `value` as `perf stat` prints it: `msec` for `cpu-clock`,
    /// `null` for a plain count (PerfWatch's field).
    pub unit: Option<String>,
    /// The count over the interval, summed over CPUs and scaled for
    /// multiplexing (so an estimate when `running_percent` < 100).
    pub value: Option<f64>,
    /// `value` per second of the interval (events/s; msec/s for `cpu-clock`).
    pub per_s: Option<f64>,
    /// The least share of the interval, over CPUs, that the counter ran on the
    /// hardware, 0–100: 100 means counted throughout, below 100 the kernel
    /// shared the registers and `value` is scaled up from what was counted.
    pub running_percent: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> PerfEvents {
        let mut events = BTreeMap::new();
        events.insert(
            CYCLES.to_string(),
            PerfEvent {
                available: false,
                reason: Some(
                    "no hardware performance counters on this machine (a VM without a CPU PMU)".into(),
                ),
                kind: "hardware".into(),
                ..PerfEvent::default()
            },
        );
        events.insert(
            CONTEXT_SWITCHES.to_string(),
            PerfEvent {
                available: true,
                reason: None,
                kind: "software".into(),
                unit: None,
                value: Some(120.0),
                per_s: Some(119.5),
                running_percent: Some(100.0),
            },
        );
        PerfEvents {
            available: true,
            error: None,
            cpus: Some(2),
            interval_ms: Some(1004.2),
            age_ms: Some(1200),
            ipc: None,
            events,
        }
    }

    #[test]
    fn round_trips_through_json() {
        let section = sample();
        let text = serde_json::to_string(&section).expect("serialises");
        let back: PerfEvents = serde_json::from_str(&text).expect("decodes");
        assert_eq!(back, section);
    }

    #[test]
    fn json_has_perfwatch_shape_with_perf_stat_names() {
        let json = serde_json::to_value(sample()).expect("serialises");
        assert_eq!(json["available"], true);
        assert!(json["error"].is_null(), "error is always present: {json}");
        assert_eq!(json["events"]["context-switches"]["per_s"], 119.5);
        assert_eq!(json["events"]["context-switches"]["available"], true);
        assert!(json["events"]["context-switches"].get("reason").is_none());
        assert_eq!(json["events"]["cycles"]["available"], false);
        assert!(json["events"]["cycles"]["value"].is_null());
        assert!(json["events"]["cycles"]["reason"].as_str().is_some_and(|r| r.contains("PMU")));
        assert_eq!(json["interval_ms"], 1004.2);
        assert!(json["ipc"].is_null());
    }

    #[test]
    fn an_older_payload_without_the_section_or_with_fewer_fields_decodes() {
        let empty: PerfEvents = serde_json::from_str("{}").expect("decodes");
        assert_eq!(empty, PerfEvents::default());
        let partial: PerfEvents = serde_json::from_str(
            r#"{"available":false,"error":"no","events":{"cycles":{"available":false}}}"#,
        )
        .expect("decodes");
        assert_eq!(partial.error.as_deref(), Some("no"));
        assert_eq!(partial.event(CYCLES).map(|e| e.available), Some(false));
        assert_eq!(partial.per_s(CYCLES), None);
        assert_eq!(partial.per_s(PAGE_FAULTS), None);
    }

    #[test]
    fn the_event_list_is_bounded_and_unique() {
        let mut names = EVENT_NAMES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), EVENT_NAMES.len());
        assert!(EVENT_NAMES.len() <= 16);
    }
}
