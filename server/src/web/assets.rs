//! The frontend at `/`: the copy embedded in the binary (`ui-assets`), or files
//! from `--static-dir` for frontend work; without either, a short page saying how
//! to build it, never a bare 404.
//!
//! Embedded files are served with the encoding the client prefers among brotli,
//! gzip and none (all made at build time), an `ETag` answered with 304 on
//! revalidation, `Cache-Control: immutable` for Trunk's content-hashed files and
//! `no-cache` for the rest (`index.html`, which names them). Paths that name no
//! file and look like none (no extension: `/projects/p/runs/r`) are the app's own
//! URLs and get `index.html`; `/api/…` never gets here.

use std::path::Path;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::handler::HandlerWithoutStateExt;
use axum::http::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_NONE_MATCH, VARY,
};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use tower_http::services::{ServeDir, ServeFile};
use ui_assets::{EmbedableFile, RustEmbed, Ui};

use super::error::ApiError;

/// `router` with the frontend as its fallback: from `dir` when given (and built
/// there), else the embedded copy, else the page saying how to build it.
pub fn serve<S: Clone + Send + Sync + 'static>(router: Router<S>, dir: Option<&Path>) -> Router<S> {
    match dir {
        Some(dir) if dir.join("index.html").is_file() => {
            let index = dir.join("index.html");
            // The same rule as the embedded copy: the app's URLs get `index.html`,
            // a file that is not there (a stale hashed name) a 404, not the page.
            let missing = move |method: Method, uri: Uri, request: Request| {
                let index = index.clone();
                async move {
                    if method != Method::GET && method != Method::HEAD {
                        return ApiError::method_not_allowed().into_response();
                    }
                    if app_url(uri.path().trim_start_matches('/')) {
                        match ServeFile::new(index).try_call(request).await {
                            Ok(page) => page.into_response(),
                            Err(_) => ApiError::internal().into_response(),
                        }
                    } else {
                        no_such_file()
                    }
                }
            };
            router.fallback_service(ServeDir::new(dir).fallback(missing.into_service()))
        }
        Some(_) => router.fallback(not_built),
        None if ui_assets::built() => router.fallback(embedded),
        None => router.fallback(not_built),
    }
}

/// Whether this binary carries the frontend.
pub fn embedded_ui() -> bool {
    ui_assets::built()
}

async fn not_built() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        Html(
            "<!doctype html><meta charset=\"utf-8\"><title>PerfMon</title>\
             <h1>PerfMon is running, but this build has no UI</h1>\
             <p>The binary was built before the frontend. Build both in one go with \
             <code>scripts/install.sh</code> (or <code>scripts/run.sh</code> in a checkout), or build the \
             frontend with <code>trunk build --release --config trunk.toml</code> and then the server. \
             For frontend work, <code>perfmon serve --static-dir dist</code> serves it from disk.</p>\
             <p>The stream and the API work meanwhile: <code>/ws/projects/{project}</code>, \
             <code>/api/health</code>, <code>/metrics</code>.</p>\n",
        ),
    )
}

fn no_such_file() -> Response {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such file").into_response()
}

/// A response encoding of an embedded file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Brotli,
    Gzip,
    Identity,
}

/// The encoding to send, given the request's `Accept-Encoding` and which
/// compressed copies exist: the client's preference by q-value, brotli on a tie.
fn negotiate(accept: Option<&str>, brotli: bool, gzip: bool) -> Encoding {
    let quality = |coding: &str| -> Option<f32> {
        accept?.split(',').find_map(|entry| {
            let mut parts = entry.split(';');
            let name = parts.next()?.trim();
            if !name.eq_ignore_ascii_case(coding) && name != "*" {
                return None;
            }
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok()))
                .unwrap_or(1.0);
            Some(q)
        })
    };
    let br = quality("br").filter(|q| brotli && *q > 0.0);
    let gz = quality("gzip").filter(|q| gzip && *q > 0.0);
    match (br, gz) {
        (Some(b), Some(g)) if g > b => Encoding::Gzip,
        (Some(_), _) => Encoding::Brotli,
        (None, Some(_)) => Encoding::Gzip,
        (None, None) => Encoding::Identity,
    }
}

