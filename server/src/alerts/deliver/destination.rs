//! A destination: a name, the [`Kind`] of receiver, and a URL that is a
//! secret (it often carries a token in its path, query or userinfo). Only
//! [`Destination::masked`], scheme and host, ever reaches a log, a list or an
//! error.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use ureq::http::Uri;

/// What kind of receiver a destination is; it decides the request's shape
/// (`payload`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Any HTTP endpoint: the [`shared::alerts::AlertEvent`] as JSON.
    Webhook,
    /// An ntfy topic (ntfy.sh or self-hosted): the message as text, the title,
    /// priority and tags as headers.
    Ntfy,
    /// A Slack incoming webhook.
    Slack,
    /// A Discord webhook.
    Discord,
}

impl Kind {
    /// Every kind, in the order the docs list them.
    pub const ALL: [Kind; 4] = [Kind::Webhook, Kind::Ntfy, Kind::Slack, Kind::Discord];

    /// The word used in configuration files, `--notify KIND:URL` and
    /// [`shared::alerts::DestinationStatus::kind`].
    pub fn key(self) -> &'static str {
        match self {
            Kind::Webhook => "webhook",
            Kind::Ntfy => "ntfy",
            Kind::Slack => "slack",
            Kind::Discord => "discord",
        }
    }

    /// The kind a bare URL's host and path tell; anything unknown is a
    /// generic webhook.
    fn detect(host: &str, path: &str) -> Kind {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let discord = ["discord.com", "discordapp.com"]
            .iter()
            .any(|domain| host == *domain || host.ends_with(&format!(".{domain}")));
        if host == "hooks.slack.com" {
            Kind::Slack
        } else if discord && path.starts_with("/api/webhooks/") {
            Kind::Discord
        } else if host == "ntfy.sh" {
            Kind::Ntfy
        } else {
            Kind::Webhook
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

impl FromStr for Kind {
    type Err = DestinationError;

    fn from_str(text: &str) -> Result<Kind, DestinationError> {
        let text = text.trim();
        Kind::ALL
            .into_iter()
            .find(|kind| kind.key().eq_ignore_ascii_case(text))
            .ok_or(DestinationError::UnknownKind)
    }
}

/// Why a destination cannot be used. No variant carries any part of the URL,
/// so neither `Display` nor `Debug` can leak it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DestinationError {
    /// The name is empty.
    #[error("a destination needs a name")]
    NoName,
    /// Nothing was given where the URL goes.
    #[error("a destination needs a URL")]
    NoUrl,
    /// A `KIND:` prefix (or `kind =`) that is not a kind.
    #[error("unknown destination kind: use webhook, ntfy, slack or discord")]
    UnknownKind,
    /// Spaces, tabs, newlines or other control characters inside the URL.
    #[error("the URL may not contain spaces or control characters")]
    Whitespace,
    /// Not an `http://` or `https://` URL.
    #[error("the URL must start with http:// or https://")]
    Scheme,
    /// The host is missing.
    #[error("the URL has no host")]
    NoHost,
    /// Anything else that does not parse (a bad port, a bad character).
    #[error("the URL is not valid")]
    Malformed,
}

/// A destination's URL: everything needed to send, and the one part that may
/// be shown. Deliberately not `Display`, and its `Debug` is the masked form.
#[derive(Clone, PartialEq, Eq)]
struct SecretUrl {
    /// The URL requests go to: as configured, less its userinfo and fragment.
    request: String,
    /// `Authorization: Basic …` for a URL that carried `user:password@`
    /// (ureq does not turn userinfo into credentials itself).
    authorization: Option<String>,
    /// Scheme, host and port, then `/…`.
    masked: String,
    /// The kind its host tells, for a bare `--notify URL`.
    detected: Kind,
}

impl SecretUrl {
    fn parse(url: &str) -> Result<SecretUrl, DestinationError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(DestinationError::NoUrl);
        }
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(DestinationError::Whitespace);
        }
        let (scheme, rest) = url.split_once("://").ok_or(DestinationError::Scheme)?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(DestinationError::Scheme);
        }
        // A fragment is never sent over HTTP: dropped rather than refused.
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
        let (userinfo, host_port) = match authority.rsplit_once('@') {
            Some((userinfo, host_port)) => (Some(userinfo).filter(|u| !u.is_empty()), host_port),
            None => (None, authority),
        };
        if host_port.is_empty() || host_port.starts_with(':') {
            return Err(DestinationError::NoHost);
        }
        // `http::Uri` takes any text for a port.
        let after_host = host_port.rsplit_once(']').map_or(host_port, |(_, after)| after);
        if let Some((_, port)) = after_host.rsplit_once(':')
            && port.parse::<u16>().is_err()
        {
            return Err(DestinationError::Malformed);
        }
        let request = format!("{scheme}://{host_port}{tail}");
        let uri: Uri = request.parse().map_err(|_| DestinationError::Malformed)?;
        let host = uri.host().filter(|h| !h.is_empty()).ok_or(DestinationError::NoHost)?;
        let detected = Kind::detect(host, uri.path());
        let authorization = userinfo.map(|userinfo| {
            let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            let mut credentials = percent_decode(user);
            credentials.push(b':');
            credentials.extend(percent_decode(password));
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(credentials))
        });
        let masked = format!("{scheme}://{}/…", host_port.to_ascii_lowercase());
        Ok(SecretUrl { request, authorization, masked, detected })
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked)
    }
}

