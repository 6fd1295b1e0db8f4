"""`nonce: passthrough` is transparent (docs/ARCHITECTURE.md §3): a request with a nonce goes
to the CA as sent, and what the CA does with the nonce decides. Echoed: the client's own
answer, never cached (test_responder.py). Ignored (CDN responders): an ordinary answer,
cached, and later requests with a nonce are answered from the cache. Another nonce: refused.
CA down: the cached answer, without the client's nonce. The client is `openssl ocsp -nonce`,
which warns about a missing nonce and fails on a wrong one."""
from __future__ import annotations

from ocsp_client import openssl_query
from servers import free_port

NO_NONCE = "WARNING: no nonce in response"


def test_a_ca_that_ignores_nonces_has_its_answer_cached_and_served_to_the_next_nonce_request(
        pki, responder, start_faulty_upstream, start_proxy):
    port = free_port()
    ca = start_faulty_upstream(port, "no_nonce", responder.url)
    proxy = start_proxy(port, nonce="passthrough")
    results = [openssl_query(proxy.url, pki, pki.good, nonce=True) for _ in range(2)]
    for result in results:
        assert result.verified, result.output
        assert result.status_of(pki.good) == "good", result.output
        assert NO_NONCE in result.output  # as the CA itself would have answered
    assert results[1].response == results[0].response
    assert ca.requests["no_nonce"] == 1  # the second came from the cache
    proxy.wait_for_log("upstream_nonce", upstream="testca", state="ignored")
    # A client without a nonce shares the same cached answer.
    assert openssl_query(proxy.url, pki, pki.good, nonce=False).response == results[0].response
    assert ca.requests["no_nonce"] == 1


def test_an_answer_with_another_clients_nonce_is_refused(
        pki, responder, start_faulty_upstream, start_proxy):
    port = free_port()
    ca = start_faulty_upstream(port, "other_nonce", responder.url)
    proxy = start_proxy(port, nonce="passthrough")
    result = openssl_query(proxy.url, pki, pki.good, nonce=True)
    assert "Responder Error: trylater" in result.output, result.output
    assert ca.requests["other_nonce"] == 1
    proxy.wait_for_log("upstream_validation_failed", reason="nonce_mismatch", blame="request")


def test_with_the_ca_down_a_nonce_request_gets_the_cached_answer_without_its_nonce(
        pki, responder, start_proxy):
    proxy = start_proxy(responder.port, nonce="passthrough")
    cached = openssl_query(proxy.url, pki, pki.revoked, nonce=False)
    assert cached.status_of(pki.revoked) == "revoked", cached.output
    # The CA echoes nonces: while it is up, a nonce request gets its own answer from it.
    echoed = openssl_query(proxy.url, pki, pki.revoked, nonce=True)
    assert echoed.verified and NO_NONCE not in echoed.output, echoed.output
    assert responder.requests_served == 2
    responder.kill()
    fallback = openssl_query(proxy.url, pki, pki.revoked, nonce=True)
    assert fallback.verified, fallback.output
    assert fallback.status_of(pki.revoked) == "revoked", fallback.output
    assert NO_NONCE in fallback.output
    assert fallback.response == cached.response
