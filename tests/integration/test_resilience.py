"""ocsp-proxy keeping answers while its parts fail: coalesced misses, refresh ahead, stale
answers while the upstream is down (never past nextUpdate)."""
from __future__ import annotations

import concurrent.futures
import datetime
import subprocess
import time

from faulty_upstream import FaultyUpstream
from ocsp_client import (MALFORMED_REQUEST, SUCCESSFUL, TRY_LATER, curl, make_request,
                         parse_response)
from servers import free_port, wait_until


def post(proxy, der: bytes):
    return curl("POST", proxy.url, der)


def one_minute_answers(pki, start_responder, start_proxy, max_age: str):
    """A responder whose answers are valid one minute (openssl's shortest, -nmin 1), a proxy
    capping their freshness at `max_age`, and the first answer for pki.good through it."""
    responder = start_responder(next_update=("-nmin", 1))
    proxy = start_proxy(responder.port, cache={"max_age": max_age})
    der = make_request(pki.ica, pki.good)
    first = post(proxy, der)
    assert parse_response(first.body).response_status == SUCCESSFUL
    assert responder.requests_served == 1
    return responder, proxy, der, first


def test_200_concurrent_requests_for_one_uncached_certid_cause_one_upstream_request(
        pki, responder, proxy):
    der = make_request(pki.ica, pki.good2)
    with concurrent.futures.ThreadPoolExecutor(max_workers=200) as pool:
        answers = list(pool.map(lambda _: post(proxy, der), range(200)))
    assert all(a.status == 200 for a in answers)
    assert len({a.body for a in answers}) == 1  # every client got the same signed answer
    assert parse_response(answers[0].body).response_status == SUCCESSFUL
    assert responder.requests_served == 1


def test_refresh_ahead_fetches_a_newer_answer_without_a_client_waiting(
        pki, start_responder, start_proxy):
    # Freshness is capped at 6 s after thisUpdate, so the refresh point is at 3 s. openssl
    # writes thisUpdate in whole seconds (rounded down), so a refresh point can come up to
    # 1 s before "3 s after the answer"; the timings below leave that second of margin.
    responder, proxy, der, first = one_minute_answers(pki, start_responder, start_proxy, "6s")
    time.sleep(3.2)
    during = post(proxy, der)
    # The client got the cached answer at once; the refresh went upstream behind it.
    assert during.body == first.body
    wait_until(lambda: responder.requests_served == 2, 5, "the background refresh")
    newer = post(proxy, der)
    assert parse_response(newer.body).response_status == SUCCESSFUL
    # The refreshed answer (thisUpdate at least 2 s later, refresh point 3 s after that) is
    # served from cache: no 3rd upstream request.
    assert responder.requests_served == 2
    # ... and it is the refreshed one, not the first answer still inside its freshness.
    assert parse_response(newer.body).this_update > parse_response(first.body).this_update


def test_stale_answer_is_served_until_next_update_while_upstream_is_down_then_trylater(
        pki, start_responder, start_proxy):
    # Freshness is capped at 2 s, so from 2 s to nextUpdate (60 s) the cached answer is
    # stale-but-valid.
    responder, proxy, der, first = one_minute_answers(pki, start_responder, start_proxy, "2s")
    parsed = parse_response(first.body)
    responder.stop()

    time.sleep(2.5)
    stale = post(proxy, der)
    assert stale.status == 200
    assert stale.body == first.body
    proxy.wait_for_log("stale_answer")

    # Wait until nextUpdate has passed; from then on the answer must never be served.
    remaining = (parsed.next_update - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
    time.sleep(max(0.0, remaining) + 1.0)
    after = post(proxy, der)
    assert parse_response(after.body).response_status == TRY_LATER


def test_requests_whose_answers_cannot_fit_them_do_not_open_the_circuit(
        pki, start_proxy, tmp_path):
    """An answer carrying another nonce than the client's (nonce_mismatch, blamed on the
    request), or a request listing one CertID twice. Neither may open the CA's circuit: other
    clients must still be answered, with the circuit closed. (An answer without the nonce
    is no failure: test_nonce.py.)"""
    upstream = FaultyUpstream(pki, free_port(), "other_nonce", target_url="")
    try:
        proxy = start_proxy(upstream.port, nonce="passthrough")
        for leaf in (pki.good, pki.good2, pki.revoked, pki.unlisted, pki.good):
            hostile = post(proxy, make_request(pki.ica, leaf, nonce=True))
            assert parse_response(hostile.body).response_status == TRY_LATER
        assert proxy.log_lines("circuit") == []
        for leaf in (pki.good, pki.good2):
            answer = parse_response(post(proxy, make_request(pki.ica, leaf)).body)
            assert answer.response_status == SUCCESSFUL
            assert answer.cert_status == "good"

        # One CertID listed twice: refused before anything is sent upstream.
        asked = upstream.requests["other_nonce"]
        request = tmp_path / "twice.der"
        subprocess.run(["openssl", "ocsp", "-issuer", str(pki.ica.pem), "-cert", str(pki.good.pem),
                        "-cert", str(pki.good.pem), "-no_nonce", "-reqout", str(request)],
                       check=True, capture_output=True)
        for _ in range(4):
            twice = post(proxy, request.read_bytes())
            assert parse_response(twice.body).response_status == MALFORMED_REQUEST
        assert upstream.requests["other_nonce"] == asked
        assert 'reason=duplicate_certid' in proxy.log()
        assert proxy.log_lines("circuit") == []
    finally:
        upstream.stop()