/// `%XX` escapes of a URL's userinfo decoded to bytes (a password may hold
/// `@` or `:`); anything malformed is kept as written.
fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    out
}

/// One place alert events are delivered to.
#[derive(Clone, PartialEq)]
pub struct Destination {
    /// Its name in the configuration (`--notify` for a run's one-off); shown
    /// in logs and the status list beside the masked target.
    pub name: String,
    /// The shape of its requests.
    pub kind: Kind,
    /// Where requests go; private so nothing can print it by accident.
    url: SecretUrl,
    /// ntfy's priority (1 to 5) instead of the one the severity gives.
    priority: Option<u8>,
    /// ntfy tags added after the one the event's state and severity give.
    tags: Vec<String>,
}

impl Destination {
    /// A destination of `kind` at `url`, which must be `http://` or
    /// `https://` with a host and no whitespace. Userinfo
    /// (`https://user:password@host/…`) is sent as Basic auth.
    pub fn new(name: impl Into<String>, kind: Kind, url: &str) -> Result<Destination, DestinationError> {
        Destination::with_url(name.into(), kind, SecretUrl::parse(url)?)
    }

    fn with_url(name: String, kind: Kind, url: SecretUrl) -> Result<Destination, DestinationError> {
        if name.trim().is_empty() {
            return Err(DestinationError::NoName);
        }
        Ok(Destination { name, kind, url, priority: None, tags: Vec::new() })
    }

    /// A destination from `--notify SPEC` (or a configured `url` without a
    /// `kind`): `KIND:URL` (`ntfy:https://ntfy.example/topic`), or a bare
    /// `URL` whose host tells the kind: `hooks.slack.com` is Slack,
    /// `discord.com` or `discordapp.com` under `/api/webhooks/` is Discord,
    /// `ntfy.sh` is ntfy, anything else a generic JSON webhook.
    pub fn parse_spec(name: impl Into<String>, spec: &str) -> Result<Destination, DestinationError> {
        let spec = spec.trim();
        if let Some((prefix, rest)) = spec.split_once(':')
            && !rest.starts_with("//")
        {
            // Not `scheme://`, so the part before the colon must be a kind. It
            // is never echoed: it could be the `user:` of a URL written
            // without its scheme.
            return match prefix.parse::<Kind>() {
                Ok(kind) => Destination::new(name, kind, rest),
                Err(_) if rest.contains("://") => Err(DestinationError::UnknownKind),
                Err(_) => Err(DestinationError::Scheme),
            };
        }
        let url = SecretUrl::parse(spec)?;
        Destination::with_url(name.into(), url.detected, url)
    }

