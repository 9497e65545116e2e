//! PerfMon's browser panel: a Yew app that shows the machine and the project's
//! agent run live, from the server's `/ws/projects/{project}` stream.
//!
//! # Layout
//! Data walks one way: stream → state → components; the view's plain functions
//! serve state and components alike.
//!
//! - [`stream`]: where samples come from — the socket (reconnecting with backoff),
//!   a one-second clock, and in dev builds the mock as one more source.
//! - [`state`]: the reducer that turns their events into what is shown (and skips
//!   renders nothing visible changed), and the series behind the sparklines.
//! - [`hooks::use_perf_metrics`]: the hook the design names, a thin composition
//!   of the sources and the state.
//! - [`view`]: formatting, time, and the panel's display values; unit-tested
//!   natively.
//! - [`components`]: one file per component — the header, the PerfMon button with
//!   its Live/Idle badge, and the panel it opens through a portal into `<body>`,
//!   one component per section.
//! - [`app`]: the root component; only wires the hook to the components.

pub mod app;
pub mod components;
pub mod hooks;
pub mod state;
pub mod stream;
pub mod view;

pub use app::App;
