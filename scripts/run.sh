#!/usr/bin/env bash
# Sets up, builds (Release) and starts the LabGate engine on its embedded defaults:
# config/labgate.properties, SQLite under var/, GET http://127.0.0.1:8480/health.
# Extra arguments go to labgated (e.g. --config my.properties).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DLABGATE_BENCH=OFF -DBUILD_TESTING=OFF >/dev/null
cmake --build build -j "$(nproc)" --target labgated labgate
mkdir -p var/inbox  # the shipped configuration's watched folder
exec build/bin/labgated "$@"
