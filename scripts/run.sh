#!/usr/bin/env bash
# Runs PerfMon from this checkout in one command: builds the release server with
# the UI built in and starts `perfmon serve`. The UI is the bundle kept in ui/dist
# when it matches the frontend's sources (then only the Rust toolchain is
# needed); otherwise it is built first, installing Trunk and its tools if missing.
# Extra arguments go to `perfmon serve` (e.g. --bind 127.0.0.1:9000).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$ROOT/scripts/ui.sh"
cd "$ROOT"

bash scripts/setup.sh --run
ui_for_release
say "Building and starting the server"
exec cargo run --release --locked -p server --bin perfmon -- serve "$@"
