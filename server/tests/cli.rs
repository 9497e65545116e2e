//! The `perfmon` binary itself: `--help`, and `perfmon run` launching a command as
//! the project's run, with its own server or with one already up.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use server::cli::client::Method;
use server::testkit::{
    Perfmon, Sandbox, TestServer, call, close_code_within, connect, connections, eventually, fast_config,
    metrics_until,
};
use shared::RunStatus;

const PERFMON: &str = env!("CARGO_BIN_EXE_perfmon");

#[test]
fn help_documents_every_option() {
    let sandbox = Sandbox::new("help");
    let out = sandbox.command(PERFMON).args(["serve", "--help"]).output().expect("run perfmon");
    let text = String::from_utf8_lossy(&out.stdout);
    for option in ["--bind", "PERFMON_BIND", "127.0.0.1:8000", "--static-dir"] {
        assert!(text.contains(option), "serve --help mentions {option}:\n{text}");
    }
    let out = sandbox.command(PERFMON).args(["run", "--help"]).output().expect("run perfmon");
    let text = String::from_utf8_lossy(&out.stdout);
    for option in ["--project", "--bind", "COMMAND"] {
        assert!(text.contains(option), "run --help mentions {option}:\n{text}");
    }
}

#[test]
fn help_never_shows_secrets_from_the_environment() {
    let sandbox = Sandbox::new("help-secrets");
    for command in ["serve", "run"] {
        let out = sandbox
            .command(PERFMON)
            .args([command, "--help"])
            .env("PERFMON_TOKEN", "tok-5ecret-value")
            .env("PERFMON_JWT_SECRET", "jwt-5ecret-value")
            .output()
            .expect("run perfmon");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("--token") && text.contains("PERFMON_TOKEN"),
            "{command} --help names the option:\n{text}"
        );
        assert!(!text.contains("5ecret-value"), "{command} --help shows a secret:\n{text}");
    }
}

#[test]
fn run_exits_with_the_commands_exit_code() {
    let sandbox = Sandbox::new("codes");
    let status = sandbox
        .command(PERFMON)
        .args(["run", "--project", "codes", "--", "sh", "-c", "exit 7"])
        .status()
        .expect("run perfmon");
    assert_eq!(status.code(), Some(7));
}

