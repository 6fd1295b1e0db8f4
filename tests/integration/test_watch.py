"""Watched intermediates, distrusted issuers and issuer expiry (docs/ARCHITECTURE.md §9): the
issuing CA is watched through a real `openssl ocsp` responder for the test root, whose database
lists it as revoked or as good; leaves under it are asked about through the proxy as usual."""
from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path

import pytest

from ocsp_client import SUCCESSFUL, UNAUTHORIZED, curl, make_request, parse_response
from pki import ROOT_OCSP_FQDN, rfc3339
from prom_text import value
from proxy import Proxy, upstream, wait_for_revocation_records
from servers import OcspResponder, wait_until

WATCH_NAME = "test-ica"


@dataclasses.dataclass
class Watched:
    """A proxy watching the issuing CA through `root` (the root's responder)."""
    proxy: Proxy
    root: OcspResponder
    revocation_log: Path

    def entry(self) -> dict:
        """The issuing CA's /status watched_intermediates entry."""
        entries = self.proxy.status()["watched_intermediates"]
        assert [e["name"] for e in entries] == [WATCH_NAME], entries
        return entries[0]


@pytest.fixture
def watched_ica(pki, responder, start_responder, start_proxy, tmp_path):
    """watched_ica(listed_as="revoked"|"good", on_revoked_issuer="flag") -> Watched"""
    def start(listed_as: str, on_revoked_issuer: str = "flag") -> Watched:
        index = pki.make_index(f"root_index_{listed_as}.txt", **{listed_as: [pki.ica]})
        root = start_responder(signer=pki.root, ca=pki.root, index=index)
        log = tmp_path / "revocations.jsonl"
        proxy = start_proxy(
            responder.port,
            extra_upstreams=[upstream(root.port, [ROOT_OCSP_FQDN], [pki.root.pem],
                                      name="testroot")],
            revocation_log=str(log),
            watch={"interval": "10s", "on_revoked_issuer": on_revoked_issuer,
                   "intermediates": [{"name": WATCH_NAME, "cert": str(pki.ica.pem),
                                      "parent": str(pki.root.pem),
                                      "ocsp_url": f"http://{ROOT_OCSP_FQDN}:{root.port}/"}]})
        return Watched(proxy, root, log)
    return start


def ask(proxy: Proxy, pki, leaf):
    return curl("POST", proxy.url, make_request(pki.ica, leaf))


# -- watched intermediates ---------------------------------------------------------------------

def test_revoked_intermediate_is_reported_and_its_leaves_are_served_flagged(
        pki, responder, watched_ica):
    case = watched_ica("revoked")
    line = case.proxy.wait_for_log("intermediate_revoked", name=WATCH_NAME)
    assert " level=error " in line, line
    assert " policy=flag" in line and " reason=2" in line, line  # 2: cACompromise
    assert case.root.requests_served == 1

    entry = case.entry()
    assert entry["state"] == "revoked"
    assert entry["subject"] == pki.subject_line(pki.ica)
    assert entry["revocation_time"] == rfc3339(pki.now - datetime.timedelta(days=2))
    assert entry["via"] == f"ocsp http://{ROOT_OCSP_FQDN}:{case.root.port}/"
    assert entry["checked_at"] and entry["not_after"] == rfc3339(pki.not_after(pki.ica))
    assert value(case.proxy.metrics(), "ocsp_proxy_intermediate_revoked", name=WATCH_NAME) == 1

    answer = ask(case.proxy, pki, pki.good)
    assert answer.status == 200
    assert answer.headers.get("x-ocsp-proxy-flags") == "issuer_revoked", answer.headers
    parsed = parse_response(answer.body)
    assert (parsed.response_status, parsed.cert_status) == (SUCCESSFUL, "good"), parsed.text
    assert responder.requests_served == 1
    [record] = wait_for_revocation_records(case.revocation_log, 1)
    assert (record["status"], record["issuer_revoked"]) == ("good", True), record


def test_revoked_intermediate_under_refuse_gets_its_leaves_unauthorized(
        pki, responder, watched_ica):
    case = watched_ica("revoked", on_revoked_issuer="refuse")
    assert " policy=refuse" in case.proxy.wait_for_log("intermediate_revoked", name=WATCH_NAME)
    answer = ask(case.proxy, pki, pki.good)
    assert answer.status == 200
    assert parse_response(answer.body).response_status == UNAUTHORIZED
    case.proxy.wait_for_log("revoked_issuer_refused", watch=WATCH_NAME, client="127.0.0.1")
    assert responder.requests_served == 0
    [record] = wait_for_revocation_records(case.revocation_log, 1)
    assert (record["status"], record["validation"]) == ("error", "error:issuer_revoked"), record


