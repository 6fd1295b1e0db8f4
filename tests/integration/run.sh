#!/usr/bin/env bash
# Integration tier: runs pytest on this directory inside a private network namespace, so the
# test servers (`openssl ocsp` binds every interface) are reachable on loopback only.
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
for tool in openssl curl ip unshare; do
  if ! command -v "$tool" >/dev/null; then
    echo "run.sh: '$tool' is missing (apt-get install -y openssl curl iproute2 util-linux)" >&2
    exit 1
  fi
done
if ! err="$(unshare --net -- true 2>&1)"; then
  echo "run.sh: cannot create a private network namespace (unshare --net: ${err:-failed};" \
       "needs root or unprivileged user namespaces); not running the test servers outside one" >&2
  exit 1
fi

export PYTHONDONTWRITEBYTECODE=1
exec unshare --net -- bash -c \
  'ip link set lo up && dir="$1" && shift && exec "$0" -m pytest -q -p no:cacheprovider --rootdir "$dir" "$dir" "$@"' \
  "$python" "$dir" "$@"
