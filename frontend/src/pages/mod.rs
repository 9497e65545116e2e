//! Pages: one per route ([`crate::route::Route`]).
//!
//! - [`dashboard`]: `/`, the project's charts over a range and its runs.
//! - [`run_report`]: `/projects/{p}/runs/{run_id}`, one run's report.

pub mod dashboard;
pub mod run_report;

pub use dashboard::Dashboard;
pub use run_report::RunReportPage;
