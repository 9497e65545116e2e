//! Alerts over HTTP: the active and recent ones (`GET /api/alerts`), a silence
//! (`POST /api/alerts/silence`, a write: the control credential), and the
//! settings the server runs with (`GET /api/settings`), read-only, with every
//! destination's URL masked.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use shared::alerts::{Alerts, Settings, Silence};

use super::AppState;
use super::error::ApiError;
use super::extract::{JsonBody, QueryPairs};
use super::history::{Params, invalid};
use crate::alerts::{Alerting, MAX_LIST};
use crate::store::AlertQuery;

/// The longest silence: a week (a longer one is forgotten, not meant).
const MAX_SILENCE_S: u64 = 7 * 86_400;

fn alerting(state: &AppState) -> Result<Alerting, ApiError> {
    state.alerts.clone().ok_or_else(|| {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "alerts_off", "this server evaluates no alerts")
    })
}

/// `GET /api/alerts?project=&run_id=&from=&to=&limit=`.
pub async fn list(
    State(state): State<Arc<AppState>>,
    QueryPairs(pairs): QueryPairs,
) -> Result<Json<Alerts>, ApiError> {
    let params = Params::parse(pairs, &["project", "run_id", "from", "to", "limit"])?;
    let project = params.project()?;
    let run_id = params.text("run_id").map(str::to_owned);
    if run_id.as_deref().is_some_and(|r| !crate::hub::run_id_is_valid(r)) {
        return Err(invalid("run_id", "a run id, such as 1234-2026-12-03T08:00:00Z"));
    }
    let (from, to) = (params.instant("from")?, params.instant("to")?);
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        return Err(crate::store::QueryError::BadRange("from must not be after to".into()).into());
    }
    let query = AlertQuery {
        project,
        run_id,
        from_ms: from.map(|t| t.timestamp_millis()),
        to_ms: to.map(|t| t.timestamp_millis()),
        limit: params.number("limit", 1..=u64::from(MAX_LIST))?.unwrap_or(100) as u32,
    };
    let alerts = alerting(&state)?;
    match tokio::task::spawn_blocking(move || alerts.list(&query)).await {
        Ok(result) => Ok(Json(result?)),
        Err(err) => {
            tracing::error!("listing alerts failed: {err}");
            Err(ApiError::internal())
        }
    }
}

/// `POST /api/alerts/silence` with `{"seconds": N}` (0 lifts it): deliveries
/// are held back meanwhile; alerts are still kept and listed.
pub async fn silence(
    State(state): State<Arc<AppState>>,
    JsonBody(Silence { seconds }): JsonBody<Silence>,
) -> Result<Json<Alerts>, ApiError> {
    if seconds > MAX_SILENCE_S {
        return Err(invalid("seconds", &format!("at most {MAX_SILENCE_S} (a week)")));
    }
    let alerts = alerting(&state)?;
    alerts.silence(Duration::from_secs(seconds));
    Ok(Json(Alerts {
        silenced_until: alerts.silenced_until(),
        destinations: alerts.destinations(),
        stored: state.store.is_some(),
        ..Alerts::default()
    }))
}

/// `GET /api/settings`: what the server runs with.
pub async fn settings(State(state): State<Arc<AppState>>) -> Json<Settings> {
    let config = &state.config;
    let store = config.store.as_ref();
    let file = state.alerts.as_ref().and_then(|a| a.config().file.clone());
    let how_to_change = format!(
        "These are read at start. Alert rules and destinations live in {} (docs/alerts.md); sampling, \
         retention and the data directory are `perfmon serve` options (`perfmon serve --help`). Change them, \
         then restart PerfMon. Silence alerts with `perfmon alerts silence 2h`.",
        file.as_deref().map(shown_path).unwrap_or_else(|| {
            "$XDG_CONFIG_HOME/perfmon/config.toml (or `perfmon serve --config FILE`)".into()
        })
    );
    Json(Settings {
        config_file: file.as_deref().map(shown_path),
        how_to_change,
        live_interval_ms: config.live_interval.as_millis() as u64,
        idle_interval_ms: config.idle_interval.as_millis() as u64,
        history_window_s: config.history_window.as_secs(),
        data_dir: store.map(|s| shown_path(&s.dir)),
        retention_s: store
            .map(|s| {
                let r = s.retention;
                vec![
                    ("raw".into(), r.raw.as_secs()),
                    ("1m".into(), r.minute.as_secs()),
                    ("1h".into(), r.hour.as_secs()),
                ]
            })
            .unwrap_or_default(),
        rules: state.alerts.as_ref().map(Alerting::rules).unwrap_or_default(),
        destinations: state.alerts.as_ref().map(Alerting::destinations).unwrap_or_default(),
        silenced_until: state.alerts.as_ref().and_then(Alerting::silenced_until),
    })
}

/// A path as the settings page shows it: under the home directory as `~/…`,
/// so that an answer any local reader may fetch names no user (SECURITY.md).
fn shown_path(path: &std::path::Path) -> String {
    path_from_home(path, std::env::var_os("HOME").as_deref().map(std::path::Path::new))
}

fn path_from_home(path: &std::path::Path, home: Option<&std::path::Path>) -> String {
    // A home of `/` (or none) would make every path "under" it.
    match home.filter(|home| home.parent().is_some()).and_then(|home| path.strip_prefix(home).ok()) {
        Some(rest) if rest.as_os_str().is_empty() => "~".into(),
        Some(rest) => format!("~/{}", rest.display()),
        None => path.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::path_from_home;

    #[test]
    fn paths_under_the_home_directory_name_no_user() {
        let home = Some(Path::new("/home/alice"));
        let shown = |p: &str, home: Option<&Path>| path_from_home(Path::new(p), home);
        assert_eq!(shown("/home/alice/.local/state/perfmon", home), "~/.local/state/perfmon");
        assert_eq!(shown("/home/alice", home), "~");
        assert_eq!(shown("/home/alicex/data", home), "/home/alicex/data", "another directory");
        assert_eq!(shown("/var/lib/perfmon", home), "/var/lib/perfmon");
        assert_eq!(shown("/var/lib/perfmon", Some(Path::new("/"))), "/var/lib/perfmon");
        assert_eq!(shown("/var/lib/perfmon", None), "/var/lib/perfmon");
    }
}
