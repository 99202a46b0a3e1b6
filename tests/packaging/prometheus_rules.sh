#!/bin/sh
# `promtool check rules` and `promtool test rules` of packaging/prometheus/labgate.rules.yml with
# its test file labgate.rules.test.yml (docs/operations.md "Alerts"). Fails, never skips, when
# promtool is missing: scripts/setup.sh installs it (Debian's prometheus package).
# Usage: prometheus_rules.sh PACKAGING_PROMETHEUS_DIR
set -eu
dir=$1

if ! command -v promtool >/dev/null 2>&1; then
  echo "promtool not installed (Debian package prometheus; scripts/setup.sh installs it)"
  exit 1
fi
cd "$dir"
promtool check rules labgate.rules.yml
promtool test rules labgate.rules.test.yml
echo "promtool: labgate.rules.yml checked and its tests pass"
