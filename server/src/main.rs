//! `perfmon`: parses the command line and hands over to the `server` library.

use std::process::ExitCode;

use clap::Parser;
use server::cli::{self, Cli};

/// The most async workers. PerfMon is I/O-light (a tick is sampled once on
/// its own thread and its one frame handed to every socket), so two keep a
/// thousand clients' sends on time; one per core, tokio's default, gives a
/// 64-core machine 64 threads, each with its own stack and malloc arena.
/// `TOKIO_WORKER_THREADS` still decides where it is set.
const MAX_WORKERS: usize = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli::init_logging();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        runtime.worker_threads(cores.min(MAX_WORKERS));
    }
    match runtime.enable_all().build() {
        Ok(runtime) => runtime.block_on(cli.run()),
        Err(err) => {
            eprintln!("perfmon: cannot start the async runtime: {err}");
            ExitCode::FAILURE
        }
    }
}
