//! Helpers for tests against the real server, shared by this crate's tests and
//! the `tests` crate (feature `testkit`): free ports, the real server on port 0
//! in-process, the built `perfmon` binary as a child process, and WebSocket and
//! HTTP clients that fail the test with a clear message instead of hanging.
//!
//! Helpers wait for events (a message, a state) up to generous limits; tight
//! timing belongs in benchmarks, not tests.
//!
//! # Starting `perfmon` in a test
//! A developer's machine may run PerfMon as a service (the README's systemd
//! unit): on the default port, with the default data directory and its control
//! secret under `$XDG_RUNTIME_DIR/perfmon`. A test that ran the binary with the
//! developer's environment would write into their history, read their secret,
//! or fail because the service holds the port. So every `perfmon` a test starts
//! is started in a [`Sandbox`]: its own `HOME`, `XDG_CONFIG_HOME`,
//! `XDG_STATE_HOME` (so its own default data directory), `XDG_RUNTIME_DIR` and
//! `/run/user` stand-in (so its own control secret and exit reports), no
//! inherited `PERFMON_*` settings, and `PERFMON_BIND` set to a loopback port
//! chosen for it, so a command given no `--bind` reaches the sandbox's server,
//! never the default port.
//!
//! ```ignore
//! const PERFMON: &str = env!("CARGO_BIN_EXE_perfmon"); // tests::release_binary() in `tests`
//! // A server in a sandbox of its own, on the sandbox's port:
//! let perfmon = Perfmon::serve(Path::new(PERFMON), &["--no-store"]).await;
//! // A command aimed at it (no --bind needed), finding its control secret:
//! let out = perfmon.sandbox().command(PERFMON).args(["run", "--", "true"]).output()?;
//! // A command with a world of its own (`perfmon run` serving itself there):
//! let sandbox = Sandbox::new("wrapper");
//! let child = sandbox.tokio_command(PERFMON).args(["run", "--", "sleep", "1"]).spawn()?;
//! // The same server started again (same port, same secret and data directories):
//! let again = Perfmon::serve_in(perfmon.sandbox(), Path::new(PERFMON), &[]).await;
//! // Through a wrapper: the wrapper is isolated, and so the perfmon it starts.
//! let mut command = sandbox.wrap("unshare", private_mount_namespace());
//! command.arg(PERFMON).args(["serve", "--bind", &sandbox.addr().to_string()]);
//! let boxed = Perfmon::start(command, &sandbox).await;
//! ```
//!
//! For an in-process [`TestServer`], `server.sandbox().command(PERFMON)` reaches
//! it with its secret. [`Perfmon::start`] refuses a command its sandbox did not
//! make, and `server/tests/cli.rs` fails a test file that starts the binary any
//! other way, and proves a sandbox leaves a user's home, runtime directory and
//! default port alone.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::StreamExt;
use shared::{PerfMetrics, ServerMsg};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use crate::cli::client::{ApiClient, ClientError, Method};
use crate::{Config, Secret, ServeError};

/// A WebSocket client of the stream.
pub type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a helper waits for one message before failing the test: far above
/// any cadence a test uses, so a loaded machine does not fail it.
pub const MESSAGE_LIMIT: Duration = Duration::from_secs(10);

/// A loopback port nobody listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}

/// `127.0.0.1` with a [`free_port`].
pub fn free_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

/// A fresh directory under the system's temporary directory, removed when dropped.
#[derive(Debug)]
pub struct Scratch(pub std::path::PathBuf);

