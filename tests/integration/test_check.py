"""`ocsp-proxy check`: one certificate's OCSP status from the real `openssl ocsp` responder,
directly or through the proxy in forward mode, validated as the proxy validates; the verdict
in the exit status (0 good, 1 revoked, 2 unknown, 3 error, 64 usage)."""
from __future__ import annotations

import http.server
import json
import os
import subprocess
import threading
import urllib.request

import pytest

from pki import OCSP_FQDN
from servers import free_port

GOOD, REVOKED, UNKNOWN, ERROR, USAGE = 0, 1, 2, 3, 64
CHECK_TIMEOUT_S = 20


def run_check(proxy_bin: str, *args: str, env: dict[str, str] | None = None
              ) -> subprocess.CompletedProcess:
    return subprocess.run([proxy_bin, "check", *args], capture_output=True, text=True,
                          timeout=CHECK_TIMEOUT_S, env={**os.environ, **(env or {})})


def report(proc: subprocess.CompletedProcess) -> dict[str, str]:
    """The text report as {label: value}."""
    fields = {}
    for line in proc.stdout.splitlines():
        label, _, value = line.partition(":")
        fields[label] = value.strip()
    return fields


@pytest.fixture
def check(proxy_bin, pki):
    """check(leaf, *args, issuer=pki.ica, env=None) -> CompletedProcess: `ocsp-proxy check`
    for `leaf`, trusting the test root, plus `args` (the route and URL); `issuer=False`
    leaves --issuer out."""
    def run(leaf, *args: str, issuer=None, env=None) -> subprocess.CompletedProcess:
        issuer_args = ["--issuer", str((issuer or pki.ica).pem)] if issuer is not False else []
        return run_check(proxy_bin, "--cert", str(leaf.pem), *issuer_args,
                         "--trust-store", str(pki.root.pem), "--timeout", "5s", *args, env=env)
    return run


def direct(port: int) -> list[str]:
    # ocsp.test.example resolves only inside the proxy's config, so ask the port directly.
    return ["--direct", "--url", f"http://127.0.0.1:{port}/"]


@pytest.mark.parametrize("leaf_name, exit_status, status", [
    ("good", GOOD, "good"), ("revoked", REVOKED, "revoked"), ("unlisted", UNKNOWN, "unknown")])
def test_direct_check_exits_with_the_validated_cert_status(
        pki, responder, check, leaf_name, exit_status, status):
    leaf = getattr(pki, leaf_name)
    # --direct means direct even when the environment names a proxy (here a dead one).
    dead_proxy = f"http://127.0.0.1:{free_port()}"
    proc = check(leaf, *direct(responder.port), env={"http_proxy": dead_proxy,
                                                     "HTTP_PROXY": dead_proxy})
    assert proc.returncode == exit_status, proc.stdout + proc.stderr
    fields = report(proc)
    assert fields["cert status"] == status
    assert fields["serial"] == leaf.serial
    assert fields["validation"] == "ok"
    assert fields["route"] == "direct"
    assert fields["http status"] == "200"
    assert fields["ocsp status"] == "successful"
    assert fields["flags"] == "none"
    assert "Test OCSP Responder" in fields["signer"] and "delegated" in fields["signer"]
    if status == "revoked":
        assert fields["reason"] == "keyCompromise"
        assert fields["revoked at"].endswith("Z")
    assert proc.stderr == ""
    assert responder.requests_served == 1


def test_check_through_the_proxy_is_answered_once_upstream_then_from_its_cache(
        pki, responder, start_forward_proxy, check):
    proxy = start_forward_proxy(responder.port)
    url = f"http://{OCSP_FQDN}:{responder.port}/"
    for _ in range(2):
        # --via means through the proxy even for hosts no_proxy lists.
        proc = check(pki.good, "--via", proxy.url, "--url", url, env={"no_proxy": "*"})
        assert proc.returncode == GOOD, proc.stdout + proc.stderr
        fields = report(proc)
        assert fields["cert status"] == "good"
        assert fields["route"] == f"via proxy {proxy.url}"
        assert fields["responder url"] == url
        assert responder.requests_served == 1


def test_wrong_issuer_fails_validation_with_exit_3(pki, responder, check):
    proc = check(pki.good, *direct(responder.port), issuer=pki.other_ica)
    assert proc.returncode == ERROR, proc.stdout + proc.stderr
    assert "validation failed: responder_not_issued_by_issuer" in proc.stderr
    fields = report(proc)
    assert fields["validation"].startswith("failed: responder_not_issued_by_issuer")
    assert "issuer_mismatch" in fields["flags"]


@pytest.mark.parametrize("route", ["direct", "via a dead proxy"])
def test_unreachable_responder_or_proxy_exits_3_and_says_what_it_could_not_reach(
        pki, check, route):
    dead = free_port()
    if route == "direct":
        args = direct(dead)
    else:
        args = ["--via", f"http://127.0.0.1:{dead}", "--url", f"http://{OCSP_FQDN}/"]
    proc = check(pki.good, *args)
    assert proc.returncode == ERROR, proc.stdout + proc.stderr
    assert "transport failed: transport: no answer from http" in proc.stderr
    assert f"127.0.0.1 port {dead}" in proc.stderr  # curl's reason names the address
    assert "cert status" not in report(proc)


