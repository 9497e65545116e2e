//! `perfmon`: parses the command line and hands over to the `server` library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use axum::http::Method;
use clap::{Parser, Subcommand};
use server::client::ApiClient;
use server::project::ProjectName;
use tokio::net::TcpListener;

/// PerfMon: a live performance panel for one machine and one agent run.
#[derive(Debug, Parser)]
#[command(name = "perfmon", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the server listens and what it serves; shared by both subcommands.
#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Address and port to listen on. Keep it on loopback unless you put an
    /// authenticating reverse proxy in front.
    #[arg(long, env = "PERFMON_BIND", default_value = "127.0.0.1:8000")]
    bind: SocketAddr,
    /// Directory of the built frontend (`trunk build --config trunk.toml` writes `dist`).
    #[arg(long, env = "PERFMON_STATIC_DIR", default_value = "dist")]
    static_dir: PathBuf,
    /// A static token clients must present (Bearer header, `?token=`, or the
    /// `perfmon.token.<TOKEN>` WebSocket subprotocol). Required off loopback,
    /// unless --jwt-secret is given.
    #[arg(long, env = "PERFMON_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Accept HS256 JWTs (with `exp`) signed with this secret, as tokens.
    #[arg(long, env = "PERFMON_JWT_SECRET", hide_env_values = true)]
    jwt_secret: Option<String>,
    /// Browser origins allowed to open the stream besides PerfMon's own page
    /// (e.g. `https://ide.example.com`); repeat or separate with commas.
    #[arg(long = "allow-origin", env = "PERFMON_ALLOW_ORIGINS", value_delimiter = ',')]
    allowed_origins: Vec<String>,
    /// Only these projects may be watched (comma-separated); others get close code 4004.
    #[arg(long, env = "PERFMON_PROJECTS", value_delimiter = ',', value_parser = parse_project)]
    projects: Option<Vec<ProjectName>>,
    /// The most WebSockets open at once; more get HTTP 503.
    #[arg(long, env = "PERFMON_MAX_CONNECTIONS", default_value_t = 1024)]
    max_connections: usize,
}

fn parse_project(name: &str) -> Result<ProjectName, String> {
    ProjectName::parse(name).map_err(|err| format!("{name:?}: {err}"))
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the panel, the `/ws/projects/{project}` stream and the HTTP API.
    Serve {
        #[command(flatten)]
        serve: ServeArgs,
    },
    /// Run COMMAND as the project's agent run and stream it live; exits with
    /// COMMAND's exit code. Uses the server at --bind if one is up, otherwise
    /// serves for as long as COMMAND runs.
    Run {
        /// The project the run belongs to.
        #[arg(long, short, env = "PERFMON_PROJECT", default_value = "default")]
        project: String,
        #[command(flatten)]
        serve: ServeArgs,
        /// The command and its arguments (after `--`).
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PERFMON_LOG").unwrap_or_else(|_| "info".into()),
        )
        .init();
    match Cli::parse().command {
        Command::Serve { serve } => serve_until_signal(serve).await,
        Command::Run { project, serve, command } => run_command(project, serve, command).await,
    }
}

async fn bind(args: &ServeArgs) -> Result<TcpListener, ExitCode> {
    TcpListener::bind(args.bind).await.map_err(|err| {
        eprintln!("perfmon: cannot listen on {}: {err}", args.bind);
        ExitCode::FAILURE
    })
}

fn config(args: &ServeArgs) -> server::Config {
    if !args.static_dir.join("index.html").is_file() {
        eprintln!(
            "perfmon: no built frontend in {}; the stream works, the page does not \
             (build it with `trunk build --release --config trunk.toml`)",
            args.static_dir.display()
        );
    }
    server::Config {
        static_dir: Some(args.static_dir.clone()),
        auth: server::auth::Auth { token: args.token.clone(), jwt_secret: args.jwt_secret.clone() },
        allowed_origins: args.allowed_origins.clone(),
        projects: args.projects.clone(),
        max_connections: args.max_connections,
        ..server::Config::default()
    }
}

async fn serve_until_signal(args: ServeArgs) -> ExitCode {
    let config = config(&args);
    if let Err(err) = config.check_exposure(args.bind) {
        eprintln!("perfmon: {err}");
        return ExitCode::from(2);
    }
    let listener = match bind(&args).await {
        Ok(listener) => listener,
        Err(code) => return code,
    };
    let addr = listener.local_addr().unwrap_or(args.bind);
    println!("PerfMon is running: open http://{addr}/");
    match server::run(listener, config, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("perfmon: server failed: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run_command(project: String, args: ServeArgs, command: Vec<String>) -> ExitCode {
    let project = match ProjectName::parse(&project) {
        Ok(project) => project,
        Err(err) => {
            eprintln!("perfmon: --project: {err}");
            return ExitCode::from(2);
        }
    };
    let config = config(&args);
    if let Err(err) = config.check_exposure(args.bind) {
        eprintln!("perfmon: {err}");
        return ExitCode::from(2);
    }
    let api = ApiClient::new(args.bind).with_token(args.token.clone());
    // Serve ourselves unless a PerfMon is already up at that address.
    let own_server = if api.is_up().await {
        eprintln!("perfmon: using the PerfMon server at http://{}/", args.bind);
        None
    } else {
        let listener = match bind(&args).await {
            Ok(listener) => listener,
            Err(code) => return code,
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server::run(listener, config, async {
            let _ = stopped.await;
        }));
        eprintln!("perfmon: PerfMon is running: open http://{}/?project={project}", args.bind);
        Some((stop, task))
    };

    // Ctrl-C reaches the child through the terminal; PerfMon itself waits for the
    // child to exit so the run is closed properly.
    let _ignore_interrupts = tokio::spawn(async {
        loop {
            if tokio::signal::ctrl_c().await.is_err() {
                return;
            }
        }
    });
    let mut child = match tokio::process::Command::new(&command[0]).args(&command[1..]).spawn() {
        Ok(child) => child,
        Err(err) => {
            eprintln!("perfmon: cannot start {}: {err}", command[0]);
            stop_server(own_server).await;
            return ExitCode::from(127);
        }
    };
    let run_path = format!("/api/projects/{project}/run");
    if let Some(pid) = child.id() {
        let body = serde_json::json!({ "pid": pid }).to_string();
        if let Err(err) = api.call(Method::POST, &run_path, Some(body)).await {
            eprintln!("perfmon: the run is not tracked: {err}");
        }
    }
    let status = child.wait().await;
    let _ = api.call(Method::DELETE, &run_path, None).await;
    stop_server(own_server).await;
    match status {
        Ok(status) => ExitCode::from(exit_code(status)),
        Err(err) => {
            eprintln!("perfmon: lost track of the command: {err}");
            ExitCode::FAILURE
        }
    }
}

type OwnServer =
    Option<(tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<Result<(), server::ServeError>>)>;

async fn stop_server(own: OwnServer) {
    if let Some((stop, task)) = own {
        let _ = stop.send(());
        if let Ok(Err(err)) = task.await {
            eprintln!("perfmon: server failed: {err}");
        }
    }
}

/// The child's exit code, or 128 + signal number as shells report a killed one.
fn exit_code(status: std::process::ExitStatus) -> u8 {
    if let Some(code) = status.code() {
        return u8::try_from(code).unwrap_or(1);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return u8::try_from(128 + signal).unwrap_or(1);
        }
    }
    1
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C: {err}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!("cannot listen for SIGTERM: {err}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down");
}
