"""The shipped issuer catalogue end to end: the proxy with conf/ocsp-proxy.yaml as shipped,
its upstream FQDNs pinned (resolve:) to local HTTP servers, sends a request for a certificate
under each hierarchy to the responder that answers for it; and `ocsp-proxy issuers import`
reports every certificate of a broken bundle."""
from __future__ import annotations

import http.server
import json
import os
import subprocess
import threading
from pathlib import Path

import pytest
from cryptography import x509

from ocsp_client import curl
from proxy import Proxy

SOURCE = Path(os.environ["OCSP_SOURCE_ROOT"])
SHIPPED = SOURCE / "conf" / "ocsp-proxy.yaml"
CATALOGUE = SOURCE / "conf" / "catalogue"
BUNDLE = CATALOGUE / "sources" / "cfssl-trust" / "int-bundle.crt"
# responseStatus unauthorized (RFC 6960 §4.2.1), no responseBytes: what a CA answers for an
# issuer it does not serve. The proxy relays it as the CA's answer.
UNAUTHORIZED = bytes.fromhex("3003 0a01 06")


class Recorder:
    """An HTTP server on ADDRESS:80 that answers every OCSP request `unauthorized` and keeps
    the Host header of each."""

    def __init__(self, address: str):
        self.hosts: list[str] = []
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server naming)
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self._answer()

            def do_GET(self):  # noqa: N802
                self._answer()

            def _answer(self):
                recorder.hosts.append(self.headers.get("Host", ""))
                self.send_response(200)
                self.send_header("Content-Type", "application/ocsp-response")
                self.send_header("Content-Length", str(len(UNAUTHORIZED)))
                self.end_headers()
                self.wfile.write(UNAUTHORIZED)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer((address, 80), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def shipped_config(resolve: dict[str, str]) -> str:
    """The shipped config's text, unchanged but for its listeners (port 0), log level, the
    catalogue's path (absolute: the copy lives elsewhere), a resolve: section, and without
    its watch: the watch's own checks would reach the recorders too (watching the catalogue
    is covered in test_watch.py and the unit tests)."""
    text = SHIPPED.read_text()
    start = text.index("\nwatch:\n")
    text = text[:start] + text[text.index("\n\n", start):]
    for old, new in [("ocsp: 127.0.0.1:8080", "ocsp: 127.0.0.1:0"),
                     ("admin: 127.0.0.1:9090", "admin: 127.0.0.1:0"),
                     ("level: info ", "level: debug"),
                     ("issuers: [catalogue/", f"issuers: [{CATALOGUE}/")]:
        assert old in text, old
        text = text.replace(old, new)
    return text + "\nresolve:\n" + "".join(f"  {f}: {ip}\n" for f, ip in resolve.items())


@pytest.fixture(scope="module")
def shipped_proxy(proxy_bin, tmp_path_factory):
    """The shipped config with each upstream FQDN pinned to a recorder of its own
    (127.0.0.10, .11, ...)."""
    listed = subprocess.run([proxy_bin, "firewall-list", "--config", str(SHIPPED)],
                            capture_output=True, text=True, check=True).stdout.splitlines()
    fqdns = [line.split(":")[0] for line in listed if "\tocsp upstream " in line]
    assert len(fqdns) > 5
    resolve = {f: f"127.0.0.{10 + i}" for i, f in enumerate(fqdns)}
    recorders = {f: Recorder(ip) for f, ip in resolve.items()}
    proxy = Proxy(proxy_bin, tmp_path_factory.mktemp("catalogue"), shipped_config(resolve),
                  name="shipped")
    yield proxy, recorders
    proxy.stop()
    for r in recorders.values():
        r.stop()


def catalogued(upstream: str, cn: str) -> Path:
    """The catalogue file of the CA named `cn` under `upstream`."""
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in cn)
    while "__" in stem:
        stem = stem.replace("__", "_")
    found = sorted((CATALOGUE / upstream).glob(f"{stem}_????????.pem"))
    assert len(found) == 1, f"{cn} under {upstream}: {found}"
    return found[0]


