//! One line of a Codex CLI rollout, and a file's cumulative totals turned into
//! what each line adds. Only the envelope's `timestamp` and `type`, the
//! payload's `type` and `model`, and a `token_count`'s counters are
//! deserialised; everything else (instructions, messages, tool calls) is
//! skipped by the JSON parser without being copied.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::Usage;

/// What one line says.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Line {
    /// The model from now on (`turn_context`, or `session_meta` where it says).
    Model(String),
    /// Token counters.
    Tokens(DateTime<Utc>, Counts),
    /// A valid line that reports no usage (a `token_count` without `info`
    /// yet, a response item, session metadata without a model).
    Other,
    /// Not JSON, or a `token_count` without its counters or timestamp.
    Malformed,
}

/// A `token_count`'s counters, in either of the shapes Codex has written.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub(super) enum Counts {
    /// `info: {total_token_usage, last_token_usage, model_context_window}`:
    /// the session's totals so far, and the latest response's own.
    Info {
        /// The session's cumulative counters; `None` where only the latest
        /// response's are given.
        total: Option<Counters>,
        /// The latest response's counters.
        last: Option<Counters>,
        /// The model's context window.
        window: Option<u64>,
    },
    /// Early versions: one response's counters, flat in the payload (the
    /// TUI of the time summed them).
    Flat(Counters),
}

/// Codex's `TokenUsage`: cached input is part of input, reasoning part of
/// output.
#[derive(Debug, PartialEq, Eq, Clone, Copy, Default, Deserialize)]
pub(super) struct Counters {
    input_tokens: u64,
    #[serde(default)]
    cached_input_tokens: u64,
    output_tokens: u64,
    #[serde(default)]
    reasoning_output_tokens: u64,
    #[serde(default)]
    total_tokens: u64,
}

impl Counters {
    /// Each counter of `self` less `before`'s; `None` if any went down (the
    /// totals started again).
    fn since(&self, before: &Counters) -> Option<Counters> {
        Some(Counters {
            input_tokens: self.input_tokens.checked_sub(before.input_tokens)?,
            cached_input_tokens: self.cached_input_tokens.checked_sub(before.cached_input_tokens)?,
            output_tokens: self.output_tokens.checked_sub(before.output_tokens)?,
            reasoning_output_tokens: self
                .reasoning_output_tokens
                .checked_sub(before.reasoning_output_tokens)?,
            total_tokens: self.total_tokens.checked_sub(before.total_tokens)?,
        })
    }

    /// As [`Usage`] splits them (see the module docs of `transcripts`).
    fn usage(&self) -> Usage {
        let cached = self.cached_input_tokens.min(self.input_tokens);
        Usage {
            input: self.input_tokens - cached,
            output: self.output_tokens,
            cache_write: 0,
            cache_read: cached,
        }
    }

    /// The tokens this response's context held, as Codex's status line counts
    /// them: all but the reasoning, which is not sent again.
    fn in_context(&self) -> u64 {
        let total = if self.total_tokens > 0 {
            self.total_tokens
        } else {
            self.input_tokens.saturating_add(self.output_tokens)
        };
        total.saturating_sub(self.reasoning_output_tokens)
    }
}

/// The fields read of a line; borrowed where the text has no escapes.
#[derive(Deserialize)]
struct Raw<'a> {
    #[serde(borrow)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    payload: Option<RawPayload<'a>>,
}

#[derive(Deserialize)]
struct RawPayload<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    model: Option<Cow<'a, str>>,
    info: Option<RawInfo>,
    // The early flat shape.
    input_tokens: Option<u64>,
    cached_input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    reasoning_output_tokens: Option<u64>,
    total_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct RawInfo {
    total_token_usage: Option<Counters>,
    last_token_usage: Option<Counters>,
    model_context_window: Option<i64>,
}

/// Just the types, for a line whose other fields have unexpected shapes.
#[derive(Deserialize)]
struct KindOnly<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    payload: Option<PayloadKind<'a>>,
}

#[derive(Deserialize)]
struct PayloadKind<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
}

/// Parses one line (without its newline).
pub(super) fn parse(line: &str) -> Line {
    let raw = match serde_json::from_str::<Raw>(line) {
        Ok(raw) => raw,
        Err(_) => return unexpected(line),
    };
    let Some(payload) = raw.payload else {
        return Line::Other;
    };
    match (raw.kind.as_deref(), payload.kind.as_deref()) {
        (Some("turn_context" | "session_meta"), _) => {
            payload.model.map_or(Line::Other, |m| Line::Model(super::model_name(&m)))
        }
        (Some("event_msg"), Some("token_count")) => {
            let Some(at) = raw.timestamp.as_deref().and_then(|t| DateTime::parse_from_rfc3339(t).ok()) else {
                return Line::Malformed;
            };
            match counts(&payload) {
                Some(Ok(counts)) => Line::Tokens(at.with_timezone(&Utc), counts),
                Some(Err(())) => Line::Malformed,
                None => Line::Other,
            }
        }
        _ => Line::Other,
    }
}

