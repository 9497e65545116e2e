//! One line of a Claude Code transcript. Only `type`, `timestamp`,
//! `sessionId`, `requestId` and `message.{id, model, usage}` are deserialised;
//! everything else (the message's content above all) is skipped by the JSON
//! parser without being copied.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{Usage, fnv1a};

/// The model Claude Code names on messages it made up itself (an API error, an
/// interrupted request): no model was asked, nothing was billed.
const SYNTHETIC_MODEL: &str = "<synthetic>";

/// What one line says.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Line {
    /// An assistant message's usage.
    Turn(Turn),
    /// A valid line that reports no usage (a user message, a tool result, a
    /// summary, a synthetic message).
    Other,
    /// Not JSON, or an assistant message without its usage or timestamp.
    Malformed,
}

/// An assistant message's usage.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Turn {
    /// When it was written.
    pub at: DateTime<Utc>,
    /// The session's id, as written (hashed before it is kept).
    pub session_id: Option<String>,
    /// `message.id` and `requestId` hashed together: the same for each line a
    /// message was written as; `None` without `message.id` (a missing
    /// `requestId` counts as empty).
    pub dedup: Option<u64>,
    /// The model, as written.
    pub model: Option<String>,
    /// A subagent's turn (`isSidechain`): its context is the subagent's own,
    /// not the session's.
    pub sidechain: bool,
    /// Its tokens.
    pub usage: Usage,
}

/// The fields read of a line; borrowed where the text has no escapes.
#[derive(Deserialize)]
struct Raw<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(rename = "sessionId", borrow)]
    session_id: Option<Cow<'a, str>>,
    #[serde(rename = "requestId", borrow)]
    request_id: Option<Cow<'a, str>>,
    #[serde(rename = "isSidechain")]
    is_sidechain: Option<bool>,
    #[serde(borrow)]
    message: Option<RawMessage<'a>>,
}

#[derive(Deserialize)]
struct RawMessage<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    model: Option<Cow<'a, str>>,
    usage: Option<RawUsage>,
}

#[derive(Deserialize)]
struct RawUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
}

/// Just the type, for a line whose other fields have unexpected shapes.
#[derive(Deserialize)]
struct KindOnly<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
}

/// Parses one line (without its newline).
pub(super) fn parse(line: &str) -> Line {
    let raw = match serde_json::from_str::<Raw>(line) {
        Ok(raw) => raw,
        // Fields of other shapes than an assistant message's (a `message` that
        // is a string, say) are fine on other lines; only the rare failure
        // pays for the second look.
        Err(_) => {
            return match serde_json::from_str::<KindOnly>(line) {
                Ok(KindOnly { kind }) if kind.as_deref() != Some("assistant") => Line::Other,
                _ => Line::Malformed,
            };
        }
    };
    if raw.kind.as_deref() != Some("assistant") {
        return Line::Other;
    }
    let Some(message) = raw.message else { return Line::Malformed };
    if message.model.as_deref() == Some(SYNTHETIC_MODEL) {
        return Line::Other;
    }
    let Some(usage) = message.usage else { return Line::Malformed };
    let (Some(input), Some(output)) = (usage.input_tokens, usage.output_tokens) else {
        return Line::Malformed;
    };
    let Some(at) = raw.timestamp.as_deref().and_then(|t| DateTime::parse_from_rfc3339(t).ok()) else {
        return Line::Malformed;
    };
    // Without `requestId`, the message's id alone still tells its lines.
    let request = raw.request_id.as_deref().unwrap_or("");
    let dedup = message.id.as_deref().map(|id| fnv1a(&[id.as_bytes(), request.as_bytes()]));
    Line::Turn(Turn {
        at: at.with_timezone(&Utc),
        session_id: raw.session_id.map(Cow::into_owned),
        dedup,
        model: message.model.map(|m| super::model_name(&m)),
        sidechain: raw.is_sidechain == Some(true),
        usage: Usage {
            input,
            output,
            cache_write: usage.cache_creation_input_tokens.unwrap_or(0),
            cache_read: usage.cache_read_input_tokens.unwrap_or(0),
        },
    })
}