def request_under(issuer: Path, tmp_path: Path) -> bytes:
    out = tmp_path / "req.der"
    subprocess.run(["openssl", "ocsp", "-issuer", str(issuer), "-serial", "0x1f2e3d4c5b6a",
                    "-no_nonce", "-reqout", str(out)], check=True, capture_output=True)
    return out.read_bytes()


@pytest.mark.parametrize("upstream,cn,fqdn", [
    # CRL only, like its issuer: its certificates go to the Staat der Nederlanden G3 root's
    # responder.
    ("pkioverheid-root", "UZI-register Zorgverlener CA G3", "rootocsp-g3.pkioverheid.nl"),
    ("pkioverheid-services", "UZI-register Medewerker niet op naam CA G3",
     "domorganisatieservicesocsp-g3.pkioverheid.nl"),
    ("quovadis", "QuoVadis EU Issuing Certification Authority G4", "ocsp.quovadisglobal.com"),
    ("digicert", "DigiCert Global G2 TLS RSA SHA256 2020 CA1", "ocsp.digicert.com"),
    ("globalsign", "GlobalSign RSA OV SSL CA 2018", "ocsp.globalsign.com"),
])
def test_a_certificate_under_a_catalogued_ca_reaches_its_responder(
        shipped_proxy, tmp_path, upstream, cn, fqdn):
    proxy, recorders = shipped_proxy
    before = {f: len(r.hosts) for f, r in recorders.items()}
    answer = curl("POST", proxy.url, request_under(catalogued(upstream, cn), tmp_path))
    assert answer.status == 200
    assert answer.body == UNAUTHORIZED  # the CA's answer, relayed
    reached = {f: r.hosts[before[f]:] for f, r in recorders.items() if len(r.hosts) > before[f]}
    assert reached == {fqdn: [fqdn]}


