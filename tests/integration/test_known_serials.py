"""The serials known to be issued (upstream/known_serials.h), what the CRL bridge may answer
`good` for, as the operator sees them: the config's CA certificates issued by another of them
at start, the certificates of caIssuers documents the proxy served, kept across a reload;
/status known_serials, the ocsp_proxy_known_serials gauge and one known_serials_loaded line
per start or reload."""
from __future__ import annotations

from ocsp_client import curl
from pki import AIA_FQDN
from prom_text import value


def test_config_cas_and_served_ca_issuers_certificates_are_known_and_a_reload_keeps_them(
        pki, static, start_forward_proxy):
    # ica (issued by root) is a configured issuer, root a crl.issuers certificate.
    proxy = start_forward_proxy(
        crl={"issuers": [str(pki.root.pem)]},
        forward={"aia_fqdns": [f"{AIA_FQDN}:{static.port}"], "trust_store": str(pki.root.pem)})
    proxy.wait_for_log("known_serials_loaded", config_cas="1", learned_issuers="0", files="0",
                       entries="1", refused="0")
    assert proxy.status()["known_serials"] == {"entries": 1, "refused": 0}
    assert value(proxy.metrics(), "ocsp_proxy_known_serials") == 1

    # A caIssuers document a client fetched through the proxy: other_ica, issued by root.
    static.put("other_ica.crt", pki.der(pki.other_ica))
    answer = curl("GET", f"http://{AIA_FQDN}:{static.port}/other_ica.crt", proxy=proxy.url)
    assert answer.status == 200
    assert proxy.status()["known_serials"] == {"entries": 2, "refused": 0}

    # A stranger's self-signed certificate is no serial of a CA the proxy knows.
    static.put("stranger.crt", pki.der(pki.stranger))
    answer = curl("GET", f"http://{AIA_FQDN}:{static.port}/stranger.crt", proxy=proxy.url)
    assert answer.status == 200
    assert proxy.status()["known_serials"]["entries"] == 2

    # The set lives as long as the process: the reload adds the config's CAs again (one held
    # already) and keeps the served one.
    proxy.sighup()
    proxy.wait_for_log("config_reloaded", generation="2")
    assert len(proxy.log_lines("known_serials_loaded")) == 2
    assert proxy.status()["known_serials"] == {"entries": 2, "refused": 0}
    assert value(proxy.metrics(), "ocsp_proxy_known_serials") == 2
