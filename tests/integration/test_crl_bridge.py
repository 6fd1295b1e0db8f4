"""The CRL -> OCSP bridge (docs/ARCHITECTURE.md §8) end to end: OCSP answers built from the
test CA's CRL and its delta, signed by a responder key made with `ocsp-proxy responder-key
new`, checked by `openssl ocsp -VAfile` as a relying party that trusts that key would; the
honest-good rule (good only for known serials); tryLater once the CRL is past nextUpdate; and
ocsp-then-crl falling back to the CRL when the CA's responder is down."""
from __future__ import annotations

import datetime
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from ocsp_client import make_request, curl
from pki import CRL_FQDN, OCSP_FQDN, Cert, Pki
from prom_text import value
from proxy import Proxy, proxy_config, revocation_records, wait_for_revocation_records
from servers import OcspResponder, StaticServer, wait_until


class Bridge:
    """The module's proxy: upstream `crl-only` answers for the test issuing CA from its CRL
    (with a delta that lifts a hold); upstream `fallback` asks an `openssl ocsp` responder for
    the unconfigured CA first and its CRL when that fails."""

    def __init__(self, pki: Pki, proxy_bin: str, workdir: Path):
        self.pki = pki
        self.dir = workdir
        self.static = StaticServer(workdir / "static")
        made = subprocess.run([proxy_bin, "responder-key", "new", "--out", str(workdir / "key"),
                               "--subject", "CN=ocsp-proxy bridge test responder"],
                              capture_output=True, text=True, timeout=30)
        assert made.returncode == 0, made.stderr
        self.key = workdir / "key" / "responder.key"
        self.cert = workdir / "key" / "responder.pem"
        base_url = self.url("ica.crl")
        delta_url = self.url("ica-delta.crl")
        # Held (certificateHold) in the base, released (removeFromCRL) in the delta.
        self.static.put("ica.crl", pki.make_crl(
            pki.ica, revoked=[pki.revoked, pki.entry(pki.good2, "certificateHold")], number=1,
            freshest=[delta_url]).read_bytes())
        self.static.put("ica-delta.crl", pki.make_crl(
            pki.ica, revoked=[pki.entry(pki.good2, "removeFromCRL")], number=2,
            delta_of=1, hours=1).read_bytes())
        self.static.put("other.crl", pki.make_crl(pki.other_ica, revoked=["0BAD"]).read_bytes())
        known = workdir / "known"
        known.mkdir()
        for leaf in (pki.good, pki.good2):
            shutil.copy(leaf.pem, known / f"{leaf.name}.pem")
        self.responder = OcspResponder(pki, workdir, signer=pki.rogue, ca=pki.other_ica,
                                       index=pki.other_index)
        self.log_path = workdir / "revocations.jsonl"
        config = proxy_config(
            upstreams=[
                {"name": "crl-only", "fqdns": [], "revocation_source": "crl",
                 "crls": [base_url], "issuers": [str(pki.ica.pem)]},
                {"name": "fallback", "fqdns": [OCSP_FQDN], "port": self.responder.port,
                 "revocation_source": "ocsp-then-crl", "crls": [self.url("other.crl")],
                 "issuers": [str(pki.other_ica.pem)]},
            ],
            resolve={OCSP_FQDN: "127.0.0.1", CRL_FQDN: "127.0.0.1"})
        config["crl_bridge"] = {"key": str(self.key), "cert": str(self.cert),
                                "known_serials": [str(known)]}
        config["revocation_log"] = str(self.log_path)
        self.proxy = Proxy(proxy_bin, workdir, config, name="bridge")

    def url(self, name: str) -> str:
        return f"http://{CRL_FQDN}:{self.static.port}/{name}"

    def ask(self, issuer: Cert, leaf: Cert | None = None, serial: str | None = None,
            trust: list[str] | None = None) -> str:
        """`openssl ocsp` against the proxy, trusting the bridge's responder certificate
        (-VAfile) unless `trust` says otherwise; its output."""
        target = ["-cert", str(leaf.pem)] if leaf else ["-serial", f"0x{serial}"]
        proc = subprocess.run(
            ["openssl", "ocsp", "-url", self.proxy.url, "-issuer", str(issuer.pem), *target,
             "-no_nonce", "-resp_text", *(trust or ["-VAfile", str(self.cert)])],
            capture_output=True, text=True, timeout=30)
        return proc.stdout + proc.stderr

    def stop(self) -> None:
        self.proxy.stop()
        self.responder.stop()
        self.static.stop()


