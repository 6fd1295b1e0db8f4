"""Real OCSP clients against the proxy (clients.py): GnuTLS ocsptool, NSS vfychain and
ocspclnt, Java's PKIX validator. Each row runs one client once and checks its verdict on a
good and a revoked leaf of the test PKI, whose AIA names http://ocsp.test.example/ (or, for
the "path" leaves, http://ocsp.test.example/some/path, as many CAs' URLs have a path).

The module shares one set of peers (a client run costs up to a second, a JVM more):
  - the CA: `openssl ocsp` (echoes nonces) behind a relay on 127.0.0.3:80, which is where
    the proxies' `resolve:` sends ocsp.test.example (port 80, as in the leaves' AIA);
  - proxy "passthrough" (nonce: passthrough) listening on 127.0.0.2:80, where /etc/hosts
    sends ocsp.test.example and aia.test.example for the clients: a client that follows the
    leaf's AIA reaches it by name, with the CA's name in Host (transparent mode);
  - proxy "ignore" (nonce: ignore, the default) on 127.0.0.1, a free port;
  - the CA's web server for caIssuers certificates on 127.0.0.4:80, where the proxies'
    `resolve:` sends aia.test.example (forward.aia_fqdns).
Modes: "responder" (the client is given the proxy's URL), "transparent" (the client follows
the leaf's AIA URL, which resolves to the proxy), "forward" (the client uses the proxy as
its HTTP proxy for the AIA URL: only Java can; GnuTLS and NSS have no HTTP proxy setting
for OCSP).
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import pytest

from clients import Java, NssDb, Verdict, gnutls
from conftest import Hosts
from ocsp_client import curl
from pki import AIA_FQDN, OCSP_FQDN, Leaf, Pki
from proxy import Proxy, proxy_config, upstream
from servers import OcspResponder, Relay, StaticServer, free_port

PROXY_ADDRESS = "127.0.0.2"  # ocsp.test.example and aia.test.example for the clients
CA_ADDRESS = "127.0.0.3"     # ocsp.test.example for the proxies
AIA_ADDRESS = "127.0.0.4"    # aia.test.example for the proxies
PATH_URL = f"http://{OCSP_FQDN}/some/path"  # the "path" leaves' AIA OCSP URL


@dataclasses.dataclass
class Peers:
    pki: Pki
    ca: OcspResponder
    passthrough: Proxy
    ignore: Proxy
    nss: NssDb
    java: Java
    aia: StaticServer
    path_leaves: dict[str, Leaf]

    def leaf(self, name: str) -> Leaf:
        return self.path_leaves.get(name) or getattr(self.pki, name)

    def host_port(self, proxy: Proxy) -> str:
        return proxy.url.removeprefix("http://").rstrip("/")


@pytest.fixture(scope="module")
def peers(pki, proxy_bin, tmp_path_factory, module_hosts: Hosts, java: Java):
    work = tmp_path_factory.mktemp("real_clients")
    started = []

    def track(process):
        started.append(process)
        return process
    path_leaves = {"path_good": pki.leaf_with_ocsp("path_good", "good", PATH_URL),
                   "path_revoked": pki.leaf_with_ocsp("path_revoked", "revoked", PATH_URL,
                                                      reason="keyCompromise")}
    index = pki.make_index("real_clients_index.txt",
                           good=[pki.good, pki.good2, path_leaves["path_good"]],
                           revoked=[pki.revoked, path_leaves["path_revoked"]])
    try:
        ca = track(OcspResponder(pki, work, ca=pki.ica, index=index))
        track(Relay("pass", ca.url, host=CA_ADDRESS, port=80))
        aia = track(StaticServer(work / "aia", host=AIA_ADDRESS, port=80))
        module_hosts.map(OCSP_FQDN, PROXY_ADDRESS)
        module_hosts.map(AIA_FQDN, PROXY_ADDRESS)
        upstreams = [upstream(80, [OCSP_FQDN], [pki.ica.pem])]

        def start_proxy(name: str, nonce: str, listen: str) -> Proxy:
            config = proxy_config(upstreams, {OCSP_FQDN: CA_ADDRESS, AIA_FQDN: AIA_ADDRESS},
                                  nonce=nonce)
            config["listen"]["ocsp"] = listen
            config["forward"] = {"aia_fqdns": [AIA_FQDN], "trust_store": str(pki.root.pem)}
            return track(Proxy(proxy_bin, work, config, name=name))
        yield Peers(pki, ca, start_proxy("passthrough", "passthrough", f"{PROXY_ADDRESS}:80"),
                    start_proxy("ignore", "ignore", "127.0.0.1:0"), NssDb(pki, work / "nssdb"),
                    java, aia, path_leaves)
    finally:
        for process in reversed(started):
            process.stop()


@dataclasses.dataclass(frozen=True)
class Row:
    id: str
    run: Callable[[Peers, object], Verdict]  # (peers, leaf) -> the client's verdict
    proxy: str          # the proxy that must have answered: "passthrough" or "ignore"
    mode: str           # as it counts the request: "responder", "transparent" or "forward"
    leaves: tuple[str, ...] = ("good", "revoked")


PATH_LEAVES = ("path_good", "path_revoked")

ROWS = [
    Row("gnutls-responder", lambda p, leaf: gnutls(p.pki, leaf, p.passthrough.url),
        "passthrough", "responder"),
    # ocsptool --ask without a URL POSTs to the leaf's AIA URL.
    Row("gnutls-transparent", lambda p, leaf: gnutls(p.pki, leaf, None),
        "passthrough", "transparent"),
    Row("nss-vfychain-transparent", lambda p, leaf: p.nss.vfychain(leaf),
        "passthrough", "transparent"),
    # vfychain POSTs to the AIA URL's path.
    Row("nss-vfychain-transparent-path", lambda p, leaf: p.nss.vfychain(leaf),
        "passthrough", "transparent", leaves=PATH_LEAVES),
    # ocspclnt is given the other proxy's URL (-l), and follows the leaf's AIA all the same.
    Row("nss-ocspclnt-transparent", lambda p, leaf: p.nss.ocspclnt(leaf, p.ignore.url),
        "passthrough", "transparent"),
    Row("java-responder", lambda p, leaf: p.java.check(p.pki, leaf, url=p.ignore.url),
        "ignore", "responder"),
    # Java GETs <responder URL>/<url-encoded base64 request>: here /ocsp/MFIw...
    Row("java-responder-get-under-path",
        lambda p, leaf: p.java.check(p.pki, leaf, url=p.ignore.url + "ocsp"),
        "ignore", "responder"),
    Row("java-forward", lambda p, leaf: p.java.check(p.pki, leaf, proxy=p.host_port(p.ignore)),
        "ignore", "forward"),
    Row("java-transparent", lambda p, leaf: p.java.check(p.pki, leaf),
        "passthrough", "transparent"),
    # GET /some/path/MFIw... with Host: ocsp.test.example
    Row("java-transparent-get-under-path", lambda p, leaf: p.java.check(p.pki, leaf),
        "passthrough", "transparent", leaves=PATH_LEAVES),
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
        leaf = peers.leaf(name)
        verdict = row.run(peers, leaf)
        assert verdict.verdict == leaf.status, str(verdict)
    assert answered(proxy, row.mode) == before + len(row.leaves)


def test_curl_gets_a_ca_certificate_by_its_aia_name_from_the_proxy_in_transparent_mode(peers):
    # The site's DNS sends aia.test.example to the proxy: curl asks it what it would ask the
    # CA's web server, and gets the certificate byte-exact, downloaded once.
    der = peers.pki.der(peers.pki.ica)
    peers.aia.put("ica.crt", der)
    for _ in range(2):
        answer = curl("GET", f"http://{AIA_FQDN}/ica.crt", content_type=None)
        assert answer.status == 200, answer.body
        assert answer.body == der
    assert peers.aia.requests("/ica.crt") == 1


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
