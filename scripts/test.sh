#!/usr/bin/env bash
# Runs every PerfMon test: installs missing tools, then
#   1. formatting and lint checks,
#   2. builds a server with no UI in it (what such a binary serves), the UI from
#      its sources (the end-to-end tests serve it, and a test holds it against
#      the bundle kept in ui/dist, byte for byte), and the release server with
#      the kept UI built in — the one release build every test of the binary
#      shares, install.sh and run.sh included,
#   3. native tests of the whole workspace (contract, server with real sockets,
#      end-to-end in headless Chromium against the real server and frontend),
#      beside a PerfMon on the default port, as on a machine running the
#      README's service: no test may use that port or that PerfMon's files,
#   4. the server without NVML, the frontend's browser tests (wasm-bindgen-test
#      in headless Chromium), the install command into a scratch prefix, and
#      the run command with no UI toolchain on its PATH,
#   5. that the tests left none of their scratch files behind (they run with a
#      TMPDIR of the suite's own).
# The time of each stage is printed at the end.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

# Each stage's name and seconds, printed at the end so a slow one shows in CI's log.
stages=()
stage_name=""
stage_start=$SECONDS
suite_start=$SECONDS
stage() {
  [ -z "$stage_name" ] || stages+=("$(printf '%5ds  %s' $((SECONDS - stage_start)) "$stage_name")")
  stage_name="$1"
  stage_start=$SECONDS
  [ -z "$1" ] || say "$1"
}

stage "Installing missing tools"
bash scripts/setup.sh

stage "Checking formatting and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# Benches are native-only (criterion), so not --all-targets here.
cargo clippy -p frontend --target wasm32-unknown-unknown --lib --bins --tests --locked -- -D warnings

stage "A server built with no UI in it (what such a binary serves)"
no_ui="$(mktemp -d)"
PERFMON_UI_DIR="$no_ui" cargo build --locked -p server --bin perfmon
cp "$TARGET_DIR/debug/perfmon" "$TARGET_DIR/perfmon-no-ui"
rmdir "$no_ui"
export PERFMON_NO_UI_BIN="$TARGET_DIR/perfmon-no-ui"

stage "Building the UI from its sources (the end-to-end tests serve it; a test holds ui/dist to it)"
env -u PERFMON_MOCK trunk build --release --config trunk.toml --skip-version-check

stage "The release server, with the kept UI built in (the one release build of the suite)"
env -u PERFMON_UI_DIR cargo build --release --locked -p server --bin perfmon
export PERFMON_RELEASE_BIN="$TARGET_DIR/release/perfmon"

# Every runner's "test result:" line is kept to print one total at the end.
results="$(mktemp)"
occupant_home="$(mktemp -d)"
occupant=""
# The tests' temporary directory, the suite's own: what a test leaves in it
# shows at the end, and all of it goes with the suite.
suite_tmp="$(mktemp -d)"
trap 'rm -f "$results"; [ -z "$occupant" ] || kill "$occupant" 2>/dev/null; rm -rf "$occupant_home" "$suite_tmp"' EXIT

stage "A PerfMon on the default port, as the README's service runs (the tests must leave it alone)"
# A service's environment, with a scratch HOME and runtime root: its defaults
# are the default port, data directory and control-secret directory.
occupant_runtime="$occupant_home/run/$(id -u)"
mkdir -p -m 0700 "$occupant_runtime"
env -i PATH="$PATH" HOME="$occupant_home" PERFMON_USER_RUNTIME_ROOT="$occupant_home/run" PERFMON_LOG=warn \
  "$PERFMON_NO_UI_BIN" serve >"$occupant_home/log" 2>&1 &
occupant=$!
# It is serving once its control secret (named by the port) is stored; where the
# port is taken already (a PerfMon of the developer's), that one stays in its place.
for _ in $(seq 200); do
  { compgen -G "$occupant_runtime/perfmon/control-*" || compgen -G "$occupant_home/.local/state/perfmon/control-*"; } >/dev/null && break
  kill -0 "$occupant" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$occupant" 2>/dev/null; then
  echo "serving ($(cd "$occupant_home" && ls -d run/*/perfmon/control-* .local/state/perfmon/control-* 2>/dev/null))"
else
  echo "not started (the default port is taken already, which the tests must bear too):"
  cat "$occupant_home/log"
  occupant=""
fi

stage "Native tests (shared, server, frontend helpers, end-to-end)"
export TMPDIR="$suite_tmp"
cargo test --workspace --locked 2>&1 | tee -a "$results"
if [ -n "$occupant" ] && ! kill -0 "$occupant" 2>/dev/null; then
  echo "the PerfMon on the default port did not outlive the tests:" >&2
  cat "$occupant_home/log" >&2
  exit 1
fi

stage "The server built without NVML (cargo feature nvml off)"
cargo test -p server --no-default-features --lib --locked 2>&1 | tee -a "$results"

stage "Browser tests of the frontend (wasm32, headless Chromium)"
cargo test -p frontend --locked --target wasm32-unknown-unknown 2>&1 | tee -a "$results"

stage "The install command, into a scratch prefix (the release build above, not another)"
prefix="$(mktemp -d)"
env -u PERFMON_UI_DIR bash scripts/install.sh --prefix "$prefix" >"$prefix.log" 2>&1 || { cat "$prefix.log" >&2; exit 1; }
"$prefix/bin/perfmon" --version | grep -q "^perfmon .* (commit " || { echo "install.sh: no working perfmon in $prefix/bin" >&2; exit 1; }
cmp -s "$prefix/bin/perfmon" "$PERFMON_RELEASE_BIN" || { echo "install.sh installed another build than the suite's" >&2; exit 1; }
rm -rf "$prefix" "$prefix.log"
echo "test result: ok. 1 passed; 0 failed (install.sh installed the suite's release binary, and it runs)" | tee -a "$results"

stage "The run command with no UI toolchain on its PATH: the kept UI is served"
bash scripts/check-run.sh 2>&1 | tee -a "$results"

stage "Nothing of the tests' own left in their temporary directory"
left="$(find "$suite_tmp" -mindepth 1 -maxdepth 1 -name 'perfmon-*' -printf '%f\n' | sort)"
if [ -n "$left" ]; then
  printf 'the tests left these behind (a scratch directory without its cleanup):\n%s\n' "$left" >&2
  exit 1
fi
echo "test result: ok. 1 passed; 0 failed (the tests left none of their scratch files behind)" | tee -a "$results"

stage ""
say "All tests passed"
printf '%s\n' "${stages[@]}"
printf '%5ds  in all\n' $((SECONDS - suite_start))
awk '/^test result:/ { for (i = 1; i < NF; i++) { if ($(i + 1) ~ /^passed/) p += $i; if ($(i + 1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$results"
