//! The `perfmon` command line: what each subcommand takes, and the library code
//! each one runs. `src/main.rs` only parses and calls [`Cli::run`].
//!
//! - [`serve`]: `perfmon serve`, until Ctrl-C or SIGTERM.
//! - [`run`]: `perfmon run -- COMMAND`, the command wrapper, and [`hold`], the
//!   hidden subcommand that holds COMMAND until the wrapper has registered it.
//! - [`act`]: `register`, `end`, `pause`, `resume`, `tokens`: the writes an agent
//!   or a script needs, with the credential found for them.
//! - [`history`]: `runs` and `report`: what the store remembers, as text.
//! - [`alerts`]: `alerts`: what fired, what fires now; `alerts silence SPAN`.
//! - [`client`]: the HTTP client they use to talk to a running server.

pub mod act;
pub mod alerts;
pub mod client;
pub mod history;
pub mod hold;
pub mod run;
pub mod serve;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Auth, Config};
use crate::hub::project::ProjectName;

/// `perfmon --version`: the version and the commit it was built from.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("PERFMON_COMMIT"), ")");

/// PerfMon: a live performance monitor for one machine and its agent runs.
#[derive(Debug, Parser)]
#[command(name = "perfmon", version = VERSION)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where PerfMon is, and the token it wants; every subcommand takes these.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectArgs {
    /// Address and port of PerfMon: where `serve` listens, where the other
    /// commands find it. Keep it on loopback unless you put an authenticating
    /// reverse proxy in front.
    #[arg(long, env = "PERFMON_BIND", default_value = "127.0.0.1:8000")]
    pub bind: SocketAddr,
    /// A static token clients must present (Bearer header, `?token=`, or the
    /// `perfmon.token.<TOKEN>` WebSocket subprotocol). Required off loopback,
    /// unless --jwt-secret is given. Without one, writes need the server's control
    /// secret, which the perfmon commands read for you.
    #[arg(long, env = "PERFMON_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

impl ConnectArgs {
    /// A client of the server at `--bind` for reads: open on loopback, so only
    /// the token is sent (when there is one), and no control secret is needed.
    pub fn reader(&self) -> client::ApiClient {
        client::ApiClient::new(self.bind).with_token(self.token.clone())
    }

    /// A client of the server at `--bind` carrying the credential writes need:
    /// the token, else this user's control secret for that port.
    pub fn client(&self) -> Result<client::ApiClient, String> {
        self.client_found().map(|(api, _)| api)
    }

    /// [`ConnectArgs::client`], with the directory the control secret was read
    /// from (`None` with a token): where that server is known to look, so where
    /// `perfmon run` keeps an exit it could not report.
    pub fn client_found(&self) -> Result<(client::ApiClient, Option<PathBuf>), String> {
        let api = client::ApiClient::new(self.bind);
        if let Some(token) = &self.token {
            return Ok((api.with_token(Some(token.clone())), None));
        }
        let port = self.bind.port();
        let paths = crate::control::candidate_paths(port);
        if paths.is_empty() {
            return Err(
                "no runtime or state directory (set XDG_RUNTIME_DIR or HOME) to find the control secret in"
                    .into(),
            );
        }
        let mut errors = Vec::new();
        for path in &paths {
            match crate::control::read(path) {
                Ok(secret) => return Ok((api.with_token(Some(secret)), path.parent().map(PathBuf::from))),
                Err(err) => errors.push(err.to_string()),
            }
        }
        Err(format!(
            "cannot read PerfMon's control secret ({}); is PerfMon running as you on port {port}?",
            errors.join("; ")
        ))
    }
}

