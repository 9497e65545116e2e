//! The attacks a web page or another local account could mount on a PerfMon on
//! loopback, each reproduced with raw headers against the real server: DNS
//! rebinding, cross-site writes, opaque origins, form posts, and writes without
//! the control secret.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;
use server::Config;
use server::cli::client::{ApiClient, Method};
use server::testkit::{Perfmon, Sandbox, TestServer, call, fast_config, raw_http};

/// A sleeping process registered as `project`'s run.
async fn registered_run(server: &TestServer, project: &str) -> Child {
    let child = Command::new("sleep").arg("60").spawn().expect("spawn a run");
    let path = format!("/api/projects/{project}/run");
    call(&server.api(), Method::POST, &path, Some(json!({ "pid": child.id() }))).await.expect("registered");
    child
}

/// The headers of a WebSocket upgrade sent to `host` by a page of `origin`.
fn upgrade_from<'a>(host: &'a str, origin: &'a str) -> [(&'static str, &'a str); 6] {
    [
        ("host", host),
        ("origin", origin),
        ("upgrade", "websocket"),
        ("connection", "upgrade"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ]
}

/// The state letter of `/proc/{pid}/stat` (S sleeping, T stopped, …).
fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')').next()?.trim_start().chars().next()
}

fn end(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test]
async fn a_rebound_host_is_refused_on_every_route() {
    let server = TestServer::start(fast_config()).await;
    let evil = format!("attacker.example:{}", server.addr.port());
    let rebound = [("host", evil.as_str()), ("origin", "http://attacker.example")];
    let upgrade = upgrade_from(&evil, "http://attacker.example");
    for (method, path, headers) in [
        ("GET", "/", &rebound[..]),
        ("GET", "/api/health", &rebound[..]),
        ("GET", "/api/projects/demo/metrics", &rebound[..]),
        ("GET", "/metrics", &rebound[..]),
        ("GET", "/ws/projects/demo", &upgrade[..]),
        ("GET", shared::perfwatch::PERFWATCH_PATH, &upgrade[..]),
        ("POST", "/api/projects/demo/run/pause", &rebound[..]),
    ] {
        let reply = raw_http(server.addr, method, path, headers, None).await;
        let (status, body) = (reply.status, reply.text());
        assert_eq!(status, 403, "{method} {path}: {body}");
        let error: shared::api::ApiError = serde_json::from_str(&body).expect("the one error shape");
        assert_eq!(error.code, "host_not_allowed");
        assert!(
            error.message.contains("--allowed-host") && !body.trim().contains('\n'),
            "one line naming the flag: {body}"
        );
    }
    // The same requests under PerfMon's own names are served.
    for host in [format!("127.0.0.1:{}", server.addr.port()), format!("localhost:{}", server.addr.port())] {
        let reply = raw_http(server.addr, "GET", "/api/health", &[("host", &host)], None).await;
        assert_eq!(reply.status, 200, "{host}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_cross_site_post_cannot_pause_the_run() {
    let server = TestServer::start(fast_config()).await;
    let run = registered_run(&server, "demo").await;
    let own = format!("127.0.0.1:{}", server.addr.port());
    // A form or a no-cors fetch from another site: no body, no preflight. Even
    // with the credential (as if the page had learnt it), the site rules stop it.
    let bearer = format!("Bearer {}", secret_of(&server));
    let credential = ("authorization", bearer.as_str());
    for headers in [
        vec![("host", own.as_str()), credential, ("origin", "http://evil.example")],
        vec![("host", own.as_str()), credential, ("sec-fetch-site", "cross-site")],
        vec![("host", own.as_str()), credential, ("sec-fetch-site", "same-site")],
    ] {
        let reply = raw_http(server.addr, "POST", "/api/projects/demo/run/pause", &headers, None).await;
        assert_eq!(reply.status, 403, "{headers:?}: {}", reply.text());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_ne!(process_state(run.id()), Some('T'), "the process was not stopped");
    let state = call(&server.api(), Method::GET, "/api/projects/demo/run", None).await.expect("run");
    assert_eq!(state["status"], "running");
    end(run);
    server.stop().await;
}

#[tokio::test]
async fn an_opaque_origin_is_refused_even_for_reads() {
    let server = TestServer::start(fast_config()).await;
    let run = registered_run(&server, "demo").await;
    let own = format!("127.0.0.1:{}", server.addr.port());
    for (method, path) in
        [("DELETE", "/api/projects/demo/run"), ("GET", "/api/projects/demo/run"), ("GET", "/")]
    {
        let reply = raw_http(server.addr, method, path, &[("host", &own), ("origin", "null")], None).await;
        assert_eq!(reply.status, 403, "{method} {path}");
    }
    // Nor may it open either stream.
    let upgrade = upgrade_from(&own, "null");
    for path in ["/ws/projects/demo", shared::perfwatch::PERFWATCH_PATH] {
        let reply = raw_http(server.addr, "GET", path, &upgrade, None).await;
        assert_eq!(reply.status, 403, "the upgrade of {path}: {}", reply.text());
    }
    let state = call(&server.api(), Method::GET, "/api/projects/demo/run", None).await.expect("run");
    assert_eq!(state["status"], "running", "the DELETE changed nothing");
    end(run);
    server.stop().await;
}

#[tokio::test]
async fn bodies_that_are_not_json_are_refused_with_415() {
    let server = TestServer::start(fast_config()).await;
    let own = format!("127.0.0.1:{}", server.addr.port());
    let bearer = format!("Bearer {}", secret_of(&server));
    let child = Command::new("sleep").arg("60").spawn().expect("spawn");
    let form = format!("pid={}", child.id());
    for (content_type, body) in
        [("application/x-www-form-urlencoded", form.as_str()), ("text/plain", "{\"tokens\":5}")]
    {
        let exit = "/api/projects/demo/runs/1-2026-12-01T10:00:00Z/exit";
        for path in ["/api/projects/demo/run", "/api/projects/demo/tokens", exit] {
            let headers =
                [("host", own.as_str()), ("authorization", bearer.as_str()), ("content-type", content_type)];
            let reply = raw_http(server.addr, "POST", path, &headers, Some(body)).await;
            assert_eq!(reply.status, 415, "{content_type} to {path}: {}", reply.text());
        }
    }
    let state = call(&server.api(), Method::GET, "/api/projects/demo/run", None).await.expect("run");
    assert_eq!(
        (&state["status"], &state["run_id"]),
        (&json!("stopped"), &json!(null)),
        "nothing was registered"
    );
    end(child);
    server.stop().await;
}

/// The control secret `server.api()` carries, as the CLI would read it.
fn secret_of(server: &TestServer) -> String {
    server::control::read(&server.control_path()).expect("the stored secret")
}

#[tokio::test]
async fn writes_without_the_control_secret_get_401_and_change_nothing() {
    let server = TestServer::start(fast_config()).await;
    let run = registered_run(&server, "demo").await;
    let anyone = ApiClient::new(server.addr);
    let wrong = ApiClient::new(server.addr).with_token(Some("guessed".into()));
    for api in [&anyone, &wrong] {
        for (method, path, body) in [
            (Method::POST, "/api/projects/demo/run/pause", None),
            (Method::DELETE, "/api/projects/demo/run", None),
            (Method::POST, "/api/projects/other/run", Some(json!({ "pid": run.id() }))),
            (Method::POST, "/api/projects/demo/tokens", Some(json!({ "tokens": 5 }))),
        ] {
            let (status, error) = call(api, method.clone(), path, body).await.expect_err("refused");
            assert_eq!(
                (status, error["code"].as_str()),
                (401, Some("control_secret_required")),
                "{method} {path}"
            );
        }
    }
    // Reads stay open on loopback.
    let state = call(&anyone, Method::GET, "/api/projects/demo/run", None).await.expect("reads are open");
    assert_eq!(state["status"], "running");
    assert_ne!(process_state(run.id()), Some('T'));
    let latest = call(&anyone, Method::GET, "/api/projects/demo/metrics", None).await;
    assert!(latest.is_ok() || latest.is_err_and(|(status, _)| status == 503));
    let other = call(&anyone, Method::GET, "/api/projects/other/run", None).await.expect("read");
    assert_eq!((&other["status"], &other["run_id"]), (&json!("stopped"), &json!(null)));
    // With the secret, the same pause works.
    call(&server.api(), Method::POST, "/api/projects/demo/run/pause", None).await.expect("paused");
    end(run);
    server.stop().await;
}

#[tokio::test]
async fn an_allowed_host_for_a_proxy_is_accepted_with_its_own_origin() {
    let config = Config { allowed_hosts: vec!["perf.example.com".into()], ..fast_config() };
    let server = TestServer::start(config).await;
    for host in ["perf.example.com", "perf.example.com:8443", "PERF.EXAMPLE.COM"] {
        let reply = raw_http(server.addr, "GET", "/api/health", &[("host", host)], None).await;
        assert_eq!(reply.status, 200, "{host}");
    }
    let reply = raw_http(server.addr, "GET", "/api/health", &[("host", "evil.example.com")], None).await;
    assert_eq!(reply.status, 403);
    // The proxy's page is PerfMon's own origin: its writes pass the Origin rule
    // (and then need the credential like any other).
    let bearer = format!("Bearer {}", secret_of(&server));
    let headers = [
        ("host", "perf.example.com"),
        ("origin", "https://perf.example.com"),
        ("authorization", bearer.as_str()),
        ("content-type", "application/json"),
    ];
    let reply =
        raw_http(server.addr, "POST", "/api/projects/demo/tokens", &headers, Some("{\"tokens\":3}")).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    server.stop().await;
}

#[tokio::test]
async fn turning_the_host_check_off_is_never_silent() {
    let sandbox = Sandbox::new("any-host");
    let addr = sandbox.addr();
    let mut command = sandbox.command(env!("CARGO_BIN_EXE_perfmon"));
    command.args([
        "serve",
        "--bind",
        &addr.to_string(),
        "--static-dir",
        "/nonexistent",
        "--allowed-host",
        "any",
    ]);
    let log = sandbox.home().join("stderr");
    let stderr = std::fs::File::create(&log).expect("a log file");
    command.stdout(Stdio::null()).stderr(Stdio::from(stderr));
    let perfmon = Perfmon::start(command, &sandbox).await;
    let reply = raw_http(addr, "GET", "/api/health", &[("host", "anything.example")], None).await;
    assert_eq!(reply.status, 200, "any host is accepted, as asked");
    drop(perfmon);
    let said = std::fs::read_to_string(&log).expect("the log");
    assert!(said.contains("WARN") && said.contains("Host check is off"), "{said}");
}
