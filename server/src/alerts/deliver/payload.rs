//! What each kind of receiver is sent: pure functions from a destination and
//! an event to headers and a body, built once per event and sent as is on
//! every retry. Titles and messages come from the rules engine ready to show
//! (a resolution's title already reads "Resolved: …"); nothing here adds to
//! them, it only fits them to each receiver's format and limits.

use std::borrow::Cow;

use base64::Engine as _;
use serde::Serialize;
use shared::alerts::{AlertEvent, AlertState, Severity};

use super::destination::{Destination, Kind};

// Sent with every request, so a receiver's logs can tell where it came from.
pub use crate::outbound::USER_AGENT;

/// ntfy's largest message; a longer body is turned into an attachment.
const NTFY_MESSAGE_BYTES: usize = 4096;
/// Discord's limits on an embed's title and description, in characters.
const DISCORD_TITLE_CHARS: usize = 256;
/// See [`DISCORD_TITLE_CHARS`].
const DISCORD_DESCRIPTION_CHARS: usize = 4096;
/// RFC 2047 caps an encoded word at 75 characters: 45 bytes of text is 60 of
/// base64 plus the 12 of `=?UTF-8?B?` and `?=`.
const ENCODED_WORD_BYTES: usize = 45;

/// One request's headers and body (always a POST).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Header names and values, in the order sent; ASCII only.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// The request `destination` is sent for `event`. Fails only if the event
/// cannot be serialised, which its types rule out.
pub fn request(destination: &Destination, event: &AlertEvent) -> Result<Request, serde_json::Error> {
    match destination.kind {
        Kind::Webhook => Ok(json(serde_json::to_vec(event)?)),
        Kind::Ntfy => Ok(ntfy(destination, event)),
        Kind::Slack => Ok(json(serde_json::to_vec(&slack(event))?)),
        Kind::Discord => Ok(json(serde_json::to_vec(&discord(event))?)),
    }
}

fn json(body: Vec<u8>) -> Request {
    Request {
        headers: vec![("Content-Type", "application/json".into()), ("User-Agent", USER_AGENT.into())],
        body,
    }
}

/// ntfy (<https://docs.ntfy.sh/publish/>): the message is the body; the
/// title, priority and tags are headers. The `X-` spellings, because proxies
/// such as Cloudflare set a `Priority` header of their own (RFC 9218).
fn ntfy(destination: &Destination, event: &AlertEvent) -> Request {
    let priority = destination.priority().unwrap_or(match (event.state, event.severity) {
        (AlertState::Resolved, _) | (_, Severity::Info) => 3,
        (_, Severity::Warning) => 4,
        (_, Severity::Critical) => 5,
    });
    let tag = match (event.state, event.severity) {
        (AlertState::Resolved, _) => "white_check_mark",
        (AlertState::Event, Severity::Info) => "checkered_flag",
        (_, Severity::Info) => "information_source",
        (_, Severity::Warning) => "warning",
        (_, Severity::Critical) => "rotating_light",
    };
    let tags: Vec<&str> = std::iter::once(tag).chain(destination.tags().iter().map(String::as_str)).collect();
    Request {
        headers: vec![
            ("Content-Type", "text/plain; charset=utf-8".into()),
            ("User-Agent", USER_AGENT.into()),
            ("X-Title", header_text(&event.title)),
            ("X-Priority", priority.to_string()),
            ("X-Tags", header_text(&tags.join(","))),
        ],
        body: truncate_bytes(&event.message, NTFY_MESSAGE_BYTES).into_owned().into_bytes(),
    }
}

/// A header value from any text: printable ASCII as is, anything else as
/// RFC 2047 encoded words, which ntfy (2.4 and later) decodes. HTTP headers
/// cannot carry UTF-8 (titles hold “ ” quotes), nor newlines.
fn header_text(text: &str) -> String {
    if text.bytes().all(|b| (b' '..=b'~').contains(&b)) {
        return text.to_owned();
    }
    let mut words = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = rest.len().min(ENCODED_WORD_BYTES);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (word, after) = rest.split_at(end);
        words.push(format!("=?UTF-8?B?{}?=", base64::engine::general_purpose::STANDARD.encode(word)));
        rest = after;
    }
    // Whitespace between encoded words is dropped by the decoder.
    words.join(" ")
}

/// A Slack incoming webhook's body.
#[derive(Serialize)]
struct SlackBody {
    /// `*title*`, a newline, the message; mrkdwn, escaped.
    text: String,
}

fn slack(event: &AlertEvent) -> SlackBody {
    SlackBody { text: format!("*{}*\n{}", slack_escape(&event.title), slack_escape(&event.message)) }
}

/// The three characters Slack's mrkdwn asks to be escaped
/// (<https://api.slack.com/reference/surfaces/formatting#escaping>).
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A Discord webhook's body: one embed.
#[derive(Serialize)]
struct DiscordBody {
    /// Exactly one.
    embeds: [DiscordEmbed; 1],
}

