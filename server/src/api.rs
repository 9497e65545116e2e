//! The HTTP API: run registration, pause/resume, token reports, and the newest
//! sample as JSON. Every refusal is a 4xx with a JSON [`ApiError`] naming the
//! field at fault, and leaves the state as it was.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use shared::RunStatus;
use shared::api::{ApiError, RegisterRun, TokenDelta};
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, Signal, System};

use crate::AppState;
use crate::hub::RunError;
use crate::project::ProjectName;

/// The most tokens one report may add: far above any real model call, low enough
/// that a typo or an overflow attempt is refused instead of poisoning the totals.
pub const MAX_TOKEN_DELTA: u64 = 100_000_000;

/// Everything the API refuses, with its status.
#[derive(Debug, thiserror::Error)]
pub enum ApiFailure {
    /// The project name in the path is not acceptable.
    #[error("{0}")]
    InvalidProject(#[from] crate::project::InvalidProjectName),
    /// The body is not the expected JSON.
    #[error("{message}")]
    BadBody {
        /// The field at fault, when serde names one.
        field: Option<String>,
        /// serde's explanation.
        message: String,
    },
    /// A field has an acceptable type but an unacceptable value.
    #[error("{message}")]
    BadValue {
        /// The field at fault.
        field: &'static str,
        /// Why.
        message: String,
    },
    /// No process has that pid.
    #[error("no process with pid {0}")]
    NoSuchProcess(u32),
    /// The run cannot change as asked.
    #[error(transparent)]
    Run(#[from] RunError),
    /// The OS refused to signal the run's processes.
    #[error("could not signal the run's processes (permission denied or gone)")]
    SignalRefused,
    /// No sample has been taken yet.
    #[error("no sample yet; try again in a few seconds")]
    NoSampleYet,
    /// A blocking task failed.
    #[error("internal error")]
    Internal,
}

impl ApiFailure {
    fn status(&self) -> StatusCode {
        match self {
            ApiFailure::InvalidProject(_) | ApiFailure::BadBody { .. } => StatusCode::BAD_REQUEST,
            ApiFailure::BadValue { .. } | ApiFailure::NoSuchProcess(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiFailure::Run(RunError::Subscribe(_)) => StatusCode::SERVICE_UNAVAILABLE,
            ApiFailure::Run(_) => StatusCode::CONFLICT,
            ApiFailure::SignalRefused => StatusCode::FORBIDDEN,
            ApiFailure::NoSampleYet => StatusCode::SERVICE_UNAVAILABLE,
            ApiFailure::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiFailure::InvalidProject(_) => "invalid_project",
            ApiFailure::BadBody { .. } => "invalid_body",
            ApiFailure::BadValue { .. } => "invalid_value",
            ApiFailure::NoSuchProcess(_) => "no_such_process",
            ApiFailure::Run(RunError::AlreadyLive(_)) => "run_already_live",
            ApiFailure::Run(RunError::NotLive) => "no_live_run",
            ApiFailure::Run(RunError::Subscribe(_)) => "busy",
            ApiFailure::SignalRefused => "signal_refused",
            ApiFailure::NoSampleYet => "no_sample_yet",
            ApiFailure::Internal => "internal",
        }
    }

    fn field(&self) -> Option<String> {
        match self {
            ApiFailure::BadBody { field, .. } => field.clone(),
            ApiFailure::BadValue { field, .. } => Some((*field).to_owned()),
            ApiFailure::NoSuchProcess(_) => Some("pid".to_owned()),
            _ => None,
        }
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        let body = ApiError { code: self.code().to_owned(), field: self.field(), message: self.to_string() };
        (self.status(), Json(body)).into_response()
    }
}

impl ApiFailure {
    /// A body that did not decode. `only_field` is the body's one field, blamed
    /// when serde names none (a wrong type or a negative number).
    fn bad_body(rejection: JsonRejection, only_field: &str) -> Self {
        let message = rejection.body_text();
        let field = field_named_in(&message).unwrap_or_else(|| only_field.to_owned());
        ApiFailure::BadBody { field: Some(field), message }
    }
}

/// The field a JSON rejection blames: axum prefixes serde's message with the
/// path of the bad value (`pid: invalid type …`); serde itself names unknown and
/// missing fields in backticks. `None` when the message names no field.
fn field_named_in(message: &str) -> Option<String> {
    let detail = message.rsplit("target type: ").next().unwrap_or(message);
    if let Some((path, _)) = detail.split_once(": ")
        && !path.is_empty()
        && path.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    {
        return Some(path.to_owned());
    }
    for marker in ["unknown field `", "missing field `"] {
        if let Some(start) = detail.find(marker).map(|i| i + marker.len())
            && let Some(len) = detail[start..].find('`')
        {
            return Some(detail[start..start + len].to_owned());
        }
    }
    None
}

type ApiResult<T> = Result<Json<T>, ApiFailure>;

/// `POST /api/projects/{project}/run` with `{"pid": N}`: the process becomes the
/// project's running run.
pub async fn register_run(
    State(state): State<Arc<AppState>>,
    Path(project): Path<String>,
    body: Result<Json<RegisterRun>, JsonRejection>,
) -> ApiResult<shared::Run> {
    let project = ProjectName::parse(&project)?;
    let Json(RegisterRun { pid }) = body.map_err(|r| ApiFailure::bad_body(r, "pid"))?;
    if pid == 0 {
        return Err(ApiFailure::BadValue { field: "pid", message: "pid must be positive".into() });
    }
    if pid == std::process::id() {
        return Err(ApiFailure::BadValue { field: "pid", message: "that pid is PerfMon itself".into() });
    }
    let alive =
        tokio::task::spawn_blocking(move || process_exists(pid)).await.map_err(|_| ApiFailure::Internal)?;
    if !alive {
        return Err(ApiFailure::NoSuchProcess(pid));
    }
    Ok(Json(state.hub.start_run(&project, pid)?))
}

/// `DELETE /api/projects/{project}/run`: stops tracking the run (its processes are
/// left alone; PerfMon watches, it does not manage).
pub async fn end_run(
    State(state): State<Arc<AppState>>,
    Path(project): Path<String>,
) -> ApiResult<shared::Run> {
    let project = ProjectName::parse(&project)?;
    Ok(Json(state.hub.set_status(&project, RunStatus::Stopped)?))
}

/// `GET /api/projects/{project}/run`: the run as it stands.
pub async fn get_run(
    State(state): State<Arc<AppState>>,
    Path(project): Path<String>,
) -> ApiResult<shared::Run> {
    let project = ProjectName::parse(&project)?;
    Ok(Json(state.hub.run(&project)))
}

/// `POST /api/projects/{project}/run/pause`: SIGSTOP to the run's process tree.
pub async fn pause_run(state: State<Arc<AppState>>, project: Path<String>) -> ApiResult<shared::Run> {
    signal_run(state, project, Signal::Stop, RunStatus::Running, RunStatus::Paused).await
}

/// `POST /api/projects/{project}/run/resume`: SIGCONT to the run's process tree.
pub async fn resume_run(state: State<Arc<AppState>>, project: Path<String>) -> ApiResult<shared::Run> {
    signal_run(state, project, Signal::Continue, RunStatus::Paused, RunStatus::Running).await
}

async fn signal_run(
    State(state): State<Arc<AppState>>,
    Path(project): Path<String>,
    signal: Signal,
    from: RunStatus,
    to: RunStatus,
) -> ApiResult<shared::Run> {
    let project = ProjectName::parse(&project)?;
    let run = state.hub.run(&project);
    let Some(pid) = run.pid.filter(|_| run.status == from) else {
        return Err(ApiFailure::Run(RunError::NotLive));
    };
    let sent = tokio::task::spawn_blocking(move || signal_tree(pid, signal))
        .await
        .map_err(|_| ApiFailure::Internal)?;
    if !sent {
        return Err(ApiFailure::SignalRefused);
    }
    Ok(Json(state.hub.set_status(&project, to)?))
}

/// `POST /api/projects/{project}/tokens` with `{"tokens": N}`.
pub async fn add_tokens(
    State(state): State<Arc<AppState>>,
    Path(project): Path<String>,
    body: Result<Json<TokenDelta>, JsonRejection>,
) -> ApiResult<shared::Tokens> {
    let project = ProjectName::parse(&project)?;
    let Json(TokenDelta { tokens }) = body.map_err(|r| ApiFailure::bad_body(r, "tokens"))?;
    if tokens > MAX_TOKEN_DELTA {
        return Err(ApiFailure::BadValue {
            field: "tokens",
            message: format!("at most {MAX_TOKEN_DELTA} tokens per report"),
        });
    }
    Ok(Json(state.hub.add_tokens(&project, tokens).map_err(RunError::from)?))
}

/// `GET /api/projects/{project}/metrics`: the newest sample as JSON.
pub async fn latest(
    State(state): State<Arc<AppState>>,
    Path(project): Path<String>,
) -> ApiResult<shared::PerfMetrics> {
    let project = ProjectName::parse(&project)?;
    state.hub.latest(&project).map(Json).ok_or(ApiFailure::NoSampleYet)
}

/// `GET /metrics`: Prometheus text format.
pub async fn prometheus(State(state): State<Arc<AppState>>) -> Response {
    match crate::prometheus::render(&state.hub) {
        Ok(text) => ([("content-type", "text/plain; version=0.0.4; charset=utf-8")], text).into_response(),
        Err(_) => ApiFailure::Internal.into_response(),
    }
}

/// Whether `pid` is a live (not zombie) process. Blocking.
fn process_exists(pid: u32) -> bool {
    let Ok(mut system) = System::new() else {
        return false;
    };
    let pid = Pid::from_u32(pid);
    system.refresh_processes_specifics(ProcessesToUpdate::Some(&[pid]), true, ProcessRefreshKind::nothing());
    system.process(pid).is_some_and(|p| p.status() != sysinfo::ProcessStatus::Zombie)
}

/// Sends `signal` to `root` and all its descendants; true if the root got it.
/// Blocking.
fn signal_tree(root: u32, signal: Signal) -> bool {
    let Ok(mut system) = System::new() else {
        return false;
    };
    system.refresh_processes_specifics(ProcessesToUpdate::All, true, ProcessRefreshKind::nothing());
    let procs: Vec<crate::proctree::ProcInfo> = system
        .processes()
        .values()
        .map(|p| crate::proctree::ProcInfo {
            pid: p.pid().as_u32(),
            parent: p.parent().map(|pp| pp.as_u32()),
            cpu_percent_of_core: 0.0,
            rss_bytes: 0,
        })
        .collect();
    let Some(tree) = crate::proctree::usage(root, &procs) else {
        return false;
    };
    let mut root_signalled = false;
    for pid in tree.pids {
        let sent = system.process(Pid::from_u32(pid)).and_then(|p| p.kill_with(signal)).unwrap_or(false);
        if pid == root {
            root_signalled = sent;
        }
    }
    root_signalled
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_name_their_field() {
        let prefix = "Failed to deserialize the JSON body into the target type: ";
        assert_eq!(
            field_named_in(&format!("{prefix}unknown field `cmd`, expected `pid`")).as_deref(),
            Some("cmd")
        );
        assert_eq!(field_named_in(&format!("{prefix}missing field `pid` at line 1")).as_deref(), Some("pid"));
        assert_eq!(
            field_named_in(&format!("{prefix}pid: invalid value: integer `-3`")).as_deref(),
            Some("pid")
        );
        assert_eq!(field_named_in(&format!("{prefix}invalid type: string")), None);
    }
}
