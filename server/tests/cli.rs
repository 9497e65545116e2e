//! The `perfmon` binary itself: `--help`, and `perfmon run` launching a command as
//! the project's run, with its own server or with one already up; and that the
//! tests start it only in a testkit `Sandbox`, which leaves a developer's own
//! PerfMon (default port, data directory, control secret) alone.

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
    assert_eq!(
        ok(perfmon_verb(&server, &["register", "--json", "--project", "verbs", &pid]))["status"],
        "running"
    );
    assert_eq!(
        ok(perfmon_verb(&server, &["tokens", "--json", "--project", "verbs", "1420"]))["current_run"],
        1420
    );
    assert_eq!(ok(perfmon_verb(&server, &["pause", "--json", "--project", "verbs"]))["status"], "paused");
    assert_eq!(ok(perfmon_verb(&server, &["resume", "--json", "--project", "verbs"]))["status"], "running");
    assert_eq!(ok(perfmon_verb(&server, &["end", "--json", "--project", "verbs"]))["status"], "stopped");
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
        .args(["tokens", "--json", "--project", "anywhere", "--bind", &bind, "7"])
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

    // So is an allowed origin no browser could send.
    let out = sandbox
        .command(PERFMON)
        .args(["serve", "--bind", &sandbox.addr().to_string(), "--no-store"])
        .args(["--allow-origin", "ide.example.com"])
        .output()
        .expect("run perfmon");
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("--allow-origin \"ide.example.com\" is not an origin"), "{said}");
}

// Tests must leave a developer's own PerfMon alone: the README's service holds
// the default port and the default data directory, and keeps its control secret
// in the user's directories. The testkit's `Sandbox` gives every `perfmon` a test
// starts its own; these check that it does, and that no test file goes around it.

/// The project the isolation check's commands use: unique to this run, so a
/// PerfMon already on the default port (the developer's) cannot have it.
const ISOLATION_PROJECT: &str = "ISOLATION_TEST_PROJECT";

/// Every path under `dir` with, for a directory but `busy`, its modification
/// time (which changes when anything is added to or removed from it). Files,
/// and `busy` (the user's data directory), are listed without times: the user's
/// service writes its own database as it runs.
fn tree(
    dir: &Path,
    busy: &Path,
) -> std::collections::BTreeMap<std::path::PathBuf, Option<std::time::SystemTime>> {
    let mut found = std::collections::BTreeMap::new();
    let mut next = vec![dir.to_owned()];
    while let Some(dir) = next.pop() {
        let meta = std::fs::metadata(&dir).expect("a directory of the user's");
        found.insert(dir.clone(), meta.modified().ok().filter(|_| dir != busy));
        for entry in std::fs::read_dir(&dir).expect("readable").flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                next.push(path);
            } else {
                found.insert(path, None);
            }
        }
    }
    found
}

/// Waits until the store of the server at `api` is open (`ok`), failing with `what`.
async fn store_ready(api: &server::cli::client::ApiClient, what: &str) {
    eventually(Duration::from_secs(20), what, || async {
        let health = call(api, Method::GET, "/api/health", None).await.ok()?;
        (health["store"]["state"] == "ok").then_some(())
    })
    .await;
}

/// A child process killed (and reaped) when dropped.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The user's world as the README's service sees it, under `user`: `home/` (the
/// default data directory in it) and `run/UID/` (logind's runtime directory,
/// found through `PERFMON_USER_RUNTIME_ROOT` instead of the real `/run/user`);
/// the environment of a process of that user's: those, no XDG variables, no
/// PERFMON settings but `extra`.
fn as_the_user(command: &mut Command, user: &Path, extra: &[(&str, &Path)]) {
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("XDG_") || key.starts_with("PERFMON_") {
            command.env_remove(key);
        }
    }
    command.env("HOME", user.join("home"));
    command.env(server::testkit::USER_RUNTIME_ROOT_ENV, user.join("run"));
    command.envs(extra.iter().map(|(k, v)| (k, v)));
}

