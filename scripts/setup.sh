#!/usr/bin/env bash
# Installs what building and testing PerfMon needs, skipping whatever is already
# there at the right version: the wasm32 target, Trunk, wasm-bindgen-cli (the exact
# version in Cargo.lock), binaryen's wasm-opt, the frontend's npm packages (uPlot,
# pinned in frontend/package-lock.json), and for the tests Chromium, ChromeDriver
# and promtool (Debian's prometheus package, for the /metrics lint).
#   scripts/setup.sh               everything
#   scripts/setup.sh --build-only  only what building needs (install.sh, run.sh)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

build_only=false
[ "${1:-}" = "--build-only" ] && build_only=true

TRUNK_VERSION=0.21.14
BINARYEN_VERSION=132.0.0
WB_VERSION="$(wasm_bindgen_version)"

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "Adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

debian_packages=()
if ! $build_only; then
  command -v chromium >/dev/null || debian_packages+=(chromium)
  command -v chromedriver >/dev/null || debian_packages+=(chromium-driver)
  command -v promtool >/dev/null || debian_packages+=(prometheus)
fi
if [ ${#debian_packages[@]} -gt 0 ]; then
  say "Installing ${debian_packages[*]} (Debian packages)"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${debian_packages[@]}" >/dev/null
fi

if [ "$(trunk --version 2>/dev/null)" != "trunk $TRUNK_VERSION" ]; then
  say "Installing trunk $TRUNK_VERSION (takes about 11 minutes on 2 cores)"
  # 0.22 needs a newer rustc than this toolchain.
  cargo install trunk --version "$TRUNK_VERSION" --locked
fi

if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WB_VERSION" ] ||
   [ "$(wasm-bindgen-test-runner --version 2>/dev/null)" != "wasm-bindgen-test-runner $WB_VERSION" ]; then
  say "Installing wasm-bindgen-cli $WB_VERSION (about 3 minutes)"
  if ! cargo install wasm-bindgen-cli --version "$WB_VERSION" --locked --force; then
    # Its lock file names a webpki-roots release the registry here does not serve:
    # build a copy of the crate with that one dependency moved to the previous release.
    say "Retrying wasm-bindgen-cli with webpki-roots pinned to a served release"
    src="$(ls -d "$HOME"/.cargo/registry/src/*/wasm-bindgen-cli-"$WB_VERSION" | head -n 1)"
    work="$(mktemp -d)"
    cp -r "$src" "$work/wasm-bindgen-cli"
    (cd "$work/wasm-bindgen-cli" &&
      cargo update -p webpki-roots --precise 1.0.10 &&
      cargo install --path . --locked --force)
    rm -rf "$work"
  fi
fi

if [ "$(wasm-opt --version 2>/dev/null | awk '{print $3}')" != "${BINARYEN_VERSION%%.*}" ]; then
  say "Installing binaryen $BINARYEN_VERSION (wasm-opt) from npm into $TOOLS_DIR"
  mkdir -p "$TOOLS_DIR/binaryen"
  npm install --silent --no-audit --no-fund --prefix "$TOOLS_DIR/binaryen" "binaryen@$BINARYEN_VERSION"
fi

# The charts' library, exactly as the lock file pins it (the frontend embeds it).
uplot_wanted="$(node -p "require('$ROOT/frontend/package-lock.json').packages['node_modules/uplot'].version")"
uplot_have="$(node -p "try { require('$ROOT/frontend/node_modules/uplot/package.json').version } catch (e) { '' }")"
if [ "$uplot_have" != "$uplot_wanted" ]; then
  say "Installing the frontend's npm packages (uPlot $uplot_wanted) into frontend/node_modules"
  npm ci --silent --no-audit --no-fund --prefix "$ROOT/frontend"
fi

if $build_only; then
  say "Tools ready: $(trunk --version), $(wasm-bindgen --version), wasm-opt $(wasm-opt --version | awk '{print $3}'), uPlot $uplot_wanted"
else
  say "Tools ready: $(trunk --version), $(wasm-bindgen --version), wasm-opt $(wasm-opt --version | awk '{print $3}'), uPlot $uplot_wanted, $(chromedriver --version | awk '{print $1, $2}'), $(promtool --version 2>&1 | head -n 1 | awk '{print $1, $3}')"
fi
