//! PerfMon's server: samples the machine once per tick and pushes the same
//! `perf_metrics` message to every WebSocket client of `/ws/projects/{project}`.
//!
//! # Layout
//! - [`sampler`]: reads CPU, memory (sysinfo), network ([`netdev`]), disk
//!   ([`diskstats`]), PerfMon's own cost ([`selfcost`]), GPUs
//!   ([`gpu`], NVML) and run process trees ([`proctree`]) on a blocking thread; one
//!   [`sampler::HostSampler`] for the whole server; rates come from [`rates`].
//! - [`hub`]: each project's run, tokens, history ring and `watch` channel of
//!   serialised frames; the sampler publishes into it once per tick, sockets
//!   subscribe to it.
//! - [`ws`]: the socket task: replays history, forwards frames, answers `ping`,
//!   reports bad input.
//! - [`api`]: the HTTP API (runs, pause/resume, tokens, latest sample) and
//!   [`prometheus`] (`GET /metrics`).
//! - [`auth`]: tokens (static or HS256 JWT) and the WebSocket Origin check.
//! - [`project`]: validated project names; [`client`]: the API client `perfmon run` uses.
//! - [`app`] builds the [`axum::Router`] (also used by tests with `oneshot`);
//!   [`run`] serves it on a listener until a shutdown future resolves.
//!
//! The binary (`src/main.rs`, `perfmon`) only parses arguments and calls [`run`].

pub mod api;
pub mod auth;
pub mod client;
pub mod diskstats;
pub mod gpu;
pub mod hub;
pub mod netdev;
pub mod proctree;
pub mod project;
pub mod prometheus;
pub mod rates;
pub mod sampler;
pub mod selfcost;
pub mod ws;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::services::{ServeDir, ServeFile};

use crate::auth::Auth;
use crate::hub::Hub;
use crate::project::ProjectName;

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
    /// Credentials clients must present; none means loopback-only.
    pub auth: Auth,
    /// Browser origins allowed to open the stream besides the server's own.
    pub allowed_origins: Vec<String>,
    /// When set, the only projects that may be watched.
    pub projects: Option<Vec<ProjectName>>,
    /// The most WebSockets open at once; more get 503.
    pub max_connections: usize,
    /// How often the server pings each client.
    pub ping_interval: Duration,
    /// A client silent this long (no pong, no message) is dropped.
    pub client_timeout: Duration,
    /// A send that takes longer than this drops the client (it stopped reading).
    pub send_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            static_dir: None,
            live_interval: Duration::from_secs(1),
            idle_interval: Duration::from_secs(3),
            history_window: Duration::from_secs(600),
            auth: Auth::default(),
            allowed_origins: Vec::new(),
            projects: None,
            max_connections: 1024,
            ping_interval: Duration::from_secs(20),
            client_timeout: Duration::from_secs(60),
            send_timeout: Duration::from_secs(10),
        }
    }
}

impl Config {
    /// Refuses to serve `addr` beyond loopback without authentication.
    pub fn check_exposure(&self, addr: SocketAddr) -> Result<(), ServeError> {
        if addr.ip().is_loopback() || self.auth.is_enabled() {
            Ok(())
        } else {
            Err(ServeError::Unauthenticated(addr))
        }
    }
}

/// Why the server would not start or stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A non-loopback address without authentication would expose the machine.
    #[error(
        "refusing to listen on {0} without authentication: anyone who can reach it could watch \
         this machine. Pass --token (or --jwt-secret), or bind to 127.0.0.1"
    )]
    Unauthenticated(SocketAddr),
    /// The listener failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Shared by every request handler and socket task.
