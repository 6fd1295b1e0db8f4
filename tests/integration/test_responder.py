"""ocsp-proxy as its users meet it: OCSP clients (`openssl ocsp -url`, curl) in front, the
real `openssl ocsp` responder (or a relay spoiling its answers) behind."""
from __future__ import annotations

import base64
import datetime
import email.utils
import re
import socket
import subprocess
import time
import urllib.parse

import pytest

from ocsp_client import (MALFORMED_REQUEST, SUCCESSFUL, TRY_LATER, UNAUTHORIZED, curl,
                         make_request, openssl_query, parse_response, verify_response)
from proxy import Proxy
from servers import free_port

RFC5019_CACHE_CONTROL = re.compile(r"max-age=(\d+), public, no-transform, must-revalidate")


def post(proxy: Proxy, der: bytes):
    return curl("POST", proxy.url, der)


# -- answers that verify ---------------------------------------------------------------------

@pytest.mark.parametrize("leaf_name, status, details", [
    ("good", "good", []),
    ("revoked", "revoked", [r"Reason: keyCompromise", r"Revocation Time: \w+ +\d+ [\d:]+ \d+ GMT"]),
    ("unlisted", "unknown", []),
])
def test_answer_verifies_at_an_openssl_client(pki, responder, proxy, leaf_name, status, details):
    leaf = getattr(pki, leaf_name)
    result = openssl_query(proxy.url, pki, leaf)
    assert result.returncode == 0, result.output
    assert result.verified, result.output
    assert result.status_of(leaf) == status, result.output
    for detail in details:
        assert re.search(detail, result.output), result.output
    # nonce: ignore strips the client's nonce, so the (cacheable) answer carries none
    assert "WARNING: no nonce in response" in result.output
    assert responder.requests_served == 1


def test_repeated_request_is_served_from_cache_byte_identical(pki, responder, proxy):
    first = openssl_query(proxy.url, pki, pki.good)
    second = openssl_query(proxy.url, pki, pki.good)
    assert first.verified and second.verified, second.output
    assert second.status_of(pki.good) == "good"
    der = make_request(pki.ica, pki.good)
    answers = [post(proxy, der) for _ in range(2)]
    for answer in answers:
        assert answer.status == 200
        assert answer.headers["content-type"] == "application/ocsp-response"
        assert answer.body == first.response
    relying_party = verify_response(answers[-1].body, pki, pki.good)
    assert "Response verify OK" in relying_party and ": good" in relying_party, relying_party
    assert second.response == first.response
    assert responder.requests_served == 1


def test_answer_is_the_upstream_answer_byte_for_byte(pki, responder, start_relay, start_proxy):
    relay = start_relay("pass", responder.url)
    proxy = start_proxy(relay.port)
    result = openssl_query(proxy.url, pki, pki.revoked)
    assert result.status_of(pki.revoked) == "revoked", result.output
    assert relay.answers == [result.response]


def _b64_with_reserved_characters(pki) -> bytes:
    """A request whose standard base64 has '+' or '/', so both GET encodings are put to
    the test (the CertID bytes are random per session)."""
    for leaf in (pki.good, pki.good2, pki.revoked, pki.unlisted):
        der = make_request(pki.ica, leaf)
        if set(base64.b64encode(der).decode()) & set("+/"):
            return der
    pytest.fail("no test request has '+' or '/' in its base64; rebuild the PKI")


