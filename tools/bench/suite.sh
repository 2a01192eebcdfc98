#!/usr/bin/env bash
# Reproduces docs/benchmarks.md: starts the release server on one backend, makes a
# fixture straight in its database, runs the load scenarios, and leaves a JSON
# report per scenario in $OUT. Server and load generator share this host.
#
#   tools/bench/suite.sh idle     sqlite            # idle sessions: 1k, 10k, 19.8k
#   tools/bench/suite.sh fanout   sqlite            # deliveries/s at room sizes 10, 100, 1000
#   tools/bench/suite.sh durable  sqlite|postgres|mysql
set -euo pipefail
what=${1:?idle|fanout|durable}
backend=${2:-sqlite}
root=$(cd "$(dirname "$0")/../.." && pwd)
bin="$root/target/release/rtchat"
OUT=${OUT:-/tmp/rtchat-bench}
PORT=${PORT:-18090}
mkdir -p "$OUT"

case $backend in
  sqlite) db="sqlite:$OUT/bench.db"; rm -f "$OUT"/bench.db* ;;
  postgres) db=postgres://postgres@127.0.0.1:5432/rtchat_bench
    psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS rtchat_bench" -c "CREATE DATABASE rtchat_bench" ;;
  mysql) db=mysql://root@127.0.0.1:3306/rtchat_bench
    mysql -h127.0.0.1 -uroot -e "DROP DATABASE IF EXISTS rtchat_bench; CREATE DATABASE rtchat_bench CHARACTER SET utf8mb4" ;;
esac

export DATABASE_URL=$db PORT
# shellcheck source=tools/bench/env.sh
source "$root/tools/bench/env.sh"
"$bin" migrate >/dev/null
server=
start_server() { # a fresh process, so each memory figure starts from a clean heap
  [ -n "$server" ] && { kill "$server"; wait "$server" 2>/dev/null || true; }
  "$bin" serve >>"$OUT/server-$what-$backend.log" 2>&1 &
  server=$!
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return; sleep 0.2; done
}
trap '[ -n "$server" ] && kill $server 2>/dev/null; wait 2>/dev/null || true' EXIT
start_server

url=http://127.0.0.1:$PORT
run() { # name, then loadtest run flags
  local name=$1; shift
  echo "== $name"
  "$bin" loadtest run --url "$url" --quiet --report "$OUT/$name.json" "$@" | tee "$OUT/$name.txt"
}

case $what in
  idle)
    "$bin" loadtest prepare --users 19800 --rooms 1980 --members-per-room 10 --out "$OUT/fixture-idle.json"
    for n in 1000 10000 19800; do
      for t in ws socketio; do
        start_server
        run "idle-$t-$n" --fixture "$OUT/fixture-idle.json" --transport $t --users $n --idle \
          --ramp-up $((n / 2000 + 1)) --duration 3 --source-addrs 2 --server-pid $server
      done
    done ;;
  fanout)
    for size in 10 100 1000; do
      "$bin" loadtest prepare --users 2000 --rooms $((2000 / size)) --members-per-room $size \
        --out "$OUT/fixture-fanout-$size.json"
      rooms=$((2000 / size))
      for target in 50000 100000; do
        rate=$(python3 -c "print(round($target / ($rooms * $size), 2))")
        for t in ws socketio; do
          run "fanout-$t-room$size-$target" --fixture "$OUT/fixture-fanout-$size.json" --transport $t \
            --users 2000 --senders-per-room 1 --rate "$rate" --duration 10 --ramp-up 2
        done
      done
    done ;;
  durable)
    "$bin" loadtest prepare --users 1000 --rooms 200 --members-per-room 5 --out "$OUT/fixture-durable.json"
    for rate in 3 6; do
      run "durable-$backend-$((rate * 1000))" --fixture "$OUT/fixture-durable.json" --transport ws \
        --users 1000 --senders-per-room 5 --rate $rate --duration 10 --ramp-up 2 --max-in-flight 256
    done ;;
esac
