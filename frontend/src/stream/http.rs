//! What the store remembers, over HTTP: the machine's history for a range, a
//! project's runs, one run's report. Every request carries the page's token as
//! a bearer credential when the page has one; an error answer is the server's
//! one JSON shape, shown as its message.
//!
//! In dev builds made with `PERFMON_MOCK`, a request no server answers falls
//! back to the [`super::mock`]'s history and runs, so the dashboard can be
//! worked on with no server; a server that answers always wins.

use serde::de::DeserializeOwned;
use shared::api::{ApiError, HistorySeries, Projects, RunReport, Runs};

use crate::route::{encode, token};

/// Why a request gave no answer to show.
#[derive(Debug, Clone, PartialEq)]
pub enum FetchError {
    /// The server answered with an error.
    Api {
        /// The HTTP status.
        status: u16,
        /// The server's error.
        error: ApiError,
    },
    /// No answer: the server is down or unreachable.
    Network(String),
    /// An answer this build cannot read.
    Decode(String),
}

impl FetchError {
    /// The server's error code, when it sent one (`store_off`, `no_such_run`).
    pub fn code(&self) -> Option<&str> {
        match self {
            FetchError::Api { error, .. } => Some(&error.code),
            _ => None,
        }
    }
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::Api { error, .. } => f.write_str(&error.message),
            FetchError::Network(why) => write!(f, "the server did not answer ({why})"),
            FetchError::Decode(why) => write!(f, "the server's answer could not be read ({why})"),
        }
    }
}

/// `GET path` as JSON.
pub async fn get_json<T: DeserializeOwned>(path: &str) -> Result<T, FetchError> {
    let mut request = gloo_net::http::Request::get(path);
    if let Some(token) = token() {
        request = request.header("Authorization", &format!("Bearer {token}"));
    }
    let response = request.send().await.map_err(|err| FetchError::Network(err.to_string()))?;
    if !response.ok() {
        let status = response.status();
        let error = response.json::<ApiError>().await.unwrap_or_else(|_| ApiError {
            code: "http".into(),
            field: None,
            message: format!("the server answered {status} {}", response.status_text()),
        });
        return Err(FetchError::Api { status, error });
    }
    response.json::<T>().await.map_err(|err| FetchError::Decode(err.to_string()))
}

/// An instant (unix ms) as RFC 3339, as `/api/history` takes it.
pub fn rfc3339(ms: f64) -> String {
    String::from(js_sys::Date::new(&ms.into()).to_iso_string())
}

/// `/api/history` for `[from, to]` (unix ms) with `project`'s runs.
pub fn history_path(project: &str, from: f64, to: f64) -> String {
    format!(
        "/api/history?from={}&to={}&project={}",
        encode(&rfc3339(from)),
        encode(&rfc3339(to)),
        encode(project)
    )
}

/// The machine's history over `[from, to]` (unix ms), with `project`'s runs.
pub async fn history(project: &str, from: f64, to: f64) -> Result<HistorySeries, FetchError> {
    let answer = get_json(&history_path(project, from, to)).await;
    #[cfg(debug_assertions)]
    if answer.is_err() && super::mock::enabled() {
        return Ok(super::mock::history(from, to));
    }
    answer
}

/// The projects the server knows: recorded, live or watched.
pub async fn projects() -> Result<Projects, FetchError> {
    get_json("/api/projects").await
}

/// A page of `project`'s runs, newest first, older than `before` when given.
pub async fn runs(project: &str, limit: u32, before: Option<&str>) -> Result<Runs, FetchError> {
    let mut path = format!("/api/projects/{}/runs?limit={limit}", encode(project));
    if let Some(before) = before {
        path.push_str(&format!("&before={}", encode(before)));
    }
    let answer = get_json(&path).await;
    #[cfg(debug_assertions)]
    if answer.is_err() && super::mock::enabled() {
        return Ok(super::mock::runs(project, limit as usize, before));
    }
    answer
}

/// The report of `project`'s run `run_id`.
pub async fn report(project: &str, run_id: &str) -> Result<RunReport, FetchError> {
    let answer = get_json(&report_path(project, run_id)).await;
    #[cfg(debug_assertions)]
    if answer.is_err()
        && super::mock::enabled()
        && let Some(report) = super::mock::report(project, run_id)
    {
        return Ok(report);
    }
    answer
}

/// Where a run's report is read (`?format=csv` for its CSV).
pub fn report_path(project: &str, run_id: &str) -> String {
    format!("/api/projects/{}/runs/{}", encode(project), encode(run_id))
}

/// The run report's CSV, as a link: a download sends no Authorization header,
/// so the page's token (when it has one) goes along as `?token=`, which the
/// server takes on every endpoint.
pub fn report_csv_href(project: &str, run_id: &str, token: Option<&str>) -> String {
    let mut href = format!("{}?format=csv", report_path(project, run_id));
    if let Some(token) = token {
        href.push_str(&format!("&token={}", encode(token)));
    }
    href
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csv_link_carries_the_pages_token() {
        assert_eq!(
            report_csv_href("demo", "42-2026-11-25T08:00:00Z", Some("a+b")),
            "/api/projects/demo/runs/42-2026-11-25T08%3A00%3A00Z?format=csv&token=a%2Bb"
        );
        assert_eq!(report_csv_href("demo", "7-x", None), "/api/projects/demo/runs/7-x?format=csv");
    }
}
