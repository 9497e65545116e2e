#!/usr/bin/env bash
# Installs what a PerfMon command needs, and only that, skipping whatever is
# already there at the right version:
#   scripts/setup.sh --run   running or installing PerfMon (run.sh, install.sh)
#                            with the kept UI bundle: the Rust toolchain and a C
#                            compiler (the bundled SQLite), nothing to install
#   scripts/setup.sh --ui    building the UI from its sources (build-ui.sh, or
#                            run.sh when the kept bundle is older than them):
#                            adds the wasm32 target, Trunk, wasm-bindgen-cli (the
#                            exact version in Cargo.lock), binaryen's wasm-opt and
#                            the frontend's npm packages (uPlot)
#   scripts/setup.sh         testing (test.sh): all of the above, plus Chromium
#                            and ChromeDriver (browser tests), the reference tools
#                            the collectors are checked against (vmstat, iostat
#                            from sysstat, perf from linux-perf, ss), and, unpacked
#                            from Debian's packages without installing them,
#                            promtool (the /metrics lint, the alerting rules'
#                            tests), amtool and victoria-metrics
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mode=test
case "${1:-}" in
  --run) mode=run ;;
  --ui | --build-only) mode=ui ;;
  "") ;;
  *) echo "setup.sh: unknown option $1 (--run, --ui, or nothing for testing)" >&2; exit 2 ;;
esac

for tool in cargo rustc cc; do
  command -v "$tool" >/dev/null || {
    echo "setup.sh: $tool is missing: install Rust with rustup (https://rustup.rs) and a C compiler (build-essential)" >&2
    exit 1
  }
done
if [ "$mode" = run ]; then
  say "Tools ready for building PerfMon with the kept UI: $(rustc --version)"
  exit 0
fi

TRUNK_VERSION=0.21.14
BINARYEN_VERSION=132.0.0
WB_VERSION="$(wasm_bindgen_version)"

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "Adding the wasm32-unknown-unknown target (the UI is Rust compiled to WebAssembly)"
  rustup target add wasm32-unknown-unknown
fi

debian_packages=()
if [ "$mode" = test ]; then
  command -v chromium >/dev/null || debian_packages+=(chromium)
  command -v chromedriver >/dev/null || debian_packages+=(chromium-driver)
  # The reference tools the collectors' tests read in the same second:
  # vmstat (procps), iostat (sysstat), perf stat (linux-perf), ss (iproute2).
  command -v vmstat >/dev/null || debian_packages+=(procps)
  command -v iostat >/dev/null || debian_packages+=(sysstat)
  command -v perf >/dev/null || debian_packages+=(linux-perf)
  command -v ss >/dev/null || debian_packages+=(iproute2)
fi

# Prometheus 2.42 (promtool), Alertmanager 0.25 (amtool) and VictoriaMetrics
# 1.79, from Debian but never installed: their packages' scripts would add
# users and start services (a Prometheus on :9090, an Alertmanager on :9093).
# Each .deb is fetched into $DEBIAN_DEBS and unpacked with dpkg -x into
# $DEBIAN_TOOLS, so the binaries land in $TOOLS_DIR/debian/usr/bin: promtool,
# prometheus, amtool, prometheus-alertmanager (Debian's name for alertmanager),
# victoria-metrics, vmalert. lib.sh puts that directory on PATH; the tests look
# there too (server/tests/prometheus_rules.rs). The Go binaries need only libc,
# and victoria-metrics libzstd1 (in every Debian base). $DEBIAN_TOOLS/versions
# says which package versions were unpacked (victoria-metrics -version prints
# nothing in Debian's build).
DEBIAN_TOOLS="$TOOLS_DIR/debian"
DEBIAN_DEBS="$DEBIAN_TOOLS/debs"
debian_unpack=()
if [ "$mode" = test ]; then
  [ -x "$DEBIAN_TOOLS/usr/bin/promtool" ] || debian_unpack+=(prometheus)
  [ -x "$DEBIAN_TOOLS/usr/bin/amtool" ] || debian_unpack+=(prometheus-alertmanager)
  [ -x "$DEBIAN_TOOLS/usr/bin/victoria-metrics" ] || debian_unpack+=(victoria-metrics)
fi
# A package already fetched (an earlier run stopped before unpacking it) is not fetched again.
debian_fetch=()
for package in "${debian_unpack[@]}"; do
  compgen -G "$DEBIAN_DEBS/${package}_*.deb" >/dev/null || debian_fetch+=("$package")
