//! What the store remembers, over HTTP: a project's runs, one run's report, the
//! machine's history between two instants (JSON, or CSV with `?format=csv`),
//! and the exit report `perfmon run` sends when its command ends.
//!
//! Queries read SQLite, so they run off the async workers. Every bad parameter
//! is an [`ApiError`] naming it; unknown parameters are refused rather than
//! ignored, so a typo (`stpe=60`) is not silently answered with defaults. The
//! one parameter every endpoint takes is `token`, which [`super::auth`] reads.
//!
//! CSV is opened in spreadsheets, which run a cell that starts with `=`, `+`,
//! `-` or `@` as a formula: every text cell that does is written behind a
//! single quote (OWASP's advice on CSV injection). Numbers are written as they
//! are, so -3 stays a number.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use shared::api::{ExitAccepted, ExitReport, HistorySeries, RunRecord, RunReport};

use super::error::ApiError;
use super::extract::{JsonBody, Project, QueryPairs, RunPath};
use super::{AppState, auth};
use crate::store::query::Before;
use crate::store::{HistoryQuery, QueryError, Store, query};

/// Middleware for the endpoints that take no query parameter: one given (but
/// the token, checked before) is refused naming it, as every endpoint refuses
/// what it does not take.
pub(super) async fn takes_no_parameters(
    QueryPairs(pairs): QueryPairs,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match Params::parse(pairs, &[]) {
        Ok(_) => next.run(request).await,
        Err(err) => err.into_response(),
    }
}

/// The parameters of one request, each allowed name at most once.
pub(super) struct Params(HashMap<&'static str, String>);

impl Params {
    pub(super) fn parse(pairs: Vec<(String, String)>, allowed: &[&'static str]) -> Result<Params, ApiError> {
        let mut map = HashMap::new();
        for (name, value) in pairs {
            // Checked by the auth middleware before the handler runs.
            if name == auth::TOKEN_PARAM {
                continue;
            }
            let Some(known) = allowed.iter().find(|a| **a == name) else {
                let takes = if allowed.is_empty() { "none".to_owned() } else { allowed.join(", ") };
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "unknown_parameter",
                    format!("unknown parameter {name:?}; this endpoint takes {takes}"),
                )
                .on(name));
            };
            if map.insert(*known, value).is_some() {
                return Err(refused(known, "given more than once"));
            }
        }
        Ok(Params(map))
    }

    pub(super) fn text(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// `project`, a valid project name, if given.
    pub(super) fn project(&self) -> Result<Option<String>, ApiError> {
        self.text("project")
            .map(|p| {
                crate::hub::project::ProjectName::parse(p).map_err(|err| refused("project", &err.to_string()))
            })
            .transpose()
            .map(|p| p.map(|p| p.to_string()))
    }

    pub(super) fn instant(&self, name: &'static str) -> Result<Option<DateTime<Utc>>, ApiError> {
        self.text(name)
            .map(|text| {
                DateTime::parse_from_rfc3339(text)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| invalid(name, "an RFC 3339 instant such as 2026-11-25T08:00:00Z"))
            })
            .transpose()
    }

    pub(super) fn number(
        &self,
        name: &'static str,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<Option<u64>, ApiError> {
        self.text(name)
            .map(|text| {
                text.parse::<u64>().ok().filter(|n| range.contains(n)).ok_or_else(|| {
                    invalid(name, &format!("a whole number from {} to {}", range.start(), range.end()))
                })
            })
            .transpose()
    }

    /// `before`: an instant, or the run id a page of runs ended on (its
    /// `next_before`: `{pid}-{started_at}`).
    fn before(&self) -> Result<Option<Before>, ApiError> {
        let Some(text) = self.text("before") else { return Ok(None) };
        if let Some(at) = self.instant("before").ok().flatten() {
            return Ok(Some(Before::Instant(at.timestamp_millis())));
        }
        // An instant, or one with `-N` after it: the second run of a pid
        // in one second is `{pid}-{started_at}-2` (`IssuedIds`).
        let instant = |at: &str| {
            DateTime::parse_from_rfc3339(at).is_ok()
                || at.rsplit_once('-').is_some_and(|(at, n)| {
                    !n.is_empty()
                        && n.bytes().all(|b| b.is_ascii_digit())
                        && DateTime::parse_from_rfc3339(at).is_ok()
                })
        };
        match text.split_once('-') {
            Some((pid, at)) if !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) && instant(at) => {
                Ok(Some(Before::Run(text.to_owned())))
            }
            _ => Err(invalid("before", BEFORE)),
        }
    }

    /// A yes-or-no parameter: `true` or `false`, absent is `false`.
    fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.text(name) {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(_) => Err(invalid(name, "true or false")),
        }
    }

    fn csv(&self) -> Result<bool, ApiError> {
        match self.text("format") {
            None | Some("json") => Ok(false),
            Some("csv") => Ok(true),
            Some(_) => Err(invalid("format", "json or csv")),
        }
    }
}

