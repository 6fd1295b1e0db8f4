"""CRLs through ocsp-proxy's forward mode: served byte-exact from cache until nextUpdate with
HTTP caching headers, checked against the issuer's key before anything is cached, kept warm
from crl.urls, and shared between instances through Redis."""
from __future__ import annotations

import concurrent.futures
import datetime
import email.utils
import hashlib
import http.client
import re
import subprocess
import time
from pathlib import Path

import pytest

from ocsp_client import HttpAnswer, curl
from pki import CRL_FQDN, ELSEWHERE_FQDN, crl_dates
from servers import StaticServer, flip_crl_signature_byte, wait_until

RFC5019_CACHE_CONTROL = re.compile(r"max-age=(\d+), public, no-transform, must-revalidate")


def crl_url(static: StaticServer, name: str = "ica.crl", fqdn: str = CRL_FQDN) -> str:
    return f"http://{fqdn}:{static.port}/{name}"


def crl_section(static: StaticServer, **settings) -> dict:
    """The crl: section allowing clients to fetch CRLs from the static server."""
    return {"fqdns": [f"{CRL_FQDN}:{static.port}"], **settings}


def fetch(proxy, url: str, **headers: str) -> HttpAnswer:
    """GET `url` with ocsp-proxy as curl's HTTP proxy."""
    return curl("GET", url, proxy=proxy.url, headers=headers)


def serve_crl(pki, static: StaticServer, ca=None, **make_crl) -> tuple[bytes, str]:
    """A CRL signed by `ca` (the test issuing CA) on the static server: (bytes, URL)."""
    crl = pki.make_crl(ca or pki.ica, **make_crl).read_bytes()
    static.put("ica.crl", crl)
    return crl, crl_url(static)


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


# -- served and cached ---------------------------------------------------------------------------

def test_crl_is_served_byte_exact_from_cache_until_next_update_with_http_caching_headers(
        pki, static, start_forward_proxy):
    path = pki.make_crl(pki.ica, revoked=[pki.revoked], hours=6)
    static.put("ica.crl", path.read_bytes())
    this_update, next_update = crl_dates(path)
    url = crl_url(static)
    proxy = start_forward_proxy(crl=crl_section(static))
    # The proxy counts max-age from its clock in whole seconds (rounded down), read after
    # this: at most nextUpdate - asked_at + 1, however long the answers take.
    asked_at = _utc_now()
    answers = [fetch(proxy, url) for _ in range(2)]
    for answer in answers:
        assert answer.status == 200
        assert answer.body == path.read_bytes()
        assert email.utils.parsedate_to_datetime(answer.headers["last-modified"]) == this_update
        assert email.utils.parsedate_to_datetime(answer.headers["expires"]) == next_update
        cache_control = RFC5019_CACHE_CONTROL.fullmatch(answer.headers.get("cache-control", ""))
        assert cache_control, answer.headers
        assert 0 < int(cache_control.group(1)) <= (next_update - asked_at).total_seconds() + 1
    assert answers[0].headers["etag"] and answers[1].headers["etag"] == answers[0].headers["etag"]
    assert static.requests("/ica.crl") == 1
    proxy.wait_for_log("crl_fetched", url=url, signature_checked="true")


@pytest.mark.parametrize("validator, from_header", [("If-None-Match", "etag"),
                                                    ("If-Modified-Since", "last-modified")])
def test_conditional_get_with_the_crls_own_validator_gets_304_from_cache(
        pki, static, start_forward_proxy, validator, from_header):
    _, url = serve_crl(pki, static)
    proxy = start_forward_proxy(crl=crl_section(static))
    first = fetch(proxy, url)
    assert first.status == 200
    again = fetch(proxy, url, **{validator: first.headers[from_header]})
    assert (again.status, again.body) == (304, b"")
    assert static.requests("/ica.crl") == 1


def test_crl_urls_are_fetched_at_start_up_and_clients_get_them_from_cache(
        pki, static, start_forward_proxy):
    crl, url = serve_crl(pki, static)
    # No crl.fqdns: a host in crl.urls is allowed for clients too.
    proxy = start_forward_proxy(crl={"urls": [url]})
    wait_until(lambda: static.requests("/ica.crl") == 1, 5, "the start-up fetch")
    proxy.wait_for_log("crl_fetched", url=url)
    answer = fetch(proxy, url)
    assert (answer.status, answer.body) == (200, crl)
    assert static.requests("/ica.crl") == 1


