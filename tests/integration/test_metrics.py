"""The admin listener as monitoring sees it: /metrics (Prometheus text, parsed strictly),
/status (JSON), /healthz and /readyz; counters move by exactly what each request did."""
from __future__ import annotations

import base64
import os
import urllib.parse

import pytest

from ocsp_client import curl, make_request, openssl_query
from pki import ELSEWHERE_FQDN, OCSP_FQDN
from prom_text import Series, value
from servers import free_port, wait_until

MODES = ("responder", "forward")
RESULTS = ("good", "revoked", "unknown", "malformed_request", "unauthorized", "try_later",
           "internal_error", "not_modified")


def series(metric: str, /, **labels: str) -> Series:
    return metric, frozenset(labels.items())


def requests(mode: str, result: str) -> Series:
    return series("ocsp_proxy_requests_total", mode=mode, result=result)


def answers(status: str, upstream: str = "testca") -> Series:
    """One CertID answered (or not: status error) for a query routed to `upstream`."""
    return series("ocsp_proxy_answers_total", upstream=upstream, status=status)


def upstream_request(fqdn: str = OCSP_FQDN) -> dict[Series, float]:
    """What one request to the test upstream adds: the request and one latency sample."""
    return {series("ocsp_proxy_upstream_requests_total", upstream="testca", fqdn=fqdn): 1,
            series("ocsp_proxy_upstream_latency_seconds_count", fqdn=fqdn): 1}


MISS = {series("ocsp_proxy_cache_misses_total"): 1, **upstream_request()}
MEMORY_HIT = {series("ocsp_proxy_cache_hits_total", layer="memory"): 1}


def moved(before: dict[Series, float], after: dict[Series, float]) -> dict[Series, float]:
    """The counters (and histogram counts) that changed between two scrapes, by how much."""
    return {key: v - before.get(key, 0) for key, v in after.items()
            if key[0].endswith(("_total", "_count")) and v != before.get(key, 0)}


def forward_get(proxy, host: str, port: int, der: bytes):
    path = urllib.parse.quote(base64.b64encode(der).decode(), safe="")
    return curl("GET", f"http://{host}:{port}/{path}", proxy=proxy.url)


