//! State: what the components show, from the sources' events.
//!
//! - [`reducer`]: [`PerfState`] and its reducer (render suppression, staleness,
//!   live data over the mock).
//! - [`series`]: the ring of recent points behind the sparklines.
//! - [`range`]: the span the dashboard shows.
//! - [`feed`]: every sample as it arrives, for the dashboard's charts.
//! - [`timeline`]: the columns the charts draw — the store's history with the
//!   live samples appended.

pub mod feed;
pub mod range;
pub mod reducer;
pub mod series;
pub mod timeline;

pub use feed::{Feed, FeedEvent};
pub use range::{Preset, Range};
pub use reducer::{Connection, PerfState};
pub use series::{Point, Series};
pub use timeline::{SharedTimeline, Timeline, Window};
