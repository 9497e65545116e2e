//! Bodies of the HTTP API (`/api/projects/{project}/…`), shared by the server and
//! `perfmon`'s own client.

use serde::{Deserialize, Serialize};

/// `POST /api/projects/{project}/run`: register an existing process as the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRun {
    /// The run's root process.
    pub pid: u32,
}

/// `POST /api/projects/{project}/tokens`: tokens used since the last report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenDelta {
    /// Tokens to add to the current run and the session.
    pub tokens: u64,
}

/// The body of every 4xx/5xx answer of the HTTP API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// What went wrong, for programs.
    pub code: String,
    /// The request field at fault, when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What went wrong, for people.
    pub message: String,
}

/// `GET /api/health`: whether PerfMon is up, and what it speaks. Public: it tells
/// nothing about the machine or its runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// `"ok"` while the server serves.
    pub status: String,
    /// The server's [`crate::PROTOCOL_VERSION`].
    pub protocol: u32,
    /// PerfMon's version (`0.1.0`).
    #[serde(default)]
    pub version: String,
    /// The commit it was built from, or `unknown`.
    #[serde(default)]
    pub commit: String,
    /// WebSockets open now.
    pub connections: u64,
}
