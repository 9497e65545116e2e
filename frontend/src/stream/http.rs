//! What the store remembers, over HTTP: the machine's history for a range, a
//! project's runs, one run's report, the alerts, the server's settings. Every request carries the page's token as
//! a bearer credential when the page has one; an error answer is the server's
//! one JSON shape, shown as its message.
//!
//! In dev builds made with `PERFMON_MOCK`, a request no server answers falls
//! back to the [`super::mock`]'s history, runs, alerts and settings, so the
//! pages can be worked on with no server; a server that answers always wins.

use serde::de::DeserializeOwned;
use shared::alerts::{Alerts, Settings};
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

/// Which alerts `GET /api/alerts` lists; every part optional.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AlertQuery {
    /// That project's alerts and the machine-wide ones.
    pub project: Option<String>,
    /// Only that run's (with `project`).
    pub run_id: Option<String>,
    /// Alerts whose span overlaps `[from, to]`, unix ms.
    pub span: Option<(f64, f64)>,
    /// At most this many recent ones (the server's default: 100).
    pub limit: Option<u32>,
}

impl AlertQuery {
    /// `project`'s alerts and the machine's, the newest first.
    pub fn project(project: &str) -> AlertQuery {
        AlertQuery { project: Some(project.to_owned()), ..AlertQuery::default() }
    }

    /// The path that asks for them, instants as RFC 3339 (`rfc3339` writes them).
    pub fn path(&self, rfc3339: impl Fn(f64) -> String) -> String {
        let mut parts = Vec::new();
        if let Some(project) = &self.project {
            parts.push(format!("project={}", encode(project)));
        }
        if let Some(run_id) = &self.run_id {
            parts.push(format!("run_id={}", encode(run_id)));
        }
        if let Some((from, to)) = self.span {
            parts.push(format!("from={}&to={}", encode(&rfc3339(from)), encode(&rfc3339(to))));
        }
        if let Some(limit) = self.limit {
            parts.push(format!("limit={limit}"));
        }
        if parts.is_empty() { "/api/alerts".to_owned() } else { format!("/api/alerts?{}", parts.join("&")) }
    }
}

/// The alerts `query` names: the active ones, the recent ones, silence and
/// delivery.
pub async fn alerts(query: &AlertQuery) -> Result<Alerts, FetchError> {
    let answer = get_json(&query.path(rfc3339)).await;
    #[cfg(debug_assertions)]
    if answer.is_err() && super::mock::enabled() {
        let project = query.project.as_deref().unwrap_or(crate::route::DEFAULT_PROJECT);
        return Ok(super::mock::alerts(project, query.run_id.as_deref()));
    }
    answer
}

/// The settings the server runs with.
pub async fn settings() -> Result<Settings, FetchError> {
    let answer = get_json("/api/settings").await;
    #[cfg(debug_assertions)]
    if answer.is_err() && super::mock::enabled() {
        return Ok(super::mock::settings());
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_queries_name_only_what_they_ask_for() {
        let iso = |ms: f64| format!("T{ms}");
        assert_eq!(AlertQuery::default().path(iso), "/api/alerts");
        assert_eq!(AlertQuery::project("my app").path(iso), "/api/alerts?project=my%20app");
        let run = AlertQuery {
            run_id: Some("42-2026-11-25T08:00:00Z".into()),
            span: Some((1.0, 2.0)),
            limit: Some(1000),
            ..AlertQuery::project("demo")
        };
        assert_eq!(
            run.path(iso),
            "/api/alerts?project=demo&run_id=42-2026-11-25T08%3A00%3A00Z&from=T1&to=T2&limit=1000"
        );
    }

    #[test]
    fn the_csv_link_carries_the_pages_token() {
        assert_eq!(
            report_csv_href("demo", "42-2026-11-25T08:00:00Z", Some("a+b")),
            "/api/projects/demo/runs/42-2026-11-25T08%3A00%3A00Z?format=csv&token=a%2Bb"
        );
        assert_eq!(report_csv_href("demo", "7-x", None), "/api/projects/demo/runs/7-x?format=csv");
    }
}
