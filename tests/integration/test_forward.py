"""ocsp-proxy as the HTTP proxy of OCSP clients (forward mode): absolute-URI requests to
allow-listed upstreams only, one cache shared with the local-responder mode, and issuers
nobody configured completed from the responder certificate's AIA caIssuers URL."""
from __future__ import annotations

import base64
import dataclasses
import socket
import time
import urllib.parse
import urllib.request

import pytest

from ocsp_client import (SUCCESSFUL, UNAUTHORIZED, HttpAnswer, assert_one_good_answer, curl,
                         make_request, openssl_query, parse_response, raw_http)
from pki import AIA_FQDN, ELSEWHERE_FQDN, OCSP_FQDN
from proxy import Proxy
from servers import Relay


def upstream_url(port: int, path: str = "") -> str:
    """The URL a client has from a certificate's AIA: the upstream by name, not 127.0.0.1."""
    return f"http://{OCSP_FQDN}:{port}/{path}"


def get_path(der: bytes) -> str:
    """RFC 5019 GET path: standard base64, URL-encoded."""
    return urllib.parse.quote(base64.b64encode(der).decode(), safe="")


# -- answers through the proxy ------------------------------------------------------------------

def test_openssl_client_using_the_proxy_gets_a_verified_answer_and_then_the_cached_one(
        pki, responder, proxy):
    # `proxy` runs the default config: forward mode is on unless switched off.
    results = [openssl_query(upstream_url(responder.port), pki, pki.revoked, proxy=proxy.url)
               for _ in range(2)]
    for result in results:
        assert result.verified, result.output
        assert result.status_of(pki.revoked) == "revoked", result.output
    assert results[1].response == results[0].response
    assert responder.requests_served == 1


def test_curl_get_and_post_through_the_proxy_get_one_cached_answer(pki, responder, proxy):
    der = make_request(pki.ica, pki.good)
    url = upstream_url(responder.port)
    answers = [curl("GET", url + get_path(der), proxy=proxy.url),
               curl("POST", url, der, proxy=proxy.url)]
    assert_one_good_answer(answers, pki, pki.good)
    assert responder.requests_served == 1


def test_host_header_without_the_port_matches_the_uri_as_openssl_sends_it(pki, responder, proxy):
    # `openssl ocsp -proxy` (3.0) sends "Host: ocsp.test.example" for http://ocsp.test.example:PORT/
    answer = curl("POST", upstream_url(responder.port), make_request(pki.ica, pki.good),
                  proxy=proxy.url, headers={"Host": OCSP_FQDN})
    assert answer.status == 200
    assert parse_response(answer.body).cert_status == "good"
    assert responder.requests_served == 1


def test_host_names_match_whatever_their_case_in_config_url_and_host_header(
        pki, responder, start_proxy):
    # DNS names are case-insensitive (RFC 4343): the config spells the upstream and its pin
    # differently, the client a third way. The pin must apply (the name has no DNS here) and
    # the URL must reach the upstream.
    proxy = start_proxy(responder.port, fqdns=[OCSP_FQDN.upper()],
                        resolve={OCSP_FQDN.title(): "127.0.0.1"})
    spelled = f"http://{OCSP_FQDN.title()}:{responder.port}/"
    answer = curl("POST", spelled, make_request(pki.ica, pki.good), proxy=proxy.url,
                  headers={"Host": f"{OCSP_FQDN.upper()}:{responder.port}"})
    assert answer.status == 200, answer.body
    assert parse_response(answer.body).cert_status == "good"
    assert responder.requests_served == 1
    # The local-responder mode reaches the same upstream through the same pin.
    local = curl("POST", proxy.url, make_request(pki.ica, pki.revoked))
    assert parse_response(local.body).cert_status == "revoked"
    assert responder.requests_served == 2


