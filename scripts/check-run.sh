#!/usr/bin/env bash
# Checks the README's run command as a newcomer's machine runs it: with no UI
# toolchain reachable (no Trunk, wasm-bindgen or wasm-opt on its PATH: only the
# Rust toolchain and the system's tools), `scripts/run.sh` serves the whole UI,
# byte for byte the bundle kept in ui/dist. It shares the suite's target
# directory, so the release build it asks for is the one scripts/test.sh made
# (nothing is compiled again: checked). Prints a `test result:` line.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

fail() {
  echo "check-run: $*" >&2
  [ -f "$bare/run.log" ] && sed 's/^/  run.sh: /' "$bare/run.log" >&2
  echo "test result: FAILED. 0 passed; 1 failed"
  exit 1
}

bare="$(mktemp -d)"
server=""
trap '[ -z "$server" ] || kill -- -"$server" 2>/dev/null; rm -rf "$bare"' EXIT

# A PATH with the Rust toolchain and the system's tools, and nothing else: no
# Trunk, wasm-bindgen or wasm-opt can be found (nor binaryen's tool directory).
# HOME and CARGO_HOME stay the user's: Cargo keys what it built by the crates'
# source paths, so another CARGO_HOME would rebuild everything.
mkdir -p "$bare/bin" "$bare/tools"
for tool in cargo rustc rustup; do
  ln -s "$(command -v "$tool")" "$bare/bin/$tool"
done
bare_env=(env -i HOME="$HOME" CARGO_TARGET_DIR="$TARGET_DIR" PERFMON_TOOLS_DIR="$bare/tools"
  PATH="$bare/bin:/usr/local/bin:/usr/bin:/bin" XDG_RUNTIME_DIR="$bare/run")
[ -z "${CARGO_HOME:-}" ] || bare_env+=(CARGO_HOME="$CARGO_HOME")
[ -z "${RUSTUP_HOME:-}" ] || bare_env+=(RUSTUP_HOME="$RUSTUP_HOME")
mkdir -p -m 0700 "$bare/run"
for tool in trunk wasm-bindgen wasm-opt; do
  ! "${bare_env[@]}" bash -c "source scripts/lib.sh; command -v $tool" >/dev/null ||
    fail "$tool is on the bare PATH: this check would prove nothing"
done

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
addr="127.0.0.1:$port"
setsid "${bare_env[@]}" PERFMON_LOG=warn bash scripts/run.sh --bind "$addr" >"$bare/run.log" 2>&1 &
server=$!

# Its page, as soon as it answers (run.sh builds first: a no-op here).
page=""
for _ in $(seq 600); do
  page="$(curl -sf "http://$addr/" 2>/dev/null)" && break
  kill -0 "$server" 2>/dev/null || fail "run.sh stopped before serving"
  sleep 0.5
done
[ -n "$page" ] || fail "no page within 300 s"
grep -q "Building the UI" "$bare/run.log" && fail "run.sh built the UI instead of using the kept bundle"
grep -q "Using the kept UI bundle" "$bare/run.log" || fail "run.sh did not say which UI it used"
grep -qE "Compiling (server|ui-assets)" "$bare/run.log" && fail "run.sh compiled the server again"

# Every file of the kept bundle is served, byte for byte.
for file in ui/dist/*; do
  name="$(basename "$file")"
  [ "$name" = index.html ] && url="http://$addr/" || url="http://$addr/$name"
  curl -sf -H 'Accept-Encoding: identity' "$url" -o "$bare/served" || fail "GET $url failed"
  cmp -s "$file" "$bare/served" || fail "$url is not ui/dist/$name"
done
echo "test result: ok. 1 passed; 0 failed (run.sh with no UI toolchain served all $(ls ui/dist | wc -l) files of ui/dist)"
