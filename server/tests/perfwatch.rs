//! PerfWatch's stream (`/api/ws/metrics`) against the real server on port 0:
//! its cadence, its fields, ping/pong, bad input, and the same refusals as the
//! project streams (a missing, forged or expired JWT; a rebound Host; another
//! site's page).

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use server::cli::client::Method;
use server::testkit::{Client, TestServer, call, connections, eventually, fast_config, raw_http};
use server::{Auth, Config};
use shared::perfwatch::{PERFWATCH_INTERVAL_MS, PERFWATCH_PATH, PerfWatchMetrics, PerfWatchMsg};
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;

const JWT_SECRET: &str = "perfwatch-signing-key";

/// PerfWatch's own JWTs: HS256 with `sub` and `exp`.
fn jwt(secret: &str, lifetime_s: i64) -> String {
    #[derive(serde::Serialize)]
    struct Claims {
        sub: &'static str,
        exp: i64,
    }
    let now = chrono::Utc::now().timestamp();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &Claims { sub: "1", exp: now + lifetime_s },
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign")
}

async fn open(server: &TestServer, query: &str) -> Client {
    let url = format!("ws://{}{PERFWATCH_PATH}{query}", server.addr);
    connect_async(url).await.expect("the PerfWatch stream upgrades").0
}

/// The next text message as JSON and as PerfWatch's type, skipping protocol frames.
async fn next(ws: &mut Client, limit: Duration) -> (serde_json::Value, PerfWatchMsg) {
    loop {
        let frame = tokio::time::timeout(limit, ws.next())
            .await
            .expect("a message in time")
            .expect("the stream is open")
            .expect("no socket error");
        if let Message::Text(text) = frame {
            let json: serde_json::Value = serde_json::from_str(text.as_str()).expect("JSON");
            let msg = serde_json::from_str(text.as_str()).expect("a PerfWatch message");
            return (json, msg);
        }
    }
}

async fn next_metrics(ws: &mut Client) -> (serde_json::Value, PerfWatchMetrics) {
    // The first comes within one interval of connecting; leave room for a loaded machine.
    let limit = Duration::from_millis(PERFWATCH_INTERVAL_MS * 3);
    loop {
        if let (json, PerfWatchMsg::Metrics(m)) = next(ws, limit).await {
            return (json, m);
        }
    }
}

