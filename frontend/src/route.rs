//! Which page the URL asks for, and the URLs the pages link to. Pages are real
//! URLs the server answers with the app (`/projects/{p}/runs/{run_id}`), so a
//! reload or a shared link opens the same page; links are plain anchors.

/// A page of the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/` (`?project=NAME`), or `/projects/NAME`: the project's dashboard.
    Dashboard {
        /// The project watched.
        project: String,
    },
    /// `/projects/{project}/runs/{run_id}`: one run's report.
    RunReport {
        /// The run's project.
        project: String,
        /// The run.
        run_id: String,
    },
    /// `/settings` (`?project=NAME`): what the server runs with, read-only;
    /// the project is the one its links go back to.
    Settings {
        /// The project the page came from.
        project: String,
    },
    /// Any other path.
    NotFound,
}

/// The project watched when the URL names none (`?project=NAME`).
pub const DEFAULT_PROJECT: &str = "default";

impl Route {
    /// The page for `path` with query `?project=` (absent or empty: the default).
    pub fn parse(path: &str, project: Option<&str>) -> Route {
        let project = project.filter(|p| !p.is_empty()).unwrap_or(DEFAULT_PROJECT).to_owned();
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        match parts.as_slice() {
            [""] => Route::Dashboard { project },
            ["settings"] => Route::Settings { project },
            ["projects", p] if !p.is_empty() => Route::Dashboard { project: decode(p) },
            ["projects", p, "runs", run] if !p.is_empty() && !run.is_empty() => {
                Route::RunReport { project: decode(p), run_id: decode(run) }
            }
            _ => Route::NotFound,
        }
    }

    /// The page this window shows.
    pub fn current() -> Route {
        let Some(location) = web_sys::window().map(|w| w.location()) else { return Route::NotFound };
        Route::parse(&location.pathname().unwrap_or_default(), query_param("project").as_deref())
    }

    /// The project the page is about.
    pub fn project(&self) -> &str {
        match self {
            Route::Dashboard { project } | Route::RunReport { project, .. } | Route::Settings { project } => {
                project
            }
            Route::NotFound => DEFAULT_PROJECT,
        }
    }
}

/// `%XX`-decoded path segment (run ids carry `:`, which browsers may encode).
fn decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `%XX`-encoded for a URL's path or query (what `encodeURIComponent` keeps
/// stays as it is).
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A non-empty `?name=` value of the page URL.
pub fn query_param(name: &str) -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    let params = web_sys::UrlSearchParams::new_with_str(&search).ok()?;
    params.get(name).filter(|p| !p.is_empty())
}

/// The page's `?token=`, which every request and link of the page carries on.
pub fn token() -> Option<String> {
    query_param("token")
}

/// Sets (or with `None` removes) `?name=` values of the page's URL in place,
/// keeping the others and adding no history entry: what the page shows (its
/// range, its zoom) survives a reload and travels with a copied link.
pub fn replace_query(values: &[(&str, Option<String>)]) {
    let Some(window) = web_sys::window() else { return };
    let location = window.location();
    let Ok(params) = web_sys::UrlSearchParams::new_with_str(&location.search().unwrap_or_default()) else {
        return;
    };
    for (name, value) in values {
        match value {
            Some(value) => params.set(name, value),
            None => params.delete(name),
        }
    }
    let query = String::from(params.to_string());
    let url = format!(
        "{}{}{query}{}",
        location.pathname().unwrap_or_default(),
        if query.is_empty() { "" } else { "?" },
        location.hash().unwrap_or_default()
    );
    if let Ok(history) = window.history() {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
    }
}

/// The dashboard of `project`, keeping the page's token.
pub fn dashboard_href(project: &str, token: Option<&str>) -> String {
    let mut href = format!("/?project={}", encode(project));
    if let Some(token) = token {
        href.push_str(&format!("&token={}", encode(token)));
    }
    href
}

/// The report of `run_id`, keeping the page's token.
pub fn report_href(project: &str, run_id: &str, token: Option<&str>) -> String {
    let mut href = format!("/projects/{}/runs/{}", encode(project), encode(run_id));
    if let Some(token) = token {
        href.push_str(&format!("?token={}", encode(token)));
    }
    href
}

/// The settings page, coming from `project`, keeping the page's token.
pub fn settings_href(project: &str, token: Option<&str>) -> String {
    let mut href = format!("/settings?project={}", encode(project));
    if let Some(token) = token {
        href.push_str(&format!("&token={}", encode(token)));
    }
    href
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_their_pages() {
        assert_eq!(Route::parse("/", None), Route::Dashboard { project: "default".into() });
        assert_eq!(Route::parse("/", Some("demo")), Route::Dashboard { project: "demo".into() });
        assert_eq!(Route::parse("/", Some("")), Route::Dashboard { project: "default".into() });
        assert_eq!(
            Route::parse("/projects/demo/runs/42-2026-11-25T08%3A00%3A00Z", Some("other")),
            Route::RunReport { project: "demo".into(), run_id: "42-2026-11-25T08:00:00Z".into() }
        );
        assert_eq!(Route::parse("/projects/demo/runs/", None), Route::NotFound);
        assert_eq!(Route::parse("/projects/my%20app", None), Route::Dashboard { project: "my app".into() });
        assert_eq!(
            Route::parse("/projects/demo/", Some("other")),
            Route::Dashboard { project: "demo".into() }
        );
        assert_eq!(Route::parse("/nope", None), Route::NotFound);
        assert_eq!(Route::parse("/settings", Some("demo")), Route::Settings { project: "demo".into() });
        assert_eq!(Route::parse("/settings/", None), Route::Settings { project: "default".into() });
    }

    #[test]
    fn links_round_trip_and_keep_the_token() {
        let href = report_href("demo", "42-2026-11-25T08:00:00Z", Some("a b"));
        assert_eq!(href, "/projects/demo/runs/42-2026-11-25T08%3A00%3A00Z?token=a%20b");
        let path = href.split('?').next().unwrap_or_default();
        assert_eq!(
            Route::parse(path, None),
            Route::RunReport { project: "demo".into(), run_id: "42-2026-11-25T08:00:00Z".into() }
        );
        assert_eq!(dashboard_href("demo", None), "/?project=demo");
        assert_eq!(settings_href("my app", Some("t")), "/settings?project=my%20app&token=t");
    }
}
