"""`ocsp-proxy responder-key new`: the proxy's own OCSP responder key, its self-signed
certificate or a request for the site's CA, and what the network team is told."""
from __future__ import annotations

import os
import re
import socket
import stat
import subprocess
from pathlib import Path

import pytest

from proxy import proxy_config, to_yaml, upstream


def run(proxy_bin: str, *args: str, umask: int | None = None) -> subprocess.CompletedProcess:
    def set_umask():
        if umask is not None:
            os.umask(umask)
    return subprocess.run([proxy_bin, "responder-key", *args], capture_output=True, text=True,
                          timeout=60, preexec_fn=set_umask)


def openssl(*args: str) -> str:
    result = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def made(proxy_bin, tmp_path_factory):
    """One self-signed responder, made with a umask that would leave files world-readable."""
    out = tmp_path_factory.mktemp("responder") / "keys"
    result = run(proxy_bin, "new", "--out", str(out), umask=0)
    assert result.returncode == 0, result.stderr
    return out, result.stdout


def test_key_is_0600_certificate_public_and_fingerprint_printed(made):
    out, stdout = made
    assert stat.S_IMODE((out / "responder.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((out / "responder.pem").stat().st_mode) == 0o644
    assert not (out / "responder.csr").exists()
    assert sorted(p.name for p in out.iterdir()) == ["responder.key", "responder.pem"]
    fingerprint = openssl("x509", "-in", str(out / "responder.pem"), "-noout", "-fingerprint",
                          "-sha256").strip().split("=", 1)[1]
    assert f"SHA-256: {fingerprint}\n" in stdout
    # The key is the certificate's.
    key_pub = openssl("pkey", "-in", str(out / "responder.key"), "-pubout")
    cert_pub = openssl("x509", "-in", str(out / "responder.pem"), "-noout", "-pubkey")
    assert key_pub == cert_pub


def test_certificate_is_an_ocsp_responder_with_no_check_for_two_years(made):
    out, stdout = made
    text = openssl("x509", "-in", str(out / "responder.pem"), "-noout", "-text")
    assert re.search(r"X509v3 Extended Key Usage: *\n *OCSP Signing\n", text)
    assert "OCSP No Check" in text
    assert re.search(r"X509v3 Basic Constraints: critical\n *CA:FALSE\n", text)
    assert re.search(r"X509v3 Key Usage: critical\n *Digital Signature\n", text)
    assert "X509v3 Subject Key Identifier" in text
    assert "ASN1 OID: prime256v1" in text
    subject = f"CN=ocsp-proxy local responder {socket.gethostname()}"
    assert f"Subject: {subject}\n" in stdout
    dates = openssl("x509", "-in", str(out / "responder.pem"), "-noout", "-startdate",
                    "-enddate", "-dateopt", "iso_8601")
    years = re.findall(r"=(\d{4})-", dates)
    assert int(years[1]) - int(years[0]) == 2


def test_printed_instructions_name_the_files_and_each_client(made):
    out, stdout = made
    assert f"  key: {out / 'responder.key'}\n  cert: {out / 'responder.pem'}\n" in stdout
    assert "-VAfile responder.pem" in stdout
    assert f"ocsp.responderCertSubjectName=CN=ocsp-proxy local responder " in stdout
    assert "keytool -importcert" in stdout
    assert "certutil -A -d sql:NSSDB" in stdout
    assert "certutil -addstore Root responder.pem" in stdout


def test_existing_files_are_kept_without_force_and_replaced_with_it(made, proxy_bin):
    out, _ = made
    key_before = (out / "responder.key").read_bytes()
    refused = run(proxy_bin, "new", "--out", str(out))
    assert refused.returncode == 1
    assert f"{out / 'responder.key'} exists; --force replaces it" in refused.stderr
    assert (out / "responder.key").read_bytes() == key_before
    assert sorted(p.name for p in out.iterdir()) == ["responder.key", "responder.pem"]


def test_force_replaces_both_files_keeping_the_key_private(proxy_bin, tmp_path):
    out = tmp_path / "keys"
    assert run(proxy_bin, "new", "--out", str(out)).returncode == 0
    key_before = (out / "responder.key").read_bytes()
    cert_before = (out / "responder.pem").read_bytes()
    (out / "responder.key").chmod(0o644)  # replaced by a new file: the old mode goes with it
    replaced = run(proxy_bin, "new", "--out", str(out), "--force", "--algorithm", "rsa-2048",
                   "--subject", "CN=responder,O=Example Hospital,C=NL", "--days", "30",
                   umask=0)
    assert replaced.returncode == 0, replaced.stderr
    assert (out / "responder.key").read_bytes() != key_before
    assert (out / "responder.pem").read_bytes() != cert_before
    assert stat.S_IMODE((out / "responder.key").stat().st_mode) == 0o600
    text = openssl("x509", "-in", str(out / "responder.pem"), "-noout", "-text")
    assert "Public-Key: (2048 bit)" in text
    assert "Subject: C = NL, O = Example Hospital, CN = responder" in text
    assert "ocsp.responderCertSubjectName=CN=responder,O=Example Hospital,C=NL\n" in \
        replaced.stdout


def test_csr_requests_the_responder_extensions_and_verifies(proxy_bin, tmp_path):
    out = tmp_path / "keys"
    result = run(proxy_bin, "new", "--out", str(out), "--csr", "--subject",
                 "/C=NL/O=Example Hospital/CN=ocsp responder")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["responder.csr", "responder.key"]
    csr = str(out / "responder.csr")
    verified = subprocess.run(["openssl", "req", "-in", csr, "-verify", "-noout"],
                              capture_output=True, text=True, timeout=30)
    assert verified.returncode == 0, verified.stderr
    text = openssl("req", "-in", csr, "-noout", "-text")
    assert "Requested Extensions:" in text
    assert re.search(r"X509v3 Extended Key Usage: *\n *OCSP Signing\n", text)
    assert "OCSP No Check" in text
    assert re.search(r"X509v3 Basic Constraints: critical\n *CA:FALSE\n", text)
    assert "Subject: C = NL, O = Example Hospital, CN = ocsp responder" in text
    assert f"install the certificate as {out / 'responder.pem'}" in result.stdout


def test_bad_usage_exits_64(proxy_bin, tmp_path):
    assert run(proxy_bin, "new").returncode == 64  # no --out
    assert run(proxy_bin, "new", "--out", str(tmp_path), "--algorithm", "dsa").returncode == 64
    assert run(proxy_bin, "new", "--out", str(tmp_path), "--days", "0").returncode == 64
    assert run(proxy_bin, "new", "--out", str(tmp_path), "--subject", "nonsense").returncode == 64
    assert run(proxy_bin, "renew").returncode == 64
    assert list(tmp_path.iterdir()) == []
    helped = run(proxy_bin, "--help")
    assert helped.returncode == 0 and "--csr" in helped.stdout


def test_printed_config_lines_pass_check_config(made, pki, proxy_bin, tmp_path):
    out, stdout = made
    bridge = stdout[stdout.index("crl_bridge:\n"):]
    bridge = bridge[:bridge.index("\n\n") + 1]
    config = proxy_config(upstreams=[upstream(8080, ["ocsp.a.example"], [pki.ica.pem], "a")],
                          resolve={})
    path = tmp_path / "bridge.yaml"
    path.write_text(to_yaml(config) + "\n" + bridge)
    checked = subprocess.run([proxy_bin, "--check-config", "--config", str(path)],
                             capture_output=True, text=True, timeout=30)
    if checked.returncode != 0 and "crl_bridge" in checked.stderr and "unknown" in checked.stderr:
        pytest.skip("this build has no crl_bridge config section yet")
    assert checked.returncode == 0, checked.stderr