/// What `before` takes.
const BEFORE: &str = "an RFC 3339 instant, or the next_before of a page of runs";

pub(super) fn invalid(field: &str, expected: &str) -> ApiError {
    refused(field, &format!("expected {expected}"))
}

/// A parameter refused for `why`, which says itself what it should be.
fn refused(field: &str, why: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_parameter", format!("{field}: {why}")).on(field)
}

impl From<QueryError> for ApiError {
    fn from(err: QueryError) -> Self {
        let message = err.to_string();
        match err {
            QueryError::NotReady => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "store_starting", message),
            QueryError::Unavailable(_) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable", message)
            }
            QueryError::BadRange(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_range", message).on("from")
            }
            QueryError::BadStep(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_parameter", message).on("step")
            }
            QueryError::NotFound(..) => {
                ApiError::new(StatusCode::NOT_FOUND, "no_such_run", message).on("run_id")
            }
            QueryError::Failed(_) => ApiError::internal(),
        }
    }
}

/// The store, or 503 when the server keeps none.
fn store(state: &AppState) -> Result<Store, ApiError> {
    state.store.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_off",
            "this server keeps no history (it was started with --no-store)",
        )
    })
}

/// Runs a store query off the async workers.
pub(super) async fn blocking<T: Send + 'static>(
    store: Store,
    query: impl FnOnce(&Store) -> Result<T, QueryError> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(move || query(&store)).await {
        Ok(result) => Ok(result?),
        Err(err) => {
            tracing::error!("a store query failed: {err}");
            Err(ApiError::internal())
        }
    }
}

fn csv_response(name: &str, body: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}.csv\"")),
        ],
        body,
    )
        .into_response()
}

/// `GET /api/projects/{project}/runs?limit=&before=`: newest first, paged.
pub async fn runs(
    State(state): State<Arc<AppState>>,
    Project(project): Project,
    QueryPairs(pairs): QueryPairs,
) -> Result<Response, ApiError> {
    let params = Params::parse(pairs, &["limit", "before", "format"])?;
    let limit = params.number("limit", 1..=u64::from(query::MAX_RUNS_PAGE))?.unwrap_or(50) as u32;
    let before = params.before()?;
    let csv = params.csv()?;
    let name = project.to_string();
    let page = blocking(store(&state)?, move |store| store.runs(&name, limit, before.as_ref()))
        .await
        .map_err(|err| if err.code == "no_such_run" { invalid("before", BEFORE) } else { err })?;
    Ok(if csv {
        csv_response(&format!("{project}-runs"), runs_csv(&page.runs))
    } else {
        Json(page).into_response()
    })
}

/// `GET /api/projects/{project}/runs/{run_id}`: the record, the previous run,
/// and the run's series.
pub async fn report(
    State(state): State<Arc<AppState>>,
    RunPath(project, run_id): RunPath,
    QueryPairs(pairs): QueryPairs,
) -> Result<Response, ApiError> {
    let csv = Params::parse(pairs, &["format"])?.csv()?;
    let (name, id) = (project.to_string(), run_id.clone());
    let report: RunReport = blocking(store(&state)?, move |store| store.report(&name, &id)).await?;
    Ok(if csv { csv_response(&run_id, history_csv(&report.history)) } else { Json(report).into_response() })
}

