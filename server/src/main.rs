//! `perfmon`: parses the command line, binds, and hands over to [`server::run`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tokio::net::TcpListener;

/// PerfMon: a live performance panel for one machine and one agent run.
#[derive(Debug, Parser)]
#[command(name = "perfmon", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the panel and the `/ws/projects/{project}` metrics stream.
    Serve {
        /// Address and port to listen on. Keep it on loopback unless you put an
        /// authenticating reverse proxy in front.
        #[arg(long, env = "PERFMON_BIND", default_value = "127.0.0.1:8000")]
        bind: SocketAddr,
        /// Directory of the built frontend (`trunk build --config trunk.toml` writes `dist`).
        #[arg(long, env = "PERFMON_STATIC_DIR", default_value = "dist")]
        static_dir: PathBuf,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PERFMON_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .init();
    let Command::Serve { bind, static_dir } = Cli::parse().command;

    let listener = match TcpListener::bind(bind).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("perfmon: cannot listen on {bind}: {err}");
            return ExitCode::FAILURE;
        }
    };
    let addr = listener.local_addr().unwrap_or(bind);
    if !static_dir.join("index.html").is_file() {
        eprintln!(
            "perfmon: no built frontend in {}; the stream works, the page does not \
             (build it with `trunk build --release --config trunk.toml`)",
            static_dir.display()
        );
    }
    println!("PerfMon is running: open http://{addr}/");

    let config = server::Config {
        static_dir: Some(static_dir),
        ..server::Config::default()
    };
    match server::run(listener, config, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("perfmon: server failed: {err}");
            ExitCode::FAILURE
        }
    }
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
