//! `GET /api/projects`: the projects a user can switch between — every project
//! the store has runs for, and every one the hub holds now (a live run, or a
//! page watching it) — each with its recorded runs, when its newest run
//! started and whether a run is live, most recently active first.
//!
//! The hub says what is live now and the store what was recorded: the store
//! writes a new run a moment after the hub starts it, so the newest start is
//! the later of the two. Without a store (`--no-store`), or while it cannot be
//! read, the answer lists the hub's projects and says why the recorded ones are
//! missing rather than failing: switching between live projects still works.
//! With `--projects`, only those are listed.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use shared::api::{ProjectSummary, Projects};

use super::AppState;
use super::error::ApiError;
use super::extract::QueryPairs;
use super::history::{Params, blocking};
use crate::hub::Hub;
use crate::hub::project::ProjectName;
use crate::store::query::StoredProject;

/// Why recorded projects are missing with `--no-store`.
const NO_STORE: &str = "this server keeps no history (it was started with --no-store): only the \
                        projects it holds now are listed";

/// A project the hub holds now.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HubProject {
    name: String,
    /// A run is running or paused.
    live: bool,
    /// When the run the stream shows (live, or the last to end) started, unix ms.
    started_ms: Option<i64>,
}

/// `GET /api/projects`.
pub async fn list(
    State(state): State<Arc<AppState>>,
    QueryPairs(pairs): QueryPairs,
) -> Result<Json<Projects>, ApiError> {
    Params::parse(pairs, &[])?;
    let stored = match state.store.clone() {
        None => Err(NO_STORE.to_owned()),
        Some(store) => blocking(store, |store| store.projects()).await.map_err(|err| {
            if err.code == "internal" {
                "the store could not answer; the server's log says why".to_owned()
            } else {
                err.message
            }
        }),
    };
    let held = hub_projects(&state.hub, stored.as_deref().unwrap_or_default());
    let mut list = merge(stored, held);
    // With `--projects`, only those may be watched: offering another would
    // only lead to a refused stream.
    if let Some(allowed) = &state.config.projects {
        list.projects.retain(|p| allowed.iter().any(|a| a.as_str() == p.name));
    }
    Ok(Json(list))
}

/// The projects the hub holds now, and what it holds of the `recorded` ones:
/// each recorded project is asked for by name, so a run started a moment ago
/// reads live before the hub has pushed its first sample.
fn hub_projects(hub: &Hub, recorded: &[StoredProject]) -> Vec<HubProject> {
    let (_, snapshot) = hub.snapshot();
    let names = snapshot.into_iter().map(|p| p.name);
    // Recorded names were checked on their way in; one that no longer passes
    // cannot be in the hub either.
    let recorded = recorded.iter().filter_map(|p| ProjectName::parse(&p.name).ok());
    let names: std::collections::BTreeSet<ProjectName> = names.chain(recorded).collect();
    names
        .into_iter()
        .map(|name| {
            let run = hub.run(&name);
            let started_ms = run.started_at.and_then(|at| {
                chrono::DateTime::parse_from_rfc3339(at.as_str()).ok().map(|at| at.timestamp_millis())
            });
            HubProject { name: name.to_string(), live: run.status.is_live(), started_ms }
        })
        .collect()
}

/// The store's projects (or why there are none) and the hub's, as one list,
/// most recently active first: live ones, then by newest start, then those
/// with no run at all, by name.
fn merge(stored: Result<Vec<StoredProject>, String>, held: Vec<HubProject>) -> Projects {
    let (recorded, reason) = match stored {
        Ok(projects) => (Some(projects), None),
        Err(reason) => (None, Some(reason)),
    };
    let mut by_name: BTreeMap<String, ProjectEntry> = BTreeMap::new();
    for p in recorded.iter().flatten() {
        by_name.insert(
            p.name.clone(),
            ProjectEntry { run_count: Some(p.runs), newest_ms: Some(p.newest_start_ms), live: false },
        );
    }
    for p in held {
        let entry = by_name.entry(p.name).or_insert(ProjectEntry {
            // Recorded: none yet (the store may not have written a run just
            // started); not recorded at all: unknown.
            run_count: recorded.is_some().then_some(0),
            newest_ms: None,
            live: false,
        });
        entry.live |= p.live;
        entry.newest_ms = entry.newest_ms.max(p.started_ms);
    }
    let mut entries: Vec<(String, ProjectEntry)> = by_name.into_iter().collect();
    // Stable over the name order: ties stay alphabetical. `None` sorts below
    // any instant, so projects without a run come last.
    entries.sort_by(|(_, a), (_, b)| b.live.cmp(&a.live).then(b.newest_ms.cmp(&a.newest_ms)));
    Projects {
        projects: entries
            .into_iter()
            .map(|(name, e)| ProjectSummary {
                name,
                run_count: e.run_count,
                last_run_started_at: e.newest_ms.and_then(instant),
                live: e.live,
            })
            .collect(),
        stored: reason.is_none(),
        reason,
    }
}

