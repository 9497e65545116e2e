//! `perfmon run -- COMMAND` as people use it, through the real binary: the
//! command is registered before it runs (so one that ends at once is a run,
//! under its own pid), one that cannot run ends 127 or 126 and is recorded so,
//! the wrapper acts only on its own run, signals sent to it reach the command,
//! its exit is kept where a server restarted with another environment finds it,
//! the exit report carries the command tree's exact CPU time, and `perfmon
//! serve` says it is running only once it is.
//!
//! Every perfmon started here runs in a testkit `Sandbox` (its own home,
//! state, runtime directory and `/run/user` stand-in) with a data directory of
//! the test's and a free port: nothing of the user's is read or written. Some
//! tests then change `XDG_RUNTIME_DIR` within the sandbox, as a service, cron
//! or sudo would ([`Runtime`]). Wrappers run in a process group of their own,
//! so that `kill -INT` is not mistaken for a terminal's Ctrl-C when the tests
//! run in one.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path as UrlPath, State};
use axum::http::{Method as HttpMethod, StatusCode, Uri};
use axum::routing::{get, post};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use server::cli::client::{ApiClient, Method};
use server::testkit::{Sandbox, Scratch, USER_RUNTIME_ROOT_ENV, eventually, free_addr};
use shared::api::{RunOutcome, RunRecord, Runs};

const PERFMON: &str = env!("CARGO_BIN_EXE_perfmon");

/// How long a wrapper or a server may take to do what a test waits for.
const LIMIT: Duration = Duration::from_secs(30);

/// What a perfmon process knows of runtime directories, within its sandbox
/// (whose `/run/user` stand-in holds this user's directory).
#[derive(Debug, Clone, Copy)]
enum Runtime {
    /// `XDG_RUNTIME_DIR` is the standard `/run/user/UID`: a login session's,
    /// a user service's.
    Standard,
    /// No `XDG_RUNTIME_DIR`, but the standard directory exists: cron, sudo.
    Unset,
    /// No `XDG_RUNTIME_DIR` and no standard directory (no logind): only the
    /// state directory is left.
    Nowhere,
    /// An `XDG_RUNTIME_DIR` of its own, not the standard one.
    Other,
}

/// A test's sandbox, and its files.
struct World {
    sandbox: Sandbox,
    scratch: Scratch,
}

impl World {
    fn new(name: &str) -> World {
        World { sandbox: Sandbox::new(name), scratch: Scratch::new(name) }
    }

    /// A directory of the world (made, mode 0700 as runtime directories are).
    fn dir(&self, name: &str) -> PathBuf {
        use std::os::unix::fs::DirBuilderExt;
        let dir = self.scratch.join(name);
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir).expect("a directory");
        dir
    }

    /// The data directory, as an argument.
    fn data(&self) -> String {
        self.dir("data").to_str().expect("a UTF-8 path").to_owned()
    }

    /// A file the test and a command share.
    fn file(&self, name: &str) -> PathBuf {
        self.scratch.join(name)
    }
}

/// `perfmon ARGS…` in `world`'s sandbox, seeing `runtime`; stdin closed, in a
/// process group of its own.
fn perfmon(world: &World, runtime: Runtime, args: &[&str]) -> tokio::process::Command {
    let mut command = world.sandbox.tokio_command(PERFMON);
    command.args(args);
    match runtime {
        Runtime::Standard => {}
        Runtime::Unset => {
            command.env_remove("XDG_RUNTIME_DIR");
        }
        Runtime::Nowhere => {
            command.env_remove("XDG_RUNTIME_DIR").env(USER_RUNTIME_ROOT_ENV, world.dir("no-run-user"));
        }
        Runtime::Other => {
            command.env("XDG_RUNTIME_DIR", world.dir("other-runtime"));
        }
    }
    command.env("PERFMON_LOG", "warn").stdin(Stdio::null()).process_group(0).kill_on_drop(true);
    command
}

/// `perfmon run --project PROJECT --bind ADDR --data-dir DATA -- COMMAND…`.
fn wrapper(
    world: &World,
    runtime: Runtime,
    project: &str,
    addr: SocketAddr,
    command: &[&str],
) -> tokio::process::Command {
    let (bind, data) = (addr.to_string(), world.data());
    let mut args = vec!["run", "--project", project, "--bind", &bind, "--data-dir", &data, "--"];
    args.extend(command);
    perfmon(world, runtime, &args)
}