/// Where the server listens and what it serves; for `serve` and `run`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Where to listen, and the token clients must present.
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Serve the frontend from this directory (`trunk build --config trunk.toml`
    /// writes `dist`) instead of the copy built into the binary: for frontend work.
    #[arg(long, env = "PERFMON_STATIC_DIR")]
    pub static_dir: Option<PathBuf>,
    /// Accept HS256 JWTs (with `exp`) signed with this secret, as tokens.
    #[arg(long, env = "PERFMON_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Browser origins besides PerfMon's own page whose pages may open its
    /// streams (e.g. `https://ide.example.com`); repeat or separate with commas.
    /// Browsers mark such pages' requests cross-site, and PerfMon refuses
    /// cross-site writes whatever the origin.
    #[arg(long = "allow-origin", env = "PERFMON_ALLOW_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,
    /// A name PerfMon is reached by besides localhost, 127.0.0.1, [::1] and the
    /// bound address (a reverse proxy's, `perf.example.com` or `NAME:PORT`); other
    /// Host headers get 403 (against DNS rebinding). Repeat or separate with
    /// commas; `any` turns the check off.
    #[arg(long = "allowed-host", env = "PERFMON_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,
    /// A TOML file of model prices (USD per million tokens) added over the
    /// built-in table, for the cost of tokens read from agents' transcripts.
    #[arg(long = "prices", env = "PERFMON_PRICES")]
    pub prices_file: Option<PathBuf>,
    /// Only these projects may be watched (comma-separated); others get close code 4004.
    #[arg(long, env = "PERFMON_PROJECTS", value_delimiter = ',', value_parser = parse_project)]
    pub projects: Option<Vec<ProjectName>>,
    /// The most WebSockets open at once (at least 1); more get HTTP 503.
    #[arg(long, env = "PERFMON_MAX_CONNECTIONS", default_value_t = 1024, value_parser = at_least_one)]
    pub max_connections: usize,
    /// Milliseconds between samples while a run is live (10 to 60000).
    #[arg(long, env = "PERFMON_LIVE_INTERVAL_MS", default_value_t = shared::LIVE_INTERVAL_MS,
          value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub live_interval_ms: u64,
    /// Milliseconds between samples while no run is live (10 to 600000).
    #[arg(long, env = "PERFMON_IDLE_INTERVAL_MS", default_value_t = shared::IDLE_INTERVAL_MS,
          value_parser = clap::value_parser!(u64).range(10..=600_000))]
    pub idle_interval_ms: u64,
    /// The configuration file of alert rules and destinations (TOML;
    /// docs/alerts.md) [default: $XDG_CONFIG_HOME/perfmon/config.toml, or
    /// ~/.config/perfmon/config.toml, where one exists].
    #[arg(long = "config", env = "PERFMON_CONFIG")]
    pub config_file: Option<PathBuf>,
    /// Where runs and history are kept.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Where the machine's history is pushed (docs/fleet.md).
    #[command(flatten)]
    pub remote_write: RemoteWriteArgs,
}

/// Prometheus remote write: receivers, cadence, labels and credentials files.
#[derive(Debug, Clone, clap::Args)]
pub struct RemoteWriteArgs {
    /// Push every sample to this Prometheus remote-write receiver
    /// (Prometheus: http://HOST:9090/api/v1/write; VictoriaMetrics:
    /// http://HOST:8428/api/v1/write). Repeat or separate with commas. What
    /// the receiver misses while it is down is sent when it is back.
    #[arg(long = "remote-write", value_name = "URL", env = "PERFMON_REMOTE_WRITE", value_delimiter = ',')]
    pub urls: Vec<String>,
    /// How often to push what was sampled since the last push.
    #[arg(long = "remote-write-interval", env = "PERFMON_REMOTE_WRITE_INTERVAL", default_value = "5s",
          value_parser = humantime::parse_duration)]
    pub interval: std::time::Duration,
    /// The `host` label of every pushed series [default: the machine's
    /// hostname]. The only place PerfMon sends a host name anywhere, and only
    /// with --remote-write.
    #[arg(long = "host-label", value_name = "NAME", env = "PERFMON_HOST_LABEL")]
    pub host_label: Option<String>,
    /// A label added to every pushed series (`team=ml`). Repeat or separate
    /// with commas.
    #[arg(
        long = "remote-write-label",
        value_name = "NAME=VALUE",
        env = "PERFMON_REMOTE_WRITE_LABELS",
        value_delimiter = ','
    )]
    pub labels: Vec<String>,
    /// A file holding the bearer token sent to the receivers (or set
    /// PERFMON_REMOTE_WRITE_BEARER_TOKEN); never on the command line.
    #[arg(
        long = "remote-write-bearer-token-file",
        value_name = "FILE",
        env = "PERFMON_REMOTE_WRITE_BEARER_TOKEN_FILE"
    )]
    pub bearer_file: Option<PathBuf>,
    /// A file holding USER:PASSWORD for the receivers' basic auth (or set
    /// PERFMON_REMOTE_WRITE_BASIC_AUTH).
    #[arg(
        long = "remote-write-basic-auth-file",
        value_name = "FILE",
        env = "PERFMON_REMOTE_WRITE_BASIC_AUTH_FILE"
    )]
    pub basic_file: Option<PathBuf>,
}