@pytest.mark.parametrize("first", ["local responder", "forward proxy"])
def test_local_responder_and_forward_modes_share_one_cache_entry(pki, responder, proxy, first):
    der = make_request(pki.ica, pki.good)
    ask = {
        "local responder": lambda: curl("POST", proxy.url, der).body,
        "forward proxy": lambda: openssl_query(upstream_url(responder.port), pki, pki.good,
                                               nonce=False, proxy=proxy.url).response,
    }
    answers = [ask[first]()] + [ask[mode]() for mode in ask if mode != first]
    assert parse_response(answers[0]).cert_status == "good"
    assert answers[1] == answers[0]
    assert responder.requests_served == 1


# -- refusals ----------------------------------------------------------------------------------

@dataclasses.dataclass
class Asker:
    """Sends one forward-mode request to `proxy`."""
    proxy: Proxy
    upstream_port: int  # the port the upstream is configured with
    other_port: int     # where a test server listens that no upstream is configured with
    path: str           # a GET path carrying a real OCSP request

    def get(self, url: str, **headers: str) -> HttpAnswer:
        return curl("GET", url, proxy=self.proxy.url, headers=headers)

    def raw(self, request_line: str, host: str) -> HttpAnswer:
        return raw_http(self.proxy.ports["ocsp"], request_line, {"Host": host})


def _ocsp_authority(a: Asker) -> str:
    return f"{OCSP_FQDN}:{a.upstream_port}"


REFUSED = [
    pytest.param("not_allowed", 403, ELSEWHERE_FQDN,
                 lambda a: a.get(f"http://{ELSEWHERE_FQDN}:{a.upstream_port}/{a.path}"),
                 id="host not allow-listed"),
    pytest.param("port", 403, AIA_FQDN,
                 lambda a: a.get(f"http://{AIA_FQDN}:{a.upstream_port}/other_ica.der"),
                 id="AIA host on a port not configured for it"),
    pytest.param("ip_literal", 403, "127.0.0.1",
                 lambda a: a.get(f"http://127.0.0.1:{a.upstream_port}/{a.path}"),
                 id="IP literal"),
    pytest.param("userinfo", 403, OCSP_FQDN,
                 lambda a: a.raw(f"GET http://user@{_ocsp_authority(a)}/{a.path} HTTP/1.1",
                                 _ocsp_authority(a)),
                 id="userinfo"),
    pytest.param("port", 403, OCSP_FQDN,
                 lambda a: a.get(f"http://{OCSP_FQDN}:{a.other_port}/{a.path}"),
                 id="port not configured"),
    pytest.param("scheme", 403, OCSP_FQDN,
                 lambda a: a.raw(f"GET https://{_ocsp_authority(a)}/{a.path} HTTP/1.1",
                                 _ocsp_authority(a)),
                 id="https absolute URI"),
    pytest.param("connect", 405, OCSP_FQDN,
                 lambda a: a.raw(f"CONNECT {_ocsp_authority(a)} HTTP/1.1", _ocsp_authority(a)),
                 id="CONNECT to an allowed upstream"),
    pytest.param("host_mismatch", 400, None,
                 lambda a: a.get(upstream_url(a.upstream_port, a.path), Host="other.example"),
                 id="Host header names another host"),
]


@pytest.mark.parametrize("reason, status, host, send", REFUSED)
def test_forward_request_outside_the_allow_list_is_refused_and_never_reaches_upstream(
        pki, responder, static, start_forward_proxy, reason, status, host, send):
    static.put("other_ica.der", pki.der(pki.other_ica))
    proxy = start_forward_proxy(responder.port, forward={
        "aia_fqdns": [f"{AIA_FQDN}:{static.port}"], "trust_store": str(pki.root.pem)})
    answer = send(Asker(proxy, responder.port, static.port,
                        get_path(make_request(pki.ica, pki.good))))
    assert answer.status == status, answer
    fields = {"reason": reason, "client": "127.0.0.1"} | ({"host": host} if host else {})
    assert " host=" in proxy.wait_for_log("forward_refused", **fields)
    assert (responder.requests_served, static.total) == (0, 0)


# -- issuers nobody configured -----------------------------------------------------------------

