"""`ocsp-proxy egress test`: from this machine, every host firewall-list names is resolved,
connected to and asked one real question of its kind, and the network team gets a row per
host with its verdict and the cause in words. Real peers on loopback, named through the
config's `resolve:` map: an `openssl ocsp` responder, a CA's web server with a CRL and a root
certificate, relays that answer 503, garbage or nothing, a port nobody listens on, a name that
does not resolve, and redis-server."""
from __future__ import annotations

import json
import re
import ssl
import subprocess

import pytest

from proxy import proxy_config, to_yaml, upstream
from servers import free_port

TIMEOUT_MS = 300
UNRESOLVABLE = "crl.nowhere.invalid"  # RFC 6761: never resolves; not in the resolve: map


def run(proxy_bin: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([proxy_bin, "egress", "test", *args], capture_output=True, text=True,
                          timeout=20)


def table_rows(stdout: str) -> dict[str, dict[str, str]]:
    """host:port -> the row's cells, read back from the fixed-width table."""
    lines = stdout.splitlines()
    head = re.split(r"\s{2,}", lines[0])
    assert head == ["HOST", "PORT", "PURPOSE", "ADDRESSES", "VERDICT", "TIME", "CAUSE"]
    rows = {}
    for line in lines[1:-1]:
        cells = dict(zip(head, re.split(r"\s{2,}", line, maxsplit=len(head) - 1)))
        rows[f"{cells['HOST']}:{cells['PORT']}"] = cells
    return rows


@pytest.fixture
def world(pki, responder, start_relay, static, redis, tmp_path):
    """A config naming one host of every kind and every way of failing, and what each row
    must say: host:port -> (verdict, cause pattern)."""
    static.put("ica.crl", pki.make_crl(pki.ica).read_bytes())
    blocked = b"<html><body>Access denied by proxy policy</body></html>\n"
    static.put("blocked.html", blocked)
    static.put("root.der", ssl.PEM_cert_to_DER_cert(pki.root.pem.read_text()))
    garbage, down, silent = (start_relay(mode) for mode in ("garbage", "unavailable", "silent"))
    refused_port = free_port()
    published = pki.ca_with_ca_issuers(f"aia_ca_{static.port}", "Egress Test CA",
                                       f"http://certs.good.test:{static.port}/root.der")
    config = proxy_config(upstreams=[
        upstream(responder.port, ["ocsp.good.test"], [pki.ica.pem], "good"),
        upstream(garbage.port, ["ocsp.garbage.test"], [pki.other_ica.pem], "garbage"),
        upstream(down.port, ["ocsp.down.test"], [published.pem], "down"),
        upstream(silent.port, ["ocsp.silent.test"], [pki.stranger.pem], "silent"),
    ], resolve={})
    config["crl"] = {"urls": [f"http://crl.good.test:{static.port}/ica.crl",
                              f"http://crl.html.test:{static.port}/blocked.html",
                              f"http://crl.refused.test:{refused_port}/ica.crl",
                              f"http://{UNRESOLVABLE}/ica.crl"]}
    config["forward"] = {"aia_fqdns": [f"certs.good.test:{static.port}",
                                       f"www.good.test:{static.port}"],
                         "trust_store": str(pki.root.pem)}
    config["redis"] = {"address": f"127.0.0.1:{redis.port}"}
    names = ["ocsp.good.test", "ocsp.garbage.test", "ocsp.down.test", "ocsp.silent.test",
             "crl.good.test", "crl.html.test", "crl.refused.test", "certs.good.test",
             "www.good.test"]
    config["resolve"] = {name: "127.0.0.1" for name in names}
    path = tmp_path / "egress.yaml"
    path.write_text(to_yaml(config) + "\n")
    crl_size = len(static.read("/ica.crl"))
    expected = {
        f"ocsp.good.test:{responder.port}": ("ok", re.escape("OCSP answer: successful")),
        f"ocsp.garbage.test:{garbage.port}":
            ("FAIL", re.escape("not an OCSP answer (application/ocsp-response, 28 bytes)")),
        f"ocsp.down.test:{down.port}": ("FAIL", "HTTP 503"),
        f"ocsp.silent.test:{silent.port}":
            ("FAIL", re.escape(f"timeout after {TIMEOUT_MS} ms (connected, no answer)")),
        f"crl.good.test:{static.port}": ("ok", re.escape(f"CRL (DER, {crl_size} bytes)")),
        f"crl.html.test:{static.port}":
            ("FAIL", re.escape(f"not a CRL (text/html, {len(blocked)} bytes)")),
        f"crl.refused.test:{refused_port}": ("FAIL", "connect refused"),
        f"{UNRESOLVABLE}:80": ("FAIL", "DNS: .+"),
        f"certs.good.test:{static.port}": ("ok", re.escape("caIssuers: 1 certificate (DER)")),
        f"www.good.test:{static.port}":
            ("ok", re.escape("HTTP 404 for / (the config names no URL on this host; "
                             "content not checked)")),
        f"127.0.0.1:{redis.port}": ("ok", "Redis: PONG"),
    }
    return path, expected


def test_egress_test_gives_each_host_its_verdict_and_cause(proxy_bin, world):
    path, expected = world
    result = run(proxy_bin, "--config", str(path), "--timeout-ms", str(TIMEOUT_MS))
    print(result.stdout)  # the table, for whoever reads the test log
    assert result.returncode == 1, result.stderr
    rows = table_rows(result.stdout)
    assert set(rows) == set(expected)
    for key, (verdict, cause) in expected.items():
        assert rows[key]["VERDICT"] == verdict, (key, rows[key])
        assert re.fullmatch(cause, rows[key]["CAUSE"]), (key, rows[key])
    assert rows[f"{UNRESOLVABLE}:80"]["ADDRESSES"] == "-"
    assert rows[next(k for k in rows if k.startswith("ocsp.good.test:"))]["ADDRESSES"] == \
        "127.0.0.1 (resolve:)"
    assert result.stdout.splitlines()[-1] == "6 of 11 hosts FAILED."


def test_egress_test_json_carries_the_same_verdicts(proxy_bin, world):
    path, expected = world
    result = run(proxy_bin, "--config", str(path), "--timeout-ms", str(TIMEOUT_MS), "--json")
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    assert document["ok"] is False and document["failed"] == 6
    assert document["timeout_ms"] == TIMEOUT_MS
    hosts = {f"{h['host']}:{h['port']}": h for h in document["hosts"]}
    assert set(hosts) == set(expected)
    for key, (verdict, cause) in expected.items():
        assert hosts[key]["verdict"] == verdict, hosts[key]
        assert re.fullmatch(cause, hosts[key]["cause"]), hosts[key]
    good = next(h for h in document["hosts"] if h["host"] == "ocsp.good.test")
    assert good["addresses"] == ["127.0.0.1"] and good["resolved_by"] == "resolve"
    assert good["purpose"] == "ocsp upstream good"
    assert hosts[f"{UNRESOLVABLE}:80"]["addresses"] == []


def test_egress_test_exits_0_when_every_host_answers(proxy_bin, pki, responder, static,
                                                     tmp_path):
    static.put("ica.crl", pki.make_crl(pki.ica).read_bytes())
    config = proxy_config(
        upstreams=[upstream(responder.port, ["ocsp.good.test"], [pki.ica.pem], "good")],
        resolve={"ocsp.good.test": "127.0.0.1", "crl.good.test": "127.0.0.1"})
    config["crl"] = {"urls": [f"http://crl.good.test:{static.port}/ica.crl"]}
    path = tmp_path / "egress.yaml"
    path.write_text(to_yaml(config) + "\n")
    result = run(proxy_bin, "--config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "All 2 hosts reachable."


def test_egress_test_of_a_bad_config_or_command_line_says_what_is_wrong(proxy_bin, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("listen: {ocsp: 127.0.0.1:0}\nupstreams: 5\n")
    result = run(proxy_bin, "--config", str(path))
    assert result.returncode == 1
    assert f"{path}:2: upstreams:" in result.stderr
    assert run(proxy_bin, "--timeout-ms", "soon").returncode == 64
    assert run(proxy_bin, "--bogus").returncode == 64
    wrong_verb = subprocess.run([proxy_bin, "egress", "check"], capture_output=True, text=True)
    assert wrong_verb.returncode == 64 and "unknown subcommand" in wrong_verb.stderr
    help_text = run(proxy_bin, "--help")
    assert help_text.returncode == 0
    assert "twice the longest" in help_text.stdout
