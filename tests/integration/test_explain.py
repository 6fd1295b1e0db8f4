"""`ocsp-proxy explain`: the real cause behind a client's revocation error, named in one
sentence from what the real proxy answers (in forward mode, as clients ask it), its /status and
its revocation log, against the real `openssl ocsp` responders; then the evidence lines. The
exit status follows `check`'s (0 good, 1 revoked, 3 any other cause or an unreadable
certificate)."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from ocsp_client import curl, make_request
from pki import ELSEWHERE_FQDN, OCSP_FQDN
from proxy import Proxy, wait_for_revocation_records
from servers import free_port
from test_watch import WATCH_NAME, watched_ica  # noqa: F401 (a fixture used below)

GOOD, REVOKED, ERROR = 0, 1, 3
EXPLAIN_TIMEOUT_S = 20


@pytest.fixture
def explain(proxy_bin, pki, tmp_path):
    """explain(leaf, proxy=None, port=None, *args) -> CompletedProcess: `ocsp-proxy explain`
    for `leaf` with the test chain (issuing CA and root), through `proxy` (its forward mode,
    its /status and its revocation log when it has one) and asking for the leaf at the
    upstream's name on `port`."""
    chain = tmp_path / "chain.pem"
    chain.write_text(pki.ica.pem.read_text() + pki.root.pem.read_text())

    def run(leaf, proxy: Proxy | None = None, port: int | None = None, *args: str,
            log: Path | None = None) -> subprocess.CompletedProcess:
        route = []
        if proxy is not None:
            route = ["--proxy", proxy.url.rstrip("/"), "--admin", proxy.admin_url]
        if port is not None:
            route += ["--url", f"http://{OCSP_FQDN}:{port}/"]
        if log is not None:
            route += ["--log", str(log)]
        return subprocess.run(
            [proxy_bin, "explain", "--cert", str(leaf.pem), "--chain", str(chain),
             "--timeout", "5s", *route, *args],
            capture_output=True, text=True, timeout=EXPLAIN_TIMEOUT_S)
    return run


def cause(proc: subprocess.CompletedProcess) -> str:
    """The first line: the one sentence."""
    return proc.stdout.splitlines()[0]


def evidence(proc: subprocess.CompletedProcess) -> list[str]:
    lines = proc.stdout.splitlines()
    return [line.strip() for line in lines[lines.index("evidence:") + 1:]]


@pytest.fixture
def logged_proxy(pki, start_proxy, tmp_path):
    """logged_proxy(port, **sections) -> (Proxy, revocation log path)"""
    def start(port: int, **sections) -> tuple[Proxy, Path]:
        log = tmp_path / "revocations.jsonl"
        return start_proxy(port, revocation_log=str(log), **sections), log
    return start


def test_good_certificate_through_the_proxy_is_said_to_be_fine(
        pki, responder, logged_proxy, explain):
    proxy, log = logged_proxy(responder.port)
    proc = explain(pki.good, proxy, responder.port, "--json", log=log)
    assert proc.returncode == GOOD, proc.stdout + proc.stderr
    got = json.loads(proc.stdout)
    assert got["cause"] == "good"
    assert got["sentence"].startswith(
        'Nothing is wrong: the CA answers good for "CN=good.test.example,O=ocsp-proxy tests"')
    assert (got["client_error"], got["exit_code"]) == (None, GOOD)
    lines = got["evidence"]
    assert lines[0].startswith(f"leaf CN=good.test.example,O=ocsp-proxy tests, serial "
                               f"{pki.good.serial}, valid ")
    assert lines[1].startswith(f"leaf OCSP http://{OCSP_FQDN}:{responder.port}/ via proxy "
                               f"{proxy.url.rstrip('/')}: HTTP 200, successful, good (validated)")
    assert f"/status {proxy.admin_url}status: circuit closed for {OCSP_FQDN} " \
           f"(0 consecutive failures)" in lines
    assert "intermediate not asked: CN=Test Issuing CA,O=ocsp-proxy tests names no http OCSP " \
           "URL" in lines
    assert lines[-1].startswith("root CN=Test Root CA,O=ocsp-proxy tests")
    assert responder.requests_served == 1


def test_missing_admin_listener_and_log_are_evidence_not_a_failure(pki, responder, explain):
    dead = free_port()
    proc = explain(pki.good, None, None, "--url", responder.url, "--admin",
                   f"http://127.0.0.1:{dead}", "--log", "/nonexistent/revocations.jsonl",
                   "--error", "0x80092013")
    assert proc.returncode == GOOD, proc.stdout + proc.stderr
    assert cause(proc).startswith("Nothing is wrong")
    assert proc.stdout.splitlines()[1] == (
        "CRYPT_E_REVOCATION_OFFLINE (0x80092013): Windows reports it when the revocation server "
        "gave no usable answer: unreachable, refused, tryLater, unauthorized or an answer that "
        "did not validate; the evidence does not agree: nothing is wrong now (was the error "
        "earlier, or about another certificate?).")
    lines = evidence(proc)
    assert any(line.startswith(f"no /status at http://127.0.0.1:{dead}/status: ") and
               f"port {dead}" in line for line in lines), lines
    assert "no revocation log at /nonexistent/revocations.jsonl: cannot open it" in lines
    assert f"leaf OCSP {responder.url} (direct): HTTP 200, successful, good (validated)" in \
        " ".join(lines)