done

if [ ${#debian_packages[@]} -gt 0 ] || [ ${#debian_fetch[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
fi
if [ ${#debian_packages[@]} -gt 0 ]; then
  say "Installing ${debian_packages[*]} (Debian packages: the browser tests and the collectors' reference tools)"
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${debian_packages[@]}" >/dev/null
fi
if [ ${#debian_fetch[@]} -gt 0 ]; then
  say "Fetching ${debian_fetch[*]} (Debian packages, unpacked only: no service is started) into $DEBIAN_DEBS"
  mkdir -p "$DEBIAN_DEBS"
  # apt-get download writes into the current directory; as root it warns that
  # its _apt user cannot write there, and downloads all the same.
  (cd "$DEBIAN_DEBS" && apt-get download -qq "${debian_fetch[@]}" 2> >(grep -v "unsandboxed as root" >&2))
fi
for package in "${debian_unpack[@]}"; do
  deb="$(ls -t "$DEBIAN_DEBS/${package}"_*.deb | head -n 1)"
  say "Unpacking $(basename "$deb") into $DEBIAN_TOOLS"
  dpkg -x "$deb" "$DEBIAN_TOOLS"
  touch "$DEBIAN_TOOLS/versions"
  { grep -v "^$package " "$DEBIAN_TOOLS/versions" || true; echo "$package $(dpkg-deb -f "$deb" Version)"; } >"$DEBIAN_TOOLS/versions.new"
  mv "$DEBIAN_TOOLS/versions.new" "$DEBIAN_TOOLS/versions"
done

if [ "$(trunk --version 2>/dev/null)" != "trunk $TRUNK_VERSION" ]; then
  say "Installing trunk $TRUNK_VERSION, which builds the UI (about 11 minutes on 2 cores)"
  # 0.22 needs a newer rustc than this toolchain.
  cargo install trunk --version "$TRUNK_VERSION" --locked
fi

if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WB_VERSION" ] ||
   [ "$(wasm-bindgen-test-runner --version 2>/dev/null)" != "wasm-bindgen-test-runner $WB_VERSION" ]; then
  say "Installing wasm-bindgen-cli $WB_VERSION, the UI's JavaScript glue and browser-test runner (about 3 minutes)"
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
  say "Installing binaryen $BINARYEN_VERSION (wasm-opt, which shrinks the UI) from npm into $TOOLS_DIR"
  mkdir -p "$TOOLS_DIR/binaryen"
  npm install --silent --no-audit --no-fund --prefix "$TOOLS_DIR/binaryen" "binaryen@$BINARYEN_VERSION"
fi

# The charts' library, exactly as the lock file pins it (the frontend embeds
# it), and axe-core, the accessibility check the browser tests inject.
npm_version() {
  node -p "try { require('$ROOT/frontend/$1/package.json').version } catch (e) { '' }"
}
uplot_wanted="$(node -p "require('$ROOT/frontend/package-lock.json').packages['node_modules/uplot'].version")"
axe_wanted="$(node -p "require('$ROOT/frontend/package-lock.json').packages['node_modules/axe-core'].version")"
if [ "$(npm_version node_modules/uplot)" != "$uplot_wanted" ] || { [ "$mode" != ui ] && [ "$(npm_version node_modules/axe-core)" != "$axe_wanted" ]; }; then
  say "Installing the frontend's npm packages (uPlot $uplot_wanted, axe-core $axe_wanted) into frontend/node_modules"
  npm ci --silent --no-audit --no-fund --prefix "$ROOT/frontend"
fi

if [ "$mode" = ui ]; then
  say "Tools ready: $(trunk --version), $(wasm-bindgen --version), wasm-opt $(wasm-opt --version | awk '{print $3}'), uPlot $uplot_wanted"
else
  say "Tools ready: $(trunk --version), $(wasm-bindgen --version), wasm-opt $(wasm-opt --version | awk '{print $3}'), uPlot $uplot_wanted, axe-core $axe_wanted, $(chromedriver --version | awk '{print $1, $2}'), $("$DEBIAN_TOOLS/usr/bin/promtool" --version 2>&1 | head -n 1 | awk '{print $1, $3}'), $("$DEBIAN_TOOLS/usr/bin/amtool" --version 2>&1 | head -n 1 | awk '{print $1, $3}'), victoria-metrics $(awk '$1 == "victoria-metrics" { print $2 }' "$DEBIAN_TOOLS/versions") (in $DEBIAN_TOOLS/usr/bin)"
fi
