#!/usr/bin/env bash
# One fan-out point under `perf record`, to see where the server's time goes
# before changing anything: the release build serves SQLite, `rtchat loadtest`
# drives SESSIONS sessions in rooms of SIZE at LOAD deliveries/s offered, and
# perf samples the server for PERF_SECS from the middle of the run.
#
#   tools/bench/profile.sh SIZE LOAD [ws|socketio]
#   e.g. tools/bench/profile.sh 100 100000 ws
#
# Writes $OUT/perf.data, the loadtest's report, and a flat profile
# ($OUT/perf-top.txt, the 60 hottest symbols), and the server's /metrics at the end. PERF_G="--call-graph dwarf,16384"
# records call graphs (larger, slower to report). SERVER_BIN profiles another build.
set -euo pipefail
size=${1:?room size}
load=${2:?offered deliveries per second}
transport=${3:-ws}
root=$(cd "$(dirname "$0")/../.." && pwd)
bin="$root/target/release/rtchat"
server_bin=${SERVER_BIN:-$bin}
OUT=${OUT:-/tmp/rtchat-profile}
DURATION=${DURATION:-12}
PERF_SECS=${PERF_SECS:-4}
SESSIONS=${SESSIONS:-2000}
PORT=${PORT:-18092}
rooms=$((SESSIONS / size))
rate=$(python3 -c "print(round($load / ($rooms * $size), 3))")
mkdir -p "$OUT"
ulimit -n 20000

export DATABASE_URL="sqlite:$OUT/bench.db" PORT
# shellcheck source=tools/bench/env.sh
source "$root/tools/bench/env.sh"
rm -f "$OUT"/bench.db*
"$bin" migrate >/dev/null
"$bin" loadtest prepare --users "$SESSIONS" --rooms "$rooms" --members-per-room "$size" \
  --out "$OUT/fixture.json" >/dev/null

"$server_bin" serve >"$OUT/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done

"$bin" loadtest run --url "http://127.0.0.1:$PORT" --quiet --report "$OUT/report.json" \
  --fixture "$OUT/fixture.json" --transport "$transport" --users "$SESSIONS" --senders-per-room 1 \
  --rate "$rate" --duration "$DURATION" --ramp-up 2 --server-pid "$pid" >"$OUT/loadtest.txt" &
load_pid=$!
# Sessions connect and join during the first seconds: sample the steady state.
sleep $((DURATION / 2))
# shellcheck disable=SC2086
perf record ${PERF_G:-} -F 999 -p "$pid" -o "$OUT/perf.data" -- sleep "$PERF_SECS" 2>"$OUT/perf-record.log"
wait "$load_pid" || true
curl -s "http://127.0.0.1:$PORT/metrics" >"$OUT/metrics.txt" || true
perf report -i "$OUT/perf.data" --no-children --sort symbol --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' \
  | head -60 >"$OUT/perf-top.txt"
python3 - "$OUT/report.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
d, l, c = r["deliveries"], r["deliveryLatencyMs"], r.get("serverCpu") or {}
print(f'{d["perSec"]:.0f}/s  p50 {l["p50"]} ms  p99 {l["p99"]} ms  max {l["max"]} ms  '
      f'delivered {d["received"] / max(d["expected"], 1) * 100:.2f}%  cpu {c.get("usPerDelivery", 0):.1f} us/delivery')
EOF
echo "flat profile: $OUT/perf-top.txt"