#[tokio::test]
async fn metrics_come_every_five_seconds_in_perfwatchs_shape_and_ping_gets_pong() {
    let server = TestServer::start(fast_config()).await;
    let mut ws = open(&server, "").await;

    let (json, first) = next_metrics(&mut ws).await;
    assert_eq!(json["type"], "metrics");
    let stamp = first.timestamp.as_str();
    assert!(stamp.ends_with('Z') && !stamp.contains('.'), "PerfWatch's whole-second UTC: {stamp}");
    assert!(chrono::DateTime::parse_from_rfc3339(stamp).is_ok(), "{stamp}");
    let data = &json["data"];
    for (section, fields) in [
        ("cpu", &["usage_percent", "per_core", "load_avg", "core_count"][..]),
        (
            "memory",
            &[
                "total_bytes",
                "available_bytes",
                "used_bytes",
                "usage_percent",
                "swap_total_bytes",
                "swap_used_bytes",
            ][..],
        ),
        (
            "network",
            &["bytes_sent_per_sec", "bytes_recv_per_sec", "total_bytes_sent", "total_bytes_recv"][..],
        ),
        ("disk", &["partitions", "io"][..]),
    ] {
        for field in fields {
            assert!(data[section].get(field).is_some(), "data.{section}.{field} is there: {data}");
        }
    }
    let memory = &first.data.memory;
    let total = memory.total_bytes.expect("this machine's memory is readable");
    assert!(total > 1 << 20 && memory.used_bytes.is_some_and(|u| u <= total), "exact bytes: {memory:?}");
    assert!(first.data.cpu.core_count.is_some_and(|n| n >= 1));
    assert_eq!(first.data.cpu.per_core.len() as u32, first.data.cpu.core_count.unwrap_or(0));
    let partition = first.data.disk.partitions.first().expect("the filesystem PerfMon runs in");
    assert_eq!(partition.used_bytes + partition.free_bytes, partition.total_bytes);
    let text = json.to_string();
    assert!(!text.contains("mountpoint") && !text.contains("/dev/"), "no paths: {text}");

    ws.send(Message::text(r#"{"type":"ping"}"#)).await.expect("send a ping");
    loop {
        match next(&mut ws, Duration::from_secs(10)).await.1 {
            PerfWatchMsg::Pong => break,
            PerfWatchMsg::Metrics(_) => continue,
            other => panic!("expected a pong, got {other:?}"),
        }
    }
    ws.send(Message::text("{not json")).await.expect("send garbage");
    loop {
        match next(&mut ws, Duration::from_secs(10)).await.1 {
            PerfWatchMsg::Error(err) => {
                assert_eq!(err.code, shared::ErrorCode::InvalidJson);
                break;
            }
            PerfWatchMsg::Metrics(_) => continue,
            PerfWatchMsg::Pong => panic!("garbage is not a ping"),
        }
    }

    // The cadence is PerfWatch's, whatever the sampler's (fast in this config).
    // The first message came on connecting; the feed's own ticks follow.
    let (_, second) = next_metrics(&mut ws).await;
    let arrived = Instant::now();
    let (_, third) = next_metrics(&mut ws).await;
    let gap = arrived.elapsed();
    assert!(
        gap >= Duration::from_millis(PERFWATCH_INTERVAL_MS - 1500) && gap <= Duration::from_secs(15),
        "the next message came {gap:?} after the one before, not about 5 s"
    );
    let instant =
        |m: &PerfWatchMetrics| chrono::DateTime::parse_from_rfc3339(m.timestamp.as_str()).expect("instant");
    let (a, b, c) = (instant(&first), instant(&second), instant(&third));
    assert!(a <= b && b < c, "never an older sample, a newer one each tick: {a}, {b}, {c}");
    server.stop().await;
}

#[tokio::test]
async fn a_missing_forged_or_expired_jwt_is_refused_and_a_valid_one_streams() {
    let config = Config { auth: Auth { token: None, jwt_secret: Some(JWT_SECRET.into()) }, ..fast_config() };
    let server = TestServer::start(config).await;
    for query in [
        String::new(),
        format!("?token={}", jwt("someone-else", 600)),
        format!("?token={}", jwt(JWT_SECRET, -120)),
        "?token=not.a.jwt".to_owned(),
    ] {
        let mut ws = open(&server, &query).await;
        let code = server::testkit::close_code_within(&mut ws, Duration::from_secs(5)).await;
        assert_eq!(code, Some(shared::close::UNAUTHORIZED), "{query:?} is refused with 4001");
    }
    let mut ws = open(&server, &format!("?token={}", jwt(JWT_SECRET, 600))).await;
    let (_, metrics) = next_metrics(&mut ws).await;
    assert!(metrics.data.memory.total_bytes.is_some());
    server.stop().await;
}

#[tokio::test]
async fn another_sites_page_or_a_rebound_name_cannot_open_it() {
    let server = TestServer::start(fast_config()).await;
    let own = format!("127.0.0.1:{}", server.addr.port());
    let evil = format!("attacker.example:{}", server.addr.port());
    let upgrade = |host: &str, origin: &str| {
        vec![
            ("host".to_owned(), host.to_owned()),
            ("origin".to_owned(), origin.to_owned()),
            ("upgrade".to_owned(), "websocket".to_owned()),
            ("connection".to_owned(), "upgrade".to_owned()),
            ("sec-websocket-version".to_owned(), "13".to_owned()),
            ("sec-websocket-key".to_owned(), "dGhlIHNhbXBsZSBub25jZQ==".to_owned()),
        ]
    };
    for (headers, code) in [
        (upgrade(&evil, &format!("http://{evil}")), "host_not_allowed"),
        (upgrade(&own, "http://evil.example"), "origin_not_allowed"),
        (upgrade(&own, "null"), "origin_not_allowed"),
    ] {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let reply = raw_http(server.addr, "GET", PERFWATCH_PATH, &headers, None).await;
        assert_eq!(reply.status, 403, "{headers:?}: {}", reply.text());
        let error: shared::api::ApiError = serde_json::from_str(&reply.text()).expect("the one error shape");
        assert_eq!(error.code, code, "{headers:?}");
    }
    // PerfMon's own page may.
    let reply = raw_http(
        server.addr,
        "GET",
        PERFWATCH_PATH,
        &[("host", &own), ("origin", &format!("http://{own}"))],
        None,
    )
    .await;
    assert_eq!(reply.status, 400, "not an upgrade, but not refused by the guard: {}", reply.text());
    server.stop().await;
}

#[tokio::test]
async fn a_new_client_gets_the_newest_sample_at_once_not_the_last_listeners_message() {
    let server = TestServer::start(fast_config()).await;
    let api = server.api();
    // A client that leaves after its first message: the feed stops with that
    // frame, since nothing is built for nobody.
    let mut early = open(&server, "").await;
    next_metrics(&mut early).await;
    drop(early);
    eventually(Duration::from_secs(20), "the first client is gone", || async {
        (connections(&api).await == 0).then_some(())
    })
    .await;
    // Nobody listens while the machine moves on past a whole PerfWatch interval
    // (the newest sample, read over HTTP, says when it has).
    let left = chrono::Utc::now();
    let moved_on = left + chrono::Duration::milliseconds(PERFWATCH_INTERVAL_MS as i64 + 1000);
    eventually(Duration::from_secs(30), "a sample taken an interval later", || async {
        let latest = call(&api, Method::GET, "/api/projects/fresh/metrics", None).await.ok()?;
        let at = chrono::DateTime::parse_from_rfc3339(latest["timestamp"].as_str()?).ok()?;
        (at >= moved_on).then_some(())
    })
    .await;

    let mut ws = open(&server, "").await;
    let connected = Instant::now();
    let PerfWatchMsg::Metrics(first) = next(&mut ws, Duration::from_secs(2)).await.1 else {
        panic!("the first message is a metrics one")
    };
    let now = chrono::Utc::now();
    let taken = chrono::DateTime::parse_from_rfc3339(first.timestamp.as_str()).expect("an instant");
    let age = now.signed_duration_since(taken);
    assert!(connected.elapsed() < Duration::from_secs(2), "at once, not at the next tick");
    assert!(
        age < chrono::Duration::seconds(3) && age > chrono::Duration::seconds(-1),
        "the first message is {age} old: the newest sample, not the last listener's"
    );
    server.stop().await;
}