/// A `token_count` payload's counters: `None` where it has none yet (`info`
/// null: only rate limits), an error where they are incomplete.
fn counts(payload: &RawPayload) -> Option<Result<Counts, ()>> {
    if let Some(info) = &payload.info {
        if info.total_token_usage.is_none() && info.last_token_usage.is_none() {
            return Some(Err(()));
        }
        let window = info.model_context_window.and_then(|w| u64::try_from(w).ok());
        return Some(Ok(Counts::Info { total: info.total_token_usage, last: info.last_token_usage, window }));
    }
    match (payload.input_tokens, payload.output_tokens) {
        (Some(input_tokens), Some(output_tokens)) => Some(Ok(Counts::Flat(Counters {
            input_tokens,
            cached_input_tokens: payload.cached_input_tokens.unwrap_or(0),
            output_tokens,
            reasoning_output_tokens: payload.reasoning_output_tokens.unwrap_or(0),
            total_tokens: payload.total_tokens.unwrap_or(0),
        }))),
        (None, None) => None,
        _ => Some(Err(())),
    }
}

/// A line that is not in the expected shape: malformed if it is not JSON or
/// claims to be a `token_count`, otherwise some other line.
fn unexpected(line: &str) -> Line {
    match serde_json::from_str::<KindOnly>(line) {
        Ok(KindOnly { kind, payload }) => {
            let token_count = kind.as_deref() == Some("event_msg")
                && payload.and_then(|p| p.kind).as_deref() == Some("token_count");
            if token_count { Line::Malformed } else { Line::Other }
        }
        Err(_) if serde_json::from_str::<serde::de::IgnoredAny>(line).is_ok() => Line::Other,
        Err(_) => Line::Malformed,
    }
}

/// One rollout's state between its lines.
#[derive(Debug, Default)]
pub(super) struct Session {
    /// The latest cumulative totals seen, counted or not.
    totals: Option<Counters>,
    /// The model from the latest `turn_context`.
    pub model: Option<String>,
}

/// What one `token_count` adds.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Added {
    /// The tokens.
    pub usage: Usage,
    /// The latest response's context, where the line says.
    pub context_tokens: Option<u64>,
    /// The model's context window, where the line says.
    pub window: Option<u64>,
}