def test_get_in_both_base64_forms_returns_the_cached_post_answer_with_rfc5019_headers(
        pki, responder, proxy):
    der = _b64_with_reserved_characters(pki)
    posted = post(proxy, der)
    assert posted.status == 200
    standard = urllib.parse.quote(base64.b64encode(der).decode(), safe="")
    base64url = base64.urlsafe_b64encode(der).decode().rstrip("=")
    assert "%2F" in standard or "%2B" in standard
    assert standard != base64url

    parsed = parse_response(posted.body)
    assert parsed.response_status == SUCCESSFUL and parsed.next_update, parsed.text
    etags = set()
    for path in (standard, base64url):
        answer = curl("GET", proxy.url + path)
        now = datetime.datetime.now(datetime.timezone.utc)
        assert answer.status == 200, path
        assert answer.headers["content-type"] == "application/ocsp-response"
        assert answer.body == posted.body, path
        # RFC 5019 §6.2
        cache_control = RFC5019_CACHE_CONTROL.fullmatch(answer.headers.get("cache-control", ""))
        assert cache_control, answer.headers
        max_age = int(cache_control.group(1))
        assert max_age > 0
        assert abs((parsed.next_update - now).total_seconds() - max_age) <= 5, answer.headers
        assert email.utils.parsedate_to_datetime(answer.headers["expires"]) == parsed.next_update
        assert (email.utils.parsedate_to_datetime(answer.headers["last-modified"])
                == parsed.this_update)
        etags.add(answer.headers.get("etag"))
    assert len(etags) == 1 and None not in etags, "same bytes, same ETag"
    assert responder.requests_served == 1


def test_sha256_certid_is_a_separate_cache_entry(pki, responder, proxy):
    sha1 = openssl_query(proxy.url, pki, pki.good)
    sha256 = openssl_query(proxy.url, pki, pki.good, digest="sha256")
    assert sha1.verified and sha256.verified, sha256.output
    assert sha256.status_of(pki.good) == "good"
    assert parse_response(sha256.response).hash_algorithm == "sha256"
    assert parse_response(sha1.response).hash_algorithm == "sha1"
    assert responder.requests_served == 2
    again = openssl_query(proxy.url, pki, pki.good, digest="sha256")
    assert again.response == sha256.response
    assert responder.requests_served == 2


# -- upstream answers that must not reach clients ----------------------------------------------

def assert_try_later(result):
    assert "Responder Error: trylater (3)" in result.output, result.output
    assert parse_response(result.response).response_status == TRY_LATER


def test_tampered_upstream_answer_gets_trylater_and_is_not_cached(
        pki, responder, start_relay, start_proxy):
    relay = start_relay("flip_signature", responder.url)
    proxy = start_proxy(relay.port)
    for attempt in (1, 2):
        assert_try_later(openssl_query(proxy.url, pki, pki.good))
        assert responder.requests_served == attempt
    proxy.wait_for_log("upstream_validation_failed", reason="bad_signature")


def test_answer_signed_by_a_responder_the_issuer_did_not_issue_gets_trylater(
        pki, start_responder, start_proxy):
    rogue = start_responder(signer=pki.rogue)
    proxy = start_proxy(rogue.port)
    assert_try_later(openssl_query(proxy.url, pki, pki.good))
    proxy.wait_for_log("upstream_validation_failed", reason="responder_not_issued_by_issuer")


def test_garbage_from_upstream_gets_trylater(pki, start_relay, start_proxy):
    relay = start_relay("garbage")
    proxy = start_proxy(relay.port)
    assert_try_later(openssl_query(proxy.url, pki, pki.good))
    assert relay.requests >= 1


def test_upstream_down_gets_trylater(pki, start_proxy):
    proxy = start_proxy(free_port())
    started = time.monotonic()
    assert_try_later(openssl_query(proxy.url, pki, pki.good))
    assert time.monotonic() - started < 5
    proxy.wait_for_log("upstream_failed")


def test_upstream_that_never_answers_gets_trylater_after_upstream_timeout(
        pki, start_relay, start_proxy):
    relay = start_relay("silent")
    proxy = start_proxy(relay.port)
    started = time.monotonic()
    assert_try_later(openssl_query(proxy.url, pki, pki.good))
    waited = time.monotonic() - started
    assert 1.5 <= waited <= 4.5, f"answered after {waited:.1f}s, upstream_timeout is 2s"
    assert relay.requests == 1
    proxy.wait_for_log("upstream_failed")


