#!/bin/sh
# Installs the build tree into a fresh prefix with `cmake --install` and checks the layout of
# docs/operations.md: programs in bin, the packaging configuration in etc/labgate (data under
# /var/lib/labgate, valid for `labgated --check-config` once its paths point into the prefix), the
# systemd unit and sysusers entry, the documentation, the state directory.
# Usage: install_layout.sh CMAKE BUILD_DIR PREFIX
set -eu
cmake=$1
build=$2
prefix=$3

rm -rf "$prefix"
"$cmake" --install "$build" --prefix "$prefix" >"$prefix.log" 2>&1 || {
  cat "$prefix.log"
  echo "cmake --install failed"
  exit 1
}

status=0
for f in bin/labgated bin/labgate \
    etc/labgate/labgate.properties etc/labgate/phi-patterns.json \
    etc/labgate/common-passwords.txt etc/labgate/mappings/example-lcmsms.csv \
    etc/labgate/rules/lcms-default.json etc/labgate/rules/lcms-research.json \
    etc/labgate/rules/example-site.json \
    lib/systemd/system/labgated.service lib/sysusers.d/labgate.conf \
    share/doc/labgate/README.md share/doc/labgate/operations.md \
    share/doc/labgate/configuration.md; do
  if [ ! -f "$prefix/$f" ]; then
    echo "missing: $f"
    status=1
  fi
done
for f in bin/labgated bin/labgate; do
  [ -x "$prefix/$f" ] || { echo "not executable: $f"; status=1; }
done
[ -d "$prefix/var/lib/labgate" ] || { echo "missing directory: var/lib/labgate"; status=1; }

props="$prefix/etc/labgate/labgate.properties"
grep -q '^data.dir = /var/lib/labgate$' "$props" || { echo "data.dir is not /var/lib/labgate"; status=1; }
if grep -q '^[a-z].* = config/' "$props"; then
  echo "the installed configuration names repository paths (config/...)"
  status=1
fi

# The installed configuration is complete and valid: with /etc/labgate and /var/lib/labgate
# pointed into the prefix, --check-config accepts it (it opens nothing).
sed -e "s|/etc/labgate|$prefix/etc/labgate|g" -e "s|/var/lib/labgate|$prefix/var/lib/labgate|g" \
  -e "s|/var/log/labgate|$prefix/var/log/labgate|g" "$props" >"$prefix/check.properties"
if ! out=$("$prefix/bin/labgated" --check-config --config "$prefix/check.properties" 2>&1); then
  echo "labgated --check-config refused the installed configuration: $out"
  status=1
fi
"$prefix/bin/labgated" --version | grep -q '^labgated ' || { echo "labgated --version failed"; status=1; }

[ $status -eq 0 ] && echo "install layout OK under $prefix"
exit $status