#[test]
fn run_refuses_a_bad_project_name_before_starting_anything() {
    let out = Sandbox::new("bad-name")
        .command(PERFMON)
        .args(["run", "--project", "../etc", "--", "sh", "-c", "exit 0"])
        .output()
        .expect("run perfmon");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--project"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_serves_the_stream_itself_while_the_command_runs() {
    let sandbox = Sandbox::new("run-state");
    // The command runs until the test says so, however slowly the machine starts it.
    let done = sandbox.home().join("done");
    let script = format!("while [ ! -e '{}' ]; do sleep 0.1; done", done.display());
    let mut perfmon = sandbox
        .tokio_command(PERFMON)
        .args(["run", "--project", "solo", "--", "sh", "-c", &script])
        .spawn()
        .expect("run perfmon");
    let addr = sandbox.addr();
    let up = server::cli::client::ApiClient::new(addr).wait_until_up(Duration::from_secs(20)).await;
    assert!(up, "perfmon run serves a server of its own");
    let mut client = connect(addr, "solo").await;
    let m = metrics_until(&mut client, 10, |m| m.run.status == RunStatus::Running).await;
    let pid = m.run.pid.expect("the command's pid");
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists(), "the run's pid is the live command");
    assert_eq!(m.interval_ms, 1000, "a live run streams every second");
    std::fs::write(&done, "").expect("tell the command to end");
    let status = tokio::time::timeout(Duration::from_secs(20), perfmon.wait())
        .await
        .expect("perfmon exits when the command does")
        .expect("wait");
    assert_eq!(status.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_registers_with_a_server_that_is_already_up() {
    let server = TestServer::start(fast_config()).await;
    let mut client = connect(server.addr, "shared").await;
    let mut perfmon = server
        .sandbox()
        .tokio_command(PERFMON)
        .args(["run", "--project", "shared", "--", "sleep", "2"])
        .spawn()
        .expect("run perfmon");
    let running = metrics_until(&mut client, 20, |m| m.run.status == RunStatus::Running).await;
    let stopped = metrics_until(&mut client, 30, |m| m.run.status == RunStatus::Stopped).await;
    assert_eq!(running.run.run_id, stopped.run.run_id);
    let status = perfmon.wait().await.expect("wait");
    assert_eq!(status.code(), Some(0));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_every_socket_with_1001_and_exits_cleanly() {
    let perfmon = Perfmon::serve(Path::new(PERFMON), &["--static-dir", "/nonexistent"]).await;
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(connect(perfmon.addr, "term").await);
    }
    let exited = tokio::task::spawn_blocking(move || perfmon.terminate(Duration::from_secs(20)));
    for client in &mut clients {
        let code = close_code_within(client, Duration::from_secs(20)).await;
        assert_eq!(code, Some(shared::close::GOING_AWAY));
    }
    let status = exited.await.expect("join");
    assert!(status.success(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_options_reach_the_server() {
    let perfmon = Perfmon::serve(
        Path::new(PERFMON),
        &[
            "--static-dir",
            "/nonexistent",
            "--token",
            "cli-s3cret",
            "--max-connections",
            "1",
            "--projects",
            "only-this",
        ],
    )
    .await;

    // --token: the API wants it.
    let refused = call(&perfmon.api(), Method::GET, "/api/projects/only-this/run", None).await;
    assert_eq!(refused.map_err(|(status, _)| status), Err(401));
    let authed = perfmon.api().with_token(Some("cli-s3cret".into()));
    call(&authed, Method::GET, "/api/projects/only-this/run", None).await.expect("with the token");

    // --projects: another project is closed with 4004; --max-connections 1: a
    // second socket is refused while the first is open.
    let url = |project: &str| format!("ws://{}/ws/projects/{project}?token=cli-s3cret", perfmon.addr);
    let (mut other, _) = tokio_tungstenite::connect_async(url("other")).await.expect("upgrade");
    assert_eq!(
        close_code_within(&mut other, Duration::from_secs(10)).await,
        Some(shared::close::UNKNOWN_PROJECT)
    );
    drop(other);
    let api = perfmon.api();
    eventually(Duration::from_secs(20), "the refused socket is gone", || async {
        (connections(&api).await == 0).then_some(())
    })
    .await;
    let (_first, _) =
        tokio_tungstenite::connect_async(url("only-this")).await.expect("the one allowed socket");
    let second = tokio_tungstenite::connect_async(url("only-this")).await;
    assert!(second.is_err(), "a second socket is over --max-connections 1");
}

/// `perfmon ARGS…` against `server` (its sandbox's `PERFMON_BIND`), with the
/// environment that finds its secret.
fn perfmon_verb(server: &TestServer, args: &[&str]) -> std::process::Output {
    server.sandbox().command(PERFMON).args(args).output().expect("run perfmon")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_write_verbs_act_with_the_control_secret_found_for_them() {
    let server = TestServer::start(fast_config()).await;
    let mut child = Command::new("sleep").arg("60").spawn().expect("spawn a run");
    let pid = child.id().to_string();
    let ok = |out: std::process::Output| {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("the server's JSON answer")
    };
    assert_eq!(ok(perfmon_verb(&server, &["register", "--project", "verbs", &pid]))["status"], "running");
    assert_eq!(ok(perfmon_verb(&server, &["tokens", "--project", "verbs", "1420"]))["current_run"], 1420);
    assert_eq!(ok(perfmon_verb(&server, &["pause", "--project", "verbs"]))["status"], "paused");
    assert_eq!(ok(perfmon_verb(&server, &["resume", "--project", "verbs"]))["status"], "running");
    assert_eq!(ok(perfmon_verb(&server, &["end", "--project", "verbs"]))["status"], "stopped");
    // A refusal says why and exits 1; without the secret, the verb cannot act.
    let again = perfmon_verb(&server, &["pause", "--project", "verbs"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("no live run"));
    let stranger = Sandbox::new("stranger")
        .command(PERFMON)
        .args(["pause", "--project", "verbs", "--bind", &server.addr.to_string()])
        .output()
        .expect("run perfmon");
    assert_eq!(stranger.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&stranger.stderr).contains("control secret"));
    let _ = child.kill();
    let _ = child.wait();
    server.stop().await;
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let out = Sandbox::new("version").command(PERFMON).arg("--version").output().expect("run perfmon");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with(&format!("perfmon {} (commit ", env!("CARGO_PKG_VERSION"))), "{text}");
    assert!(!text.contains("(commit )"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_port_is_named_for_what_holds_it() {
    // Another PerfMon: named, with its version.
    let server = TestServer::start(fast_config()).await;
    let out = Sandbox::new("taken-by-perfmon")
        .tokio_command(PERFMON)
        .args(["serve", "--bind", &server.addr.to_string()])
        .output()
        .await
        .expect("run perfmon");
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("another PerfMon") && said.contains(env!("CARGO_PKG_VERSION")), "{said}");
    server.stop().await;
    // Something else.
    let other = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = other.local_addr().expect("addr");
    let out = Sandbox::new("taken-by-another")
        .tokio_command(PERFMON)
        .args(["serve", "--bind", &addr.to_string()])
        .output()
        .await
        .expect("run perfmon");
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("another program"), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_on_every_address_is_reached_on_loopback_by_the_verbs() {
    // `--bind 0.0.0.0:PORT` is where it listens, not where to connect: the
    // verbs given the same --bind reach it on loopback, which its Host check
    // takes (0.0.0.0 is no name of this server).
    let sandbox = Sandbox::new("every-address");
    let bind = format!("0.0.0.0:{}", sandbox.addr().port());
    let mut command = sandbox.command(PERFMON);
    command
        .args(["serve", "--bind", &bind, "--no-store"])
        .env("PERFMON_TOKEN", "every-address")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let perfmon = Perfmon::start(command, &sandbox).await;
    let out = sandbox
        .command(PERFMON)
        .args(["tokens", "--project", "anywhere", "--bind", &bind, "7"])
        .env("PERFMON_TOKEN", "every-address")
        .output()
        .expect("run perfmon");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the server's JSON answer");
    assert_eq!(answer["current_run"], 7);
    drop(perfmon);
}

#[test]
fn an_allowed_host_with_a_scheme_is_refused_at_start_not_ignored() {
    let sandbox = Sandbox::new("scheme");
    let out = sandbox
        .command(PERFMON)
        .args(["serve", "--bind", &sandbox.addr().to_string(), "--no-store"])
        .args(["--allowed-host", "https://perf.example.com"])
        .output()
        .expect("run perfmon");
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("\"https://perf.example.com\" is not a host name"), "{said}");
}