@pytest.fixture(scope="module")
def bridge(pki, proxy_bin, tmp_path_factory):
    b = Bridge(pki, proxy_bin, tmp_path_factory.mktemp("bridge"))
    yield b
    b.stop()


def status_line(output: str, what: str) -> str:
    m = re.search(rf"^{re.escape(what)}: (\w+)$", output, re.M)
    assert m, output
    return m.group(1)


def test_a_serial_the_crl_lists_is_revoked_with_its_reason_signed_by_the_bridge(bridge, pki):
    out = bridge.ask(pki.ica, pki.revoked)
    assert "Response verify OK" in out, out
    assert status_line(out, str(pki.revoked.pem)) == "revoked"
    assert "Reason: keyCompromise" in out
    records = wait_for_revocation_records(bridge.log_path, 1)
    mine = [r for r in records if r["serial"] == pki.revoked.serial.lower()]
    assert mine[0]["source"] == "crl" and mine[0]["upstream_fqdn"] == "crl-bridge", mine
    assert mine[0]["revocation_reason"] == "keyCompromise"
    upstreams = {u["name"]: u for u in bridge.proxy.status()["upstreams"]}
    assert upstreams["crl-only"]["revocation_source"] == "crl"
    assert upstreams["crl-only"]["crls"] == [
        {"issuer": pki.subject_line(pki.ica), "url": bridge.url("ica.crl")}]
    assert upstreams["fallback"]["revocation_source"] == "ocsp-then-crl"
    assert value(bridge.proxy.metrics(), "ocsp_proxy_crl_bridge_answers_total",
                 status="revoked") >= 1


def test_good_only_for_a_serial_known_to_be_issued_else_unknown(bridge, pki):
    good = bridge.ask(pki.ica, pki.good)
    assert "Response verify OK" in good, good
    assert status_line(good, str(pki.good.pem)) == "good"
    # Issued by the CA, but nothing the proxy knows says so: the CRL alone proves nothing.
    unlisted = bridge.ask(pki.ica, pki.unlisted)
    assert "Response verify OK" in unlisted, unlisted
    assert status_line(unlisted, str(pki.unlisted.pem)) == "unknown"


def test_a_hold_the_delta_crl_removes_is_no_longer_revoked(bridge, pki):
    out = bridge.ask(pki.ica, pki.good2)
    assert "Response verify OK" in out, out
    assert status_line(out, str(pki.good2.pem)) == "good"
    assert not bridge.proxy.log_lines("crl_delta_unused"), bridge.proxy.log_tail()


def bridge_records(bridge: Bridge, leaf: Cert) -> list[dict]:
    """The revocation-log lines written so far about `leaf`."""
    return [r for r in revocation_records(bridge.log_path) if r["serial"] == leaf.serial.lower()]


def test_a_bridge_answer_is_cached_served_with_rfc5019_headers_and_still_named_in_the_log(
        bridge, pki):
    request = make_request(pki.ica, pki.revoked)
    # Earlier tests of the module may have asked about it; their lines are written out within
    # a second.
    time.sleep(1.5)
    before = len(bridge_records(bridge, pki.revoked))
    answers = [curl("POST", bridge.proxy.url, body=request,
                    headers={"Content-Type": "application/ocsp-request"}) for _ in range(2)]
    assert answers[0].body == answers[1].body
    assert re.fullmatch(r"max-age=\d+, public, no-transform, must-revalidate",
                        answers[1].headers["cache-control"])
    wait_until(lambda: len(bridge_records(bridge, pki.revoked)) >= before + 2, 5,
               "the revocation-log lines of both answers")
    last = bridge_records(bridge, pki.revoked)[before + 1]
    assert last["source"] == "memory" and last["upstream_fqdn"] == "crl-bridge", last


def test_ocsp_then_crl_asks_the_ca_first_and_its_crl_once_the_ca_is_down(bridge, pki):
    up = bridge.ask(pki.other_ica, pki.other_leaf, trust=["-CAfile", str(pki.root.pem)])
    assert "Response verify OK" in up, up
    assert status_line(up, str(pki.other_leaf.pem)) == "good"
    assert bridge.responder.requests_served == 1
    assert not bridge.proxy.log_lines("crl_fallback")
    bridge.responder.kill()
    for _ in range(2):
        out = bridge.ask(pki.other_ica, serial="0BAD")
        assert "Response verify OK" in out, out
        assert status_line(out, "0x0BAD") == "revoked"
    line = bridge.proxy.wait_for_log("crl_fallback", upstream="fallback")
    assert "reason=" in line
    assert len(bridge.proxy.log_lines("crl_fallback")) == 1  # a state change, not per request