/// With the default port and the default data directory held by the user's own
/// `perfmon serve` (as the README's service holds them), and a user's
/// environment — HOME, no XDG variables, PERFMON settings pointing at that
/// service — sandboxed commands work (the ignored test below, run here in a
/// process of its own with that environment); afterwards nothing was written in
/// the user's directories nor registered with the server on the default port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandboxed_commands_leave_the_users_home_and_default_port_alone() {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    let user = server::testkit::Scratch::new("user");
    let home = user.join("home");
    let data = home.join(".local/state/perfmon");
    let uid = std::fs::metadata("/proc/self").expect("/proc/self").uid();
    let runtime = user.join("run").join(uid.to_string());
    for dir in [&data, &runtime] {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).expect("the user's directories");
    }
    let default = server::Config::default().listen;
    let project = format!("isolation-{}", std::process::id());
    // The user's own service, on the defaults. Deliberately not sandboxed.
    let mut users = Command::new(PERFMON); // unsandboxed: it plays the user's own service
    as_the_user(&mut users, &user.0, &[]);
    users.arg("serve").env("PERFMON_LOG", "warn");
    users.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    let mut service = KillOnDrop(users.spawn().expect("start the user's perfmon"));
    // The port is held either by this service or, where it found the port
    // taken, by whatever took it (a developer's own PerfMon): held either way.
    // Only this service keeps its secret in `runtime`: up with it there, it is ours.
    let secret = runtime.join("perfmon").join(format!("control-{}", default.port()));
    let ours = eventually(Duration::from_secs(20), "the default port is held", || {
        let exited = service.0.try_wait().expect("the service can be waited for").is_some();
        let stored = secret.is_file();
        async move {
            if exited {
                return std::net::TcpStream::connect(default).is_ok().then_some(false);
            }
            (stored && server::cli::client::ApiClient::new(default).is_up().await).then_some(true)
        }
    })
    .await;
    let users_api = server::cli::client::ApiClient::new(default);
    if ours {
        store_ready(&users_api, "the user's service holds its data directory").await;
    } else {
        eprintln!("{default} was already taken; the checks run beside whatever holds it");
    }
    // Read-only where the user's service does not write (a non-root test can
    // then not write there at all; as root only the comparison below can tell).
    let fixed =
        [user.0.clone(), home.clone(), home.join(".local"), home.join(".local/state"), user.join("run")];
    let set_mode = |mode| {
        for dir in &fixed {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)).expect("chmod");
        }
    };
    set_mode(0o555);
    let before = tree(&user.0, &data);

    let mut inner = Command::new(std::env::current_exe().expect("this test binary"));
    inner.args(["--ignored", "--exact", "sandboxed_commands_work_beside_the_users_perfmon", "--nocapture"]);
    let bind = std::ffi::OsString::from(default.to_string());
    as_the_user(&mut inner, &user.0, &[("PERFMON_BIND", Path::new(&bind)), ("PERFMON_DATA_DIR", &data)]);
    inner.env(ISOLATION_PROJECT, &project);
    let out = tokio::process::Command::from(inner).output().await.expect("run the inner test");
    set_mode(0o755);
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.contains("1 passed"), "the sandboxed commands: {said}");

    assert_eq!(tree(&user.0, &data), before, "nothing was written in the user's directories");
    if ours {
        assert!(service.0.try_wait().expect("wait").is_none(), "the user's service is still up");
    }
    // Whoever holds the default port (if still up) saw none of the commands.
    if users_api.is_up().await {
        let runs = call(&users_api, Method::GET, &format!("/api/projects/{project}/runs"), None).await;
        let runs = runs.map(|r| r["runs"].as_array().map(Vec::len));
        assert!(matches!(runs, Ok(Some(0)) | Err(_)), "a run reached the default port: {runs:?}");
        let run = call(&users_api, Method::GET, &format!("/api/projects/{project}/run"), None).await;
        assert!(run.is_err() || run.as_ref().is_ok_and(|r| r["status"] == "stopped"), "{run:?}");
    }
}

