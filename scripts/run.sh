#!/usr/bin/env bash
# Runs PerfMon from this checkout in one command: installs missing build tools,
# builds the frontend with Trunk (release, wasm-opt) and the release server with
# the frontend built in, then starts `perfmon serve`.
# Extra arguments go to `perfmon serve` (e.g. --bind 127.0.0.1:9000).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

bash scripts/setup.sh --build-only
say "Building the frontend (trunk build --release --config trunk.toml)"
trunk build --release --config trunk.toml --skip-version-check
say "Building and starting the server"
exec cargo run --release --locked -p server --bin perfmon -- serve "$@"