/// Discord's embed; empty fields are left out (Discord refuses them).
#[derive(Serialize)]
struct DiscordEmbed {
    /// The title, at most 256 characters.
    #[serde(skip_serializing_if = "String::is_empty")]
    title: String,
    /// The message, at most 4096 characters.
    #[serde(skip_serializing_if = "String::is_empty")]
    description: String,
    /// The bar's colour, `0xRRGGBB`.
    color: u32,
}

fn discord(event: &AlertEvent) -> DiscordBody {
    let color = match (event.state, event.severity) {
        (AlertState::Resolved, _) => 0x2e_a0_43,
        (_, Severity::Info) => 0x3b_82_f6,
        (_, Severity::Warning) => 0xf5_a6_23,
        (_, Severity::Critical) => 0xe5_48_4d,
    };
    DiscordBody {
        embeds: [DiscordEmbed {
            title: truncate_chars(&event.title, DISCORD_TITLE_CHARS).into_owned(),
            description: truncate_chars(&event.message, DISCORD_DESCRIPTION_CHARS).into_owned(),
            color,
        }],
    }
}

/// `text` cut to `max` characters, the last of them "…" when it was cut.
fn truncate_chars(text: &str, max: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max) {
        None => Cow::Borrowed(text),
        Some(_) => {
            let keep = text.char_indices().nth(max.saturating_sub(1)).map_or(0, |(at, _)| at);
            Cow::Owned(format!("{}…", &text[..keep]))
        }
    }
}