impl Scratch {
    /// A new, empty directory whose name starts with `name`.
    pub fn new(name: &str) -> Scratch {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("perfmon-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        Scratch(dir)
    }

    /// A path inside it.
    pub fn join(&self, path: &str) -> std::path::PathBuf {
        self.0.join(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The variable that names another root for logind's `/run/user/UID`
/// directories, which `perfmon` looks in for control secrets and exit reports.
pub use crate::control::USER_RUNTIME_ROOT_ENV;

/// An isolated world for the `perfmon` processes a test starts (see the module
/// docs): a `HOME` with its own `XDG_CONFIG_HOME` and `XDG_STATE_HOME` in it, an
/// `XDG_RUNTIME_DIR` laid out as logind's `/run/user/UID` (mode 0700) under a
/// root of its own ([`USER_RUNTIME_ROOT_ENV`], so the real `/run/user` is never
/// looked in), and a loopback address of its own as
/// `PERFMON_BIND`. Clones share it; removed when the last is dropped.
#[derive(Debug, Clone)]
pub struct Sandbox(std::sync::Arc<SandboxDirs>);

#[derive(Debug)]
struct SandboxDirs {
    /// Holds `home/` and `run/UID/`; removed on drop.
    root: Scratch,
    /// `run/UID`: the runtime directory.
    runtime: std::path::PathBuf,
    /// `PERFMON_BIND` in the sandbox: where its server is, or will be.
    addr: SocketAddr,
}

impl Sandbox {
    /// A new sandbox whose `PERFMON_BIND` is a [`free_addr`].
    pub fn new(name: &str) -> Sandbox {
        Self::at(name, free_addr())
    }

    /// A new sandbox whose `PERFMON_BIND` is `addr` (a server already listening there).
    pub fn at(name: &str, addr: SocketAddr) -> Sandbox {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let root = Scratch::new(&format!("sandbox-{name}"));
        for dir in ["home/.config", "home/.local/state", "home/.local/share", "home/.cache"] {
            std::fs::create_dir_all(root.join(dir)).expect("a sandbox directory");
        }
        // /proc/self belongs to this process's user.
        let uid = std::fs::metadata("/proc/self").expect("/proc/self").uid();
        let runtime = root.join("run").join(uid.to_string());
        std::fs::create_dir_all(&runtime).expect("a runtime directory");
        std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700))
            .expect("a private runtime directory");
        Sandbox(std::sync::Arc::new(SandboxDirs { root, runtime, addr }))
    }

    /// The address commands in the sandbox reach when given no `--bind`.
    pub fn addr(&self) -> SocketAddr {
        self.0.addr
    }

    /// Its `HOME`.
    pub fn home(&self) -> std::path::PathBuf {
        self.0.root.join("home")
    }

    /// Its `XDG_RUNTIME_DIR`.
    pub fn runtime_dir(&self) -> std::path::PathBuf {
        self.0.runtime.clone()
    }

    /// The data directory `perfmon serve` uses here without `--data-dir`
    /// (`$XDG_STATE_HOME/perfmon`).
    pub fn data_dir(&self) -> std::path::PathBuf {
        self.home().join(".local/state/perfmon")
    }

    /// Where a server on `port` in this sandbox stores its control secret.
    pub fn control_path(&self, port: u16) -> std::path::PathBuf {
        self.runtime_dir().join("perfmon").join(format!("control-{port}"))
    }

    /// The variables the sandbox sets (`HOME`, the XDG directories, where
    /// runtime directories are, `PERFMON_BIND`).
    pub fn env(&self) -> Vec<(String, String)> {
        let home = self.home();
        let at = |dir: &str| home.join(dir).display().to_string();
        vec![
            ("HOME".into(), home.display().to_string()),
            ("XDG_CONFIG_HOME".into(), at(".config")),
            ("XDG_STATE_HOME".into(), at(".local/state")),
            ("XDG_DATA_HOME".into(), at(".local/share")),
            ("XDG_CACHE_HOME".into(), at(".cache")),
            ("XDG_RUNTIME_DIR".into(), self.runtime_dir().display().to_string()),
            (USER_RUNTIME_ROOT_ENV.into(), self.0.root.join("run").display().to_string()),
            ("PERFMON_BIND".into(), self.addr().to_string()),
        ]
    }

    /// `binary`, to run in the sandbox; add arguments and run it as any command.
    pub fn command(&self, binary: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(binary);
        self.isolate(&mut command);
        command
    }

    /// [`Sandbox::command`] for async tests.
    pub fn tokio_command(&self, binary: impl AsRef<std::ffi::OsStr>) -> tokio::process::Command {
        tokio::process::Command::from(self.command(binary))
    }

    /// `program ARGS…` in the sandbox: a wrapper (`unshare`, `sh -c`) whose
    /// arguments start `perfmon`, which inherits the sandbox from it.
    pub fn wrap<I, S>(&self, program: &str, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut command = Command::new(program);
        command.args(args);
        self.isolate(&mut command);
        command
    }

    /// Whether `command` was made by this sandbox (its `HOME` is the sandbox's).
    fn made(&self, command: &Command) -> bool {
        let home = self.home();
        command.get_envs().any(|(key, value)| key == "HOME" && value == Some(home.as_os_str()))
    }

    fn isolate(&self, command: &mut Command) {
        // The developer's own settings (a PERFMON_DATA_DIR or PERFMON_TOKEN for
        // their service, say) must not reach the test's perfmon; a test sets
        // what it needs after this.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("PERFMON_") {
                command.env_remove(key);
            }
        }
        command.envs(self.env());
    }
}

