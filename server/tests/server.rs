//! The real server on port 0, real WebSocket clients, and the router through `oneshot`.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use futures_util::SinkExt;
use http_body_util::BodyExt;
use server::testkit::{TestServer, close_code_within, connect, fast_config, next_metrics, next_msg};
use server::{AppState, Config};
use shared::{ErrorCode, PerfMetrics, ServerMsg};
use tokio_tungstenite::tungstenite::Message;
use tower::ServiceExt;

fn assert_plausible(m: &PerfMetrics) {
    let cpu = m.cpu.percent.expect("cpu percent present");
    assert!((0.0..=100.0).contains(&cpu), "cpu {cpu}");
    let used = m.memory.used_gb.expect("memory used");
    let total = m.memory.total_gb.expect("memory total");
    assert!(used > 0.0 && used <= total, "memory {used} of {total}");
    let percent = m.memory.percent.expect("memory percent");
    assert!((0.0..=100.0).contains(&percent), "memory percent {percent}");
    if !m.gpu.available {
        assert!(m.gpu.reason.is_some(), "an unavailable GPU says why");
    }
}

#[tokio::test]
async fn two_clients_receive_the_same_samples_with_plausible_values() {
    let server = TestServer::start(fast_config()).await;
    let mut a = connect(server.addr, "demo").await;
    let mut b = connect(server.addr, "demo").await;

    let mut seen_a = std::collections::HashMap::new();
    let mut seen_b = std::collections::HashMap::new();
    for _ in 0..6 {
        for (client, seen) in [(&mut a, &mut seen_a), (&mut b, &mut seen_b)] {
            let m = next_metrics(client).await;
            assert_eq!(m.project, "demo");
            assert_plausible(&m);
            seen.insert(m.timestamp.clone(), m);
        }
    }
    // One sampler, one frame per tick: whatever tick both clients saw (a slow
    // reader may skip one), they saw the very same sample.
    let common: Vec<_> = seen_b.keys().filter(|ts| seen_a.contains_key(*ts)).collect();
    assert!(common.len() >= 2, "a: {:?}, b: {:?}", seen_a.keys(), seen_b.keys());
    for ts in common {
        assert_eq!(seen_a[ts], seen_b[ts], "the same tick, the same sample");
    }
    server.stop().await;
}