/// A running wrapper, and what it has said on stderr so far.
struct Running {
    child: tokio::process::Child,
    said: Arc<Mutex<String>>,
    reader: tokio::task::JoinHandle<()>,
}

impl Running {
    fn spawn(mut command: tokio::process::Command) -> Running {
        use tokio::io::AsyncBufReadExt;
        command.stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = command.spawn().expect("perfmon run starts");
        let mut lines = tokio::io::BufReader::new(child.stderr.take().expect("stderr")).lines();
        let said = Arc::new(Mutex::new(String::new()));
        let heard = said.clone();
        let reader = tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let mut heard = heard.lock().expect("not poisoned");
                heard.push_str(&line);
                heard.push('\n');
            }
        });
        Running { child, said, reader }
    }

    fn pid(&self) -> u32 {
        self.child.id().expect("the wrapper's pid")
    }

    /// Waits until the wrapper has said `text`.
    async fn until_said(&self, text: &str) {
        eventually(LIMIT, &format!("the wrapper says {text:?}"), || async {
            self.said.lock().expect("not poisoned").contains(text).then_some(())
        })
        .await;
    }

    /// Its exit code and all it said, once it ends.
    async fn finish(mut self) -> (Option<i32>, String) {
        let status = tokio::time::timeout(LIMIT, self.child.wait())
            .await
            .expect("the wrapper ends soon after its command")
            .expect("waited for");
        let _ = tokio::time::timeout(LIMIT, self.reader).await;
        let said = self.said.lock().expect("not poisoned").clone();
        (status.code(), said)
    }
}

/// `perfmon serve` on `addr` with `world`'s data directory.
struct Server {
    addr: SocketAddr,
    child: tokio::process::Child,
}

impl Server {
    async fn start(world: &World, runtime: Runtime, addr: SocketAddr) -> Server {
        let (bind, data) = (addr.to_string(), world.data());
        let args = ["serve", "--bind", &bind, "--data-dir", &data, "--live-interval-ms", "200"];
        let mut command = perfmon(world, runtime, &args);
        command.stdout(Stdio::null()).stderr(Stdio::null());
        let child = command.spawn().expect("perfmon serve starts");
        assert!(ApiClient::new(addr).wait_until_up(LIMIT).await, "perfmon serve did not come up");
        Server { addr, child }
    }

    /// SIGKILL, as a crash or the OOM killer would.
    async fn kill(mut self) {
        self.child.kill().await.expect("killed and reaped");
    }

    /// The project's recorded runs (reads need no credential on loopback).
    async fn runs(&self, project: &str) -> Vec<RunRecord> {
        let body = ApiClient::new(self.addr)
            .call(Method::GET, &format!("/api/projects/{project}/runs"), None)
            .await
            .expect("the runs are listed");
        serde_json::from_str::<Runs>(&body).expect("runs").runs
    }

    /// The first run of `project` that `pick` accepts, waited for.
    async fn run_where(&self, project: &str, what: &str, pick: impl Fn(&RunRecord) -> bool) -> RunRecord {
        eventually(LIMIT, what, || async { self.runs(project).await.into_iter().find(|run| pick(run)) }).await
    }
}

/// A shell line that writes the shell's pid to `path`: a builtin, so it costs
/// the command no time (a command that ends at once must still end at once).
fn pid_to(path: &Path) -> String {
    format!("echo $$ > '{}'", path.display())
}

/// The pid a command wrote with [`pid_to`], once the line is whole.
async fn pid_written(path: &Path) -> u32 {
    eventually(LIMIT, &format!("the command writes its pid to {}", path.display()), || async {
        let text = std::fs::read_to_string(path).ok()?;
        text.strip_suffix('\n')?.parse().ok()
    })
    .await
}

/// Sends `signal` to the wrapper `pid`.
fn signal(pid: u32, signal: Signal) {
    kill(Pid::from_raw(i32::try_from(pid).expect("a pid")), signal).expect("the signal is sent");
}

