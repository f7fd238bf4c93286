#!/usr/bin/env bash
# Where the time of one request goes (`make profile`): serve kassa on a fresh database, drive
# GET order and POST transaction with wrk, sample the server with py-spy, and print each
# profile by category (bench/profile.py) with the server's CPU time per request.
#
# Environment (all optional):
#   BENCH_DATABASE=sqlite|postgres   (postgres: a throwaway server from scripts/pg.sh)
#   PROFILE_SECONDS=8                 sampling time per scenario (wrk runs 3 s longer)
#   PROFILE_KEEP=1                    keep the temporary directory (raw profiles, server log)
#   VENV=.venv
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
VENV=${VENV:-.venv}
BIN=$ROOT/$VENV/bin
[[ $VENV == /* ]] && BIN=$VENV/bin
DATABASE=${BENCH_DATABASE:-sqlite}
SECONDS_=${PROFILE_SECONDS:-8}
command -v wrk >/dev/null || { echo "profile.sh: wrk is needed (apt-get install wrk)" >&2; exit 1; }
[[ -x $BIN/py-spy ]] || { echo "profile.sh: $BIN/py-spy missing (make venv)" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/kassa-profile.XXXXXX")
SERVER_PID=""
PG_DIR=""
cleanup() {
    [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    [[ -n $PG_DIR ]] && scripts/pg.sh stop "$PG_DIR" >/dev/null 2>&1
    if [[ ${PROFILE_KEEP:-} == 1 ]]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

if [[ $DATABASE == postgres ]]; then
    # a directory of its own: the server runs as the postgres user, who cannot enter $TMP
    PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/kassa-profile-pg.XXXXXX")
    URL=$(scripts/pg.sh start "$PG_DIR" 2>"$TMP/pg.log") || { cat "$TMP/pg.log" >&2; exit 1; }
else
    URL=sqlite:///$TMP/kassa.db
fi
"$BIN/kassa" migrate --database "$URL" >/dev/null
KEY=$("$BIN/kassa" apikey create --merchant profile --database "$URL" | tail -n 1)
PORT=$("$BIN/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
KASSA_DATABASE_URL=$URL KASSA_ACCESS_LOG=0 KASSA_PORT=$PORT "$BIN/kassa" serve >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do curl -fs "$BASE/health/ready" >/dev/null 2>&1 && break; sleep 0.1; done

# one order to read, 40 orders with a payment for transactions
"$BIN/python" - "$BASE" "$KEY" "$TMP" <<'PY'
import json, sys, urllib.request
base, key, tmp = sys.argv[1:4]
headers = {"Authorization": f"Bearer {key}", "x-merchant": "profile", "x-channel": "web",
           "Content-Type": "application/json"}
def post(path, body):
    request = urllib.request.Request(base + path, json.dumps(body).encode(), headers)
    return json.load(urllib.request.urlopen(request))
cart = {"cart": {"items": [{"name": n, "quantity": 1, "total": {"includingVat": 10}}
                           for n in ("a", "b", "c")]}}
with open(f"{tmp}/get.txt", "w") as out:
    out.write(post("/api/v0/checkout/orders", cart)["id"])
with open(f"{tmp}/tx.txt", "w") as out:
    for _ in range(40):
        order = post("/api/v0/checkout/orders", cart)["id"]
        payment = post(f"/api/v0/checkout/orders/{order}/payments",
                       {"reference": "r", "name": "card", "type": "default", "amount": 30})["id"]
        out.write(f"/api/v0/checkout/orders/{order}/payments/{payment}/transactions\n")
PY
cat >"$TMP/tx.lua" <<EOF2
local paths = {}
for line in io.lines("$TMP/tx.txt") do paths[#paths + 1] = line end
local bodies = {
   '{"event":"open","isSuccess":true,"pspEvent":"p","requestJson":"{}","responseJson":"{}"}',
   '{"event":"capture","isSuccess":false,"amount":1,"pspEvent":"p","requestJson":"{}","responseJson":"{}"}',
}
local n = 0
function request()
   n = n + 1
   return wrk.format("POST", paths[math.random(#paths)], nil, bodies[n % 2 + 1])
end
EOF2

ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }
HZ=$(getconf CLK_TCK)
echo "kassa profile  $(date -u '+%Y-%m-%d %H:%M:%S UTC')  commit $(git rev-parse --short HEAD)  database $DATABASE"
for scenario in get_order post_transaction; do
    if [[ $scenario == get_order ]]; then
        args=("$BASE/api/v0/checkout/orders/$(cat "$TMP/get.txt")")
    else
        args=(-s "$TMP/tx.lua" "$BASE/")
    fi
    before=$(ticks)
    wrk -t1 -c32 -d"$((SECONDS_ + 3))s" -H "Authorization: Bearer $KEY" -H "x-merchant: profile" \
        -H "x-channel: web" -H "Content-Type: application/json" "${args[@]}" >"$TMP/$scenario.wrk" &
    WRK=$!
    sleep 1
    "$BIN/py-spy" record --pid "$SERVER_PID" --duration "$SECONDS_" --rate 250 --format raw \
        --output "$TMP/$scenario.raw" >/dev/null 2>&1
    wait "$WRK"
    after=$(ticks)
    requests=$(awk '/requests in/ {print $1}' "$TMP/$scenario.wrk")
    rate=$(awk '/Requests\/sec/ {print $2}' "$TMP/$scenario.wrk")
    echo
    echo "== $scenario: $rate req/s (wrk -t1 -c32), server CPU $(awk -v t=$((after - before)) -v hz="$HZ" -v n="$requests" 'BEGIN { printf "%.0f", t / hz / n * 1e6 }') µs per request, load $(cut -d' ' -f1 /proc/loadavg)"
    "$BIN/python" bench/profile.py "$TMP/$scenario.raw"
done
