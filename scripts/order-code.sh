#!/usr/bin/env bash
# Writes server/code-order.txt: the functions a release PerfMon runs, from a run
# of it under callgrind. Release builds link the server with them laid out
# together (server/build.rs): the kernel maps code in 64 KB runs around each
# page a process touches, so code spread over the whole binary kept nearly all
# of it resident (BENCHMARKS.md, "Where the memory is").
#
#   scripts/order-code.sh [BINARY]     (default: target/release/perfmon)
#
# Three groups, each hottest first. First what an idle server runs: its start
# (an empty store, then again over the same store) and idling, nobody
# watching, logging at its default level. Then a live run watched by one
# WebSocket client, and a clean stop. Then what else a machine running PerfMon
# does: a browser on the panel and the dashboard, /metrics scrapes, the runs'
# API, a report. The first group alone is what stays resident at rest, the
# first two with a client of a live run; were the browser's code mixed in by
# heat, every 64 KB run of it would be mapped too.
#
# Needs valgrind, chromium, curl and python3 (apt-get install valgrind chromium
# curl python3). Takes about five minutes. Regenerate it when the tests say
# the file no longer names the binary's functions (a new toolchain or
# dependency renames them), or after a large change to what runs each tick.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-target/release/perfmon}")
for tool in valgrind callgrind_control chromium curl nm python3; do
    command -v "$tool" >/dev/null || { echo "order-code: $tool is needed (apt-get install $tool)" >&2; exit 2; }
done
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
export HOME=$work XDG_RUNTIME_DIR=$work/run XDG_STATE_HOME=$work/state XDG_CONFIG_HOME=$work/config
export PERFMON_BIND=127.0.0.1:18977
unset PERFMON_LOG
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
url=http://$PERFMON_BIND

# One server under callgrind until it stops on SIGTERM (callgrind writes its
# profile at exit); $1 names the profile, the rest is what it is put through
# (given the server's pid last).
profiled() {
    local name=$1; shift
    valgrind --tool=callgrind --demangle=no --compress-strings=no --compress-pos=no --dump-instr=no \
        --callgrind-out-file="$work/$name.out" "$bin" serve --data-dir "$work/data" 2>"$work/$name.log" &
    local server=$!
    for _ in $(seq 120); do curl -sf "$url/api/health" >/dev/null && break; sleep 0.5; done
    curl -sf "$url/api/health" >/dev/null || { echo "order-code: the server did not come up" >&2; exit 1; }
    "$@" "$server"
    kill -TERM "$server"
    wait "$server" || true
    [ -s "$work/$name.out" ] || { echo "order-code: no profile from $name (see $work/$name.log)" >&2; exit 1; }
}