    /// ntfy's options: a priority (1 to 5; others are clamped) to use instead
    /// of the severity's, and tags to add. Other kinds ignore them.
    pub fn with_ntfy(mut self, priority: Option<u8>, tags: Vec<String>) -> Destination {
        self.priority = priority.map(|p| p.clamp(1, 5));
        self.tags = tags.into_iter().map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect();
        self
    }

    /// The URL with everything secret masked: scheme, host and port only
    /// (`https://ntfy.sh/…`). The only form of the URL ever logged or shown.
    pub fn masked(&self) -> String {
        self.url.masked.clone()
    }

    /// The ntfy priority override, if any.
    pub fn priority(&self) -> Option<u8> {
        self.priority
    }

    /// The configured ntfy tags.
    pub fn tags(&self) -> &[String] {
        &self.tags
    }

    /// The URL to send to: for the one caller that sends.
    pub(super) fn request_url(&self) -> &str {
        &self.url.request
    }

    /// The `Authorization` header the URL's userinfo asks for.
    pub(super) fn authorization(&self) -> Option<&str> {
        self.url.authorization.as_deref()
    }
}

// Hand-written so the URL never reaches a log through `{:?}`.
impl fmt::Debug for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Destination")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("target", &self.url.masked)
            .field("priority", &self.priority)
            .field("tags", &self.tags)
            .finish()
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} {})", self.name, self.kind, self.url.masked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(spec: &str) -> Destination {
        Destination::parse_spec("n", spec).expect("a valid spec")
    }

    #[test]
    fn a_bare_url_is_told_by_its_host() {
        let cases = [
            ("https://hooks.slack.com/services/T0/B0/xyz", Kind::Slack),
            ("https://discord.com/api/webhooks/1/abc", Kind::Discord),
            ("https://discordapp.com/api/webhooks/1/abc", Kind::Discord),
            ("https://ptb.discord.com/api/webhooks/1/abc", Kind::Discord),
            ("https://discord.com/channels/1/2", Kind::Webhook),
            ("https://ntfy.sh/my-topic", Kind::Ntfy),
            ("https://NTFY.SH./my-topic", Kind::Ntfy),
            ("https://ntfy.example.com/my-topic", Kind::Webhook),
            ("http://127.0.0.1:9000/hook", Kind::Webhook),
            ("http://[::1]:9000/hook", Kind::Webhook),
            ("http://[::1]/hook", Kind::Webhook),
            ("https://notslack.com/hooks.slack.com", Kind::Webhook),
        ];
        for (url, kind) in cases {
            assert_eq!(spec(url).kind, kind, "{url}");
        }
    }

    #[test]
    fn a_kind_prefix_wins_over_the_host() {
        let d = spec("ntfy:https://ntfy.example.com/topic");
        assert_eq!((d.kind, d.request_url()), (Kind::Ntfy, "https://ntfy.example.com/topic"));
        assert_eq!(spec("SLACK:http://localhost:8080/x").kind, Kind::Slack);
        assert_eq!(spec("webhook:https://ntfy.sh/topic").kind, Kind::Webhook);
        assert_eq!(spec(" discord:https://example.com/x ").kind, Kind::Discord);
    }

    #[test]
    fn bad_specs_are_refused_with_the_reason() {
        let cases = [
            ("", DestinationError::NoUrl),
            ("   ", DestinationError::NoUrl),
            ("teams:https://example.com/x", DestinationError::UnknownKind),
            ("ftp://example.com/x", DestinationError::Scheme),
            ("example.com/hook", DestinationError::Scheme),
            ("localhost:8080/hook", DestinationError::Scheme),
            ("alice:s3cret@example.com/hook", DestinationError::Scheme),
            ("https://exa mple.com/x", DestinationError::Whitespace),
            ("https://example.com/x\ny", DestinationError::Whitespace),
            ("https:///path", DestinationError::NoHost),
            ("https://user:pw@/path", DestinationError::NoHost),
            ("https://:443/path", DestinationError::NoHost),
            ("https://example.com:port/x", DestinationError::Malformed),
            ("https://example.com:70000/x", DestinationError::Malformed),
            ("https://[::1]:x/x", DestinationError::Malformed),
            ("ntfy:", DestinationError::NoUrl),
            ("ntfy:gopher://h/x", DestinationError::Scheme),
        ];
        for (text, err) in cases {
            assert_eq!(Destination::parse_spec("n", text).map(|_| ()), Err(err), "{text:?}");
        }
        assert_eq!(
            Destination::new(" ", Kind::Webhook, "https://h/").map(|_| ()),
            Err(DestinationError::NoName)
        );
    }

    #[test]
    fn kinds_parse_from_their_keys() {
        for kind in Kind::ALL {
            assert_eq!(kind.key().parse::<Kind>(), Ok(kind));
            assert_eq!(kind.to_string(), kind.key());
        }
        assert_eq!(" Ntfy ".parse::<Kind>(), Ok(Kind::Ntfy));
        assert_eq!("email".parse::<Kind>(), Err(DestinationError::UnknownKind));
    }

    #[test]
    fn masking_never_shows_path_query_or_userinfo() {
        let d = Destination::parse_spec(
            "phone",
            "https://alice:s3cret@Ntfy.Example.com:8443/tok3n-topic?auth=k3y#fr4g",
        )
        .expect("valid");
        assert_eq!(d.masked(), "https://ntfy.example.com:8443/…");
        assert_eq!(d.request_url(), "https://Ntfy.Example.com:8443/tok3n-topic?auth=k3y");
        assert_eq!(d.authorization(), Some("Basic YWxpY2U6czNjcmV0"));
        let shown = [format!("{d:?}"), d.to_string(), format!("{:?}", d.clone().with_ntfy(Some(9), vec![]))];
        for text in shown {
            for secret in ["alice", "s3cret", "tok3n", "k3y", "fr4g"] {
                assert!(!text.contains(secret), "{secret} in {text}");
            }
        }
        assert_eq!(d.to_string(), "phone (webhook https://ntfy.example.com:8443/…)");
    }

    #[test]
    fn errors_never_show_any_part_of_the_url() {
        let bad = [
            "gopher://alice:s3cret@h0st/tok3n?k3y",
            "https://alice:s3cret@h0st:x/tok3n?k3y",
            "https://alice:s3cret@/tok3n?k3y",
            "https://alice:s3cret@h0st/tok3n?k3y and more",
            "alice:s3cret@h0st/tok3n?k3y",
            "tok3n:https://alice:s3cret@h0st/k3y",
        ];
        for url in bad {
            let err = Destination::parse_spec("n", url).expect_err(url);
            for text in [err.to_string(), format!("{err:?}")] {
                for secret in ["alice", "s3cret", "tok3n", "k3y", "h0st"] {
                    assert!(!text.contains(secret), "{secret} in {text}");
                }
            }
        }
    }

    #[test]
    fn userinfo_is_percent_decoded_into_basic_auth() {
        let d = spec("https://bob:p%40ss%3Aword@example.com/x");
        // base64("bob:p@ss:word")
        assert_eq!(d.authorization(), Some("Basic Ym9iOnBAc3M6d29yZA=="));
        assert_eq!(spec("https://tk_only@example.com/x").authorization(), Some("Basic dGtfb25seTo="));
        assert_eq!(spec("https://example.com/x").authorization(), None);
        assert_eq!(percent_decode("a%zz%4"), b"a%zz%4");
    }

    #[test]
    fn ntfy_options_are_clamped_and_trimmed() {
        let d = spec("https://ntfy.sh/t").with_ntfy(Some(9), vec![" skull ".into(), "".into()]);
        assert_eq!((d.priority(), d.tags()), (Some(5), &["skull".to_owned()][..]));
        assert_eq!(spec("https://ntfy.sh/t").with_ntfy(Some(0), vec![]).priority(), Some(1));
    }
}