/// The `unshare` flags for a private mount namespace here: `--mount` alone as
/// root, else in a user namespace of its own (`--user --map-root-user --mount`).
/// Panics, with what `unshare` said, where neither is allowed: a test that
/// needs a mount of its own cannot pass without one.
pub fn private_mount_namespace() -> &'static [&'static str] {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to the process's effective user.
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    let flags: &'static [&'static str] =
        if root { &["--mount"] } else { &["--user", "--map-root-user", "--mount"] };
    let probe = Command::new("unshare").args(flags).arg("true").output();
    match probe {
        Ok(out) if out.status.success() => flags,
        Ok(out) => panic!(
            "`unshare {}` is refused here ({}): this test needs a mount namespace of its own{}",
            flags.join(" "),
            String::from_utf8_lossy(&out.stderr).trim(),
            if root { "" } else { " (as root, `unshare --mount` would do)" }
        ),
        Err(err) => panic!("cannot run unshare (util-linux): {err}"),
    }
}

/// A fast cadence so tests see several ticks quickly.
pub fn fast_config() -> Config {
    Config {
        live_interval: Duration::from_millis(300),
        idle_interval: Duration::from_millis(400),
        ..Config::default()
    }
}

/// The real server, in this process, on a loopback port; stopped when dropped.
/// Without a token it has a control secret, stored in its [`Sandbox`], where a
/// `perfmon` command made by [`TestServer::sandbox`] finds it.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The credential writes need (the control secret), when no token is set.
    secret: Option<String>,
    /// Where its control secret is kept, and the world of CLI commands aimed at it.
    sandbox: Sandbox,
    /// Sending (or dropping) stops the server.
    stop: Option<oneshot::Sender<()>>,
    /// The serving task.
    task: Option<JoinHandle<Result<(), ServeError>>>,
}

