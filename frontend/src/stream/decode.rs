//! A server message decoded with its tag read first.
//!
//! [`ServerMsg`] is internally tagged: `"type"` sits beside the payload's own
//! fields, as AutoForge's contract has it. serde's derive decodes such an enum
//! by first copying the whole message into a buffer of its own (`Content`), then
//! decoding the variant from that buffer: every type under a message is compiled
//! once for each of the two decoders, and each message is built twice. Here the
//! tag is read first (the rest of the text skipped, nothing kept), then the
//! variant's payload is decoded straight from the text, the `type` key ignored
//! as any unknown field is. The bundle keeps one decoder, and a frame is decoded
//! once (BENCHMARKS.md, Frontend).

use std::borrow::Cow;

use serde::Deserialize;
use shared::ServerMsg;

/// The message's tag alone.
#[derive(Deserialize)]
struct Tag<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
}

/// The tags this build knows, for the error a newer server's message gets.
const KNOWN: &[&str] = &["agent_status", "perf_metrics", "history", "pong", "error"];

/// Decodes one text frame as the derived `ServerMsg` decoder would, with the
/// same answer for every message and the same refusal of an unknown tag.
pub fn decode(text: &str) -> serde_json::Result<ServerMsg> {
    let Tag { kind } = serde_json::from_str(text)?;
    Ok(match kind.as_ref() {
        "agent_status" => ServerMsg::AgentStatus(serde_json::from_str(text)?),
        "perf_metrics" => ServerMsg::PerfMetrics(serde_json::from_str(text)?),
        "history" => ServerMsg::History(serde_json::from_str(text)?),
        "pong" => ServerMsg::Pong,
        "error" => ServerMsg::Error(serde_json::from_str(text)?),
        other => return Err(serde::de::Error::unknown_variant(other, KNOWN)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = include_str!("../../../shared/tests/fixtures/full_perf_metrics.json");
    const SEED: &str = include_str!("../../../shared/tests/fixtures/seed_perf_metrics.json");

    /// Each variant's tag: a variant added to `ServerMsg` stops this compiling
    /// until `decode` and `KNOWN` learn it too.
    fn tag_of(msg: &ServerMsg) -> &'static str {
        match msg {
            ServerMsg::AgentStatus(_) => "agent_status",
            ServerMsg::PerfMetrics(_) => "perf_metrics",
            ServerMsg::History(_) => "history",
            ServerMsg::Pong => "pong",
            ServerMsg::Error(_) => "error",
        }
    }

    fn derived(text: &str) -> serde_json::Result<ServerMsg> {
        serde_json::from_str::<ServerMsg>(text)
    }

    #[test]
    fn every_message_decodes_as_the_derived_decoder_decodes_it() {
        let ServerMsg::PerfMetrics(sample) = derived(FULL).expect("the full fixture") else {
            panic!("the fixture is perf_metrics")
        };
        let history = serde_json::json!({
            "type": "history",
            "samples": [serde_json::to_value(&sample).expect("a sample"), serde_json::to_value(&sample).expect("a sample")],
        })
        .to_string();
        let messages = [
            FULL.to_owned(),
            SEED.to_owned(),
            history,
            r#"{"type":"agent_status","status":"running"}"#.to_owned(),
            r#"{"status":"paused","type":"agent_status"}"#.to_owned(),
            r#"{"type":"pong"}"#.to_owned(),
            r#"{"type":"error","code":"invalid_json","message":"what?"}"#.to_owned(),
            // An escaped tag is still the tag.
            r#"{"type":"p\u006fng"}"#.to_owned(),
        ];
        for text in &messages {
            let ours = decode(text).unwrap_or_else(|err| panic!("{err}: {text}"));
            assert_eq!(ours, derived(text).expect("the derived decoder takes it"), "{text}");
            assert!(KNOWN.contains(&tag_of(&ours)), "{text}");
        }
    }

    #[test]
    fn what_the_derived_decoder_refuses_is_refused() {
        for text in [
            r#"{"type":"from_a_newer_server","x":1}"#,
            r#"{"status":"running"}"#,
            r#"{"type":"agent_status","status":"dancing"}"#,
            r#"{"type":"perf_metrics","cpu":"lots"}"#,
            r#"{"type":7}"#,
            "not json",
        ] {
            assert!(derived(text).is_err(), "{text}");
            assert!(decode(text).is_err(), "{text}");
        }
        let err = decode(r#"{"type":"from_a_newer_server"}"#).expect_err("unknown");
        assert!(err.to_string().contains("from_a_newer_server"), "{err}");
    }
}
