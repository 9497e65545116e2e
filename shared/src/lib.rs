//! PerfMon's wire contract: the serde types of every message that crosses the
//! `/ws/projects/{project}` WebSocket, shared by the server and the Yew frontend
//! so both sides agree on the format at compile time.
//!
//! The crate holds wire types only and depends on nothing but serde, so it builds
//! for `wasm32-unknown-unknown` as well as for the host.
//!
//! # Layout
//! - [`ServerMsg`]: what the server sends (`perf_metrics`, `pong`, `error`),
//!   tagged by a `"type"` field.
//! - [`ClientMsg`]: what a client may send (`ping`).
//! - [`PerfMetrics`] and its sections ([`Run`], [`Tokens`], [`Cpu`], [`Memory`], [`Gpu`]):
//!   one sample of the machine and the project's agent run. Every value that can be
//!   missing is an `Option`, serialised as `null`, never a made-up number.
//! - [`ErrorMsg`] / [`ErrorCode`]: the typed error a client gets for bad input.
//!
//! Units are in the field names (`used_gb`, `percent`); timestamps are UTC RFC 3339
//! strings with milliseconds ([`Timestamp`]).

use serde::{Deserialize, Serialize};

/// Version of this contract; bumped on any change an older peer could misread.
pub const PROTOCOL_VERSION: u32 = 1;

/// A message from the server to a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    /// One sample of the machine and of the project's run.
    PerfMetrics(PerfMetrics),
    /// The answer to [`ClientMsg::Ping`].
    Pong,
    /// The client sent something the server could not accept; the socket stays open.
    Error(ErrorMsg),
}

/// A message from a client to the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    /// Liveness check; the server answers [`ServerMsg::Pong`].
    Ping,
}

/// A UTC instant as RFC 3339 text with milliseconds, e.g. `2026-02-08T20:15:30.123Z`.
///
/// Kept as text so this crate needs no date library; the server formats it, the
/// browser parses it with `Date.parse`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub String);

impl Timestamp {
    /// The RFC 3339 text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One sample, as pushed every tick to every client of a project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerfMetrics {
    /// When the sampler took this sample; identical for every client of one tick.
    pub timestamp: Timestamp,
    /// The project this stream belongs to (the `{project}` of the socket's path).
    pub project: String,
    /// The project's agent run.
    pub run: Run,
    /// Token usage of the run and of the session.
    pub tokens: Tokens,
    /// Whole-machine CPU use.
    pub cpu: Cpu,
    /// Whole-machine memory use.
    pub memory: Memory,
    /// NVIDIA GPUs, or why there are none.
    pub gpu: Gpu,
}

/// The lifecycle state of a project's agent run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// No run has been started, or the last one was cleared.
    #[default]
    Idle,
    /// The run's process is executing.
    Running,
    /// The run's process is stopped (SIGSTOP) but alive.
    Paused,
    /// The run's process has exited.
    Stopped,
}

impl RunStatus {
    /// Live runs are sampled every second and shown with a `Live` badge.
    pub fn is_live(self) -> bool {
        matches!(self, RunStatus::Running | RunStatus::Paused)
    }
}

/// A project's agent run.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Run {
    /// Where the run is in its lifecycle.
    pub status: RunStatus,
    /// The run's root process, while there is one.
    pub pid: Option<u32>,
    /// When the run started.
    pub started_at: Option<Timestamp>,
    /// `{pid}-{started_at}`: unique across pid reuse.
    pub run_id: Option<String>,
}

/// Token usage reported by the agent.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Tokens {
    /// Tokens used by the current run.
    pub current_run: u64,
    /// Tokens used since the server started, across runs.
    pub total_session: u64,
    /// False until the agent has reported usage at least once: the counts are then
    /// placeholders and must not be shown as measured.
    pub available: bool,
}

/// Whole-machine CPU use.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Cpu {
    /// Busy share of all cores, 0–100.
    pub percent: Option<f64>,
}

/// Whole-machine memory use, in GB (10^9 bytes) with one decimal.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Memory {
    /// Memory in use (total minus available).
    pub used_gb: Option<f64>,
    /// Installed memory.
    pub total_gb: Option<f64>,
    /// `used_gb / total_gb`, 0–100.
    pub percent: Option<f64>,
}

/// NVIDIA GPU use, aggregated over all devices.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Gpu {
    /// Whether NVML answered; when false every value is `null` and `reason` says why.
    pub available: bool,
    /// Mean utilisation over devices, 0–100.
    pub percent: Option<f64>,
    /// Video memory in use, summed over devices.
    pub vram_used_gb: Option<f64>,
    /// Video memory installed, summed over devices.
    pub vram_total_gb: Option<f64>,
    /// Why the GPU is not available, in plain words (never a path or a host name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Why the server refused a client message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorMsg {
    /// What went wrong, for programs to branch on.
    pub code: ErrorCode,
    /// What went wrong, for people to read.
    pub message: String,
}

/// Machine-readable error kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame was not valid JSON.
    InvalidJson,
    /// Valid JSON, but not a [`ClientMsg`] this server knows.
    UnsupportedMessage,
    /// Binary frames are not part of the protocol.
    BinaryNotSupported,
    /// The project name in the URL is not acceptable.
    InvalidProject,
    /// A code from a newer server that this build does not know.
    #[serde(other)]
    Unknown,
}