impl TestServer {
    /// Starts [`crate::run`] on `127.0.0.1:0` with `config`.
    pub async fn start(config: Config) -> TestServer {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), config).await
    }

    /// Starts [`crate::run`] on `addr` with `config`.
    pub async fn start_on(addr: SocketAddr, mut config: Config) -> TestServer {
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let sandbox = Sandbox::at("server", addr);
        let secret = (!config.auth.is_enabled()).then(|| crate::control::generate().expect("randomness"));
        config.control_secret = secret.clone().map(Secret::new);
        config.control_dir = sandbox.control_path(addr.port()).parent().map(Path::to_owned);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(crate::run(listener, config, async {
            let _ = stopped.await;
        }));
        // Serving means set up: its control secret is stored by then.
        assert!(
            ApiClient::new(addr).wait_until_up(Duration::from_secs(20)).await,
            "the server did not come up"
        );
        TestServer { addr, secret, sandbox, stop: Some(stop), task: Some(task) }
    }

    /// A client of its HTTP API, carrying the control secret writes need (none
    /// when the server has a token: tests pass theirs).
    pub fn api(&self) -> ApiClient {
        ApiClient::new(self.addr).with_token(self.secret.clone())
    }

    /// The sandbox for `perfmon` commands aimed at it: `PERFMON_BIND` is its
    /// address, and its control secret is where they look.
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// Where its control secret is stored.
    pub fn control_path(&self) -> std::path::PathBuf {
        self.sandbox.control_path(self.addr.port())
    }

    /// Stops the server and waits for it to exit cleanly.
    pub async fn stop(mut self) {
        self.stop.take().map(|stop| stop.send(()));
        if let Some(task) = self.task.take() {
            task.await.expect("server task joined").expect("server exited cleanly");
        }
    }
}

/// The built `perfmon` binary serving in a [`Sandbox`], at the sandbox's
/// address; killed when dropped.
pub struct Perfmon {
    /// Where it listens.
    pub addr: SocketAddr,
    child: Child,
    /// Its world: its control secret, its default data directory.
    sandbox: Sandbox,
}

impl Perfmon {
    /// Starts `binary serve --bind <free port> ARGS…` in a sandbox of its own and
    /// waits (up to 20 s) until it answers its health check.
    pub async fn serve(binary: &Path, args: &[&str]) -> Perfmon {
        Self::serve_with(binary, args, &[]).await
    }

    /// [`Perfmon::serve`] with extra environment variables.
    pub async fn serve_with(binary: &Path, args: &[&str], env: &[(String, String)]) -> Perfmon {
        let sandbox = Sandbox::new("serve");
        let mut command = sandbox.command(binary);
        command.args(["serve", "--bind", &sandbox.addr().to_string()]).args(args).envs(env.iter().cloned());
        command.stdout(Stdio::null()).stderr(Stdio::null());
        Self::start(command, &sandbox).await
    }

    /// `binary serve --bind <the sandbox's address> ARGS…` in `sandbox`: a server
    /// started again where an earlier one was (the same port, the same control
    /// directory and data directory), as a restarted service is.
    pub async fn serve_in(sandbox: &Sandbox, binary: &Path, args: &[&str]) -> Perfmon {
        let mut command = sandbox.command(binary);
        command.args(["serve", "--bind", &sandbox.addr().to_string()]).args(args);
        command.stdout(Stdio::null()).stderr(Stdio::null());
        Self::start(command, sandbox).await
    }

    /// Starts `command` — made by `sandbox` ([`Sandbox::command`] or
    /// [`Sandbox::wrap`]), a `perfmon` serving at the sandbox's address; its
    /// output goes where `command` says — and waits (up to 20 s) until it answers
    /// its health check. Panics for a command the sandbox did not make.
    pub async fn start(mut command: Command, sandbox: &Sandbox) -> Perfmon {
        assert!(
            sandbox.made(&command),
            "{command:?} was not made by the sandbox: start perfmon with Sandbox::command or Sandbox::wrap, \
             so it cannot touch the files or the port of a PerfMon the developer runs"
        );
        let child = command
            .env("PERFMON_LOG", "warn")
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {command:?}: {err}"));
        let addr = sandbox.addr();
        let perfmon = Perfmon { addr, child, sandbox: sandbox.clone() };
        assert!(ApiClient::new(addr).wait_until_up(Duration::from_secs(20)).await, "perfmon did not come up");
        perfmon
    }

    /// Its sandbox: `sandbox().command(PERFMON)` is a command aimed at this
    /// server, with its control secret.
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// Its pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A client of its HTTP API, carrying its control secret when it stored one.
    pub fn api(&self) -> ApiClient {
        let path = self.sandbox.control_path(self.addr.port());
        ApiClient::new(self.addr).with_token(crate::control::read(&path).ok())
    }

