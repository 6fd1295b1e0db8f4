#!/usr/bin/env bash
# The two set-up commands of README.md, for a Debian 12 machine:
#   bash deploy/bootstrap.sh run    install what is missing, build, run the proxy on
#                                   conf/ocsp-proxy.yaml (in-process cache, no Redis)
#   bash deploy/bootstrap.sh test   install what is missing, build, run every test; then the
#                                   same in the sanitizer build (clang, ASan + UBSan) with a
#                                   short run of each fuzz target (tests/fuzz/README.md)
# Both are idempotent: installed packages are skipped, the builds are incremental.
# EXTRA_PACKAGES (space-separated) adds packages to install, e.g. for bench/run.
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
SAN_BUILD_DIR=${SAN_BUILD_DIR:-build-san}

# Build and runtime: compiler, meson/ninja, the libraries. Tests: redis-server, openssl,
# curl, python3 + pytest (integration tier), iproute2/util-linux (private network namespace
# so test servers are only reachable on loopback). Sanitizer build: clang, its sanitizer and
# libFuzzer runtimes (libclang-rt-14-dev holds libclang_rt.fuzzer), llvm-symbolizer (llvm) for
# reports with file and line. Real OCSP clients that the integration tier runs against the
# proxy (tests/integration/test_real_clients.py): GnuTLS ocsptool (gnutls-bin), NSS
# vfychain/ocspclnt/certutil (libnss3-tools), Java's PKIX validator (default-jdk-headless).
PACKAGES=(
  meson ninja-build g++ pkg-config clang libclang-rt-14-dev llvm
  libcurl4-openssl-dev libssl-dev libevent-dev libhiredis-dev libyaml-cpp-dev doctest-dev
  redis-server openssl curl ca-certificates
  python3 python3-pytest python3-cryptography iproute2 util-linux mount
  gnutls-bin libnss3-tools default-jdk-headless python3-yaml
)
# Test only: promtool, in Debian's prometheus package, checks and unit-tests the shipped alert
# rules (tests/integration/test_monitoring.py). The package would start a Prometheus server
# on *:9090, the admin listener's default port, so it is installed with services kept from
# starting (policy-rc.d) and its service is left disabled. Headless Chromium renders the
# admin listener's status page (tests/integration/test_status_page.py); nginx checks the
# snippet `client-config --for nginx` prints with `nginx -t` (test_client_config.py; its
# service too is kept from starting).
TEST_PACKAGES=(prometheus chromium nginx)
read -r -a extra <<<"${EXTRA_PACKAGES:-}"
PACKAGES+=("${extra[@]}")

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_missing() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "bootstrap: installing ${missing[*]}" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

# Installs test-only packages without letting them start a service.
install_test_tools() {
  local missing=() p placed=""
  for p in "${TEST_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ "${#missing[@]}" -gt 0 ] || return 0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
    as_root chmod 755 /usr/sbin/policy-rc.d
    placed=1
  fi
  install_missing "${missing[@]}" || { [ -z "$placed" ] || as_root rm -f /usr/sbin/policy-rc.d; return 1; }
  [ -z "$placed" ] || as_root rm -f /usr/sbin/policy-rc.d
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    for p in "${missing[@]}"; do
      as_root systemctl disable --now "$p.service" >/dev/null 2>&1 || true
    done
  fi
}

build() {
  if [ ! -f "$BUILD_DIR/build.ninja" ]; then
    meson setup "$BUILD_DIR" >/dev/null
  fi
  ninja -C "$BUILD_DIR"
}

# The whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer (any report fails
# its test, leaks included), plus the libFuzzer targets (suite "fuzz": each replays its seed
# corpus, then fuzzes for fuzz_seconds). The library is built at -O1 so the instrumented code
# runs at a useful speed; tests/meson.build builds the test code itself at -O0.
build_san() {
  if [ ! -f "$SAN_BUILD_DIR/build.ninja" ]; then
    CXX=clang++ meson setup "$SAN_BUILD_DIR" -Db_sanitize=address,undefined -Db_lundef=false \
      -Doptimization=1 -Dfuzz=true >/dev/null || return 1
  fi
  ninja -C "$SAN_BUILD_DIR"
}

run_tests() {
  local rc=0 san_log="" san_build_log san_pid
  # The sanitizer build compiles while the normal build's tests run, most of whose time is the
  # integration tier waiting on its servers; at the lowest CPU priority, so that the tests get
  # the CPU whenever they want it.
  san_build_log="$(mktemp)"
  (renice -n 19 -p "$BASHPID" >/dev/null && build_san) >"$san_build_log" 2>&1 &
  san_pid=$!
  meson test -C "$BUILD_DIR" --print-errorlogs --num-processes 2 || rc=$?
  if wait "$san_pid"; then
    tail -n 1 "$san_build_log"
    # ASan makes the proxy of the integration tier slower: more room before a timeout.
    meson test -C "$SAN_BUILD_DIR" --print-errorlogs --num-processes 2 --timeout-multiplier 2 ||
      rc=$?
    san_log="$SAN_BUILD_DIR/meson-logs/testlog.json"
  else
    tail -n 60 "$san_build_log"
    echo "bootstrap: the sanitizer build in $SAN_BUILD_DIR failed (above)" >&2
    rc=1
  fi
  rm -f "$san_build_log"
  # One closing line any CI reader understands: "N passed, N failed", over both builds; a
  # build that failed counts as one failure.
  /usr/bin/python3 - "$BUILD_DIR" "$BUILD_DIR/meson-logs/testlog.json" \
    "$SAN_BUILD_DIR" "$san_log" <<'PY'
import json, sys
total = [0, 0, 0]
for name, log in zip(sys.argv[1::2], sys.argv[2::2]):
    counts = [0, 0, 0]  # passed, failed, skipped
    if log:
        for line in open(log):
            r = json.loads(line)["result"]
            counts[0 if r in ("OK", "EXPECTEDFAIL") else 2 if r == "SKIP" else 1] += 1
    else:
        counts[1] = 1
    total = [t + c for t, c in zip(total, counts)]
    print(f"tests in {name}: {counts[0]} passed, {counts[1]} failed, {counts[2]} skipped"
          + ("" if log else " (build failed)"))
print(f"tests: {total[0]} passed, {total[1]} failed, {total[2]} skipped")
PY
  return "$rc"
}

case "${1:-}" in
  run)
    install_missing "${PACKAGES[@]}"
    build
    exec "$BUILD_DIR/ocsp-proxy" --config conf/ocsp-proxy.yaml
    ;;
  test)
    install_missing "${PACKAGES[@]}"
    install_test_tools
    build
    run_tests
    ;;
  build)
    install_missing "${PACKAGES[@]}"
    build
    ;;
  *)
    echo "usage: bash deploy/bootstrap.sh run|test|build" >&2
    exit 2
    ;;
esac
