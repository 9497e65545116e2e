//! The view: plain functions from values to what the page shows, unit-tested
//! natively ("Not available" when a value is missing, never a made-up number).
//!
//! - [`alerts`]: which alerts are new since the page loaded, one entry per
//!   alert, where each goes on a chart, their words and times; the settings'
//!   durations.
//! - [`format`]: numbers, sizes, rates, severities.
//! - [`time`]: the server's instants and durations, local clock times.
//! - [`decimate`]: long series fitted to a chart's width, spikes kept.
//! - [`runs`]: recorded runs in words, sorted, compared.
//! - [`why`]: where a run's time went — the bar's segments, the bound in a
//!   word, the live state, the counters with their reasons.
//! - [`panel`]: [`panel::PanelView`], every value the panel shows for one sample at
//!   display precision; equal views mean no visible change.

pub mod alerts;
pub mod decimate;
pub mod format;
pub mod panel;
pub mod runs;
pub mod time;
pub mod why;
