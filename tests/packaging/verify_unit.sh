#!/bin/sh
# `systemd-analyze verify` of packaging/labgated.service, with its programs pointed at the build
# (the unit names /usr/bin/labgated, which need not be installed here). Exit 77 (skipped) when
# systemd-analyze is not available.
# Usage: verify_unit.sh UNIT LABGATED WORK_DIR
set -eu
unit=$1
labgated=$2
work=$3

command -v systemd-analyze >/dev/null 2>&1 || { echo "systemd-analyze not installed: skipped"; exit 77; }
rm -rf "$work"
mkdir -p "$work"
sed -e "s|/usr/bin/labgated|$labgated|g" "$unit" >"$work/labgated.service"
if ! out=$(systemd-analyze verify "$work/labgated.service" 2>&1); then
  echo "$out"
  echo "systemd-analyze verify failed"
  exit 1
fi
# verify exits 0 on some problems it only warns about: a warning about this unit fails the test.
if printf '%s\n' "$out" | grep -i "labgated.service" >/dev/null; then
  echo "$out"
  echo "systemd-analyze reported problems in labgated.service"
  exit 1
fi
echo "systemd-analyze verify: labgated.service OK"