def test_json_report_has_every_field(pki, responder, check):
    proc = check(pki.revoked, *direct(responder.port), "--sha256", "--json")
    assert proc.returncode == REVOKED, proc.stdout + proc.stderr
    got = json.loads(proc.stdout)
    assert got["certificate"] == {"subject": "CN=revoked.test.example,O=ocsp-proxy tests",
                                  "serial": pki.revoked.serial}
    assert got["issuer"]["subject"] == "CN=Test Issuing CA,O=ocsp-proxy tests"
    assert (got["issuer"]["source"], got["issuer"]["origin"]) == ("file", str(pki.ica.pem))
    assert got["issuer"]["trusted"] is True and got["issuer"]["trust_detail"] is None
    assert got["responder_url"] == f"http://127.0.0.1:{responder.port}/"
    assert (got["route"], got["proxy"], got["certid_hash"]) == ("direct", None, "sha256")
    assert (got["http_status"], got["response_status"]) == (200, "successful")
    assert (got["cert_status"], got["revocation_reason"]) == ("revoked", "keyCompromise")
    for key in ("revocation_time", "this_update", "next_update", "produced_at"):
        assert got[key].endswith("Z"), (key, got[key])
    assert "Test OCSP Responder" in got["signer"] and got["delegated"] is True
    assert isinstance(got["elapsed_ms"], int)
    assert got["validation"] == {"result": "ok"}
    assert (got["flags"], got["error"], got["exit_code"]) == ([], None, REVOKED)


def test_json_report_of_a_failure_names_the_stage(pki, check):
    proc = check(pki.good, *direct(free_port()), "--json")
    assert proc.returncode == ERROR
    got = json.loads(proc.stdout)
    assert (got["error"]["stage"], got["error"]["code"]) == ("transport", "transport")
    assert (got["cert_status"], got["validation"], got["exit_code"]) == (None, None, ERROR)


def test_issuer_is_downloaded_from_the_caissuers_url_when_not_given(
        pki, static, responder, check):
    # A certificate ica issued whose AIA names a caIssuers URL; the responder does not list it.
    static.put("ica.der", pki.der(pki.ica))
    aia_url = f"http://127.0.0.1:{static.port}/ica.der"
    proc = check(pki.responder_for(pki.ica, aia_url), *direct(responder.port), issuer=False)
    assert proc.returncode == UNKNOWN, proc.stdout + proc.stderr
    assert report(proc)["issuer"] == f"CN=Test Issuing CA,O=ocsp-proxy tests (aia {aia_url})"
    assert static.requests("/ica.der") == 1


def test_issuer_outside_the_trust_store_is_flagged_but_the_status_still_decides(
        proxy_bin, pki, responder):
    proc = run_check(proxy_bin, "--cert", str(pki.good.pem), "--issuer", str(pki.ica.pem),
                     "--trust-store", str(pki.stranger.pem), *direct(responder.port))
    assert proc.returncode == GOOD, proc.stdout + proc.stderr
    fields = report(proc)
    assert fields["flags"] == "issuer_untrusted"
    assert "does not chain to a trusted root" in fields["issuer trust"]


@pytest.fixture
def flagging_relay(responder):
    """An upstream that answers with the responder's bytes plus the header the proxy uses
    to pass on what it knows about the issuer."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server naming)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            upstream = urllib.request.Request(
                responder.url, data=body, headers={"Content-Type": "application/ocsp-request"})
            with urllib.request.urlopen(upstream, timeout=5) as answer:
                der = answer.read()
            self.send_response(200)
            self.send_header("Content-Type", "application/ocsp-response")
            self.send_header("X-OCSP-Proxy-Flags", "issuer_revoked, distrusted")
            self.send_header("Content-Length", str(len(der)))
            self.end_headers()
            self.wfile.write(der)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_flags_from_the_proxy_header_are_reported_without_changing_the_exit_status(
        pki, flagging_relay, check):
    proc = check(pki.good, *direct(flagging_relay), "--json")
    assert proc.returncode == GOOD, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["flags"] == ["issuer_revoked", "distrusted"]


@pytest.mark.parametrize("args, complaint", [
    ([], "--cert is required"),
    (["--cert", "x.pem", "--direct", "--via", "http://127.0.0.1:8080"], "exclude each other"),
    (["--cert", "x.pem", "--timeout", "10"], "--timeout wants a number and a unit"),
    (["--cert", "x.pem", "--url", "ldap://ocsp.example/"], "--url"),
    (["--cert", "x.pem", "--bogus"], "unknown argument: --bogus"),
])
def test_bad_usage_exits_64_with_the_usage_on_stderr(proxy_bin, args, complaint):
    proc = run_check(proxy_bin, *args)
    assert proc.returncode == USAGE
    assert complaint in proc.stderr and "Usage: ocsp-proxy check" in proc.stderr
    assert proc.stdout == ""


def test_help_documents_the_exit_status(proxy_bin):
    proc = run_check(proxy_bin, "--help")
    assert proc.returncode == 0
    for line in ("0   good", "1   revoked", "2   unknown", "3   error", "64  usage"):
        assert line in proc.stdout
