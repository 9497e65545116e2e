//! A small HTTP client for PerfMon's own API, used by `perfmon run` to find a
//! running server and register the command it launches.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Bytes;
pub use axum::http::Method;
use axum::http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// How long one API call may take before the server counts as absent.
const TIMEOUT: Duration = Duration::from_secs(3);

/// Why an API call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing answered, or not in time.
    #[error("no PerfMon server answered at {0}")]
    Unreachable(SocketAddr),
    /// The server answered with an error.
    #[error("PerfMon answered {status}: {}", readable(.body))]
    Refused {
        /// The HTTP status.
        status: StatusCode,
        /// The JSON error body.
        body: String,
    },
}

/// An error body as words for a terminal: the API's message (and the field at
/// fault), not its JSON; the body as it is when it is not the API's shape.
pub fn readable(body: &str) -> String {
    match serde_json::from_str::<shared::api::ApiError>(body) {
        Ok(err) => match err.field {
            Some(field) => format!("{} ({field})", err.message),
            None => err.message,
        },
        Err(_) => body.trim().to_owned(),
    }
}

/// Where to reach a server listening on `bind`: itself, but for an unspecified
/// address (`0.0.0.0`, `[::]`), which is no place to connect to and which the
/// Host check would refuse, the loopback address of its family.
pub fn reachable(bind: SocketAddr) -> SocketAddr {
    match bind.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => SocketAddr::from(([127, 0, 0, 1], bind.port())),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, bind.port()))
        }
        _ => bind,
    }
}

/// The page of the server listening on `bind`: the dashboard, or with
/// `project` that project's (`?project=NAME`, the name percent-encoded: project
/// names need none today, but a URL printed for a person to click must never
/// break on one).
pub fn page_url(bind: SocketAddr, project: Option<&str>) -> String {
    let base = format!("http://{}/", reachable(bind));
    match project {
        None => base,
        Some(name) => format!("{base}?project={}", percent_encoded(name)),
    }
}

/// `text` with every byte but RFC 3986's unreserved ones as `%XX`.
fn percent_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Talks to the PerfMon server at one address.
#[derive(Debug, Clone)]
pub struct ApiClient {
    /// Where the server listens.
    addr: SocketAddr,
    /// Plain HTTP/1: the API is on loopback.
    http: Client<HttpConnector, Full<Bytes>>,
    /// Sent as `Authorization: Bearer …` when the server wants one.
    token: Option<String>,
}

impl ApiClient {
    /// A client for the server listening on `addr` (reached on loopback when
    /// that is an unspecified address).
    pub fn new(addr: SocketAddr) -> Self {
        let addr = reachable(addr);
        ApiClient { addr, http: Client::builder(TokioExecutor::new()).build_http(), token: None }
    }

    /// The same client, authenticating with `token`.
    pub fn with_token(mut self, token: Option<String>) -> Self {
        self.token = token;
        self
    }

    /// Sends `method path` with an optional JSON body; the body text on 2xx.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        json: Option<String>,
    ) -> Result<String, ClientError> {
        let mut request = Request::builder().method(method).uri(format!("http://{}{path}", self.addr));
        if json.is_some() {
            request = request.header("content-type", "application/json");
        }
        if let Some(token) = &self.token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request
            .body(Full::new(Bytes::from(json.unwrap_or_default())))
            .map_err(|_| ClientError::Unreachable(self.addr))?;
        let unreachable = || ClientError::Unreachable(self.addr);
        let response = tokio::time::timeout(TIMEOUT, self.http.request(request))
            .await
            .map_err(|_| unreachable())?
            .map_err(|_| unreachable())?;
        let status = response.status();
        let body = tokio::time::timeout(TIMEOUT, response.into_body().collect())
            .await
            .map_err(|_| unreachable())?
            .map_err(|_| unreachable())?
            .to_bytes();
        let body = String::from_utf8_lossy(&body).into_owned();
        if status.is_success() { Ok(body) } else { Err(ClientError::Refused { status, body }) }
    }

    /// Waits up to `limit` for a PerfMon server to answer at this address (one
    /// that is starting up); whether one did.
    pub async fn wait_until_up(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if self.is_up().await {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Whether a PerfMon server answers its health check at this address.
    pub async fn is_up(&self) -> bool {
        self.health().await.is_some()
    }

    /// The health of the PerfMon server at this address; `None` when nothing
    /// answers, or something that is not PerfMon.
    pub async fn health(&self) -> Option<shared::api::Health> {
        let body = self.call(Method::GET, "/api/health", None).await.ok()?;
        serde_json::from_str::<shared::api::Health>(&body).ok().filter(|h| h.status == "ok")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_on_every_address_is_reached_on_loopback() {
        let at = |s: &str| s.parse::<SocketAddr>().expect("an address");
        assert_eq!(reachable(at("0.0.0.0:8000")), at("127.0.0.1:8000"));
        assert_eq!(reachable(at("[::]:8000")), at("[::1]:8000"));
        assert_eq!(reachable(at("192.168.1.5:9000")), at("192.168.1.5:9000"));
        assert_eq!(ApiClient::new(at("0.0.0.0:7")).addr, at("127.0.0.1:7"));
    }

    #[test]
    fn a_projects_page_is_the_dashboard_with_its_name_encoded() {
        let at = |s: &str| s.parse::<SocketAddr>().expect("an address");
        assert_eq!(page_url(at("0.0.0.0:8000"), None), "http://127.0.0.1:8000/");
        assert_eq!(
            page_url(at("127.0.0.1:8000"), Some("my-proj_1.x")),
            "http://127.0.0.1:8000/?project=my-proj_1.x"
        );
        assert_eq!(page_url(at("[::]:9"), Some("a b&c=é")), "http://[::1]:9/?project=a%20b%26c%3D%C3%A9");
    }
}