def test_crl_fetched_by_one_instance_is_served_by_another_from_redis(
        pki, static, redis, start_forward_proxy):
    crl, url = serve_crl(pki, static)
    section = {"address": f"127.0.0.1:{redis.port}"}
    first, second = [start_forward_proxy(crl=crl_section(static), redis=section)
                     for _ in range(2)]
    for proxy in (first, second):
        proxy.wait_for_log("redis_state", state="up")
    assert (fetch(first, url).status, static.requests("/ica.crl")) == (200, 1)
    wait_until(redis.keys, 3, "the CRL to be written to Redis")
    answer = fetch(second, url)
    assert (answer.status, answer.body) == (200, crl)
    assert static.requests("/ica.crl") == 1
    second.wait_for_log("crl_fetched", source="redis")


def test_a_crl_copy_in_redis_that_does_not_verify_is_not_served_and_the_ca_is_asked(
        pki, static, redis, start_forward_proxy):
    crl, url = serve_crl(pki, static)
    key = "ocsp-proxy:crl:v1:" + hashlib.sha256(url.encode()).hexdigest()
    subprocess.run(["redis-cli", "-p", str(redis.port), "-x", "SET", key],
                   input=flip_crl_signature_byte(crl), capture_output=True, check=True)
    proxy = start_forward_proxy(crl=crl_section(static),
                                redis={"address": f"127.0.0.1:{redis.port}"})
    proxy.wait_for_log("redis_state", state="up")
    answer = fetch(proxy, url)
    assert (answer.status, answer.body) == (200, crl)
    assert static.requests("/ica.crl") == 1
    proxy.wait_for_log("crl_fetched", source="upstream")


def test_crl_is_refreshed_ahead_in_the_background_and_clients_get_the_newer_one(
        pki, static, start_forward_proxy):
    now = _utc_now()
    # Half of [thisUpdate, nextUpdate) has passed five seconds after start-up.
    old, url = serve_crl(pki, static, last_update=now - datetime.timedelta(seconds=10),
                         next_update=now + datetime.timedelta(seconds=20))
    proxy = start_forward_proxy(crl={"urls": [url]})
    proxy.wait_for_log("crl_fetched", url=url)
    assert fetch(proxy, url).body == old
    newer, _ = serve_crl(pki, static, revoked=[pki.revoked], hours=6)
    assert newer != old
    # No client asks: the timer fetches it (crl.urls are kept warm).
    wait_until(lambda: static.requests("/ica.crl") == 2, 15, "the background refresh")
    wait_until(lambda: fetch(proxy, url).body == newer, 3, "the newer CRL to be served")
    assert static.requests("/ica.crl") == 2


def test_etag_names_the_crls_bytes_so_revalidating_an_older_crl_gets_the_newer_one(
        pki, static, start_forward_proxy):
    now = _utc_now()
    # Half of [thisUpdate, nextUpdate) has passed five seconds after start-up.
    old, url = serve_crl(pki, static, revoked=[pki.revoked],
                         last_update=now - datetime.timedelta(seconds=10),
                         next_update=now + datetime.timedelta(seconds=20))
    proxy = start_forward_proxy(crl={"urls": [url]})
    proxy.wait_for_log("crl_fetched", url=url)
    first = fetch(proxy, url)
    assert (first.status, first.body) == (200, old)
    old_etag = first.headers["etag"]
    assert fetch(proxy, url, **{"If-None-Match": old_etag}).status == 304
    # The CA revokes 49 more certificates; the refresh ahead brings the new CRL in.
    newer, _ = serve_crl(pki, static, hours=6,
                         revoked=[pki.revoked, *(f"{0x200000 + i:06X}" for i in range(49))])
    wait_until(lambda: fetch(proxy, url).body == newer, 20, "the newer CRL to be served")
    revalidated = fetch(proxy, url, **{"If-None-Match": old_etag})
    assert (revalidated.status, revalidated.body) == (200, newer)
    new_etag = revalidated.headers["etag"]
    assert new_etag != old_etag
    assert fetch(proxy, url, **{"If-None-Match": new_etag}).status == 304


# -- bounded -----------------------------------------------------------------------------------

