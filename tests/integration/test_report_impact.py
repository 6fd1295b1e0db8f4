"""`ocsp-proxy report --impact ISSUER` and `--serials LIST [--deadline DATE]` driven as the
network team runs them: on a generated log whose counts the test works out itself, and on the
log a real proxy wrote while `openssl ocsp` asked it about the test PKI's leaves."""
from __future__ import annotations

import datetime
import json
import subprocess
from collections import defaultdict

from ocsp_client import cert_id_of, openssl_query
from pki import Pki
from proxy import wait_for_revocation_records

ISSUERS = {"aa11": "CN=Zorg CA G3,O=Staat der Nederlanden,C=NL",
           "bb22": "CN=DigiCert Global G2 TLS RSA SHA256 2020 CA1,O=DigiCert Inc,C=US"}


def report(proxy_bin: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([proxy_bin, "report", *args], capture_output=True, text=True,
                          timeout=30)


def generated_log(path) -> list[dict]:
    """600 answers over an hour: 6 clients (each from changing ports) asking about 20 serials
    under two issuers, some revoked."""
    start = datetime.datetime(2026, 11, 23, 9, 0, tzinfo=datetime.timezone.utc)
    records = []
    for i in range(600):
        key_hash = "aa11" if i % 3 else "bb22"
        status = "revoked" if i % 7 == 0 else "good"
        records.append({
            "time": (start + datetime.timedelta(seconds=6 * i)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "client": f"10.1.0.{i % 6 + 1}:{40000 + i}", "mode": "responder",
            "upstream": "u", "upstream_fqdn": "ocsp.example", "issuer": ISSUERS[key_hash],
            "issuer_key_hash": key_hash, "hash": "sha1", "serial": f"{(i * 7) % 20 + 0x80:04x}",
            "status": status,
            "revocation_time": "2026-11-01T00:00:00Z" if status == "revoked" else None,
            "revocation_reason": "keyCompromise" if status == "revoked" else None,
            "source": "memory", "validation": "ok", "issuer_revoked": False, "latency_ms": 1})
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return records


def test_impact_on_a_generated_log_counts_every_client_and_serial_of_the_issuer(
        proxy_bin, tmp_path):
    log = tmp_path / "revocations.jsonl"
    records = [r for r in generated_log(log) if r["issuer_key_hash"] == "aa11"]
    done = report(proxy_bin, "--json", "--impact", "staat der nederlanden", str(log))
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert got["totals"] == {"answers": 600, "matching": len(records), "malformed": 0,
                             "seen_after_deadline": 0}
    per_client = defaultdict(list)
    per_serial = defaultdict(list)
    for r in records:
        per_client[r["client"].split(":")[0]].append(r)
        per_serial[r["serial"]].append(r)
    assert {c["client"]: (c["requests"], c["serials"], c["first_seen"], c["last_seen"])
            for c in got["clients"]} == {
        client: (len(rs), len({r["serial"] for r in rs}), rs[0]["time"], rs[-1]["time"])
        for client, rs in per_client.items()}
    assert {s["serial"]: (s["requests"], s["distinct_clients"], s["last_seen"], s["last_status"])
            for s in got["serials"]} == {
        serial: (len(rs), len({r["client"].split(":")[0] for r in rs}), rs[-1]["time"],
                 rs[-1]["status"])
        for serial, rs in per_serial.items()}


def test_serials_and_deadline_on_a_generated_log(proxy_bin, tmp_path):
    log = tmp_path / "revocations.jsonl"
    records = generated_log(log)
    listed = ["0x0080", "00:81", "8F", "ffee"]  # 0080, 0081, 008f are logged; ffee never
    serials = tmp_path / "serials.txt"
    serials.write_text("# the CA's list\n" + "\n".join(listed) + "\n")
    deadline = "2026-11-23T09:30:00Z"
    done = report(proxy_bin, "--json", "--serials", str(serials), "--deadline", deadline,
                  str(log))
    late = {r["serial"] for r in records
            if r["serial"] in ("0080", "0081", "008f") and r["time"] >= "2026-11-23T09:30"}
    assert late, "the generated log must ask about listed serials after the deadline"
    assert done.returncode == 1, done.stderr
    got = json.loads(done.stdout)
    assert got["never_seen"] == [{"serial": "ffee"}]
    assert {s["serial"] for s in got["seen_after_deadline"]} == late
    assert got["totals"]["seen_after_deadline"] == len(late)

    after_everything = report(proxy_bin, "--serials", str(serials), "--deadline", "2026-11-24",
                              str(log))
    assert after_everything.returncode == 0, after_everything.stderr
    assert "Still seen on or after the deadline (0)\n  (none)\n" in after_everything.stdout


def test_impact_and_serials_on_the_log_a_real_proxy_wrote(
        pki: Pki, responder, proxy_bin, start_proxy, tmp_path):
    log = tmp_path / "revocations.jsonl"
    proxy = start_proxy(responder.port, revocation_log=str(log))
    for leaf in (pki.good, pki.revoked, pki.good, pki.good2):
        assert openssl_query(proxy.url, pki, leaf, nonce=False).returncode == 0
    wait_for_revocation_records(log, 4)

    done = report(proxy_bin, "--json", "--impact", "test issuing ca", str(log))
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert [c["client"] for c in got["clients"]] == ["127.0.0.1"]
    assert got["clients"][0]["requests"] == 4 and got["clients"][0]["serials"] == 3
    serials = {s["serial"]: (s["requests"], s["last_status"]) for s in got["serials"]}
    assert serials == {cert_id_of(pki.ica, pki.good).serial: (2, "good"),
                       cert_id_of(pki.ica, pki.revoked).serial: (1, "revoked"),
                       cert_id_of(pki.ica, pki.good2).serial: (1, "good")}

    # The serials as a CA's announcement writes them: upper case, colon-separated.
    def announced(serial: str) -> str:
        return ":".join(serial[i:i + 2] for i in range(0, len(serial), 2))
    listed = tmp_path / "serials.txt"
    listed.write_text(f"{announced(pki.good.serial)}\n{announced(pki.revoked.serial)}\n"
                      f"{pki.unlisted.serial}  # never asked about\n")
    yesterday = (datetime.date.today() - datetime.timedelta(days=1)).isoformat()
    late = report(proxy_bin, "--serials", str(listed), "--deadline", yesterday, str(log))
    assert late.returncode == 1, late.stderr
    assert "  listed serials seen 2 of 3\n" in late.stdout
    assert "Still seen on or after the deadline (2)\n" in late.stdout
    assert f"Listed serials never seen (1)\n  SERIAL\n  {pki.unlisted.serial.lower()}\n" \
        in late.stdout
