#!/usr/bin/env bash
# Runs every PerfMon benchmark and prints tables (see BENCHMARKS.md):
#   1. the sampler tick as it runs (60 real ticks at the 1 s cadence, with and
#      without a run), then criterion: one serialisation, one publish until N
#      subscribers have woken and read it, and the frontend's decode path;
#   2. the load tool: the release server with 1 to 10,000 clients, and at rest;
#   3. the release wasm bundle's size, raw and gzipped;
#   4. sample-to-DOM latency of the release frontend in headless Chromium;
#   5. the release binary's size and start-up time to the first byte of its page;
#   6. the store: 30 simulated days at 1 Hz, its size, write and query costs;
#   7. the dashboard's charts: a day at 1 Hz drawn in headless Chromium with uPlot,
#      with and without decimation, against a bare canvas polyline;
#   8. remote write: the sender's cost per 5 s batch and catching up an hour, and
#      the whole process at rest again while it pushes to a local VictoriaMetrics.
# Arguments go to the load tool (e.g. --clients 1,100 --seconds 5 --rest-seconds 10).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

bash scripts/setup.sh
say "Building release binaries"
cargo build --release --locked -p server --bin perfmon
cargo build --release --locked -p tests --bin loadgen --bin dom_latency --bin startup

# criterion's bencher format, one line per benchmark, turned into a table.
table() {
  awk '/^test .* bench:/ {
         name = $0; sub(/^test /, "", name); sub(/ \.\.\. bench:.*/, "", name)
         ns = $0; sub(/.*bench: */, "", ns); sub(/ ns\/iter.*/, "", ns); gsub(/,/, "", ns); ns = ns + 0
         if (ns >= 1000000) t = sprintf("%.2f ms", ns / 1000000); else if (ns >= 1000) t = sprintf("%.1f µs", ns / 1000); else t = ns " ns"
         printf "| %s | %s |\n", name, t }'
}
say "The sampler tick at its real cadence (two minutes)"
cargo bench --locked -p server --bench tick 2>/dev/null

say "Micro-benchmarks (criterion)"
echo "| benchmark | time per iteration |"
echo "|---|---:|"
cargo bench --locked -p server --bench server -- --output-format bencher 2>/dev/null | table
cargo bench --locked -p frontend --bench decode -- --output-format bencher 2>/dev/null | table

say "Load: the release server, real WebSocket clients on loopback"
./target/release/loadgen "$@"

say "Frontend bundle (release, wasm-opt -Oz)"
trunk build --release --config trunk.toml --skip-version-check >/dev/null
# The server embeds the bundle: rebuilt with this one for the start-up figure.
cargo build --release --locked -p server --bin perfmon 2>/dev/null
echo "| file | raw | gzip -9 |"
echo "|---|---:|---:|"
for file in dist/*.wasm dist/*.js; do
  printf '| %s | %d KB | %d KB |\n' "$(basename "$file")" $(( $(stat -c %s "$file") / 1000 )) $(( $(gzip -9c "$file" | wc -c) / 1000 ))
done

say "Sample-to-DOM latency (release frontend, headless Chromium)"
./target/release/dom_latency

say "The release binary: size, and start-up to the first byte of its page"
./target/release/startup

say "The store: 30 simulated days at 1 Hz (a few minutes)"
cargo bench --locked -p server --bench store 2>/dev/null

say "The dashboard's charts: one day at 1 Hz on a 1,200 px chart, headless Chromium (ms)"
echo "| drawing | median | max (of 15) |"
echo "|---|---:|---:|"
cargo test --locked -p frontend --release --target wasm32-unknown-unknown --test chart_bench -- --include-ignored --nocapture 2>&1 |
  sed -n 's/.*chart-bench \(| .*\)/\1/p'

say "Remote write: the sender per batch and catching up an hour"
cargo bench --locked -p server --bench remote_write 2>/dev/null

say "Remote write: the whole process at rest while it pushes (VictoriaMetrics on loopback)"
vm_dir=$(mktemp -d)
vm_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
victoria-metrics -httpListenAddr="127.0.0.1:$vm_port" -storageDataPath="$vm_dir" -loggerLevel=ERROR &
vm_pid=$!
trap 'kill $vm_pid 2>/dev/null; rm -rf "$vm_dir"' EXIT
./target/release/loadgen --clients 1 --seconds 5 --rest-seconds "${REST_SECONDS:-60}" \
  --remote-write "http://127.0.0.1:$vm_port/api/v1/write"