#[derive(Debug)]
pub struct AppState {
    /// Projects, their runs and their frame channels.
    pub hub: Hub,
    /// Cancelled on shutdown; every socket task watches it because axum's graceful
    /// shutdown does not end upgraded connections by itself.
    pub shutdown: CancellationToken,
    /// Limits, credentials and the frontend's location.
    pub config: Config,
    /// WebSockets open now.
    connections: AtomicUsize,
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
    /// State for a server with `config`; `shutdown` ends every socket.
    pub fn new(config: &Config, shutdown: CancellationToken) -> Arc<Self> {
        Arc::new(AppState {
            hub: Hub::new(config.live_interval, config.idle_interval, config.history_window),
            shutdown,
            config: config.clone(),
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
/// (behind the token check), a health check, and the built frontend.
pub fn app(state: Arc<AppState>) -> Router {
    let protected = Router::new()
        .route("/api/projects/{project}/run", get(api::get_run).post(api::register_run).delete(api::end_run))
        .route("/api/projects/{project}/run/pause", post(api::pause_run))
        .route("/api/projects/{project}/run/resume", post(api::resume_run))
        .route("/api/projects/{project}/tokens", post(api::add_tokens))
        .route("/api/projects/{project}/metrics", get(api::latest))
        .route("/metrics", get(api::prometheus))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    let router = Router::new()
        // The socket checks its token itself, to close with 4001 and a reason the
        // browser can show.
        .route("/ws/projects/{project}", get(ws::handler))
        .route("/api/health", get(health))
        .merge(protected)
        .with_state(state.clone());
    match state.config.static_dir.as_deref() {
        // Unknown paths fall back to index.html so the app can own its URLs.
        Some(dir) if dir.join("index.html").is_file() => {
            router.fallback_service(ServeDir::new(dir).fallback(ServeFile::new(dir.join("index.html"))))
        }
        _ => router.fallback(frontend_missing),
    }
}

/// 401 with a JSON error unless the request carries a valid token.
async fn require_token(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    request: Request,
    next: Next,
) -> Response {
    match state.config.auth.check(&headers, query.as_deref()) {
        Ok(()) => next.run(request).await,
        Err(err) => {
            let body =
                shared::api::ApiError { code: "unauthorized".into(), field: None, message: err.to_string() };
            (StatusCode::UNAUTHORIZED, [("www-authenticate", "Bearer")], Json(body)).into_response()
        }
    }
}

async fn health(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    Json(serde_json::json!({
        "status": "ok",
        "protocol": shared::PROTOCOL_VERSION,
        "connections": state.connections(),
    }))
}

async fn frontend_missing() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        "PerfMon's frontend is not built here. Build it with \
         `trunk build --release --config trunk.toml` (or run `scripts/run.sh`), \
         then start `perfmon serve --static-dir dist`.\n",
    )
}

/// Runs the sampler until shutdown, restarting it if its task dies (a panic
/// outside the blocking reads, which the sampler catches itself), and telling
/// clients when that happens.
async fn supervise_sampler(state: Arc<AppState>, shutdown: CancellationToken) {
    loop {
        let task = tokio::spawn(sampler::run(state.clone(), shutdown.clone()));
        match task.await {
            Ok(()) => return,
            Err(err) => {
                tracing::error!("sampler task died, restarting it: {err}");
                state.hub.broadcast_error(shared::ErrorMsg {
                    code: shared::ErrorCode::SamplerRestarted,
                    message: "the sampler stopped and was restarted; data resumes next tick".into(),
                });
                // Do not spin if it dies at once every time.
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Serves PerfMon on `listener` until `shutdown` resolves, then closes every socket
/// (code 1001), stops the sampler and returns. Refuses a non-loopback listener
/// unless `config.auth` is set.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    config.check_exposure(listener.local_addr()?)?;
    let token = CancellationToken::new();
    let state = AppState::new(&config, token.clone());
    let sampler = tokio::spawn(supervise_sampler(state.clone(), token.clone()));

    let trigger = token.clone();
    tokio::spawn(async move {
        shutdown.await;
        trigger.cancel();
    });

    let served =
        axum::serve(listener, app(state)).with_graceful_shutdown(token.clone().cancelled_owned()).await;
    // Whatever ended serving, the sampler must not outlive it.
    token.cancel();
    if let Err(err) = sampler.await {
        tracing::error!("sampler task failed: {err}");
    }
    Ok(served?)
}