def test_revoked_leaf_is_named_with_its_time_and_reason(pki, responder, logged_proxy, explain):
    proxy, log = logged_proxy(responder.port)
    # the client's own question, as the proxy logged it
    curl("POST", f"http://{OCSP_FQDN}:{responder.port}/", make_request(pki.ica, pki.revoked),
         proxy=proxy.url)
    [record] = wait_for_revocation_records(log, 1)
    assert record["status"] == "revoked"
    proc = explain(pki.revoked, proxy, responder.port, "--error", "CRYPT_E_REVOKED", log=log)
    assert proc.returncode == REVOKED, proc.stdout + proc.stderr
    assert cause(proc) == (
        f'The certificate "CN=revoked.test.example,O=ocsp-proxy tests" is revoked (since '
        f'{pki.revoked.revoked_at.strftime("%Y-%m-%dT%H:%M:%SZ")}, keyCompromise): the CA '
        f'withdrew it and it must be replaced.')
    assert proc.stdout.splitlines()[1].endswith("the evidence agrees (leaf_revoked).")
    assert f"log {log}: 1 answer for the leaf's serial; last {record['time']} revoked since " \
           f"{record['revocation_time']}, keyCompromise from {OCSP_FQDN}" in evidence(proc)


def test_revoked_intermediate_behind_a_pvm_certificate_expired_error_is_named(
        pki, responder, watched_ica, explain):  # noqa: F811 (the fixture imported above)
    case = watched_ica("revoked")
    case.proxy.wait_for_log("intermediate_revoked", name=WATCH_NAME)
    proc = explain(pki.good, case.proxy, responder.port, "--error", "1095",
                   log=case.revocation_log)
    assert proc.returncode == REVOKED, proc.stdout + proc.stderr
    assert cause(proc).startswith(
        'The intermediate CA "CN=Test Issuing CA,O=ocsp-proxy tests" is revoked (since ')
    assert f"found by the proxy's watch {WATCH_NAME}" in cause(proc)
    assert proc.stdout.splitlines()[1] == (
        'PVM 1095 "certificate expired": PVM reports an expired certificate as 1095, and also '
        'a revoked intermediate; the evidence agrees (intermediate_revoked).')
    assert any(line.startswith(f"/status: watched intermediate {WATCH_NAME} (CN=Test Issuing "
                               f"CA,O=ocsp-proxy tests) revoked since ")
               for line in evidence(proc)), proc.stdout


def test_distrusted_issuer_is_named(pki, responder, logged_proxy, explain):
    proxy, _ = logged_proxy(responder.port,
                            distrust=[{"name": "distrusted-ica", "cert": str(pki.ica.pem)}])
    proc = explain(pki.good, proxy, responder.port)
    assert proc.returncode == ERROR, proc.stdout + proc.stderr
    assert cause(proc) == (
        'The proxy distrusts the issuer "CN=Test Issuing CA,O=ocsp-proxy tests" (its distrust: '
        'list): it answers unauthorized for every certificate under it.')
    assert any("unauthorized" in line and "flags distrusted" in line
               for line in evidence(proc)), proc.stdout
    assert responder.requests_served == 0


def test_unreachable_ca_without_a_cached_answer_is_named(pki, responder, logged_proxy, explain):
    proxy, log = logged_proxy(responder.port)
    responder.kill()
    proc = explain(pki.good, proxy, responder.port, "--error", "0x80092013", log=log)
    assert proc.returncode == ERROR, proc.stdout + proc.stderr
    assert cause(proc) == (
        f'The CA\'s responder {OCSP_FQDN} cannot be reached and the proxy holds no valid answer '
        f'for "CN=good.test.example,O=ocsp-proxy tests": clients get tryLater or no answer at '
        f'all.')
    assert proc.stdout.splitlines()[1].endswith("the evidence agrees (ca_unreachable).")
    lines = evidence(proc)
    assert any(", trylater" in line for line in lines), lines
    assert f"/status {proxy.admin_url}status: circuit closed for {OCSP_FQDN} " \
           f"(1 consecutive failures)" in lines


def test_host_outside_the_allow_list_is_named_as_refused(
        pki, responder, start_forward_proxy, explain):
    proxy = start_forward_proxy(responder.port)
    proc = explain(pki.good, proxy, None, "--url", f"http://{ELSEWHERE_FQDN}:{responder.port}/")
    assert proc.returncode == ERROR, proc.stdout + proc.stderr
    assert cause(proc).startswith(
        f"The proxy refused to forward the question to {ELSEWHERE_FQDN}: that host and port are "
        f"not on its allow-list (HTTP 403 from the proxy {proxy.url.rstrip('/')}: refused: ")
    proxy.wait_for_log("forward_refused", host=ELSEWHERE_FQDN)
    assert responder.requests_served == 0


def test_unreadable_certificate_gets_a_message_and_exit_3(proxy_bin, tmp_path):
    garbage = tmp_path / "leaf.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    proc = subprocess.run([proxy_bin, "explain", "--cert", str(garbage), "--admin", "none"],
                          capture_output=True, text=True, timeout=EXPLAIN_TIMEOUT_S)
    assert proc.returncode == ERROR
    assert proc.stdout == ""
    assert proc.stderr.startswith(
        f"ocsp-proxy explain: cannot read a certificate from --cert {garbage}: ")
