//! PerfWatch's stream (`/api/ws/metrics`) against the real server on port 0:
//! its cadence, its fields (the machine in depth too, checked both ways against
//! a fixture of PerfWatch's own field names), ping/pong, bad input, and the same
//! refusals as the project streams (a missing, forged or expired JWT; a rebound
//! Host; another site's page).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use server::cli::client::Method;
use server::testkit::{
    Client, TestServer, call, connections, eventually, fast_config, raw_http, sample_in_depth,
};
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

/// PerfWatch's field names, as its collectors (`backend/app/collectors/`) and
/// its metrics spec (`docs/sdd/02-specification/metrics-spec.md`) send them:
/// `*` stands for an interface's, disk's or event's name, `[]` for each entry
/// of a list of objects.
const PERFWATCH_FIELDS: &[&str] = &[
    "type",
    "timestamp",
    "data.cpu.usage_percent",
    "data.cpu.per_core",
    "data.cpu.user",
    "data.cpu.system",
    "data.cpu.idle",
    "data.cpu.iowait",
    "data.cpu.irq",
    "data.cpu.softirq",
    "data.cpu.frequency_mhz",
    "data.cpu.temperature",
    "data.cpu.temperature_celsius",
    "data.cpu.interrupts",
    "data.cpu.load_avg",
    "data.cpu.core_count",
    "data.cpu.physical_cores",
    "data.memory.total_bytes",
    "data.memory.available_bytes",
    "data.memory.used_bytes",
    "data.memory.usage_percent",
    "data.memory.free_bytes",
    "data.memory.cached_bytes",
    "data.memory.buffers_bytes",
    "data.memory.shared_bytes",
    "data.memory.swap_total_bytes",
    "data.memory.swap_used_bytes",
    "data.memory.swap_free_bytes",
    "data.memory.swap_percent",
    "data.memory.swap_sin_bytes",
    "data.memory.swap_sout_bytes",
    "data.memory.hugepages_total",
    "data.memory.hugepages_free",
    "data.memory.hugepages_reserved",
    "data.memory_bandwidth.available",
    "data.memory_bandwidth.pgpgin_per_sec",
    "data.memory_bandwidth.pgpgout_per_sec",
    "data.memory_bandwidth.pswpin_per_sec",
    "data.memory_bandwidth.pswpout_per_sec",
    "data.memory_bandwidth.page_io_bytes_per_sec",
    "data.memory_bandwidth.swap_io_bytes_per_sec",
    "data.memory_bandwidth.pgfault_per_sec",
    "data.memory_bandwidth.pgmajfault_per_sec",
    "data.network.bytes_sent_per_sec",
    "data.network.bytes_recv_per_sec",
    "data.network.total_bytes_sent",
    "data.network.total_bytes_recv",
    "data.network.packets_sent",
    "data.network.packets_recv",
    "data.network.errors_in",
    "data.network.errors_out",
    "data.network.drops_in",
    "data.network.drops_out",
    "data.network.connection_count",
    "data.network.interfaces.*.bytes_sent",
    "data.network.interfaces.*.bytes_recv",
    "data.network.interfaces.*.bytes_sent_per_sec",
    "data.network.interfaces.*.bytes_recv_per_sec",
    "data.network.interfaces.*.packets_sent",
    "data.network.interfaces.*.packets_recv",
    "data.network.interfaces.*.packets_sent_per_sec",
    "data.network.interfaces.*.packets_recv_per_sec",
    "data.network.interfaces.*.errors_in",
    "data.network.interfaces.*.errors_out",
    "data.network.interfaces.*.drops_in",
    "data.network.interfaces.*.drops_out",
    "data.network.connections.tcp_established",
    "data.network.connections.tcp_time_wait",
    "data.network.connections.tcp_close_wait",
    "data.network.connections.tcp_listen",
    "data.network.connections.udp_count",
    "data.disk.partitions.[].device",
    "data.disk.partitions.[].mountpoint",
    "data.disk.partitions.[].fstype",
    "data.disk.partitions.[].total_bytes",
    "data.disk.partitions.[].used_bytes",
    "data.disk.partitions.[].free_bytes",
    "data.disk.partitions.[].usage_percent",
    "data.disk.io.read_bytes_per_sec",
    "data.disk.io.write_bytes_per_sec",
    "data.disk.io.read_bytes",
    "data.disk.io.write_bytes",
    "data.disk.io.read_count",
    "data.disk.io.write_count",
    "data.disk.io.read_time_ms",
    "data.disk.io.write_time_ms",
    "data.disk.devices.*.read_bytes",
    "data.disk.devices.*.write_bytes",
    "data.disk.devices.*.read_bytes_per_sec",
    "data.disk.devices.*.write_bytes_per_sec",
    "data.disk.devices.*.read_count",
    "data.disk.devices.*.write_count",
    "data.disk.devices.*.read_iops",
    "data.disk.devices.*.write_iops",
    "data.disk.devices.*.read_time_ms",
    "data.disk.devices.*.write_time_ms",
    "data.disk.devices.*.read_latency_ms",
    "data.disk.devices.*.write_latency_ms",
    "data.perf_events.available",
    "data.perf_events.error",
    "data.perf_events.cpu_cores",
    "data.perf_events.interval_ms",
    "data.perf_events.sample_time",
    "data.perf_events.events.*.value",
    "data.perf_events.events.*.unit",
    "data.perf_events.missing_events",
    "data.perf_events.unsupported_events",
];

