#!/usr/bin/env bash
# Sets up, builds and runs LabGate's whole test suite: unit tests, integration tests against the
# real labgated, and the corpus/reference tests when ../shared is present (the numeric reference
# tests also run on our own data in tests/data/reference). The full run also runs clang-tidy
# (scripts/clang_tidy.sh: the root .clang-tidy over every C++ file, every finding an error) after
# the Release build; it takes 10 to 16 minutes on 2 cores (docs/architecture.md).
#
# The suite runs on a build with AddressSanitizer + UndefinedBehaviorSanitizer and warnings as
# errors, so what passes here is also memory-clean and warning-clean. The Release build (what
# scripts/run.sh builds) is compiled with warnings as errors too: GCC reports some warnings only
# with optimisation on.
#   scripts/test.sh              # everything, with the Release build and clang-tidy
#   scripts/test.sh -R Store     # extra arguments go to ctest (here: only tests matching Store);
#                                # then neither the Release build, clang-tidy nor the PostgreSQL
#                                # pass runs (LABGATE_POSTGRES_PASS=1 runs that pass anyway)
# After the SQLite pass, the integration tests listed in tests/integration/postgres_suite.txt run a
# second time against a throwaway PostgreSQL 15 server (scripts/test-postgres.sh, issue 17).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

# House style: every C++ file as clang-format (the root .clang-format) leaves it.
git ls-files '*.cpp' '*.h' | xargs clang-format --dry-run --Werror

BUILD_DIR=${BUILD_DIR:-build-test}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
  -DLABGATE_WERROR=ON -DLABGATE_SANITIZE=ON -DLABGATE_BENCH=ON >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)"

if [[ $# -eq 0 ]]; then
  cmake -S . -B build-release-check -G Ninja -DCMAKE_BUILD_TYPE=Release -DLABGATE_WERROR=ON \
    -DBUILD_TESTING=OFF -DLABGATE_BENCH=ON >/dev/null
  cmake --build build-release-check -j "$(nproc)"
  scripts/clang_tidy.sh "$BUILD_DIR"
fi

# The store's unit tests run on both back ends (tests/unit/engine/store/pg_test_database.h): one
# throwaway PostgreSQL server for the whole SQLite pass, stopped on exit (without it every such
# test process would start a server of its own).
if [[ -z ${LABGATE_TEST_PG_URL:-} ]]; then
  UNIT_PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/labgate-unit-pg.XXXXXX")
  trap 'bash scripts/pg-test-server stop "$UNIT_PG_DIR" >/dev/null 2>&1 || true' EXIT
  eval "$(bash scripts/pg-test-server start "$UNIT_PG_DIR" 2>/dev/null)"
  export LABGATE_TEST_PG_URL LABGATE_TEST_PG_PASSWORD_FILE
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
(
  cd "$BUILD_DIR"
  echo "== SQLite pass: unit tests, and the integration tests on the SQLite back end (the default)"
  ctest --output-on-failure --timeout 300 -j 2 "$@"
) || {
  status=$?
  echo "test.sh: FAILED IN THE SQLITE PASS (unit tests or the integration tests on SQLite)" >&2
  exit "$status"
}

# Issue 17: the integration tests of tests/integration/postgres_suite.txt once more, on the
# PostgreSQL back end (a throwaway server started and removed by scripts/test-postgres.sh). With
# extra ctest arguments only when LABGATE_POSTGRES_PASS=1 asks for it.
if [[ $# -eq 0 || ${LABGATE_POSTGRES_PASS:-0} == 1 ]]; then
  echo "== PostgreSQL pass: the integration tests of tests/integration/postgres_suite.txt"
  env -u LABGATE_TEST_PG_URL -u LABGATE_TEST_PG_PASSWORD_FILE bash scripts/test-postgres.sh "$BUILD_DIR"
fi
