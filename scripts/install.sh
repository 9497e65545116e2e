#!/usr/bin/env bash
# Installs PerfMon in one command: builds the release server with the UI built in
# and installs the one binary as PREFIX/bin/perfmon.
#   scripts/install.sh [--prefix DIR]     (default prefix: ~/.local)
# The UI is the bundle kept in ui/dist when it matches the frontend's sources
# (then only the Rust toolchain is needed); otherwise it is built first.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$ROOT/scripts/ui.sh"
cd "$ROOT"

prefix="$HOME/.local"
prefix_given=false
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="${2:?--prefix needs a directory}"; prefix_given=true; shift 2 ;;
    --prefix=*) prefix="${1#*=}"; prefix_given=true; shift ;;
    -h|--help) sed -n '2,6p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
$prefix_given || say "Installing into $prefix (the default; --prefix DIR chooses another)"

bash scripts/setup.sh --run
ui_for_release
say "Building the release server, with the UI built in"
cargo build --release --locked -p server --bin perfmon

install -d "$prefix/bin"
install -m 0755 "$TARGET_DIR/release/perfmon" "$prefix/bin/perfmon"
say "Installed $prefix/bin/perfmon: $("$prefix/bin/perfmon" --version)"
case ":$PATH:" in
  *":$prefix/bin:"*) echo "$prefix/bin is on your PATH: try  perfmon run -- <your command>" ;;
  *) echo "$prefix/bin is not on your PATH: add  export PATH=\"$prefix/bin:\$PATH\"  to your shell's profile, or run $prefix/bin/perfmon" ;;
esac
echo "To keep it running (and recording every run): see 'Running it always' in README.md (packaging/perfmon.service)."
if [ "$prefix/bin" != "$HOME/.local/bin" ]; then
  echo "The unit starts %h/.local/bin/perfmon: change its ExecStart= to $prefix/bin/perfmon serve."
fi
