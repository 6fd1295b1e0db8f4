"""Real OCSP clients against the proxy (clients.py): GnuTLS ocsptool, NSS vfychain and
ocspclnt, Java's PKIX validator. Each row runs one client once and checks its verdict on a
good and a revoked leaf of the test PKI, whose AIA names http://ocsp.test.example/.

The module shares one set of peers (a client run costs up to a second, a JVM more):
  - the CA: `openssl ocsp` (echoes nonces) behind a relay on 127.0.0.3:80, which is where
    the proxies' `resolve:` sends ocsp.test.example (port 80, as in the leaves' AIA);
  - proxy "passthrough" (nonce: passthrough) listening on 127.0.0.2:80, where /etc/hosts
    sends ocsp.test.example for the clients: a client that follows the leaf's AIA reaches
    it by name, with `Host: ocsp.test.example`, an upstream FQDN (the transparent mode);
  - proxy "ignore" (nonce: ignore, the default) on 127.0.0.1, a free port.
Modes: "responder" (the client is given the proxy's root URL), "aia" (the client follows
the leaf's AIA URL, which resolves to the proxy: counted as mode "transparent"), "forward" (the client uses the proxy as
its HTTP proxy for the AIA URL: only Java can; GnuTLS and NSS have no HTTP proxy setting
for OCSP).
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import pytest

from clients import Java, NssDb, Verdict, gnutls
from conftest import Hosts
from pki import OCSP_FQDN, Pki
from proxy import Proxy, proxy_config, upstream
from servers import OcspResponder, Relay, free_port

PROXY_ADDRESS = "127.0.0.2"  # ocsp.test.example for the clients
CA_ADDRESS = "127.0.0.3"     # ocsp.test.example for the proxies


@dataclasses.dataclass
class Peers:
    pki: Pki
    ca: OcspResponder
    passthrough: Proxy
    ignore: Proxy
    nss: NssDb
    java: Java

    def host_port(self, proxy: Proxy) -> str:
        return proxy.url.removeprefix("http://").rstrip("/")


@pytest.fixture(scope="module")
def java(tmp_path_factory) -> Java:
    return Java(tmp_path_factory.mktemp("java"))


@pytest.fixture(scope="module")
def peers(pki, proxy_bin, tmp_path_factory, module_hosts: Hosts, java: Java):
    work = tmp_path_factory.mktemp("real_clients")
    started = []

    def track(process):
        started.append(process)
        return process
    try:
        ca = track(OcspResponder(pki, work))
        track(Relay("pass", ca.url, host=CA_ADDRESS, port=80))
        module_hosts.map(OCSP_FQDN, PROXY_ADDRESS)
        upstreams = [upstream(80, [OCSP_FQDN], [pki.ica.pem])]

        def start_proxy(name: str, nonce: str, listen: str) -> Proxy:
            config = proxy_config(upstreams, {OCSP_FQDN: CA_ADDRESS}, nonce=nonce)
            config["listen"]["ocsp"] = listen
            return track(Proxy(proxy_bin, work, config, name=name))
        yield Peers(pki, ca, start_proxy("passthrough", "passthrough", f"{PROXY_ADDRESS}:80"),
                    start_proxy("ignore", "ignore", "127.0.0.1:0"), NssDb(pki, work / "nssdb"),
                    java)
    finally:
        for process in reversed(started):
            process.stop()


@dataclasses.dataclass(frozen=True)
class Row:
    id: str
    run: Callable[[Peers, object], Verdict]  # (peers, leaf) -> the client's verdict
    proxy: str          # the proxy that must have answered: "passthrough" or "ignore"
    mode: str           # as it counts the request: "responder", "forward" or "transparent"
    leaves: tuple[str, ...] = ("good", "revoked")


ROWS = [
    Row("gnutls-responder", lambda p, leaf: gnutls(p.pki, leaf, p.passthrough.url),
        "passthrough", "responder"),
    Row("gnutls-aia", lambda p, leaf: gnutls(p.pki, leaf, None),
        "passthrough", "transparent", leaves=("good",)),
    Row("nss-vfychain-aia", lambda p, leaf: p.nss.vfychain(leaf),
        "passthrough", "transparent"),
    # ocspclnt is given the other proxy's URL (-l), and follows the leaf's AIA all the same.
    Row("nss-ocspclnt-aia", lambda p, leaf: p.nss.ocspclnt(leaf, p.ignore.url),
        "passthrough", "transparent"),
    Row("java-responder", lambda p, leaf: p.java.check(p.pki, leaf, url=p.ignore.url),
        "ignore", "responder"),
    Row("java-forward", lambda p, leaf: p.java.check(p.pki, leaf, proxy=p.host_port(p.ignore)),
        "ignore", "forward"),
    Row("java-aia", lambda p, leaf: p.java.check(p.pki, leaf),
        "passthrough", "transparent", leaves=("revoked",)),
]


def answered(proxy: Proxy, mode: str) -> float:
    """OCSP requests `proxy` has answered good or revoked in `mode`."""
    samples = proxy.metrics()
    return sum(samples.get(("ocsp_proxy_requests_total",
                            frozenset({"mode": mode, "result": result}.items())), 0.0)
               for result in ("good", "revoked"))


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_real_client_gets_the_right_verdict_from_the_proxy(peers, row):
    proxy = getattr(peers, row.proxy)
    before = answered(proxy, row.mode)
    for name in row.leaves:
        leaf = getattr(peers.pki, name)
        verdict = row.run(peers, leaf)
        assert verdict.verdict == leaf.status, str(verdict)
    assert answered(proxy, row.mode) == before + len(row.leaves)


# -- nonces ---------------------------------------------------------------------------------

def test_gnutls_nonce_is_echoed_under_passthrough_and_refused_by_the_client_under_ignore(peers):
    # ocsptool --nonce requires the answer to carry its nonce back.
    echoed = gnutls(peers.pki, peers.pki.good2, peers.passthrough.url, nonce=True)
    assert echoed.verdict == "good", echoed
    assert "Nonce:" in echoed.output, echoed
    # Under `ignore` the proxy answers without the nonce: ocsptool refuses that answer.
    stripped = gnutls(peers.pki, peers.pki.good2, peers.ignore.url, nonce=True)
    assert stripped.verdict == "error", stripped
    assert "could not read response's nonce" in stripped.output, stripped


def test_java_nonce_is_echoed_under_passthrough_and_accepted_without_under_ignore(peers):
    # jdk.security.certpath.ocspNonce=true: Java checks an echoed nonce, and accepts an
    # answer without one.
    for proxy in (peers.passthrough, peers.ignore):
        verdict = peers.java.check(peers.pki, peers.pki.revoked, url=proxy.url, nonce=True)
        assert verdict.verdict == "revoked", verdict


def test_with_a_ca_that_ignores_nonces_passthrough_answers_as_that_ca_would(
        pki, responder, start_faulty_upstream, start_proxy, java):
    # A CDN-style CA: current answers without nonce. The proxy passes that on (cached), and
    # each client judges it as it would judge the CA itself: ocsptool --nonce refuses it,
    # Java accepts it.
    port = free_port()
    start_faulty_upstream(port, "no_nonce", responder.url)
    proxy = start_proxy(port, nonce="passthrough")
    strict = gnutls(pki, pki.good, proxy.url, nonce=True)
    assert strict.verdict == "error", strict
    assert "could not read response's nonce" in strict.output, strict
    lenient = java.check(pki, pki.good, url=proxy.url, nonce=True)
    assert lenient.verdict == "good", lenient