def test_query_string_variants_of_a_crl_url_are_refused_and_never_downloaded(
        pki, static, start_forward_proxy):
    crl, url = serve_crl(pki, static)
    listed = f"{url}?issuer=ica"  # a CA naming its CRLs by query lists them in crl.urls
    proxy = start_forward_proxy(crl=crl_section(static, urls=[listed]))
    wait_until(lambda: static.requests("/ica.crl") == 1, 5, "the start-up fetch of crl.urls")
    for variant in [f"{url}?v={i}" for i in range(6)] + [f"{listed}&x=1"]:
        assert fetch(proxy, variant).status == 403, variant
    proxy.wait_for_log("forward_refused", reason="crl_query")
    assert (fetch(proxy, listed).status, fetch(proxy, url).body) == (200, crl)
    # The listed URL from start-up and the plain one: two downloads, no variant.
    assert static.requests("/ica.crl") == 2
    assert all("?v=" not in target for _, target, _ in static.log)


def test_a_failing_crl_url_is_not_fetched_again_at_every_timer_tick(
        pki, static, start_forward_proxy):
    url = crl_url(static, "missing.crl")  # 404 at the CA
    proxy = start_forward_proxy(crl=crl_section(static))
    assert fetch(proxy, url).status == 502
    time.sleep(4)  # four ticks of the refresh timer
    assert static.requests("/missing.crl") == 1
    proxy.wait_for_log("crl_backoff", url=url, failures="1", retry_in_s="30")
    # The CA publishes it: a client's miss fetches it at once.
    crl, _ = serve_crl(pki, static)
    static.put("missing.crl", crl)
    assert fetch(proxy, url).body == crl
    assert static.requests("/missing.crl") == 2


def test_crl_downloads_in_flight_stay_within_max_concurrent_fetches(
        pki, static, start_forward_proxy):
    crl = pki.make_crl(pki.ica).read_bytes()
    names = [f"ca{i}.crl" for i in range(6)]
    for name in names:
        static.put(name, crl)
    static.delay_s = 1.0
    proxy = start_forward_proxy(crl=crl_section(static, max_concurrent_fetches=2))
    with concurrent.futures.ThreadPoolExecutor(len(names)) as pool:
        answers = list(pool.map(lambda name: fetch(proxy, crl_url(static, name)), names))
    assert [a.status for a in answers] == [200] * len(names)
    assert static.total == len(names)
    assert static.most_in_flight == 2
    proxy.wait_for_log("crl_fetch_queued")


# -- refused -----------------------------------------------------------------------------------

def _expired(pki) -> bytes:
    now = _utc_now()
    return pki.make_crl(pki.ica, last_update=now - datetime.timedelta(days=2),
                        next_update=now - datetime.timedelta(days=1)).read_bytes()


INVALID = [
    pytest.param("bad_signature", lambda pki: flip_crl_signature_byte(
        pki.make_crl(pki.ica).read_bytes()), {}, id="signature byte flipped"),
    pytest.param("expired", _expired, {}, id="nextUpdate passed"),
    pytest.param("not_a_crl", lambda pki: b"<!doctype html><html><body>Sign in</body></html>\n",
                 {}, id="HTML page"),
    # 200 entries make a CRL of about 7 KiB
    pytest.param("too_large", lambda pki: pki.make_crl(
        pki.ica, revoked=[f"{0x100000 + i:06X}" for i in range(200)]).read_bytes(),
        {"max_bytes": "4KiB"}, id="over crl.max_bytes"),
]


@pytest.mark.parametrize("reason, make_body, settings", INVALID)
def test_crl_that_fails_validation_gets_502_and_is_not_cached(
        pki, static, start_forward_proxy, reason, make_body, settings):
    static.put("ica.crl", make_body(pki))
    url = crl_url(static)
    proxy = start_forward_proxy(crl=crl_section(static, **settings))
    for attempt in (1, 2):
        assert fetch(proxy, url).status == 502
        assert static.requests("/ica.crl") == attempt
    proxy.wait_for_log("crl_invalid", reason=reason, url=url)
    # Once the CA publishes a good CRL, clients get it.
    good = pki.make_crl(pki.ica).read_bytes()
    static.put("ica.crl", good)
    answer = fetch(proxy, url)
    assert (answer.status, answer.body) == (200, good)


def test_crl_from_an_unknown_issuer_is_served_unchecked_under_pass(
        pki, static, start_forward_proxy):
    crl, url = serve_crl(pki, static, ca=pki.stranger)
    proxy = start_forward_proxy(crl=crl_section(static, unknown_issuer="pass"))
    answer = fetch(proxy, url)
    assert (answer.status, answer.body) == (200, crl)
    proxy.wait_for_log("crl_fetched", url=url, signature_checked="false")


