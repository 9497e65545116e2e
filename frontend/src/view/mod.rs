//! The view: plain functions from values to what the page shows, unit-tested
//! natively ("Not available" when a value is missing, never a made-up number).
//!
//! - [`format`]: numbers, sizes, rates, severities.
//! - [`time`]: the server's instants and durations.
//! - [`panel`]: [`panel::PanelView`], every value the panel shows for one sample at
//!   display precision; equal views mean no visible change.

pub mod format;
pub mod panel;
pub mod time;
