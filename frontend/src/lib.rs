//! PerfMon's browser panel: a Yew app that shows the machine and the project's
//! agent run live, from the server's `/ws/projects/{project}` stream.
//!
//! # Layout
//! - [`app`]: the root component; only wires the hook to the components.
//! - [`hooks::use_perf_metrics`]: the socket, decoding, and reconnect with backoff.
//! - [`components`]: one file per component — the header, the PerfMon button with
//!   its Live/Idle badge, and the panel it opens through a portal into `<body>`.
//! - [`view`]: the panel's display values for one sample; equal views mean no
//!   visible change, which is how the hook avoids needless re-renders.
//! - [`format`]: plain functions that turn values into display text ("Not available"
//!   when a value is missing, never a made-up number); unit-tested natively.

pub mod app;
pub mod components;
pub mod format;
pub mod hooks;
pub mod view;

pub use app::App;
