"""Delta CRLs (RFC 5280 §5.2.4, §5.2.6) through ocsp-proxy's CRL service: a complete CRL that
names a delta in its Freshest CRL extension has the delta fetched and kept warm too, without
any client asking for it, and both are served to forward clients byte for byte."""
from __future__ import annotations

import datetime

from servers import wait_until
from test_crl import crl_section, crl_url, fetch

BASE_NUMBER = 7


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def serve_base_and_delta(pki, static, delta_number: int, **delta_times) -> tuple[bytes, bytes]:
    """The issuing CA's complete CRL (number 7: the revoked leaf, serial 0A on hold) naming
    /ica-delta.crl as its Freshest CRL, and a delta on it (serial 0A removed from the CRL,
    the good leaf superseded) numbered `delta_number`, both on the static server."""
    base = pki.make_crl(pki.ica, revoked=[pki.revoked, pki.entry("0A", "certificateHold")],
                        hours=6, number=BASE_NUMBER,
                        freshest=[crl_url(static, "ica-delta.crl")]).read_bytes()
    delta = put_delta(pki, static, delta_number, **delta_times)
    static.put("ica.crl", base)
    return base, delta


def put_delta(pki, static, number: int, **times) -> bytes:
    if not times:
        times = {"hours": 1}
    delta = pki.make_crl(pki.ica, revoked=[pki.entry("0A", "removeFromCRL"),
                                           pki.entry(pki.good, "superseded")],
                         number=number, delta_of=BASE_NUMBER, **times).read_bytes()
    static.put("ica-delta.crl", delta)
    return delta


def held_crls(proxy) -> dict[str, dict]:
    return {crl["url"]: crl for crl in proxy.status()["cache"]["crl"]["crls"]}


def test_the_delta_a_crl_names_is_fetched_without_a_client_asking_and_served_byte_exact(
        pki, static, start_forward_proxy):
    base, delta = serve_base_and_delta(pki, static, delta_number=8)
    base_url, delta_url = crl_url(static), crl_url(static, "ica-delta.crl")
    proxy = start_forward_proxy(crl=crl_section(static))
    answer = fetch(proxy, base_url)
    assert (answer.status, answer.body) == (200, base)
    # Nobody asked for the delta: the proxy follows the complete CRL's Freshest CRL.
    wait_until(lambda: static.requests("/ica-delta.crl") == 1, 5, "the delta's fetch")
    proxy.wait_for_log("crl_delta_followed", url=delta_url, base=base_url)
    proxy.wait_for_log("crl_fetched", url=delta_url, signature_checked="true")
    crls = held_crls(proxy)
    assert {k: crls[base_url][k] for k in ("delta", "crl_number", "base_crl_number",
                                           "freshest_urls")} == {
        "delta": False, "crl_number": "07", "base_crl_number": None,
        "freshest_urls": [delta_url]}
    assert {k: crls[delta_url][k] for k in ("delta", "crl_number", "base_crl_number",
                                            "freshest_urls", "entries")} == {
        "delta": True, "crl_number": "08", "base_crl_number": "07", "freshest_urls": [],
        "entries": 2}

    # A forward client gets the delta as the CA serves it, from the proxy's cache.
    answer = fetch(proxy, delta_url)
    assert (answer.status, answer.body) == (200, delta)
    assert static.requests("/ica-delta.crl") == 1
    assert static.requests("/ica.crl") == 1


def test_a_delta_is_refreshed_on_its_own_next_update_and_the_newer_one_replaces_it(
        pki, static, start_forward_proxy):
    now = _utc_now()
    # Half of the first delta's [thisUpdate, nextUpdate) has passed five seconds after start.
    _, old = serve_base_and_delta(pki, static, delta_number=8,
                                  last_update=now - datetime.timedelta(seconds=10),
                                  next_update=now + datetime.timedelta(seconds=20))
    base_url, delta_url = crl_url(static), crl_url(static, "ica-delta.crl")
    # The complete CRL is kept warm (crl.urls); nobody ever asks for the delta.
    proxy = start_forward_proxy(crl={"urls": [base_url]})
    proxy.wait_for_log("crl_fetched", url=delta_url)
    newer = put_delta(pki, static, 9)
    wait_until(lambda: static.requests("/ica-delta.crl") == 2, 15, "the delta's refresh")
    wait_until(lambda: held_crls(proxy).get(delta_url, {}).get("crl_number") == "09", 3,
               "the newer delta to be held")
    answer = fetch(proxy, delta_url)
    assert (answer.status, answer.body) == (200, newer)
    assert static.requests("/ica.crl") == 1