/// PerfWatch's fields PerfMon does not send. Totals since boot: the sample
/// carries rates (each has its `_per_sec` figure). A mount point: a path.
/// `sample_time` is `perf stat`'s own clock and `missing_events` its lines left
/// out: PerfMon runs no `perf stat`, and names an event not counted in
/// `unsupported_events`.
const LEFT_OUT: &[&str] = &[
    "data.cpu.interrupts",
    "data.cpu.physical_cores",
    "data.memory.swap_sin_bytes",
    "data.memory.swap_sout_bytes",
    "data.network.packets_sent",
    "data.network.packets_recv",
    "data.network.errors_in",
    "data.network.errors_out",
    "data.network.drops_in",
    "data.network.drops_out",
    "data.network.interfaces.*.bytes_sent",
    "data.network.interfaces.*.bytes_recv",
    "data.network.interfaces.*.packets_sent",
    "data.network.interfaces.*.packets_recv",
    "data.network.interfaces.*.errors_in",
    "data.network.interfaces.*.errors_out",
    "data.network.interfaces.*.drops_in",
    "data.network.interfaces.*.drops_out",
    "data.disk.partitions.[].mountpoint",
    "data.disk.io.read_bytes",
    "data.disk.io.write_bytes",
    "data.disk.io.read_count",
    "data.disk.io.write_count",
    "data.disk.io.read_time_ms",
    "data.disk.io.write_time_ms",
    "data.disk.devices.*.read_bytes",
    "data.disk.devices.*.write_bytes",
    "data.disk.devices.*.read_count",
    "data.disk.devices.*.write_count",
    "data.disk.devices.*.read_time_ms",
    "data.disk.devices.*.write_time_ms",
    "data.perf_events.sample_time",
    "data.perf_events.missing_events",
];

/// PerfMon's figures PerfWatch has no name for, named in its style.
const ADDED: &[&str] = &[
    "data.cpu.nice",
    "data.cpu.steal",
    "data.cpu.guest",
    "data.cpu.interrupts_per_sec",
    "data.network.interfaces.*.errors_in_per_sec",
    "data.network.interfaces.*.errors_out_per_sec",
    "data.network.interfaces.*.drops_in_per_sec",
    "data.network.interfaces.*.drops_out_per_sec",
    "data.disk.devices.*.latency_ms",
    "data.disk.devices.*.util_percent",
    "data.disk.devices.*.in_flight",
];