impl RemoteWriteArgs {
    /// The push's settings (`None` without a receiver), or why they are refused.
    pub fn config(&self, no_store: bool) -> Result<Option<crate::fleet::RemoteWriteConfig>, String> {
        // The secrets themselves are read from the environment only: a flag
        // would put them in `ps` and the shell's history.
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        crate::fleet::Given {
            urls: self.urls.iter().map(|u| u.trim().to_owned()).filter(|u| !u.is_empty()).collect(),
            interval: self.interval,
            host_label: self.host_label.clone(),
            labels: self.labels.clone(),
            bearer_file: self.bearer_file.clone(),
            bearer_env: env("PERFMON_REMOTE_WRITE_BEARER_TOKEN"),
            basic_file: self.basic_file.clone(),
            basic_env: env("PERFMON_REMOTE_WRITE_BASIC_AUTH"),
            no_store,
        }
        .check()
    }
}

/// Where the store lives and how long it keeps each resolution.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// The directory runs and history are kept in (an SQLite database)
    /// [default: $XDG_STATE_HOME/perfmon, or ~/.local/state/perfmon].
    #[arg(long, env = "PERFMON_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Keep nothing on disk: only the last ten minutes, in memory.
    #[arg(long, conflicts_with = "data_dir")]
    pub no_store: bool,
    /// How long every sample is kept (`48h`, `3d`, …).
    #[arg(long, env = "PERFMON_KEEP_RAW", default_value = "48h", value_parser = parse_keep)]
    pub keep_raw: std::time::Duration,
    /// How long per-minute min/mean/max are kept.
    #[arg(long, env = "PERFMON_KEEP_MINUTES", default_value = "30d", value_parser = parse_keep)]
    pub keep_minutes: std::time::Duration,
    /// How long per-hour min/mean/max are kept.
    #[arg(long, env = "PERFMON_KEEP_HOURS", default_value = "365d", value_parser = parse_keep)]
    pub keep_hours: std::time::Duration,
}

fn parse_keep(text: &str) -> Result<std::time::Duration, String> {
    let keep = humantime::parse_duration(text).map_err(|err| format!("{text:?}: {err} (try 48h, 30d)"))?;
    if keep < std::time::Duration::from_secs(60) {
        return Err(format!("{text:?}: keep at least a minute"));
    }
    Ok(keep)
}

impl StoreArgs {
    /// The data directory asked for, or the default one; `None` with
    /// `--no-store` (or when there is no home to put it in, which is said).
    pub fn dir(&self) -> Option<PathBuf> {
        if self.no_store {
            return None;
        }
        let dir = self.data_dir.clone().or_else(crate::control::state_dir);
        if dir.is_none() {
            eprintln!(
                "perfmon: no HOME or XDG_STATE_HOME to keep history in; pass --data-dir (history is off)"
            );
        }
        dir
    }

    /// The store's configuration; `None` keeps history in memory only.
    pub fn config(&self) -> Option<crate::store::StoreConfig> {
        Some(crate::store::StoreConfig {
            dir: self.dir()?,
            retention: crate::store::Retention {
                raw: self.keep_raw,
                minute: self.keep_minutes,
                hour: self.keep_hours,
            },
        })
    }
}

fn parse_project(name: &str) -> Result<ProjectName, String> {
    ProjectName::parse(name).map_err(|err| format!("{name:?}: {err}"))
}

/// A count of at least one (0 would refuse everything asked for).
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("at least 1".into()),
        Ok(n) => Ok(n),
        Err(err) => Err(err.to_string()),
    }
}

