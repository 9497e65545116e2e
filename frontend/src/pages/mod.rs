//! Pages: one per route ([`crate::route::Route`]).
//!
//! - [`dashboard`]: `/`, the project's charts over a range, its alerts and its runs.
//! - [`run_report`]: `/projects/{p}/runs/{run_id}`, one run's report and alerts.
//! - [`settings`]: `/settings`, what the server runs with, read-only.

pub mod dashboard;
pub mod run_report;
pub mod settings;

pub use dashboard::Dashboard;
pub use run_report::RunReportPage;
pub use settings::SettingsPage;
