"""Fixtures for the integration tier: a test PKI (once per session), and per test the real
`openssl ocsp` responders, relays, static file servers, redis-server and ocsp-proxy
processes, stopped at teardown. When a test fails, the log tails of every process it
started are attached to the failure report."""
from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from clients import Java
from faulty_upstream import FaultyUpstream, OcspForger
from pki import AIA_FQDN, CRL_FQDN, ELSEWHERE_FQDN, OCSP_FQDN, Pki
from proxy import Proxy, proxy_config, upstream
from servers import OcspResponder, RedisServer, Relay, StaticServer, free_port


def pytest_configure(config):
    # Test servers must be reachable on loopback only; `openssl ocsp` binds every interface,
    # so run.sh starts pytest in a network namespace of its own that has nothing but lo.
    interfaces = {name for _, name in socket.if_nameindex()}
    if interfaces != {"lo"}:
        pytest.exit(f"integration tests must run inside run.sh's private network namespace "
                    f"(interfaces here: {sorted(interfaces)}); use tests/integration/run.sh",
                    returncode=2)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        for name, process in getattr(item, "ocsp_processes", []):
            report.sections.append((f"log tail: {name}", process.log_tail()))


def _track(request, name: str, process):
    request.node.ocsp_processes = getattr(request.node, "ocsp_processes", [])
    request.node.ocsp_processes.append((name, process))
    request.addfinalizer(process.stop)
    return process


class Hosts:
    """Names mapped to addresses in /etc/hosts for a test (or a module), as real clients
    (Java, NSS, GnuTLS) resolve the names in certificates. Only inside run.sh's private mount
    namespace, where /etc/hosts is a writable copy of the machine's."""

    def __init__(self):
        outer = os.environ.get("OCSP_OUTER_MOUNT_NS", "")
        if not outer or os.readlink("/proc/self/ns/mnt") == outer:
            pytest.fail("the hosts fixture writes /etc/hosts: it runs only inside run.sh's "
                        "private mount namespace (OCSP_OUTER_MOUNT_NS names the one outside)")
        self.original = Path("/etc/hosts").read_text()
        self.names: dict[str, str] = {}

    def map(self, name: str, address: str) -> None:
        """Resolve `name` to `address` until the fixture's end."""
        self.names[name] = address
        lines = "".join(f"{a} {n}\n" for n, a in self.names.items())
        # Written in place: /etc/hosts is a bind mount, a renamed file would not replace it.
        Path("/etc/hosts").write_text(lines + self.original)

    def restore(self) -> None:
        Path("/etc/hosts").write_text(self.original)


def _hosts(request):
    hosts = Hosts()
    request.addfinalizer(hosts.restore)
    return hosts


@pytest.fixture
def hosts(request) -> Hosts:
    """hosts.map(name, address): /etc/hosts entries for this test."""
    return _hosts(request)


@pytest.fixture(scope="module")
def module_hosts(request) -> Hosts:
    """hosts.map(name, address): /etc/hosts entries for this module's tests."""
    return _hosts(request)


