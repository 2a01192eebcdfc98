#!/usr/bin/env bash
# Fan-out beside the floor, in one sitting: for each offered load, the bare
# WebSocket floor (../shared/floor: limit-server + limit-load), then rtchat over
# /ws and over Socket.IO (release build, SQLite, `rtchat loadtest`, one sender per
# room, acks on), RUNS runs each. One summary line per run; JSON reports in $OUT.
#
#   tools/bench/floor-compare.sh FLOOR_BUILD_DIR SIZE LOAD [LOAD...]
#   e.g. tools/bench/floor-compare.sh /tmp/floor 100 50000 100000
#
# FLOOR_BUILD_DIR holds a release build of ../shared/floor (cargo build --release).
# SERVER_BIN runs another rtchat build as the server (an A/B in one sitting); the
# load generator stays this tree's. TRANSPORTS picks some of "ws socketio";
# FLOOR=0 skips the floor's runs. Sending starts once the joins' announcements
# have arrived (SETTLE=0 starts it at once, with the announcements still on
# their way, as earlier runs did).
# 2,000 sessions in rooms of SIZE; the server and the load generators share this host.
set -euo pipefail
floor=${1:?floor build dir}
size=${2:?room size}
shift 2
loads=("$@")
root=$(cd "$(dirname "$0")/../.." && pwd)
bin="$root/target/release/rtchat"
server_bin=${SERVER_BIN:-$bin}
OUT=${OUT:-/tmp/rtchat-floor-compare}
RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
SESSIONS=${SESSIONS:-2000}
PORT=${PORT:-18091}
FLOOR_PORT=${FLOOR_PORT:-9200}
rooms=$((SESSIONS / size))
mkdir -p "$OUT"
ulimit -n 20000

export DATABASE_URL="sqlite:$OUT/bench.db" PORT
# shellcheck source=tools/bench/env.sh
source "$root/tools/bench/env.sh"
rm -f "$OUT"/bench.db*
"$bin" migrate >/dev/null
"$bin" loadtest prepare --users "$SESSIONS" --rooms "$rooms" --members-per-room "$size" \
  --out "$OUT/fixture-$size.json" >/dev/null

pid=
stop() { [ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; }; pid=; }
trap stop EXIT
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done; }

quiet() { QUIET_SECS=${QUIET_SECS:-10} "$root/../shared/floor/quiet.sh" || true; }

for load in "${loads[@]}"; do
  rate=$(python3 -c "print(round($load / ($rooms * $size), 3))")
  for run in $(seq "$RUNS"); do
    if [ "${FLOOR:-1}" != 0 ]; then
      quiet
      "$floor/target/release/limit-server" --port "$FLOOR_PORT" --read-buf 4096 >/dev/null 2>&1 &
      pid=$!
      wait_port "$FLOOR_PORT"
      "$floor/target/release/limit-load" --port "$FLOOR_PORT" --conns "$SESSIONS" --rooms "$rooms" --rate "$rate" \
        --duration "$DURATION" --server-pid "$pid" --label "floor-$size-$load-$run" >"$OUT/floor-$size-$load-$run.txt"
      stop
      python3 - "$OUT/floor-$size-$load-$run.txt" <<'EOF'
import json, sys
line = [l for l in open(sys.argv[1]) if l.startswith("JSON ")][-1]
r = json.loads(line[5:])
us = float(r["server_cpu_pct"]) * 1e4 / max(float(r["deliveries_per_s"]), 1)
print(f'{r["label"]:>28}  {float(r["deliveries_per_s"]):>9.0f}/s  p50 {r["p50_ms"]:>8} ms  p99 {r["p99_ms"]:>8} ms  '
      f'max {r["max_ms"]:>8} ms  loss {r["loss"]}  cpu {us:5.1f} us/delivery  '
      f'loadgen {float(r.get("loadgen_cpu_pct", 0)) / 100:.2f} cores  other {r.get("other_cpu_pct")}%')
EOF
    fi
    for transport in ${TRANSPORTS:-ws socketio}; do
      quiet
      "$server_bin" serve >>"$OUT/server.log" 2>&1 &
      pid=$!
      wait_port "$PORT"
      name="$transport-$size-$load-$run"
      "$bin" loadtest run --url "http://127.0.0.1:$PORT" --quiet --report "$OUT/$name.json" \
        --fixture "$OUT/fixture-$size.json" --transport "$transport" --users "$SESSIONS" --senders-per-room 1 \
        --rate "$rate" --duration "$DURATION" --ramp-up 2 --settle "${SETTLE:-30}" --server-pid "$pid" >"$OUT/$name.txt" || true
      stop
      python3 - "$OUT/$name.json" "$name" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
d, l, c, j = r["deliveries"], r["deliveryLatencyMs"], r.get("serverCpu") or {}, r.get("joining") or {}
share = d["received"] / max(d["expected"], 1) * 100
print(f'{sys.argv[2]:>28}  {d["perSec"]:>9.0f}/s  p50 {l["p50"]:>8} ms  p99 {l["p99"]:>8} ms  max {l["max"]:>8} ms  '
      f'delivered {share:.2f}%  lost {d["lost"]}  cpu {c.get("usPerDelivery", 0):5.1f} us/delivery  '
      f'loadgen {r.get("loadGeneratorCores") or 0:.2f} cores  send lag p99 {(r.get("sendLagMs") or {}).get("p99", 0)} ms  '
      f'skipped {r["messages"]["skipped"]}  '
      f'joined {j.get("joinedSecs", 0):.1f} s  settled {j.get("settleSecs", 0):.1f} s ({j.get("events", 0)} events)')
EOF
    done
  done
done
