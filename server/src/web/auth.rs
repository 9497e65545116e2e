//! Who may use the stream and the API: the request's token against the
//! configured [`Auth`], and the credential every write needs.
//!
//! A token is accepted from `Authorization: Bearer …`, from `?token=…` (as
//! PerfWatch does), or from a `Sec-WebSocket-Protocol` entry
//! `perfmon.token.…` ([`shared::TOKEN_SUBPROTOCOL_PREFIX`]). Secrets are compared
//! in constant time ([`Auth::accepts`]) and never logged.

use std::sync::Arc;

use axum::extract::{RawQuery, Request, State};
use axum::http::header::{AUTHORIZATION, SEC_WEBSOCKET_PROTOCOL};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;
use subtle::ConstantTimeEq;

use crate::config::Auth;

/// The query parameter a token may come in. Endpoints that refuse unknown
/// parameters take it too: a link the page hands on (a CSV download) carries it.
pub const TOKEN_PARAM: &str = "token";

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No token anywhere in the request.
    #[error("authentication required: pass a token")]
    Missing,
    /// A token that is neither the static token nor a valid, unexpired JWT.
    #[error("invalid or expired token")]
    Invalid,
}

/// Checks the request's token, if `auth` has any credential configured.
pub fn check(auth: &Auth, headers: &HeaderMap, query: Option<&str>) -> Result<(), AuthError> {
    if !auth.is_enabled() {
        return Ok(());
    }
    let presented = token_from(headers, query).ok_or(AuthError::Missing)?;
    if auth.accepts(&presented) { Ok(()) } else { Err(AuthError::Invalid) }
}

/// The middleware of the protected routes: 401 with the one error shape unless
/// the request carries a valid token.
pub async fn require_token(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
    request: Request,
    next: Next,
) -> Response {
    match check(&state.config.auth, request.headers(), query.as_deref()) {
        Ok(()) => next.run(request).await,
        Err(err) => {
            let error = ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", err.to_string());
            ([("www-authenticate", "Bearer")], error).into_response()
        }
    }
}

/// The middleware of the API's writes (registering, ending or signalling a run,
/// reporting tokens): with a token configured, [`require_token`] already checked
/// it; without one, the request must carry the server's control secret as
/// `Authorization: Bearer …` (never in a URL), which only the user who started
/// PerfMon can read. 401 otherwise, and nothing changes.
pub async fn require_write_credential(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let read = matches!(*request.method(), Method::GET | Method::HEAD);
    if read || state.config.auth.is_enabled() {
        return next.run(request).await;
    }
    let presented = bearer(request.headers());
    let held = state.config.control_secret.as_ref().map(|s| s.expose().as_bytes());
    match (held, presented) {
        (Some(held), Some(presented)) if bool::from(held.ct_eq(presented.as_bytes())) => {
            next.run(request).await
        }
        _ => {
            let error = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "control_secret_required",
                "this action needs PerfMon's control secret (the file control-PORT in your runtime or state \
                 directory); the perfmon CLI sends it for you",
            );
            ([("www-authenticate", "Bearer")], error).into_response()
        }
    }
}

/// The `Authorization: Bearer` value of a request.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ").map(str::trim)
}

/// The token a request carries: bearer header, then subprotocol, then query.
pub fn token_from(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    if let Some(token) = bearer(headers) {
        return Some(token.to_owned());
    }
    for value in headers.get_all(SEC_WEBSOCKET_PROTOCOL) {
        let Ok(value) = value.to_str() else { continue };
        if let Some(token) =
            value.split(',').find_map(|p| p.trim().strip_prefix(shared::TOKEN_SUBPROTOCOL_PREFIX))
        {
            return Some(token.to_owned());
        }
    }
    query?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == TOKEN_PARAM).then(|| percent_decode(value))
    })
}

/// Decodes `%XX` escapes and `+` in a query value (bytes, so no escape can split
/// a character).
fn percent_decode(value: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                if let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    out.push(high * 16 + low);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).expect("header value"));
        }
        h
    }

    #[test]
    fn tokens_come_from_bearer_subprotocol_or_query() {
        assert_eq!(token_from(&headers(&[("authorization", "Bearer abc")]), None).as_deref(), Some("abc"));
        let proto = headers(&[("sec-websocket-protocol", "perfmon, perfmon.token.xyz")]);
        assert_eq!(token_from(&proto, None).as_deref(), Some("xyz"));
        assert_eq!(token_from(&HeaderMap::new(), Some("a=1&token=q%2Bw")).as_deref(), Some("q+w"));
        assert_eq!(token_from(&HeaderMap::new(), Some("a=1")), None);
        assert_eq!(token_from(&HeaderMap::new(), None), None);
        assert_eq!(percent_decode("%é%4"), "%é%4", "broken escapes are kept, never a panic");
    }

    #[test]
    fn a_configured_token_is_required() {
        let auth = Auth { token: Some("s3cret".into()), jwt_secret: None };
        assert_eq!(check(&auth, &HeaderMap::new(), None), Err(AuthError::Missing));
        assert_eq!(check(&auth, &HeaderMap::new(), Some("token=nope")), Err(AuthError::Invalid));
        assert_eq!(check(&auth, &HeaderMap::new(), Some("token=s3cret")), Ok(()));
        assert_eq!(check(&Auth::default(), &HeaderMap::new(), None), Ok(()), "none configured: open");
    }
}
