//! The HTTP API: run registration, pause/resume, token reports, the newest sample
//! as JSON, and Prometheus. Every refusal is an [`ApiError`] naming the field at
//! fault, and leaves the state as it was.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use shared::api::{RegisterRun, TokenDelta};
use shared::{Run, RunStatus};

use super::AppState;
use super::error::ApiError;
use super::extract::{JsonBody, Project};
use crate::hub::Hub;
use crate::hub::project::ProjectName;

type ApiResult<T> = Result<Json<T>, ApiError>;

/// Runs a blocking hub call (one that reads the process table or signals
/// processes) off the async workers.
async fn blocking<T: Send + 'static>(
    state: &Arc<AppState>,
    call: impl FnOnce(&Hub) -> Result<T, crate::hub::RunError> + Send + 'static,
) -> ApiResult<T> {
    let hub = state.hub.clone();
    match tokio::task::spawn_blocking(move || call(&hub)).await {
        Ok(result) => Ok(Json(result?)),
        Err(err) => {
            tracing::error!("a blocking API call failed: {err}");
            Err(ApiError::internal())
        }
    }
}

/// `POST /api/projects/{project}/run` with `{"pid": N}` (and an optional
/// `"label"`): the process becomes the project's running run.
pub async fn register_run(
    State(state): State<Arc<AppState>>,
    Project(project): Project,
    JsonBody(RegisterRun { pid, label, from_start, notify }): JsonBody<RegisterRun>,
) -> ApiResult<Run> {
    listed(&state, &project)?;
    // Checked before the run starts: a bad destination, or too many (each is
    // a thread), refuses the request.
    let invalid = |why: String| {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_notify", format!("notify: {why}")).on("notify")
    };
    let notify = crate::alerts::deliver::run_specs(notify).map_err(invalid)?;
    let destinations = notify
        .iter()
        .map(|spec| crate::alerts::deliver::Destination::parse_spec("--notify", spec))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| invalid(err.to_string()))?;
    if !destinations.is_empty() {
        let Some(alerts) = &state.alerts else {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "alerts_off",
                "this server evaluates no alerts",
            ));
        };
        if alerts.run_destinations_room() < destinations.len() {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                format!(
                    "too many runs' notify destinations at once (at most {}); try again when a run has ended",
                    crate::alerts::deliver::RUN_DESTINATIONS_AT_ONCE
                ),
            ));
        }
    }
    let Json(run) = blocking(&state, move |hub| hub.register_run(&project, pid, label, from_start)).await?;
    if let (Some(alerts), Some(run_id)) = (&state.alerts, &run.run_id)
        && !destinations.is_empty()
    {
        alerts.notify_run_kept(run_id, notify, destinations);
    }
    Ok(Json(run))
}

/// `DELETE /api/projects/{project}/run`: stops tracking the run (its processes are
/// left alone; PerfMon watches, it does not manage).
pub async fn end_run(State(state): State<Arc<AppState>>, Project(project): Project) -> ApiResult<Run> {
    Ok(Json(state.hub.set_status(&project, RunStatus::Stopped)?))
}

/// `GET /api/projects/{project}/run`: the run as it stands.
pub async fn get_run(State(state): State<Arc<AppState>>, Project(project): Project) -> ApiResult<Run> {
    Ok(Json(state.hub.run(&project)))
}

/// `POST /api/projects/{project}/run/pause`: SIGSTOP to the run's process tree.
pub async fn pause_run(State(state): State<Arc<AppState>>, Project(project): Project) -> ApiResult<Run> {
    blocking(&state, move |hub| hub.pause(&project)).await
}

/// `POST /api/projects/{project}/run/resume`: SIGCONT to the run's process tree.
pub async fn resume_run(State(state): State<Arc<AppState>>, Project(project): Project) -> ApiResult<Run> {
    blocking(&state, move |hub| hub.resume(&project)).await
}

/// `POST /api/projects/{project}/tokens` with `{"tokens": N}`.
pub async fn add_tokens(
    State(state): State<Arc<AppState>>,
    Project(project): Project,
    JsonBody(TokenDelta { tokens }): JsonBody<TokenDelta>,
) -> ApiResult<shared::Tokens> {
    listed(&state, &project)?;
    Ok(Json(state.hub.add_tokens(&project, tokens)?))
}

/// With `--projects`, a run or tokens for another project are refused as its
/// stream is (4004): it could be recorded but never watched.
fn listed(state: &AppState, project: &ProjectName) -> Result<(), ApiError> {
    if state.config.watches(project) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown_project",
        format!("project {project} is not one this server watches (--projects)"),
    )
    .on("project"))
}

/// `GET /api/projects/{project}/metrics`: the newest sample as JSON.
pub async fn latest(
    State(state): State<Arc<AppState>>,
    Project(project): Project,
) -> ApiResult<shared::PerfMetrics> {
    state.hub.latest(&project).map(Json).ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "no_sample_yet",
            "no sample yet; try again in a few seconds",
        )
    })
}

/// `GET /metrics`: Prometheus text format.
pub async fn prometheus(State(state): State<Arc<AppState>>) -> Response {
    // Each recent project's last finished run is the store's (off the async
    // workers); a store that cannot answer leaves those families out.
    let last_runs = match state.store.clone() {
        Some(store) => tokio::task::spawn_blocking(move || {
            store.last_runs(crate::fleet::series::MAX_PROJECTS).unwrap_or_else(|err| {
                tracing::debug!("/metrics without the last runs: {err}");
                Vec::new()
            })
        })
        .await
        .unwrap_or_default(),
        None => Vec::new(),
    };
    match super::prometheus::render(&state.hub, &last_runs) {
        Ok(text) => ([("content-type", super::prometheus::CONTENT_TYPE)], text).into_response(),
        Err(err) => {
            tracing::error!("could not encode /metrics: {err}");
            ApiError::internal().into_response()
        }
    }
}