/// Whether process `pid` is gone (or a zombie nobody reaped yet).
fn gone(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
        stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_that_ends_at_once_is_a_run_under_its_own_pid() {
    let world = World::new("wrap-instant");
    let server = Server::start(&world, Runtime::Standard, free_addr()).await;
    // Registered before it runs: a command gone in a millisecond is a run
    // still, every time, with the pid it ran as and its exit code.
    for code in [0, 3, 7] {
        let pid_file = world.file(&format!("pid-{code}"));
        let script = format!("{}; exit {code}", pid_to(&pid_file));
        let child = Running::spawn(wrapper(
            &world,
            Runtime::Standard,
            "instant",
            server.addr,
            &["sh", "-c", &script],
        ));
        let (exit, said) = child.finish().await;
        assert_eq!(exit, Some(code), "{said}");
        let pid = pid_written(&pid_file).await;
        let run = server.run_where("instant", "the run is recorded", |run| run.pid == pid).await;
        assert_eq!((run.status, run.exit_code), (RunOutcome::Exited, Some(code)), "{run:?}\n{said}");
        assert!(!said.contains("not tracked"), "{said}");
    }
    // The command sees nothing of the hold: not its variable, not its socket.
    let (env_file, fd_file) = (world.file("env"), world.file("fds"));
    let script = format!(
        "env > '{}'; for fd in /proc/$$/fd/*; do readlink \"$fd\" || :; done > '{}'",
        env_file.display(),
        fd_file.display()
    );
    let child =
        Running::spawn(wrapper(&world, Runtime::Standard, "instant", server.addr, &["sh", "-c", &script]));
    let (exit, said) = child.finish().await;
    assert_eq!(exit, Some(0), "{said}");
    // The wrapper waited for the command: what it wrote is whole.
    let fds = std::fs::read_to_string(&fd_file).expect("the descriptors");
    assert!(!fds.contains("socket:"), "the go socket is not passed on:\n{fds}");
    let seen = std::fs::read_to_string(&env_file).expect("the environment");
    assert!(!seen.contains("PERFMON_HOLD_SOCKET"), "the hold's variable is not passed on:\n{seen}");
    server.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_that_cannot_run_ends_127_or_126_and_is_recorded_so() {
    let world = World::new("wrap-cannot");
    let server = Server::start(&world, Runtime::Standard, free_addr()).await;
    let not_executable = world.file("data.txt");
    std::fs::write(&not_executable, "not a program").expect("a plain file");
    let not_executable = not_executable.to_str().expect("a UTF-8 path").to_owned();
    let mut seen = std::collections::HashSet::new();
    for (program, code, why) in [
        ("/nonexistent/perfmon-test-command", 127, "No such file"),
        ("perfmon-test-no-such-command", 127, "command not found"),
        (not_executable.as_str(), 126, "Permission denied"),
    ] {
        let child = Running::spawn(wrapper(&world, Runtime::Standard, "cannot", server.addr, &[program]));
        let (exit, said) = child.finish().await;
        assert_eq!(exit, Some(code), "{program}: {said}");
        assert!(said.contains(&format!("perfmon: cannot run {program}: {why}")), "{program}: {said}");
        let run =
            server.run_where("cannot", "the attempt is recorded", |run| !seen.contains(&run.run_id)).await;
        assert_eq!(
            (run.status, run.exit_code),
            (RunOutcome::Exited, Some(code)),
            "{program}: {run:?}\n{said}"
        );
        seen.insert(run.run_id);
    }
    server.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_in_the_project_leaves_the_first_alone() {
    let world = World::new("wrap-second");
    let server = Server::start(&world, Runtime::Standard, free_addr()).await;
    let (ready, done) = (world.file("ready"), world.file("done"));
    let script =
        format!("{}; while [ ! -e '{}' ]; do sleep 0.05; done; exit 4", pid_to(&ready), done.display());
    let first =
        Running::spawn(wrapper(&world, Runtime::Standard, "shared", server.addr, &["sh", "-c", &script]));
    let first_pid = pid_written(&ready).await;
    let running = server
        .run_where("shared", "the first run is live", |run| {
            run.pid == first_pid && run.status == RunOutcome::Running
        })
        .await;
    // A second wrapper in the project, whose command ends at once, whatever
    // the server makes of its registration.
    let second =
        Running::spawn(wrapper(&world, Runtime::Standard, "shared", server.addr, &["sh", "-c", "exit 0"]));
    let (exit, said) = second.finish().await;
    assert_eq!(exit, Some(0), "{said}");
    // The live run (the hub answers as it is now, no store in between), and
    // its record.
    let live = ApiClient::new(server.addr)
        .call(Method::GET, "/api/projects/shared/run", None)
        .await
        .expect("the live run");
    let live: shared::Run = serde_json::from_str(&live).expect("a run");
    assert_eq!(
        (live.run_id.as_deref(), live.status),
        (Some(running.run_id.as_str()), shared::RunStatus::Running),
        "the second wrapper ended only its own run\n{said}"
    );
    let first_now = server.runs("shared").await.into_iter().find(|run| run.run_id == running.run_id);
    assert_eq!(first_now.map(|run| run.status), Some(RunOutcome::Running), "{said}");
    std::fs::write(&done, "").expect("tell the first command to end");
    let (exit, said) = first.finish().await;
    assert_eq!(exit, Some(4), "{said}");
    let run = server
        .run_where("shared", "the first run's exit", |run| {
            run.run_id == running.run_id && run.exit_code.is_some()
        })
        .await;
    assert_eq!((run.status, run.exit_code), (RunOutcome::Exited, Some(4)));
    server.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrapper_serving_itself_stays_up_while_another_wrappers_run_is_live() {
    let world = World::new("wrap-host");
    let addr = free_addr();
    let (first_done, second_ready, second_done) =
        (world.file("first-done"), world.file("second-ready"), world.file("second-done"));
    let until = |file: &Path| format!("while [ ! -e '{}' ]; do sleep 0.05; done", file.display());
    // No server at `addr`: the first wrapper serves one itself.
    let first =
        Running::spawn(wrapper(&world, Runtime::Standard, "a", addr, &["sh", "-c", &until(&first_done)]));
    assert!(ApiClient::new(addr).wait_until_up(LIMIT).await, "the first wrapper serves");
    // The second finds it up and registers there (its command starts after).
    let script = format!("{}; {}; exit 7", pid_to(&second_ready), until(&second_done));
    let second = Running::spawn(wrapper(&world, Runtime::Standard, "b", addr, &["sh", "-c", &script]));
    let second_pid = pid_written(&second_ready).await;
    std::fs::write(&first_done, "").expect("tell the first command to end");
    first.until_said("PerfMon stays up while b has a live run").await;
    std::fs::write(&second_done, "").expect("tell the second command to end");
    let (exit, said) = second.finish().await;
    assert_eq!(exit, Some(7), "{said}");
    assert!(!said.contains("not recorded"), "the server took the exit: {said}");
    let (exit, said) = first.finish().await;
    assert_eq!(exit, Some(0), "{said}");
    // Both runs are recorded whole.
    let server = Server::start(&world, Runtime::Standard, addr).await;
    let run = server.run_where("b", "the second run's record", |run| run.pid == second_pid).await;
    assert_eq!((run.status, run.exit_code), (RunOutcome::Exited, Some(7)), "{run:?}");
    server.kill().await;
}

/// One request a [`Fake`] PerfMon received.
#[derive(Debug, Clone)]
struct Request {
    method: HttpMethod,
    path: String,
    body: String,
}

/// A stand-in for PerfMon that answers as it does and remembers every request:
/// what the wrapper sends, exactly. It refuses exit reports when `refuse_exits`.
#[derive(Clone, Default)]
struct Fake {
    requests: Arc<Mutex<Vec<Request>>>,
    refuse_exits: bool,
    /// How many exit reports are answered 503 (a store not ready) before one is taken.
    busy_exits: Arc<std::sync::atomic::AtomicUsize>,
}

impl Fake {
    /// Serves on a free port; its address.
    async fn start(self) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("an address");
        let app = axum::Router::new()
            .route("/api/health", get(fake_health))
            .route("/api/projects/{project}/run", post(fake_register))
            .route("/api/projects/{project}/runs/{run_id}/exit", post(fake_exit))
            .fallback(fake_other)
            .with_state(self);
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }

    fn remember(&self, method: HttpMethod, path: String, body: String) {
        self.requests.lock().expect("not poisoned").push(Request { method, path, body });
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().expect("not poisoned").clone()
    }
}

async fn fake_health() -> axum::Json<shared::api::Health> {
    axum::Json(shared::api::Health {
        status: "ok".into(),
        protocol: shared::PROTOCOL_VERSION,
        version: "fake".into(),
        commit: "fake".into(),
        connections: 0,
        store: None,
        remote_write: Vec::new(),
    })
}

async fn fake_register(
    State(fake): State<Fake>,
    UrlPath(project): UrlPath<String>,
    body: String,
) -> axum::Json<shared::Run> {
    fake.remember(HttpMethod::POST, format!("/api/projects/{project}/run"), body.clone());
    let register: shared::api::RegisterRun = serde_json::from_str(&body).expect("a RegisterRun body");
    axum::Json(shared::Run {
        status: shared::RunStatus::Running,
        pid: Some(register.pid),
        run_id: Some(format!("{}-2026-01-01T00:00:00Z", register.pid)),
        ..shared::Run::default()
    })
}

async fn fake_exit(
    State(fake): State<Fake>,
    UrlPath((project, run_id)): UrlPath<(String, String)>,
    body: String,
) -> (StatusCode, String) {
    fake.remember(HttpMethod::POST, format!("/api/projects/{project}/runs/{run_id}/exit"), body);
    let busy = fake.busy_exits.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
    if fake.refuse_exits {
        (StatusCode::CONFLICT, r#"{"code":"conflict","message":"refused by the test"}"#.into())
    } else if busy {
        (StatusCode::SERVICE_UNAVAILABLE, r#"{"code":"store_not_ready","message":"busy"}"#.into())
    } else {
        (StatusCode::OK, "{}".into())
    }
}

async fn fake_other(State(fake): State<Fake>, method: HttpMethod, uri: Uri, body: String) -> StatusCode {
    fake.remember(method, uri.path().to_owned(), body);
    StatusCode::NOT_FOUND
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_exit_report_carries_the_cpu_time_of_the_whole_tree_and_registration_comes_first() {
    let fake = Fake::default();
    let addr = fake.clone().start().await;
    let world = World::new("wrap-cpu");
    // A grandchild burns half a second of CPU, measured by itself, and is
    // waited for: the wrapper's reaped CPU time holds it.
    let burn = r#"sh -c 'while :; do read -r _ _ _ _ _ _ _ _ _ _ _ _ _ u s _ < /proc/$$/stat; [ $((u + s)) -ge 50 ] && exit 0; done'; exit 0"#;
    let mut run = wrapper(&world, Runtime::Standard, "cpu", addr, &["sh", "-c", burn]);
    run.env("PERFMON_TOKEN", "fake-token");
    let started_ms = chrono::Utc::now().timestamp_millis();
    let (exit, said) = Running::spawn(run).finish().await;
    let finished_ms = chrono::Utc::now().timestamp_millis();
    assert_eq!(exit, Some(0), "{said}");
    let requests = fake.requests();
    let register = requests.iter().find(|r| r.path == "/api/projects/cpu/run").expect("registered");
    let register: serde_json::Value = serde_json::from_str(&register.body).expect("JSON");
    assert_eq!(register["from_start"], true, "registered before it ran: {register}");
    let exit = requests.iter().find(|r| r.path.ends_with("/exit")).expect("the exit is reported");
    let report: shared::api::ExitReport = serde_json::from_str(&exit.body).expect("an ExitReport");
    assert_eq!((report.exit_code, report.signal), (Some(0), None));
    let cpu = report.cpu_seconds.expect("the report carries the CPU time");
    assert!((0.5..30.0).contains(&cpu), "the grandchild's half second at least: {cpu} s");
    let ended = report.ended_at_ms.expect("the report says when the command ended");
    assert!((started_ms..=finished_ms).contains(&ended), "{ended} within {started_ms}..={finished_ms}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_exit_report_ends_nothing_else() {
    let fake = Fake { refuse_exits: true, ..Fake::default() };
    let addr = fake.clone().start().await;
    let world = World::new("wrap-refused");
    let mut run = wrapper(&world, Runtime::Standard, "refused", addr, &["sh", "-c", "exit 2"]);
    run.env("PERFMON_TOKEN", "fake-token");
    let (exit, said) = Running::spawn(run).finish().await;
    assert_eq!(exit, Some(2), "{said}");
    assert!(said.contains("the exit was not recorded"), "{said}");
    let requests = fake.requests();
    assert!(requests.iter().any(|r| r.path.ends_with("/exit")), "{requests:?}");
    let others: Vec<_> = requests
        .iter()
        .filter(|r| !(r.method == HttpMethod::GET && r.path == "/api/health"))
        .filter(|r| {
            !(r.method == HttpMethod::POST && (r.path.ends_with("/run") || r.path.ends_with("/exit")))
        })
        .collect();
    assert!(others.is_empty(), "the wrapper acts on its own run only: {others:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exit_report_answered_503_is_sent_again() {
    let fake = Fake { busy_exits: Arc::new(2.into()), ..Fake::default() };
    let addr = fake.clone().start().await;
    let world = World::new("wrap-busy");
    let mut run = wrapper(&world, Runtime::Standard, "busy", addr, &["sh", "-c", "exit 3"]);
    run.env("PERFMON_TOKEN", "fake-token");
    let (exit, said) = Running::spawn(run).finish().await;
    assert_eq!(exit, Some(3), "{said}");
    assert!(!said.contains("not recorded"), "{said}");
    let exits = fake.requests().into_iter().filter(|r| r.path.ends_with("/exit")).count();
    assert_eq!(exits, 3, "two answered 503, the third taken");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_to_the_wrapper_reaches_the_command_and_is_recorded() {
    let world = World::new("wrap-term");
    let server = Server::start(&world, Runtime::Standard, free_addr()).await;
    let ready = world.file("ready");
    let script = format!("{}; exec sleep 60", pid_to(&ready));
    let child =
        Running::spawn(wrapper(&world, Runtime::Standard, "term", server.addr, &["sh", "-c", &script]));
    let wrapper_pid = child.pid();
    let pid = pid_written(&ready).await;
    signal(wrapper_pid, Signal::SIGTERM);
    let (exit, said) = child.finish().await;
    assert_eq!(exit, Some(128 + 15), "{said}");
    assert!(gone(pid), "the command got the signal");
    assert!(said.contains("passed SIGTERM on to the command") && said.contains("10 s"), "{said}");
    let run = server
        .run_where("term", "the run's end is recorded", |run| run.pid == pid && run.signal.is_some())
        .await;
    assert_eq!((run.status, run.signal), (RunOutcome::Killed, Some(15)));
    server.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_to_a_wrapper_serving_itself_reaches_the_command_and_stops_its_server() {
    let world = World::new("wrap-int");
    let addr = free_addr();
    let ready = world.file("ready");
    let script = format!("{}; exec sleep 60", pid_to(&ready));
    let child = Running::spawn(wrapper(&world, Runtime::Standard, "int", addr, &["sh", "-c", &script]));
    let wrapper_pid = child.pid();
    let pid = pid_written(&ready).await;
    assert!(ApiClient::new(addr).wait_until_up(LIMIT).await, "the wrapper serves PerfMon itself");
    signal(wrapper_pid, Signal::SIGINT);
    let (exit, said) = child.finish().await;
    assert_eq!(exit, Some(128 + 2), "{said}");
    assert!(gone(pid), "the command got the signal");
    assert!(!said.contains("server failed"), "its server stopped cleanly: {said}");
    assert!(!ApiClient::new(addr).is_up().await, "its server is gone with it");
    // Its server recorded how the run ended before it stopped.
    let server = Server::start(&world, Runtime::Standard, addr).await;
    let run = server.run_where("int", "the run is remembered", |run| run.pid == pid).await;
    assert_eq!((run.status, run.signal), (RunOutcome::Killed, Some(2)), "{run:?}");
    server.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_that_ignores_the_signal_is_killed_at_a_second_one_or_after_the_grace_period() {
    let world = World::new("wrap-kill");
    let server = Server::start(&world, Runtime::Standard, free_addr()).await;
    for second_signal in [true, false] {
        let ready = world.file(&format!("ready-{second_signal}"));
        let script = format!("trap '' TERM; {}; while :; do sleep 0.05; done", pid_to(&ready));
        let child = Running::spawn(wrapper(
            &world,
            Runtime::Standard,
            "stubborn",
            server.addr,
            &["sh", "-c", &script],
        ));
        let wrapper_pid = child.pid();
        let pid = pid_written(&ready).await;
        let sent = std::time::Instant::now();
        signal(wrapper_pid, Signal::SIGTERM);
        if second_signal {
            // Two signals close together may arrive as one: the second is sent
            // once the first was passed on (and ignored: the trap is set before
            // the command says it is ready).
            child.until_said("passed SIGTERM on to the command").await;
            signal(wrapper_pid, Signal::SIGTERM);
        }
        let (exit, said) = child.finish().await;
        assert_eq!(exit, Some(128 + 9), "{said}");
        assert!(gone(pid));
        if second_signal {
            assert!(said.contains("SIGTERM again: killing the command (SIGKILL)"), "{said}");
        } else {
            assert!(sent.elapsed() >= Duration::from_secs(10), "the grace period is 10 s");
            assert!(said.contains("has not ended 10 s after SIGTERM: killing it (SIGKILL)"), "{said}");
        }
        let run = server
            .run_where("stubborn", "the kill is recorded", |run| run.pid == pid && run.signal.is_some())
            .await;
        assert_eq!(run.signal, Some(9));
    }
    server.kill().await;
}

/// The kill -9 and restart both ways round (see the two tests below): a
/// wrapper seeing `wrapper_runtime` registers with a server seeing `first`,
/// which is killed; the wrapper keeps the exit; a server restarted seeing
/// `second` records it as the command's exit, not as an interrupted run.
async fn kept_exit_is_recorded(world: &World, first: Runtime, wrapper_runtime: Runtime, second: Runtime) {
    let addr = free_addr();
    let server = Server::start(world, first, addr).await;
    let (ready, done) = (world.file("ready"), world.file("done"));
    let script =
        format!("{}; while [ ! -e '{}' ]; do sleep 0.05; done; exit 5", pid_to(&ready), done.display());
    let child = Running::spawn(wrapper(world, wrapper_runtime, "kept", addr, &["sh", "-c", &script]));
    let pid = pid_written(&ready).await;
    server.run_where("kept", "the wrapper registered the command", |run| run.pid == pid).await;
    server.kill().await;
    std::fs::write(&done, "").expect("tell the command to end");
    let (exit, said) = child.finish().await;
    assert_eq!(exit, Some(5), "{said}");
    assert!(said.contains("records it when it starts again"), "the exit was kept: {said}");
    let server = Server::start(world, second, addr).await;
    let run = server.run_where("kept", "the run's record", |run| run.pid == pid).await;
    assert_eq!((run.status, run.exit_code), (RunOutcome::Exited, Some(5)), "{run:?}\n{said}");
    server.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exit_kept_by_a_wrapper_without_xdg_runtime_dir_reaches_a_service() {
    // A service has the standard runtime directory as XDG_RUNTIME_DIR; the
    // wrapper (cron, sudo) has none, and finds the service's secret there; the
    // service comes back with another XDG_RUNTIME_DIR, and still finds the exit
    // kept in the standard directory.
    let world = World::new("wrap-kept-std");
    kept_exit_is_recorded(&world, Runtime::Standard, Runtime::Unset, Runtime::Other).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exit_kept_for_a_server_without_xdg_runtime_dir_reaches_it() {
    // The server has no runtime directory at all: its secret is in the state
    // directory, where the wrapper, which has an XDG_RUNTIME_DIR, finds it and
    // keeps the exit beside it; the server started again the same way reads it
    // there.
    let world = World::new("wrap-kept-state");
    kept_exit_is_recorded(&world, Runtime::Nowhere, Runtime::Other, Runtime::Nowhere).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_says_it_is_running_only_once_it_serves() {
    use tokio::io::AsyncBufReadExt;
    let world = World::new("wrap-serve");
    let (first_addr, data) = (free_addr(), world.data());
    let mut first = perfmon(
        &world,
        Runtime::Standard,
        &["serve", "--bind", &first_addr.to_string(), "--data-dir", &data],
    );
    first.stdout(Stdio::piped()).stderr(Stdio::null());
    let mut first = first.spawn().expect("perfmon serve");
    let mut lines = tokio::io::BufReader::new(first.stdout.take().expect("stdout")).lines();
    let line = tokio::time::timeout(LIMIT, lines.next_line()).await.expect("a line in time").expect("read");
    assert_eq!(line, Some(format!("PerfMon is running: open http://{first_addr}/")));
    let line = tokio::time::timeout(LIMIT, lines.next_line()).await.expect("a line in time").expect("read");
    assert_eq!(line, Some(format!("each project's page: http://{first_addr}/?project=NAME")));
    assert!(ApiClient::new(first_addr).is_up().await, "it serves when it says so");
    // A second server on the same data directory is refused: it never says it runs.
    let second_addr = free_addr();
    let second = perfmon(
        &world,
        Runtime::Standard,
        &["serve", "--bind", &second_addr.to_string(), "--data-dir", &data],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("perfmon serve");
    let out =
        tokio::time::timeout(LIMIT, second.wait_with_output()).await.expect("it exits").expect("waited");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stdout.contains("PerfMon is running"), "{stdout}");
    assert!(stderr.contains("already keeps its history"), "{stderr}");
    first.kill().await.expect("killed");
}