impl Session {
    /// What `counts` adds to the file so far; `None` when nothing (a repeated
    /// event). Every line must pass here, counted or not, so that the totals
    /// the next one is measured from are the latest.
    pub fn add(&mut self, counts: &Counts) -> Option<Added> {
        let (added, last, window) = match *counts {
            Counts::Info { total: Some(total), last, window } => {
                let before = self.totals.replace(total);
                // With no earlier total in this file to measure from, or one
                // the new total is below, the event adds its own response
                // (`last_token_usage`), not the session's whole total: a
                // forked or resumed rollout starts from its parent's total,
                // with a last response of nothing. Only where the line has no
                // `last_token_usage` is the total taken whole.
                let added = before.and_then(|b| total.since(&b)).or(last).unwrap_or(total);
                (added, last, window)
            }
            Counts::Info { total: None, last: Some(last), window } => (last, Some(last), window),
            Counts::Info { total: None, last: None, .. } => return None,
            Counts::Flat(counters) => (counters, Some(counters), None),
        };
        let usage = added.usage();
        (usage.tokens() > 0).then(|| Added { usage, context_tokens: last.map(|l| l.in_context()), window })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(line: &str) -> Counts {
        match parse(line) {
            Line::Tokens(_, counts) => counts,
            other => panic!("not counts: {other:?}"),
        }
    }

    const FIRST: &str = r#"{"timestamp":"2025-10-01T12:00:05.000Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":1000,"cached_input_tokens":200,"output_tokens":50,"reasoning_output_tokens":20,"total_tokens":1050},"last_token_usage":{"input_tokens":1000,"cached_input_tokens":200,"output_tokens":50,"reasoning_output_tokens":20,"total_tokens":1050},"model_context_window":272000},"rate_limits":{"primary":{"used_percent":7.0,"window_minutes":300}}}}"#;
    const SECOND: &str = r#"{"timestamp":"2025-10-01T12:00:09.000Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":2500,"cached_input_tokens":1100,"output_tokens":80,"reasoning_output_tokens":25,"total_tokens":2580},"last_token_usage":{"input_tokens":1500,"cached_input_tokens":900,"output_tokens":30,"reasoning_output_tokens":5,"total_tokens":1530},"model_context_window":272000}}}"#;

    #[test]
    fn cumulative_totals_become_what_each_event_adds_and_a_repeat_adds_nothing() {
        let mut session = Session::default();
        let first = session.add(&count(FIRST)).expect("adds");
        assert_eq!(first.usage, Usage { input: 800, output: 50, cache_write: 0, cache_read: 200 });
        assert_eq!(first.context_tokens, Some(1030));
        assert_eq!(first.window, Some(272000));
        assert_eq!(session.add(&count(FIRST)), None, "the same totals again");
        let second = session.add(&count(SECOND)).expect("adds");
        assert_eq!(second.usage, Usage { input: 600, output: 30, cache_write: 0, cache_read: 900 });
        assert_eq!(second.context_tokens, Some(1525));
        // Totals that went down started again: the event's own response.
        let third = session.add(&count(FIRST)).expect("adds");
        assert_eq!(third.usage.tokens(), 1050);
    }

    /// A forked (or resumed into a new file) rollout's first event carries
    /// the parent's total and a last response of nothing: it adds nothing,
    /// and the next adds its difference from that total.
    #[test]
    fn a_rollout_that_starts_from_its_parents_total_adds_only_its_own_responses() {
        let forked = SECOND.replace(
            r#""last_token_usage":{"input_tokens":1500,"cached_input_tokens":900,"output_tokens":30,"reasoning_output_tokens":5,"total_tokens":1530}"#,
            r#""last_token_usage":{"input_tokens":0,"cached_input_tokens":0,"output_tokens":0,"reasoning_output_tokens":0,"total_tokens":0}"#,
        );
        assert_ne!(forked, SECOND);
        let mut session = Session::default();
        assert_eq!(session.add(&count(&forked)), None, "the parent's 2,580 tokens are not this rollout's");
        let next = SECOND.replace(
            r#""input_tokens":2500,"cached_input_tokens":1100,"output_tokens":80"#,
            r#""input_tokens":2900,"cached_input_tokens":1200,"output_tokens":95"#,
        );
        assert_ne!(next, SECOND);
        let added = session.add(&count(&next)).expect("adds");
        assert_eq!(added.usage, Usage { input: 300, output: 15, cache_write: 0, cache_read: 100 });
        // Where a line has no last response, its total is all there is.
        let mut bare = Session::default();
        let no_last = FIRST.replace(
            r#","last_token_usage":{"input_tokens":1000,"cached_input_tokens":200,"output_tokens":50,"reasoning_output_tokens":20,"total_tokens":1050}"#,
            "",
        );
        assert_ne!(no_last, FIRST);
        assert_eq!(bare.add(&count(&no_last)).expect("adds").usage.tokens(), 1050);
    }

    #[test]
    fn the_flat_early_shape_is_one_responses_usage() {
        let flat = r#"{"timestamp":"2025-08-01T09:00:00Z","type":"event_msg","payload":{"type":"token_count","input_tokens":300,"cached_input_tokens":100,"output_tokens":40,"reasoning_output_tokens":0,"total_tokens":340}}"#;
        let mut session = Session::default();
        let added = session.add(&count(flat)).expect("adds");
        assert_eq!(added.usage, Usage { input: 200, output: 40, cache_write: 0, cache_read: 100 });
        assert_eq!(session.add(&count(flat)).expect("each is a response").usage.tokens(), 340);
    }

    #[test]
    fn models_other_lines_and_malformed_ones() {
        let context = r#"{"timestamp":"2025-10-01T12:00:00Z","type":"turn_context","payload":{"cwd":"/home/me/app","approval_policy":"on-request","sandbox_policy":{"mode":"workspace-write"},"model":"gpt-5-codex","effort":"medium","summary":"auto"}}"#;
        assert_eq!(parse(context), Line::Model("gpt-5-codex".into()));
        let meta = r#"{"timestamp":"2025-10-01T12:00:00Z","type":"session_meta","payload":{"id":"0199","cwd":"/x","instructions":"SECRET-7f3a9c","git":{"branch":"main"}}}"#;
        assert_eq!(parse(meta), Line::Other);
        let no_info = r#"{"timestamp":"2025-10-01T12:00:00Z","type":"event_msg","payload":{"type":"token_count","info":null,"rate_limits":null}}"#;
        assert_eq!(parse(no_info), Line::Other);
        let item = r#"{"timestamp":"2025-10-01T12:00:00Z","type":"response_item","payload":{"type":"message","role":"user","content":[{"type":"input_text","text":"SECRET-7f3a9c"}],"model":{"odd":1}}}"#;
        assert_eq!(parse(item), Line::Other);
        let empty_info = r#"{"timestamp":"2025-10-01T12:00:00Z","type":"event_msg","payload":{"type":"token_count","info":{}}}"#;
        assert_eq!(parse(empty_info), Line::Malformed);
        let bad = r#"{"timestamp":"2025-10-01T12:00:00Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":"many"}}}}"#;
        assert_eq!(parse(bad), Line::Malformed);
        let no_time =
            r#"{"type":"event_msg","payload":{"type":"token_count","input_tokens":1,"output_tokens":1}}"#;
        assert_eq!(parse(no_time), Line::Malformed);
        assert_eq!(parse("{\"timestamp\":"), Line::Malformed);
    }
}
