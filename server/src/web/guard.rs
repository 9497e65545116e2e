//! Who may talk to PerfMon from a browser, checked on every route before
//! anything else:
//!
//! - **Host allowlist** (against DNS rebinding, CVE-2024-28224's kind): a
//!   request's `Host` must name this server — `localhost`, `127.0.0.1`, `[::1]` or
//!   the address it is bound to, with the port it listens on — or a name given with
//!   `--allowed-host` (for a reverse proxy). A page whose own name was re-pointed at
//!   127.0.0.1 sends its own name, and is refused. The check fails closed: a
//!   request that names no host (HTTP/1.1 requires one), names one in bytes
//!   that are not text, or names two, is refused like a foreign name.
//! - **No cross-site state change** (CVE-2025-30359/30360's kind): a request other
//!   than GET/HEAD is refused when it carries an `Origin` that is not PerfMon's own
//!   (an allowed host with its port, never taken from the request's `Host`) or
//!   `--allow-origin`, or `Sec-Fetch-Site: cross-site`/`same-site`. A WebSocket
//!   upgrade is held to the same Origin rule.
//! - `Origin: null` (sandboxed frames, `file://` pages) is refused everywhere.
//!
//! Requests without these headers (curl, scripts, the `perfmon` CLI) are not
//! browsers' and pass; the credential rules ([`super::auth`]) still apply.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{HOST, ORIGIN, UPGRADE};
use axum::http::uri::Authority;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;

/// `--allowed-host any`: no Host check (logged as a warning at start).
pub const ANY_HOST: &str = "any";

/// What one `--allowed-host` value allows.
enum Allowed {
    /// `any`: every host.
    Any,
    /// A name (lowercased), with its port if one was given.
    Named(String, Option<u16>),
}

/// The non-empty `--allowed-host` values, trimmed.
fn entries(allowed: &[String]) -> impl Iterator<Item = &str> {
    allowed.iter().map(|a| a.trim()).filter(|a| !a.is_empty())
}

/// What `value` allows; `None` when it names no host (a scheme, a path, a space).
fn allowed_entry(value: &str) -> Option<Allowed> {
    if value.eq_ignore_ascii_case(ANY_HOST) {
        return Some(Allowed::Any);
    }
    if value.contains('/') {
        return None;
    }
    let authority = value.parse::<Authority>().ok()?;
    Some(Allowed::Named(authority.host().to_ascii_lowercase(), authority.port_u16()))
}

/// The hosts a request may name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRules {
    /// `--allowed-host any`: every host.
    any: bool,
    /// The port the server listens on.
    port: u16,
    /// Names that must come with `port`: loopback names and the bound address.
    local: Vec<String>,
    /// `--allowed-host` names, with their port if one was given.
    named: Vec<(String, Option<u16>)>,
}

impl HostRules {
    /// The rules for a server listening on `listen` with `--allowed-host` values
    /// `allowed`.
    pub fn new(listen: SocketAddr, allowed: &[String]) -> Self {
        let mut local: Vec<String> = ["localhost", "127.0.0.1", "[::1]"].map(String::from).to_vec();
        let bound = match listen.ip() {
            std::net::IpAddr::V4(ip) => ip.to_string(),
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        };
        if !listen.ip().is_unspecified() && !local.contains(&bound) {
            local.push(bound);
        }
        let mut rules = HostRules { any: false, port: listen.port(), local, named: Vec::new() };
        for entry in entries(allowed).filter_map(allowed_entry) {
            match entry {
                Allowed::Any => rules.any = true,
                Allowed::Named(host, port) => rules.named.push((host, port)),
            }
        }
        rules
    }

    /// The first of `allowed` that names no host (`https://x`, `a b`): PerfMon
    /// refuses to start with it rather than quietly allow less than was asked.
    pub fn unusable(allowed: &[String]) -> Option<String> {
        entries(allowed).find(|a| allowed_entry(a).is_none()).map(str::to_owned)
    }

