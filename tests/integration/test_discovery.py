"""Issuer discovery in local-responder mode (responder.unknown_issuer: discover): a CertID
whose issuer no upstream lists is asked of the upstreams; the one whose answer validates
through AIA is learned, kept in state_dir across restarts, and routed to directly."""
from __future__ import annotations

import dataclasses

import pytest

from ocsp_client import SUCCESSFUL, UNAUTHORIZED, curl, make_request, parse_response
from pki import AIA_FQDN, OCSP_FQDN
from proxy import Proxy, upstream
from servers import OcspResponder, wait_until
from test_redis import redis_section

OTHER_FQDN = "ocsp.other.test.example"


@dataclasses.dataclass
class Discovery:
    testca: OcspResponder   # serves the test issuing CA only (and its proxy lists it)
    otherca: OcspResponder  # serves the unconfigured issuing CA, through a delegated responder
    start: callable         # start() -> Proxy, same config and state_dir each time


@pytest.fixture
def discovery(pki, start_responder, static, start_forward_proxy, tmp_path):
    static.put("other_ica.der", pki.der(pki.other_ica))
    aia_url = f"http://{AIA_FQDN}:{static.port}/other_ica.der"
    testca = start_responder()
    otherca = start_responder(ca=pki.other_ica, index=pki.other_index,
                              signer=pki.responder_for(pki.other_ica, aia_url))
    state_dir = tmp_path / "state"
    state_dir.mkdir()

    def start(**sections) -> Proxy:
        # The second upstream lists an unrelated CA: no upstream lists other_ica.
        other = upstream(otherca.port, [OTHER_FQDN], [pki.stranger.pem], name="otherca")
        names = (OCSP_FQDN, OTHER_FQDN, AIA_FQDN)
        return start_forward_proxy(
            testca.port, extra_upstreams=[other],
            resolve={name: "127.0.0.1" for name in names},
            forward={"aia_fqdns": [f"{AIA_FQDN}:{static.port}"],
                     "trust_store": str(pki.root.pem)},
            # No cache snapshot: these tests are about the learned issuers kept in state_dir,
            # and a restored answer would spare the restarted proxy the question they watch.
            **{"state_dir": str(state_dir), "cache": {"snapshot_max_bytes": 0}, **sections})
    return Discovery(testca, otherca, start)


def ask(proxy: Proxy, issuer, leaf):
    return parse_response(curl("POST", proxy.url, make_request(issuer, leaf)).body)


def test_unknown_issuer_is_discovered_then_routed_from_the_state_file_after_a_restart(
        pki, discovery):
    proxy = discovery.start()
    answer = ask(proxy, pki.other_ica, pki.other_leaf)
    assert answer.response_status == SUCCESSFUL, answer.text
    assert answer.cert_status == "good"
    learned = proxy.wait_for_log("issuer_learned", upstream="otherca", source="discovery")
    assert "Unconfigured Issuing CA" in learned
    assert (discovery.testca.requests_served, discovery.otherca.requests_served) == (1, 1)
    status = proxy.status()["learned"]
    assert [(i["upstream"], i["source"]) for i in status] == [("otherca", "discovery")]
    assert "Unconfigured Issuing CA" in status[0]["subject"]
    assert proxy.terminate() == 0

    restarted = discovery.start()
    restarted.wait_for_log("issuer_loaded", upstream="otherca", source="state")
    answer = ask(restarted, pki.other_ica, pki.other_leaf)
    assert answer.cert_status == "good"
    # Routed directly: the CA that does not serve the issuer is not asked again.
    assert (discovery.testca.requests_served, discovery.otherca.requests_served) == (1, 2)
    assert restarted.log_lines("issuer_learned") == []
    assert restarted.status()["learned"][0]["source"] == "state"


def test_a_stream_for_an_issuer_nobody_serves_asks_each_ca_once(pki, discovery):
    proxy = discovery.start()
    # CertIDs naming the stranger CA as issuer, for three different serials.
    for leaf in (pki.good, pki.good2, pki.revoked):
        assert ask(proxy, pki.stranger, leaf).response_status == UNAUTHORIZED
    assert (discovery.testca.requests_served, discovery.otherca.requests_served) == (1, 1)
    metrics = proxy.metrics()
    outcome = {dict(labels)["outcome"]: v for (name, labels), v in metrics.items()
               if name == "ocsp_proxy_issuer_discovery_total"}
    assert outcome == {"unauthorized": 1, "remembered": 2}


def test_refuse_keeps_unknown_issuers_unauthorized_without_asking(pki, discovery):
    proxy = discovery.start(responder={"unknown_issuer": "refuse"})
    assert ask(proxy, pki.other_ica, pki.other_leaf).response_status == UNAUTHORIZED
    assert (discovery.testca.requests_served, discovery.otherca.requests_served) == (0, 0)


def test_an_unwritable_state_dir_is_one_warning_and_discovery_still_works(
        pki, discovery, tmp_path):
    proxy = discovery.start(state_dir=str(tmp_path / "missing"))
    proxy.wait_for_log("state_dir_unavailable")
    assert ask(proxy, pki.other_ica, pki.other_leaf).cert_status == "good"


def test_a_second_instance_sharing_redis_routes_a_learned_issuer_without_discovery(
        pki, discovery, redis):
    first = discovery.start(redis=redis_section(redis), state_dir="none")
    assert ask(first, pki.other_ica, pki.other_leaf).cert_status == "good"
    key = "ocsp-proxy:learned-issuers:v1"
    wait_until(lambda: redis.cli("HLEN", key) == "1", 5, "the learned issuer in Redis")

    second = discovery.start(redis=redis_section(redis), state_dir="none")
    second.wait_for_log("issuer_loaded", upstream="otherca", source="redis", timeout_s=5)
    assert ask(second, pki.other_ica, pki.other_leaf).cert_status == "good"
    # The CA that does not serve the issuer was asked by the first instance's discovery only.
    assert discovery.testca.requests_served == 1
    assert second.log_lines("issuer_learned") == []
    assert second.status()["learned"][0]["source"] == "redis"
