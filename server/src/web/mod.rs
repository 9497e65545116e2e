//! The web layer, the only one that knows HTTP: [`app`] builds the router (also
//! used by tests with `oneshot`) over the shared [`AppState`].
//!
//! - [`ws`]: the `/ws/projects/{project}` socket, its reader and writer halves;
//!   [`perfwatch`]: PerfWatch's `/api/ws/metrics` stream over the same halves.
//! - [`api`]: the HTTP API; [`prometheus`]: `GET /metrics`; [`history`]: runs,
//!   run reports and history from the store; [`projects`]: the projects to
//!   switch between, from the store and the hub.
//! - [`guard`]: the Host allowlist and the browser-origin rules, on every route;
//!   [`auth`]: tokens, and the credential writes need; [`extract`]: the validated
//!   project name and JSON bodies; [`error`]: [`ApiError`], the one error shape.
//! - [`assets`]: the built frontend.
//! - [`listen`]: the accept loop, hyper's HTTP/1 with a deadline for headers.

mod alerts;
mod api;
mod assets;
mod auth;
mod error;
mod extract;
mod guard;
mod history;
pub mod listen;
mod perfwatch;
mod projects;
pub(crate) mod prometheus;
mod ws;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::State;
use axum::response::Json;
use axum::routing::{any, get, post};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::hub::Hub;
use crate::store::Store;
pub use assets::embedded_ui;
pub use error::ApiError;
pub use guard::{HostRules, unusable_origin};

/// Shared by every request handler and socket task.
#[derive(Debug)]
pub struct AppState {
    /// Projects, their runs and their frame channels.
    pub hub: Arc<Hub>,
    /// Cancelled on shutdown; every socket task watches it because axum's graceful
    /// shutdown does not end upgraded connections by itself.
    pub shutdown: CancellationToken,
    /// Limits, credentials and the frontend's location.
    pub config: Config,
    /// The hosts requests may name, from where the server listens.
    pub hosts: HostRules,
    /// What is remembered: runs and history; `None` with `--no-store`.
    pub store: Option<Store>,
    /// The alert rules and their delivery; `None` where none run (router tests).
    pub alerts: Option<crate::alerts::Alerting>,
    /// The remote-write senders; `None` without `--remote-write`.
    pub remote_write: Option<crate::fleet::RemoteWrite>,
    /// WebSockets open now.
    connections: AtomicUsize,
}

/// What the server runs besides the hub, for the API to read; each `None`
/// where it does not run.
#[derive(Debug, Clone, Default)]
pub struct Services {
    /// Runs and history (`None` with `--no-store`).
    pub store: Option<Store>,
    /// The alert rules and their delivery.
    pub alerts: Option<crate::alerts::Alerting>,
    /// The remote-write senders.
    pub remote_write: Option<crate::fleet::RemoteWrite>,
}

/// One open WebSocket's place under [`Config::max_connections`]; freed on drop.
#[derive(Debug)]
pub struct ConnectionSlot(Arc<AppState>);

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::AcqRel);
    }
}

impl AppState {
    /// State for a server with `config` over `hub`; `shutdown` ends every socket.
    pub fn new(config: &Config, hub: Arc<Hub>, shutdown: CancellationToken) -> Arc<Self> {
        Self::with_store(config, hub, Services::default(), shutdown)
    }

    /// State for a server with `config` over `hub`, answering history,
    /// alerts and the push's health from `services`.
    pub fn with_store(
        config: &Config,
        hub: Arc<Hub>,
        services: Services,
        shutdown: CancellationToken,
    ) -> Arc<Self> {
        let hosts = HostRules::new(config.listen, &config.allowed_hosts);
        let Services { store, alerts, remote_write } = services;
        Arc::new(AppState {
            hub,
            shutdown,
            config: config.clone(),
            hosts,
            store,
            alerts,
            remote_write,
            connections: AtomicUsize::new(0),
        })
    }

    /// WebSockets open now.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Acquire)
    }

    /// A slot for one more WebSocket, unless the limit is reached.
    pub fn try_connect(self: &Arc<Self>) -> Option<ConnectionSlot> {
        let max = self.config.max_connections;
        self.connections
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1))
            .ok()
            .map(|_| ConnectionSlot(self.clone()))
    }
}

/// The HTTP surface: the WebSocket stream, the HTTP API and Prometheus metrics
/// (behind the token check; writes behind the control credential), a health
/// check, and the built frontend — every route behind the Host and Origin guard.
pub fn app(state: Arc<AppState>) -> Router {
    // Refused when given any query parameter: they take none. (`/metrics` and
    // `/api/health` are left to the scrapers and health checkers that add
    // parameters of their own.)
    let takes_none = Router::new()
        .route("/api/projects/{project}/run", get(api::get_run).post(api::register_run).delete(api::end_run))
        .route("/api/projects/{project}/run/pause", post(api::pause_run))
        .route("/api/projects/{project}/run/resume", post(api::resume_run))
        .route("/api/projects/{project}/tokens", post(api::add_tokens))
        .route("/api/projects/{project}/metrics", get(api::latest))
        .route("/api/projects/{project}/runs/{run_id}/exit", post(history::exit))
        .route("/api/alerts/silence", post(alerts::silence))
        .route("/api/settings", get(alerts::settings))
        .route_layer(axum::middleware::from_fn(history::takes_no_parameters));
    let protected = Router::new()
        .route("/api/projects", get(projects::list))
        .route("/api/projects/{project}/runs", get(history::runs))
        .route("/api/projects/{project}/runs/{run_id}", get(history::report))
        .route("/api/history", get(history::history))
        .route("/api/alerts", get(alerts::list))
        .route("/metrics", get(api::prometheus))
        .merge(takes_none)
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_write_credential))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_token));
    let router = Router::new()
        // The socket checks its token itself, to close with 4001 and a reason the
        // browser can show.
        .route(&format!("{}{{project}}", shared::STREAM_PATH_PREFIX), get(ws::handler))
        .route(shared::perfwatch::PERFWATCH_PATH, get(perfwatch::handler))
        .route("/api/health", get(health))
        .merge(protected)
        // Unknown API paths are JSON errors, never the frontend's page.
        .route("/api", any(|| async { ApiError::not_found() }))
        .route("/api/", any(|| async { ApiError::not_found() }))
        .route("/api/{*rest}", any(|| async { ApiError::not_found() }))
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .with_state(state.clone());
    assets::serve(router, state.config.static_dir.as_deref())
        .layer(axum::middleware::from_fn_with_state(state, guard::check))
}

async fn health(State(state): State<Arc<AppState>>) -> Json<shared::api::Health> {
    Json(shared::api::Health {
        status: "ok".into(),
        protocol: shared::PROTOCOL_VERSION,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        commit: env!("PERFMON_COMMIT").to_owned(),
        connections: state.connections() as u64,
        store: Some(match &state.store {
            Some(store) => store.health(),
            None => shared::api::StoreHealth {
                state: "off".into(),
                reason: None,
                dropped_samples: 0,
                keeps_s: None,
            },
        }),
        remote_write: state.remote_write.as_ref().map(crate::fleet::RemoteWrite::health).unwrap_or_default(),
    })
}