/// Every field path in `value`, named as [`PERFWATCH_FIELDS`] names them.
fn field_paths(value: &serde_json::Value, path: &str, out: &mut BTreeSet<String>) {
    const KEYED: [&str; 3] = ["data.network.interfaces", "data.disk.devices", "data.perf_events.events"];
    let join = |key: &str| if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") };
    match value {
        serde_json::Value::Object(map) => {
            for (key, child) in map {
                let key = if KEYED.contains(&path) { "*" } else { key.as_str() };
                field_paths(child, &join(key), out);
            }
        }
        serde_json::Value::Array(items) if items.iter().any(serde_json::Value::is_object) => {
            for item in items {
                field_paths(item, &join("[]"), out);
            }
        }
        _ => {
            out.insert(path.to_owned());
        }
    }
}

/// The stream on this machine, once every section has its figures: the
/// message decodes into PerfWatch's types with each new field there, holds
/// exactly PerfWatch's field names (less what PerfMon leaves out, plus what it
/// adds), and `perf_events` follows PerfWatch's rule — on this VM without a PMU,
/// unavailable, its error naming the hardware events, the software events
/// still listed with their counts.
#[tokio::test]
async fn the_machine_in_depth_arrives_in_perfwatchs_own_names() {
    let server = TestServer::start(fast_config()).await;
    let api = server.api();
    let sample = sample_in_depth(&api, "pw").await;
    let mut ws = open(&server, "").await;
    let (json, m) = next_metrics(&mut ws).await;
    server.stop().await;

    let cpu = &m.data.cpu;
    for (name, mode) in [
        ("user", cpu.user),
        ("system", cpu.system),
        ("idle", cpu.idle),
        ("iowait", cpu.iowait),
        ("irq", cpu.irq),
        ("softirq", cpu.softirq),
    ] {
        assert!(mode.is_some_and(|p| (0.0..=100.0).contains(&p)), "cpu.{name}: {mode:?}");
    }
    assert!(cpu.interrupts_per_sec.is_some_and(|n| n > 0.0));
    let frequencies = sample["cpu_detail"]["sensors"]["frequency_mhz"].as_array().expect("a list");
    assert_eq!(cpu.frequency_mhz.is_some(), frequencies.iter().any(|f| !f.is_null()), "{frequencies:?}");
    if sample["cpu_detail"]["sensors"]["temperatures"]["available"] == false {
        assert_eq!((cpu.temperature, cpu.temperature_celsius.as_ref()), (None, None), "no sensor: null");
    }

    let memory = &m.data.memory;
    let total = memory.total_bytes.expect("memory");
    for (name, bytes) in [
        ("free", memory.free_bytes),
        ("cached", memory.cached_bytes),
        ("buffers", memory.buffers_bytes),
        ("shared", memory.shared_bytes),
    ] {
        assert!(bytes.is_some_and(|b| b <= total), "memory.{name}_bytes: {bytes:?}");
    }
    assert!(
        memory.hugepages_total.is_some()
            && memory.hugepages_free.is_some()
            && memory.hugepages_reserved.is_some()
    );

    let bandwidth = &m.data.memory_bandwidth;
    assert!(bandwidth.available);
    for (name, rate) in [
        ("pgpgin", bandwidth.pgpgin_per_sec),
        ("pgpgout", bandwidth.pgpgout_per_sec),
        ("pswpin", bandwidth.pswpin_per_sec),
        ("pswpout", bandwidth.pswpout_per_sec),
        ("page_io", bandwidth.page_io_bytes_per_sec),
        ("swap_io", bandwidth.swap_io_bytes_per_sec),
        ("pgfault", bandwidth.pgfault_per_sec),
        ("pgmajfault", bandwidth.pgmajfault_per_sec),
    ] {
        assert!(rate.is_some_and(|r| r >= 0.0), "memory_bandwidth.{name}: {rate:?}");
    }

    let network = &m.data.network;
    assert!(
        !network.interfaces.is_empty() && !network.interfaces.contains_key("lo"),
        "{:?}",
        network.interfaces
    );
    for (name, i) in &network.interfaces {
        assert!(i.bytes_recv_per_sec.is_some() && i.packets_sent_per_sec.is_some(), "{name}: {i:?}");
    }
    let c = &network.connections;
    assert!(c.tcp_listen.is_some_and(|n| n >= 1), "the server listens: {c:?}");
    assert!(c.tcp_established.is_some() && c.tcp_time_wait.is_some() && c.tcp_close_wait.is_some());
    assert!(c.udp_count.is_some());
    assert!(network.connection_count.is_some_and(|n| n >= c.tcp_listen.unwrap_or(0)));

    let disk = &m.data.disk;
    assert!(!disk.devices.is_empty());
    for (name, d) in &disk.devices {
        assert!(
            d.read_iops.is_some() && d.write_bytes_per_sec.is_some() && d.util_percent.is_some(),
            "{name}: {d:?}"
        );
    }
    assert!(!disk.partitions.is_empty());
    for p in &disk.partitions {
        assert!(!p.device.is_empty() && !p.device.contains('/') && !p.fstype.is_empty(), "a name: {p:?}");
        let (size, used, free) =
            (p.total_bytes.expect("size"), p.used_bytes.expect("used"), p.free_bytes.expect("free"));
        assert!(used <= size && free <= size, "{p:?}");
        assert!(p.usage_percent.is_some_and(|u| (0.0..=100.0).contains(&u)), "{p:?}");
    }

    // PerfWatch's rule over PerfMon's own per-event availability.
    let perf = &m.data.perf_events;
    let own = sample["perf_events"]["events"].as_object().expect("PerfMon's events");
    let not_counted: Vec<&String> =
        own.iter().filter(|(_, e)| e["available"] == false).map(|(n, _)| n).collect();
    assert_eq!(perf.available, not_counted.is_empty(), "{perf:?}");
    assert_eq!(perf.events.len(), own.len(), "every event keeps its place");
    for name in &not_counted {
        assert!(perf.error.as_deref().is_some_and(|e| e.contains(name.as_str())), "{name} named: {perf:?}");
        assert!(perf.unsupported_events.contains(name), "{name}");
        assert_eq!(perf.events[name.as_str()].value, None, "{name}: null, not 0");
    }
    if own.get("cycles").is_some_and(|e| e["available"] == false) {
        let reason = own["cycles"]["reason"].as_str().expect("a reason");
        assert!(perf.error.as_deref().is_some_and(|e| e.contains(reason)), "the reason given: {perf:?}");
    }
    if own.get("context-switches").is_some_and(|e| e["available"] == true) {
        let switches = &perf.events["context-switches"];
        assert!(switches.value.is_some_and(|v| v > 0.0), "counted and listed: {switches:?}");
        assert_eq!(perf.events["cpu-clock"].unit.as_deref(), Some("msec"));
        assert_eq!(perf.cpu_cores.as_deref(), Some("all"));
        assert!(perf.interval_ms.is_some_and(|ms| ms >= 1000.0));
    }

    // The shape, both ways.
    let mut sent = BTreeSet::new();
    field_paths(&json, "", &mut sent);
    let perfwatch: BTreeSet<&str> = PERFWATCH_FIELDS.iter().copied().collect();
    for field in &perfwatch {
        let optional = *field == "data.perf_events.unsupported_events" && perf.available;
        if !LEFT_OUT.contains(field) && !optional {
            assert!(sent.contains(*field), "PerfWatch's {field} is sent: {sent:#?}");
        }
    }
    for field in &sent {
        assert!(
            (perfwatch.contains(field.as_str()) && !LEFT_OUT.contains(&field.as_str()))
                || ADDED.contains(&field.as_str()),
            "{field} is PerfWatch's name, or one PerfMon adds on purpose"
        );
    }
    let text = json.to_string();
    assert!(
        !text.contains("mountpoint") && !text.contains("mount_point") && !text.contains("\"/"),
        "no paths: {text}"
    );
}
