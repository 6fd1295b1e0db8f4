"""The test peers on their own, without the proxy: when a proxy test fails, these say
whether the PKI, the responder and the relay still behave as the proxy tests assume."""
from ocsp_client import SUCCESSFUL, openssl_query, parse_response, verify_response


def test_openssl_responder_answers_good_revoked_and_unknown_and_counts_requests(pki, responder):
    expected = {pki.good: "good", pki.revoked: "revoked", pki.unlisted: "unknown"}
    for n, (leaf, status) in enumerate(expected.items(), start=1):
        result = openssl_query(responder.url, pki, leaf)
        assert result.verified, result.output
        assert result.status_of(leaf) == status, result.output
        assert "WARNING: no nonce in response" not in result.output
        assert responder.requests_served == n


def test_relay_passes_answers_through_unchanged_when_asked_to(pki, responder, start_relay):
    relay = start_relay("pass", responder.url)
    result = openssl_query(f"http://127.0.0.1:{relay.port}/", pki, pki.good, nonce=False)
    assert result.verified, result.output
    assert result.status_of(pki.good) == "good"
    assert (relay.requests, responder.requests_served) == (1, 1)


def test_relay_flipping_a_signature_byte_breaks_verification_but_not_parsing(
        pki, responder, start_relay):
    relay = start_relay("flip_signature", responder.url)
    result = openssl_query(f"http://127.0.0.1:{relay.port}/", pki, pki.good, nonce=False)
    assert not result.verified, result.output
    assert parse_response(result.response).response_status == SUCCESSFUL
    assert "Response Verify Failure" in verify_response(result.response, pki, pki.good)


def test_responder_signing_with_the_rogue_certificate_fails_verification(pki, start_responder):
    rogue = start_responder(signer=pki.rogue)
    result = openssl_query(rogue.url, pki, pki.good, nonce=False)
    assert result.status_of(pki.good) == "good", result.output
    assert not result.verified, result.output
