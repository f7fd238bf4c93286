#!/usr/bin/env bash
# kassa load benchmark (`make bench`): a fresh SQLite database (or a throwaway PostgreSQL server),
# 100k seeded orders, `kassa serve`, and wrk runs of GET order, PATCH attributes, two list filters,
# POST payment transaction and the five-request checkout flow; then the same GET and POST
# transaction requests against bench/floor.py (a bare Starlette app doing the least work for them
# on the same database), so that the summary can set each kassa figure beside its floor.
# See docs/performance.md.
#
# Environment (all optional):
#   BENCH_DATABASE=sqlite  sqlite: a new SQLite file; postgres: a throwaway server started with
#                          scripts/pg.sh (stopped again on exit), migrated with `kassa migrate`
#   BENCH_FLOOR=1          0: skip the floor runs (bench/floor.py)
#   BENCH_WORKERS=2        server worker processes (kassa serve --workers; 2 = the cores here)
#   BENCH_DURATION=10s     measured run per scenario (wrk -d)
#   BENCH_WARMUP=2s        unmeasured warm-up per scenario (0 to skip)
#   BENCH_REPEAT=1         measured runs per scenario after its one warm-up; the summary gives
#                          the median run (its verdict) and the range of all (this VM's speed
#                          varies by a fifth and more from minute to minute)
#   BENCH_TIMEOUT=10s      wrk --timeout (slower responses count as socket errors, not latency)
#   BENCH_CONNECTIONS=32   wrk -c
#   BENCH_THREADS=2        wrk -t
#   BENCH_ORDERS=100000    orders seeded straight into the database for the list scenarios
#   BENCH_PATCH_ORDERS=100 orders created through the API for the PATCH scenario
#   BENCH_TX_ORDERS=200    orders with one payment each for post_transaction (a payment holds at
#                          most 1,000 transactions: keep BENCH_TX_ORDERS x 1000 above the
#                          transactions a warm-up + run posts)
#   BENCH_SCENARIOS="get_order patch_attributes list_email list_status post_transaction
#                    checkout_flow nonpsp_flow demo_flow console_orders console_order"   (the
#                    floor runs those of get_order and post_transaction; console_*: the
#                    operator console's orders page and order page, signed in as a viewer)
#   BENCH_CHECKPOINT=1     0: measure right after seeding, without first flushing what it wrote
#                          (bench/seed.py checkpoint: PostgreSQL CHECKPOINT, SQLite WAL checkpoint)
#   BENCH_IDEMPOTENCY=1    every PATCH sends a unique Idempotency-Key header
#   BENCH_KEEP=1           keep the temporary directory (SQLite database, server logs) for
#                          inspection (a PostgreSQL server is always stopped and removed)
#   VENV=.venv             virtualenv holding kassa
#
# Output: the wrk reports, then a summary table (kassa's figures, then each beside its floor); the
# table is also written to bench/results/latest.txt (plus a dated copy), the raw wrk output to
# bench/results/latest-wrk.txt.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
VENV=${VENV:-.venv}
if [[ $VENV == /* ]]; then BIN=$VENV/bin; else BIN=$ROOT/$VENV/bin; fi
WORKERS=${BENCH_WORKERS:-2}
DURATION=${BENCH_DURATION:-10s}
WARMUP=${BENCH_WARMUP:-2s}
REPEAT=${BENCH_REPEAT:-1}
TIMEOUT=${BENCH_TIMEOUT:-10s}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
THREADS=${BENCH_THREADS:-2}
ORDERS=${BENCH_ORDERS:-100000}
PATCH_ORDERS=${BENCH_PATCH_ORDERS:-100}
TX_ORDERS=${BENCH_TX_ORDERS:-200}
ALL_SCENARIOS="get_order patch_attributes list_email list_status post_transaction checkout_flow
    nonpsp_flow demo_flow console_orders console_order"
SCENARIOS=${BENCH_SCENARIOS:-$ALL_SCENARIOS}
FLOOR_SCENARIOS="get_order post_transaction" # the scenarios bench/floor.py answers
DATABASE=${BENCH_DATABASE:-sqlite}
FLOOR=${BENCH_FLOOR:-1}
MERCHANT=bench
CHANNEL=bench
RESULTS=$ROOT/bench/results

say() { printf '\n== %s ==\n' "$*"; }
die() { echo "bench: $*" >&2; exit 1; }

[[ -x $BIN/kassa ]] || die "$BIN/kassa not found; run 'make venv' first"
[[ $TX_ORDERS -ge 1 ]] || die "BENCH_TX_ORDERS must be at least 1"
[[ $REPEAT =~ ^[1-9][0-9]*$ ]] || die "BENCH_REPEAT must be a whole number of runs (1 or more)"
[[ $DATABASE == sqlite || $DATABASE == postgres ]] ||
    die "BENCH_DATABASE must be sqlite or postgres, not '$DATABASE'"
[[ $FLOOR == 0 || $FLOOR == 1 ]] || die "BENCH_FLOOR must be 0 or 1, not '$FLOOR'"

# --- 1. wrk ------------------------------------------------------------------------------------
if ! command -v wrk >/dev/null 2>&1; then
    say "installing wrk (Debian package)"
    SUDO=""
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || die "wrk is missing and we are not root; apt-get install wrk"
        SUDO=sudo
    fi
    $SUDO apt-get update -qq
    $SUDO apt-get install -y wrk
fi
command -v curl >/dev/null 2>&1 || die "curl is required"

# --- 2. temporary directory, database, API key ---------------------------------------------------
TMP=$(mktemp -d "${TMPDIR:-/tmp}/kassa-bench.XXXXXX")
SERVER_PID=""
SERVER_LABEL=""
PG_DIR=""

server_children() {
    [[ -n $SERVER_PID ]] && ps -o pid= --ppid "$SERVER_PID" 2>/dev/null || true
}

# Stop the running server (kassa or the floor) and its worker processes.
stop_server() {
    local children pid
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        children=$(server_children)
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$SERVER_PID" 2>/dev/null; then
            echo "bench: server $SERVER_PID still draining after 10 s; killing it" >&2
            for pid in $SERVER_PID $children; do
                kill -KILL "$pid" 2>/dev/null || true
            done
        fi
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=""
}

cleanup() {
    local status=$?
    trap '' INT TERM HUP # a second Ctrl-C must not leave the database server running
    stop_server
    if [[ -n $PG_DIR ]]; then
        bash scripts/pg.sh stop "$PG_DIR" 2>/dev/null || echo "bench: could not stop PostgreSQL in $PG_DIR" >&2
    fi
    if [[ ${BENCH_KEEP:-} == 1 ]]; then
        echo "bench: kept $TMP"
    else
        rm -rf "$TMP"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'echo; echo "bench: interrupted" >&2; exit 130' INT
trap 'echo "bench: terminated" >&2; exit 143' TERM HUP

DATA=$TMP/data
mkdir -p "$DATA" "$RESULTS"

if [[ $DATABASE == postgres ]]; then
    # its own directory under /tmp: pg.sh hands it to the postgres user, who cannot enter $TMP
    PG_DIR=$(mktemp -d "/tmp/kassa-bench-pg.XXXXXX")
    say "PostgreSQL in $PG_DIR"
    DB_URL=$(bash scripts/pg.sh start "$PG_DIR") || die "could not start PostgreSQL"
    SEED_DB=$DB_URL
    say "database $DB_URL"
else
    DB_FILE=$TMP/bench.db
    DB_URL="sqlite+aiosqlite:///$DB_FILE"
    SEED_DB=$DB_FILE
    say "database $DB_FILE"
fi
"$BIN/kassa" migrate --database "$DB_URL"
KEY=$("$BIN/kassa" apikey create --merchant "$MERCHANT" --channel "$CHANNEL" --name bench \
    --database "$DB_URL" | tail -n 1)
[[ $KEY == kassa_* ]] || die "could not create an API key"
DB_NOTE=$("$BIN/python" bench/seed.py database --database "$SEED_DB")

# --- 3a. bulk seed (server not running yet) ------------------------------------------------------
say "seeding $ORDERS orders"
"$BIN/python" bench/seed.py bulk --database "$SEED_DB" --merchant "$MERCHANT" \
    --channel "$CHANNEL" --count "$ORDERS" --key-name bench --out-dir "$DATA"
INDEX_NOTE=$("$BIN/python" bench/seed.py indexes --database "$SEED_DB")
echo "$INDEX_NOTE"

# server_alive WHEN: die with the end of the server's log if it is gone (a server that dies
# under load would otherwise show up only as socket errors of the next runs)
server_alive() {
    local status=0
    [[ -n $SERVER_PID ]] || return 0
    kill -0 "$SERVER_PID" 2>/dev/null && return 0
    wait "$SERVER_PID" || status=$?
    SERVER_PID=""
    tail -n 40 "$TMP/$SERVER_LABEL.log" >&2
    die "the server ($SERVER_LABEL) exited with status $status during $1"
}

# --- 4. server -----------------------------------------------------------------------------------
# start_server LABEL READY_PATH COMMAND...: run COMMAND (which must listen on $PORT) in the
# background, logging to $TMP/LABEL.log, and wait until READY_PATH answers 200.
start_server() {
    local label=$1 ready_path=$2 ready="" status
    shift 2
    "$@" >"$TMP/$label.log" 2>&1 &
    SERVER_PID=$!
    SERVER_LABEL=$label
    for _ in $(seq 1 300); do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            cat "$TMP/$label.log" >&2
            status=0
            wait "$SERVER_PID" || status=$?
            SERVER_PID=""
            die "$label exited with status $status before it was ready"
        fi
        if curl -fsS -o /dev/null "$URL$ready_path" 2>/dev/null; then
            ready=1
            break
        fi
        sleep 0.1
    done
    [[ -n $ready ]] || { cat "$TMP/$label.log" >&2; die "$label not ready after 30 s"; }
    if [[ $WORKERS -gt 1 ]]; then
        # the first worker up answers; give the others a moment
        sleep 2
    fi
}

free_port() {
    "$BIN/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
say "starting kassa serve on $URL with $WORKERS worker(s)"
# the Non-PSP adapter and both sandbox adapters (demo_flow); delivery in the server, as kassa demo
KASSA_BUILTIN_ADAPTERS=nonpsp_adapter,kassa_sandbox_psp_adapter,kassa_sandbox_shipping_adapter \
    KASSA_RUN_DELIVERY_IN_API=true \
    KASSA_ACCESS_LOG=false KASSA_LOG_LEVEL=${KASSA_LOG_LEVEL:-warning} \
    start_server server /health/ready \
    "$BIN/kassa" serve --host 127.0.0.1 --port "$PORT" --database "$DB_URL" --workers "$WORKERS"

# --- 3b. orders made through the API -----------------------------------------------------------
"$BIN/python" bench/seed.py api --url "$URL" --key "$KEY" --merchant "$MERCHANT" \
    --channel "$CHANNEL" --patch-orders "$PATCH_ORDERS" --tx-orders "$TX_ORDERS" --out-dir "$DATA"
if [[ ${BENCH_CHECKPOINT:-1} == 1 ]]; then
    "$BIN/python" bench/seed.py checkpoint --database "$SEED_DB"
fi

# --- pre-flight: every scenario's requests must answer as expected ------------------------------
api_get() {
    curl -sS -o "$TMP/preflight.json" -w '%{http_code}' \
        -H "Authorization: Bearer $KEY" -H "x-merchant: $MERCHANT" -H "x-channel: $CHANNEL" "$@"
}
GET_ID=$(head -n 1 "$DATA/get_id.txt")
EMAIL=$(head -n 1 "$DATA/emails.txt")
code=$(api_get "$URL/api/v0/checkout/orders/$GET_ID")
[[ $code == 200 ]] || die "GET order answered $code: $(cat "$TMP/preflight.json")"
echo "GET order: $(wc -c <"$TMP/preflight.json") bytes"
code=$(api_get -X PATCH -H 'Content-Type: application/json' --data '{"preflight":true}' \
    "$URL/api/v0/checkout/orders/$(head -n 1 "$DATA/patch_ids.txt")/attributes")
[[ $code == 200 ]] || die "PATCH attributes answered $code: $(cat "$TMP/preflight.json")"
pagination() {
    "$BIN/python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["pagination"])' \
        "$TMP/preflight.json"
}
code=$(api_get -G --data-urlencode "billing_emails=$EMAIL" "$URL/api/v0/checkout/orders")
[[ $code == 200 ]] || die "list by email answered $code: $(cat "$TMP/preflight.json")"
echo "list ?billing_emails=$EMAIL: $(pagination)"
code=$(api_get "$URL/api/v0/checkout/orders?status=completed&limit=20")
[[ $code == 200 ]] || die "list by status answered $code: $(cat "$TMP/preflight.json")"
echo "list ?status=completed&limit=20: $(pagination)"
read -r TX_ORDER TX_PAYMENT <"$DATA/tx_targets.txt"
TX_BODY='{"event":"open","isSuccess":true,"pspEvent":"preflight","requestJson":"{}",'
TX_BODY+='"responseJson":"{}"}'
code=$(api_get -X POST -H 'Content-Type: application/json' --data "$TX_BODY" \
    "$URL/api/v0/checkout/orders/$TX_ORDER/payments/$TX_PAYMENT/transactions")
[[ $code == 200 ]] || die "POST transaction answered $code: $(cat "$TMP/preflight.json")"
echo "POST transaction: $(wc -l <"$DATA/tx_targets.txt") orders with a payment to post to"
# checkout_flow: the five steps once, with the statuses bench/checkout_flow.lua expects
flow_step() { # expected-status method path body
    local code
    code=$(api_get -X "$2" -H 'Content-Type: application/json' --data "$4" "$URL$3")
    [[ $code == "$1" ]] || die "checkout flow: $2 $3 answered $code: $(cat "$TMP/preflight.json")"
}
json_id() {
    "$BIN/python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["id"])' \
        "$TMP/preflight.json"
}
FLOW=/api/v0/checkout/orders
flow_step 201 POST $FLOW \
    '{"cart":{"items":[{"name":"T-Shirt","quantity":1,"total":{"includingVat":12.5}}]}}'
FLOW=$FLOW/$(json_id)
flow_step 200 PUT "$FLOW/customer/shipping" '{"givenName":"A","familyName":"B","country":"se"}'
flow_step 201 POST "$FLOW/shippings" \
    '{"name":"PostNord","total":{"includingVat":7.5},"vatRate":0.25}'
flow_step 201 POST "$FLOW/payments" '{"reference":"r","name":"card","type":"default","amount":20}'
flow_step 200 PUT "$FLOW/state" '{"currentStatus":"completed"}'
echo "checkout flow: 5 steps answered 201/200/201/201/200"
# nonpsp_flow: the Non-PSP adapter's configuration for the bench channel, then its six steps once
# (bench/nonpsp_flow.lua)
flow_step 200 PUT "/api/v1/configuration/merchants/$MERCHANT/channels/$CHANNEL/configurations/nonpsp_adapter" \
    '{"$schema":"https://example.com/nonpsp_adapter.json","id":"nonpsp_adapter","active":true,"methods":[{"identifier":"invoice","preSelected":true},{"identifier":"card"}]}'
ADAPTER=/checkout/nonpsp-adapter/api/checkout/v1/orders
flow_step 201 POST /api/v0/checkout/orders \
    '{"cart":{"items":[{"name":"T-Shirt","quantity":1,"total":{"includingVat":12.5}}]}}'
NONPSP_ORDER=$(json_id)
flow_step 201 POST "/api/v0/checkout/orders/$NONPSP_ORDER/shippings" \
    '{"name":"PostNord","total":{"includingVat":7.5},"vatRate":0.25}'
flow_step 200 POST "$ADAPTER/$NONPSP_ORDER/payments" ''
NONPSP_PAYMENT=$("$BIN/python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["paymentId"])' \
    "$TMP/preflight.json")
flow_step 200 PUT "/api/v0/checkout/orders/$NONPSP_ORDER/cart" \
    '{"items":[{"name":"T-Shirt","quantity":2,"total":{"includingVat":25}}]}'
flow_step 200 PUT "$ADAPTER/$NONPSP_ORDER/payments/$NONPSP_PAYMENT" '{"selectedPaymentMethod":"invoice"}'
flow_step 200 POST "$ADAPTER/$NONPSP_ORDER/payments/$NONPSP_PAYMENT/complete" ''
echo "Non-PSP flow: 6 steps answered 201/201/200/200/200/200"
# demo_flow: the sandbox PSP's and the sandbox shipping adapter's configurations (those of
# kassa demo), then its eight steps once (bench/demo_flow.lua)
"$BIN/python" -c 'import json; from kassa.demo.setup import configurations; print(json.dumps(configurations()[1:]))' \
    >"$TMP/demo_configurations.json"
flow_step 200 PUT "/api/v1/configuration/merchants/$MERCHANT/channels/$CHANNEL/configurations" \
    "$(cat "$TMP/demo_configurations.json")"
json_field() { # field
    "$BIN/python" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
        "$TMP/preflight.json" "$1"
}
SHIPPING=/checkout/sandbox-shipping-adapter/api/checkout/v1/orders
PSP=/checkout/sandbox-psp-adapter/api/checkout/v1/orders
flow_step 201 POST /api/v0/checkout/orders \
    '{"currency":"SEK","country":"SE","cart":{"items":[{"name":"Canvas tote","quantity":2,"vatRate":0.25,"total":{"includingVat":498,"excludingVat":398.4}}]}}'
DEMO_ORDER=$(json_id)
flow_step 200 PUT "/api/v0/checkout/orders/$DEMO_ORDER/customer/shipping" '{"country":"SE"}'
flow_step 200 POST "$SHIPPING/$DEMO_ORDER/shippings" ''
DEMO_SHIPPING=$(json_field shippingId)
flow_step 200 PUT "$SHIPPING/$DEMO_ORDER/shippings/$DEMO_SHIPPING" '{"selectedOption":"express"}'
flow_step 200 POST "$PSP/$DEMO_ORDER/payments" ''
DEMO_PAYMENT=$(json_field paymentId)
flow_step 200 POST "$PSP/$DEMO_ORDER/payments/$DEMO_PAYMENT/authorize" '{"scenario":"approve"}'
flow_step 200 PUT "/api/v0/checkout/orders/$DEMO_ORDER/state" '{"currentStatus":"completed"}'
flow_step 200 POST "/checkout/sandbox-psp-adapter/api/order/v1/orders/$DEMO_ORDER/payments/$DEMO_PAYMENT/capture" ''
echo "demo flow: 8 steps answered 201/200/200/200/200/200/200/200"

# the console scenarios: a viewer of merchant bench, signed in through the form with curl
if [[ " $SCENARIOS " == *" console_"* ]]; then
    CONSOLE_PASSWORD=$("$BIN/kassa" operator create bench-viewer --merchant "$MERCHANT" \
        --role viewer --database "$DB_URL" | tail -n 1)
    JAR=$TMP/console-cookies.txt
    LOGIN_PAGE=$(curl -fsS -c "$JAR" "$URL/console/login")
    CSRF=$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' <<<"$LOGIN_PAGE" | head -n 1)
    code=$(curl -sS -o /dev/null -w '%{http_code}' -b "$JAR" -c "$JAR" \
        --data-urlencode "csrf=$CSRF" --data-urlencode "name=bench-viewer" \
        --data-urlencode "password=$CONSOLE_PASSWORD" "$URL/console/login")
    [[ $code == 303 ]] || die "console sign-in answered $code"
    BENCH_CONSOLE_COOKIE=$(awk '$6 == "kassa_console" {print $7}' "$JAR")
    [[ -n $BENCH_CONSOLE_COOKIE ]] || die "console sign-in set no session cookie"
    export BENCH_CONSOLE_COOKIE
    code=$(curl -sS -o "$TMP/preflight.html" -w '%{http_code}' \
        -H "Cookie: kassa_console=$BENCH_CONSOLE_COOKIE" "$URL/console/orders/$GET_ID")
    [[ $code == 200 ]] || die "console order page answered $code"
    echo "console order page: $(wc -c <"$TMP/preflight.html") bytes"
fi

# CPU time (clock ticks) used so far by the server and its worker processes
server_ticks() {
    local total=0 pid ticks
    for pid in $SERVER_PID $(server_children); do
        ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || true)
        total=$((total + ${ticks:-0}))
    done
    echo "$total"
}

# Wait until the server is idle (< 10% of a core over 0.5 s): requests wrk abandoned at the end of
# a run keep running on the server and must not leak into the next scenario.
wait_idle() {
    local started=$SECONDS before after
    for _ in $(seq 1 240); do
        before=$(server_ticks)
        sleep 0.5
        after=$(server_ticks)
        if ((after - before <= 5)); then
            if ((SECONDS - started > 1)); then
                echo "(server was busy for another $((SECONDS - started)) s with abandoned requests)"
            fi
            return 0
        fi
    done
    echo "bench: server still busy after 120 s; going on" >&2
}

# CPU time (clock ticks) used so far by the PostgreSQL server: the postmaster, the backends it
# has reaped (cutime, cstime) and those still running. 0 on SQLite (it runs inside the server).
db_ticks() {
    local pid total=0 ticks child
    [[ -n $PG_DIR && -r $PG_DIR/data/postmaster.pid ]] || { echo 0; return; }
    pid=$(head -n 1 "$PG_DIR/data/postmaster.pid")
    total=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$pid/stat" 2>/dev/null || echo 0)
    for child in $(ps -o pid= --ppid "$pid" 2>/dev/null || true); do
        ticks=$(awk '{print $14 + $15}' "/proc/$child/stat" 2>/dev/null || true)
        total=$((total + ${ticks:-0}))
    done
    echo "$total"
}

# --- 5. wrk scenarios ------------------------------------------------------------------------------
export BENCH_DIR=$ROOT/bench BENCH_DATA=$DATA BENCH_KEY=$KEY BENCH_MERCHANT=$MERCHANT \
    BENCH_CHANNEL=$CHANNEL
RESULT_LINES=$TMP/results.txt
CLK_TCK=$(getconf CLK_TCK)
TIMEFORMAT='%R %U %S' # bash `time`: wall, user and system seconds
WRK_LOG=$RESULTS/latest-wrk.txt
: >"$RESULT_LINES"
: >"$WRK_LOG"

# run_scenario SCENARIO NAME: warm-up and $REPEAT measured wrk runs of bench/SCENARIO.lua
# against $URL; their RESULT lines (scenario=NAME) go to $RESULT_LINES
run_scenario() {
    local scenario=$1 name=$2 run
    wait_idle
    if [[ $WARMUP != 0 && $WARMUP != 0s ]]; then
        say "$name: warm-up $WARMUP"
        BENCH_SCENARIO="$name-warmup" wrk -t "$THREADS" -c "$CONNECTIONS" -d "$WARMUP" \
            --timeout "$TIMEOUT" -s "$ROOT/bench/$scenario.lua" "$URL" >/dev/null
        wait_idle
    fi
    for ((run = 1; run <= REPEAT; run++)); do
        measure_scenario "$scenario" "$name" "$run"
        ((run == REPEAT)) || wait_idle
    done
}

# measure_scenario SCENARIO NAME RUN: one measured wrk run
measure_scenario() {
    local scenario=$1 name=$2 run=$3 script=$ROOT/bench/$1.lua ticks_before db_before wall
    local user sys ticks_after db_after cpu line
    say "$name: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --timeout $TIMEOUT --latency (run $run of $REPEAT)"
    # CPU used during the measured run, in cores: the server processes (from /proc), the
    # PostgreSQL server (from /proc) and wrk (bash's `time`), each divided by wrk's wall-clock time
    curl -fsS -o "$TMP/$name.metrics-before" "$URL/metrics" 2>/dev/null || : >"$TMP/$name.metrics-before"
    ticks_before=$(server_ticks)
    db_before=$(db_ticks)
    { time BENCH_SCENARIO=$name wrk -t "$THREADS" -c "$CONNECTIONS" -d "$DURATION" \
        --timeout "$TIMEOUT" --latency -s "$script" "$URL" >"$TMP/$name.txt" \
        2>"$TMP/$name.err"; } 2>"$TMP/$name.time"
    ticks_after=$(server_ticks)
    db_after=$(db_ticks)
    curl -fsS -o "$TMP/$name.metrics-after" "$URL/metrics" 2>/dev/null || : >"$TMP/$name.metrics-after"
    cat "$TMP/$name.err" >&2
    tee -a "$WRK_LOG" <"$TMP/$name.txt"
    read -r wall user sys < <(tail -n 1 "$TMP/$name.time")
    cpu=$(awk -v t=$((ticks_after - ticks_before)) -v d=$((db_after - db_before)) \
        -v hz="$CLK_TCK" -v w="$wall" -v u="$user" -v s="$sys" 'BEGIN {
            printf "server_cpu=%.2f client_cpu=%.2f", t / hz / w, (u + s) / w
            if (d > 0) printf " db_cpu=%.2f", d / hz / w
        }')
    line=$(grep '^RESULT ' "$TMP/$name.txt") || die "$name: no RESULT line"
    # the hook calls kassa made during the run (in-process calls to built-in adapters included)
    hooks=$("$BIN/python" bench/callouts.py "$TMP/$name.metrics-before" "$TMP/$name.metrics-after")
    echo "$line $cpu $hooks run=$run" >>"$RESULT_LINES"
    server_alive "$name"
}

for scenario in $SCENARIOS; do
    [[ -f $ROOT/bench/$scenario.lua ]] || die "no script $ROOT/bench/$scenario.lua"
done
for scenario in $SCENARIOS; do
    run_scenario "$scenario" "$scenario"
done
wait_idle

# --- 6. peak RSS of the server process(es) ---------------------------------------------------------
RSS_LINES=$TMP/rss.txt
: >"$RSS_LINES"
rss_of() { # pid role
    local hwm rss
    hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || true)
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || true)
    [[ -n $hwm ]] && echo "$1 $2 $hwm $rss" >>"$RSS_LINES"
    return 0
}
if [[ $WORKERS -gt 1 ]]; then
    rss_of "$SERVER_PID" supervisor
else
    rss_of "$SERVER_PID" server
fi
for child in $(ps -o pid= --ppid "$SERVER_PID" 2>/dev/null || true); do
    args=$(tr '\0' ' ' <"/proc/$child/cmdline" 2>/dev/null || true)
    case $args in
        *resource_tracker*) role=tracker ;;
        *spawn_main*) role=worker ;;
        *) role=child ;;
    esac
    rss_of "$child" "$role"
done

# --- 7. the floor: bench/floor.py on the same database, the same wrk scripts ----------------------
stop_server
FLOOR_RUN=""
if [[ $FLOOR == 1 ]]; then
    for scenario in $SCENARIOS; do
        [[ " $FLOOR_SCENARIOS " == *" $scenario "* && " $FLOOR_RUN " != *" $scenario "* ]] &&
            FLOOR_RUN+=" $scenario"
    done
fi
if [[ -n $FLOOR_RUN ]]; then
    PORT=$(free_port)
    URL="http://127.0.0.1:$PORT"
    say "starting the floor (bench/floor.py) on $URL with $WORKERS worker(s)"
    start_server floor "/api/v0/checkout/orders/$GET_ID" \
        "$BIN/python" bench/floor.py --host 127.0.0.1 --port "$PORT" --database "$DB_URL" \
        --workers "$WORKERS"
    for scenario in $FLOOR_RUN; do
        run_scenario "$scenario" "floor:$scenario"
    done
    wait_idle
    stop_server
fi

# --- 8. summary ------------------------------------------------------------------------------------
HEADER=$TMP/header.txt
# the commit of the tree kassa is imported from (VENV may hold another tree's editable install)
KASSA_SRC=$("$BIN/python" -c 'import os, kassa; print(os.path.dirname(kassa.__file__))')
commit=$(git -C "$KASSA_SRC" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$KASSA_SRC" diff --quiet HEAD -- . 2>/dev/null || commit="$commit (src modified)"
bench_commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- bench 2>/dev/null || bench_commit="$bench_commit (bench modified)"
{
    echo "kassa bench  $(date -u '+%Y-%m-%d %H:%M:%S UTC')  commit $commit"
    echo "kassa from $KASSA_SRC; bench/ at commit $bench_commit"
    echo "machine: $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(uname -sr)"
    echo "python $("$BIN/python" -c 'import platform, sqlite3; print(platform.python_version(), "/ sqlite", sqlite3.sqlite_version)')"
    echo "database: $DB_NOTE"
    echo "server: kassa serve --workers $WORKERS, access log off"
    if [[ -n $FLOOR_RUN ]]; then
        echo "floor: bench/floor.py (bare Starlette on uvicorn, --workers $WORKERS, access log off)" \
            "after kassa, same database, same wrk scripts:$FLOOR_RUN"
    fi
    echo "load: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --timeout $TIMEOUT (after $WARMUP warm-up)," \
        "$REPEAT measured run(s) per scenario, same host"
    echo "data: $ORDERS seeded orders + $PATCH_ORDERS PATCH orders + $TX_ORDERS orders with a payment" \
        "+ 1 GET order in $MERCHANT/$CHANNEL"
    echo "$INDEX_NOTE"
    if [[ ${BENCH_IDEMPOTENCY:-} == 1 ]]; then
        echo "PATCH requests carry a unique Idempotency-Key (BENCH_IDEMPOTENCY=1)"
    fi
} >"$HEADER"
SUMMARY=$TMP/summary.txt
"$BIN/python" bench/summary.py "$RESULT_LINES" "$RSS_LINES" "$HEADER" "$DATABASE" >"$SUMMARY"
say "summary"
cat "$SUMMARY"
cp "$SUMMARY" "$RESULTS/latest.txt"
cp "$SUMMARY" "$RESULTS/$(date -u '+%Y%m%dT%H%M%SZ')-$DATABASE-w$WORKERS.txt"
echo
echo "written to bench/results/latest.txt"
