//! Hooks: one file each.

pub mod use_perf_metrics;

pub use use_perf_metrics::use_perf_metrics;
