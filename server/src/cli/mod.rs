//! The `perfmon` command line: what each subcommand takes, and the library code
//! each one runs. `src/main.rs` only parses and calls [`Cli::run`].
//!
//! - [`serve`]: `perfmon serve`, until Ctrl-C or SIGTERM.
//! - [`run`]: `perfmon run -- COMMAND`, the command wrapper.
//! - [`client`]: the HTTP client both use to talk to a running server.

pub mod client;
pub mod run;
pub mod serve;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Auth, Config};
use crate::hub::project::ProjectName;

/// PerfMon: a live performance panel for one machine and one agent run.
#[derive(Debug, Parser)]
#[command(name = "perfmon", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the server listens and what it serves; shared by both subcommands.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address and port to listen on. Keep it on loopback unless you put an
    /// authenticating reverse proxy in front.
    #[arg(long, env = "PERFMON_BIND", default_value = "127.0.0.1:8000")]
    pub bind: SocketAddr,
    /// Directory of the built frontend (`trunk build --config trunk.toml` writes `dist`).
    #[arg(long, env = "PERFMON_STATIC_DIR", default_value = "dist")]
    pub static_dir: PathBuf,
    /// A static token clients must present (Bearer header, `?token=`, or the
    /// `perfmon.token.<TOKEN>` WebSocket subprotocol). Required off loopback,
    /// unless --jwt-secret is given.
    #[arg(long, env = "PERFMON_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Accept HS256 JWTs (with `exp`) signed with this secret, as tokens.
    #[arg(long, env = "PERFMON_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Browser origins allowed to open the stream besides PerfMon's own page
    /// (e.g. `https://ide.example.com`); repeat or separate with commas.
    #[arg(long = "allow-origin", env = "PERFMON_ALLOW_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,
    /// Only these projects may be watched (comma-separated); others get close code 4004.
    #[arg(long, env = "PERFMON_PROJECTS", value_delimiter = ',', value_parser = parse_project)]
    pub projects: Option<Vec<ProjectName>>,
    /// The most WebSockets open at once; more get HTTP 503.
    #[arg(long, env = "PERFMON_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,
    /// Milliseconds between samples while a run is live (10 to 60000).
    #[arg(long, env = "PERFMON_LIVE_INTERVAL_MS", default_value_t = shared::LIVE_INTERVAL_MS,
          value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub live_interval_ms: u64,
    /// Milliseconds between samples while no run is live (10 to 600000).
    #[arg(long, env = "PERFMON_IDLE_INTERVAL_MS", default_value_t = shared::IDLE_INTERVAL_MS,
          value_parser = clap::value_parser!(u64).range(10..=600_000))]
    pub idle_interval_ms: u64,
}

fn parse_project(name: &str) -> Result<ProjectName, String> {
    ProjectName::parse(name).map_err(|err| format!("{name:?}: {err}"))
}

impl ServeArgs {
    /// The server's configuration from these arguments.
    pub fn config(&self) -> Config {
        if !self.static_dir.join("index.html").is_file() {
            eprintln!(
                "perfmon: no built frontend in {}; the stream works, the page does not \
                 (build it with `trunk build --release --config trunk.toml`)",
                self.static_dir.display()
            );
        }
        Config {
            static_dir: Some(self.static_dir.clone()),
            auth: Auth { token: self.token.clone(), jwt_secret: self.jwt_secret.clone() },
            allowed_origins: self.allowed_origins.clone(),
            projects: self.projects.clone(),
            max_connections: self.max_connections,
            live_interval: std::time::Duration::from_millis(self.live_interval_ms),
            idle_interval: std::time::Duration::from_millis(self.idle_interval_ms),
            ..Config::default()
        }
    }
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

impl Cli {
    /// Runs the parsed command; its exit code.
    pub async fn run(self) -> ExitCode {
        match self.command {
            Command::Serve { serve } => serve::until_signal(serve).await,
            Command::Run { project, serve, command } => run::wrap(&project, serve, command).await,
        }
    }
}

/// Logs to stderr, filtered by `PERFMON_LOG` (`info` by default).
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PERFMON_LOG").unwrap_or_else(|_| "info".into()),
        )
        .init();
}
