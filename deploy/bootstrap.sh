#!/usr/bin/env bash
# The two set-up commands of README.md, for a Debian 12 machine:
#   bash deploy/bootstrap.sh run    install what is missing, build, run the proxy on
#                                   conf/ocsp-proxy.yaml (in-process cache, no Redis)
#   bash deploy/bootstrap.sh test   install what is missing, build, run every test
# Both are idempotent: installed packages are skipped, the build is incremental.
# EXTRA_PACKAGES (space-separated) adds packages to install, e.g. for bench/run.
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}

# Build and runtime: compiler, meson/ninja, the libraries. Tests: redis-server, openssl,
# curl, python3 + pytest (integration tier), iproute2/util-linux (private network namespace
# so test servers are only reachable on loopback).
PACKAGES=(
  meson ninja-build g++ pkg-config
  libcurl4-openssl-dev libssl-dev libevent-dev libhiredis-dev libyaml-cpp-dev doctest-dev
  redis-server openssl curl ca-certificates
  python3 python3-pytest python3-cryptography iproute2 util-linux
)
read -r -a extra <<<"${EXTRA_PACKAGES:-}"
PACKAGES+=("${extra[@]}")

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_missing() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "bootstrap: installing ${missing[*]}" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

build() {
  if [ ! -f "$BUILD_DIR/build.ninja" ]; then
    meson setup "$BUILD_DIR" >/dev/null
  fi
  ninja -C "$BUILD_DIR"
}

run_tests() {
  local rc=0
  meson test -C "$BUILD_DIR" --print-errorlogs --num-processes 2 || rc=$?
  # One closing line any CI reader understands: "N passed, N failed".
  /usr/bin/python3 - "$BUILD_DIR/meson-logs/testlog.json" <<'PY'
import json, sys
passed = failed = skipped = 0
for line in open(sys.argv[1]):
    r = json.loads(line)["result"]
    if r in ("OK", "EXPECTEDFAIL"): passed += 1
    elif r == "SKIP": skipped += 1
    else: failed += 1
print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
PY
  return "$rc"
}

case "${1:-}" in
  run)
    install_missing
    build
    exec "$BUILD_DIR/ocsp-proxy" --config conf/ocsp-proxy.yaml
    ;;
  test)
    install_missing
    build
    run_tests
    ;;
  build)
    install_missing
    build
    ;;
  *)
    echo "usage: bash deploy/bootstrap.sh run|test|build" >&2
    exit 2
    ;;
esac
