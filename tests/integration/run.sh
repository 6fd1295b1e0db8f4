#!/usr/bin/env bash
# Integration tier: runs pytest on this directory inside a private network namespace, so the
# test servers (`openssl ocsp` binds every interface) are reachable on loopback only, and a
# private mount namespace whose /etc/hosts is a writable copy: real OCSP clients resolve the
# names in certificates through it (conftest.py's `hosts` fixture maps them to loopback).
# Meson sets OCSP_PROXY_BIN, OCSP_SOURCE_ROOT and OCSP_TESTDATA_REAL. Extra arguments go to
# pytest, e.g.:  tests/integration/run.sh -k cache
set -euo pipefail

dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python=/usr/bin/python3

if ! "$python" -c 'import pytest' 2>/dev/null; then
  echo "run.sh: $python has no pytest; install it with: apt-get install -y python3-pytest" >&2
  exit 1
fi
if ! "$python" -c 'import cryptography.x509.ocsp' 2>/dev/null; then
  echo "run.sh: $python has no cryptography (the fault drills build and check OCSP answers" \
       "with it); install it with: apt-get install -y python3-cryptography" >&2
  exit 1
fi
for tool in openssl curl ip unshare mount; do
  if ! command -v "$tool" >/dev/null; then
    echo "run.sh: '$tool' is missing (apt-get install -y openssl curl iproute2 util-linux mount)" >&2
    exit 1
  fi
done
# The real OCSP clients of tests/integration/test_real_clients.py (deploy/bootstrap.sh
# installs them; CI must run them, so their absence fails rather than skips).
for tool in ocsptool:gnutls-bin vfychain:libnss3-tools ocspclnt:libnss3-tools \
            certutil:libnss3-tools java:default-jdk-headless javac:default-jdk-headless; do
  if ! command -v "${tool%%:*}" >/dev/null; then
    echo "run.sh: '${tool%%:*}' is missing (a real OCSP client the tests run);" \
         "install it with: apt-get install -y ${tool#*:}" >&2
    exit 1
  fi
done
# Headless Chromium renders the status page (tests/integration/test_status_page.py); a test
# tool only, installed by deploy/bootstrap.sh (TEST_PACKAGES).
if ! command -v chromium >/dev/null; then
  echo "run.sh: 'chromium' is missing (renders the status page in a test); install it with:" \
       "apt-get install -y --no-install-recommends chromium" >&2
  exit 1
fi
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  echo "run.sh: 'nginx' is missing (checks the printed client-config snippet with nginx -t);" \
       "install it with: apt-get install -y --no-install-recommends nginx" >&2
  exit 1
fi
if ! err="$(unshare --net --mount -- true 2>&1)"; then
  echo "run.sh: cannot create private network and mount namespaces (unshare --net --mount:" \
       "${err:-failed}; needs root or unprivileged user namespaces); not running the test" \
       "servers outside them" >&2
  exit 1
fi

export PYTHONDONTWRITEBYTECODE=1
# The mount namespace outside: the hosts fixture refuses to write /etc/hosts in this one.
export OCSP_OUTER_MOUNT_NS="$(readlink /proc/self/ns/mnt)"
# Inside: loopback up, and /etc/hosts replaced (in this mount namespace only) by a copy the
# tests may write. unshare --mount makes the namespace's mounts private: nothing propagates.
exec unshare --net --mount -- bash -c '
  set -e
  ip link set lo up
  hosts="$(mktemp /tmp/ocsp-proxy-hosts.XXXXXX)"
  cp /etc/hosts "$hosts"
  mount --bind "$hosts" /etc/hosts
  rm "$hosts"  # the mount keeps it; nothing is left behind outside
  dir="$1"; shift
  exec "$0" -m pytest -q -p no:cacheprovider --rootdir "$dir" "$dir" "$@"' \
  "$python" "$dir" "$@"
