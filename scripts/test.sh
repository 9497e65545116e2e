#!/usr/bin/env bash
# Runs every PerfMon test: installs missing tools, builds the real frontend, then
#   1. formatting check,
#   2. native tests of the whole workspace (contract, server with real sockets,
#      end-to-end in headless Chromium against the real server and frontend),
#   3. the frontend's browser tests (wasm-bindgen-test in headless Chromium).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

bash scripts/setup.sh

say "Checking formatting and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# Benches are native-only (criterion), so not --all-targets here.
cargo clippy -p frontend --target wasm32-unknown-unknown --lib --bins --tests --locked -- -D warnings

say "Building the frontend the end-to-end test serves"
trunk build --release --config trunk.toml --skip-version-check

# Every runner's "test result:" line is kept to print one total at the end.
results="$(mktemp)"
trap 'rm -f "$results"' EXIT

say "Native tests (shared, server, frontend helpers, end-to-end)"
cargo test --workspace --locked 2>&1 | tee -a "$results"

say "The server built without NVML (cargo feature nvml off)"
cargo test -p server --no-default-features --lib --locked 2>&1 | tee -a "$results"

say "Browser tests of the frontend (wasm32, headless Chromium)"
cargo test -p frontend --locked --target wasm32-unknown-unknown 2>&1 | tee -a "$results"

say "All tests passed"
awk '/^test result:/ { for (i = 1; i < NF; i++) { if ($(i + 1) ~ /^passed/) p += $i; if ($(i + 1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$results"