def test_counters_move_exactly_as_requests_are_answered(pki, responder, start_forward_proxy):
    proxy = start_forward_proxy(responder.port)
    before = proxy.metrics()
    assert value(before, "ocsp_proxy_build_info", version="0.1.0") == 1
    for mode in MODES:
        for result in RESULTS:
            assert before[requests(mode, result)] == 0, (mode, result)
    assert value(before, "ocsp_proxy_cache_misses_total") == 0

    good = make_request(pki.ica, pki.good)
    steps = [
        ("first good answer", lambda: openssl_query(proxy.url, pki, pki.good, nonce=False),
         {requests("responder", "good"): 1, answers("good"): 1, **MISS}),
        ("the same again", lambda: openssl_query(proxy.url, pki, pki.good, nonce=False),
         {requests("responder", "good"): 1, answers("good"): 1, **MEMORY_HIT}),
        ("forward request to a host not allowed",
         lambda: forward_get(proxy, ELSEWHERE_FQDN, responder.port, good),
         {series("ocsp_proxy_forward_refused_total", reason="not_allowed"): 1}),
        ("forward request, shared cache", lambda: forward_get(proxy, OCSP_FQDN, responder.port,
                                                              good),
         {requests("forward", "good"): 1, answers("good"): 1, **MEMORY_HIT}),
        ("revoked, forward mode", lambda: forward_get(proxy, OCSP_FQDN, responder.port,
                                                      make_request(pki.ica, pki.revoked)),
         {requests("forward", "revoked"): 1, answers("revoked"): 1, **MISS}),
        ("unknown", lambda: openssl_query(proxy.url, pki, pki.unlisted, nonce=False),
         {requests("responder", "unknown"): 1, answers("unknown"): 1, **MISS}),
        # Discovery asks the one upstream, which does not serve it.
        ("unknown issuer", lambda: openssl_query(proxy.url, pki, pki.other_leaf,
                                                 issuer=pki.other_ica),
         {requests("responder", "unauthorized"): 1, answers("error", upstream=""): 1,
          series("ocsp_proxy_issuer_discovery_total", outcome="unauthorized"): 1,
          series("ocsp_proxy_upstream_requests_total", upstream="testca",
                 fqdn=OCSP_FQDN): 1,
          series("ocsp_proxy_upstream_latency_seconds_count", fqdn=OCSP_FQDN): 1}),
        ("unknown issuer again: remembered", lambda: openssl_query(
            proxy.url, pki, pki.other_leaf, issuer=pki.other_ica),
         {requests("responder", "unauthorized"): 1, answers("error", upstream=""): 1,
          series("ocsp_proxy_issuer_discovery_total", outcome="remembered"): 1}),
        ("malformed", lambda: curl("POST", proxy.url, b"not DER"),
         {requests("responder", "malformed_request"): 1}),
    ]
    for what, ask, expected in steps:
        ask()
        after = proxy.metrics()
        assert moved(before, after) == expected, what
        before = after
    assert responder.requests_served == 4
    assert value(after, "ocsp_proxy_cache_entries", cache="ocsp") == 3
    # memory as the allocator and the kernel see it: the cached answers are inside both
    cached = value(after, "ocsp_proxy_cache_bytes", cache="ocsp")
    assert value(after, "process_resident_memory_bytes") > 4 * 2**20 > cached > 0
    # the cached answers' blocks: in 32 KiB spans, or apart under ASan (which must see each)
    arena = {state: value(after, "ocsp_proxy_entry_arena_bytes", state=state)
             for state in ("spans", "large")}
    if "ASAN_OPTIONS" in os.environ:  # ASan's allocator, not glibc's: no heap figures
        assert series("ocsp_proxy_heap_bytes", state="in_use") not in after
        assert arena["spans"] == 0 and arena["large"] > 0
    else:
        assert value(after, "ocsp_proxy_heap_bytes", state="in_use") > cached
        assert arena["spans"] >= 32768 and arena["spans"] % 32768 == 0
        assert arena["large"] == 0
    # the three answers end with the same responder certificate (openssl ocsp -rsigner): one
    # shared copy of it, however many answers use it
    assert value(after, "ocsp_proxy_shared_certs_values") == 1
    assert 0 < value(after, "ocsp_proxy_shared_certs_bytes") < cached
    # a circuit that never opened may have no series yet
    assert after.get(series("ocsp_proxy_circuit_open", fqdn=OCSP_FQDN), 0) == 0


@pytest.mark.parametrize("failure", ["upstream down", "tampered answer"])
def test_failed_upstream_attempts_are_counted_by_reason(
        pki, responder, start_relay, start_proxy, failure):
    if failure == "upstream down":
        proxy = start_proxy(free_port())
        reasons = {series("ocsp_proxy_upstream_errors_total", upstream="testca", fqdn=OCSP_FQDN,
                          reason="transport"): 1}
    else:
        proxy = start_proxy(start_relay("flip_signature", responder.url).port)
        reasons = {series("ocsp_proxy_upstream_errors_total", upstream="testca", fqdn=OCSP_FQDN,
                          reason="validation"): 1,
                   series("ocsp_proxy_validation_failures_total", reason="bad_signature"): 1}
    before = proxy.metrics()
    openssl_query(proxy.url, pki, pki.good, nonce=False)
    assert moved(before, proxy.metrics()) == {
        requests("responder", "try_later"): 1, answers("error"): 1, **upstream_request(),
        **reasons}


