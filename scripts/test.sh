#!/usr/bin/env bash
# Runs every PerfMon test: installs missing tools, builds the real frontend, then
#   1. formatting check,
#   2. native tests of the whole workspace (contract, server with real sockets,
#      end-to-end in headless Chromium against the real server and frontend),
#   3. the frontend's browser tests (wasm-bindgen-test in headless Chromium).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

bash scripts/setup.sh

say "Checking formatting"
cargo fmt --all -- --check

say "Building the frontend the end-to-end test serves"
trunk build --release --config trunk.toml --skip-version-check

say "Native tests (shared, server, frontend helpers, end-to-end)"
cargo test --workspace --locked

say "Browser tests of the frontend (wasm32, headless Chromium)"
(cd frontend && cargo test --locked --target wasm32-unknown-unknown)

say "All tests passed"
