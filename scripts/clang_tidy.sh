#!/usr/bin/env bash
# Runs clang-tidy (the root .clang-tidy: naming, bugprone-*, performance-*; every warning an error)
# over every C++ source file of the repository, with the compile commands of a CMake build
# directory (default build-test, configured with CMAKE_EXPORT_COMPILE_COMMANDS=ON). Headers are
# checked through the files that include them (HeaderFilterRegex). Sources outside the build's
# compile commands (the libFuzzer harnesses, built with clang by a custom command) are checked
# with the flags of the project's include layout.
#   scripts/clang_tidy.sh [BUILD_DIR [PATH_REGEX]]   # PATH_REGEX (grep -E): only matching files
# Exits non-zero when clang-tidy reports anything.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${1:-build-test}
FILTER=${2:-.}
DB="$BUILD_DIR/compile_commands.json"
if [[ ! -f "$DB" ]]; then
  echo "clang_tidy: $DB is missing: configure $BUILD_DIR with -DCMAKE_EXPORT_COMPILE_COMMANDS=ON" >&2
  exit 2
fi
JOBS=${JOBS:-$(nproc)}
# GCC-only warning flags in the compile commands (-Wno-restrict) are not clang-tidy's concern.
EXTRA=(-extra-arg=-Wno-unknown-warning-option)

# Files in the compile commands: in parallel with run-clang-tidy.
in_db=$(python3 -c 'import json,os,sys; print("\n".join(sorted({os.path.realpath(e["file"]) for e in json.load(open(sys.argv[1]))})))' "$DB")
status=0
files=()
others=()
while IFS= read -r f; do
  if grep -qxF "$PWD/$f" <<<"$in_db"; then files+=("$PWD/$f"); else others+=("$f"); fi
done < <(git ls-files '*.cpp' | grep -E "$FILTER")

start=$SECONDS
if command -v run-clang-tidy >/dev/null 2>&1; then
  if ((${#files[@]})); then
    run-clang-tidy -p "$BUILD_DIR" -j "$JOBS" -quiet "${EXTRA[@]}" "${files[@]}" \
      >"$BUILD_DIR/clang-tidy.log" 2>&1 || status=1
  fi
else
  : >"$BUILD_DIR/clang-tidy.log"
  ((${#files[@]} == 0)) || printf '%s\n' "${files[@]}" |
    xargs -P "$JOBS" -n 4 clang-tidy -p "$BUILD_DIR" --quiet --extra-arg=-Wno-unknown-warning-option \
      >"$BUILD_DIR/clang-tidy.log" 2>&1 || status=1
fi
# The rest (libFuzzer harnesses): the include layout of the build, C++20.
for f in ${others[@]+"${others[@]}"}; do
  clang-tidy --quiet "$f" -- -std=c++20 -I. -I"$BUILD_DIR/generated" -I/usr/include/lua5.4 \
    -I/usr/include/libxml2 >>"$BUILD_DIR/clang-tidy.log" 2>&1 || status=1
done
echo "clang_tidy: ${#files[@]} files from $DB and ${#others[@]} others in $((SECONDS - start)) s"
if ((status != 0)); then
  grep -E '(error|warning):' "$BUILD_DIR/clang-tidy.log" | sort -u >&2 || true
  echo "clang_tidy: findings above (full output in $BUILD_DIR/clang-tidy.log)" >&2
fi
exit "$status"
