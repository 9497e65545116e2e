//! Hooks: one file each.

#[cfg(debug_assertions)]
pub mod mock;
pub mod use_perf_metrics;

pub use use_perf_metrics::{Connection, PerfMetricsHandle, Series, use_perf_metrics};