/// Run by the test above in the user's environment: a
/// `perfmon serve`, a `perfmon run` given no `--bind` (the sandbox's address,
/// not the default port), `perfmon runs`, and a `perfmon run` serving itself,
/// all started through the sandbox, all work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by sandboxed_commands_leave_the_users_home_and_default_port_alone, in the user's environment"]
async fn sandboxed_commands_work_beside_the_users_perfmon() {
    let project = std::env::var(ISOLATION_PROJECT).unwrap_or_else(|_| "isolation".into());
    let perfmon =
        Perfmon::serve(Path::new(PERFMON), &["--live-interval-ms", "200", "--static-dir", "/nonexistent"])
            .await;
    let api = perfmon.api();
    store_ready(&api, "its own data directory, not the user's").await;
    assert!(perfmon.sandbox().data_dir().is_dir(), "the sandbox's default data directory is used");

    let out = perfmon.sandbox().command(PERFMON).args(["run", "--project", &project, "--", "true"]).output();
    let out = out.expect("perfmon run");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && !said.contains("not tracked"), "{said}");
    let path = format!("/api/projects/{project}/runs");
    eventually(Duration::from_secs(20), "the run is recorded by the sandbox's server", || async {
        let runs = call(&api, Method::GET, &path, None).await.ok()?;
        (runs["runs"][0]["exit_code"] == 0).then_some(())
    })
    .await;
    let out = perfmon.sandbox().command(PERFMON).args(["runs", "--project", &project]).output();
    let out = out.expect("perfmon runs");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && table.lines().count() == 2, "one run listed: {table}");

    // With no server at the sandbox's address, `perfmon run` serves itself there,
    // keeping history in the sandbox.
    let alone = Sandbox::new("alone");
    let out =
        alone.command(PERFMON).args(["run", "--project", &project, "--", "sh", "-c", "exit 3"]).output();
    let out = out.expect("perfmon run");
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(alone.data_dir().is_dir(), "its history is in the sandbox");
}

/// `perfmon`, and programs whose whole job is to start another one: a test runs
/// them through `Sandbox::wrap`.
const WRAPPERS: [&str; 9] =
    ["perfmon", "unshare", "env", "sudo", "su", "setsid", "nsenter", "nohup", "chroot"];

/// How a test names the built binary.
const BINARY_NAMES: [&str; 4] = ["PERFMON", "CARGO_BIN_EXE_perfmon", "release_binary()", "no_ui_binary()"];

/// Whether `statement` names the built binary (`PERFMON`, not `PERFMON_TOKEN`).
fn names_the_binary(statement: &str) -> bool {
    BINARY_NAMES.iter().any(|name| {
        statement.match_indices(name).any(|(at, _)| {
            let next = statement[at + name.len()..].chars().next();
            !next.is_some_and(|c| c == '_' || c.is_ascii_alphanumeric())
        })
    })
}

