//! `perfmon`: parses the command line and hands over to the `server` library.

use std::process::ExitCode;

use clap::Parser;
use server::cli::{self, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli::init_logging();
    // One thread runs every async task. PerfMon's async work is light: the
    // tick is sampled and serialised once on its own thread, the store, the
    // alerts and the transcripts have theirs, and store queries and /proc
    // walks go to the blocking pool; what is left is handing the one frame to
    // each socket and answering requests. A worker pool would add threads (a
    // stack and a malloc arena each), wakeups between them, and its
    // scheduler's code: memory and CPU at rest, where PerfMon spends its life.
    let mut runtime = tokio::runtime::Builder::new_current_thread();
    match runtime.enable_all().build() {
        Ok(runtime) => runtime.block_on(cli.run()),
        Err(err) => {
            eprintln!("perfmon: cannot start the async runtime: {err}");
            ExitCode::FAILURE
        }
    }
}
