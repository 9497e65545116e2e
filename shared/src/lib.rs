//! PerfMon's wire contract: the serde types of every message between the server
//! and its clients (the Yew frontend, `perfmon` itself, agents), and every constant
//! both sides must agree on, so they agree at compile time.
//!
//! The crate holds wire types and constants only and depends on nothing but serde,
//! so it builds for `wasm32-unknown-unknown` as well as for the host.
//!
//! # Layout
//! - [`ws`]: the `/ws/projects/{project}` stream: [`ServerMsg`] (`perf_metrics`,
//!   `history`, `pong`, `error`), [`ClientMsg`] (`ping`), and [`PerfMetrics`] with its
//!   sections. Re-exported here, since every client uses them.
//! - [`api`]: bodies of the HTTP API (`/api/…`), including [`api::ApiError`], the one
//!   shape of every HTTP error.
//! - [`alerts`]: alert events, silences and the effective settings.
//! - [`series`]: the names of the recorded series `/api/history` answers with.
//! - [`perfwatch`]: the `/api/ws/metrics` stream in PerfWatch's shape.
//! - [`why`]: a run's own counters and the verdict on where its time went.
//! - This page: [`PROTOCOL_VERSION`], the stream's paths ([`stream_path`]), its
//!   subprotocols ([`SUBPROTOCOL`], [`TOKEN_SUBPROTOCOL_PREFIX`]), its close codes
//!   ([`close`]) and its default cadences.
//!
//! # Units
//! Units are in the field names (`used_gb`, `percent`, `bytes_per_s`, `power_w`).
//! Sizes count the way the tools users compare with do: a **GB is a GiB**
//! (2^30 bytes, as `free -h`, `df -h` and `nvidia-smi` count memory, disks and GPU
//! memory — an 80 GiB card reads 80.0) and an **MB is a MiB** (2^20 bytes), sent with
//! one decimal; rates and totals are exact bytes. Timestamps are UTC RFC 3339
//! strings with milliseconds ([`Timestamp`]).

pub mod alerts;
pub mod api;
pub mod depth;
pub mod perfwatch;
pub mod series;
pub mod why;
pub mod ws;

pub use ws::*;

/// Version of this contract; bumped on any change an older peer could misread.
pub const PROTOCOL_VERSION: u32 = 1;

/// The path of a project's stream starts with this, followed by the project name.
pub const STREAM_PATH_PREFIX: &str = "/ws/projects/";

/// The path of `project`'s stream (the name must already be URL-safe: project
/// names are limited to `A–Z a–z 0–9 . _ -`).
pub fn stream_path(project: &str) -> String {
    format!("{STREAM_PATH_PREFIX}{project}")
}

/// The WebSocket subprotocol every PerfMon client offers and the server selects.
pub const SUBPROTOCOL: &str = "perfmon";

/// A subprotocol entry `perfmon.token.<TOKEN>` carries a client's token: browsers
/// cannot set an `Authorization` header on a WebSocket, and a subprotocol keeps the
/// token out of URLs and access logs. The server never echoes it back.
pub const TOKEN_SUBPROTOCOL_PREFIX: &str = "perfmon.token.";

/// Time between samples while the project's run is live (running or paused).
pub const LIVE_INTERVAL_MS: u64 = 1000;

/// Time between samples while the project's run is not live.
pub const IDLE_INTERVAL_MS: u64 = 3000;

/// WebSocket close codes. The standard ones PerfMon uses, and its own refusals in
/// 4000–4999, after which a client should not retry: the server would refuse again.
pub mod close {
    /// The server is shutting down (standard "going away").
    pub const GOING_AWAY: u16 = 1001;
    /// A client message was larger than the server accepts (standard "message too big").
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    /// Missing, invalid or expired token.
    pub const UNAUTHORIZED: u16 = 4001;
    /// The project is not in the server's project list.
    pub const UNKNOWN_PROJECT: u16 = 4004;
    /// Too many projects are tracked.
    pub const TOO_MANY_PROJECTS: u16 = 4029;

    /// Whether `code` is one of the server's own refusals, after which retrying
    /// would be refused again.
    pub fn is_final(code: u16) -> bool {
        (4000..=4999).contains(&code)
    }
}