# How the AIA caIssuers URL of other_ica's delegated responder fails to complete the chain.
# {aia} is the allow-listed AIA host, {elsewhere} one that resolves to the same server but
# is not allow-listed. The static server holds other_ica.der and ica.der.
AIA_FAILURES = {
    "no AIA": {"ca_issuers": None},
    "AIA host not allowed": {"ca_issuers": "http://{elsewhere}/other_ica.der"},
    "AIA fetch fails": {"ca_issuers": "http://{aia}/missing.der"},
    "AIA certificate is not the CertID's issuer": {"ca_issuers": "http://{aia}/ica.der"},
    "AIA issuer does not chain to the trust store": {"ca_issuers": "http://{aia}/other_ica.der",
                                                     "trust_store": "stranger"},
}


@dataclasses.dataclass
class UnknownIssuer:
    """A responder for other_ica (which no upstream lists), a relay in front of it as the
    configured upstream, and a proxy whose forward section completes issuers from AIA."""
    url: str        # the upstream as a client names it
    relay: Relay    # its .requests and .answers are what the upstream saw and sent
    proxy: Proxy


@pytest.fixture
def unconfigured_issuer(pki, start_responder, start_relay, static, start_forward_proxy):
    """unconfigured_issuer(ca_issuers, unknown_issuer="pass", trust_store="root")
    -> UnknownIssuer"""
    for cert in (pki.other_ica, pki.ica):
        static.put(f"{cert.name}.der", pki.der(cert))
    hosts = {"aia": f"{AIA_FQDN}:{static.port}", "elsewhere": f"{ELSEWHERE_FQDN}:{static.port}"}

    def start(ca_issuers: str | None, unknown_issuer: str = "pass",
              trust_store: str = "root", **sections) -> UnknownIssuer:
        signer = pki.responder_for(pki.other_ica, ca_issuers and ca_issuers.format(**hosts))
        responder = start_responder(ca=pki.other_ica, index=pki.other_index, signer=signer)
        relay = start_relay("pass", responder.url)
        proxy = start_forward_proxy(relay.port, forward={
            "unknown_issuer": unknown_issuer, "aia_fqdns": [hosts["aia"]],
            "trust_store": str(getattr(pki, trust_store).pem)}, **sections)
        return UnknownIssuer(upstream_url(relay.port), relay, proxy)
    return start


def test_unknown_issuer_is_learned_from_the_responders_aia_then_answers_come_from_cache(
        pki, static, unconfigured_issuer):
    # refuse: the answers below are served only because the learned issuer validated them
    case = unconfigured_issuer("http://{aia}/other_ica.der", unknown_issuer="refuse")
    for _ in range(2):
        result = openssl_query(case.url, pki, pki.other_leaf, issuer=pki.other_ica, nonce=False,
                               proxy=case.proxy.url)
        assert result.verified, result.output
        assert result.status_of(pki.other_leaf) == "good", result.output
    assert case.relay.requests == 1
    assert static.requests("/other_ica.der") == 1
    assert "Unconfigured Issuing CA" in case.proxy.wait_for_log("issuer_learned")


@pytest.mark.parametrize("failure", AIA_FAILURES.values(), ids=AIA_FAILURES.keys())
def test_unknown_issuer_that_cannot_be_completed_is_passed_through_uncached_under_pass(
        pki, static, unconfigured_issuer, failure):
    case = unconfigured_issuer(**failure, unknown_issuer="pass")
    der = make_request(pki.other_ica, pki.other_leaf)
    for attempt in (1, 2):
        answer = curl("POST", case.url, der, proxy=case.proxy.url)
        assert answer.status == 200
        assert answer.headers["content-type"] == "application/ocsp-response"
        cache_control = answer.headers.get("cache-control", "")
        assert "no-store" in [d.strip() for d in cache_control.split(",")], answer.headers
        assert answer.body == case.relay.answers[-1], "the upstream's bytes, unchanged"
        assert parse_response(answer.body).cert_status == "good"
        assert case.relay.requests == attempt
    case.proxy.wait_for_log("unvalidated_answer")
    if failure["ca_issuers"] is None or "{elsewhere}" in failure["ca_issuers"]:
        assert static.total == 0, "nothing to fetch, or not from an allow-listed host"