/// `text` cut to `max` bytes on a character boundary, ending in "…" when it
/// was cut.
fn truncate_bytes(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    let mut keep = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(keep) {
        keep -= 1;
    }
    Cow::Owned(format!("{}…", &text[..keep]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::alerts::ALERT_SCHEMA;

    fn event(state: AlertState, severity: Severity) -> AlertEvent {
        AlertEvent {
            perfmon_alert: ALERT_SCHEMA,
            id: 42,
            state,
            rule: "run_failed".into(),
            severity,
            title: "Run “nightly” failed: exit 2".into(),
            message: "nightly <train> & eval exited with 2 after 3m 10s.".into(),
            project: Some("demo".into()),
            run_id: Some("2026-12-03T08:00:00Z".into()),
            series: None,
            value: None,
            threshold: None,
            fired_at: shared::Timestamp("2026-12-03T08:03:10.000Z".into()),
            resolved_at: None,
            silenced: false,
        }
    }

    fn destination(kind: Kind) -> Destination {
        Destination::new("d", kind, "https://receiver.example/secret").expect("valid")
    }

    fn text(request: &Request) -> &str {
        std::str::from_utf8(&request.body).expect("UTF-8")
    }

    fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
        request.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn a_webhook_gets_the_event_as_is() {
        let request = request(&destination(Kind::Webhook), &event(AlertState::Event, Severity::Warning))
            .expect("serialises");
        assert_eq!(
            request.headers,
            [("Content-Type", "application/json".to_owned()), ("User-Agent", USER_AGENT.to_owned())]
        );
        assert_eq!(
            text(&request),
            r#"{"perfmon_alert":1,"id":42,"state":"event","rule":"run_failed","severity":"warning","title":"Run “nightly” failed: exit 2","message":"nightly <train> & eval exited with 2 after 3m 10s.","project":"demo","run_id":"2026-12-03T08:00:00Z","fired_at":"2026-12-03T08:03:10.000Z"}"#
        );
        assert!(USER_AGENT.starts_with("perfmon/") && USER_AGENT.len() > "perfmon/".len());
    }

    #[test]
    fn ntfy_gets_the_message_and_encoded_headers() {
        let request = request(&destination(Kind::Ntfy), &event(AlertState::Firing, Severity::Critical))
            .expect("builds");
        assert_eq!(
            request.headers,
            [
                ("Content-Type", "text/plain; charset=utf-8".to_owned()),
                ("User-Agent", USER_AGENT.to_owned()),
                // "Run “nightly” failed: exit 2": 32 bytes, one encoded word.
                ("X-Title", "=?UTF-8?B?UnVuIOKAnG5pZ2h0bHnigJ0gZmFpbGVkOiBleGl0IDI=?=".to_owned()),
                ("X-Priority", "5".to_owned()),
                ("X-Tags", "rotating_light".to_owned()),
            ]
        );
        assert_eq!(text(&request), "nightly <train> & eval exited with 2 after 3m 10s.");
    }

    #[test]
    fn ntfy_priority_and_tag_follow_state_and_severity_and_the_override_wins() {
        let cases = [
            (AlertState::Firing, Severity::Critical, "5", "rotating_light"),
            (AlertState::Firing, Severity::Warning, "4", "warning"),
            (AlertState::Firing, Severity::Info, "3", "information_source"),
            (AlertState::Resolved, Severity::Critical, "3", "white_check_mark"),
            (AlertState::Event, Severity::Info, "3", "checkered_flag"),
            (AlertState::Event, Severity::Warning, "4", "warning"),
            (AlertState::Event, Severity::Critical, "5", "rotating_light"),
        ];
        for (state, severity, priority, tag) in cases {
            let request = request(&destination(Kind::Ntfy), &event(state, severity)).expect("builds");
            assert_eq!(header(&request, "X-Priority"), Some(priority), "{state:?} {severity:?}");
            assert_eq!(header(&request, "X-Tags"), Some(tag), "{state:?} {severity:?}");
        }
        let configured = destination(Kind::Ntfy).with_ntfy(Some(1), vec!["gpu".into(), "lab-2".into()]);
        let request = request(&configured, &event(AlertState::Firing, Severity::Critical)).expect("builds");
        assert_eq!(header(&request, "X-Priority"), Some("1"));
        assert_eq!(header(&request, "X-Tags"), Some("rotating_light,gpu,lab-2"));
    }

    #[test]
    fn header_text_is_ascii_as_is_and_encoded_words_otherwise() {
        assert_eq!(header_text("Memory low: 3 % available"), "Memory low: 3 % available");
        assert_eq!(header_text("two\nlines"), "=?UTF-8?B?dHdvCmxpbmVz?=");
        let long = "é".repeat(40); // 80 bytes: 22 characters (44 bytes), then 18.
        let encoded = header_text(&long);
        let words: Vec<&str> = encoded.split(' ').collect();
        assert_eq!(words.len(), 2);
        assert!(words.iter().all(|w| w.len() <= 75 && w.starts_with("=?UTF-8?B?") && w.ends_with("?=")));
        let decoded: Vec<u8> = words
            .iter()
            .flat_map(|w| {
                base64::engine::general_purpose::STANDARD.decode(&w[10..w.len() - 2]).expect("base64")
            })
            .collect();
        assert_eq!(String::from_utf8(decoded).expect("UTF-8"), long);
    }

    #[test]
    fn an_ntfy_message_is_cut_to_4096_bytes() {
        let mut long = event(AlertState::Event, Severity::Info);
        long.message = format!("a{}", "é".repeat(3000));
        let request = request(&destination(Kind::Ntfy), &long).expect("builds");
        let body = text(&request);
        assert!(body.len() <= NTFY_MESSAGE_BYTES && body.len() > NTFY_MESSAGE_BYTES - 4, "{}", body.len());
        assert!(body.ends_with('…'));
    }

    #[test]
    fn slack_gets_a_bold_title_and_escaped_text() {
        let request =
            request(&destination(Kind::Slack), &event(AlertState::Event, Severity::Warning)).expect("builds");
        assert_eq!(header(&request, "Content-Type"), Some("application/json"));
        assert_eq!(
            text(&request),
            r#"{"text":"*Run “nightly” failed: exit 2*\nnightly &lt;train&gt; &amp; eval exited with 2 after 3m 10s."}"#
        );
    }

    #[test]
    fn discord_gets_one_embed_coloured_by_state_and_severity() {
        let request = request(&destination(Kind::Discord), &event(AlertState::Firing, Severity::Critical))
            .expect("builds");
        assert_eq!(header(&request, "Content-Type"), Some("application/json"));
        assert_eq!(
            text(&request),
            r#"{"embeds":[{"title":"Run “nightly” failed: exit 2","description":"nightly <train> & eval exited with 2 after 3m 10s.","color":15026253}]}"#
        );
        let colour = |state, severity| discord(&event(state, severity)).embeds[0].color;
        assert_eq!(colour(AlertState::Resolved, Severity::Critical), 0x2ea043);
        assert_eq!(colour(AlertState::Event, Severity::Info), 0x3b82f6);
        assert_eq!(colour(AlertState::Firing, Severity::Warning), 0xf5a623);
    }

    #[test]
    fn discord_limits_are_kept_and_empty_fields_left_out() {
        let mut long = event(AlertState::Firing, Severity::Warning);
        long.title = "t".repeat(300);
        long.message = "ü".repeat(5000);
        let body = discord(&long);
        let embed = &body.embeds[0];
        assert_eq!(embed.title.chars().count(), 256);
        assert!(embed.title.ends_with("t…"));
        assert_eq!(embed.description.chars().count(), 4096);
        assert!(embed.description.ends_with("ü…"));
        long.message.clear();
        let text = String::from_utf8(request(&destination(Kind::Discord), &long).expect("builds").body)
            .expect("UTF-8");
        assert!(!text.contains("description"), "{text}");
    }

    #[test]
    fn truncation_leaves_short_text_alone() {
        assert_eq!(truncate_chars("abc", 3), "abc");
        assert_eq!(truncate_chars("abcd", 3), "ab…");
        assert_eq!(truncate_bytes("abc", 3), "abc");
        assert_eq!(truncate_bytes("abcdef", 5), "ab…");
    }
}
