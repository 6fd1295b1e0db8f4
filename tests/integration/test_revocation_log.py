"""The revocation log (docs/ARCHITECTURE.md §10): one JSON line per answered CertID, written for
the network team, reopened on SIGHUP after logrotate moved it, and summarised by
`ocsp-proxy report`."""
from __future__ import annotations

import datetime
import http.client
import json
import re
import signal
import subprocess

import pytest

from ocsp_client import cert_id_of, make_request, openssl_query, parse_response
from pki import OCSP_FQDN, Cert, Pki, rfc3339
from prom_text import value
from proxy import revocation_records, wait_for_revocation_records

FIELDS = ["time", "client", "mode", "upstream", "upstream_fqdn", "issuer", "issuer_key_hash",
          "hash", "serial", "status", "revocation_time", "revocation_reason", "source",
          "validation", "issuer_revoked", "latency_ms"]
LIMITS = {"max_request_bytes": "16KiB", "client_timeout": "5s", "upstream_timeout": "2s"}
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def answered(pki: Pki, leaf: Cert, status: str, source: str, mode: str = "responder",
             digest: str = "sha1") -> dict:
    """The fields (all but time, client and latency_ms) of the line for an answer from the
    test upstream about `leaf`, a leaf of the issuing CA."""
    cert_id = cert_id_of(pki.ica, leaf, digest)
    revoked = status == "revoked"
    return {"mode": mode, "upstream": "testca", "upstream_fqdn": OCSP_FQDN,
            "issuer": pki.subject_line(pki.ica), "issuer_key_hash": cert_id.issuer_key_hash,
            "hash": digest, "serial": cert_id.serial, "status": status,
            "revocation_time": rfc3339(leaf.revoked_at) if revoked else None,
            "revocation_reason": leaf.reason if revoked else None,
            "source": source, "validation": "ok", "issuer_revoked": False}


def refused(issuer: Cert, leaf: Cert, code: str) -> dict:
    """The fields of the line for a request refused before any upstream was chosen."""
    cert_id = cert_id_of(issuer, leaf)
    return {"mode": "responder", "upstream": "", "upstream_fqdn": "", "issuer": "",
            "issuer_key_hash": cert_id.issuer_key_hash, "hash": "sha1",
            "serial": cert_id.serial, "status": "error", "revocation_time": None,
            "revocation_reason": None, "source": None, "validation": f"error:{code}",
            "issuer_revoked": False}


def assert_lines(records: list[dict], expected: list[dict], since: datetime.datetime):
    """Each record has every field in order, a time in [since, now], a client on
    127.0.0.1 and an integer latency; the other fields are exactly `expected`."""
    now = datetime.datetime.now(datetime.timezone.utc)
    assert len(records) == len(expected), records
    for record, fields in zip(records, expected):
        assert list(record) == FIELDS, record
        assert TIME.fullmatch(record["time"]), record
        at = datetime.datetime.fromisoformat(record["time"].replace("Z", "+00:00"))
        assert since - datetime.timedelta(seconds=1) <= at <= now, record
        assert re.fullmatch(r"127\.0\.0\.1:\d+", record["client"]), record
        assert type(record["latency_ms"]) is int and record["latency_ms"] >= 0, record
        assert {k: record[k] for k in fields} == fields