@pytest.mark.parametrize("failure", AIA_FAILURES.values(), ids=AIA_FAILURES.keys())
def test_unknown_issuer_that_cannot_be_completed_gets_unauthorized_under_refuse(
        pki, unconfigured_issuer, failure):
    case = unconfigured_issuer(**failure, unknown_issuer="refuse")
    answer = curl("POST", case.url, make_request(pki.other_ica, pki.other_leaf),
                  proxy=case.proxy.url)
    assert parse_response(answer.body).response_status == UNAUTHORIZED


def test_local_responder_mode_answers_unknown_issuer_with_unauthorized_under_refuse(
        pki, static, unconfigured_issuer):
    # AIA completion would work in forward mode (and discovery in responder mode); refuse
    # asks nobody.
    case = unconfigured_issuer("http://{aia}/other_ica.der",
                               responder={"unknown_issuer": "refuse"})
    answer = curl("POST", case.proxy.url, make_request(pki.other_ica, pki.other_leaf))
    assert parse_response(answer.body).response_status == UNAUTHORIZED
    assert (case.relay.requests, static.total) == (0, 0)


# -- the peers on their own ----------------------------------------------------------------------

def test_other_ica_responder_signs_with_a_delegated_responder_whose_aia_names_its_issuer(
        pki, static, start_responder):
    static.put("other_ica.der", pki.der(pki.other_ica))
    aia_url = f"http://{AIA_FQDN}:{static.port}/other_ica.der"
    responder = start_responder(ca=pki.other_ica, index=pki.other_index,
                                signer=pki.responder_for(pki.other_ica, aia_url))
    result = openssl_query(responder.url, pki, pki.other_leaf, issuer=pki.other_ica, nonce=False)
    assert result.verified, result.output
    assert result.status_of(pki.other_leaf) == "good", result.output
    parsed = parse_response(result.response)
    assert parsed.response_status == SUCCESSFUL
    assert f"CA Issuers - URI:{aia_url}" in parsed.text, parsed.text
    local = f"http://127.0.0.1:{static.port}/other_ica.der"
    with urllib.request.urlopen(local, timeout=5) as fetched:
        assert fetched.read() == pki.der(pki.other_ica)
    assert static.requests("/other_ica.der") == 1


def test_a_refused_unknown_issuer_answer_as_the_circuit_probe_closes_the_circuit(
        pki, unconfigured_issuer):
    # The probe after an outage may be a request whose answer is then refused (issuer unknown
    # under refuse): the responder did answer, so the circuit must close, not stay half open.
    case = unconfigured_issuer(None, unknown_issuer="refuse")
    der = make_request(pki.other_ica, pki.other_leaf)
    case.relay.mode = "unavailable"
    for _ in range(3):
        curl("POST", case.url, der, proxy=case.proxy.url)
    case.proxy.wait_for_log("circuit", state="open")
    case.relay.mode = "pass"
    time.sleep(2.2)  # the circuit's first backoff
    probe = curl("POST", case.url, der, proxy=case.proxy.url)
    assert parse_response(probe.body).response_status == UNAUTHORIZED
    case.proxy.wait_for_log("circuit", state="closed")
    reached = case.relay.requests
    again = curl("POST", case.url, der, proxy=case.proxy.url)
    assert parse_response(again.body).response_status == UNAUTHORIZED
    assert case.relay.requests == reached + 1  # asked upstream, not skipped as still half open


def test_raw_bytes_of_a_refused_url_reach_the_log_escaped(start_forward_proxy):
    proxy = start_forward_proxy()
    with socket.create_connection(("127.0.0.1", proxy.ports["ocsp"]), timeout=10) as conn:
        conn.sendall(b"GET http://caf\xe9.example/\xff HTTP/1.1\r\n"
                     b"Connection: close\r\n\r\n")
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 4"), answer
    line = proxy.wait_for_log("forward_refused", client="127.0.0.1")
    assert "caf\\xe9.example" in line, line
    # The whole log is UTF-8: no raw byte of the request got into it.
    proxy.log_path.read_bytes().decode("utf-8")
