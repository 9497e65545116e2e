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
        let Path(name) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|err| ApiError::new(StatusCode::BAD_REQUEST, "invalid_project", err.body_text()))?;
        Ok(Project(ProjectName::parse(&name)?))
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
