//! The push's settings: where to, how often, the labels, and credentials
//! (from a file or the environment, never the command line, where `ps`
//! would show them), checked before the server starts.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::series::RESERVED_LABELS;

/// Everything the senders need.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteWriteConfig {
    /// The receivers, each with a sender of its own.
    pub receivers: Vec<Receiver>,
    /// How often each sends what was stored since its last batch.
    pub interval: Duration,
    /// The `host` label.
    pub host: String,
    /// The user's labels, besides `host`.
    pub labels: Vec<(String, String)>,
    /// The credentials sent to every receiver.
    pub credentials: Option<Credentials>,
}

/// A receiver's URL, and its origin for what is shown publicly.
#[derive(Clone, PartialEq, Eq)]
pub struct Receiver {
    /// The URL requests are sent to.
    pub url: String,
    /// `scheme://host:port`: what `/api/health` and the logs name it by.
    pub origin: String,
}

// By hand: a URL's query may hold a key (`?api_key=`), which a debug print
// must not show.
impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver").field("origin", &self.origin).finish_non_exhaustive()
    }
}

/// How requests authenticate. Never printed: `Debug` masks it.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// `Authorization: Bearer TOKEN`.
    Bearer(String),
    /// `Authorization: Basic …` of `USER:PASSWORD`.
    Basic(String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Credentials::Bearer(_) => "Bearer(…)",
            Credentials::Basic(_) => "Basic(…)",
        })
    }
}

impl Credentials {
    /// The `Authorization` header's value.
    pub fn header(&self) -> String {
        use base64::Engine as _;
        match self {
            Credentials::Bearer(token) => format!("Bearer {token}"),
            Credentials::Basic(pair) => {
                format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
            }
        }
    }
}

/// What the command line and the environment gave, before checking.
#[derive(Clone, Default)]
pub struct Given {
    /// `--remote-write` URLs.
    pub urls: Vec<String>,
    /// `--remote-write-interval`.
    pub interval: Duration,
    /// `--host-label`.
    pub host_label: Option<String>,
    /// `--remote-write-label NAME=VALUE`s.
    pub labels: Vec<String>,
    /// `--remote-write-bearer-token-file`.
    pub bearer_file: Option<PathBuf>,
    /// `PERFMON_REMOTE_WRITE_BEARER_TOKEN`.
    pub bearer_env: Option<String>,
    /// `--remote-write-basic-auth-file`.
    pub basic_file: Option<PathBuf>,
    /// `PERFMON_REMOTE_WRITE_BASIC_AUTH`.
    pub basic_env: Option<String>,
    /// `--no-store`: nothing to send from.
    pub no_store: bool,
}

// By hand: the secrets from the environment are never printed.
impl std::fmt::Debug for Given {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Given")
            .field("receivers", &self.urls.len())
            .field("interval", &self.interval)
            .field("host_label", &self.host_label)
            .field("labels", &self.labels)
            .field("bearer_file", &self.bearer_file)
            .field("basic_file", &self.basic_file)
            .finish_non_exhaustive()
    }
}

/// The shortest and longest interval between batches.
pub const INTERVALS: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(300));

impl Given {
    /// The settings, `None` when no receiver is given, or why they are refused.
    pub fn check(&self) -> Result<Option<RemoteWriteConfig>, String> {
        if self.urls.is_empty() {
            return Ok(None);
        }
        if self.no_store {
            return Err("--remote-write sends from the store (so an outage is sent afterwards): it \
                        cannot be used with --no-store"
                .into());
        }
        if !(INTERVALS.0..=INTERVALS.1).contains(&self.interval) {
            return Err(format!(
                "--remote-write-interval {}: give 1s to 5m",
                humantime::format_duration(self.interval)
            ));
        }
        let mut receivers: Vec<Receiver> = Vec::new();
        for url in &self.urls {
            let checked = receiver(url)?;
            // The same receiver twice would get every sample twice.
            if !receivers.iter().any(|r| r.url == checked.url) {
                receivers.push(checked);
            }
        }
        let host = match &self.host_label {
            Some(host) => host.trim().to_owned(),
            None => sysinfo::System::host_name().unwrap_or_default(),
        };
        if host.is_empty() {
            return Err("--host-label: give a name (the machine's hostname cannot be read)".into());
        }
        let labels = self.labels.iter().map(|l| label(l)).collect::<Result<Vec<_>, _>>()?;
        // A series may carry a label once: receivers refuse it twice.
        for (i, (name, _)) in labels.iter().enumerate() {
            if labels[..i].iter().any(|(earlier, _)| earlier == name) {
                return Err(format!("--remote-write-label {name:?} is given twice"));
            }
        }
        let credentials = self.credentials()?;
        if credentials.is_some() {
            for r in receivers.iter().filter(|r| r.origin.starts_with("http://") && !loopback(&r.origin)) {
                tracing::warn!(
                    "remote write to {} sends its credentials unencrypted (http://): anyone on the way can \
                     read them; use https:// or a receiver on this machine",
                    r.origin
                );
            }
        }
        Ok(Some(RemoteWriteConfig { receivers, interval: self.interval, host, labels, credentials }))
    }

