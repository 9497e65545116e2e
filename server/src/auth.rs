//! Who may use the stream and the API: a static token and/or HS256 JWTs, and the
//! WebSocket Origin check.
//!
//! A token is accepted from `Authorization: Bearer …`, from `?token=…` (as
//! PerfWatch does), or from a `Sec-WebSocket-Protocol` entry `perfmon.token.…`
//! (browsers cannot set headers on WebSockets, and a subprotocol stays out of
//! URLs and access logs). Secrets are compared in constant time and never logged.

use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, HOST, ORIGIN, SEC_WEBSOCKET_PROTOCOL};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use subtle::ConstantTimeEq;

/// The subprotocol every PerfMon client offers, and the server selects.
pub const PROTOCOL: &str = "perfmon";
/// The prefix of the subprotocol entry that carries a token.
pub const TOKEN_PROTOCOL_PREFIX: &str = "perfmon.token.";

/// How clients prove they may connect. With neither set, nothing is checked,
/// which [`crate::run`] only allows on a loopback address.
#[derive(Clone, Default)]
pub struct Auth {
    /// A shared static token.
    pub token: Option<String>,
    /// The HS256 key of accepted JWTs (which must carry `exp`).
    pub jwt_secret: Option<String>,
}

// Hand-written so secrets never reach a log through `{:?}`.
impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("jwt_secret", &self.jwt_secret.as_ref().map(|_| "<set>"))
            .finish()
    }
}

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

/// The claims PerfMon reads from a JWT; `exp` is checked by the validator.
#[derive(Debug, Deserialize)]
struct Claims {
    #[allow(dead_code)] // Required to be present; its value is checked by jsonwebtoken.
    exp: u64,
}

impl Auth {
    /// Whether any credential is configured.
    pub fn is_enabled(&self) -> bool {
        self.token.is_some() || self.jwt_secret.is_some()
    }

    /// Checks the request's token, if auth is enabled.
    pub fn check(&self, headers: &HeaderMap, query: Option<&str>) -> Result<(), AuthError> {
        if !self.is_enabled() {
            return Ok(());
        }
        let presented = token_from(headers, query).ok_or(AuthError::Missing)?;
        self.verify(&presented)
    }

    /// Whether `presented` is the static token or a valid JWT.
    pub fn verify(&self, presented: &str) -> Result<(), AuthError> {
        if let Some(token) = &self.token
            && bool::from(token.as_bytes().ct_eq(presented.as_bytes()))
        {
            return Ok(());
        }
        if let Some(secret) = &self.jwt_secret {
            let mut validation = Validation::new(Algorithm::HS256);
            // jsonwebtoken forgives a minute past `exp` by default; a few seconds
            // of clock skew is all an expired token gets here.
            validation.leeway = 5;
            let key = DecodingKey::from_secret(secret.as_bytes());
            if jsonwebtoken::decode::<Claims>(presented, &key, &validation).is_ok() {
                return Ok(());
            }
        }
        Err(AuthError::Invalid)
    }
}

/// The token a request carries: bearer header, then subprotocol, then query.
pub fn token_from(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    if let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok())
        && let Some(token) = value.strip_prefix("Bearer ")
    {
        return Some(token.trim().to_owned());
    }
    for value in headers.get_all(SEC_WEBSOCKET_PROTOCOL) {
        let Ok(value) = value.to_str() else { continue };
        if let Some(token) = value.split(',').find_map(|p| p.trim().strip_prefix(TOKEN_PROTOCOL_PREFIX)) {
            return Some(token.to_owned());
        }
    }
    query?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == "token").then(|| percent_decode(value))
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

/// Whether a WebSocket upgrade's Origin may connect: no Origin (not a browser),
/// the server's own origin (same host and port as the request), or one of
/// `allowed`. Blocks cross-site WebSocket hijacking from other pages.
pub fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(ORIGIN) else { return true };
    let Ok(origin) = origin.to_str() else { return false };
    if allowed.iter().any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin)) {
        return true;
    }
    let Some(host) = headers.get(HOST).and_then(|h| h.to_str().ok()) else { return false };
    let authority = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"));
    authority.is_some_and(|a| a.eq_ignore_ascii_case(host))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use jsonwebtoken::{EncodingKey, Header, encode};

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).expect("header value"));
        }
        h
    }

    fn jwt(secret: &str, exp: u64) -> String {
        #[derive(serde::Serialize)]
        struct C {
            exp: u64,
            sub: &'static str,
        }
        encode(
            &Header::new(Algorithm::HS256),
            &C { exp, sub: "agent" },
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .expect("encode")
    }

    fn now() -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
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
    fn the_static_token_must_match_exactly() {
        let auth = Auth { token: Some("s3cret".into()), jwt_secret: None };
        assert_eq!(auth.verify("s3cret"), Ok(()));
        assert_eq!(auth.verify("s3cre"), Err(AuthError::Invalid));
        assert_eq!(auth.verify("s3cretX"), Err(AuthError::Invalid));
        assert_eq!(auth.check(&HeaderMap::new(), None), Err(AuthError::Missing));
    }

    #[test]
    fn jwts_must_be_signed_with_the_secret_and_unexpired() {
        let auth = Auth { token: None, jwt_secret: Some("key".into()) };
        assert_eq!(auth.verify(&jwt("key", now() + 600)), Ok(()));
        assert_eq!(auth.verify(&jwt("other", now() + 600)), Err(AuthError::Invalid));
        assert_eq!(auth.verify(&jwt("key", now() - 600)), Err(AuthError::Invalid), "expired");
        assert_eq!(auth.verify(&jwt("key", now() - 30)), Err(AuthError::Invalid), "expired 30 s ago");
        assert_eq!(auth.verify("not.a.jwt"), Err(AuthError::Invalid));
    }

    #[test]
    fn no_auth_configured_lets_everyone_in() {
        assert_eq!(Auth::default().check(&HeaderMap::new(), None), Ok(()));
    }

    #[test]
    fn debug_output_hides_secrets() {
        let auth = Auth { token: Some("s3cret".into()), jwt_secret: Some("key".into()) };
        let text = format!("{auth:?}");
        assert!(!text.contains("s3cret") && !text.contains("key\""), "{text}");
    }

    #[test]
    fn origins_must_be_the_servers_own_or_allowed() {
        let same = headers(&[("origin", "http://127.0.0.1:8000"), ("host", "127.0.0.1:8000")]);
        assert!(origin_allowed(&same, &[]));
        let evil = headers(&[("origin", "https://evil.example"), ("host", "127.0.0.1:8000")]);
        assert!(!origin_allowed(&evil, &[]));
        assert!(origin_allowed(&evil, &["https://evil.example".into()]));
        let other_port = headers(&[("origin", "http://127.0.0.1:9999"), ("host", "127.0.0.1:8000")]);
        assert!(!origin_allowed(&other_port, &[]));
        assert!(origin_allowed(&headers(&[("host", "x")]), &[]), "no Origin: not a browser");
        assert!(!origin_allowed(&headers(&[("origin", "null"), ("host", "x")]), &[]));
    }
}