# A WebSocket client of the default project's stream for $1 seconds: what a
# panel (or the load tool) costs the server, without a browser's page loads.
watch_stream() {
    python3 - "$PERFMON_BIND" "$1" <<'EOF'
import base64, os, socket, struct, sys, time
host, port = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((host, int(port)))
key = base64.b64encode(os.urandom(16)).decode()
s.sendall((f"GET /ws/projects/default HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
s.settimeout(1)
end, buf = time.time() + float(sys.argv[2]), b""
while time.time() < end:
    try:
        data = s.recv(65536)
    except socket.timeout:
        continue
    if not data:
        sys.exit("order-code: the stream ended early")
    buf += data
    if buf.startswith(b"HTTP/"):
        if b"\r\n\r\n" not in buf:
            continue
        head, buf = buf.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            sys.exit(f"order-code: the stream was refused: {head[:80]}")
    # Answer the server's pings (it drops a client that never does).
    while len(buf) >= 2:
        opcode, size, at = buf[0] & 0x0F, buf[1] & 0x7F, 2
        if len(buf) < {126: 4, 127: 10}.get(size, 2):
            break
        if size == 126:
            (size,), at = struct.unpack(">H", buf[2:4]), 4
        elif size == 127:
            (size,), at = struct.unpack(">Q", buf[2:10]), 10
        if len(buf) < at + size:
            break
        payload, buf = buf[at:at + size], buf[at + size:]
        if opcode == 0x9:
            mask = os.urandom(4)
            s.sendall(bytes([0x8A, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
EOF
}

# A live run with some IO that one client watches.
live_run() {
    watch_stream 70 &
    local watcher=$!
    "$bin" run --label "order-code" -- sh -c "sleep 15; dd if=/dev/zero of=$work/f bs=1M count=20 conv=fsync status=none; sleep 40"
    wait "$watcher"
    sleep 10
}

# Idle, a live run, then everything else; callgrind_control dumps the first
# two parts (.1, .2), the exit the third. Idle lasts past the store's first
# roll-ups of a minute of samples (60 s after the start) and the allocator's
# trims (15 s after the start, and after the roll-ups).
watched_run() {
    local server=$1
    sleep 70
    callgrind_control -d "$server" >/dev/null
    live_run
    callgrind_control -d "$server" >/dev/null
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
    run_id=$("$bin" runs --json | grep -o -m1 '"run_id": *"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/' | head -n1)
    "$bin" report "$run_id" >/dev/null
    wait "$browser" || true
    sleep 10
}

# The start over a store with runs in it, idle (dumped: .1), and a short run.
restarted() {
    local server=$1
    sleep 10
    callgrind_control -d "$server" >/dev/null
    "$bin" run -- sh -c 'sleep 8'
    sleep 5
}

profiled first watched_run
profiled again restarted
for part in first.out.1 first.out.2 again.out.1; do
    [ -s "$work/$part" ] || { echo "order-code: no $part part in the profiles" >&2; exit 1; }
done

# Each function's own instructions (not its callees'), summed over the
# profiles named; a call's cost line follows its `calls=` line and is the
# callee's. Prints the functions hottest first.
costs() {
    awk '
        /^fn=/ { fn = substr($0, 4); sub(/\047[0-9]+$/, "", fn); after_call = 0; next }
        /^calls=/ { after_call = 1; next }
        /^[0-9+-]/ { if (fn != "") { if (after_call) after_call = 0; else cost[fn] += $2 } next }
        END { for (f in cost) if (cost[f] > 0) print cost[f], f }
    ' "$@" | sort -k1,1nr -k2 | awk '{ print $2 }'
}
costs "$work/first.out.1" "$work/again.out.1" >"$work/idle"
costs "$work/first.out.2" "$work/again.out" >"$work/live"
costs "$work/first.out" >"$work/more"
# Only the binary's own symbols (not libc's), each in the first group it ran in.
nm --defined-only "$bin" | awk '$2 ~ /^[tTwW]$/ { print $3 }' | sort -u >"$work/defined"
own() { awk 'NR == FNR { defined[$1] = 1; next } ($1 in defined)' "$work/defined" "$1"; }
# The lines of $2 that are none of $1's (whole names; order kept).
not_in() { grep -vxF -f "$1" "$2" || [ $? -eq 1 ]; }
own "$work/idle" >"$work/order.idle"
[ -s "$work/order.idle" ] || { echo "order-code: none of the binary's functions ran idle" >&2; exit 1; }
own "$work/live" >"$work/live.own"
not_in "$work/order.idle" "$work/live.own" >"$work/order.live"
cat "$work/order.idle" "$work/order.live" >"$work/seen"
own "$work/more" >"$work/more.own"
not_in "$work/seen" "$work/more.own" >"$work/order.more"
{
    echo "# The functions a release PerfMon runs idle, then with a client of a live run, then the"
    echo "# others it ran, each group hottest first: written by scripts/order-code.sh from"
    echo "# $(git rev-parse --short=12 HEAD) on $(date -u +%Y-%m-%d); server/build.rs links release builds with"
    echo "# them laid out together (lld's --symbol-ordering-file)."
    cat "$work/order.idle"
    echo "# A live run, one WebSocket client watching it, a clean stop."
    cat "$work/order.live"
    echo "# The others: a browser on the panel and the dashboard, /metrics, the API, a report."
    cat "$work/order.more"
} >server/code-order.txt
echo "order-code: $(wc -l <"$work/order.idle") functions idle, $(wc -l <"$work/order.live") more with a client of a live run and $(wc -l <"$work/order.more") others of the binary's $(wc -l <"$work/defined") ran; wrote server/code-order.txt"
