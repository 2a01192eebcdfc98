#!/usr/bin/env bash
# One node against two, same scenario, in one sitting (beside the floor): rooms of
# SIZE, one sender per room, `rtchat loadtest` over /ws with acks, PostgreSQL and
# Redis. With two nodes the sessions alternate between them, so a message sent on
# one node reaches half its room through the cluster bus (Redis pub/sub).
#
#   tools/bench/cluster-compare.sh FLOOR_BUILD_DIR SIZE LOAD [LOAD...]
#   e.g. tools/bench/cluster-compare.sh /tmp/floor 100 20000 50000
#
# Server CPU per delivery is the nodes' CPU time over the whole run (from /proc,
# all nodes together) divided by the deliveries received. On this 2-core host the
# nodes, Redis, PostgreSQL and the load generator share the cores: two nodes show
# what the bus costs, not a capacity gain.
set -euo pipefail
floor=${1:?floor build dir}
size=${2:?room size}
shift 2
loads=("$@")
root=$(cd "$(dirname "$0")/../.." && pwd)
bin="$root/target/release/rtchat"
OUT=${OUT:-/tmp/rtchat-cluster-compare}
RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
SESSIONS=${SESSIONS:-2000}
PORTS=(18101 18102)
FLOOR_PORT=${FLOOR_PORT:-9200}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
DB=rtchat_bench_cluster
rooms=$((SESSIONS / size))
mkdir -p "$OUT"
ulimit -n 20000

psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" >/dev/null
export DATABASE_URL="$PG/$DB" REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379} RTCHAT_REDIS__KEY_PREFIX="bench-cluster-$$"
# shellcheck source=tools/bench/env.sh
source "$root/tools/bench/env.sh"
"$bin" migrate >/dev/null
"$bin" loadtest prepare --users "$SESSIONS" --rooms "$rooms" --members-per-room "$size" \
  --out "$OUT/fixture-$size.json" >/dev/null

pids=()
stop() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
trap stop EXIT
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done; }
quiet() { QUIET_SECS=${QUIET_SECS:-10} "$root/../shared/floor/quiet.sh" || true; }
# CPU ticks (user + system) of the running nodes together.
ticks() { local t=0; for p in "${pids[@]}"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$t"; }

for load in "${loads[@]}"; do
  rate=$(python3 -c "print(round($load / ($rooms * $size), 3))")
  for run in $(seq "$RUNS"); do
    quiet
    "$floor/target/release/limit-server" --port "$FLOOR_PORT" --read-buf 4096 >/dev/null 2>&1 &
    pids=($!)
    wait_port "$FLOOR_PORT"
    "$floor/target/release/limit-load" --port "$FLOOR_PORT" --conns "$SESSIONS" --rooms "$rooms" --rate "$rate" \
      --duration "$DURATION" --server-pid "${pids[0]}" --label "floor-$size-$load-$run" >"$OUT/floor-$size-$load-$run.txt"
    stop
    python3 - "$OUT/floor-$size-$load-$run.txt" <<'EOF'
import json, sys
line = [l for l in open(sys.argv[1]) if l.startswith("JSON ")][-1]
r = json.loads(line[5:])
us = float(r["server_cpu_pct"]) * 1e4 / max(float(r["deliveries_per_s"]), 1)
print(f'{r["label"]:>24}  {float(r["deliveries_per_s"]):>9.0f}/s  p50 {r["p50_ms"]:>8} ms  p99 {r["p99_ms"]:>8} ms  '
      f'loss {r["loss"]}  cpu {us:5.1f} us/delivery')
EOF
    for nodes in 1 2; do
      quiet
      urls=()
      for n in $(seq "$nodes"); do
        port=${PORTS[$((n - 1))]}
        PORT=$port RTCHAT_CLUSTER__NODE_ID="n$n" "$bin" serve >>"$OUT/server-$n.log" 2>&1 &
        pids+=($!)
        wait_port "$port"
        urls+=("http://127.0.0.1:$port")
      done
      url=$(IFS=,; echo "${urls[*]}")
      name="nodes$nodes-$size-$load-$run"
      before=$(ticks)
      "$bin" loadtest run --url "$url" --quiet --report "$OUT/$name.json" \
        --fixture "$OUT/fixture-$size.json" --transport ws --users "$SESSIONS" --senders-per-room 1 \
        --rate "$rate" --duration "$DURATION" --ramp-up 2 >"$OUT/$name.txt" || true
      after=$(ticks)
      stop
      python3 - "$OUT/$name.json" "$name" "$((after - before))" "$(getconf CLK_TCK)" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
d, l = r["deliveries"], r["deliveryLatencyMs"]
cpu_s = int(sys.argv[3]) / int(sys.argv[4])
us = cpu_s * 1e6 / max(d["received"], 1)
share = d["received"] / max(d["expected"], 1) * 100
print(f'{sys.argv[2]:>24}  {d["perSec"]:>9.0f}/s  p50 {l["p50"]:>8} ms  p99 {l["p99"]:>8} ms  '
      f'delivered {share:.2f}%  lost {d["lost"]}  cpu {us:5.1f} us/delivery (all nodes, whole run)  '
      f'skipped {r["messages"]["skipped"]}')
EOF
    done
  done
done
psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