def test_unknown_issuer_gets_unauthorized_and_upstream_is_not_asked_under_refuse(
        pki, responder, start_proxy):
    proxy = start_proxy(responder.port, responder={"unknown_issuer": "refuse"})
    result = openssl_query(proxy.url, pki, pki.other_leaf, issuer=pki.other_ica)
    assert "Responder Error: unauthorized (6)" in result.output, result.output
    assert parse_response(result.response).response_status == UNAUTHORIZED
    proxy.wait_for_log("unknown_issuer")
    assert responder.requests_served == 0


# -- requests that are not OCSP ---------------------------------------------------------------

@pytest.mark.parametrize("make_body", [
    pytest.param(lambda pki: b"this is not DER at all", id="garbage"),
    pytest.param(lambda pki: make_request(pki.ica, pki.good)[:-7], id="truncated DER"),
    pytest.param(lambda pki: make_request(pki.ica, pki.good) + b"\x00\x00", id="trailing bytes"),
])
def test_malformed_post_gets_malformed_request(pki, responder, proxy, make_body):
    answer = post(proxy, make_body(pki))
    assert answer.status == 200
    assert parse_response(answer.body).response_status == MALFORMED_REQUEST
    assert responder.requests_served == 0


@pytest.mark.parametrize("path", [
    pytest.param("not*base64!", id="bad characters"),
    pytest.param(base64.b64encode(b"hello, world").decode(), id="base64 of non-DER"),
])
def test_bad_base64_get_gets_malformed_request(responder, proxy, path):
    answer = curl("GET", proxy.url + path)
    assert answer.status == 200
    assert parse_response(answer.body).response_status == MALFORMED_REQUEST
    assert responder.requests_served == 0


def test_post_body_over_max_request_bytes_gets_413(responder, proxy):
    answer = post(proxy, b"\x30" * (16 * 1024 + 1))
    assert answer.status == 413
    assert responder.requests_served == 0


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_methods_other_than_get_and_post_get_405(pki, responder, proxy, method):
    answer = curl(method, proxy.url, make_request(pki.ica, pki.good))
    assert answer.status == 405
    assert responder.requests_served == 0


@pytest.mark.parametrize("partial", [
    pytest.param(b"POST / HTTP/1.1\r\nHost: proxy\r\nContent-Type: applic", id="headers"),
    pytest.param(b"POST / HTTP/1.1\r\nHost: proxy\r\nContent-Type: application/ocsp-request\r\n"
                 b"Content-Length: 100\r\n\r\n0123456789", id="body"),
])
def test_slow_client_is_dropped_after_client_timeout_and_others_are_served(
        pki, responder, proxy, partial):
    with socket.create_connection(("127.0.0.1", proxy.ports["ocsp"])) as slow:
        slow.sendall(partial)
        started = time.monotonic()
        # meanwhile an ordinary client is answered at once
        assert openssl_query(proxy.url, pki, pki.good).verified
        assert time.monotonic() - started < 1.5
        slow.settimeout(10)
        while slow.recv(4096):  # a 408 before the close is fine; we wait for the close
            pass
        waited = time.monotonic() - started
    assert 1.5 <= waited <= 5, f"connection closed after {waited:.1f}s, client_timeout is 2s"


# -- nonce policy ------------------------------------------------------------------------------

def test_nonce_passthrough_echoes_the_nonce_and_does_not_cache(pki, responder, start_proxy):
    proxy = start_proxy(responder.port, nonce="passthrough")
    for attempt in (1, 2):
        result = openssl_query(proxy.url, pki, pki.good, nonce=True)
        assert result.verified, result.output
        assert result.status_of(pki.good) == "good"
        assert "WARNING: no nonce in response" not in result.output
        assert "nonce verify error" not in result.output.lower()
        assert responder.requests_served == attempt


def test_nonce_passthrough_still_caches_requests_without_nonce(pki, responder, start_proxy):
    proxy = start_proxy(responder.port, nonce="passthrough")
    first = openssl_query(proxy.url, pki, pki.good, nonce=False)
    second = openssl_query(proxy.url, pki, pki.good, nonce=False)
    assert first.verified and second.verified, second.output
    assert second.response == first.response
    assert responder.requests_served == 1


