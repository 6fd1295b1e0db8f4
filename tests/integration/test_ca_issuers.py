"""caIssuers certificates (RFC 5280 §4.2.2.1) through ocsp-proxy's forward mode, as Java and
Windows fetch them to build chains: from forward.aia_fqdns hosts only, byte-exact, one
download per URL, cached with HTTP caching headers, and checked to be certificates before
anything is cached or served."""
from __future__ import annotations

import re
import subprocess

import pytest

from ocsp_client import HttpAnswer, curl
from pki import AIA_FQDN, ELSEWHERE_FQDN
from prom_text import value
from servers import StaticServer, wait_until

RFC5019_CACHE_CONTROL = re.compile(r"max-age=(\d+), public, no-transform, must-revalidate")


def aia_url(static: StaticServer, name: str, fqdn: str = AIA_FQDN) -> str:
    return f"http://{fqdn}:{static.port}/{name}"


def fetch(proxy, url: str, **headers: str) -> HttpAnswer:
    """GET `url` with ocsp-proxy as curl's HTTP proxy (curl -x)."""
    return curl("GET", url, proxy=proxy.url, headers=headers)


@pytest.fixture
def aia_proxy(pki, static, start_forward_proxy):
    """aia_proxy(redis=None, **forward settings) -> Proxy allowing caIssuers downloads from
    the static server's port on the AIA test FQDN (which resolves to it)."""
    def start(redis: dict | None = None, **settings):
        sections = {"redis": redis} if redis else {}
        return start_forward_proxy(forward={
            "aia_fqdns": [f"{AIA_FQDN}:{static.port}"], "trust_store": str(pki.root.pem),
            **settings}, **sections)
    return start


def test_a_certificate_is_served_byte_exact_from_one_download_with_http_caching_headers(
        pki, static, aia_proxy):
    der = pki.der(pki.ica)
    static.put("ica.crt", der)
    url = aia_url(static, "ica.crt")
    proxy = aia_proxy()
    answers = [fetch(proxy, url) for _ in range(2)]
    for answer in answers:
        assert (answer.status, answer.body) == (200, der)
        assert answer.headers["content-type"] == "application/pkix-cert"
        cache_control = RFC5019_CACHE_CONTROL.fullmatch(answer.headers["cache-control"])
        assert cache_control and 0 < int(cache_control.group(1)) <= 86400, answer.headers
        assert answer.headers["etag"] == answers[0].headers["etag"]
        assert answer.headers["last-modified"]
    assert static.requests("/ica.crt") == 1
    again = fetch(proxy, url, **{"If-None-Match": answers[0].headers["etag"]})
    assert (again.status, again.body) == (304, b"")
    assert static.requests("/ica.crt") == 1
    proxy.wait_for_log("ca_issuers_fetched", url=url, source="upstream", certificates="1")
    metrics = proxy.metrics()
    assert value(metrics, "ocsp_proxy_ca_issuers_requests_total", result="served") == 2
    assert value(metrics, "ocsp_proxy_ca_issuers_requests_total", result="not_modified") == 1
    assert value(metrics, "ocsp_proxy_ca_issuers_fetches_total", result="ok") == 1
    held = proxy.status()["cache"]["ca_issuers"]
    assert held["entries"] == 1 and held["bytes"] >= len(der)
    assert [d["url"] for d in held["documents"]] == [url]


def test_a_pkcs7_bundle_is_served_as_pkcs7_mime(pki, static, aia_proxy, tmp_path):
    bundle = subprocess.run(
        ["openssl", "crl2pkcs7", "-nocrl", "-certfile", str(pki.ica.pem), "-certfile",
         str(pki.root.pem), "-outform", "DER"], check=True, capture_output=True).stdout
    static.put("chain.p7c", bundle)
    proxy = aia_proxy()
    answer = fetch(proxy, aia_url(static, "chain.p7c"))
    assert (answer.status, answer.body) == (200, bundle)
    assert answer.headers["content-type"] == "application/pkcs7-mime"


@pytest.mark.parametrize("body, reason", [
    (lambda pki: b"<html><body><h1>502 Bad Gateway</h1></body></html>\n", "not_a_certificate"),
    (lambda pki: pki.make_crl(pki.ica).read_bytes(), "not_a_certificate"),
    (lambda pki: pki.der(pki.ica) * 8, "too_large"),
], ids=["HTML error page", "a CRL", "over forward.aia_max_bytes"])
def test_what_is_not_a_certificate_gets_502_and_is_not_cached(
        pki, static, aia_proxy, body, reason):
    static.put("ica.crt", body(pki))
    url = aia_url(static, "ica.crt")
    proxy = aia_proxy(aia_max_bytes=len(pki.der(pki.ica)) * 4)
    for attempt in (1, 2):
        answer = fetch(proxy, url)
        assert answer.status == 502, answer
        assert answer.headers["cache-control"] == "no-store"
        assert reason in answer.body.decode()
        # Nothing was cached: the next request asks the CA again.
        assert static.requests("/ica.crt") == attempt
    proxy.wait_for_log("ca_issuers_invalid", url=url, reason=reason)
    static.put("ica.crt", pki.der(pki.ica))
    assert fetch(proxy, url).status == 200
    assert value(proxy.metrics(), "ocsp_proxy_ca_issuers_requests_total", result="error") == 2


def test_a_host_not_on_the_aia_list_is_refused(pki, static, aia_proxy):
    static.put("ica.crt", pki.der(pki.ica))
    proxy = aia_proxy()
    answer = fetch(proxy, aia_url(static, "ica.crt", fqdn=ELSEWHERE_FQDN))
    assert answer.status == 403
    proxy.wait_for_log("forward_refused", reason="not_allowed", host=ELSEWHERE_FQDN)
    assert static.total == 0


def test_a_certificate_fetched_by_one_instance_is_served_by_another_from_redis(
        pki, static, redis, aia_proxy):
    der = pki.der(pki.ica)
    static.put("ica.crt", der)
    url = aia_url(static, "ica.crt")
    section = {"address": f"127.0.0.1:{redis.port}"}
    first, second = [aia_proxy(redis=section) for _ in range(2)]
    for proxy in (first, second):
        proxy.wait_for_log("redis_state", state="up")
    assert (fetch(first, url).status, static.requests("/ica.crt")) == (200, 1)
    wait_until(lambda: any(k.startswith("ocsp-proxy:ca_issuers:v1:") for k in redis.keys()), 3,
               "the certificate to be written to Redis")
    answer = fetch(second, url)
    assert (answer.status, answer.body) == (200, der)
    assert static.requests("/ica.crt") == 1
    second.wait_for_log("ca_issuers_fetched", source="redis")