def test_each_answered_certid_gives_one_line_with_its_fields(
        pki, responder, start_proxy, tmp_path):
    log = tmp_path / "revocations.jsonl"
    proxy = start_proxy(responder.port, revocation_log=str(log))
    started = datetime.datetime.now(datetime.timezone.utc)
    asked = [(pki.good, pki.ica, "sha1"), (pki.good, pki.ica, "sha1"),
             (pki.revoked, pki.ica, "sha1"), (pki.unlisted, pki.ica, "sha1"),
             (pki.good2, pki.ica, "sha256"), (pki.other_leaf, pki.other_ica, "sha1")]
    for leaf, issuer, digest in asked:
        openssl_query(proxy.url, pki, leaf, issuer=issuer, digest=digest, nonce=False)
    records = wait_for_revocation_records(log, len(asked))
    assert_lines(records, [
        answered(pki, pki.good, "good", "upstream"),
        answered(pki, pki.good, "good", "memory"),
        answered(pki, pki.revoked, "revoked", "upstream"),
        answered(pki, pki.unlisted, "unknown", "upstream"),
        answered(pki, pki.good2, "good", "upstream", digest="sha256"),
        refused(pki.other_ica, pki.other_leaf, "unknown_issuer"),
    ], since=started)
    assert records[2]["revocation_reason"] == "keyCompromise"
    assert responder.requests_served == 5  # four misses, and discovery for other_ica


@pytest.mark.parametrize("digest", ["sha1", "sha256"])
def test_hash_is_the_algorithm_name_in_lower_case(pki, responder, start_proxy, tmp_path, digest):
    log = tmp_path / "revocations.jsonl"
    proxy = start_proxy(responder.port, revocation_log=str(log))
    openssl_query(proxy.url, pki, pki.good, digest=digest, nonce=False)
    [record] = wait_for_revocation_records(log, 1)
    assert record["hash"] == digest


def test_forward_mode_answers_are_logged_as_forward(pki, responder, start_proxy, tmp_path):
    log = tmp_path / "revocations.jsonl"
    proxy = start_proxy(responder.port, revocation_log=str(log))
    started = datetime.datetime.now(datetime.timezone.utc)
    forwarded = openssl_query(f"http://{OCSP_FQDN}:{responder.port}/", pki, pki.revoked,
                              nonce=False, proxy=proxy.url)
    assert forwarded.status_of(pki.revoked) == "revoked", forwarded.output
    openssl_query(proxy.url, pki, pki.revoked, nonce=False)
    assert_lines(wait_for_revocation_records(log, 2), [
        answered(pki, pki.revoked, "revoked", "upstream", mode="forward"),
        answered(pki, pki.revoked, "revoked", "memory"),
    ], since=started)


def test_sighup_after_logrotate_moves_later_lines_to_a_new_file_and_report_reads_both(
        pki, responder, proxy_bin, start_proxy, tmp_path):
    log = tmp_path / "revocations.jsonl"
    proxy = start_proxy(responder.port, revocation_log=str(log))
    for leaf in (pki.revoked, pki.good, pki.revoked):
        openssl_query(proxy.url, pki, leaf, nonce=False)
    earlier = wait_for_revocation_records(log, 3)

    rotated = log.with_name(log.name + ".1")
    log.rename(rotated)  # what logrotate does before its postrotate SIGHUP
    proxy.sighup()
    proxy.wait_for_log("revocation_log_reopened", result="ok")
    assert log.read_text() == ""
    for leaf, issuer in ((pki.revoked, pki.ica), (pki.other_leaf, pki.other_ica)):
        openssl_query(proxy.url, pki, leaf, issuer=issuer, nonce=False)
    later = wait_for_revocation_records(log, 2)
    assert [r["status"] for r in later] == ["revoked", "error"], later
    assert revocation_records(rotated) == earlier

    report = subprocess.run([proxy_bin, "report", "--json", str(rotated), str(log)],
                            capture_output=True, text=True, timeout=10)
    assert report.returncode == 0, report.stderr
    summary = json.loads(report.stdout)
    totals = summary["totals"]
    assert (totals["lines"], totals["answers"], totals["malformed"]) == (5, 5, 0), totals
    assert (totals["first_time"], totals["last_time"]) == (earlier[0]["time"], later[1]["time"])
    assert summary["by_status"] == {"good": 1, "revoked": 3, "unknown": 0, "error": 1}

    ica = cert_id_of(pki.ica, pki.revoked)
    issuer = pki.subject_line(pki.ica)
    assert summary["revoked_serials"] == [{
        "serial": pki.revoked.serial.lower(), "answers": 3,
        "revocation_time": rfc3339(pki.revoked.revoked_at), "revocation_reason": "keyCompromise",
        "first_seen": earlier[0]["time"], "last_seen": later[0]["time"],
        "issuer_key_hash": ica.issuer_key_hash, "issuer": issuer,
        "distinct_clients": 1, "clients": ["127.0.0.1"]}]
    assert summary["clients_with_revoked"] == [{
        "client": "127.0.0.1", "revoked_answers": 3, "revoked_serials": 1,
        "last_seen": later[0]["time"]}]
    by_issuer = {row["issuer_key_hash"]: row for row in summary["by_issuer"]}
    assert by_issuer[ica.issuer_key_hash] == {
        "total": 4, "good": 1, "revoked": 3, "unknown": 0, "error": 0,
        "issuer_key_hash": ica.issuer_key_hash, "issuer": issuer}
    other = cert_id_of(pki.other_ica, pki.other_leaf).issuer_key_hash
    assert (by_issuer[other]["total"], by_issuer[other]["error"]) == (1, 1), by_issuer
    assert summary["issuer_revoked"] == []


