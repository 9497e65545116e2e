//! Components: one file each; the panel is a folder of one component per section,
//! the dashboard's charts, the runs' views, the alerts and the settings' tables
//! folders of their own.

pub mod alerts;
pub mod badge;
pub mod charts;
pub mod connection_banner;
pub mod footer;
pub mod header;
pub mod meter;
pub mod panel;
pub mod perfmon_button;
pub mod project_switcher;
pub mod remote_write_banner;
pub mod runs;
pub mod settings;
pub mod sparkline;
pub mod store_banner;

pub use badge::Badge;
pub use connection_banner::ConnectionBanner;
pub use footer::Footer;
pub use header::Header;
pub use meter::Meter;
pub use panel::{PerfPanel, PerfPanelProps};
pub use perfmon_button::PerfMonButton;
pub use project_switcher::ProjectSwitcher;
pub use remote_write_banner::RemoteWriteBanner;
pub use sparkline::Sparkline;
pub use store_banner::StoreBanner;