impl ServeArgs {
    /// The server's configuration from these arguments, or why they are
    /// refused.
    pub fn config(&self) -> Result<Config, String> {
        let remote_write = self.remote_write.config(self.store.no_store)?;
        if self.static_dir.is_none() && !crate::web::embedded_ui() {
            eprintln!(
                "perfmon: this build has no UI (it was built before the frontend); the stream and the API \
                 work, and the page says how to build it (scripts/install.sh)"
            );
        }
        if let Some(dir) = &self.static_dir
            && !dir.join("index.html").is_file()
        {
            eprintln!(
                "perfmon: no built frontend in {}; the stream works, the page does not \
                 (build it with `trunk build --release --config trunk.toml`)",
                dir.display()
            );
        }
        Ok(Config {
            static_dir: self.static_dir.clone(),
            auth: Auth { token: self.connect.token.clone(), jwt_secret: self.jwt_secret.clone() },
            allowed_origins: self.allowed_origins.clone(),
            allowed_hosts: self.allowed_hosts.clone(),
            listen: self.connect.bind,
            control_dir: crate::control::default_path(self.connect.bind.port())
                .and_then(|path| path.parent().map(PathBuf::from)),
            exit_dirs: crate::control::candidate_dirs(),
            projects: self.projects.clone(),
            max_connections: self.max_connections,
            live_interval: std::time::Duration::from_millis(self.live_interval_ms),
            idle_interval: std::time::Duration::from_millis(self.idle_interval_ms),
            store: self.store.config(),
            prices_file: self.prices_file.clone(),
            config_file: self
                .config_file
                .clone()
                .or_else(|| crate::alerts::AlertConfig::default_path().filter(|path| path.is_file())),
            remote_write,
            ..Config::default()
        })
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
        /// A label for the run's record (`nightly build`), at most 128 characters.
        #[arg(long)]
        label: Option<String>,
        /// Also send this run's alerts (its end: finished, failed, OOM-killed;
        /// stalled) to URL: a webhook, an ntfy topic, a Slack or Discord
        /// webhook (told from the URL, or `KIND:URL`). Repeatable.
        #[arg(long = "notify", value_name = "URL")]
        notify: Vec<String>,
        #[command(flatten)]
        serve: ServeArgs,
        /// The command and its arguments (after `--`).
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// `perfmon run`'s own: waits until the wrapper has registered this
    /// process, then becomes COMMAND (same pid). Not for people.
    #[command(name = hold::SUBCOMMAND, hide = true)]
    Hold {
        /// The command and its arguments.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// The project's recent runs, newest first, as a table.
    Runs {
        #[command(flatten)]
        target: act::Target,
        /// How many runs to list.
        #[arg(long, short = 'n', default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=500))]
        limit: u32,
        /// Where the store is, read when no server answers.
        #[arg(long, env = "PERFMON_DATA_DIR")]
        data_dir: Option<PathBuf>,
    },
    /// One run's summary, and how it compares with the project's run before it.
    Report {
        #[command(flatten)]
        target: act::Target,
        /// The run (`perfmon runs` lists them).
        run_id: String,
        /// Where the store is, read when no server answers.
        #[arg(long, env = "PERFMON_DATA_DIR")]
        data_dir: Option<PathBuf>,
    },
    /// What fires now and what fired lately; `perfmon alerts silence 2h`
    /// holds deliveries back.
    Alerts {
        #[command(flatten)]
        args: alerts::AlertsArgs,
    },
    /// Register a process you already started as the project's run.
    Register {
        #[command(flatten)]
        target: act::Target,
        /// The run's root process.
        pid: u32,
    },
    /// Stop tracking the project's run (its processes are left alone).
    End {
        #[command(flatten)]
        target: act::Target,
    },
    /// SIGSTOP to the project's run and its whole process tree.
    Pause {
        #[command(flatten)]
        target: act::Target,
    },
    /// SIGCONT to the project's paused run and its whole process tree.
    Resume {
        #[command(flatten)]
        target: act::Target,
    },
    /// Report tokens the project's agent used (added to the run and the session).
    Tokens {
        #[command(flatten)]
        target: act::Target,
        /// Tokens used since the last report.
        tokens: u64,
    },
}

impl Cli {
    /// Runs the parsed command; its exit code.
    pub async fn run(self) -> ExitCode {
        match self.command {
            Command::Serve { serve } => serve::until_signal(serve).await,
            Command::Run { project, label, notify, serve, command } => {
                run::wrap(&project, label, notify, serve, command).await
            }
            Command::Alerts { args } => alerts::alerts(args).await,
            Command::Hold { command } => hold::become_command(&command),
            Command::Runs { target, limit, data_dir } => history::runs(target, limit, data_dir).await,
            Command::Report { target, run_id, data_dir } => history::report(target, &run_id, data_dir).await,
            Command::Register { target, pid } => act::register(target, pid).await,
            Command::End { target } => act::end(target).await,
            Command::Pause { target } => act::pause(target).await,
            Command::Resume { target } => act::resume(target).await,
            Command::Tokens { target, tokens } => act::tokens(target, tokens).await,
        }
    }
}

/// Logs to stderr, filtered by `PERFMON_LOG` (`info` by default).
pub fn init_logging() {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Colour for a terminal only: a redirected log gets no escape codes.
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PERFMON_LOG").unwrap_or_else(|_| "info".into()),
        )
        .init();
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::Cli;

    #[test]
    fn a_server_must_allow_at_least_one_socket() {
        let refused =
            Cli::try_parse_from(["perfmon", "serve", "--max-connections", "0"]).expect_err("0 refused");
        assert!(refused.to_string().contains("at least 1"), "{refused}");
        assert!(Cli::try_parse_from(["perfmon", "serve", "--max-connections", "1"]).is_ok());
    }
}
