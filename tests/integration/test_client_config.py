"""`ocsp-proxy client-config --for PRODUCT`: the printed settings, used as printed against a
real proxy in front of the test CA's responder. OpenSSL's command lines run as they are
(placeholders filled in), Java reads the printed security properties from a file, and the
nginx snippet goes through `nginx -t` (its form is checked by the
unit tests everywhere)."""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from clients import Java
from pki import OCSP_FQDN, Cert, Pki
from proxy import Proxy


def client_config(proxy_bin: str, proxy: Proxy, product: str, *extra: str) -> str:
    """The settings printed for `product`, from the proxy's own config file with the port it
    listens on (the tests' configs say port 0: a free port chosen at start)."""
    config = proxy.config_path.with_name(proxy.config_path.stem + "-fixed.yaml")
    config.write_text(re.sub(r'(ocsp:\s*"?127\.0\.0\.1:)0\b', rf"\g<1>{proxy.ports['ocsp']}",
                             proxy.config_path.read_text(), count=1))
    done = subprocess.run([proxy_bin, "client-config", "--for", product, "--config", str(config),
                           *extra], capture_output=True, text=True, timeout=10)
    assert done.returncode == 0, done.stderr
    return done.stdout


def section(text: str, title: str) -> list[str]:
    """The lines of "## TITLE" that are not comments."""
    out, inside = [], False
    for line in text.splitlines():
        if line.startswith("## "):
            inside = line == f"## {title}"
        elif inside and line and not line.startswith("#"):
            out.append(line)
    return out


def run_openssl_line(line: str, pki: Pki, leaf: Cert, ca_ocsp_url: str) -> str:
    filled = (line.replace("ISSUER.pem", str(pki.ica.pem)).replace("LEAF.pem", str(leaf.pem))
              .replace("ROOTS.pem", str(pki.root.pem)).replace("CA_OCSP_URL", ca_ocsp_url))
    done = subprocess.run(shlex.split(filled), capture_output=True, text=True, timeout=20)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_printed_openssl_command_lines_get_verified_answers_through_the_proxy(
        pki, responder, proxy_bin, start_proxy):
    proxy = start_proxy(responder.port)
    text = client_config(proxy_bin, proxy, "openssl")
    [local] = section(text, "Local responder")
    [forward] = section(text, "Forward proxy")
    assert local.startswith(f"openssl ocsp -url http://127.0.0.1:{proxy.ports['ocsp']}/ ")
    ca_url = f"http://{OCSP_FQDN}:{responder.port}/"  # what the leaf's AIA would say
    for line in (local, forward):
        assert f"{pki.good.pem}: good" in run_openssl_line(line, pki, pki.good, ca_url)
        assert f"{pki.revoked.pem}: revoked" in run_openssl_line(line, pki, pki.revoked, ca_url)
    # Each line was answered by the proxy, in the mode its section names.
    requests = {mode: sum(v for (name, labels), v in proxy.metrics().items()
                          if name == "ocsp_proxy_requests_total" and ("mode", mode) in labels)
                for mode in ("responder", "forward")}
    assert requests == {"responder": 2, "forward": 2}


def test_java_with_the_printed_security_properties_asks_the_proxy(
        pki, responder, proxy_bin, start_proxy, java: Java, tmp_path):
    proxy = start_proxy(responder.port)
    text = client_config(proxy_bin, proxy, "java")
    properties = [line for line in section(text, "Local responder") if line.startswith("ocsp.")]
    assert properties == ["ocsp.enable=true",
                          f"ocsp.responderURL=http://127.0.0.1:{proxy.ports['ocsp']}/"]
    security = tmp_path / "java-ocsp.security"
    security.write_text("\n".join(properties) + "\n")
    # No responder URL given to the checker, and the leaf's AIA name does not resolve here:
    # only the security property can lead Java to the proxy.
    options = [f"-Djava.security.properties={security}"]
    assert java.check(pki, pki.good, jvm_options=options).verdict == "good"
    revoked = java.check(pki, pki.revoked, jvm_options=options)
    assert revoked.verdict == "revoked", revoked
    [forward] = section(text, "Forward proxy")
    assert shlex.split(forward) == ["-Dhttp.proxyHost=127.0.0.1",
                                    f"-Dhttp.proxyPort={proxy.ports['ocsp']}"]


def test_nginx_accepts_the_printed_snippet(pki, responder, proxy_bin, start_proxy, tmp_path):
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    assert nginx, "nginx is not installed (deploy/bootstrap.sh installs it for the tests)"
    proxy = start_proxy(responder.port)
    snippet = "\n".join(section(client_config(proxy_bin, proxy, "nginx"), "Local responder"))
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\nhttp {{\n"
        f"  access_log off;\n  server {{\n    listen 127.0.0.1:8443 ssl;\n"
        f"    ssl_certificate {pki.good.pem};\n    ssl_certificate_key {pki.good.key};\n"
        f"    ssl_verify_client on;\n    ssl_client_certificate {pki.root.pem};\n"
        f"    ssl_trusted_certificate {pki.ica.pem};\n{snippet}\n  }}\n}}\n")
    done = subprocess.run([nginx, "-t", "-c", str(conf), "-p", str(tmp_path)],
                          capture_output=True, text=True, timeout=20)
    assert done.returncode == 0, done.stderr


def test_a_wildcard_listener_needs_host_and_says_so(proxy_bin, tmp_path, pki):
    config = tmp_path / "wild.yaml"
    config.write_text(f'listen: {{ocsp: "0.0.0.0:80"}}\nstate_dir: none\nupstreams:\n'
                      f'  - name: testca\n    fqdns: [{OCSP_FQDN}]\n    issuers: [{pki.ica.pem}]\n')
    refused = subprocess.run([proxy_bin, "client-config", "--for", "apache", "--config",
                              str(config)], capture_output=True, text=True, timeout=10)
    assert refused.returncode == 64
    assert "listen.ocsp is 0.0.0.0:80, every interface: give the name or address clients use " \
           "with --host NAME" in refused.stderr
    named = subprocess.run([proxy_bin, "client-config", "--for", "apache", "--config",
                            str(config), "--host", "ocsp.hospital.example"],
                           capture_output=True, text=True, timeout=10)
    assert named.returncode == 0, named.stderr
    assert "SSLOCSPDefaultResponder http://ocsp.hospital.example:80/" in named.stdout.splitlines()
