"""Staged distrust (docs/ARCHITECTURE.md §9): an entry in its log or warn stage is served (warn
flags the answer distrust-pending), one whose enforce_from is past refuses, and a client group
keeps the stage before its own later date while other clients are refused. Two client
addresses on loopback (127.0.0.1 and 127.0.0.2, chosen with curl --interface) tell the
group's clients from the others."""
from __future__ import annotations

import pytest

from ocsp_client import SUCCESSFUL, UNAUTHORIZED, curl, make_request, parse_response
from pki import OCSP_FQDN
from prom_text import value
from proxy import Proxy, wait_for_revocation_records

NAME = "diginotar"
GROUP_CLIENT = "127.0.0.2"
OTHER_CLIENT = "127.0.0.1"


def ask(proxy: Proxy, pki, source: str = OTHER_CLIENT, forward_port: int | None = None):
    der = make_request(pki.ica, pki.good)
    if forward_port is None:
        return curl("POST", proxy.url, der, interface=source)
    return curl("POST", f"http://{OCSP_FQDN}:{forward_port}/", der, proxy=proxy.url,
                interface=source)


def assert_served(answer, flags: str | None):
    assert answer.status == 200
    assert answer.headers.get("x-ocsp-proxy-flags") == flags, answer.headers
    parsed = parse_response(answer.body)
    assert (parsed.response_status, parsed.cert_status) == (SUCCESSFUL, "good")


def assert_refused(answer):
    assert answer.status == 200
    assert answer.headers.get("x-ocsp-proxy-flags") == "distrusted", answer.headers
    assert parse_response(answer.body).response_status == UNAUTHORIZED


def distrust_count(proxy: Proxy, stage: str) -> float:
    return value(proxy.metrics(), "ocsp_proxy_distrust_requests_total", name=NAME, stage=stage)


@pytest.fixture
def start_distrusting(pki, responder, start_proxy, tmp_path):
    """start_distrusting(**entry) -> (Proxy, revocation log path): the issuing CA distrusted
    by an entry named NAME with the given keys."""
    def start(**entry):
        log = tmp_path / "revocations.jsonl"
        proxy = start_proxy(responder.port, revocation_log=str(log),
                            distrust=[{"name": NAME, "cert": str(pki.ica.pem), **entry}])
        return proxy, log
    return start


def test_warn_stage_serves_the_answer_flagged_distrust_pending_with_an_error_line(
        pki, responder, start_distrusting):
    proxy, log = start_distrusting(mode="warn")
    assert_served(ask(proxy, pki), "distrust-pending")
    proxy.wait_for_log("distrust_pending", level="error", distrust=NAME, stage="warn",
                       client=OTHER_CLIENT, enforce_from="never")
    assert responder.requests_served == 1
    [record] = wait_for_revocation_records(log, 1)
    assert record["status"] == "good", record
    assert distrust_count(proxy, "warn") == 1
    assert proxy.status()["distrust"][0]["stage"] == "warn"


def test_log_stage_serves_silently_apart_from_a_warn_line(pki, responder, start_distrusting):
    proxy, log = start_distrusting(mode="log")
    assert_served(ask(proxy, pki), None)
    proxy.wait_for_log("distrust_pending", level="warn", distrust=NAME, stage="log")
    assert proxy.log_lines("distrusted_issuer") == []
    [record] = wait_for_revocation_records(log, 1)
    assert record["status"] == "good", record
    assert (distrust_count(proxy, "log"), distrust_count(proxy, "enforce")) == (1, 0)


def test_an_enforce_from_already_past_refuses_and_says_since_when(
        pki, responder, start_distrusting):
    proxy, log = start_distrusting(mode="warn", enforce_from="2020-01-01")
    proxy.wait_for_log("distrust_enforced", level="info", distrust=NAME,
                       since="2020-01-01T00:00:00Z")
    assert_refused(ask(proxy, pki))
    proxy.wait_for_log("distrusted_issuer", distrust=NAME, client=OTHER_CLIENT)
    assert responder.requests_served == 0
    [record] = wait_for_revocation_records(log, 1)
    assert (record["status"], record["validation"]) == ("error", "error:distrusted_issuer"), record
    [entry] = proxy.status()["distrust"]
    assert (entry["mode"], entry["enforce_from"], entry["stage"]) == (
        "warn", "2020-01-01T00:00:00Z", "enforce")


@pytest.mark.parametrize("mode", ["responder", "forward"])
def test_a_group_with_a_later_date_is_served_while_other_clients_are_refused(
        pki, responder, start_distrusting, mode):
    proxy, _ = start_distrusting(
        mode="warn", enforce_from="2020-01-01",
        clients=[{"name": "m2m", "cidrs": [f"{GROUP_CLIENT}/32", "2001:db8::/32"],
                  "enforce_from": "2099-01-01T00:00:00Z"}])
    port = responder.port if mode == "forward" else None
    assert_served(ask(proxy, pki, GROUP_CLIENT, port), "distrust-pending")
    assert_refused(ask(proxy, pki, OTHER_CLIENT, port))
    proxy.wait_for_log("distrust_pending", distrust=NAME, client=GROUP_CLIENT,
                       enforce_from="2099-01-01T00:00:00Z")
    proxy.wait_for_log("distrusted_issuer", distrust=NAME, client=OTHER_CLIENT)
    assert (distrust_count(proxy, "warn"), distrust_count(proxy, "enforce")) == (1, 1)
    [entry] = proxy.status()["distrust"]
    assert entry["stage"] == "enforce"
    assert entry["clients"] == [{"name": "m2m", "cidrs": ["127.0.0.2/32", "2001:db8::/32"],
                                 "enforce_from": "2099-01-01T00:00:00Z", "stage": "warn"}]