def test_sigusr1_reopens_the_log_as_logrotate_asks_without_reloading_the_config(
        pki, responder, start_proxy, tmp_path):
    log = tmp_path / "revocations.jsonl"
    proxy = start_proxy(responder.port, revocation_log=str(log))
    openssl_query(proxy.url, pki, pki.good, nonce=False)
    earlier = wait_for_revocation_records(log, 1)
    rotated = log.with_name(log.name + ".1")
    log.rename(rotated)
    proxy.proc.send_signal(signal.SIGUSR1)  # what deploy/logrotate sends
    proxy.wait_for_log("revocation_log_reopened", result="ok")
    openssl_query(proxy.url, pki, pki.revoked, nonce=False)
    assert [r["status"] for r in wait_for_revocation_records(log, 1)] == ["revoked"]
    assert revocation_records(rotated) == earlier
    assert proxy.log_lines("config_reloaded") == [] and proxy.status()["config"]["generation"] == 1


def test_a_stdout_nobody_reads_costs_log_lines_never_answers(pki, responder, start_proxy):
    # stdout is a pipe the test never reads: it fills after a few hundred lines.
    proxy = start_proxy(responder.port, revocation_log="-", stdout=subprocess.PIPE,
                        limits={**LIMITS, "revocation_log_buffer": "64KiB"})
    der = make_request(pki.ica, pki.good)
    conn = http.client.HTTPConnection("127.0.0.1", proxy.ports["ocsp"], timeout=10)
    requests = 3000
    first = None
    for i in range(requests):
        conn.request("POST", "/", body=der, headers={"Content-Type": "application/ocsp-request"})
        answer = conn.getresponse()
        body = answer.read()
        assert answer.status == 200, (i, answer.status)
        if first is None:
            first = body
            assert parse_response(body).cert_status == "good"
        assert body == first, i  # the cached answer, every time
    conn.close()
    assert proxy.admin("healthz").status == 200
    metrics = proxy.metrics()
    dropped = value(metrics, "ocsp_proxy_revocation_log_dropped_total", reason="buffer_full")
    # 64 KiB of pipe and 64 KiB of buffer hold some hundreds of ~350-byte lines; the rest
    # were dropped.
    assert requests - 800 <= dropped <= requests, dropped
    assert value(metrics, "ocsp_proxy_requests_total", mode="responder", result="good") == requests
    line = proxy.wait_for_log("revocation_log_dropped")
    assert len(proxy.log_lines("revocation_log_dropped")) <= 2, line
    # SIGTERM: the writer cannot finish into the stalled pipe; the proxy still exits.
    assert proxy.terminate(timeout_s=20) == 0
    assert proxy.log_lines("revocation_log_unflushed"), proxy.log()[-3000:]
