"""ocsp-proxy in transparent (DNS-override) mode: the site's DNS points the CAs' host names
at the proxy, which listens on port 80, so clients send it exactly what they would send the
CA (origin-form requests with the CA's name in Host) and need no setting of their own. The
proxy's own `resolve:` still reaches the real hosts. Forward mode is off: it is another
deployment, and transparent mode does not depend on it."""
from __future__ import annotations

import base64
import urllib.parse

import pytest

from ocsp_client import (MALFORMED_REQUEST, assert_one_good_answer, curl, make_request,
                         openssl_query, parse_response)
from pki import CRL_FQDN, OCSP_FQDN
from prom_text import value
from proxy import wait_for_revocation_records

PROXY_ADDRESS = "127.0.0.1"  # where the site's DNS sends the CAs' names
CRL_ADDRESS = "127.0.0.2"    # the CRL host's real address, as the proxy's `resolve:` has it


@pytest.fixture
def site(pki, responder, start_static, start_proxy, tmp_path):
    """(proxy on PROXY_ADDRESS:80, the CRL host on CRL_ADDRESS:80, the revocation log)"""
    crl_host = start_static(host=CRL_ADDRESS, port=80)
    log = tmp_path / "revocations.jsonl"
    proxy = start_proxy(responder.port, resolve={OCSP_FQDN: "127.0.0.1", CRL_FQDN: CRL_ADDRESS},
                        listen={"ocsp": f"{PROXY_ADDRESS}:80", "admin": "127.0.0.1:0"},
                        forward={"enabled": False}, crl={"fqdns": [CRL_FQDN]},
                        revocation_log=str(log))
    assert proxy.ports["ocsp"] == 80
    return proxy, crl_host, log


def ca_host(responder) -> str:
    """The Host a client sends for the test CA's OCSP URL (its responder is not on port 80)."""
    return f"{OCSP_FQDN}:{responder.port}"


def test_openssl_post_to_the_cas_name_under_a_path_gets_the_cas_verified_answer(
        pki, responder, site):
    proxy, _, log = site
    result = openssl_query(f"http://{PROXY_ADDRESS}/gts1c3", pki, pki.revoked,
                           host=ca_host(responder))
    assert result.verified, result.output
    assert result.status_of(pki.revoked) == "revoked", result.output
    assert responder.requests_served == 1
    assert value(proxy.metrics(), "ocsp_proxy_requests_total", mode="transparent",
                 result="revoked") == 1
    [record] = wait_for_revocation_records(log, 1)
    assert record["mode"] == "transparent" and record["upstream_fqdn"] == OCSP_FQDN


@pytest.mark.parametrize("prefix", ["", "/gsrsaovsslca2018", "/gts1c3/"])
def test_curl_get_to_the_cas_name_under_a_path_is_answered_from_one_cache(
        pki, responder, site, prefix):
    proxy, _, _ = site
    der = make_request(pki.ica, pki.good)
    path = prefix + "/" + urllib.parse.quote(base64.b64encode(der).decode(), safe="")
    answers = [curl("GET", f"http://{PROXY_ADDRESS}{path}", headers={"Host": ca_host(responder)}),
               curl("POST", f"http://{PROXY_ADDRESS}/", der, headers={"Host": ca_host(responder)})]
    assert_one_good_answer(answers, pki, pki.good)
    assert responder.requests_served == 1
    assert value(proxy.metrics(), "ocsp_proxy_requests_total", mode="transparent",
                 result="good") == 2


def test_crl_get_to_the_crl_hosts_name_is_served_by_the_crl_service(pki, site):
    proxy, crl_host, _ = site
    crl = pki.make_crl(pki.ica, revoked=[pki.revoked]).read_bytes()
    crl_host.put("ica.crl", crl)
    # A client whose DNS sends crl.test.example to the proxy: "Host: crl.test.example".
    answers = [curl("GET", f"http://{PROXY_ADDRESS}/ica.crl", content_type=None,
                    headers={"Host": CRL_FQDN}) for _ in range(2)]
    for answer in answers:
        assert answer.status == 200, answer.body
        assert answer.body == crl
    assert crl_host.requests("/ica.crl") == 1
    proxy.wait_for_log("crl_fetched", url=f"http://{CRL_FQDN}/ica.crl", signature_checked="true")


def test_a_host_the_proxy_does_not_list_gets_the_local_responder(pki, responder, site):
    proxy, crl_host, _ = site
    der = make_request(pki.ica, pki.good)
    for host in (f"{PROXY_ADDRESS}", "ocsp-proxy.hospital.test", "elsewhere.test.example"):
        answer = curl("POST", f"http://{PROXY_ADDRESS}/", der, headers={"Host": host})
        assert answer.status == 200
        assert parse_response(answer.body).cert_status == "good"
    # A CRL path under a name nobody allowed is an OCSP GET to the local responder, and
    # nothing is fetched for it.
    refused = curl("GET", f"http://{PROXY_ADDRESS}/ica.crl", content_type=None,
                   headers={"Host": "elsewhere.test.example"})
    assert parse_response(refused.body).response_status == MALFORMED_REQUEST
    assert crl_host.requests("/ica.crl") == 0
    metrics = proxy.metrics()
    assert value(metrics, "ocsp_proxy_requests_total", mode="responder", result="good") == 3
    assert value(metrics, "ocsp_proxy_requests_total", mode="transparent", result="good") == 0
