//! Components: one file each.

pub mod badge;
pub mod header;
pub mod meter;
pub mod perf_panel;
pub mod perfmon_button;
pub mod sparkline;

pub use badge::Badge;
pub use header::Header;
pub use meter::Meter;
pub use perf_panel::{PerfPanel, PerfPanelProps};
pub use perfmon_button::PerfMonButton;
pub use sparkline::Sparkline;
