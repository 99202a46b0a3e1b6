#!/usr/bin/env bash
# Installs every dependency LabGate needs to build and test, with apt-get.
# Idempotent: packages already installed are skipped; safe to run on every build.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libpoco-dev libssl-dev libsqlite3-dev sqlite3 libpq-dev postgresql
  libre2-dev libgtest-dev libgmock-dev googletest libbenchmark-dev libpugixml-dev libxml2-dev liblua5.4-dev
  libargon2-dev libyaml-cpp-dev libicu-dev libfmt-dev
  clang-format clang clang-tidy python3
  python3-hl7 openssl
  prometheus
  chromium fonts-dejavu-core
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# Node.js with npm: any installed Node.js that brings npm will do (some images ship a newer one
# than Debian's, whose separate npm package would conflict with it).
if ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi

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

# The browser console's build and test tools (esbuild, typescript, playwright-core, which drives
# Debian's chromium in the browser tests), from the lock file into console/web/node_modules.
(
  cd "$(dirname "$0")/../console/web"
  if [[ ! -d node_modules/esbuild ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
    echo "setup: installing the console's npm build tools"
    npm ci --no-audit --no-fund --loglevel=error
  fi
)

# The independently written HL7 client (npm simple-hl7) the integration tests send through,
# installed from the lock file into the test tree (tests/clients/node_modules, not committed).
cd "$(dirname "$0")/../tests/clients"
if [[ ! -d node_modules/simple-hl7 ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "setup: installing the npm test clients"
  npm ci --no-audit --no-fund --loglevel=error
fi
