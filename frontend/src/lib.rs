//! PerfMon's browser app: a Yew app that shows the machine and the project's
//! agent run live, from the server's `/ws/projects/{project}` stream, in the
//! header's panel and on a dashboard of charts over hours and days from the
//! server's store, with a report per run; the server's alerts on the
//! dashboard, marked on the charts and, once allowed, as the browser's
//! notifications; and the server's settings, read-only.
//!
//! # Layout
//! Data walks one way: stream → state → components → pages; the view's plain
//! functions serve state and components alike.
//!
//! - [`stream`]: where data comes from — the socket (reconnecting with backoff),
//!   a one-second clock, the store's history and runs, the alerts and the
//!   settings over HTTP, and in dev builds the mock as one more source of each.
//! - [`state`]: the reducer that turns the stream's events into what the panel
//!   shows (and skips renders nothing visible changed), the sparklines' series,
//!   the feed of every sample for the charts, the charts' timeline and range.
//! - [`hooks`]: `use_perf_metrics` (the hook the design names, a thin
//!   composition of the sources and the state), the server's health, the colour
//!   scheme, fetches and polls, the alerts and their browser notifications.
//! - [`view`]: formatting, time, decimation, runs and alerts in words, and the
//!   panel's display values; unit-tested natively.
//! - [`components`]: one file per component — the header, the PerfMon button with
//!   its Live/Idle badge and the panel it opens through a portal into `<body>`
//!   (one component per section), the charts (uPlot), the runs' table, summary
//!   and comparison, the alerts, the settings' tables.
//! - [`pages`]: the dashboard, the run report and the settings.
//! - [`route`]: which page the URL names, and the links between them.
//! - [`app`]: the root component; only wires the hooks to the header and the page.

pub mod app;
pub mod components;
pub mod hooks;
pub mod pages;
pub mod route;
pub mod state;
pub mod stream;
pub mod view;

pub use app::App;
