#!/usr/bin/env bash
# Regenerates the derived part of the fuzz seed corpus (tests/fuzz/corpus/<target>/) and the
# fixed test PKI the validator, CRL and config targets load (tests/fuzz/pki/):
#   real-*   copies of small files from tests/data/real (sources and licences: its
#            MANIFEST.md; the big CRL is left out: large seeds slow every mutation down), and
#            GET paths / URLs derived from them
#   pki-*    made with tests/integration/pki.py and the openssl CLI: requests, responses signed
#            CA-direct and by a delegated responder, CRLs (DER and PEM)
#   repo-*   conf/ocsp-proxy.yaml with its issuer paths pointed at tests/fuzz/pki
#   pki-entry-*  Redis cache entries (cache/entry_codec.h, version 1) around the pki-resp-*
#            responses: good, revoked with and without a reason, unknown, no nextUpdate
#   pki-snapshot-*  cache snapshots (cache/snapshot_codec.h) of those responses and the pki
#            CRLs, written by the real encoder: build/tests/make_snapshot_seeds (the normal
#            build; OCSP_BUILD names another build directory)
# Hand-written seeds (hand-*) and regression inputs (regress-*) are never touched. The PKI is
# random, so a run changes every pki-* file: commit tests/fuzz/pki and the seeds together.
#   bash tests/fuzz/make_corpus.sh
set -euo pipefail

fuzz="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$fuzz/../.." && pwd)"
real="${OCSP_TESTDATA_REAL:-$root/tests/data/real}"
corpus="$fuzz/corpus"
[ -d "$real" ] || { echo "make_corpus.sh: no real test data at $real" >&2; exit 1; }

for target in request_post request_get validator crl config url entry_codec snapshot; do
  mkdir -p "$corpus/$target"
  rm -f "$corpus/$target"/real-* "$corpus/$target"/pki-* "$corpus/$target"/repo-*
done

# "aws-lc-ocsp/ocsp_request.der" -> "real-aws-lc-ocsp-ocsp_request.der"
seed_name() { echo "real-$(echo "$1" | tr '/' '-')"; }
copy_real() {  # target, files relative to $real
  local target="$1"; shift
  for f in "$@"; do cp "$real/$f" "$corpus/$target/$(seed_name "$f")"; done
}

# RFC 5019 GET paths for one DER request: URL-encoded standard base64, base64url without
# padding, and standard base64 with only some characters escaped (what some clients send).
get_paths() {  # der, name prefix
  local b64
  b64="$(base64 -w0 "$1")"
  printf '/%s' "$(printf '%s' "$b64" | sed 's/+/%2B/g; s/\//%2F/g; s/=/%3D/g')" \
    >"$corpus/request_get/$2-urlencoded"
  printf '/%s' "$(printf '%s' "$b64" | tr '+/' '-_' | tr -d '=')" >"$corpus/request_get/$2-base64url"
  printf '/%s' "$(printf '%s' "$b64" | sed 's/=/%3D/g')" >"$corpus/request_get/$2-partly-escaped"
}

# --- Real data --------------------------------------------------------------------------------

cd "$real"
requests=(aws-lc-ocsp/ocsp_request*.der golang-x-crypto-ocsp/ocspRequest.der
          pyca-cryptography-vectors/ocsp/req-*.der pyca-cryptography-vectors/ocsp/ocsp-army.*-req.der)
