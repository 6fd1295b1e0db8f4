"""`ocsp-proxy firewall-list`: every host:port the proxy may contact, for a firewall that
allows the CAs' services by FQDN."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from pathlib import Path

from proxy import proxy_config, to_yaml, upstream


def run(proxy_bin: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([proxy_bin, "firewall-list", *args], capture_output=True, text=True,
                          timeout=10)


def test_firewall_list_names_every_upstream_crl_and_aia_host_with_its_port(
        pki, proxy_bin, tmp_path):
    config = proxy_config(
        upstreams=[upstream(8080, ["ocsp.a.example", "ocsp2.a.example"], [pki.ica.pem], "a")],
        resolve={})
    config["crl"] = {"fqdns": ["crl.a.example"], "urls": ["http://crl.b.example:8081/b.crl"]}
    config["forward"] = {"aia_fqdns": ["cacerts.a.example"], "trust_store": str(pki.root.pem)}
    config["redis"] = {"address": "127.0.0.1:6380"}
    path = tmp_path / "fw.yaml"
    path.write_text(to_yaml(config) + "\n")
    result = run(proxy_bin, "--config", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "cacerts.a.example:80\taia",
        "crl.a.example:80\tcrl",
        "crl.b.example:8081\tcrl",
        "ocsp.a.example:8080\tocsp upstream a",
        "ocsp2.a.example:8080\tocsp upstream a",
        "127.0.0.1:6380\tredis",
    ]


def test_firewall_list_of_a_bad_config_names_the_file_and_fails(proxy_bin, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("listen: {ocsp: 127.0.0.1:0}\nupstreams: 5\n")
    result = run(proxy_bin, "--config", str(path))
    assert result.returncode == 1
    assert f"{path}:2: upstreams:" in result.stderr
    assert run(proxy_bin, "--bogus").returncode == 64


def test_firewall_list_of_the_shipped_config_names_the_catalogues_hosts(proxy_bin):
    """Every OCSP, CRL and caIssuers host of the shipped issuer catalogue, PKIoverheid's
    included, is in the list the firewall team gets."""
    shipped = Path(os.environ["OCSP_SOURCE_ROOT"]) / "conf" / "ocsp-proxy.yaml"
    result = run(proxy_bin, "--config", str(shipped))
    assert result.returncode == 0, result.stderr
    lines = set(result.stdout.splitlines())
    assert {
        "rootocsp-g3.pkioverheid.nl:80\tocsp upstream pkioverheid-root",
        "domorganisatieservicesocsp-g3.pkioverheid.nl:80\tocsp upstream pkioverheid-services",
        "crl.pkioverheid.nl:80\tcrl",
        "cert.pkioverheid.nl:80\taia",
        "ocsp.digicert.com:80\tocsp upstream digicert",
        "ocsp2.globalsign.com:80\tocsp upstream globalsign",
    } <= lines
    index = json.loads((shipped.parent / "catalogue" / "index.json").read_text())
    hosts = {line.split(":")[0] for line in lines}
    assert set(index["crl_hosts"]) <= hosts
    assert set(index["ca_issuers_hosts"]) <= hosts


def test_firewall_list_formats_for_firewall_tooling(pki, proxy_bin, tmp_path):
    """csv (RFC 4180), json and squid carry the same entries as the plain list."""
    config = proxy_config(
        upstreams=[upstream(8080, ["ocsp.a.example"], [pki.ica.pem], "a")],
        resolve={})
    config["crl"] = {"fqdns": ["crl.a.example"]}
    config["redis"] = {"address": "127.0.0.1:6380"}
    path = tmp_path / "fw.yaml"
    path.write_text(to_yaml(config) + "\n")

    plain = run(proxy_bin, "--config", str(path), "--format", "plain")
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout == run(proxy_bin, "--config", str(path)).stdout

    as_json = run(proxy_bin, "--config", str(path), "--format=json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == [
        {"host": "crl.a.example", "port": 80, "purpose": "crl"},
        {"host": "ocsp.a.example", "port": 8080, "purpose": "ocsp upstream a"},
        {"host": "127.0.0.1", "port": 6380, "purpose": "redis"},
    ]

    as_csv = subprocess.run([proxy_bin, "firewall-list", "--config", str(path), "--format", "csv"],
                            capture_output=True, timeout=10)
    assert as_csv.returncode == 0
    rows = list(csv.reader(io.StringIO(as_csv.stdout.decode(), newline="")))
    assert rows == [["host", "port", "purpose"], ["crl.a.example", "80", "crl"],
                    ["ocsp.a.example", "8080", "ocsp upstream a"],
                    ["127.0.0.1", "6380", "redis"]]
    assert as_csv.stdout.endswith(b"\r\n")

    squid = run(proxy_bin, "--config", str(path), "--format", "squid")
    assert squid.returncode == 0, squid.stderr
    rules = [l for l in squid.stdout.splitlines() if not l.startswith("#")]
    assert rules == ["acl ocsp_proxy_hosts dstdomain crl.a.example ocsp.a.example",
                     "acl ocsp_proxy_ports port 80 8080",
                     "http_access allow ocsp_proxy_hosts ocsp_proxy_ports"]
    assert "127.0.0.1:6380 (redis)" in squid.stdout

    bad = run(proxy_bin, "--config", str(path), "--format", "xml")
    assert bad.returncode == 64
    assert "--format takes plain, csv, json or squid" in bad.stderr