/// `GET /api/history?from=&to=&step=&project=&all=`: the machine's series
/// between two instants (default: the last hour); the figures the dashboard
/// charts, or with `all=true` every kept figure.
pub async fn history(
    State(state): State<Arc<AppState>>,
    QueryPairs(pairs): QueryPairs,
) -> Result<Response, ApiError> {
    let params = Params::parse(pairs, &["from", "to", "step", "project", "format", "all"])?;
    let to = params.instant("to")?.unwrap_or_else(Utc::now);
    let from = params.instant("from")?.unwrap_or(to - chrono::Duration::hours(1));
    let step_s = params.number("step", 1..=31_536_000)?;
    let project = params.project()?;
    let csv = params.csv()?;
    let q = HistoryQuery {
        from_ms: from.timestamp_millis(),
        to_ms: to.timestamp_millis(),
        step_s,
        project,
        run_id: None,
        points: query::HISTORY_POINTS,
        all: params.flag("all")?,
    };
    let series: HistorySeries = blocking(store(&state)?, move |store| store.history(&q)).await?;
    Ok(if csv { csv_response("history", history_csv(&series)) } else { Json(series).into_response() })
}

/// `POST /api/projects/{project}/runs/{run_id}/exit` with `{"exit_code": N}` or
/// `{"signal": N}`: how the run's command ended. Accepted for the run the server
/// tracks now, or for a stored one (the wrapper reports after a restart).
pub async fn exit(
    State(state): State<Arc<AppState>>,
    RunPath(project, run_id): RunPath,
    JsonBody(report): JsonBody<ExitReport>,
) -> Result<Json<ExitAccepted>, ApiError> {
    // Refused before the hub or the store sees it: a report that cannot be
    // true must not end a live run or rewrite a stored one.
    if let Some((field, why)) = report.invalid() {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "invalid_value", why).on(field));
    }
    if let Some(summary) = state.hub.report_exit(&project, &run_id, &report)? {
        return Ok(Json(ExitAccepted { run_id, status: summary.outcome }));
    }
    let Some(store) = state.store.clone() else {
        return Err(QueryError::NotFound(project.to_string(), run_id).into());
    };
    let (name, id) = (project.to_string(), run_id.clone());
    let recorded = blocking(store.clone(), move |store| store.recorded_exit(&name, &id)).await?;
    match recorded {
        None => return Err(QueryError::NotFound(project.to_string(), run_id).into()),
        // As the hub answers: the same report again is taken, another refused.
        Some(exit @ ((Some(_), _) | (_, Some(_)))) if exit != (report.exit_code, report.signal) => {
            return Err(crate::hub::RunError::ExitAlreadyRecorded(run_id).into());
        }
        Some((None, None)) => {
            store.report_exit(&project, &run_id, report.clone());
            if let Some(alerts) = state.alerts.clone() {
                let (name, id) = (project.to_string(), run_id.clone());
                // Not awaited: the answer does not wait for the alert.
                tokio::task::spawn_blocking(move || alerts.exit_reported_late(&name, &id));
            }
        }
        Some(_) => {}
    }
    Ok(Json(ExitAccepted { run_id, status: report.outcome() }))
}

fn csv_writer() -> csv::Writer<Vec<u8>> {
    csv::Writer::from_writer(Vec::new())
}

fn finish(writer: csv::Writer<Vec<u8>>) -> Vec<u8> {
    writer.into_inner().unwrap_or_else(|err| err.into_inner().get_ref().clone())
}

