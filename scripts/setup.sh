#!/usr/bin/env bash
# Installs every dependency LabGate needs to build and test, with apt-get.
# Idempotent: packages already installed are skipped; safe to run on every build.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libpoco-dev libssl-dev libsqlite3-dev sqlite3
  libre2-dev libgtest-dev libgmock-dev googletest libbenchmark-dev
  clang-format python3
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all dependencies present"
fi
