//! `perfmon`: parses the command line and hands over to the `server` library.

use std::process::ExitCode;

use clap::Parser;
use server::cli::{self, Cli};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    cli::init_logging();
    cli.run().await
}