    fn credentials(&self) -> Result<Option<Credentials>, String> {
        let bearer = secret("bearer token", self.bearer_file.as_deref(), self.bearer_env.as_deref())?;
        let basic = secret("basic auth", self.basic_file.as_deref(), self.basic_env.as_deref())?;
        match (bearer, basic) {
            (Some(_), Some(_)) => Err("give a bearer token or basic auth for remote write, not both".into()),
            (Some(token), None) => Ok(Some(Credentials::Bearer(token))),
            (None, Some(pair)) if !pair.contains(':') => {
                Err("remote write's basic auth must be USER:PASSWORD (one line)".into())
            }
            (None, Some(pair)) => Ok(Some(Credentials::Basic(pair))),
            (None, None) => Ok(None),
        }
    }
}

/// A secret from its file or the environment (one of them), trimmed; refused
/// when empty or when both are given.
fn secret(what: &str, file: Option<&Path>, env: Option<&str>) -> Result<Option<String>, String> {
    let text = match (file, env) {
        (Some(_), Some(_)) => {
            return Err(format!("remote write's {what} is given both in a file and in the environment"));
        }
        (Some(path), None) => std::fs::read_to_string(path)
            .map_err(|err| format!("cannot read remote write's {what} from {}: {err}", path.display()))?,
        (None, Some(value)) => value.to_owned(),
        (None, None) => return Ok(None),
    };
    let text = text.trim();
    if text.is_empty() || text.contains('\n') {
        return Err(format!("remote write's {what} must be one non-empty line"));
    }
    Ok(Some(text.to_owned()))
}

/// A receiver's URL, checked, with its origin.
fn receiver(url: &str) -> Result<Receiver, String> {
    let url = url.trim();
    // Never the URL itself: its query may carry a key (an environment
    // variable is private; the log is not).
    let refused = |why: &str| Err(format!("--remote-write: {why}"));
    let Some((scheme, rest)) = url.split_once("://") else {
        return refused("give an http:// or https:// URL (Prometheus: http://HOST:9090/api/v1/write)");
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return refused("give an http:// or https:// URL");
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(format!(
            "--remote-write: credentials in a URL would show in `ps`; give them with \
             --remote-write-basic-auth-file or PERFMON_REMOTE_WRITE_BASIC_AUTH (the URL's host: {})",
            authority.rsplit('@').next().unwrap_or_default()
        ));
    }
    if authority.is_empty() {
        return refused("the URL has no host");
    }
    Ok(Receiver { url: url.to_owned(), origin: format!("{}://{authority}", scheme.to_ascii_lowercase()) })
}

