#!/usr/bin/env bash
# Fuzz a live `kassa serve` against its own OpenAPI document with schemathesis.
#
#   scripts/fuzz.sh [EXTRA SCHEMATHESIS RUN ARGS...]      (normally via `make fuzz`)
#
# Sets everything up in a temporary directory: a fresh SQLite database, `kassa migrate`, the
# development key (merchant demo, channel demo), `kassa serve` on a free port. It waits for
# /health/ready, runs every schemathesis phase with the checks in scripts/schemathesis.toml,
# stops the server (also on failure or Ctrl-C) and exits non-zero on any finding.
#
# The server and schemathesis run in a private network namespace that has only a loopback
# interface: hooks, validations, notifications and payment actions registered by the fuzzer
# point at made-up hosts, and no such call (not even a DNS lookup) may leave the machine.
#
# Environment: VENV (default .venv), FUZZ_MAX_TIME (seconds schemathesis may spend, default
# 150), FUZZ_SEED (reproduce a run), FUZZ_REPORT_DIR (keep the JSON report and the server log).
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2

VENV=${VENV:-.venv}
BIN=$(cd "$VENV/bin" 2>/dev/null && pwd) || { echo "fuzz.sh: $VENV/bin not found; run 'make venv' first" >&2; exit 2; }
for tool in kassa schemathesis python; do
    [[ -x $BIN/$tool ]] || { echo "fuzz.sh: $BIN/$tool not found; run 'make venv' first" >&2; exit 2; }
done

# Re-run this script inside a network namespace of its own (loopback only).
if [[ -z ${KASSA_FUZZ_NETNS:-} ]]; then
    if [[ $(id -u) -eq 0 ]]; then
        isolate=(unshare --net)
    else
        isolate=(unshare --user --map-root-user --net)
    fi
    if ! "${isolate[@]}" true 2>/dev/null; then
        echo "fuzz.sh: cannot create a network namespace (${isolate[*]}); the fuzzer's" \
            "callbacks must not reach the network, so it does not run without one" >&2
        exit 2
    fi
    KASSA_FUZZ_NETNS=1 exec "${isolate[@]}" bash "${BASH_SOURCE[0]}" "$@"
fi
ip link set lo up || { echo "fuzz.sh: cannot bring up loopback in the namespace" >&2; exit 2; }

MAX_TIME=${FUZZ_MAX_TIME:-150}
SEED=${FUZZ_SEED:-$((RANDOM * 32768 + RANDOM))}

work=$(mktemp -d "${TMPDIR:-/tmp}/kassa-fuzz.XXXXXX")
server_pid=""
cleanup() {
    if [[ -n $server_pid ]]; then
        kill -TERM "$server_pid" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
        server_pid=""
    fi
    if [[ -n ${FUZZ_REPORT_DIR:-} ]]; then
        mkdir -p "$FUZZ_REPORT_DIR" && cp -r "$work/report/." "$work/server.log" "$FUZZ_REPORT_DIR/" 2>/dev/null
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'echo; echo "fuzz.sh: interrupted" >&2; exit 130' INT
trap 'echo "fuzz.sh: terminated" >&2; exit 143' TERM HUP

port=$("$BIN/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
export KASSA_DATABASE_URL="sqlite:///$work/kassa.db"
export KASSA_HOST=127.0.0.1 KASSA_PORT=$port KASSA_PATH_PREFIX="" KASSA_ACCESS_LOG=false
# short outbound timeouts: every callback fails fast in the namespace anyway
export KASSA_HOOK_TIMEOUT=1 KASSA_VALIDATION_TIMEOUT=1 KASSA_ACTION_TIMEOUT=1 KASSA_DELIVERY_TIMEOUT=1

"$BIN/kassa" migrate >/dev/null || { echo "fuzz.sh: kassa migrate failed" >&2; exit 1; }
key=$("$BIN/kassa" apikey ensure-dev --key-file "$work/dev-key" | tail -n1)
[[ $key == kassa_* ]] || { echo "fuzz.sh: kassa apikey ensure-dev gave no key" >&2; exit 1; }

"$BIN/kassa" serve >"$work/server.log" 2>&1 &
server_pid=$!

ready=""
for _ in $(seq 150); do
    if "$BIN/python" - "$base/health/ready" <<'PY' 2>/dev/null; then
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=1) as response:
    sys.exit(0 if response.status == 200 else 1)
PY
        ready=1
        break
    fi
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.2
done
if [[ -z $ready ]]; then
    echo "fuzz.sh: kassa serve did not become ready on $base; its log:" >&2
    cat "$work/server.log" >&2
    exit 1
fi

echo "fuzz.sh: kassa serve ready on $base; schemathesis for at most ${MAX_TIME}s, seed $SEED"
"$BIN/schemathesis" --config-file scripts/schemathesis.toml run "$base/openapi.json" \
    --header "Authorization: Bearer $key" \
    --header "x-merchant: demo" \
    --header "x-channel: demo" \
    --max-time "$MAX_TIME" \
    --seed "$SEED" \
    --report json --report-dir "$work/report" \
    "$@"
rc=$?

if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "fuzz.sh: kassa serve died during the run; its log:" >&2
    tail -n 50 "$work/server.log" >&2
    rc=1
fi
exit "$rc"