    /// Sends SIGTERM and waits up to `limit` for the process to exit; its status.
    /// Blocking.
    pub fn terminate(mut self, limit: Duration) -> std::process::ExitStatus {
        let pid = self.pid().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().is_ok_and(|s| s.success());
        assert!(sent, "SIGTERM could not be sent to {pid}");
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("the child can be waited for") {
                return status;
            }
            assert!(std::time::Instant::now() < deadline, "perfmon did not exit within {limit:?} of SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the process with SIGKILL, as a crash or the OOM killer would, and
    /// reaps it.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL sent");
        self.child.wait().expect("reaped");
    }

    /// (CPU seconds used so far, resident bytes) of the server process.
    pub fn usage(&self) -> (f64, u64) {
        crate::sampling::process_usage(self.pid()).expect("the server process is alive")
    }
}

impl Drop for Perfmon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client of `project`'s stream at `addr`.
pub async fn connect(addr: SocketAddr, project: &str) -> Client {
    let url = format!("ws://{addr}{}", shared::stream_path(project));
    connect_async(url).await.expect("websocket connects").0
}

/// The next server message, skipping protocol frames and `agent_status` (which
/// repeats what every sample's `run.status` says, for AutoForge's panel:
/// `server/tests/autoforge.rs` reads it); fails the test after `limit`.
pub async fn next_msg_within(client: &mut Client, limit: Duration) -> ServerMsg {
    loop {
        let text = next_text_within(client, limit).await;
        match serde_json::from_str(&text).expect("server sends valid ServerMsg JSON") {
            ServerMsg::AgentStatus(_) => continue,
            msg => return msg,
        }
    }
}

/// The next text frame as sent, skipping protocol frames; fails the test after
/// `limit`.
pub async fn next_text_within(client: &mut Client, limit: Duration) -> String {
    loop {
        let frame = tokio::time::timeout(limit, client.next())
            .await
            .expect("a message in time")
            .expect("stream open")
            .expect("no socket error");
        match frame {
            Message::Text(text) => return text.as_str().to_owned(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// The next server message within [`MESSAGE_LIMIT`].
pub async fn next_msg(client: &mut Client) -> ServerMsg {
    next_msg_within(client, MESSAGE_LIMIT).await
}

/// The next live `perf_metrics`, skipping history and other messages.
pub async fn next_metrics(client: &mut Client) -> PerfMetrics {
    loop {
        if let ServerMsg::PerfMetrics(m) = next_msg(client).await {
            return m;
        }
    }
}

/// Reads live samples until one satisfies `pred`; fails after `limit` samples.
pub async fn metrics_until(
    client: &mut Client,
    limit: usize,
    pred: impl Fn(&PerfMetrics) -> bool,
) -> PerfMetrics {
    for _ in 0..limit {
        let m = next_metrics(client).await;
        if pred(&m) {
            return m;
        }
    }
    panic!("no sample within {limit} samples satisfied the condition");
}

/// The close code a socket ends with within `limit`, skipping other frames;
/// `None` if it ends without a close frame. Fails the test past `limit`.
pub async fn close_code_within(client: &mut Client, limit: Duration) -> Option<u16> {
    tokio::time::timeout(limit, async {
        while let Some(frame) = client.next().await {
            if let Ok(Message::Close(close)) = frame {
                return close.map(|c| u16::from(c.code));
            }
        }
        None
    })
    .await
    .unwrap_or_else(|_| panic!("the socket was not closed within {limit:?}"))
}

/// `method path` with a JSON body; `Ok(body)` on 2xx, `Err((status, body))` otherwise.
pub async fn call(
    api: &ApiClient,
    method: Method,
    path: &str,
    json: Option<serde_json::Value>,
) -> Result<serde_json::Value, (u16, serde_json::Value)> {
    match api.call(method, path, json.map(|j| j.to_string())).await {
        Ok(body) => Ok(serde_json::from_str(&body).expect("JSON body")),
        Err(ClientError::Refused { status, body }) => {
            Err((status.as_u16(), serde_json::from_str(&body).expect("JSON error body")))
        }
        Err(err) => panic!("server unreachable: {err}"),
    }
}

/// Polls `check` every 50 ms until it yields a value; fails the test with
/// `what` after `limit`.
pub async fn eventually<T, F: Future<Output = Option<T>>>(
    limit: Duration,
    what: &str,
    mut check: impl FnMut() -> F,
) -> T {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The JSON sample of `project` from the server at `api`, once every section
/// of the machine in depth has its figures (at most 20 s): rates need a second
/// reading; sockets, filesystems and perf are read every 5 s, and perf's first
/// reading covers only the moments since its counters opened (the second, a
/// whole interval). On a machine without a PMU, perf is ready once it lists
/// the software events it counts.
pub async fn sample_in_depth(api: &ApiClient, project: &str) -> serde_json::Value {
    let path = format!("/api/projects/{project}/metrics");
    let has = |list: &serde_json::Value, field: &str| {
        list.as_array().is_some_and(|l| !l.is_empty() && l.iter().all(|x| !x[field].is_null()))
    };
    eventually(Duration::from_secs(20), "a sample with every section's figures", || async {
        let m = call(api, Method::GET, &path, None).await.ok()?;
        let perf = &m["perf_events"];
        let perf_read = perf["interval_ms"].as_f64().is_some_and(|ms| ms >= 1000.0)
            || (perf["available"] == false && perf["events"].as_object().is_some_and(|e| !e.is_empty()));
        let ready = perf_read
            && !m["cpu_detail"]["modes"].is_null()
            && !m["paging"]["page_faults_per_s"].is_null()
            && !m["sockets"]["tcp_listen"].is_null()
            && has(&m["disks"]["devices"], "read_iops")
            && has(&m["interfaces"]["interfaces"], "rx_bytes_per_s")
            && has(&m["filesystems"]["filesystems"], "size_gb");
        ready.then_some(m)
    })
    .await
}

/// A process to register as a run (`sleep 120`); killed and reaped on drop.
pub struct Sleeper(pub std::process::Child);

impl Sleeper {
    /// Starts one.
    pub fn start() -> Sleeper {
        Sleeper(Command::new("sleep").arg("120").spawn().expect("spawn sleep"))
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The WebSocket connections the server at `api` reports open.
pub async fn connections(api: &ApiClient) -> u64 {
    let health = call(api, Method::GET, "/api/health", None).await.expect("health");
    health["connections"].as_u64().expect("a count")
}

/// `promtool check metrics` (Debian's `prometheus` package, installed by
/// scripts/setup.sh) lints an exposition: no complaint, exit 0. Blocking.
pub fn promtool_accepts(text: &str) {
    use std::io::Write;
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed (scripts/setup.sh installs Debian's prometheus package)");
    promtool.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write the exposition");
    let out = promtool.wait_with_output().expect("promtool runs");
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.trim().is_empty(), "promtool: {said}\n{text}");
}

/// What [`raw_http`] got back.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The headers, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body, as sent (compressed when the server compressed it).
    pub bytes: Vec<u8>,
}

impl Reply {
    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

/// One raw HTTP/1.1 request with exactly the given headers (a `Host` included, or
/// none at all), for tests that play a browser (or an attacker): what came back.
pub async fn raw_http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Reply {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut request = format!("{method} {path} HTTP/1.1\r\nconnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    let body = body.unwrap_or_default();
    request.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = Vec::new();
    // An upgraded socket stays open: what came before the limit is the answer.
    let _ = tokio::time::timeout(MESSAGE_LIMIT, stream.read_to_end(&mut response)).await;
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").expect("an HTTP response head");
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|s| s.parse().ok());
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Reply { status: status.expect("an HTTP status"), headers, bytes: response[split + 4..].to_vec() }
}
