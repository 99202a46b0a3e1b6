#!/bin/sh
# The ctest bench_e2e_smoke (issue 16): bench/run-e2e with tiny loads (--smoke) on the programs of
# the build under test (BIN_DIR). Passes when every scenario's messages were all accepted and all
# delivered, labgated stopped cleanly, and bench/README.md was left as it was (--no-write).
#   sh bench/e2e_smoke.sh BIN_DIR
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=$1
before=$(cksum <"$repo/bench/README.md")
python3 "$repo/bench/run-e2e" --bin-dir "$bin" --smoke --no-write --no-export --drain-timeout 60
after=$(cksum <"$repo/bench/README.md")
if [ "$before" != "$after" ]; then
  echo "bench_e2e_smoke: bench/README.md changed although run-e2e ran with --no-write" >&2
  exit 1
fi
