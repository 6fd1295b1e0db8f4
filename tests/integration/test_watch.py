"""Watched intermediates, distrusted issuers and issuer expiry (docs/ARCHITECTURE.md §9): the
issuing CA is watched through a real `openssl ocsp` responder for the test root, whose database
lists it as revoked or as good; leaves under it are asked about through the proxy as usual."""
from __future__ import annotations

import dataclasses
import datetime
import shutil
import subprocess
from pathlib import Path

import pytest

from ocsp_client import SUCCESSFUL, UNAUTHORIZED, curl, make_request, parse_response
from pki import ROOT_OCSP_FQDN, rfc3339
from prom_text import value
from proxy import Proxy, proxy_config, upstream, wait_for_revocation_records
from servers import OcspResponder, Relay, free_port, wait_until

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


# -- a directory of intermediates (watch.issuers) -----------------------------------------------

CATALOGUE_SIZE = 6
CATALOGUE_INTERVAL_S = 12  # the first round: one check each 2 s
REVOKED_NAME = "Catalogue-CA-3"


@dataclasses.dataclass
class Catalogue:
    """A proxy watching a directory of intermediates the test root issued, with no entry per
    intermediate; each names the root's responder (through a relay that notes when each
    request came) in its AIA; the responder lists "Catalogue CA 3" as revoked."""
    proxy: Proxy
    relay: Relay
    directory: Path


@pytest.fixture(scope="module")
def catalogue(request, pki, proxy_bin, tmp_path_factory) -> Catalogue:
    work = tmp_path_factory.mktemp("catalogue")
    responder_port = free_port()
    relay = Relay("pass", f"http://127.0.0.1:{responder_port}/")
    request.addfinalizer(relay.stop)
    directory = work / "issuers"
    directory.mkdir()
    cas = [pki.ca_with_ocsp(f"catalogue{i}", f"Catalogue CA {i}",
                            f"http://{ROOT_OCSP_FQDN}:{relay.port}/")
           for i in range(1, CATALOGUE_SIZE + 1)]
    for ca in cas:
        shutil.copy(ca.pem, directory / ca.pem.name)
    shutil.copy(pki.root.pem, directory / "root.pem")   # a parent, not watched
    shutil.copy(pki.good.pem, directory / "leaf.pem")   # not a CA: skipped with a warning
    index = pki.make_index("catalogue_index.txt", good=[c for c in cas if c.name != "catalogue3"],
                           revoked=[cas[2]])
    responder = OcspResponder(pki, work, signer=pki.root, ca=pki.root, index=index,
                              port=responder_port)
    request.addfinalizer(responder.stop)
    config = proxy_config(
        upstreams=[upstream(relay.port, [ROOT_OCSP_FQDN], [pki.root.pem], name="testroot")],
        resolve={ROOT_OCSP_FQDN: "127.0.0.1"})
    config["watch"] = {"interval": f"{CATALOGUE_INTERVAL_S}s", "issuers": [str(directory)]}
    proxy = Proxy(proxy_bin, work, config, name="catalogue-proxy")
    request.addfinalizer(proxy.stop)
    return Catalogue(proxy, relay, directory)


def test_a_directory_of_intermediates_is_watched_without_an_entry_each(catalogue, proxy_bin):
    line = catalogue.proxy.wait_for_log("intermediate_revoked", timeout_s=40, name=REVOKED_NAME)
    assert " level=error " in line and " reason=2" in line, line  # 2: cACompromise
    names = [f"Catalogue-CA-{i}" for i in range(1, CATALOGUE_SIZE + 1)]

    def all_checked() -> list[dict] | None:
        entries = catalogue.proxy.status()["watched_intermediates"]
        return entries if all(e["checked_at"] for e in entries) else None
    entries = wait_until(all_checked, 40, "every intermediate checked")
    assert sorted(e["name"] for e in entries) == names
    assert {e["name"]: e["state"] for e in entries} == {
        name: "revoked" if name == REVOKED_NAME else "good" for name in names}
    metrics = catalogue.proxy.metrics()
    for name in names:
        assert value(metrics, "ocsp_proxy_intermediate_revoked", name=name) == (
            1 if name == REVOKED_NAME else 0)
    skipped = catalogue.proxy.log_lines("watch_issuers_skipped")
    assert len(skipped) == 1 and " count=1 " in skipped[0] and " not_ca=1 " in skipped[0], skipped

    check = subprocess.run([proxy_bin, "--check-config", "--config",
                            str(catalogue.proxy.config_path)],
                           capture_output=True, text=True, timeout=10)
    assert check.returncode == 0, check.stderr
    assert f"{CATALOGUE_SIZE} watched intermediates" in check.stdout, check.stdout


def test_the_checks_of_a_catalogue_are_spread_over_the_interval(catalogue):
    # Each intermediate is asked about once (its answer is then cached for a day): the first
    # round, paced at one each 2 s. Before, all came at start-up at once.
    wait_until(lambda: len(catalogue.relay.times) >= CATALOGUE_SIZE, 40, "the first round")
    times = catalogue.relay.times[:CATALOGUE_SIZE]
    assert times[-1] - times[0] >= CATALOGUE_INTERVAL_S / 2, times  # 10 s when on time
    assert max(sum(1 for t in times if s <= t < s + 1) for s in times) <= 3, times