/// Runs as CSV, one row per run: the JSON's fields as columns, then the
/// verdict's `bound`, `headline` and one `<kind>_percent` per share of its bar
/// (empty where the run has no verdict, is not judged, or the share was not
/// measured: never a 0 it did not have), then where its tokens come from and,
/// read from transcripts, by kind and their cost ([`TOKEN_CSV_HEADER`]).
fn runs_csv(runs: &[RunRecord]) -> Vec<u8> {
    let mut out = csv_writer();
    let verdict_columns = crate::verdict::BAR.map(|kind| format!("{}_percent", kind.key()));
    let header = RUN_CSV_HEADER
        .iter()
        .copied()
        .chain(["bound", "headline"])
        .chain(verdict_columns.iter().map(String::as_str))
        .chain(TOKEN_CSV_HEADER.iter().copied());
    // Writes to memory cannot fail.
    let _ = out.write_record(header);
    for run in runs {
        // Through JSON, so each cell keeps its type: only text gets the quote.
        let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(run) else { continue };
        let mut row: Vec<String> = RUN_CSV_HEADER
            .iter()
            .map(|name| match fields.get(*name) {
                None | Some(serde_json::Value::Null) => String::new(),
                Some(serde_json::Value::String(text)) => text_cell(text),
                Some(other) => other.to_string(),
            })
            .collect();
        let verdict = run.verdict.as_ref();
        row.push(verdict.and_then(|v| v.bound).map(|kind| kind.key().to_owned()).unwrap_or_default());
        row.push(verdict.map(|v| text_cell(&v.headline)).unwrap_or_default());
        row.extend(crate::verdict::BAR.map(|kind| {
            let share = verdict.filter(|v| v.judged).and_then(|v| v.shares.iter().find(|s| s.kind == kind));
            share.map(|s| serde_json::Value::from(s.percent).to_string()).unwrap_or_default()
        }));
        row.push(run.token_source.map(shared::TokenSource::key).unwrap_or_default().to_owned());
        let detail = run.token_detail.as_ref();
        let number = |n: Option<u64>| n.map(|n| n.to_string()).unwrap_or_default();
        row.extend([
            number(detail.map(|d| d.input)),
            number(detail.map(|d| d.output)),
            number(detail.map(|d| d.cache_write)),
            number(detail.map(|d| d.cache_read)),
            detail
                .and_then(|d| d.cost_usd)
                .map(|c| serde_json::Value::from(c).to_string())
                .unwrap_or_default(),
        ]);
        let _ = out.write_record(&row);
    }
    finish(out)
}

/// The runs CSV's first columns: every field of [`RunRecord`] but the verdict,
/// in its order (a test checks that they agree); the verdict's follow.
const RUN_CSV_HEADER: &[&str] = &[
    "run_id",
    "project",
    "label",
    "pid",
    "started_at",
    "ended_at",
    "status",
    "exit_code",
    "signal",
    "duration_s",
    "cpu_seconds",
    "peak_cpu_percent",
    "peak_rss_mb",
    "peak_gpu_memory_gb",
    "peak_process_count",
    "tokens",
];

/// The runs CSV's last columns: where a run's tokens come from, and its tokens
/// by kind and their cost when read from transcripts (empty otherwise).
const TOKEN_CSV_HEADER: &[&str] =
    &["token_source", "input_tokens", "output_tokens", "cache_write_tokens", "cache_read_tokens", "cost_usd"];

/// A text cell a spreadsheet will show as text: one that would start a formula
/// (or, after a tab or carriage return, hide one) gets a leading `'`.
fn text_cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_owned() }
}

