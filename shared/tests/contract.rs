//! The contract's JSON shape: the seed document's example must decode, and every
//! message must survive a round trip unchanged.

use serde_json::Value;
use shared::{
    ClientMsg, Cpu, Disk, ErrorCode, ErrorMsg, Gpu, GpuDevice, History, LoadAverage, Memory, Monitor,
    Network, PerfMetrics, Run, RunProcess, RunStatus, ServerMsg, Timestamp, Tokens,
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
            ..Run::default()
        },
        tokens: Tokens { current_run: 1420, total_session: 9180, available: false, ..Tokens::default() },
        cpu: Cpu { percent: Some(37.2), ..Cpu::default() },
        memory: Memory { used_gb: Some(6.2), total_gb: Some(16.0), percent: Some(38.8), ..Memory::default() },
        gpu: Gpu::default(),
        ..PerfMetrics::default()
    }
}

#[test]
fn seed_example_decodes_to_the_expected_value() {
    let msg: ServerMsg = serde_json::from_str(SEED).expect("seed example must decode");
    assert_eq!(msg, ServerMsg::PerfMetrics(seed_value()));
}

/// Every key of `expected` is in `actual` with the same value, recursively.
fn assert_contains(actual: &Value, expected: &Value, path: &str) {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => {
            for (key, value) in e {
                let inner = a.get(key).unwrap_or_else(|| panic!("{path}.{key} missing"));
                assert_contains(inner, value, &format!("{path}.{key}"));
            }
        }
        _ => assert_eq!(actual, expected, "at {path}"),
    }
}

#[test]
fn seed_example_encodes_back_with_every_seed_field_unchanged() {
    // The contract has grown beyond the seed (network, disk, …); every seed field
    // must still come out exactly as the seed has it.
    let msg: ServerMsg = serde_json::from_str(SEED).expect("seed example must decode");
    let again: Value = serde_json::to_value(&msg).expect("encode");
    let original: Value = serde_json::from_str(SEED).expect("fixture is JSON");
    assert_contains(&again, &original, "$");
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
        cpu: Cpu::default(),
        memory: Memory::default(),
        run: Run::default(),
        ..seed_value()
    };
    let full = PerfMetrics {
        seq: 7,
        interval_ms: 1000,
        run: Run {
            process: Some(RunProcess {
                cpu_percent: Some(12.5),
                rss_mb: Some(300.2),
                gpu_memory_gb: None,
                process_count: 3,
                gpu_memory_reason: None,
            }),
            ..seed_value().run
        },
        cpu: Cpu {
            percent: Some(40.0),
            per_core: vec![30.0, 50.0],
            load_average: Some(LoadAverage { one: 0.5, five: 0.25, fifteen: 0.1 }),
        },
        memory: Memory { swap_used_gb: Some(0.0), swap_total_gb: Some(2.0), ..seed_value().memory },
        network: Network {
            rx_bytes_per_s: Some(1024.0),
            tx_bytes_per_s: Some(0.0),
            rx_total_bytes: Some(10),
            tx_total_bytes: Some(20),
        },
        disk: Disk {
            read_bytes_per_s: Some(0.0),
            write_bytes_per_s: Some(4096.0),
            used_gb: Some(10.5),
            total_gb: Some(100.0),
        },
        monitor: Monitor { cpu_percent: Some(0.1), rss_mb: Some(9.5) },
        gpu: Gpu {
            available: true,
            percent: Some(50.0),
            vram_used_gb: Some(1.0),
            vram_total_gb: Some(80.0),
            reason: None,
            devices: vec![GpuDevice {
                index: 0,
                name: "NVIDIA H100".into(),
                percent: Some(50.0),
                vram_used_gb: Some(1.0),
                vram_total_gb: Some(80.0),
                temperature_c: Some(41.0),
                power_w: Some(120.5),
                ..GpuDevice::default()
            }],
        },
        ..seed_value()
    };
    let messages = [
        ServerMsg::PerfMetrics(seed_value()),
        ServerMsg::PerfMetrics(full.clone()),
        ServerMsg::History(History { samples: vec![seed_value(), full] }),
        ServerMsg::PerfMetrics(unavailable_gpu),
        ServerMsg::Pong,
        ServerMsg::Error(ErrorMsg { code: ErrorCode::InvalidJson, message: "expected value".into() }),
    ];
    for msg in messages {
        assert_eq!(round_trip(&msg), msg);
    }
}