    /// Whether every host is allowed.
    pub fn any(&self) -> bool {
        self.any
    }

    /// Whether `authority` (`host[:port]`, the port `default_port` when absent)
    /// names this server.
    pub fn allows(&self, authority: &str, default_port: u16) -> bool {
        if self.any {
            return true;
        }
        let Ok(authority) = authority.parse::<Authority>() else { return false };
        let host = authority.host().to_ascii_lowercase();
        let port = authority.port_u16().unwrap_or(default_port);
        (port == self.port && self.local.contains(&host))
            || self
                .named
                .iter()
                .any(|(name, named_port)| *name == host && named_port.is_none_or(|p| p == port))
    }

    /// Whether `origin` (`scheme://host[:port]`) is PerfMon's own page.
    pub fn own_origin(&self, origin: &str) -> bool {
        let (authority, default_port) = if let Some(rest) = origin.strip_prefix("http://") {
            (rest, 80)
        } else if let Some(rest) = origin.strip_prefix("https://") {
            (rest, 443)
        } else {
            return false;
        };
        !self.any && self.allows(authority, default_port)
    }
}

/// Why a request was refused.
fn refuse(code: &'static str, message: String) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, code, message)
}

/// The middleware on every route.
pub async fn check(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    match judge(
        &state.hosts,
        &state.config.allowed_origins,
        request.method(),
        request.headers(),
        request.uri(),
    ) {
        Ok(()) => next.run(request).await,
        Err(refusal) => refusal.into_response(),
    }
}

/// The host a request names: its one `Host` header, or the authority of its
/// target (HTTP/2's `:authority`, an absolute-form URI); why not, when it names
/// none that can be read.
fn named_host(headers: &HeaderMap, uri: &axum::http::Uri) -> Result<String, &'static str> {
    let mut values = headers.get_all(HOST).iter();
    match (values.next(), values.next()) {
        (Some(_), Some(_)) => Err("a request with two Host headers"),
        (Some(value), None) => value.to_str().map(str::to_owned).map_err(|_| "a Host that is not text"),
        (None, _) => uri.authority().map(|a| a.to_string()).ok_or("a request without a Host"),
    }
}

/// The first of `allowed` (`--allow-origin`) that is no origin a browser
/// could send — `SCHEME://HOST[:PORT]` (a page's `https://…`, an extension's
/// `chrome-extension://…`, an IDE's `vscode-webview://…`; a trailing `/` is
/// taken off when compared), and never the default port of http or https,
/// which browsers leave out: PerfMon refuses to start with it rather than
/// quietly never match, which leaves an embedding refused with no hint why.
pub fn unusable_origin(allowed: &[String]) -> Option<String> {
    allowed.iter().find(|origin| !is_origin(origin.trim_end_matches('/'))).cloned()
}

fn is_origin(text: &str) -> bool {
    let Some((scheme, authority)) = text.split_once("://") else { return false };
    // RFC 3986's scheme: a letter, then letters, digits, `+`, `-` or `.`.
    let scheme_ok = scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    };
    scheme_ok
        && !authority.contains('@')
        && authority.parse::<Authority>().is_ok_and(|a| {
            a.as_str() == authority
                && !a.host().is_empty()
                && (a.port_u16().is_none() || a.port_u16() != default_port)
        })
}

