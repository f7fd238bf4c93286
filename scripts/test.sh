#!/usr/bin/env bash
# Run the test suite against SQLite, then against a throwaway PostgreSQL, then run the tests
# marked `pgbouncer` (tests/conftest.py: PGBOUNCER_TESTS) once more through a throwaway PgBouncer
# in transaction pooling mode in front of that PostgreSQL, on a database of their own (so the
# migrations run through PgBouncer too), with KASSA_DATABASE_PGBOUNCER=1.
#
#   scripts/test.sh [PYTEST ARGS...]      (normally via `make test PYTEST_ARGS="-k foo"`)
#
# The PYTEST ARGS go to every run (the PgBouncer run selects among the marked tests). All runs
# always happen (unless interrupted); the exit status is non-zero if any failed. PgBouncer and
# the PostgreSQL server are always stopped and their directories removed, also on
# failure/Ctrl-C.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2

VENV=${VENV:-.venv}
PYTEST="$VENV/bin/pytest"
[[ -x $PYTEST ]] || { echo "test.sh: $PYTEST not found; run 'make venv' first" >&2; exit 2; }

pg_dir=""
bnc_dir=""
cleanup() {
    if [[ -n $bnc_dir ]]; then
        scripts/pgbouncer.sh stop "$bnc_dir" || echo "test.sh: warning: could not stop PgBouncer in $bnc_dir" >&2
        bnc_dir=""
    fi
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
env -u KASSA_TEST_DATABASE_URL -u KASSA_DATABASE_PGBOUNCER "$PYTEST" "$@"
sqlite_rc=$?

# --- PostgreSQL: throwaway cluster on a free port. ---
banner "PostgreSQL"
pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/kassa-pg.XXXXXX")
pg_started=0
if pg_url=$(scripts/pg.sh start "$pg_dir"); then
    pg_started=1
    KASSA_TEST_DATABASE_URL=$pg_url env -u KASSA_DATABASE_PGBOUNCER "$PYTEST" "$@"
    pg_rc=$?
else
    echo "test.sh: could not start PostgreSQL" >&2
    pg_rc=1
fi

# --- PostgreSQL via PgBouncer: transaction pooling in front of the same server. ---
banner "PostgreSQL via PgBouncer"
bnc_rc=1
bnc_note=""
if ((pg_started)); then
    bnc_dir=$(mktemp -d "${TMPDIR:-/tmp}/kassa-pgbouncer.XXXXXX")
    if scripts/pg.sh createdb "$pg_dir" kassa_pgbouncer &&
        bnc_url=$(scripts/pgbouncer.sh start "$bnc_dir" "$(cat "$pg_dir/port")" kassa_pgbouncer); then
        KASSA_TEST_DATABASE_URL=$bnc_url KASSA_DATABASE_PGBOUNCER=1 "$PYTEST" -m pgbouncer "$@"
        bnc_rc=$?
        if ((bnc_rc == 5)); then # pytest: no test selected (PYTEST ARGS chose no marked test)
            bnc_rc=0
            bnc_note=" (no test selected)"
        fi
    else
        echo "test.sh: could not start PgBouncer" >&2
    fi
else
    echo "test.sh: skipped: no PostgreSQL" >&2
fi
cleanup

status() { if (($1 == 0)); then echo "ok$2"; else echo "FAILED (exit $1)"; fi; }
echo
echo "== Summary =="
echo "SQLite:                   $(status "$sqlite_rc" "")"
echo "PostgreSQL:               $(status "$pg_rc" "")"
echo "PostgreSQL via PgBouncer: $(status "$bnc_rc" "$bnc_note")"

((sqlite_rc == 0 && pg_rc == 0 && bnc_rc == 0))
