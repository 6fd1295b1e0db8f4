"""`ocsp-proxy firewall-list`: every host:port the proxy may contact, for a firewall that
allows the CAs' services by FQDN."""
from __future__ import annotations

import subprocess

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