def test_try_later_once_the_crl_is_past_next_update(pki, proxy_bin, tmp_path, bridge):
    """A proxy of its own: its CA's CRL ends a few seconds after the start."""
    static = StaticServer(tmp_path / "static")
    try:
        # Whole seconds, as the CRL carries it.
        next_update = (datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) +
                       datetime.timedelta(seconds=6))
        static.put("ica.crl", pki.make_crl(pki.ica, revoked=[pki.revoked],
                                           next_update=next_update).read_bytes())
        url = f"http://{CRL_FQDN}:{static.port}/ica.crl"
        config = proxy_config(
            upstreams=[{"name": "crl-only", "fqdns": [], "revocation_source": "crl",
                        "crls": [url], "issuers": [str(pki.ica.pem)]}],
            resolve={CRL_FQDN: "127.0.0.1"})
        config["crl_bridge"] = {"key": str(bridge.key), "cert": str(bridge.cert)}
        proxy = Proxy(proxy_bin, tmp_path, config, name="short")
        try:
            ask = ["openssl", "ocsp", "-url", proxy.url, "-issuer", str(pki.ica.pem),
                   "-cert", str(pki.revoked.pem), "-no_nonce", "-VAfile", str(bridge.cert)]
            first = subprocess.run(ask, capture_output=True, text=True, timeout=30)
            assert status_line(first.stdout, str(pki.revoked.pem)) == "revoked", first
            # Until nextUpdate the cached answer is served; from then on nothing is.
            def try_later() -> bool:
                later = subprocess.run(ask, capture_output=True, text=True, timeout=30)
                if datetime.datetime.now(datetime.timezone.utc) < next_update - datetime.timedelta(seconds=1):
                    assert "revoked" in later.stdout, later
                return "trylater" in (later.stdout + later.stderr).lower()
            wait_until(try_later, 20, "tryLater once the CRL is past its nextUpdate", step_s=0.5)
            proxy.wait_for_log("crl_bridge_unavailable", upstream="crl-only")
            assert value(proxy.metrics(), "ocsp_proxy_crl_bridge_answers_total",
                         status="unavailable") >= 1
        finally:
            proxy.stop()
    finally:
        static.stop()


def test_a_bridge_answer_survives_a_restart_while_the_crl_server_is_down(
        pki, proxy_bin, tmp_path, bridge):
    """The snapshot keeps the answers the bridge signed, and they pass the re-validation at
    load against the bridge's own certificate: the restarted proxy serves the same bytes with
    the CRL server gone."""
    static = StaticServer(tmp_path / "static")
    state = tmp_path / "state"
    state.mkdir()
    url = f"http://{CRL_FQDN}:{static.port}/ica.crl"
    static.put("ica.crl", pki.make_crl(pki.ica, revoked=[pki.revoked]).read_bytes())
    config = proxy_config(
        upstreams=[{"name": "crl-only", "fqdns": [], "revocation_source": "crl",
                    "crls": [url], "issuers": [str(pki.ica.pem)]}],
        resolve={CRL_FQDN: "127.0.0.1"})
    config["crl_bridge"] = {"key": str(bridge.key), "cert": str(bridge.cert)}
    config["state_dir"] = str(state)
    request = make_request(pki.ica, pki.revoked)
    first = Proxy(proxy_bin, tmp_path, config, name="before")
    try:
        held = curl("POST", first.url, body=request,
                    headers={"Content-Type": "application/ocsp-request"}).body
        assert first.terminate() == 0
        first.wait_for_log("snapshot_written", when="shutdown", result="written")
    finally:
        first.stop()
        static.stop()
    second = Proxy(proxy_bin, tmp_path, config, name="after")
    try:
        second.wait_for_log("snapshot_loaded", dropped="0")
        again = curl("POST", second.url, body=request,
                     headers={"Content-Type": "application/ocsp-request"}).body
        assert again == held
        out = subprocess.run(
            ["openssl", "ocsp", "-respin", "/dev/stdin", "-issuer", str(pki.ica.pem),
             "-VAfile", str(bridge.cert), "-resp_text"],
            input=again, capture_output=True, timeout=30)
        assert b"Response verify OK" in out.stdout + out.stderr, out
    finally:
        second.stop()