@pytest.fixture(scope="session")
def pki(tmp_path_factory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def java(tmp_path_factory) -> Java:
    """java/RevocationCheck.java, compiled once per session (clients.Java)."""
    return Java(tmp_path_factory.mktemp("java"))


@pytest.fixture(scope="session")
def proxy_bin() -> str:
    path = os.environ.get("OCSP_PROXY_BIN", "")
    if not path or not os.access(path, os.X_OK):
        pytest.fail(f"OCSP_PROXY_BIN must name the built ocsp-proxy binary (got {path!r})")
    return path


@pytest.fixture
def start_responder(request, pki, tmp_path):
    """start_responder(signer=None, next_update=("-ndays", 1), ca=None, index=None, port=None)
    -> OcspResponder (for pki.ica and pki.index unless `ca` and `index` say otherwise; on a
    free port unless `port` names one, e.g. to restart a responder that was killed)"""
    def start(**kwargs) -> OcspResponder:
        responder = OcspResponder(pki, tmp_path, **kwargs)
        return _track(request, f"openssl ocsp responder :{responder.port}", responder)
    return start


@pytest.fixture
def responder(start_responder) -> OcspResponder:
    return start_responder()


@pytest.fixture
def start_relay(request):
    """start_relay(mode, target_url=None, host="127.0.0.1", port=0) -> Relay"""
    def start(mode: str, target_url: str | None = None, **kwargs) -> Relay:
        relay = Relay(mode, target_url, **kwargs)
        return _track(request, f"relay {mode} {relay.host}:{relay.port}", relay)
    return start


@pytest.fixture
def start_static(request, tmp_path):
    """start_static(port=0) -> StaticServer over a fresh directory of its own"""
    count = 0

    def start(**kwargs) -> StaticServer:
        nonlocal count
        count += 1
        server = StaticServer(tmp_path / f"static{count}", **kwargs)
        return _track(request, f"static server :{server.port}", server)
    return start


@pytest.fixture
def static(start_static) -> StaticServer:
    """A CA's web server: CRLs and caIssuers certificates, served as files."""
    return start_static()


@pytest.fixture
def start_faulty_upstream(request, pki):
    """start_faulty_upstream(port, mode, target_url) -> FaultyUpstream, stopped at teardown;
    it listens at once (its answers' signer certificates and keys are made beforehand)"""
    forger = OcspForger(pki)

    def start(port: int, mode: str, target_url: str) -> FaultyUpstream:
        return _track(request, f"faulty upstream :{port}",
                      FaultyUpstream(pki, port, mode, target_url, forger))
    return start


@pytest.fixture
def redis(request, tmp_path) -> RedisServer:
    return _track(request, "redis-server", RedisServer(tmp_path))


@pytest.fixture
def start_proxy(request, proxy_bin, pki, tmp_path):
    """start_proxy(port=..., fqdns=[OCSP_FQDN], resolve=None, nonce="ignore", cache=None,
    extra_upstreams=None, **sections) -> Proxy

    One upstream "testca" for the test issuing CA on `port`, then `extra_upstreams` (made
    with proxy.upstream); every FQDN resolves to 127.0.0.1 unless `resolve` says otherwise.
    `cache` entries override the cache section; `stdout` is where the proxy's stdout goes
    (default: its log); `nofile` is the process's open-file limit (soft and hard); other
    keyword arguments set whole top-level sections (e.g. redis={...})."""
    count = 0

    def start(port: int, fqdns: list[str] | None = None, resolve: dict[str, str] | None = None,
              nonce: str = "ignore", cache: dict | None = None,
              extra_upstreams: list[dict] | None = None, stdout=None,
              nofile: int | None = None, **sections) -> Proxy:
        nonlocal count
        count += 1
        fqdns = fqdns or [OCSP_FQDN]
        upstreams = [upstream(port, fqdns, [pki.ica.pem]), *(extra_upstreams or [])]
        every_fqdn = [fqdn for u in upstreams for fqdn in u["fqdns"]]
        config = proxy_config(
            upstreams=upstreams,
            resolve=resolve or {fqdn: "127.0.0.1" for fqdn in every_fqdn}, nonce=nonce)
        config["cache"].update(cache or {})
        config.update(sections)
        proxy = Proxy(proxy_bin, tmp_path, config, name=f"proxy{count}", stdout=stdout,
                      nofile=nofile)
        return _track(request, f"ocsp-proxy ({proxy.config_path.name})", proxy)
    return start


@pytest.fixture
def proxy(start_proxy, responder) -> Proxy:
    """The proxy in front of the real responder, with the default settings."""
    return start_proxy(responder.port)


@pytest.fixture
def start_forward_proxy(start_proxy):
    """start_forward_proxy(port=None, **sections) -> Proxy

    start_proxy for forward-mode and CRL tests: the OCSP, CRL, AIA and "elsewhere" test
    FQDNs all resolve to 127.0.0.1 (so a request the proxy wrongly let through would reach
    a test server and be counted). Without `port` the OCSP upstream is a port nothing
    listens on, for tests that need none."""
    names = (OCSP_FQDN, CRL_FQDN, AIA_FQDN, ELSEWHERE_FQDN)

    def start(port: int | None = None, **kwargs) -> Proxy:
        kwargs.setdefault("resolve", {name: "127.0.0.1" for name in names})
        return start_proxy(port or free_port(), **kwargs)
    return start