/// Whether an origin names this machine.
fn loopback(origin: &str) -> bool {
    let host = origin.split("://").nth(1).unwrap_or_default();
    let host = host
        .rsplit_once(':')
        .map_or(host, |(host, port)| if port.chars().all(|c| c.is_ascii_digit()) { host } else { origin });
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A `NAME=VALUE` label, checked.
fn label(text: &str) -> Result<(String, String), String> {
    let Some((name, value)) = text.split_once('=') else {
        return Err(format!("--remote-write-label {text:?}: give NAME=VALUE"));
    };
    let name = name.trim();
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(format!(
            "--remote-write-label {name:?}: a label name is letters, digits and _, not first a digit"
        ));
    }
    if name.starts_with("__") {
        return Err(format!("--remote-write-label {name:?}: names starting with __ are Prometheus's own"));
    }
    if RESERVED_LABELS.contains(&name) {
        return Err(format!(
            "--remote-write-label {name:?}: PerfMon sets that label itself{}",
            if name == "host" { " (give --host-label)" } else { "" }
        ));
    }
    if value.is_empty() {
        return Err(format!("--remote-write-label {name:?}: give a value (an empty one means no label)"));
    }
    Ok((name.to_owned(), value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(urls: &[&str]) -> Given {
        Given {
            urls: urls.iter().map(|u| (*u).to_owned()).collect(),
            interval: Duration::from_secs(5),
            host_label: Some("box".into()),
            ..Given::default()
        }
    }

    fn refused(g: &Given) -> String {
        g.check().expect_err("refused")
    }

    #[test]
    fn no_receiver_is_no_push_and_a_good_one_keeps_its_url_and_shows_only_its_origin() {
        assert_eq!(Given::default().check(), Ok(None));
        let config = given(&["https://vm.example.com:8428/api/v1/write?extra_label=a"])
            .check()
            .expect("accepted")
            .expect("a push");
        assert_eq!(config.receivers[0].url, "https://vm.example.com:8428/api/v1/write?extra_label=a");
        assert_eq!(config.receivers[0].origin, "https://vm.example.com:8428");
        assert_eq!(config.host, "box");
        assert_eq!(config.credentials, None);
    }

    #[test]
    fn the_host_label_defaults_to_the_hostname() {
        let mut g = given(&["http://h/api/v1/write"]);
        g.host_label = None;
        let host = g.check().expect("accepted").expect("a push").host;
        assert_eq!(Some(host), sysinfo::System::host_name().ok());
    }

    #[test]
    fn bad_urls_are_refused_and_credentials_in_one_are_not_echoed() {
        assert!(refused(&given(&["vm:8428/api/v1/write"])).contains("http:// or https://"));
        assert!(refused(&given(&["ftp://vm/x"])).contains("http:// or https://"));
        assert!(refused(&given(&["http:///api/v1/write"])).contains("no host"));
        let err = refused(&given(&["https://me:hunter2@vm:8428/api/v1/write"]));
        assert!(err.contains("basic-auth-file") && err.contains("vm:8428"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        for bad in ["htps://vm/api/v1/write?api_key=k3y", "vm/write?api_key=k3y", "https://?api_key=k3y"] {
            let err = refused(&given(&[bad]));
            assert!(!err.contains("k3y"), "{err}");
        }
    }

    #[test]
    fn no_store_intervals_and_labels_are_checked() {
        let mut g = given(&["http://h/w"]);
        g.no_store = true;
        assert!(refused(&g).contains("--no-store"));
        let mut g = given(&["http://h/w"]);
        g.interval = Duration::from_millis(500);
        assert!(refused(&g).contains("1s to 5m"));
        for (bad, why) in [
            ("team", "NAME=VALUE"),
            ("9lives=x", "letters, digits"),
            ("a-b=x", "letters, digits"),
            ("__name__=x", "Prometheus's own"),
            ("host=x", "--host-label"),
            ("project=x", "itself"),
            ("team=", "give a value"),
        ] {
            let mut g = given(&["http://h/w"]);
            g.labels = vec![bad.into()];
            assert!(refused(&g).contains(why), "{bad}: {}", refused(&g));
        }
        let mut g = given(&["http://h/w"]);
        g.labels = vec!["team=ml".into(), "env=ci=1".into()];
        let labels = g.check().expect("accepted").expect("a push").labels;
        assert_eq!(labels, vec![("team".into(), "ml".into()), ("env".into(), "ci=1".into())]);
        let mut g = given(&["http://h/w"]);
        g.host_label = Some("  ".into());
        assert!(refused(&g).contains("--host-label"));
        let mut g = given(&["http://h/w"]);
        g.labels = vec!["team=a".into(), "team=b".into()];
        assert!(refused(&g).contains("given twice"));
        let twice =
            given(&["http://h/w", "http://h/w", "http://i/w"]).check().expect("accepted").expect("a push");
        assert_eq!(twice.receivers.len(), 2, "the same receiver once");
    }

    #[test]
    fn credentials_come_from_a_file_or_the_environment_once_and_never_print() {
        let dir = std::env::temp_dir().join(format!("perfmon-rw-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a directory");
        let token = dir.join("token");
        std::fs::write(&token, "s3cret\n").expect("written");
        let mut g = given(&["http://h/w"]);
        g.bearer_file = Some(token.clone());
        let credentials = g.check().expect("accepted").expect("a push").credentials.expect("credentials");
        assert_eq!(credentials.header(), "Bearer s3cret");
        assert!(!format!("{credentials:?}").contains("s3cret"));
        let mut from_env = given(&["http://h/w?api_key=k3y"]);
        from_env.bearer_env = Some("env-s3cret".into());
        let config = from_env.check().expect("accepted").expect("a push");
        let printed = format!("{from_env:?} {config:?}");
        assert!(!printed.contains("env-s3cret") && !printed.contains("k3y"), "{printed}");
        assert!(
            loopback("http://127.0.0.1:9090")
                && loopback("http://[::1]:8428")
                && loopback("http://localhost")
        );
        assert!(!loopback("http://vm.example.com:8428") && !loopback("http://10.0.0.2"));

        let mut g = given(&["http://h/w"]);
        g.basic_env = Some("me:pw".into());
        let credentials = g.check().expect("accepted").expect("a push").credentials.expect("credentials");
        assert_eq!(credentials.header(), "Basic bWU6cHc=");

        let mut both = given(&["http://h/w"]);
        both.bearer_env = Some("t".into());
        both.basic_env = Some("me:pw".into());
        assert!(refused(&both).contains("not both"));
        let mut twice = given(&["http://h/w"]);
        twice.bearer_env = Some("t".into());
        twice.bearer_file = Some(token);
        assert!(refused(&twice).contains("both in a file and in the environment"));
        let mut missing = given(&["http://h/w"]);
        missing.bearer_file = Some(dir.join("absent"));
        assert!(refused(&missing).contains("cannot read"));
        let mut empty = given(&["http://h/w"]);
        empty.bearer_env = Some(" \n".into());
        assert!(refused(&empty).contains("one non-empty line"));
        let mut no_colon = given(&["http://h/w"]);
        no_colon.basic_env = Some("mepw".into());
        assert!(refused(&no_colon).contains("USER:PASSWORD"));
        let _ = std::fs::remove_dir_all(dir);
    }
}
