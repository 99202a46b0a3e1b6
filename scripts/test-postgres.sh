#!/usr/bin/env bash
# The PostgreSQL pass of the test suite (issue 17): runs the integration tests listed in
# tests/integration/postgres_suite.txt (ctest -R regular expressions, one per line) a second time,
# with LABGATE_TEST_STORE=postgres, against one throwaway PostgreSQL 15 server for the whole pass
# (scripts/pg-test-server; stopped and removed on exit, also when a test fails or the pass is
# interrupted). Every engine gets a fresh database on it (tests/integration/harness_postgres.h).
# scripts/test.sh runs this after the SQLite pass; it also runs alone on a built tree:
#   scripts/test-postgres.sh [BUILD_DIR]          # BUILD_DIR defaults to $BUILD_DIR or build-test
# Every line of the pass's output starts with "[postgres] ", and a failure ends with a line saying
# it happened on the PostgreSQL back end.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD_DIR=${1:-${BUILD_DIR:-build-test}}
SUITE=tests/integration/postgres_suite.txt

patterns=()
excluded=()
while IFS= read -r line || [[ -n $line ]]; do
  line=${line%%#*}
  line=$(echo "$line" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
  if [[ $line == !* ]]; then
    excluded+=("${line:1}")  # "!REGEX": left out of the pass (the list says why)
  elif [[ -n $line ]]; then
    patterns+=("$line")
  fi
done <"$SUITE"

if ((${#patterns[@]} == 0)); then
  echo "[postgres] 0 tests on PostgreSQL yet ($SUITE lists none): the PostgreSQL pass succeeds"
  exit 0
fi

regex=""
for p in "${patterns[@]}"; do
  regex+="${regex:+|}$p"  # no groups: CMake's regular expressions allow nine at most
done
exclude_args=()
if ((${#excluded[@]})); then
  exclude=""
  for p in "${excluded[@]}"; do
    exclude+="${exclude:+|}$p"
  done
  exclude_args=(-E "$exclude")
fi

PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/labgate-pg.XXXXXX")
status=0
stop_server() {
  bash "$ROOT/scripts/pg-test-server" stop "$PG_DIR" 2>&1 | sed 's/^/[postgres] /' || true
}
trap stop_server EXIT
echo "[postgres] starting the PostgreSQL test server in $PG_DIR"
if ! env_lines=$(bash scripts/pg-test-server start "$PG_DIR" 2>"$PG_DIR.start.log"); then
  sed 's/^/[postgres] /' "$PG_DIR.start.log" >&2
  rm -f "$PG_DIR.start.log"
  echo "[postgres] FAILED ON POSTGRESQL: the test server did not start (above)" >&2
  exit 1
fi
sed 's/^/[postgres] /' "$PG_DIR.start.log"
rm -f "$PG_DIR.start.log"
eval "$env_lines"
export LABGATE_TEST_STORE=postgres

echo "[postgres] ${#patterns[@]} pattern(s) from $SUITE on the PostgreSQL back end," \
  "${#excluded[@]} left out (the list says why)"
(cd "$BUILD_DIR" && ctest --output-on-failure --timeout 300 -j 2 --no-tests=error -L integration \
  -R "$regex" "${exclude_args[@]}") 2>&1 | sed 's/^/[postgres] /' || status=$?
if ((status != 0)); then
  if [[ -f $PG_DIR/data/server.log ]]; then
    echo "[postgres] the server's log (last 40 lines; statements and client errors are never logged):"
    tail -n 40 "$PG_DIR/data/server.log" | sed 's/^/[postgres]   /' || true
  fi
  echo "[postgres] FAILED ON POSTGRESQL: the tests above failed with LABGATE_TEST_STORE=postgres" \
    "(the SQLite pass before it was green; rerun this pass alone: scripts/test-postgres.sh)" >&2
  exit "$status"
fi
echo "[postgres] the PostgreSQL pass succeeded"