# -- upstream failover -------------------------------------------------------------------------

@pytest.mark.parametrize("first_fqdn_fails_with", ["connection refused", "503"])
def test_next_fqdn_answers_when_the_first_fails(pki, responder, start_relay, start_proxy,
                                                first_fqdn_fails_with):
    # The responder binds every address, so the working FQDN goes through a relay bound to
    # 127.0.0.1 only; the dead one resolves to 127.0.0.2 on the same port.
    relay = start_relay("pass", responder.url, host="127.0.0.1")
    dead = None
    if first_fqdn_fails_with == "503":
        dead = start_relay("unavailable", host="127.0.0.2", port=relay.port)
    proxy = start_proxy(relay.port, fqdns=["dead.test.example", "ocsp.test.example"],
                        resolve={"dead.test.example": "127.0.0.2",
                                 "ocsp.test.example": "127.0.0.1"})
    result = openssl_query(proxy.url, pki, pki.good)
    assert result.verified, result.output
    assert result.status_of(pki.good) == "good"
    assert responder.requests_served == 1
    if dead:
        assert dead.requests == 1


# -- operations --------------------------------------------------------------------------------

def test_admin_listener_reports_health_and_readiness(proxy):
    health = curl("GET", proxy.admin_url + "healthz")
    assert (health.status, health.body.strip()) == (200, b"ok")
    assert curl("GET", proxy.admin_url + "readyz").status == 200


def test_sigterm_stops_the_proxy_with_exit_status_0(proxy):
    assert proxy.terminate() == 0


def test_version_and_help(proxy_bin):
    version = subprocess.run([proxy_bin, "--version"], capture_output=True, text=True, timeout=10)
    assert (version.returncode, version.stdout.strip()) == (0, "ocsp-proxy 0.1.0")
    usage = subprocess.run([proxy_bin, "--help"], capture_output=True, text=True, timeout=10)
    assert usage.returncode == 0
    assert "--config" in usage.stdout and "--check-config" in usage.stdout


VALID_CONFIG = """\
listen:
  ocsp: 127.0.0.1:0
  admin: 127.0.0.1:0
workers: 2
cache:
  memory_bytes: 64MiB
  max_age: 7d
upstreams:
  - name: testca
    fqdns: [ocsp.test.example]
    port: 8080
    issuers: [{ica}]
"""


def check_config(proxy_bin, path):
    return subprocess.run([proxy_bin, "--check-config", "--config", str(path)],
                          capture_output=True, text=True, timeout=10)


def test_check_config_accepts_a_valid_file(proxy_bin, pki, tmp_path):
    path = tmp_path / "valid.yaml"
    path.write_text(VALID_CONFIG.format(ica=pki.ica.pem))
    result = check_config(proxy_bin, path)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("line, old, new, key_path", [
    (4, "workers: 2", "workers: many", "workers"),
    (7, "  max_age: 7d", "  max_ages: 7d", "cache.max_ages"),
    (7, "  max_age: 7d", "  max_age: 7 fortnights", "cache.max_age"),
    (10, "fqdns: [ocsp.test.example]", 'fqdns: ["http://x"]', "upstreams[0].fqdns[0]"),
    (12, "issuers: [{ica}]", "issuers: [/nonexistent/ica.pem]", "upstreams[0].issuers[0]"),
])
def test_check_config_rejects_a_broken_file_naming_file_line_and_key(
        proxy_bin, pki, tmp_path, line, old, new, key_path):
    path = tmp_path / "broken.yaml"
    text = VALID_CONFIG.replace(old, new)
    assert text != VALID_CONFIG
    path.write_text(text.format(ica=pki.ica.pem))
    result = check_config(proxy_bin, path)
    assert result.returncode == 1, result.stderr
    assert f"{path}:{line}: {key_path}: " in result.stderr, result.stderr
