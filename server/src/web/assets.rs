//! The built frontend at `/`: files from the static directory, with unknown paths
//! falling back to `index.html` so the app can own its URLs; without a built
//! frontend, a short page saying how to build it.

use std::path::Path;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use tower_http::services::{ServeDir, ServeFile};

/// `router` with the frontend in `dir` (if built there) as its fallback.
pub fn serve<S: Clone + Send + Sync + 'static>(router: Router<S>, dir: Option<&Path>) -> Router<S> {
    match dir {
        Some(dir) if dir.join("index.html").is_file() => {
            router.fallback_service(ServeDir::new(dir).fallback(ServeFile::new(dir.join("index.html"))))
        }
        _ => router.fallback(not_built),
    }
}

async fn not_built() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        Html(
            "<!doctype html><title>PerfMon</title><p>PerfMon's frontend is not built here. Build it with \
             <code>trunk build --release --config trunk.toml</code> (or run <code>scripts/run.sh</code>), \
             then start <code>perfmon serve --static-dir dist</code>.</p>\n",
        ),
    )
}