#[test]
fn client_ping_round_trips_and_has_the_documented_shape() {
    assert_eq!(round_trip(&ClientMsg::Ping), ClientMsg::Ping);
    assert_eq!(serde_json::to_string(&ClientMsg::Ping).expect("encode"), r#"{"type":"ping"}"#);
    assert_eq!(serde_json::to_string(&ServerMsg::Pong).expect("encode"), r#"{"type":"pong"}"#);
}

#[test]
fn error_shape_is_code_and_message() {
    let msg =
        ServerMsg::Error(ErrorMsg { code: ErrorCode::UnsupportedMessage, message: "unknown type".into() });
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
    let ServerMsg::Error(err) = msg else { panic!("expected an error message, got {msg:?}") };
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
    assert!(!RunStatus::Stopped.is_live());
    assert!(!RunStatus::Crashed.is_live());
    assert_eq!(RunStatus::ended(Some(0), None), RunStatus::Stopped);
    assert_eq!(RunStatus::ended(None, None), RunStatus::Stopped, "stopped by PerfMon, or not reported yet");
    assert_eq!(RunStatus::ended(Some(3), None), RunStatus::Crashed);
    assert_eq!(RunStatus::ended(None, Some(9)), RunStatus::Crashed);
    // A server before AutoForge compatibility said `idle` for "no run".
    assert_eq!(serde_json::from_str::<RunStatus>(r#""idle""#).expect("an alias"), RunStatus::Stopped);
}

#[test]
fn api_bodies_refuse_unknown_fields_and_wrong_types() {
    use shared::api::{RegisterRun, TokenDelta};
    assert_eq!(
        serde_json::from_str::<RegisterRun>(r#"{"pid":42}"#).ok(),
        Some(RegisterRun { pid: 42, label: None, from_start: false, notify: vec![] })
    );
    assert_eq!(
        serde_json::from_str::<RegisterRun>(r#"{"pid":42,"label":"nightly"}"#).ok(),
        Some(RegisterRun { pid: 42, label: Some("nightly".into()), from_start: false, notify: vec![] })
    );
    assert!(serde_json::from_str::<RegisterRun>(r#"{"pid":-1}"#).is_err());
    assert!(serde_json::from_str::<RegisterRun>(r#"{"pid":"42"}"#).is_err());
    assert!(serde_json::from_str::<RegisterRun>(r#"{"pid":42,"cmd":"rm"}"#).is_err());
    assert_eq!(serde_json::from_str::<TokenDelta>(r#"{"tokens":5}"#).ok(), Some(TokenDelta { tokens: 5 }));
    assert!(serde_json::from_str::<TokenDelta>(r#"{"tokens":-5}"#).is_err());
}

#[test]
fn per_device_state_round_trips_and_older_devices_read_as_answering() {
    let lost = GpuDevice {
        index: 1,
        name: "NVIDIA A100".into(),
        available: false,
        reason: Some("GPU is lost".into()),
        not_supported: vec!["power_w".into()],
        ..GpuDevice::default()
    };
    assert_eq!(round_trip(&lost), lost);
    let json = serde_json::to_value(&lost).expect("encode");
    assert_eq!(json["available"], false);
    assert_eq!(json["reason"], "GPU is lost");
    // A device from a server that predates per-device state answered.
    let old: GpuDevice = serde_json::from_str(
        r#"{"index":0,"name":"GPU","percent":1.0,"vram_used_gb":1.0,"vram_total_gb":2.0,"temperature_c":null,"power_w":null}"#,
    )
    .expect("decodes");
    assert!(old.available && old.reason.is_none() && old.not_supported.is_empty());
}

#[test]
fn an_unknown_run_gpu_memory_says_why() {
    let process = RunProcess {
        gpu_memory_gb: None,
        gpu_memory_reason: Some("PerfMon runs in a container".into()),
        ..RunProcess::default()
    };
    assert_eq!(round_trip(&process), process);
    let known = serde_json::to_value(RunProcess { gpu_memory_gb: Some(0.0), ..RunProcess::default() })
        .expect("encode");
    assert!(known.get("gpu_memory_reason").is_none(), "no reason key when it is known");
}

#[test]
fn exit_reports_and_history_answers_keep_their_documented_shape() {
    use shared::api::{ExitReport, HistorySeries, RunOutcome};
    let report: ExitReport = serde_json::from_str(r#"{"exit_code":3}"#).expect("exit code");
    assert_eq!((report.exit_code, report.signal), (Some(3), None));
    assert!(serde_json::from_str::<ExitReport>(r#"{"exit_code":3,"command":"x"}"#).is_err());
    assert_eq!(serde_json::to_value(RunOutcome::Interrupted).expect("json"), "interrupted");
    // Extremes are left out where a point is one sample.
    let mut h =
        HistorySeries { step_s: 1, tier: "raw".into(), timestamps: vec![0], ..HistorySeries::default() };
    h.series.insert("cpu.percent".into(), vec![None]);
    let json = serde_json::to_value(&h).expect("json");
    assert_eq!(
        json,
        serde_json::json!({"step_s":1,"tier":"raw","timestamps":[0],"series":{"cpu.percent":[null]}})
    );
}

#[test]
fn a_token_sources_key_is_its_serde_name() {
    use shared::TokenSource;
    for source in [TokenSource::ClaudeCode, TokenSource::Codex, TokenSource::Api] {
        assert_eq!(serde_json::to_value(source).expect("serialises"), source.key());
    }
}