def import_(proxy_bin: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([proxy_bin, "issuers", "import", "--config", str(SHIPPED),
                           "--at", "2026-12-03", *args], capture_output=True, text=True,
                          timeout=60)


def bundle_blocks() -> list[str]:
    """The PEM blocks of the cfssl_trust bundle, in order (block n is index n - 1)."""
    return ["-----BEGIN CERTIFICATE-----" + b.split("-----END CERTIFICATE-----")[0] +
            "-----END CERTIFICATE-----\n"
            for b in BUNDLE.read_text().split("-----BEGIN CERTIFICATE-----")[1:]]


def block_of(subject_cn: str) -> int:
    """The number (1-based) of the first block whose subject CN is `subject_cn`."""
    for n, block in enumerate(bundle_blocks(), 1):
        if f"CN={subject_cn}," in x509.load_pem_x509_certificate(block.encode()).subject.rfc4514_string():
            return n
    raise LookupError(subject_cn)


def pem_blocks(numbers: list[int]) -> str:
    blocks = bundle_blocks()
    return "".join(blocks[n - 1] for n in numbers)


def test_import_of_a_broken_bundle_reports_every_certificate_and_keeps_the_good_ones(
        proxy_bin, tmp_path):
    chain = [block_of("Staat der Nederlanden Organisatie Persoon CA - G3"),
             block_of("UZI-register Zorgverlener CA G3")]
    bundle = tmp_path / "vendor.pem"
    bundle.write_text(
        "UZI-register chain, and some trouble\n" + pem_blocks(chain + [531, 269, 10]) +
        "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n"
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    out = tmp_path / "catalogue"
    result = import_(proxy_bin, "--out", str(out), str(bundle))
    assert result.returncode == 0, result.stderr
    mine = [line for line in result.stdout.splitlines() if f"{bundle}#" in line]

    def line_of(block: int, kind: str) -> str:
        found = [line for line in mine if line.startswith(kind) and f"{bundle}#{block} " in line]
        assert len(found) == 1, "\n".join(mine)
        return found[0]

    assert len(mine) == 6  # the 5 skipped blocks, and a note on one
    assert "no_configured_root" in line_of(3, "skipped")  # SHECA, under a root not configured
    assert "extendedKeyUsage writes critical FALSE" in line_of(3, "note")
    assert "not_a_ca" in line_of(4, "skipped")
    assert "expired" in line_of(5, "skipped") and "notAfter 2026-11-16" in line_of(5, "skipped")
    assert "unparseable" in line_of(6, "skipped") and "not valid base64" in line_of(6, "skipped")
    assert 'PEM block "PRIVATE KEY" is not a certificate' in line_of(7, "skipped")
    kept = [line for line in result.stdout.splitlines() if line.startswith("kept ")]
    uzi = [line for line in kept if "CN=UZI-register Zorgverlener CA G3," in line]
    assert len(uzi) == 1 and uzi[0].split()[1] == "pkioverheid-root"
    index = json.loads((out / "index.json").read_text())
    assert index["at"] == "2026-12-03T00:00:00Z"
    assert {s["source"] for s in index["skipped"]} == {f"{bundle}#{n}" for n in range(3, 8)}
    assert {i["source"] for i in index["issuers"] if i["source"].startswith(str(bundle))} == {
        f"{bundle}#1", f"{bundle}#2"}
    files = sorted(p.name for p in (out / "pkioverheid-root").glob("*.pem"))
    assert "UZI-register_Zorgverlener_CA_G3_3ead4f72.pem" in files
    assert (out / "CATALOGUE.md").read_text().startswith("# Issuer catalogue")


def test_import_exit_code_says_whether_anything_of_the_bundles_was_kept(proxy_bin, tmp_path):
    broken = tmp_path / "broken.pem"
    broken.write_text(pem_blocks([531, 269]) + "-----BEGIN CERTIFICATE-----\n!!\n"
                      "-----END CERTIFICATE-----\n")
    result = import_(proxy_bin, str(broken))
    assert result.returncode == 1
    assert "no certificate of the bundles was kept" in result.stderr
    assert sum(f"{broken}#" in line for line in result.stdout.splitlines()
               if line.startswith("skipped")) == 3

    # The Staat der Nederlanden G3 root bound to a fresh upstream: kept, exit 0.
    root = CATALOGUE / "sources" / "mozilla-roots" / "Staat_der_Nederlanden_Root_CA_G3.pem"
    good = import_(proxy_bin, "--roots", f"pkioverheid-root={root}", str(BUNDLE))
    assert good.returncode == 0, good.stderr
    assert "Kept 325:" in good.stdout
    assert import_(proxy_bin, "--roots", f"nosuch={root}", str(broken)).returncode == 1
    assert import_(proxy_bin).returncode == 64


def test_import_reads_der_and_pkcs7_files_of_a_directory(proxy_bin, tmp_path):
    bundles = tmp_path / "vendor"
    bundles.mkdir()
    persoon = tmp_path / "persoon.pem"
    persoon.write_text(pem_blocks([block_of("Staat der Nederlanden Organisatie Persoon CA - G3")]))
    uzi = tmp_path / "uzi.pem"
    uzi.write_text(pem_blocks([block_of("UZI-register Zorgverlener CA G3")]))
    subprocess.run(["openssl", "x509", "-in", str(uzi), "-outform", "DER",
                    "-out", str(bundles / "b-uzi.der")], check=True)
    subprocess.run(["openssl", "crl2pkcs7", "-nocrl", "-certfile", str(persoon), "-outform", "DER",
                    "-out", str(bundles / "a-persoon.p7b")], check=True)
    (bundles / "c-junk.cer").write_bytes(b"\x30\x03\x0a\x01\x06")  # an OCSP response
    (bundles / "notes.txt").write_text("not read\n")
    result = import_(proxy_bin, str(bundles))
    assert result.returncode == 0, result.stderr
    kept = [line for line in result.stdout.splitlines() if line.startswith("kept ")]
    assert any("CN=UZI-register Zorgverlener CA G3," in line for line in kept)
    assert any("CN=Staat der Nederlanden Organisatie Persoon CA - G3," in line for line in kept)
    skipped = [line for line in result.stdout.splitlines() if line.startswith("skipped ")]
    assert skipped == [f"skipped  unparseable              {bundles}/c-junk.cer -: neither PEM "
                       "nor a DER certificate or PKCS#7 bundle"]
