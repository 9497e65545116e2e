//! The contract's JSON shape: the seed document's example must decode, and every
//! message must survive a round trip unchanged.

use serde_json::Value;
use shared::{
    ClientMsg, Cpu, ErrorCode, ErrorMsg, Gpu, Memory, PerfMetrics, Run, RunStatus, ServerMsg,
    Timestamp, Tokens,
};

const SEED: &str = include_str!("fixtures/seed_perf_metrics.json");

fn seed_value() -> PerfMetrics {
    PerfMetrics {
        timestamp: Timestamp("2026-02-08T20:15:30.123Z".into()),
        project: "my-project".into(),
        run: Run {
            status: RunStatus::Running,
            pid: Some(12345),
            started_at: Some(Timestamp("2026-02-08T20:10:00Z".into())),
            run_id: Some("12345-2026-02-08T20:10:00Z".into()),
        },
        tokens: Tokens {
            current_run: 1420,
            total_session: 9180,
            available: false,
        },
        cpu: Cpu {
            percent: Some(37.2),
        },
        memory: Memory {
            used_gb: Some(6.2),
            total_gb: Some(16.0),
            percent: Some(38.8),
        },
        gpu: Gpu::default(),
    }
}

#[test]
fn seed_example_decodes_to_the_expected_value() {
    let msg: ServerMsg = serde_json::from_str(SEED).expect("seed example must decode");
    assert_eq!(msg, ServerMsg::PerfMetrics(seed_value()));
}

#[test]
fn seed_example_encodes_back_to_the_same_json() {
    let msg: ServerMsg = serde_json::from_str(SEED).expect("seed example must decode");
    let again: Value = serde_json::to_value(&msg).expect("encode");
    let original: Value = serde_json::from_str(SEED).expect("fixture is JSON");
    assert_eq!(again, original);
}

fn round_trip<T>(value: &T) -> T
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let text = serde_json::to_string(value).expect("encode");
    serde_json::from_str(&text).expect("decode")
}

#[test]
fn every_server_message_round_trips() {
    let unavailable_gpu = PerfMetrics {
        gpu: Gpu {
            available: false,
            reason: Some("NVIDIA driver library not found".into()),
            ..Gpu::default()
        },
        cpu: Cpu { percent: None },
        memory: Memory::default(),
        run: Run::default(),
        ..seed_value()
    };
    let messages = [
        ServerMsg::PerfMetrics(seed_value()),
        ServerMsg::PerfMetrics(unavailable_gpu),
        ServerMsg::Pong,
        ServerMsg::Error(ErrorMsg {
            code: ErrorCode::InvalidJson,
            message: "expected value".into(),
        }),
    ];
    for msg in messages {
        assert_eq!(round_trip(&msg), msg);
    }
}

#[test]
fn client_ping_round_trips_and_has_the_documented_shape() {
    assert_eq!(round_trip(&ClientMsg::Ping), ClientMsg::Ping);
    assert_eq!(
        serde_json::to_string(&ClientMsg::Ping).expect("encode"),
        r#"{"type":"ping"}"#
    );
    assert_eq!(
        serde_json::to_string(&ServerMsg::Pong).expect("encode"),
        r#"{"type":"pong"}"#
    );
}

#[test]
fn error_shape_is_code_and_message() {
    let msg = ServerMsg::Error(ErrorMsg {
        code: ErrorCode::UnsupportedMessage,
        message: "unknown type".into(),
    });
    let v = serde_json::to_value(&msg).expect("encode");
    assert_eq!(
        v,
        serde_json::json!({"type": "error", "code": "unsupported_message", "message": "unknown type"})
    );
}

#[test]
fn unknown_error_codes_from_newer_servers_still_decode() {
    let msg: ServerMsg =
        serde_json::from_str(r#"{"type":"error","code":"rate_limited","message":"slow down"}"#)
            .expect("decode");
    let ServerMsg::Error(err) = msg else {
        panic!("expected an error message, got {msg:?}")
    };
    assert_eq!(err.code, ErrorCode::Unknown);
}

#[test]
fn an_unknown_client_type_is_rejected() {
    assert!(serde_json::from_str::<ClientMsg>(r#"{"type":"subscribe"}"#).is_err());
}

#[test]
fn live_means_running_or_paused() {
    assert!(RunStatus::Running.is_live());
    assert!(RunStatus::Paused.is_live());
    assert!(!RunStatus::Idle.is_live());
    assert!(!RunStatus::Stopped.is_live());
}
