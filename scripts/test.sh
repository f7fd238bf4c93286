#!/usr/bin/env bash
# Run the test suite twice: against SQLite, then against a throwaway PostgreSQL.
#
#   scripts/test.sh [PYTEST ARGS...]      (normally via `make test PYTEST_ARGS="-k foo"`)
#
# Both runs always happen (unless interrupted); the exit status is non-zero if either failed.
# The PostgreSQL server is always stopped and its directory removed, also on failure/Ctrl-C.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2

VENV=${VENV:-.venv}
PYTEST="$VENV/bin/pytest"
[[ -x $PYTEST ]] || { echo "test.sh: $PYTEST not found; run 'make venv' first" >&2; exit 2; }

pg_dir=""
cleanup() {
    if [[ -n $pg_dir ]]; then
        scripts/pg.sh stop "$pg_dir" || echo "test.sh: warning: could not stop PostgreSQL in $pg_dir" >&2
        pg_dir=""
    fi
}
trap cleanup EXIT
# On Ctrl-C/TERM: stop here (do not go on to the next run); the EXIT trap cleans up.
trap 'echo; echo "test.sh: interrupted" >&2; exit 130' INT
trap 'echo "test.sh: terminated" >&2; exit 143' TERM HUP

banner() { printf '\n== %s ==\n' "$1"; }

# --- SQLite: the suite creates its own temporary database file. ---
banner "SQLite"
env -u KASSA_TEST_DATABASE_URL "$PYTEST" "$@"
sqlite_rc=$?

# --- PostgreSQL: throwaway cluster on a free port. ---
banner "PostgreSQL"
pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/kassa-pg.XXXXXX")
if pg_url=$(scripts/pg.sh start "$pg_dir"); then
    KASSA_TEST_DATABASE_URL=$pg_url "$PYTEST" "$@"
    pg_rc=$?
else
    echo "test.sh: could not start PostgreSQL" >&2
    pg_rc=1
fi
cleanup

status() { if (($1 == 0)); then echo "ok"; else echo "FAILED (exit $1)"; fi; }
echo
echo "== Summary =="
echo "SQLite:     $(status "$sqlite_rc")"
echo "PostgreSQL: $(status "$pg_rc")"

((sqlite_rc == 0 && pg_rc == 0))
