#!/usr/bin/env bash
# Rebuilds the UI bundle kept in the repository (ui/dist) from the frontend's
# sources and records their fingerprint (ui/FINGERPRINT). Run it after changing
# the frontend (or Cargo.lock, trunk.toml, the shared contract) and commit ui/
# with the change: the tests fail while the kept bundle is older than its
# sources. Installs the UI toolchain (Trunk, wasm-bindgen-cli, wasm-opt) if
# missing.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$ROOT/scripts/ui.sh"
cd "$ROOT"

ui_build
rm -rf "$UI_BUNDLE"
mkdir -p "$UI_BUNDLE"
cp -pr dist/. "$UI_BUNDLE/"
ui_fingerprint > "$UI_FINGERPRINT_FILE"
say "ui/dist rebuilt ($(du -sh "$UI_BUNDLE" | cut -f1)) for sources $(cat "$UI_FINGERPRINT_FILE"); commit ui/ with your change"