def test_crl_from_an_unknown_issuer_gets_502_under_refuse(pki, static, start_forward_proxy):
    _, url = serve_crl(pki, static, ca=pki.stranger)
    proxy = start_forward_proxy(crl=crl_section(static, unknown_issuer="refuse"))
    assert fetch(proxy, url).status == 502
    proxy.wait_for_log("crl_invalid", reason="unknown_issuer", url=url)


@pytest.mark.parametrize("signer, sections", [
    pytest.param("stranger", lambda pki, static: {
        "crl": crl_section(static, unknown_issuer="refuse", issuers=[str(pki.stranger.pem)])},
        id="crl.issuers"),
    pytest.param("root", lambda pki, static: {
        "crl": crl_section(static, unknown_issuer="refuse"),
        "forward": {"trust_store": str(pki.root.pem)}}, id="forward.trust_store"),
])
def test_crl_signed_by_an_issuer_known_from_config_is_checked_and_served(
        pki, static, start_forward_proxy, signer, sections):
    crl, url = serve_crl(pki, static, ca=getattr(pki, signer))
    proxy = start_forward_proxy(**sections(pki, static))
    answer = fetch(proxy, url)
    assert (answer.status, answer.body) == (200, crl)
    proxy.wait_for_log("crl_fetched", url=url, signature_checked="true")


def test_crl_on_a_host_not_in_crl_fqdns_gets_403_and_is_not_fetched(
        pki, static, start_forward_proxy):
    serve_crl(pki, static)
    proxy = start_forward_proxy(crl=crl_section(static))
    # elsewhere.test.example resolves to the static server too, but is not allow-listed
    assert fetch(proxy, crl_url(static, fqdn=ELSEWHERE_FQDN)).status == 403
    proxy.wait_for_log("forward_refused", reason="not_allowed", host=ELSEWHERE_FQDN)
    assert static.total == 0


# -- the peers on their own ----------------------------------------------------------------------

def openssl_crl(der: Path | bytes, *args: str) -> subprocess.CompletedProcess:
    """`openssl crl -inform DER ARGS` on a CRL file or on bytes fed to its stdin."""
    data = der if isinstance(der, bytes) else None
    source = [] if data is not None else ["-in", str(der)]
    return subprocess.run(["openssl", "crl", "-inform", "DER", *source, *args], input=data,
                          capture_output=True, timeout=10)


def test_generated_crls_verify_against_their_issuer_and_list_revoked_serials_with_reasons(pki):
    path = pki.make_crl(pki.ica, revoked=[pki.revoked, "0A0B0C"], hours=2)
    listed = openssl_crl(path, "-CAfile", str(pki.ica.pem), "-noout", "-text")
    assert b"verify OK" in listed.stderr, listed.stderr
    text = listed.stdout.decode()
    assert f"Serial Number: {pki.revoked.serial}" in text and "Serial Number: 0A0B0C" in text
    assert text.count("Key Compromise") == 2
    assert "Authority Key Identifier" in text
    this_update, next_update = crl_dates(path)
    assert next_update - this_update == datetime.timedelta(hours=2)

    tampered = openssl_crl(flip_crl_signature_byte(path.read_bytes()), "-CAfile",
                           str(pki.ica.pem), "-noout")
    assert b"verify failure" in tampered.stderr, tampered.stderr
    stranger = openssl_crl(path, "-CAfile", str(pki.stranger.pem), "-noout")
    assert stranger.returncode != 0

    now = _utc_now()
    expired = pki.make_crl(pki.ica, last_update=now - datetime.timedelta(days=2),
                           next_update=now - datetime.timedelta(days=1))
    assert crl_dates(expired)[1] < now


def test_static_server_serves_exact_bytes_on_one_kept_alive_connection_and_counts_them(static):
    static.put("a.crl", b"first")
    conn = http.client.HTTPConnection("127.0.0.1", static.port, timeout=5)
    try:
        answers = []
        for body in (None, b"second version"):
            if body:
                static.put("a.crl", body)
            conn.request("GET", "/a.crl")
            response = conn.getresponse()
            answers.append((response.status, response.getheader("Content-Length"),
                            response.read()))
        conn.request("GET", "/missing.crl")
        missing = conn.getresponse()
        missing.read()
    finally:
        conn.close()
    assert answers == [(200, "5", b"first"), (200, "14", b"second version")]
    assert missing.status == 404
    assert (static.requests("/a.crl"), static.requests("/missing.crl"), static.total) == (2, 1, 3)
