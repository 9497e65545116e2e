//! The one HTTP client setup for everything the server sends out (alert
//! delivery now, remote write later): blocking, for a thread of its own.

use std::time::Duration;

use ureq::tls::{RootCerts, TlsConfig};

use super::payload::USER_AGENT;

/// A blocking HTTP client whose every request, from connecting to the end of
/// the response, is over within `timeout`. TLS is rustls, with certificates
/// checked against the system's roots (the platform verifier: on Linux the
/// distribution's bundle, `SSL_CERT_FILE` and `SSL_CERT_DIR`). `HTTPS_PROXY`,
/// `ALL_PROXY` and `NO_PROXY` are honoured. Statuses are returned, not turned
/// into errors, and redirects are not followed (a redirected POST would lose
/// its body), so the caller decides what each status means. Cheap to clone:
/// clones share one connection pool.
pub fn http_agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(USER_AGENT)
        .tls_config(TlsConfig::builder().root_certs(RootCerts::PlatformVerifier).build())
        .build()
        .new_agent()
}