/// Whether `line` is JSON at all (for tests of what counts as malformed).
#[cfg(test)]
fn is_json(line: &str) -> bool {
    serde_json::from_str::<serde::de::IgnoredAny>(line).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ASSISTANT: &str = r#"{"parentUuid":"a","isSidechain":false,"userType":"external","cwd":"/home/me/app","sessionId":"s-1","version":"2.0.14","gitBranch":"main","message":{"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":"here is SECRET-7f3a9c \"quoted\""}],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":4,"cache_creation_input_tokens":1200,"cache_read_input_tokens":15000,"cache_creation":{"ephemeral_5m_input_tokens":1200,"ephemeral_1h_input_tokens":0},"output_tokens":7,"service_tier":"standard"}},"requestId":"req_01","type":"assistant","uuid":"b","timestamp":"2025-10-01T12:00:01.500Z"}"#;

    #[test]
    fn an_assistant_line_gives_its_usage_and_nothing_of_its_content() {
        let Line::Turn(turn) = parse(ASSISTANT) else { panic!("a turn") };
        assert_eq!(turn.usage, Usage { input: 4, output: 7, cache_write: 1200, cache_read: 15000 });
        assert_eq!(turn.model.as_deref(), Some("claude-sonnet-4-5-20250929"));
        assert_eq!(turn.session_id.as_deref(), Some("s-1"));
        assert!(!turn.sidechain);
        let Line::Turn(subagent) =
            parse(&ASSISTANT.replace(r#""isSidechain":false"#, r#""isSidechain":true"#))
        else {
            panic!("a turn")
        };
        assert!(subagent.sidechain);
        assert_eq!(turn.at.to_rfc3339(), "2025-10-01T12:00:01.500+00:00");
        assert!(turn.dedup.is_some());
        assert!(!format!("{turn:?}").contains("SECRET-7f3a9c"));
    }

    #[test]
    fn other_lines_are_not_usage_and_broken_ones_are_malformed() {
        let user =
            r#"{"type":"user","message":{"role":"user","content":"hi"},"timestamp":"2025-10-01T12:00:00Z"}"#;
        assert_eq!(parse(user), Line::Other);
        let odd = r#"{"type":"summary","summary":"x","message":"a string"}"#;
        assert_eq!(parse(odd), Line::Other);
        let synthetic = r#"{"type":"assistant","timestamp":"2025-10-01T12:00:00Z","message":{"model":"<synthetic>","usage":{"input_tokens":0,"output_tokens":0}}}"#;
        assert_eq!(parse(synthetic), Line::Other);
        let no_usage = r#"{"type":"assistant","timestamp":"2025-10-01T12:00:00Z","message":{"model":"m"}}"#;
        assert_eq!(parse(no_usage), Line::Malformed);
        let no_time =
            r#"{"type":"assistant","message":{"model":"m","usage":{"input_tokens":1,"output_tokens":1}}}"#;
        assert_eq!(parse(no_time), Line::Malformed);
        let bad_count = r#"{"type":"assistant","message":{"usage":{"input_tokens":-1,"output_tokens":1}}}"#;
        assert!(is_json(bad_count));
        assert_eq!(parse(bad_count), Line::Malformed);
        assert_eq!(parse("not json {"), Line::Malformed);
        assert_eq!(parse(&ASSISTANT[..ASSISTANT.len() - 10]), Line::Malformed);
    }

    #[test]
    fn nulls_and_missing_cache_fields_count_as_zero() {
        let line = r#"{"type":"assistant","timestamp":"2025-10-01T12:00:00+02:00","message":{"id":"m","model":"claude-future-9","usage":{"input_tokens":3,"output_tokens":5,"cache_creation_input_tokens":null}}}"#;
        let Line::Turn(turn) = parse(line) else { panic!("a turn") };
        assert_eq!(turn.usage, Usage { input: 3, output: 5, cache_write: 0, cache_read: 0 });
        let with_request = line.replace(r#""message":"#, r#""requestId":"r","message":"#);
        let Line::Turn(requested) = parse(&with_request) else { panic!("a turn") };
        assert!(turn.dedup.is_some(), "no requestId: keyed by the message's id alone");
        assert_ne!(turn.dedup, requested.dedup, "the requestId is part of the key");
        let no_id = line.replace(r#""id":"m","#, "");
        let Line::Turn(anonymous) = parse(&no_id) else { panic!("a turn") };
        assert_eq!(anonymous.dedup, None, "no message id: counted as it is");
        assert_eq!(turn.at.to_rfc3339(), "2025-10-01T10:00:00+00:00");
    }
}