#[tokio::test]
async fn ping_gets_pong_and_bad_frames_get_errors_without_closing() {
    let server = TestServer::start(fast_config()).await;
    let mut client = connect(server.addr, "demo").await;

    let send = |text: &'static str| Message::Text(text.into());
    client.send(send(r#"{"type":"ping"}"#)).await.expect("send ping");
    loop {
        match next_msg(&mut client).await {
            ServerMsg::Pong => break,
            ServerMsg::PerfMetrics(_) => continue,
            other => panic!("expected pong, got {other:?}"),
        }
    }

    for (frame, code) in [
        (send("{oops"), ErrorCode::InvalidJson),
        (send(r#"{"type":"launch_missiles"}"#), ErrorCode::UnsupportedMessage),
        (Message::Binary(vec![1, 2, 3].into()), ErrorCode::BinaryNotSupported),
    ] {
        client.send(frame).await.expect("send");
        loop {
            match next_msg(&mut client).await {
                ServerMsg::Error(err) => {
                    assert_eq!(err.code, code);
                    assert!(!err.message.is_empty());
                    break;
                }
                ServerMsg::PerfMetrics(_) => continue,
                other => panic!("expected an error, got {other:?}"),
            }
        }
    }
    // Still streaming after all that.
    assert_plausible(&next_metrics(&mut client).await);

    server.stop().await;
}

#[tokio::test]
async fn shutdown_closes_open_sockets_with_going_away() {
    let server = TestServer::start(fast_config()).await;
    let mut client = connect(server.addr, "demo").await;
    next_metrics(&mut client).await;

    let stopped = tokio::spawn(server.stop());
    let closed = close_code_within(&mut client, Duration::from_secs(10)).await;
    assert_eq!(closed, Some(shared::close::GOING_AWAY));
    tokio::time::timeout(Duration::from_secs(10), stopped).await.expect("the server exits").expect("join");
}

fn router(static_dir: Option<&std::path::Path>) -> axum::Router {
    let config = Config { static_dir: static_dir.map(Into::into), ..Config::default() };
    server::app(AppState::new(&config, server::hub_for(&config), tokio_util::sync::CancellationToken::new()))
}

async fn body_text(response: axum::response::Response) -> String {
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    String::from_utf8(bytes.to_vec()).expect("utf-8 body")
}

#[tokio::test]
async fn health_reports_ok_and_the_protocol_version() {
    let response = router(None)
        .oneshot(
            Request::get("/api/health")
                .header("host", "localhost:8000")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = serde_json::from_str(&body_text(response).await).expect("json");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["protocol"], shared::PROTOCOL_VERSION);
}

#[tokio::test]
async fn an_invalid_project_name_is_refused_with_a_clear_error() {
    // `..` and `%2F` would otherwise look like paths.
    for path in ["/ws/projects/..", "/ws/projects/a%2Fb", "/ws/projects/%3Cscript%3E"] {
        let request = Request::get(path)
            .header("host", "localhost:8000")
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .body(Body::empty())
            .expect("request");
        let response = router(None).oneshot(request).await.expect("response");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
        let err: shared::api::ApiError =
            serde_json::from_str(&body_text(response).await).expect("json error");
        assert_eq!(err.code, "invalid_project");
    }
}

#[tokio::test]
async fn a_plain_get_on_the_stream_is_not_upgraded() {
    let response = router(None)
        .oneshot(
            Request::get("/ws/projects/demo")
                .header("host", "localhost:8000")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    assert!(response.status().is_client_error(), "{}", response.status());
    let err: shared::api::ApiError =
        serde_json::from_str(&body_text(response).await).expect("the one error shape");
    assert_eq!(err.code, "not_a_websocket");
}

#[tokio::test]
async fn unknown_api_paths_and_methods_get_the_one_error_shape() {
    for (method, path, status) in [
        ("GET", "/api", StatusCode::NOT_FOUND),
        ("GET", "/api/", StatusCode::NOT_FOUND),
        ("GET", "/api/nope", StatusCode::NOT_FOUND),
        ("GET", "/api/projects/x/nope", StatusCode::NOT_FOUND),
        ("PUT", "/api/projects/x/run", StatusCode::METHOD_NOT_ALLOWED),
        ("GET", "/api/projects/x/tokens", StatusCode::METHOD_NOT_ALLOWED),
    ] {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost:8000")
            .body(Body::empty())
            .expect("request");
        let response = router(None).oneshot(request).await.expect("response");
        assert_eq!(response.status(), status, "{method} {path}");
        let err: shared::api::ApiError =
            serde_json::from_str(&body_text(response).await).expect("the one error shape");
        assert!(!err.code.is_empty() && !err.message.is_empty(), "{method} {path}: {err:?}");
    }
}

#[tokio::test]
async fn the_built_frontend_is_served_at_the_root_and_for_app_urls() {
    let dir = std::env::temp_dir().join(format!("perfmon-static-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("index.html"), "<html>perfmon-index</html>").expect("write index");
    for path in ["/", "/some/app/url"] {
        let response = router(Some(&dir))
            .oneshot(
                Request::get(path).header("host", "localhost:8000").body(Body::empty()).expect("request"),
            )
            .await
            .expect("response");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert!(body_text(response).await.contains("perfmon-index"));
    }
    // A file that is not there (an old build's hashed name) is a 404, not the page
    // in its place: a browser would otherwise run HTML as a script.
    let response = router(Some(&dir))
        .oneshot(
            Request::get("/frontend-0123456789abcdef.js")
                .header("host", "localhost:8000")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let err: shared::api::ApiError =
        serde_json::from_str(&body_text(response).await).expect("the one error shape");
    assert_eq!(err.code, "not_found");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_static_dir_without_a_built_frontend_says_how_to_build_it() {
    let empty = server::testkit::Scratch::new("no-frontend");
    let response = router(Some(&empty.0))
        .oneshot(Request::get("/").header("host", "localhost:8000").body(Body::empty()).expect("request"))
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let text = body_text(response).await;
    assert!(text.contains("trunk build") && text.contains("scripts/install.sh"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_history_is_replayed_whole_to_a_new_client() {
    // A fast live cadence fills ten minutes' worth of history in seconds.
    let config = Config {
        live_interval: Duration::from_millis(5),
        idle_interval: Duration::from_millis(5),
        ..Config::default()
    };
    let server = TestServer::start(config).await;
    let mut child = std::process::Command::new("sleep").arg("60").spawn().expect("spawn a run");
    let api = server.api();
    server::testkit::call(
        &api,
        server::cli::client::Method::POST,
        "/api/projects/long/run",
        Some(serde_json::json!({ "pid": child.id() })),
    )
    .await
    .expect("registered");
    let mut watcher = connect(server.addr, "long").await;
    // Over 400 KB of history: more than one client's write buffer used to hold.
    let mut pushed = 0;
    while pushed < 400 {
        if let ServerMsg::PerfMetrics(m) = next_msg(&mut watcher).await {
            pushed = m.seq;
        }
    }
    let mut late = connect(server.addr, "long").await;
    let ServerMsg::History(history) = next_msg(&mut late).await else { panic!("history first") };
    assert!(history.samples.len() >= 400, "replayed {} samples", history.samples.len());
    next_metrics(&mut late).await;
    let _ = child.kill();
    let _ = child.wait();
    server.stop().await;
}