responses=(aws-lc-ocsp/ocsp_response*.der openssl-ocsp-tests/der/*.der
           golang-x-crypto-ocsp/ocspResponse*.der golang-x-crypto-ocsp/errorResponse_*.der
           pyca-cryptography-vectors/ocsp/resp-*.der pyca-cryptography-vectors/ocsp/ocsp-army.deps.mil-resp.der)
crls=(pyca-cryptography-vectors/PKITS/*.crl)
for f in pyca-cryptography-vectors/crl/*crl*.pem; do
  [ "$(basename "$f")" = crl_almost_10k.pem ] || crls+=("$f")
done
copy_real request_post "${requests[@]}"
copy_real validator "${responses[@]}"
copy_real crl "${crls[@]}"
for f in "${requests[@]}"; do get_paths "$f" "$(seed_name "$f")"; done
# OpenSSL's hand-corrupted responses are base64 without armour; the fuzzer wants DER.
for f in openssl-ocsp-tests/{ISOP,WRID,WINH,WIKH,ISDOSC,WKDOSC}_*.ors; do
  base64 -d "$f" >"$corpus/validator/$(seed_name "${f%.ors}").der"
done
# The PEM CRLs once more as DER: both paths of the parser.
for f in pyca-cryptography-vectors/crl/{crl_all_reasons,crl_ian_aia_aki,valid_signature_crl}.pem; do
  openssl crl -in "$f" -outform DER -out "$corpus/crl/$(seed_name "${f%.pem}").der"
done
# URLs the way CAs write them: OCSP, caIssuers and CRL distribution points of real
# certificates, each followed by the Host header a client would send for it.
n=0
for f in */*.pem */*.crt golang-x-crypto-ocsp/*Cert*.der; do
  form=PEM; [[ "$f" == *.pem ]] || form=DER
  openssl x509 -inform "$form" -in "$f" -noout -text 2>/dev/null |
    grep -oE '(URI:|CA Issuers - URI:|OCSP - URI:)https?://[^ ,]+' | sed 's/^.*URI://' || true
done | sort -u | while read -r url; do
  host="${url#*://}"; host="${host%%/*}"
  printf '%s\n%s' "$url" "$host" >"$corpus/url/real-url-$n"
  n=$((n + 1))
done
cd "$root"

# --- Generated PKI ----------------------------------------------------------------------------

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 - "$root/tests/integration" "$work" <<'PY'
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from pki import Pki

pki = Pki(Path(sys.argv[2]) / "pki")
pki.make_crl(pki.ica, [pki.revoked, pki.good2, "0A1B2C", "00FF"], out_name="ica.crl")
pki.make_crl(pki.ica, [], out_name="ica-empty.crl")
pki.make_crl(pki.root, [pki.other_ica], out_name="root.crl")
pki.make_crl(pki.stranger, ["01"], out_name="stranger.crl")
PY
p="$work/pki"
mkdir -p "$fuzz/pki"
cp "$p/root.pem" "$p/ica.pem" "$p/resp.pem" "$fuzz/pki/"
ocsp_req() { openssl ocsp -issuer "$p/ica.pem" "$@" 2>/dev/null; }
ocsp_req -cert "$p/good.pem" -reqout "$fuzz/pki/request.der"
ocsp_req -cert "$p/good.pem" -no_nonce -reqout "$work/req-good-no-nonce.der"
ocsp_req -cert "$p/revoked.pem" -reqout "$work/req-revoked.der"
ocsp_req -cert "$p/unlisted.pem" -reqout "$work/req-unknown.der"
ocsp_req -cert "$p/good.pem" -cert "$p/revoked.pem" -cert "$p/good2.pem" -reqout "$work/req-three.der"
ocsp_req -sha256 -cert "$p/good.pem" -reqout "$work/req-sha256.der"
ocsp_req -cert "$p/good.pem" -signer "$p/resp.pem" -signkey "$p/resp.key" -reqout "$work/req-signed.der"
cp "$fuzz/pki/request.der" "$work/req-good.der"

# Answers from `openssl ocsp` acting as the responder: delegated (embedding its certificate),
# CA-direct, without certificates, with a key-hash ResponderID; nextUpdate a week on, or none.
respond() {  # request, output, signer name, extra options
  local req="$1" out="$2" signer="$3"; shift 3
  openssl ocsp -index "$p/index.txt" -CA "$p/ica.pem" -rsigner "$p/$signer.pem" \
    -rkey "$p/$signer.key" -reqin "$req" -respout "$out" "$@" >/dev/null 2>&1
}
for r in good good-no-nonce revoked unknown three sha256 signed; do
  respond "$work/req-$r.der" "$corpus/validator/pki-resp-$r.der" resp -ndays 7
done
respond "$work/req-good.der" "$corpus/validator/pki-resp-good-ca-direct.der" ica -ndays 7
respond "$work/req-good.der" "$corpus/validator/pki-resp-good-no-certs.der" resp -resp_no_certs -ndays 7
respond "$work/req-revoked.der" "$corpus/validator/pki-resp-revoked-key-id.der" resp -resp_key_id -ndays 7
respond "$work/req-good.der" "$corpus/validator/pki-resp-good-rogue.der" rogue -ndays 7
respond "$work/req-good.der" "$corpus/validator/pki-resp-good-no-next-update.der" resp

for r in good good-no-nonce revoked unknown three sha256 signed; do
  cp "$work/req-$r.der" "$corpus/request_post/pki-req-$r.der"
  get_paths "$work/req-$r.der" "pki-req-$r"
done
for c in ica ica-empty root stranger; do
  cp "$p/$c.crl" "$corpus/crl/pki-$c.crl"
  openssl crl -inform DER -in "$p/$c.crl" -out "$corpus/crl/pki-$c.pem"
done

# Redis entries as cache/entry_codec.h lays them out, one per status and revocation form.
entry_seeds() {
  /usr/bin/python3 - "$corpus" <<'PY'
import struct, sys
from pathlib import Path
corpus = Path(sys.argv[1])
def entry(der, status, revocation=None, fqdn=b"ocsp.test.example", next_update=1_700_604_800):
    time, reason = revocation if revocation else (0, -1)
    return (struct.pack(">Bqqqq", 1, 1_700_000_000, 1_700_000_000, next_update, 1_700_000_100)
            + struct.pack(">BBqb", status, 1 if revocation else 0, time, reason)
            + struct.pack(">H", len(fqdn)) + fqdn + struct.pack(">I", len(der)) + der)
seeds = {
    "good": ("pki-resp-good.der", 0, None, {}),
    "revoked-key-compromise": ("pki-resp-revoked.der", 1, (1_699_800_000, 1), {}),
    "revoked-no-reason": ("pki-resp-revoked-key-id.der", 1, (1_699_800_000, -1), {}),
    "unknown": ("pki-resp-unknown.der", 2, None, {}),
    "no-next-update": ("pki-resp-good-no-next-update.der", 0, None, {"next_update": 0}),
    "no-fqdn": ("pki-resp-three.der", 0, None, {"fqdn": b""}),
}
(corpus / "entry_codec").mkdir(exist_ok=True)
for name, (resp, status, revocation, extra) in seeds.items():
    der = (corpus / "validator" / resp).read_bytes()
    (corpus / "entry_codec" / f"pki-entry-{name}").write_bytes(entry(der, status, revocation, **extra))
PY
}
entry_seeds

# Cache snapshots of the answers and CRLs above, by the real encoder.
seeds_tool="${OCSP_BUILD:-$root/build}/tests/make_snapshot_seeds"
[ -x "$seeds_tool" ] || { echo "make_corpus.sh: build $seeds_tool first (ninja -C build)" >&2; exit 1; }
"$seeds_tool" "$fuzz"

# --- The shipped config, pointed at the fuzz PKI ------------------------------------------------

sed -E 's#issuers: \[issuers/[a-z]+\]#issuers: [ica.pem]#' "$root/conf/ocsp-proxy.yaml" \
  >"$corpus/config/repo-ocsp-proxy.yaml"

du -sh "$corpus" "$fuzz/pki"
