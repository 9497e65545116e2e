#!/usr/bin/env bash
# Builds everything and runs PerfMon: installs missing tools, builds the frontend
# with Trunk (release, wasm-opt), then starts `perfmon serve` serving it.
# Extra arguments go to `perfmon serve` (e.g. --bind 127.0.0.1:9000).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

bash scripts/setup.sh
say "Building the frontend (trunk build --release --config trunk.toml)"
trunk build --release --config trunk.toml --skip-version-check
say "Building and starting the server"
exec cargo run --release --locked -p server --bin perfmon -- serve --static-dir "$ROOT/dist" "$@"
