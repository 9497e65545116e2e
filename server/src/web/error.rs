//! [`ApiError`]: the one shape of every HTTP error PerfMon answers, API or not —
//! `{"code": "…", "field": "…", "message": "…"}` (`field` only when one request
//! field is at fault), with the status that fits.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::hub::project::InvalidProjectName;
use crate::hub::{RunError, SubscribeError};

/// An HTTP error: a status and the JSON body every client can read the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong, for programs (`invalid_project`, `unauthorized`, …).
    pub code: &'static str,
    /// The request field at fault, when one is.
    pub field: Option<String>,
    /// What went wrong, for people.
    pub message: String,
}

impl ApiError {
    /// An error with `status`, `code` and `message`.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, field: None, message: message.into() }
    }

    /// The same error, blaming `field`.
    pub fn on(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// 404 for a path PerfMon does not serve.
    pub fn not_found() -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint; see docs/api.md")
    }

    /// 405 for a method the path does not take.
    pub fn method_not_allowed() -> Self {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this endpoint does not take that method",
        )
    }

    /// 500 for a failure inside PerfMon; details go to the log, not the client.
    pub fn internal() -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body =
            shared::api::ApiError { code: self.code.to_owned(), field: self.field, message: self.message };
        (self.status, Json(body)).into_response()
    }
}

impl From<InvalidProjectName> for ApiError {
    fn from(err: InvalidProjectName) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_project", err.to_string())
    }
}

impl From<SubscribeError> for ApiError {
    fn from(err: SubscribeError) -> Self {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", err.to_string())
    }
}

impl From<RunError> for ApiError {
    fn from(err: RunError) -> Self {
        let message = err.to_string();
        match err {
            RunError::TooManyLive(_) => ApiError::new(StatusCode::CONFLICT, "too_many_live_runs", message),
            RunError::NotLive => ApiError::new(StatusCode::CONFLICT, "no_live_run", message),
            RunError::AlreadyIs(_) => ApiError::new(StatusCode::CONFLICT, "run_already_so", message),
            RunError::BadPid(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_value", message).on("pid")
            }
            RunError::NoSuchProcess(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "no_such_process", message).on("pid")
            }
            RunError::SignalRefused => ApiError::new(StatusCode::FORBIDDEN, "signal_refused", message),
            RunError::TooManyTokens(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_value", message).on("tokens")
            }
            RunError::BadLabel => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_value", message).on("label")
            }
            RunError::BadExit(field, _) => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_value", message).on(field)
            }
            RunError::ExitAlreadyRecorded(_) => {
                ApiError::new(StatusCode::CONFLICT, "exit_already_recorded", message)
            }
            RunError::Subscribe(err) => err.into(),
        }
    }
}

impl From<JsonRejection> for ApiError {
    /// A body that did not decode, naming the field serde blames.
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        let message = rejection.body_text();
        let code = match status {
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
            _ => "invalid_body",
        };
        // A body that is not JSON at all is "unprocessable" to axum; to a client it
        // is simply a bad request, like any other body that does not decode. One
        // over the size limit says so.
        let status = match status {
            StatusCode::UNSUPPORTED_MEDIA_TYPE | StatusCode::PAYLOAD_TOO_LARGE => status,
            _ => StatusCode::BAD_REQUEST,
        };
        let field = field_named_in(&message);
        ApiError { status, code, field, message }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_body_over_the_limit_is_413_saying_so_and_a_bad_one_400() {
        use axum::body::Body;
        use tower::ServiceExt;
        async fn take(_: crate::web::extract::JsonBody<serde_json::Value>) {}
        let router = axum::Router::new().route("/", axum::routing::post(take));
        let post = |body: String| {
            axum::http::Request::post("/")
                .header("content-type", "application/json")
                .body(Body::from(body))
                .expect("request")
        };
        let big = format!("{{\"pad\": \"{}\"}}", "x".repeat(3 << 20));
        for (body, status, code) in
            [(big, 413, "body_too_large"), ("{\"pad\": ".to_owned(), 400, "invalid_body")]
        {
            let response = router.clone().oneshot(post(body)).await.expect("response");
            assert_eq!(response.status(), status);
            let bytes =
                http_body_util::BodyExt::collect(response.into_body()).await.expect("body").to_bytes();
            let text = String::from_utf8_lossy(&bytes);
            assert!(text.contains(code), "{text}");
        }
    }

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

    #[test]
    fn every_error_has_the_one_json_shape() {
        let err = ApiError::from(RunError::NoSuchProcess(7));
        assert_eq!(
            (err.status, err.code, err.field.as_deref()),
            (StatusCode::UNPROCESSABLE_ENTITY, "no_such_process", Some("pid"))
        );
        let body = shared::api::ApiError {
            code: err.code.into(),
            field: err.field.clone(),
            message: err.message.clone(),
        };
        let json = serde_json::to_value(&body).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"code": "no_such_process", "field": "pid", "message": "no process with pid 7"})
        );
    }
}
