//! PerfMon's server: samples the machine once per tick and pushes the same
//! `perf_metrics` message to every WebSocket client of `/ws/projects/{project}`.
//!
//! # Layout
//! Each layer uses only the layers listed before it; only `web` knows HTTP. Modules
//! other crates need are public; the rest are private, their API re-exported here.
//!
//! - `units`: the payload's units and display rounding, defined once.
//! - `prices`: what a model's tokens cost (a built-in table, `--prices FILE`).
//! - `trim`: hands back to the kernel the memory glibc keeps after it was
//!   freed (the workspace's one `unsafe` call): after each of the store's
//!   rounds of roll-ups, and from a job `service` starts.
//! - `collect`: one file per source of readings (cpu, memory, disk, network,
//!   gpu behind the `nvml` feature, proctree) and `procfs`, the one reader of
//!   `/proc/PID/stat`. Exact values; `None` for what cannot be read.
//! - [`sampling`]: the one tick loop, on a thread of its own, and the only caller
//!   of `collect`; a [`HostSample`] per tick, handed to a [`sampling::Sink`].
//! - `hub`: every project's run (with the signals sent to its process tree),
//!   tokens, history and `watch` channel of serialised frames; the tick loop's sink.
//! - [`store`]: every run and the machine's history in SQLite, written by its
//!   own thread from what the hub hands over (the hub's `Recorder`); read by the
//!   history API and `perfmon runs`/`report`.
//! - [`verdict`]: where a run's wall time went, from its counters (pure rules,
//!   with `docs/verdict.md`): the verdict, the live run's word, the changes.
//! - [`alerts`]: rules evaluated on every record the hub hands on (on a thread
//!   of their own, like the store), their events kept in the store and
//!   delivered to webhooks, ntfy, Slack and Discord; the configuration file.
//! - [`outbound`]: the one HTTP client setup for what the server sends out.
//! - [`fleet`]: Prometheus remote write: each receiver's sender reads its
//!   batches from the store, after the position it has reached, so an outage
//!   is sent afterwards, oldest first.
//! - `config`: the settings and credentials the command line fills in;
//!   `control`: the per-server control secret writes need without a token;
//!   `exits`: exit reports `perfmon run` keeps for a server that was down.
//! - `web`: [`app`] builds the router: both streams, the HTTP API, auth, the
//!   Host/Origin guard, Prometheus, the built frontend, and `ApiError`, the one
//!   error shape.
//! - `service`: [`run`] wires them together and serves until shutdown.
//! - [`cli`]: the `perfmon` command line: `serve`, `run` (the command wrapper)
//!   and the API client it uses.
//! - `testkit` (feature `testkit`): the real server on port 0, the built binary,
//!   WebSocket and HTTP clients, for this crate's tests and the `tests` crate.
//!
//! The binary (`src/main.rs`, `perfmon`) only parses arguments and calls [`cli`].

pub mod alerts;
pub mod cli;
mod collect;
mod config;
pub mod control;
mod exits;
pub mod fleet;
mod hub;
pub mod outbound;
mod prices;
pub mod sampling;
mod service;
pub mod store;
#[cfg(feature = "testkit")]
pub mod testkit;
mod trim;
mod units;
pub mod verdict;
mod web;

pub use config::{Auth, Config, Secret};
pub use hub::project::{InvalidProjectName, ProjectName};
pub use hub::{
    Frame, Hub, ProjectSnapshot, Record, Recorder, RunError, RunSummary, SubscribeError, Subscription,
};
pub use sampling::HostSample;
pub use service::{ServeError, check_exposure, hub_for, run};
pub use web::{AppState, Services, app};