/// Series as CSV: a `time` column (RFC 3339, UTC), then each series, with
/// `_min`/`_max` columns beside downsampled ones; empty cells where nothing was
/// recorded.
fn history_csv(h: &HistorySeries) -> Vec<u8> {
    let mut header = vec!["time".to_owned()];
    let mut columns: Vec<&Vec<Option<f64>>> = Vec::new();
    for (name, values) in &h.series {
        header.push(text_cell(name));
        columns.push(values);
        for (suffix, extremes) in [("min", &h.min), ("max", &h.max)] {
            if let Some(values) = extremes.get(name) {
                header.push(text_cell(&format!("{name}_{suffix}")));
                columns.push(values);
            }
        }
    }
    let mut out = csv_writer();
    let _ = out.write_record(&header);
    for (i, ts) in h.timestamps.iter().enumerate() {
        let time = DateTime::from_timestamp_millis(*ts)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default();
        let row = std::iter::once(time).chain(
            columns.iter().map(|c| c.get(i).copied().flatten().map(|v| v.to_string()).unwrap_or_default()),
        );
        let _ = out.write_record(row);
    }
    finish(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::api::RunOutcome;
    use shared::why::{Share, ShareKind, Verdict};

    #[test]
    fn before_takes_every_run_id_the_server_hands_out() {
        let before = |text: &str| Params::parse(vec![("before".into(), text.into())], &["before"])?.before();
        for id in ["42-2026-11-25T08:00:00Z", "42-2026-11-25T08:00:00Z-2", "42-2026-11-25T08:00:00Z-13"] {
            assert_eq!(before(id).expect(id), Some(Before::Run(id.into())));
        }
        for bad in [
            "last-tuesday",
            "42-2026-11-25T08:00:00Z-",
            "42-2026-11-25T08:00:00Z-x",
            "x-2026-11-25T08:00:00Z",
        ] {
            assert!(before(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn history_csv_has_a_time_column_and_extremes_beside_means() {
        let mut h = HistorySeries { step_s: 60, timestamps: vec![0, 60_000], ..HistorySeries::default() };
        h.series.insert("cpu.percent".into(), vec![Some(1.5), None]);
        h.min.insert("cpu.percent".into(), vec![Some(1.0), None]);
        h.max.insert("cpu.percent".into(), vec![Some(2.0), None]);
        let text = String::from_utf8(history_csv(&h)).expect("utf-8");
        assert_eq!(
            text,
            "time,cpu.percent,cpu.percent_min,cpu.percent_max\n1970-01-01T00:00:00Z,1.5,1,2\n1970-01-01T00:01:00Z,,,\n"
        );
    }

    fn record(label: &str) -> RunRecord {
        RunRecord {
            run_id: "42-2026-11-25T08:00:00Z".into(),
            project: "-demo".into(),
            label: Some(label.into()),
            pid: 42,
            started_at: shared::Timestamp("2026-11-25T08:00:00Z".into()),
            ended_at: None,
            status: RunOutcome::Exited,
            exit_code: Some(-1),
            signal: None,
            duration_s: 1.5,
            cpu_seconds: 0.0,
            peak_cpu_percent: Some(-0.5),
            peak_rss_mb: None,
            peak_gpu_memory_gb: None,
            peak_process_count: 1,
            tokens: 0,
            verdict: None,
            token_source: None,
            token_detail: None,
        }
    }

    #[test]
    fn text_cells_that_would_start_a_formula_are_quoted_and_numbers_are_not() {
        for text in ["=1+2", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(text_cell(text), format!("'{text}"), "{text:?}");
        }
        assert_eq!(text_cell("nightly = fast"), "nightly = fast", "only a leading sign matters");
        assert_eq!(text_cell(""), "");

        let label = r#"=HYPERLINK("http://evil.example","x")"#;
        let written = runs_csv(&[record(label)]);
        let mut reader = csv::Reader::from_reader(&written[..]);
        let header: Vec<String> = reader.headers().expect("header").iter().map(str::to_owned).collect();
        let row = reader.records().next().expect("a row").expect("parses");
        let cell = |name: &str| row.get(header.iter().position(|h| h == name).expect(name)).expect(name);
        assert_eq!(cell("label"), format!("'{label}"));
        assert_eq!(cell("project"), "'-demo", "a project name may start with a sign too");
        assert_eq!((cell("exit_code"), cell("peak_cpu_percent")), ("-1", "-0.5"), "numbers stay numbers");
        assert_eq!((cell("pid"), cell("signal"), cell("duration_s")), ("42", "", "1.5"));

        let mut h = HistorySeries { step_s: 1, timestamps: vec![0], ..HistorySeries::default() };
        h.series.insert("net.delta".into(), vec![Some(-2.5)]);
        let text = String::from_utf8(history_csv(&h)).expect("utf-8");
        assert_eq!(text, "time,net.delta\n1970-01-01T00:00:00Z,-2.5\n");
    }

    #[test]
    fn the_runs_csv_has_every_field_of_a_run_in_order_then_the_verdicts() {
        let mut run = record("x");
        run.verdict = Some(Verdict::default());
        let json = serde_json::to_value(run).expect("json");
        let mut fields: Vec<&str> = json
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .filter(|k| !["verdict", "token_source", "token_detail"].contains(k))
            .collect();
        let mut columns = RUN_CSV_HEADER.to_vec();
        // Compared as sets: serde_json's map may or may not keep the order.
        fields.sort_unstable();
        columns.sort_unstable();
        assert_eq!(fields, columns);
        let empty = String::from_utf8(runs_csv(&[])).expect("utf-8");
        let verdict_columns =
            "bound,headline,cpu_percent,cpu_wait_percent,io_percent,memory_percent,idle_percent";
        let token_columns =
            "token_source,input_tokens,output_tokens,cache_write_tokens,cache_read_tokens,cost_usd";
        assert_eq!(
            empty.trim_end(),
            format!("{},{verdict_columns},{token_columns}", RUN_CSV_HEADER.join(",")),
            "an empty list still names its columns"
        );
        let mut priced = record("x");
        priced.token_source = Some(shared::TokenSource::Codex);
        priced.token_detail = Some(shared::TokenDetail {
            input: 1400,
            output: 80,
            cache_read: 1100,
            cost_usd: Some(0.002688),
            ..Default::default()
        });
        let text = String::from_utf8(runs_csv(&[priced, record("y")])).expect("utf-8");
        let rows: Vec<&str> = text.lines().collect();
        assert!(rows[1].ends_with(",codex,1400,80,0,1100,0.002688"), "{}", rows[1]);
        assert!(rows[2].ends_with(",,,,,,"), "no tokens, no figures: {}", rows[2]);
    }

    #[test]
    fn the_runs_csv_carries_the_verdict_and_leaves_what_was_not_measured_empty() {
        let share = |kind, percent| Share { kind, percent, evidence: "figures".into() };
        let mut judged = record("judged");
        judged.verdict = Some(Verdict {
            judged: true,
            headline: "CPU-bound on 1 of 2 cores for 82 % of its 41 min".into(),
            bound: Some(ShareKind::Cpu),
            shares: vec![
                share(ShareKind::Cpu, 82.0),
                share(ShareKind::Io, 0.0),
                share(ShareKind::Idle, 17.5),
            ],
            ..Verdict::default()
        });
        let mut short = record("short");
        short.verdict = Some(Verdict {
            judged: false,
            headline: "Too short to judge: 4 s (needs 10 s)".into(),
            ..Verdict::default()
        });
        let mut hostile = record("hostile");
        hostile.verdict = Some(Verdict { judged: false, headline: "=cmd()".into(), ..Verdict::default() });
        let written = runs_csv(&[judged, short, record("old"), hostile]);
        let mut reader = csv::Reader::from_reader(&written[..]);
        let header: Vec<String> = reader.headers().expect("header").iter().map(str::to_owned).collect();
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("parses")).collect();
        let cell = |row: usize, name: &str| {
            rows[row].get(header.iter().position(|h| h == name).expect(name)).expect(name).to_owned()
        };
        let bar = ["cpu_percent", "cpu_wait_percent", "io_percent", "memory_percent", "idle_percent"];
        assert_eq!(cell(0, "bound"), "cpu");
        assert_eq!(cell(0, "headline"), "CPU-bound on 1 of 2 cores for 82 % of its 41 min");
        assert_eq!(
            bar.map(|c| cell(0, c)),
            ["82.0", "", "0.0", "", "17.5"],
            "not measured is empty, measured 0 is 0"
        );
        assert_eq!(
            (cell(1, "bound"), cell(1, "headline")),
            (String::new(), "Too short to judge: 4 s (needs 10 s)".into())
        );
        assert_eq!(bar.map(|c| cell(1, c)), ["", "", "", "", ""]);
        assert_eq!(
            (cell(2, "bound"), cell(2, "headline"), cell(2, "cpu_percent")),
            (String::new(), String::new(), String::new())
        );
        assert_eq!(cell(3, "headline"), "'=cmd()", "the headline is text like any other");
    }

    #[test]
    fn a_token_is_taken_and_left_to_auth() {
        let pairs = |p: &[(&str, &str)]| p.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let params = Params::parse(pairs(&[("token", "s3cret"), ("step", "60")]), &["step"]).expect("parsed");
        assert_eq!((params.text("step"), params.text("token")), (Some("60"), None));
    }

    #[test]
    fn unknown_and_repeated_parameters_are_refused_by_name() {
        let pairs = |p: &[(&str, &str)]| p.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let err = Params::parse(pairs(&[("stpe", "60")]), &["step"]).err().expect("refused");
        assert_eq!((err.code, err.field.as_deref()), ("unknown_parameter", Some("stpe")));
        let err = Params::parse(pairs(&[("step", "1"), ("step", "2")]), &["step"]).err().expect("refused");
        assert_eq!(err.field.as_deref(), Some("step"));
        let params = Params::parse(pairs(&[("from", "yesterday")]), &["from"]).expect("parsed");
        assert_eq!(params.instant("from").err().map(|e| e.code), Some("invalid_parameter"));
    }
}
