#!/usr/bin/env bash
# Soak: a steady load for a long time, then idle. Samples the server every 10 s
# (RSS, open files, sessions, session actors, active rooms, presence) into a CSV,
# then checks that after the load everything returns: sessions and actors to 0,
# rooms swept (they stop after 60 s without subscribers), open files to the
# baseline. Release build, SQLite, `rtchat loadtest` over TRANSPORT.
#
#   tools/bench/soak.sh            # 10 minutes at 50,000 deliveries/s, rooms of 100
#   DURATION=600 LOAD=50000 SIZE=100 SESSIONS=2000 TRANSPORT=ws tools/bench/soak.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin="$root/target/release/rtchat"
OUT=${OUT:-/tmp/rtchat-soak}
DURATION=${DURATION:-600}
LOAD=${LOAD:-50000}
SIZE=${SIZE:-100}
SESSIONS=${SESSIONS:-2000}
TRANSPORT=${TRANSPORT:-ws}
PORT=${PORT:-18093}
SETTLE=${SETTLE:-75}
rooms=$((SESSIONS / SIZE))
rate=$(python3 -c "print(round($LOAD / ($rooms * $SIZE), 3))")
token=soak-operator-token
mkdir -p "$OUT"
ulimit -n 20000

export DATABASE_URL="sqlite:$OUT/soak.db" PORT JWT_SEC=${JWT_SEC:-soak-secret-0123456789abcdef0123456789abcdef} RTCHAT_OPERATOR__TOKEN=$token
# shellcheck source=tools/bench/env.sh
source "$root/tools/bench/env.sh"
rm -f "$OUT"/soak.db*
"$bin" migrate >/dev/null
"$bin" loadtest prepare --users "$SESSIONS" --rooms "$rooms" --members-per-room "$SIZE" --out "$OUT/fixture.json" >/dev/null

"$bin" serve >"$OUT/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done

# time, phase, rss_kb, open_files, sockets, sessions, session_actors, active_rooms, users_online
# (open files = sockets + the database files of pooled connections + the binary's own)
sample() {
  local phase=$1 rss fds sockets tree
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  fds=$(ls "/proc/$pid/fd" | wc -l)
  sockets=$(ls -l "/proc/$pid/fd" | grep -c 'socket:' || true)
  tree=$(curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$PORT/health/supervisor")
  python3 - "$phase" "$rss" "$fds" "$sockets" "$tree" <<'EOF'
import json, sys, time
phase, rss, fds, sockets, tree = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], json.loads(sys.argv[5])
t = tree["tree"]
presence = t.get("presence") or {}
print(f'{int(time.time())},{phase},{rss},{fds},{sockets},{tree["sessionsRegistered"]},{t["sessionSupervisor"]["children"]},'
      f'{tree["activeRooms"]},{presence.get("usersOnline", -1)}')
EOF
}

csv="$OUT/samples.csv"
echo "time,phase,rss_kb,open_files,sockets,sessions,session_actors,active_rooms,users_online" >"$csv"
sample baseline | tee -a "$csv"
"$bin" loadtest run --url "http://127.0.0.1:$PORT" --fixture "$OUT/fixture.json" --users "$SESSIONS" \
  --senders-per-room 1 --rate "$rate" --duration "$DURATION" --ramp-up 10 --transport "$TRANSPORT" \
  --quiet --report "$OUT/load.json" >"$OUT/load.txt" 2>&1 &
load=$!
while kill -0 "$load" 2>/dev/null; do
  sleep 10
  kill -0 "$load" 2>/dev/null && sample load | tee -a "$csv"
done
wait "$load" || echo "the load generator exited with $?"
sleep "$SETTLE"
sample after | tee -a "$csv"

python3 - "$csv" "$OUT/load.json" <<'EOF'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
base = rows[0]
load = [r for r in rows if r["phase"] == "load"]
after = rows[-1]
steady = load[6:] or load  # past the first minute (ramp-up, caches, buffers)
rss = [int(r["rss_kb"]) for r in steady]
third = max(len(rss) // 3, 1)
first, last = sum(rss[:third]) / third, sum(rss[-third:]) / third
report = json.load(open(sys.argv[2]))
print(json.dumps(report.get("summary", report), indent=None)[:600])
print(f"baseline: rss {int(base['rss_kb'])/1024:.1f} MB, open files {base['open_files']} ({base['sockets']} sockets)")
print(f"steady load ({len(steady)} samples): rss min {min(rss)/1024:.1f} MB, max {max(rss)/1024:.1f} MB, "
      f"first third {first/1024:.1f} MB, last third {last/1024:.1f} MB ({(last-first)/first*100:+.1f} %)")
print(f"after: rss {int(after['rss_kb'])/1024:.1f} MB, open files {after['open_files']}, sockets {after['sockets']} "
      f"(baseline {base['sockets']}; the other files are pooled database connections), "
      f"sessions {after['sessions']}, session actors {after['session_actors']}, active rooms {after['active_rooms']}, "
      f"users online {after['users_online']}")
ok = (after["sessions"] == "0" and after["session_actors"] == "0" and after["active_rooms"] == "0"
      and after["users_online"] == "0" and int(after["sockets"]) <= int(base["sockets"]))
print("returned to baseline" if ok else "DID NOT return to baseline")
EOF
