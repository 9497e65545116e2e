#!/usr/bin/env bash
# Writes server/code-order.txt: the functions a release PerfMon runs, hottest
# first, from a run of it under callgrind. Release builds link the server with
# them laid out together (server/build.rs): the kernel maps code in 64 KB runs
# around each page a process touches, so code spread over the whole binary kept
# nearly all of it resident (BENCHMARKS.md, "Where the memory is").
#
#   scripts/order-code.sh [BINARY]     (default: target/release/perfmon)
#
# The run covers what a machine running PerfMon does: an empty store's first
# start, idling, a run with some IO watched in a browser (the panel and the
# dashboard), /metrics scrapes, the runs' API, a clean stop, and a restart over
# the same store. Needs valgrind, chromium and curl (apt-get install valgrind
# chromium curl). Takes about four minutes. Regenerate it when the tests say
# the file no longer names the binary's functions (a new toolchain or
# dependency renames them), or after a large change to what runs each tick.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-target/release/perfmon}")
for tool in valgrind chromium curl nm; do
    command -v "$tool" >/dev/null || { echo "order-code: $tool is needed (apt-get install $tool)" >&2; exit 2; }
done
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
export HOME=$work XDG_RUNTIME_DIR=$work/run XDG_STATE_HOME=$work/state XDG_CONFIG_HOME=$work/config
export PERFMON_BIND=127.0.0.1:18977 PERFMON_LOG=warn
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
url=http://$PERFMON_BIND

# One server under callgrind until it stops on SIGTERM (callgrind writes its
# profile at exit); $1 names the profile, the rest is what it is put through.
profiled() {
    local name=$1; shift
    valgrind --tool=callgrind --demangle=no --compress-strings=no --compress-pos=no --dump-instr=no \
        --callgrind-out-file="$work/$name.out" "$bin" serve --data-dir "$work/data" 2>"$work/$name.log" &
    local server=$!
    for _ in $(seq 120); do curl -sf "$url/api/health" >/dev/null && break; sleep 0.5; done
    curl -sf "$url/api/health" >/dev/null || { echo "order-code: the server did not come up" >&2; exit 1; }
    "$@"
    kill -TERM "$server"
    wait "$server" || true
    [ -s "$work/$name.out" ] || { echo "order-code: no profile from $name (see $work/$name.log)" >&2; exit 1; }
}

watched_run() {
    sleep 10
    timeout 100 chromium --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage \
        --remote-debugging-port=0 "$url/" >/dev/null 2>&1 &
    local browser=$!
    # A registered run (`perfmon register`) beside one PerfMon starts, long
    # enough for the store's tables to split pages.
    sleep 120 &
    local registered=$!
    "$bin" register --project other "$registered" >/dev/null
    "$bin" run --label "order-code" -- sh -c "sleep 15; dd if=/dev/zero of=$work/f bs=1M count=20 conv=fsync status=none; sleep 45"
    "$bin" end --project other >/dev/null
    kill "$registered"
    for _ in 1 2 3; do curl -sf "$url/metrics" >/dev/null; sleep 2; done
    curl -sf "$url/api/projects/default/runs" >/dev/null
    local run_id
    run_id=$("$bin" runs --json | grep -o '"run_id": *"[^"]*"' | head -1 | sed 's/.*"\([^"]*\)"$/\1/')
    "$bin" report "$run_id" >/dev/null
    wait "$browser" || true
    sleep 10
}

restarted() {
    sleep 10
    "$bin" run -- sh -c 'sleep 8'
    curl -sf "$url/metrics" >/dev/null
    sleep 5
}

profiled first watched_run
profiled again restarted

# Each function's own instructions (not its callees'), summed over both runs;
# a call's cost line follows its `calls=` line and is the callee's.
awk '
    /^fn=/ { fn = substr($0, 4); sub(/\047[0-9]+$/, "", fn); after_call = 0; next }
    /^calls=/ { after_call = 1; next }
    /^[0-9+-]/ { if (fn != "") { if (after_call) after_call = 0; else cost[fn] += $2 } next }
    END { for (f in cost) print cost[f], f }
' "$work/first.out" "$work/again.out" | sort -k1,1nr -k2 | awk '{ print $2 }' >"$work/all"

# Only the binary's own symbols (not libc's), in that order.
nm --defined-only "$bin" | awk '$2 ~ /^[tTwW]$/ { print $3 }' | sort -u >"$work/defined"
awk 'NR == FNR { defined[$1] = 1; next } ($1 in defined)' "$work/defined" "$work/all" >"$work/order"
{
    echo "# The functions a release PerfMon runs, hottest first: written by"
    echo "# scripts/order-code.sh from $(git rev-parse --short=12 HEAD) on $(date -u +%Y-%m-%d); server/build.rs"
    echo "# links release builds with them laid out together (lld's --symbol-ordering-file)."
    cat "$work/order"
} >server/code-order.txt
echo "order-code: $(wc -l <"$work/order") of the binary's $(wc -l <"$work/defined") functions ran; wrote server/code-order.txt"
