//! The dashboard's charts: the [`ChartSet`] of a timeline, [`TimeChart`] (uPlot, through [`uplot`]'s
//! bindings), the per-core [`HeatStrip`], the [`RangePicker`] and the
//! [`ComparePicker`] beside it (the same span a day or a week [`earlier`],
//! faint under each line), the machine in [`depth`] below the dashboard's first
//! screen, and the [`theme`] they draw in.

pub mod chart_set;
pub mod compare_picker;
pub mod depth;
pub mod earlier;
pub mod heat_strip;
pub mod range_picker;
pub mod theme;
pub mod time_chart;
pub mod uplot;

pub use chart_set::ChartSet;
pub use compare_picker::ComparePicker;
pub use depth::MachineDepth;
pub use heat_strip::HeatStrip;
pub use range_picker::RangePicker;
pub use time_chart::{Line, TimeChart};
