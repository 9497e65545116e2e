# The UI bundle kept in the repository (ui/dist: what `trunk build --release`
# makes of the frontend) and the fingerprint of the sources it was built from
# (ui/FINGERPRINT). Running or installing PerfMon embeds ui/dist as it is when
# the fingerprint matches the sources, so it needs no UI toolchain (Trunk,
# wasm-bindgen, wasm-opt: minutes to install); otherwise the UI is built first.
# scripts/build-ui.sh rebuilds the bundle and its fingerprint; the tests fail
# when either no longer matches the sources. Source it (after lib.sh).

UI_BUNDLE="$ROOT/ui/dist"
UI_FINGERPRINT_FILE="$ROOT/ui/FINGERPRINT"

# The files the bundle is built from, relative to the root, one a line, sorted:
# the frontend's sources, page and styles, its npm lock (uPlot), the contract
# crate it shares with the server, and the build's settings. The frontend's own
# tests and benches are not in the bundle, nor in this list.
ui_sources() {
  (
    cd "$ROOT"
    find frontend/src shared/src -type f
    printf '%s\n' frontend/Cargo.toml frontend/index.html frontend/styles.css frontend/package.json \
      frontend/package-lock.json shared/Cargo.toml Cargo.toml Cargo.lock trunk.toml
  ) | LC_ALL=C sort
}

# One line: the SHA-256 of every source's path and SHA-256, in order.
ui_fingerprint() {
  (cd "$ROOT" && ui_sources | xargs sha256sum | sha256sum | cut -d' ' -f1)
}

# Whether ui/dist holds a bundle built from the sources as they are now.
ui_bundle_current() {
  [ -f "$UI_BUNDLE/index.html" ] && [ -f "$UI_FINGERPRINT_FILE" ] &&
    [ "$(cat "$UI_FINGERPRINT_FILE")" = "$(ui_fingerprint)" ]
}

# Builds the UI from the sources into dist/, installing the UI toolchain first
# where it is missing.
ui_build() {
  bash "$ROOT/scripts/setup.sh" --ui
  say "Building the UI (trunk build --release --config trunk.toml)"
  (cd "$ROOT" && env -u PERFMON_MOCK trunk build --release --config trunk.toml --skip-version-check)
}

# Chooses the UI a release build embeds: the kept bundle (ui/dist, the build's
# default) when it matches the sources, else a fresh build of them, exported as
# PERFMON_UI_DIR for the build that follows.
ui_for_release() {
  if ui_bundle_current; then
    say "Using the kept UI bundle: ui/dist matches the frontend's sources, so no UI toolchain is needed"
    unset PERFMON_UI_DIR
  else
    say "The kept UI bundle (ui/dist) is older than the frontend's sources: building the UI from them"
    ui_build
    export PERFMON_UI_DIR="$ROOT/dist"
  fi
}