/// Every process a test file starts: each command made with `new` in the test
/// sources takes a plain program name that is not `perfmon` or a wrapper and is
/// not handed the binary in the same statement, or this test binary
/// (`std::env::current_exe()`), or says on its line (or the three above it) why
/// it is `unsandboxed:`. Anything else — the built binary
/// by any name — must come from a `Sandbox` (which makes the command itself),
/// so a new test cannot forget the isolation. `Perfmon::start` also refuses a
/// command its sandbox did not make. A textual check, cheap and strict: a
/// false alarm is fixed by using the sandbox or by saying why not.
#[test]
fn every_test_starts_perfmon_through_a_sandbox() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = vec![root.join("tests/src/lib.rs")];
    for dir in ["server/tests", "tests/tests"] {
        for entry in std::fs::read_dir(root.join(dir)).expect("a test directory").flatten() {
            if entry.path().extension().is_some_and(|e| e == "rs") {
                files.push(entry.path());
            }
        }
    }
    let (mut seen, mut wrong) = (0, Vec::new());
    for file in &files {
        let text = std::fs::read_to_string(file).expect("a test file");
        let spawns = spawns(&text);
        seen += spawns.len();
        for (line, arg) in spawns.into_iter().filter_map(|(line, arg, ok)| (!ok).then_some((line, arg))) {
            wrong.push(format!("{}:{line}: starts {arg}", file.display()));
        }
    }
    assert!(files.len() > 10 && seen > 10, "the scan read the tests: {} files, {seen} spawns", files.len());
    assert!(
        wrong.is_empty(),
        "start perfmon with server::testkit::Sandbox (command, tokio_command, wrap), or say why not \
         (`unsandboxed:` on the line):\n{}",
        wrong.join("\n")
    );
}

/// Spelt in two halves so that this file's own text is no match.
const SPAWN: &str = concat!("Command", "::new(");

/// Each command `text` makes with `new`: (line, its program, whether it may).
fn spawns(text: &str) -> Vec<(usize, String, bool)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for (at, _) in text.match_indices(SPAWN) {
        let rest = &text[at + SPAWN.len()..];
        let mut depth = 1;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                depth += match c {
                    '(' => 1,
                    ')' => -1,
                    _ => 0,
                };
                depth == 0
            })
            .map_or(rest.len(), |(i, _)| i);
        let arg = rest[..end].trim();
        let line = text[..at].matches('\n').count();
        let said = lines[line.saturating_sub(3)..=line].iter().any(|l| l.contains("unsandboxed:"));
        // A workload (`sh -c 'busy loop'`) is fine; one whose statement hands
        // it the binary is perfmon by another road.
        let statement = &rest[..rest.find(';').unwrap_or(rest.len())];
        let ok = match arg.strip_prefix('"').and_then(|a| a.strip_suffix('"')) {
            Some(program) => !WRAPPERS.contains(&program) && !names_the_binary(statement),
            None => arg.starts_with("std::env::current_exe()"),
        };
        found.push((line + 1, arg.to_owned(), ok || said));
    }
    found
}

/// The scan above is real: it finds the binary started directly, through a
/// wrapper, or handed to a shell, and lets workloads and reasoned exceptions by.
#[test]
fn the_scan_finds_perfmon_started_outside_a_sandbox() {
    let verdicts = |source: &str| -> Vec<bool> {
        spawns(&source.replace("SPAWN(", SPAWN)).into_iter().map(|(_, _, ok)| ok).collect()
    };
    let caught = [
        "let out = SPAWN(PERFMON).arg(\"--version\").output();",
        "tokio::process::SPAWN(env!(\"CARGO_BIN_EXE_perfmon\")).spawn();",
        "SPAWN(&tests::release_binary()).spawn();",
        "SPAWN(\"unshare\").args([\"--pid\", \"--fork\"]).arg(PERFMON).spawn();",
        "SPAWN(\"sh\").args([\"-c\", &format!(\"{} run -- true\", PERFMON)]).status();",
        "SPAWN(\"perfmon\").status();",
        "SPAWN(binary).status();",
    ];
    for source in caught {
        assert_eq!(verdicts(source), [false], "{source}");
    }
    let allowed = [
        "SPAWN(\"sleep\").arg(\"60\").spawn();",
        "SPAWN(\"sh\").args([\"-c\", \"exit 3\"]).env(\"PERFMON_TOKEN\", \"t\").status();",
        "SPAWN(std::env::current_exe().expect(\"me\")).status();",
        "// unsandboxed: ChromeDriver, not perfmon.\nlet child = SPAWN(&program).spawn();",
    ];
    for source in allowed {
        assert_eq!(verdicts(source), [true], "{source}");
    }
}
