//! How the server behaves, and the credentials it accepts: plain settings that
//! the command line fills in and the layers below read.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::hub::project::ProjectName;

/// How the server behaves; `Default` is what `perfmon serve` uses.
#[derive(Debug, Clone)]
pub struct Config {
    /// A directory to serve the frontend from instead of the copy built into the
    /// binary (frontend work); `None` serves the built-in copy.
    pub static_dir: Option<std::path::PathBuf>,
    /// Time between samples while any project's run is live.
    pub live_interval: Duration,
    /// Time between pushes to a project whose run is not live.
    pub idle_interval: Duration,
    /// How much history a new client receives on connect.
    pub history_window: Duration,
    /// Credentials clients must present; none means loopback-only.
    pub auth: Auth,
    /// Browser origins allowed to open the stream and act besides the server's own.
    pub allowed_origins: Vec<String>,
    /// Names besides loopback and the bound address that requests may use as
    /// `Host` (a reverse proxy's); `any` turns the check off.
    pub allowed_hosts: Vec<String>,
    /// Where the server listens; set from the listener when it starts serving.
    pub listen: std::net::SocketAddr,
    /// The control secret writes need when no token is configured; made at start
    /// when `None`.
    pub control_secret: Option<Secret>,
    /// The directory the control secret is stored in for the CLI (`control-PORT`);
    /// `None` keeps it in memory only.
    pub control_dir: Option<std::path::PathBuf>,
    /// Other directories where `perfmon run` may have kept exit reports for this
    /// server (its environment may not be the server's: see
    /// `control::candidate_dirs`); filled by the CLI, so the server itself reads
    /// no environment for them.
    pub exit_dirs: Vec<std::path::PathBuf>,
    /// When set, the only projects that may be watched ([`Config::watches`]).
    pub projects: Option<Vec<ProjectName>>,
    /// The most WebSockets open at once; more get 503.
    pub max_connections: usize,
    /// How often the server pings each client.
    pub ping_interval: Duration,
    /// A client silent this long (no pong, no message) is dropped.
    pub client_timeout: Duration,
    /// A send that takes longer than this drops the client (it stopped reading).
    pub send_timeout: Duration,
    /// A connection that takes longer than this to send a request's headers,
    /// once one is waited for, is closed (see [`crate::web::listen`]).
    pub header_read_timeout: Duration,
    /// Where runs and history are kept; `None` keeps only the last minutes in
    /// memory (`--no-store`, and tests that need no files).
    pub store: Option<crate::store::StoreConfig>,
    /// A TOML file of model prices added over the built-in table
    /// (`--prices`); read at start, a bad one refuses the start.
    pub prices_file: Option<std::path::PathBuf>,
    /// The configuration file of alert rules and destinations (`--config`, or
    /// the default path where one exists); read at start, a bad one refuses
    /// the start. `None`: the default rules, delivered nowhere but the page.
    pub config_file: Option<std::path::PathBuf>,
    /// Where the machine's history is pushed (`--remote-write`); needs the
    /// store, which it sends from.
    pub remote_write: Option<crate::fleet::RemoteWriteConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            static_dir: None,
            live_interval: Duration::from_millis(shared::LIVE_INTERVAL_MS),
            idle_interval: Duration::from_millis(shared::IDLE_INTERVAL_MS),
            history_window: Duration::from_secs(600),
            auth: Auth::default(),
            allowed_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 8000)),
            control_secret: None,
            prices_file: None,
            config_file: None,
            remote_write: None,
            control_dir: None,
            exit_dirs: Vec::new(),
            projects: None,
            max_connections: 1024,
            ping_interval: Duration::from_secs(20),
            client_timeout: Duration::from_secs(60),
            send_timeout: Duration::from_secs(10),
            header_read_timeout: crate::web::listen::HEADER_READ_TIMEOUT,
            store: None,
        }
    }
}

impl Config {
    /// Whether `project` may be watched here (`--projects`, when given).
    pub fn watches(&self, project: &ProjectName) -> bool {
        self.projects.as_ref().is_none_or(|listed| listed.contains(project))
    }
}

/// A secret value whose `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that compares or sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<secret>")
    }
}

/// How clients prove they may connect. With neither set, nothing is checked,
/// which the server only allows on a loopback address.
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

    /// Whether `presented` is the static token (compared in constant time) or a
    /// valid, unexpired JWT.
    pub fn accepts(&self, presented: &str) -> bool {
        if let Some(token) = &self.token
            && bool::from(token.as_bytes().ct_eq(presented.as_bytes()))
        {
            return true;
        }
        if let Some(secret) = &self.jwt_secret {
            let mut validation = Validation::new(Algorithm::HS256);
            // jsonwebtoken forgives a minute past `exp` by default; a few seconds
            // of clock skew is all an expired token gets here.
            validation.leeway = 5;
            let key = DecodingKey::from_secret(secret.as_bytes());
            return jsonwebtoken::decode::<Claims>(presented, &key, &validation).is_ok();
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header, encode};

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
    fn the_static_token_must_match_exactly() {
        let auth = Auth { token: Some("s3cret".into()), jwt_secret: None };
        assert!(auth.accepts("s3cret"));
        assert!(!auth.accepts("s3cre"));
        assert!(!auth.accepts("s3cretX"));
        assert!(!auth.accepts(""));
    }

    #[test]
    fn jwts_must_be_signed_with_the_secret_and_unexpired() {
        let auth = Auth { token: None, jwt_secret: Some("key".into()) };
        assert!(auth.accepts(&jwt("key", now() + 600)));
        assert!(!auth.accepts(&jwt("other", now() + 600)));
        assert!(!auth.accepts(&jwt("key", now() - 600)), "expired");
        assert!(!auth.accepts(&jwt("key", now() - 30)), "expired 30 s ago");
        assert!(!auth.accepts("not.a.jwt"));
    }

    #[test]
    fn debug_output_hides_secrets() {
        let auth = Auth { token: Some("s3cret".into()), jwt_secret: Some("key".into()) };
        let config = Config { auth, control_secret: Some(Secret::new("c0ntrol")), ..Config::default() };
        let text = format!("{config:?}");
        assert!(!text.contains("s3cret") && !text.contains("key\"") && !text.contains("c0ntrol"), "{text}");
    }
}
