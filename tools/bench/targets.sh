#!/usr/bin/env bash
# Issue 9's two acked-send targets, each point RUNS times on a fresh database and
# a fresh server (release build), one summary line per run; JSON reports in $OUT.
#
#   tools/bench/targets.sh sender   # one client pipelining 200 msgs/s into a room of 100
#                                   # (SQLite and PostgreSQL, /ws and Socket.IO, up to 64 in flight)
#   tools/bench/targets.sh quiet    # 1,000 rooms of 2, one sender each: PostgreSQL at
#                                   # 5 msgs/s per room (5,000/s), SQLite at 2 (2,000/s)
#
# PostgreSQL on 127.0.0.1:5432 (user postgres, trust); the server and the load
# generator share this host.
set -euo pipefail
what=${1:?sender|quiet}
root=$(cd "$(dirname "$0")/../.." && pwd)
bin="$root/target/release/rtchat"
OUT=${OUT:-/tmp/rtchat-targets}
RUNS=${RUNS:-3}
PORT=${PORT:-18092}
mkdir -p "$OUT"
ulimit -n 20000

export PORT JWT_SEC=${JWT_SEC:-bench-secret-0123456789abcdef0123456789abcdef} \
  RTCHAT_LIMITS__MESSAGES_MAX=1000000000 RTCHAT_LIMITS__API_MAX=1000000000 RTCHAT_LIMITS__CONNECTIONS_IP_MAX=1000000000 \
  RTCHAT_REALTIME__EVENTS_PER_MINUTE=1000000000 RTCHAT_AUTH__BCRYPT_COST=4 RUST_LOG=warn

pid=
stop() { [ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; }; pid=; }
trap stop EXIT
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done; }
quiet() { QUIET_SECS=${QUIET_SECS:-10} "$root/../shared/floor/quiet.sh" >/dev/null || true; }

fresh_database() { # backend
  case $1 in
    sqlite) rm -f "$OUT"/bench.db*; export DATABASE_URL="sqlite:$OUT/bench.db" ;;
    postgres)
      psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS rtchat_targets" -c "CREATE DATABASE rtchat_targets"
      export DATABASE_URL=postgres://postgres@127.0.0.1:5432/rtchat_targets ;;
  esac
  "$bin" migrate >/dev/null
}

# name, users, rooms, members per room, then `loadtest run` flags
point() {
  local name=$1 users=$2 rooms=$3 members=$4
  local backend=${name%%-*}
  shift 4
  for run in $(seq "$RUNS"); do
    fresh_database "$backend"
    "$bin" loadtest prepare --users "$users" --rooms "$rooms" --members-per-room "$members" \
      --out "$OUT/fixture.json" >/dev/null
    quiet
    "$bin" serve >>"$OUT/server.log" 2>&1 &
    pid=$!
    wait_port "$PORT"
    "$bin" loadtest run --url "http://127.0.0.1:$PORT" --quiet --report "$OUT/$name-$run.json" \
      --fixture "$OUT/fixture.json" --users "$users" --server-pid "$pid" "$@" >"$OUT/$name-$run.txt" || true
    stop
    python3 - "$OUT/$name-$run.json" "$name-$run" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
m, d, a, l = r["messages"], r["deliveries"], r["ackLatencyMs"], r["deliveryLatencyMs"]
share = d["received"] / max(d["expected"], 1) * 100
print(f'{sys.argv[2]:>24}  acked {m["ackedPerSec"]:>7.0f}/s  refused {m["refused"]}  skipped {m["skipped"]}  '
      f'unanswered {m["unanswered"]}  ack p50/p90/p99/max {a["p50"]}/{a["p90"]}/{a["p99"]}/{a["max"]} ms  '
      f'delivery p99 {l["p99"]} ms  delivered {share:.2f}%')
EOF
  done
}

case $what in
  sender)
    for backend in sqlite postgres; do
      for transport in ws socketio; do
        point "$backend-sender-$transport" 100 1 100 --transport "$transport" --senders-per-room 1 \
          --rate 200 --max-in-flight 64 --duration 10
      done
    done ;;
  quiet)
    point postgres-quiet-5000 2000 1000 2 --transport ws --senders-per-room 1 --rate 5 --duration 10
    point sqlite-quiet-2000 2000 1000 2 --transport ws --senders-per-room 1 --rate 2 --duration 10 ;;
  *) echo "unknown: $what (sender|quiet)" >&2; exit 2 ;;
esac
