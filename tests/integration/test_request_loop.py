"""A request loop in transparent (DNS-override) mode: the site's DNS points the CAs' names at
the proxy and the proxy resolves them the same way, so its own upstream fetch reaches it
again. Here `resolve:` points the upstream's and the CRL host's names at the proxy itself
(127.0.0.1:80). Every upstream fetch carries the proxy's own Via token; the front refuses it
(508), so the fetch fails at once: the client gets tryLater (OCSP) or 502 (CRL) quickly, the
log names the loop, and no request is sent more than once."""
from __future__ import annotations

import time

import pytest

from ocsp_client import TRY_LATER, curl, make_request, parse_response
from pki import CRL_FQDN, OCSP_FQDN
from prom_text import value

PROXY_ADDRESS = "127.0.0.1"
# Far above what a refused fetch takes, so that "quickly" means "not by a timeout".
UPSTREAM_TIMEOUT_S = 10
QUICK_S = UPSTREAM_TIMEOUT_S / 2


@pytest.fixture
def looping_proxy(pki, start_proxy):
    # Nonce passthrough: a request with a nonce is not coalesced, the case that multiplies.
    return start_proxy(80, resolve={OCSP_FQDN: PROXY_ADDRESS, CRL_FQDN: PROXY_ADDRESS},
                       nonce="passthrough",
                       listen={"ocsp": f"{PROXY_ADDRESS}:80", "admin": "127.0.0.1:0"},
                       forward={"enabled": False}, crl={"fqdns": [CRL_FQDN]},
                       limits={"max_request_bytes": "16KiB", "client_timeout": "2s",
                               "upstream_timeout": f"{UPSTREAM_TIMEOUT_S}s",
                               "max_upstream_response_bytes": "1MiB"})


def test_an_ocsp_request_looping_back_gets_try_later_at_once_and_is_sent_once(
        pki, looping_proxy):
    proxy = looping_proxy
    der = make_request(pki.ica, pki.good, nonce=True)
    started = time.monotonic()
    answer = curl("POST", f"http://{PROXY_ADDRESS}/", der, headers={"Host": OCSP_FQDN})
    elapsed = time.monotonic() - started
    assert answer.status == 200
    assert parse_response(answer.body).response_status == TRY_LATER
    assert elapsed < QUICK_S, f"answered after {elapsed:.1f}s: the loop ran into a timeout"
    line = proxy.wait_for_log("request_loop", host=OCSP_FQDN)
    assert "level=error" in line
    metrics = proxy.metrics()
    # One client request, one upstream fetch, one refused loop: nothing multiplied.
    assert value(metrics, "ocsp_proxy_upstream_requests_total", upstream="testca",
                 fqdn=OCSP_FQDN) == 1
    assert value(metrics, "ocsp_proxy_forward_refused_total", reason="loop") == 1
    transparent = {labels: v for (name, labels), v in metrics.items()
                   if name == "ocsp_proxy_requests_total" and ("mode", "transparent") in labels}
    assert sum(transparent.values()) == 1, transparent


def test_a_crl_download_looping_back_gets_502_at_once_and_is_sent_once(looping_proxy):
    proxy = looping_proxy
    started = time.monotonic()
    answer = curl("GET", f"http://{PROXY_ADDRESS}/ica.crl", content_type=None,
                  headers={"Host": CRL_FQDN})
    elapsed = time.monotonic() - started
    assert answer.status == 502, answer.body
    assert elapsed < QUICK_S, f"answered after {elapsed:.1f}s: the loop ran into a timeout"
    proxy.wait_for_log("request_loop", host=CRL_FQDN)
    assert value(proxy.metrics(), "ocsp_proxy_forward_refused_total", reason="loop") == 1