/// Trunk names what it builds `name-<16 hex digits>.ext` (`…_bg.wasm` for the
/// wasm): such a file never changes, so browsers may keep it for good.
fn content_hashed(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let stem = name.split('.').next().unwrap_or(name);
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    stem.rsplit_once('-')
        .is_some_and(|(_, hash)| hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Whether a path that names no file is one of the app's own URLs: a run's
/// report (`projects/{p}/runs/{run_id}`, where a project name may hold dots) or
/// anything without an extension.
fn app_url(path: &str) -> bool {
    path.starts_with("projects/") || !path.rsplit('/').next().unwrap_or(path).contains('.')
}

async fn embedded(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return ApiError::method_not_allowed().into_response();
    }
    let path = uri.path().trim_start_matches('/');
    let path = if path.is_empty() { "index.html" } else { path };
    let file = match Ui::get(path) {
        Some(file) => file,
        None if app_url(path) => match Ui::get("index.html") {
            Some(index) => index,
            None => return not_built().await.into_response(),
        },
        None => return no_such_file(),
    };
    let etag = file.etag();
    let cache = if content_hashed(path) { "public, max-age=31536000, immutable" } else { "no-cache" };
    let mut response =
        Response::builder().header(ETAG, etag).header(CACHE_CONTROL, cache).header(VARY, "accept-encoding");
    let fresh = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag || tag.trim() == "*"));
    if fresh {
        return response.status(StatusCode::NOT_MODIFIED).body(Body::empty()).unwrap_or_default();
    }
    let accept = headers.get(ACCEPT_ENCODING).and_then(|v| v.to_str().ok());
    let (br, gz) = (file.data_br(), file.data_gzip());
    let (body, encoding) = match negotiate(accept, br.is_some(), gz.is_some()) {
        Encoding::Brotli => (br.unwrap_or_default(), Some("br")),
        Encoding::Gzip => (gz.unwrap_or_default(), Some("gzip")),
        Encoding::Identity => (file.data(), None),
    };
    if let Some(encoding) = encoding {
        response = response.header(CONTENT_ENCODING, encoding);
    }
    response = response
        .header(CONTENT_TYPE, file.mime_type().unwrap_or("application/octet-stream"))
        .header(CONTENT_LENGTH, body.len());
    let body = if method == Method::HEAD { Body::empty() } else { Body::from(body) };
    response.status(StatusCode::OK).body(body).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_preference_picks_the_encoding() {
        assert_eq!(negotiate(Some("gzip, deflate, br, zstd"), true, true), Encoding::Brotli);
        assert_eq!(negotiate(Some("gzip, deflate"), true, true), Encoding::Gzip);
        assert_eq!(negotiate(Some("br;q=0.5, gzip;q=0.9"), true, true), Encoding::Gzip);
        assert_eq!(negotiate(Some("br;q=0, gzip"), true, true), Encoding::Gzip);
        assert_eq!(negotiate(Some("*"), true, true), Encoding::Brotli);
        assert_eq!(negotiate(Some("identity"), true, true), Encoding::Identity);
        assert_eq!(negotiate(None, true, true), Encoding::Identity);
        assert_eq!(negotiate(Some("br"), false, true), Encoding::Identity, "no brotli copy, no gzip wanted");
    }

    #[test]
    fn trunks_hashed_files_are_kept_for_good_and_the_rest_revalidated() {
        assert!(content_hashed("frontend-cae10b8705e2f6d3_bg.wasm"));
        assert!(content_hashed("frontend-cae10b8705e2f6d3.js"));
        assert!(content_hashed("styles-481ab9430993fd3b.css"));
        assert!(!content_hashed("index.html"));
        assert!(!content_hashed("favicon.ico"));
        assert!(!content_hashed("my-file-name.js"));
    }

    #[test]
    fn extensionless_paths_are_the_apps_urls() {
        assert!(app_url("projects/demo/runs/123-2026-01-01T00:00:00Z"));
        assert!(app_url("projects/demo"));
        assert!(app_url("projects/my.project/runs/1-2026-01-01T00:00:00Z"));
        assert!(!app_url("frontend-0123456789abcdef.js"));
        assert!(!app_url("robots.txt"));
    }
}
