//! PerfMon's server: samples the machine once per tick and pushes the same
//! `perf_metrics` message to every WebSocket client of `/ws/projects/{project}`.
//!
//! # Layout
//! - [`sampler`]: reads CPU, memory, network, disk (sysinfo, [`diskstats`]), GPUs
//!   ([`gpu`], NVML) and run process trees ([`proctree`]) on a blocking thread; one
//!   [`sampler::HostSampler`] for the whole server; rates come from [`rates`].
//! - [`hub`]: each project's run, tokens, history ring and `watch` channel of
//!   serialised frames; the sampler publishes into it once per tick, sockets
//!   subscribe to it.
//! - [`ws`]: the socket task: replays history, forwards frames, answers `ping`,
//!   reports bad input.
//! - [`api`]: the HTTP API (runs, pause/resume, tokens, latest sample) and
//!   [`prometheus`] (`GET /metrics`).
//! - [`project`]: validated project names; [`client`]: the API client `perfmon run` uses.
//! - [`app`] builds the [`axum::Router`] (also used by tests with `oneshot`);
//!   [`run`] serves it on a listener until a shutdown future resolves.
//!
//! The binary (`src/main.rs`, `perfmon`) only parses arguments and calls [`run`].

pub mod api;
pub mod client;
pub mod diskstats;
pub mod gpu;
pub mod hub;
pub mod proctree;
pub mod project;
pub mod prometheus;
pub mod rates;
pub mod sampler;
pub mod ws;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json};
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::services::{ServeDir, ServeFile};

use crate::hub::Hub;

/// How the server behaves; `Default` is what `perfmon serve` uses.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the built frontend (`trunk build` output) lives; `None` serves no UI.
    pub static_dir: Option<PathBuf>,
    /// Time between samples while any project's run is live.
    pub live_interval: Duration,
    /// Time between pushes to a project whose run is not live.
    pub idle_interval: Duration,
    /// How much history a new client receives on connect.
    pub history_window: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            static_dir: None,
            live_interval: Duration::from_secs(1),
            idle_interval: Duration::from_secs(3),
            history_window: Duration::from_secs(600),
        }
    }
}

/// Shared by every request handler and socket task.
#[derive(Debug)]
pub struct AppState {
    /// Projects, their runs and their frame channels.
    pub hub: Hub,
    /// Cancelled on shutdown; every socket task watches it because axum's graceful
    /// shutdown does not end upgraded connections by itself.
    pub shutdown: CancellationToken,
}

impl AppState {
    /// State for a server with the given cadence; `shutdown` ends every socket.
    pub fn new(config: &Config, shutdown: CancellationToken) -> Arc<Self> {
        Arc::new(AppState {
            hub: Hub::new(
                config.live_interval,
                config.idle_interval,
                config.history_window,
            ),
            shutdown,
        })
    }
}

/// The HTTP surface: the WebSocket stream, the HTTP API, Prometheus metrics, a
/// health check, and the built frontend.
pub fn app(state: Arc<AppState>, static_dir: Option<&std::path::Path>) -> Router {
    let router = Router::new()
        .route("/ws/projects/{project}", get(ws::handler))
        .route("/api/health", get(health))
        .route(
            "/api/projects/{project}/run",
            get(api::get_run)
                .post(api::register_run)
                .delete(api::end_run),
        )
        .route("/api/projects/{project}/run/pause", post(api::pause_run))
        .route("/api/projects/{project}/run/resume", post(api::resume_run))
        .route("/api/projects/{project}/tokens", post(api::add_tokens))
        .route("/api/projects/{project}/metrics", get(api::latest))
        .route("/metrics", get(api::prometheus))
        .with_state(state);
    match static_dir {
        // Unknown paths fall back to index.html so the app can own its URLs.
        Some(dir) if dir.join("index.html").is_file() => router
            .fallback_service(ServeDir::new(dir).fallback(ServeFile::new(dir.join("index.html")))),
        _ => router.fallback(frontend_missing),
    }
}

async fn health() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok", "protocol": shared::PROTOCOL_VERSION }))
}

async fn frontend_missing() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        "PerfMon's frontend is not built here. Build it with \
         `trunk build --release --config trunk.toml` (or run `scripts/run.sh`), \
         then start `perfmon serve --static-dir dist`.\n",
    )
}

/// Serves PerfMon on `listener` until `shutdown` resolves, then closes every socket
/// (code 1001), stops the sampler and returns.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let token = CancellationToken::new();
    let state = AppState::new(&config, token.clone());
    let sampler = tokio::spawn(sampler::run(state.clone(), token.clone()));

    let trigger = token.clone();
    tokio::spawn(async move {
        shutdown.await;
        trigger.cancel();
    });

    let router = app(state, config.static_dir.as_deref());
    let served = axum::serve(listener, router)
        .with_graceful_shutdown(token.clone().cancelled_owned())
        .await;
    // Whatever ended serving, the sampler must not outlive it.
    token.cancel();
    if let Err(err) = sampler.await {
        tracing::error!("sampler task failed: {err}");
    }
    served
}
