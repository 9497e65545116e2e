#!/usr/bin/env bash
# Runs every PerfMon test: installs missing tools, then
#   1. formatting and lint checks,
#   2. builds a server before the frontend (the no-UI binary), the frontend, and
#      the release server with the frontend built in (the installed-binary tests),
#   3. native tests of the whole workspace (contract, server with real sockets,
#      end-to-end in headless Chromium against the real server and frontend),
#   4. the server without NVML, the frontend's browser tests (wasm-bindgen-test
#      in headless Chromium), and the install command into a scratch prefix.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

bash scripts/setup.sh

say "Checking formatting and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# Benches are native-only (criterion), so not --all-targets here.
cargo clippy -p frontend --target wasm32-unknown-unknown --lib --bins --tests --locked -- -D warnings

say "A server built before the frontend (what a binary without the UI serves)"
no_ui="$(mktemp -d)"
PERFMON_UI_DIR="$no_ui" cargo build --locked -p server --bin perfmon
cp "$TARGET_DIR/debug/perfmon" "$TARGET_DIR/perfmon-no-ui"
rmdir "$no_ui"
export PERFMON_NO_UI_BIN="$TARGET_DIR/perfmon-no-ui"

say "Building the frontend the end-to-end tests serve"
trunk build --release --config trunk.toml --skip-version-check

say "The release server, with the frontend built in"
cargo build --release --locked -p server --bin perfmon
export PERFMON_RELEASE_BIN="$TARGET_DIR/release/perfmon"

# Every runner's "test result:" line is kept to print one total at the end.
results="$(mktemp)"
trap 'rm -f "$results"' EXIT

say "Native tests (shared, server, frontend helpers, end-to-end)"
cargo test --workspace --locked 2>&1 | tee -a "$results"

say "The server built without NVML (cargo feature nvml off)"
cargo test -p server --no-default-features --lib --locked 2>&1 | tee -a "$results"

say "Browser tests of the frontend (wasm32, headless Chromium)"
cargo test -p frontend --locked --target wasm32-unknown-unknown 2>&1 | tee -a "$results"

say "The install command, into a scratch prefix"
prefix="$(mktemp -d)"
bash scripts/install.sh --prefix "$prefix" >/dev/null
"$prefix/bin/perfmon" --version | grep -q "^perfmon .* (commit " || { echo "install.sh: no working perfmon in $prefix/bin" >&2; exit 1; }
rm -rf "$prefix"
echo "installed and ran $prefix/bin/perfmon"

say "All tests passed"
awk '/^test result:/ { for (i = 1; i < NF; i++) { if ($(i + 1) ~ /^passed/) p += $i; if ($(i + 1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$results"
