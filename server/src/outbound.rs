//! The one HTTP client setup for everything the server sends out (alert
//! delivery, remote write): blocking, for a thread of its own.

use std::time::Duration;

use ureq::tls::{RootCerts, TlsConfig};

/// Each pooled connection's input and output buffer.
const BUFFER_BYTES: usize = 16 * 1024;

/// `User-Agent` of every request PerfMon sends.
pub const USER_AGENT: &str = concat!("perfmon/", env!("CARGO_PKG_VERSION"));

/// A blocking HTTP client whose every request, from connecting to the end of
/// the response, is over within `timeout`. TLS is rustls, with certificates
/// checked against the system's roots (the platform verifier: on Linux the
/// distribution's bundle, `SSL_CERT_FILE` and `SSL_CERT_DIR`). `HTTPS_PROXY`,
/// `ALL_PROXY` and `NO_PROXY` are honoured. Statuses are returned, not turned
/// into errors, and redirects are not followed (a redirected POST would lose
/// its body), so the caller decides what each status means. Cheap to clone:
/// clones share one connection pool. Each connection's buffers are 16 KiB
/// each way, not ureq's 128 KiB: answers here are a status and a line, bodies
/// stream through, and a kept-alive connection holds its buffers for as long
/// as it stays in the pool (remote write's is always there).
pub fn http_agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .input_buffer_size(BUFFER_BYTES)
        .output_buffer_size(BUFFER_BYTES)
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(USER_AGENT)
        .tls_config(TlsConfig::builder().root_certs(RootCerts::PlatformVerifier).build())
        .build()
        .new_agent()
}

/// A request that got no answer, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What happened (`connection failed`, `TLS: …`), never quoting the URL.
    pub words: String,
    /// A certificate or handshake failure: retrying the same request will not
    /// help until someone changes something.
    pub lasting: bool,
}

/// Words for a request over TLS or not that got no answer. ureq's own
/// messages are never used whole: some quote the URL, which may hold a secret.
pub fn failure(err: &ureq::Error, tls: bool) -> Failure {
    let passing = |words: &str| Failure { words: words.to_owned(), lasting: false };
    let lasting = |words: String| Failure { words, lasting: true };
    match err {
        ureq::Error::Timeout(_) => passing("timed out"),
        ureq::Error::HostNotFound => passing("host not found"),
        ureq::Error::ConnectionFailed => passing("connection failed"),
        // rustls reports a failed handshake (a bad certificate, a receiver
        // that does not speak TLS) as invalid data, in words of its own.
        ureq::Error::Io(io) if tls && io.kind() == std::io::ErrorKind::InvalidData => {
            lasting(format!("TLS: {io}"))
        }
        ureq::Error::Io(io) => passing(&io.kind().to_string()),
        ureq::Error::ConnectProxyFailed(_) | ureq::Error::InvalidProxyUrl => passing("the proxy failed"),
        ureq::Error::Protocol(_) | ureq::Error::LargeResponseHeader(..) | ureq::Error::BodyStalled => {
            passing("the answer was not HTTP")
        }
        ureq::Error::Rustls(tls) => lasting(format!("TLS: {tls}")),
        ureq::Error::Tls(tls) => lasting(format!("TLS: {tls}")),
        _ => passing("request failed"),
    }
}