def test_refused_answer_under_a_revoked_intermediate_is_logged_with_issuer_revoked(
        pki, watched_ica):
    case = watched_ica("revoked", on_revoked_issuer="refuse")
    case.proxy.wait_for_log("intermediate_revoked", name=WATCH_NAME)
    ask(case.proxy, pki, pki.good)
    [record] = wait_for_revocation_records(case.revocation_log, 1)
    # docs/ARCHITECTURE.md §9: every later answer for a certificate under it carries issuer_revoked
    assert (record["issuer"], record["issuer_revoked"]) == (pki.subject_line(pki.ica), True)


def test_good_intermediate_is_reported_good_and_its_leaves_are_not_flagged(
        pki, responder, watched_ica):
    case = watched_ica("good")
    line = case.proxy.wait_for_log("intermediate_state", name=WATCH_NAME, state="good")
    assert " level=info " in line and " from=unchecked" in line, line
    entry = case.entry()
    assert (entry["state"], entry["revocation_time"]) == ("good", None), entry
    assert case.root.requests_served == 1
    metrics = case.proxy.metrics()
    assert value(metrics, "ocsp_proxy_intermediate_revoked", name=WATCH_NAME) == 0
    # 365-day certificates are far from the default 30-day expiry warning
    assert value(metrics, "ocsp_proxy_issuer_expiring", name=WATCH_NAME) == 0
    assert not case.proxy.log_lines("issuer_expiring")

    answer = ask(case.proxy, pki, pki.good)
    assert answer.status == 200 and "x-ocsp-proxy-flags" not in answer.headers, answer.headers
    assert parse_response(answer.body).cert_status == "good"
    [record] = wait_for_revocation_records(case.revocation_log, 1)
    assert (record["status"], record["issuer_revoked"]) == ("good", False), record


# -- distrust ----------------------------------------------------------------------------------

@pytest.mark.parametrize("by", ["cert", "spki_sha256"])
def test_distrusted_issuer_gets_unauthorized_without_asking_upstream(
        pki, responder, start_proxy, by):
    key = str(pki.ica.pem) if by == "cert" else pki.spki_sha256(pki.ica)
    proxy = start_proxy(responder.port, distrust=[{"name": "distrusted-ica", by: key}])
    answer = ask(proxy, pki, pki.good)
    assert answer.status == 200
    assert answer.headers.get("x-ocsp-proxy-flags") == "distrusted", answer.headers
    assert parse_response(answer.body).response_status == UNAUTHORIZED
    proxy.wait_for_log("distrusted_issuer", distrust="distrusted-ica", client="127.0.0.1")
    assert responder.requests_served == 0


# -- issuer expiry -----------------------------------------------------------------------------

def test_issuers_within_the_expiry_warning_show_in_status_metrics_and_the_startup_log(
        pki, responder, start_proxy):
    # The test CAs are valid for 365 days; a 400-day warning puts them inside it.
    proxy = start_proxy(responder.port, watch={
        "expiry_warning": "400d",
        "intermediates": [{"name": WATCH_NAME, "cert": str(pki.ica.pem),
                           "parent": str(pki.root.pem)}]})
    subject = pki.subject_line(pki.ica)
    not_after = pki.not_after(pki.ica)
    for name, kind in ((WATCH_NAME, "intermediate"), (subject, "issuer")):
        line = proxy.wait_for_log("issuer_expiring", name=name, kind=kind)
        assert " level=warn " in line and f" not_after={rfc3339(not_after)}" in line, line

    status = proxy.status()
    seconds_left = (not_after - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
    assert [(e["name"], e["kind"], e["not_after"], e["expiring"])
            for e in status["issuer_expiry"]] == [
        (WATCH_NAME, "intermediate", rfc3339(not_after), True),
        (subject, "issuer", rfc3339(not_after), True)]
    for e in status["issuer_expiry"]:
        assert abs(e["seconds_left"] - seconds_left) < 30, e
    # no AIA OCSP URL, no ocsp_url, no CRL distribution point: watched for expiry only
    def start_up_check() -> dict | None:
        [entry] = proxy.status()["watched_intermediates"]
        return entry if entry["checked_at"] else None
    checked = wait_until(start_up_check, 3, "the start-up check")
    assert checked["state"] == "unchecked" and "no AIA OCSP URL" in checked["detail"], checked

    metrics = proxy.metrics()
    for name in (WATCH_NAME, subject):
        assert value(metrics, "ocsp_proxy_issuer_expiring", name=name) == 1
        assert abs(value(metrics, "ocsp_proxy_issuer_expiry_seconds", name=name)
                   - seconds_left) < 30