fn judge(
    hosts: &HostRules,
    allowed_origins: &[String],
    method: &Method,
    headers: &HeaderMap,
    uri: &axum::http::Uri,
) -> Result<(), ApiError> {
    let host = named_host(headers, uri);
    if !hosts.any() && !host.as_ref().is_ok_and(|host| hosts.allows(host, 80)) {
        let shown = match &host {
            Ok(host) => format!("Host {:?}", host.chars().take(100).collect::<String>()),
            Err(what) => what.to_string(),
        };
        return Err(refuse(
            "host_not_allowed",
            format!(
                "{shown} does not name this PerfMon; if you reach it by that name (a reverse proxy), start \
                 perfmon with --allowed-host NAME"
            ),
        ));
    }
    let host = host.ok();
    let origin = headers.get(ORIGIN).map(|o| o.to_str().unwrap_or("null").to_owned());
    if origin.as_deref() == Some("null") {
        return Err(refuse("origin_not_allowed", "requests from an opaque origin (null) are refused".into()));
    }
    let writes = !matches!(*method, Method::GET | Method::HEAD);
    let upgrade = headers.get(UPGRADE).is_some_and(|u| u.as_bytes().eq_ignore_ascii_case(b"websocket"));
    if (writes || upgrade)
        && let Some(origin) = &origin
    {
        let own = hosts.own_origin(origin)
            || (hosts.any()
                && origin.split_once("://").map(|(_, a)| Some(a) == host.as_deref()).unwrap_or(false))
            || allowed_origins.iter().any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin));
        if !own {
            let what = if upgrade { "open the stream" } else { "change anything" };
            return Err(refuse("origin_not_allowed", format!("this page's origin may not {what}")));
        }
    }
    if writes
        && let Some(site) = headers.get("sec-fetch-site").and_then(|s| s.to_str().ok())
        && matches!(site, "cross-site" | "same-site")
    {
        return Err(refuse("cross_site", "cross-site requests may not change anything".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn rules(allowed: &[&str]) -> HostRules {
        HostRules::new(
            "127.0.0.1:8000".parse().expect("addr"),
            &allowed.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        )
    }

    #[test]
    fn an_allowed_origin_that_no_browser_could_send_is_caught() {
        let list = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let good = [
            "https://ide.example.com",
            "http://localhost:3000",
            "https://ide.example.com/",
            "HTTPS://[::1]:8443",
            "vscode-webview://1abc2def",
            "chrome-extension://abcdefghijklmnop",
            "tauri://localhost",
        ];
        assert_eq!(unusable_origin(&list(&good)), None);
        for bad in [
            "not an origin",
            "javascript:alert(1)",
            "ide.example.com",
            "https://",
            "https://a/b",
            "1http://x",
            "https://u@x",
            "https://x:443",
            "http://x:80",
            "null",
        ] {
            assert_eq!(unusable_origin(&list(&["https://ok.example", bad])).as_deref(), Some(bad));
        }
    }

    #[test]
    fn an_allowed_host_that_names_no_host_is_caught() {
        let list = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(HostRules::unusable(&list(&["perf.example.com", "proxy:8443", "any", ""])), None);
        assert_eq!(
            HostRules::unusable(&list(&["ok.example", "https://perf.example.com"])).as_deref(),
            Some("https://perf.example.com")
        );
        assert_eq!(HostRules::unusable(&list(&["two words"])).as_deref(), Some("two words"));
    }

    #[test]
    fn loopback_names_with_the_listening_port_are_this_server() {
        let r = rules(&[]);
        for host in ["localhost:8000", "LOCALHOST:8000", "127.0.0.1:8000", "[::1]:8000"] {
            assert!(r.allows(host, 80), "{host}");
        }
        for host in [
            "attacker.example:8000",
            "localhost:9000",
            "localhost",
            "127.0.0.2:8000",
            "127.0.0.1.nip.io:8000",
        ] {
            assert!(!r.allows(host, 80), "{host}");
        }
        assert!(!r.allows("garbage host", 80));
    }

    #[test]
    fn the_bound_address_and_allowed_names_are_this_server_too() {
        let r = HostRules::new(
            "10.0.0.5:8000".parse().expect("addr"),
            &["perf.example.com".into(), "other:8443".into()],
        );
        assert!(r.allows("10.0.0.5:8000", 80));
        assert!(r.allows("perf.example.com", 443), "a proxy's name, any port");
        assert!(r.allows("PERF.example.com:8443", 443));
        assert!(r.allows("other:8443", 80) && !r.allows("other:9000", 80), "a given port is kept");
        let unspecified = HostRules::new("0.0.0.0:8000".parse().expect("addr"), &[]);
        assert!(!unspecified.allows("0.0.0.0:8000", 80), "0.0.0.0 is not a name anyone reaches it by");
        assert!(rules(&["any"]).allows("whatever.example:1", 80));
    }

    #[test]
    fn own_origins_come_from_the_allowed_hosts_never_the_request() {
        let r = rules(&["perf.example.com"]);
        assert!(r.own_origin("http://127.0.0.1:8000"));
        assert!(r.own_origin("http://localhost:8000"));
        assert!(r.own_origin("https://perf.example.com"));
        assert!(!r.own_origin("http://attacker.example:8000"));
        assert!(!r.own_origin("http://127.0.0.1:9999"));
        assert!(!r.own_origin("null"));
        assert!(!r.own_origin("chrome-extension://abc"));
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).expect("header value"));
        }
        h
    }

    fn verdict(method: Method, pairs: &[(&'static str, &str)]) -> Option<u16> {
        let uri: axum::http::Uri = "/api/projects/demo/run/pause".parse().expect("uri");
        judge(&rules(&[]), &["https://ide.example.com".into()], &method, &headers(pairs), &uri)
            .err()
            .map(|r| r.status.as_u16())
    }

    #[test]
    fn rebinding_cross_site_writes_and_opaque_origins_are_refused() {
        let own = ("host", "127.0.0.1:8000");
        assert_eq!(verdict(Method::GET, &[("host", "attacker.example:8000")]), Some(403));
        assert_eq!(verdict(Method::POST, &[own, ("origin", "http://evil.example")]), Some(403));
        assert_eq!(verdict(Method::DELETE, &[own, ("origin", "null")]), Some(403));
        assert_eq!(verdict(Method::GET, &[own, ("origin", "null")]), Some(403));
        assert_eq!(verdict(Method::POST, &[own, ("sec-fetch-site", "cross-site")]), Some(403));
        assert_eq!(verdict(Method::POST, &[own, ("sec-fetch-site", "same-site")]), Some(403));
        let upgrade = [own, ("upgrade", "websocket"), ("origin", "http://evil.example")];
        assert_eq!(verdict(Method::GET, &upgrade), Some(403));
        // PerfMon's own page, an allowed origin, and clients that are not browsers pass.
        assert_eq!(
            verdict(
                Method::POST,
                &[own, ("origin", "http://127.0.0.1:8000"), ("sec-fetch-site", "same-origin")]
            ),
            None
        );
        assert_eq!(verdict(Method::POST, &[own, ("origin", "https://ide.example.com")]), None);
        assert_eq!(verdict(Method::POST, &[own]), None);
        // Fails closed: no Host, two of them, or one that is not text.
        assert_eq!(verdict(Method::GET, &[]), Some(403), "no Host at all");
        assert_eq!(verdict(Method::GET, &[own, own]), Some(403), "two Hosts");
        let mut unreadable = headers(&[]);
        unreadable.insert(
            HOST,
            HeaderValue::from_bytes(b"127.0.0.1:8000\xff").expect("obs-text is a header value"),
        );
        let uri: axum::http::Uri = "/api/health".parse().expect("uri");
        let refused = judge(&rules(&[]), &[], &Method::GET, &unreadable, &uri).expect_err("refused");
        assert_eq!((refused.code, refused.message.contains("--allowed-host")), ("host_not_allowed", true));
        let any = judge(&rules(&["any"]), &[], &Method::GET, &headers(&[]), &uri);
        assert_eq!(any, Ok(()), "--allowed-host any: no Host check at all");
        // A cross-site GET reads nothing (no CORS headers are ever sent) and changes nothing.
        assert_eq!(verdict(Method::GET, &[own, ("origin", "http://evil.example")]), None);
    }
}