/// One project while the list is built.
#[derive(Debug, Clone, Copy)]
struct ProjectEntry {
    run_count: Option<u64>,
    newest_ms: Option<i64>,
    live: bool,
}

/// Unix ms as run start times are written (to the second).
fn instant(ms: i64) -> Option<shared::Timestamp> {
    chrono::DateTime::from_timestamp_millis(ms).map(crate::sampling::timestamp_seconds)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;
    use crate::config::{Auth, Config};
    use crate::hub::{Record, Recorder, RunSummary};
    use crate::sampling::HostSample;
    use crate::store::{Retention, Store, StoreConfig};

    const T0: i64 = 1_790_000_000_000;

    /// A pid the hub follows without asking /proc (`start_run`): a sample
    /// published never measures it, so its run stays live.
    const LIVE_PID: u32 = 4_000_000;

    /// A fresh directory for a store, removed when dropped.
    struct Scratch(std::path::PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir = std::env::temp_dir().join(format!("perfmon-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("scratch");
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn stored(name: &str, runs: u64, newest_start_ms: i64) -> StoredProject {
        StoredProject { name: name.into(), runs, newest_start_ms }
    }

    fn held(name: &str, live: bool, started_ms: Option<i64>) -> HubProject {
        HubProject { name: name.into(), live, started_ms }
    }

    fn names(p: &Projects) -> Vec<&str> {
        p.projects.iter().map(|p| p.name.as_str()).collect()
    }

    #[test]
    fn live_projects_come_first_then_the_newest_runs_then_those_without_a_run() {
        let list = merge(
            Ok(vec![stored("old", 4, T0), stored("recent", 1, T0 + 60_000), stored("live", 2, T0 - 1000)]),
            vec![
                held("live", true, Some(T0 + 5000)),
                held("watched", false, None),
                held("a-watched", false, None),
            ],
        );
        assert_eq!(names(&list), ["live", "recent", "old", "a-watched", "watched"]);
        assert!(list.stored && list.reason.is_none());
        let live = &list.projects[0];
        assert!(live.live);
        assert_eq!(live.run_count, Some(2));
        assert_eq!(
            live.last_run_started_at.as_ref().map(|t| t.as_str()),
            Some("2026-09-21T14:13:25Z"),
            "the hub's run started after the store's newest"
        );
        assert_eq!(list.projects[3].run_count, Some(0), "recorded, with no run yet");
        assert_eq!(list.projects[3].last_run_started_at, None);
    }

    #[test]
    fn without_a_store_the_hubs_projects_are_listed_and_the_answer_says_why() {
        let list =
            merge(Err(NO_STORE.into()), vec![held("b", false, Some(T0)), held("a", true, Some(T0 - 1))]);
        assert_eq!(names(&list), ["a", "b"]);
        assert!(!list.stored);
        assert_eq!(list.reason.as_deref(), Some(NO_STORE));
        assert!(list.projects.iter().all(|p| p.run_count.is_none()), "nothing recorded: not counted");
    }

    /// A store in `dir` with one ended run of `ended` and two of `live`, the
    /// second of them live in the hub now.
    fn recorded(dir: &Scratch, config: &Config) -> (Arc<Hub>, Store) {
        let store =
            Store::open(&StoreConfig { dir: dir.0.clone(), retention: Retention::default() }).expect("open");
        let at = |ms| chrono::DateTime::from_timestamp_millis(ms).expect("instant");
        for (project, pid, started) in [("ended", 11, T0), ("live", 12, T0 - 60_000)] {
            let mut run = RunSummary::started(format!("{pid}-x"), project.into(), None, pid, at(started));
            run.end(at(started + 1000), shared::api::RunOutcome::Exited);
            store.record(Record::Run(run));
        }
        let hub = Hub::new(config.live_interval, config.idle_interval, config.history_window);
        let hub = Arc::new(hub.with_recorder(Arc::new(store.clone())));
        hub.start_run(&ProjectName::parse("live").expect("name"), LIVE_PID, None).expect("started");
        // No sample is published: a recorded project's run reads live before
        // the hub pushes its first frame.
        assert!(store.flush(Duration::from_secs(30)), "written");
        (hub, store)
    }

    async fn get(router: axum::Router, path: &str, token: Option<&str>) -> (StatusCode, serde_json::Value) {
        let mut request = Request::get(path).header("host", "localhost:8000");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = router.oneshot(request.body(Body::empty()).expect("request")).await.expect("response");
        let status = response.status();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        (status, serde_json::from_slice(&bytes).expect("JSON"))
    }

    fn router(config: &Config, hub: Arc<Hub>, store: Option<Store>) -> axum::Router {
        crate::app(AppState::with_store(
            config,
            hub,
            crate::web::Services { store, ..crate::web::Services::default() },
            tokio_util::sync::CancellationToken::new(),
        ))
    }

    #[tokio::test]
    async fn two_recorded_projects_one_live_are_listed_with_their_runs() {
        let dir = Scratch::new("web-projects");
        let config = Config::default();
        let (hub, store) = recorded(&dir, &config);
        let (status, body) = get(router(&config, hub, Some(store.clone())), "/api/projects", None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let list: Projects = serde_json::from_value(body).expect("Projects");
        assert_eq!(names(&list), ["live", "ended"], "the live one first");
        let [live, ended] = &list.projects[..] else { panic!("two projects: {list:?}") };
        assert!(live.live && !ended.live);
        assert_eq!(
            (live.run_count, ended.run_count),
            (Some(2), Some(1)),
            "the registered run is recorded too"
        );
        assert!(live.last_run_started_at.is_some(), "the registered run's start");
        assert_eq!(ended.last_run_started_at.as_ref().map(|t| t.as_str()), Some("2026-09-21T14:13:20Z"));
        assert!(list.stored);
        store.close(Duration::from_secs(10));
    }

    #[tokio::test]
    async fn without_a_store_the_live_projects_are_listed_and_it_says_so() {
        let config = Config::default();
        let hub = crate::hub_for(&config);
        hub.start_run(&ProjectName::parse("solo").expect("name"), LIVE_PID, None).expect("started");
        // The hub's own list holds a project once a sample is pushed for it.
        hub.publish(HostSample::default());
        let (status, body) = get(router(&config, hub, None), "/api/projects", None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["stored"], false);
        assert_eq!(body["reason"], NO_STORE);
        assert_eq!(body["projects"][0]["name"], "solo");
        assert_eq!(body["projects"][0]["live"], true);
        assert_eq!(body["projects"][0]["run_count"], serde_json::Value::Null);
        assert_eq!(body["projects"].as_array().map(Vec::len), Some(1));
    }

    #[tokio::test]
    async fn a_configured_token_is_required_and_unknown_parameters_are_refused() {
        let config =
            Config { auth: Auth { token: Some("s3cret".into()), jwt_secret: None }, ..Config::default() };
        let hub = crate::hub_for(&config);
        let (status, body) = get(router(&config, hub.clone(), None), "/api/projects", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["code"], "unauthorized");
        let (status, _) = get(router(&config, hub.clone(), None), "/api/projects", Some("wrong")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, body) = get(router(&config, hub.clone(), None), "/api/projects", Some("s3cret")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) =
            get(router(&config, hub.clone(), None), "/api/projects?token=s3cret", None).await;
        assert_eq!(status, StatusCode::OK, "the page's token in the query: {body}");
        let (status, body) = get(router(&config, hub, None), "/api/projects?limit=5", Some("s3cret")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["code"], "unknown_parameter");
    }

    #[tokio::test]
    async fn with_projects_set_only_those_are_listed() {
        let dir = Scratch::new("web-projects-allowed");
        let config =
            Config { projects: Some(vec![ProjectName::parse("ended").expect("name")]), ..Config::default() };
        let (hub, store) = recorded(&dir, &config);
        let (status, body) = get(router(&config, hub, Some(store.clone())), "/api/projects", None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let list: Projects = serde_json::from_value(body).expect("Projects");
        assert_eq!(names(&list), ["ended"], "the only project that may be watched");
        store.close(Duration::from_secs(10));
    }

    #[tokio::test]
    async fn health_says_how_far_back_history_goes() {
        let dir = Scratch::new("web-keeps");
        let retention = Retention { hour: Duration::from_secs(90 * 86_400), ..Retention::default() };
        let store = Store::open(&StoreConfig { dir: dir.0.clone(), retention }).expect("open");
        let config = Config::default();
        let (_, body) =
            get(router(&config, crate::hub_for(&config), Some(store.clone())), "/api/health", None).await;
        assert_eq!(body["store"]["keeps_s"], 90 * 86_400, "the longest tier's retention: {body}");
        store.close(Duration::from_secs(10));
        let (_, body) = get(router(&config, crate::hub_for(&config), None), "/api/health", None).await;
        assert_eq!(body["store"]["state"], "off");
        assert!(body["store"].get("keeps_s").is_none(), "no store, no span: {body}");
    }
}