def test_circuit_open_gauge_goes_back_to_0_when_the_circuit_closes(
        pki, responder, start_relay, start_proxy):
    relay = start_relay("unavailable", responder.url)
    proxy = start_proxy(relay.port)
    for _ in range(3):  # three failures in a row open the circuit
        openssl_query(proxy.url, pki, pki.good, nonce=False)
    proxy.wait_for_log("circuit", state="open", fqdn=OCSP_FQDN)
    assert value(proxy.metrics(), "ocsp_proxy_circuit_open", fqdn=OCSP_FQDN) == 1

    relay.mode = "pass"
    # after the 2 s backoff the next request is the probe; its answer closes the circuit
    wait_until(lambda: openssl_query(proxy.url, pki, pki.good, nonce=False).status_of(pki.good),
               6, "the probe's answer", step_s=0.25)
    proxy.wait_for_log("circuit", state="closed", fqdn=OCSP_FQDN)
    assert proxy.status()["upstreams"][0]["fqdns"][0]["circuit"] == "closed"
    assert value(proxy.metrics(), "ocsp_proxy_circuit_open", fqdn=OCSP_FQDN) == 0


def test_status_is_json_with_the_documented_fields(pki, responder, proxy):
    assert openssl_query(proxy.url, pki, pki.good, nonce=False).status_of(pki.good) == "good"
    status = proxy.status()
    assert set(status) == {"version", "uptime_s", "ready", "config", "upstreams",
                           "watched_intermediates", "issuer_expiry", "cache", "redis",
                           "known_serials", "learned_issuers", "learned", "snapshot",
                           "distrust", "recent_revocations", "valid_until",
                           "bridge_crls"}, status
    assert (status["version"], status["ready"], status["redis"]) == ("0.1.0", True, None)
    assert set(status["config"]) == {"path", "generation", "loaded_at", "last_reload_error"}
    assert (status["config"]["generation"], status["config"]["last_reload_error"]) == (1, None)
    assert status["config"]["path"].endswith(".yaml")
    assert type(status["uptime_s"]) is int and 0 <= status["uptime_s"] < 60
    assert status["upstreams"] == [{"name": "testca", "revocation_source": "ocsp", "crls": [],
                                    "fqdns": [{"fqdn": OCSP_FQDN, "circuit": "closed",
                                               "consecutive_failures": 0}]}]
    assert status["watched_intermediates"] == []
    assert status["distrust"] == []
    assert [(e["name"], e["kind"], e["expiring"]) for e in status["issuer_expiry"]] == [
        (pki.subject_line(pki.ica), "issuer", False)]
    ocsp_cache, crl_cache = status["cache"]["ocsp"], status["cache"]["crl"]
    assert (ocsp_cache["entries"], ocsp_cache["max_bytes"]) == (1, 64 << 20), ocsp_cache
    assert ocsp_cache["bytes"] > 0
    assert (crl_cache["entries"], crl_cache["crls"]) == (0, []), crl_cache
    # no Redis here: the validation memo (Redis hits only) stays empty
    assert status["cache"]["validation_memo"] == {"entries": 0, "hits": 0, "misses": 0,
                                                   "skipped": 0, "evictions": 0}
    assert (status["learned_issuers"], status["learned"]) == (0, [])
    # The one configured issuer's parent is configured nowhere: no serial is known.
    assert status["known_serials"] == {"entries": 0, "refused": 0}
    # The good answer was served, none revoked; it holds until its nextUpdate.
    assert status["recent_revocations"] == {"total": 0, "items": []}
    [held] = status["valid_until"]
    assert (held["origin"], held["answers"]) == ("testca", 1), held
    assert held["earliest"] == held["latest"] and held["earliest"] > status["config"]["loaded_at"]
    assert status["bridge_crls"] == []


@pytest.mark.parametrize("path, status, content_type, body", [
    ("healthz", 200, "text/plain", b"ok\n"),
    ("readyz", 200, "text/plain", b"ready\n"),
    ("metrics", 200, "text/plain; version=0.0.4; charset=utf-8", None),
    ("status", 200, "application/json", None),
    ("", 200, "text/html; charset=utf-8", None),  # the status page
    ("nothing-here", 404, "text/plain", None),
])
def test_admin_endpoints_answer_with_their_content_type_and_no_caching(
        proxy, path, status, content_type, body):
    answer = proxy.admin(path)
    assert answer.status == status
    assert answer.headers["content-type"] == content_type
    assert answer.headers["cache-control"] == "no-store"
    if body is not None:
        assert answer.body == body
