# Shared by scripts/*.sh: where tools live and how to reach them. Source it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Tools that do not go into ~/.cargo/bin (binaryen from npm) are cached here.
TOOLS_DIR="${PERFMON_TOOLS_DIR:-$HOME/.cache/perfmon-tools}"
# Cargo's own bin directory (rustup's default) unless the caller's PATH already
# reaches cargo: a PATH given on purpose (scripts/check-run.sh's, with no UI
# toolchain) is kept as it is.
command -v cargo >/dev/null 2>&1 || export PATH="$HOME/.cargo/bin:$PATH"
export PATH="$TOOLS_DIR/binaryen/node_modules/.bin:$PATH"
# promtool, amtool, victoria-metrics: unpacked from Debian's packages by setup.sh.
export PATH="$TOOLS_DIR/debian/usr/bin:$PATH"
export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"
# Where cargo puts what it builds.
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# The wasm-bindgen version Cargo.lock resolved: the CLI must match it exactly.
wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock"
}
