//! State: what the components show, from the sources' events.
//!
//! - [`reducer`]: [`PerfState`] and its reducer (render suppression, staleness,
//!   live data over the mock).
//! - [`series`]: the ring of recent points behind the sparklines.

pub mod reducer;
pub mod series;

pub use reducer::{Connection, PerfState};
pub use series::{Point, Series};
