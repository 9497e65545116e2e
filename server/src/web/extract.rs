//! Extractors whose rejections are [`ApiError`]s, so every handler refuses bad
//! input in the one error shape without repeating the mapping.

use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::hub::project::ProjectName;

/// The validated `{project}` of the request's path.
#[derive(Debug, Clone)]
pub struct Project(pub ProjectName);

impl<S: Send + Sync> FromRequestParts<S> for Project {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let mut params = path_params(parts, state).await?;
        let name = params.remove("project").unwrap_or_default();
        Ok(Project(ProjectName::parse(&name)?))
    }
}

/// The path's parameters by name (a route may have several).
async fn path_params<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
) -> Result<std::collections::HashMap<String, String>, ApiError> {
    let Path(params) = Path::<std::collections::HashMap<String, String>>::from_request_parts(parts, state)
        .await
        .map_err(|err| ApiError::new(StatusCode::BAD_REQUEST, "invalid_path", err.body_text()))?;
    Ok(params)
}

/// The validated `{project}` and `{run_id}` of a run's path.
#[derive(Debug, Clone)]
pub struct RunPath(pub ProjectName, pub String);

impl<S: Send + Sync> FromRequestParts<S> for RunPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let mut params = path_params(parts, state).await?;
        let project = ProjectName::parse(&params.remove("project").unwrap_or_default())?;
        let run_id = params.remove("run_id").unwrap_or_default();
        if !crate::hub::run_id_is_valid(&run_id) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_run_id",
                "a run id is {pid}-{started_at}, as the runs list gives it",
            )
            .on("run_id"));
        }
        Ok(RunPath(project, run_id))
    }
}

/// The query string as name/value pairs, in order; a malformed one is an
/// [`ApiError`].
#[derive(Debug, Clone)]
pub struct QueryPairs(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Query(pairs) =
            axum::extract::Query::<Vec<(String, String)>>::from_request_parts(parts, state)
                .await
                .map_err(|err| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", err.body_text()))?;
        Ok(QueryPairs(pairs))
    }
}

/// A JSON body of type `T`; anything else is refused naming the field at fault.
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let axum::Json(value) = axum::Json::<T>::from_request(request, state).await?;
        Ok(JsonBody(value))
    }
}
