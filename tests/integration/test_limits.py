"""Limits (docs/ARCHITECTURE.md §11): every limit gives a clear HTTP answer and a count in
ocsp_proxy_limit_rejections_total{limit}, and the proxy goes on serving everyone else."""
from __future__ import annotations

import http.client
import os
import re
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from ocsp_client import (MALFORMED_REQUEST, SUCCESSFUL, UNAUTHORIZED, curl, make_request,
                         parse_response)
from prom_text import value
from proxy import revocation_records, wait_for_revocation_records

LIMITS = {"max_request_bytes": "16KiB", "client_timeout": "5s", "upstream_timeout": "2s"}


def rejections(proxy, limit: str) -> float:
    return value(proxy.metrics(), "ocsp_proxy_limit_rejections_total", limit=limit)


def keep_alive_post(conn: http.client.HTTPConnection, der: bytes) -> http.client.HTTPResponse:
    conn.request("POST", "/", body=der, headers={"Content-Type": "application/ocsp-request"})
    answer = conn.getresponse()
    answer.body = answer.read()
    return answer


def read_until_closed(conn: socket.socket, timeout_s: float) -> bytes:
    """What `conn` receives until the proxy closes it (a reset counts as the close)."""
    conn.settimeout(timeout_s)
    data = b""
    try:
        while chunk := conn.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def answer_so_far(conn: socket.socket) -> bytes:
    """What `conn` has received by now: the proxy may still hold it open (a connection within
    the limits, waiting for its request)."""
    try:
        return read_until_closed(conn, 0.05)
    except TimeoutError:
        return b""


def trickle(conns: list[socket.socket], every_s: float, stop: threading.Event) -> threading.Thread:
    """Sends one more header byte on each of `conns` every `every_s`, as a slowloris client
    does: never idle, never done."""
    def run():
        while not stop.wait(every_s):
            for conn in conns:
                try:
                    conn.send(b"X")
                except OSError:
                    pass  # closed by the proxy
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_connection_over_max_connections_gets_503_at_once_when_none_can_make_room(
        pki, responder, start_relay, start_proxy):
    # The two connections of the limit wait for a slow upstream: being answered, neither may
    # be closed for a newcomer. One worker, so that they are all on one connection list.
    relay = start_relay("pass", responder.url)
    relay.delay_s = 1.5  # under LIMITS' upstream_timeout
    proxy = start_proxy(relay.port, limits={**LIMITS, "max_connections": 2}, workers=1)
    der = make_request(pki.ica, pki.good)
    held = [socket.create_connection(("127.0.0.1", proxy.ports["ocsp"]), timeout=10)
            for _ in range(2)]
    for conn in held:
        conn.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(der) + der)
    time.sleep(0.3)
    # The third gets its 503 before it has sent anything, and is closed.
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", proxy.ports["ocsp"]), timeout=10) as third:
        refused = read_until_closed(third, 5)
    assert time.monotonic() - started < 2
    head, _, body = refused.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503 "), refused
    assert b"Connection: close" in head and b"Retry-After: 1" in head
    assert b"limits.max_connections" in body
    assert rejections(proxy, "connections") == 1
    proxy.wait_for_log("limit_rejected", limit="connections")
    # The held connections get their answers; once they close, a new client gets in.
    for conn in held:
        answer = http.client.HTTPResponse(conn)
        answer.begin()
        assert answer.status == 200 and parse_response(answer.read()).response_status == SUCCESSFUL
        conn.close()
    time.sleep(0.2)
    late = http.client.HTTPConnection("127.0.0.1", proxy.ports["ocsp"], timeout=5)
    answer = keep_alive_post(late, der)
    assert answer.status == 200 and parse_response(answer.body).response_status == SUCCESSFUL
    late.close()


def test_slow_clients_holding_every_connection_do_not_keep_a_legitimate_client_out(
        pki, responder, start_proxy):
    proxy = start_proxy(responder.port, workers=1,
                        limits={**LIMITS, "max_connections": 10, "request_timeout": "4s"})
    der = make_request(pki.ica, pki.good)
    slow = [socket.create_connection(("127.0.0.1", proxy.ports["ocsp"]), timeout=10)
            for _ in range(10)]
    for conn in slow:
        conn.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    stop = threading.Event()
    trickle(slow, 0.5, stop)
    try:
        time.sleep(1.5)  # past the second a request may take before its slot can be taken
        started = time.monotonic()
        answer = curl("POST", proxy.url, der)
        assert answer.status == 200, answer
        assert parse_response(answer.body).response_status == SUCCESSFUL
        assert time.monotonic() - started < 3
        assert rejections(proxy, "evicted") == 1
        proxy.wait_for_log("limit_rejected", limit="evicted")
        # However steadily their bytes come, the others' heads are cut off at request_timeout.
        for conn in slow:
            got = read_until_closed(conn, 10)
            assert got == b"" or got.startswith(b"HTTP/1.1 408 "), got
        assert time.monotonic() - started < 4 + 4
        assert rejections(proxy, "request_timeout") + rejections(proxy, "evicted") == 10
    finally:
        stop.set()
        for conn in slow:
            conn.close()


def test_a_request_trickling_in_is_cut_off_at_request_timeout(pki, responder, start_proxy):
    proxy = start_proxy(responder.port,
                        limits={**LIMITS, "client_timeout": "5s", "request_timeout": "2s"})
    der = make_request(pki.ica, pki.good)
    in_head = socket.create_connection(("127.0.0.1", proxy.ports["ocsp"]), timeout=10)
    in_head.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    in_body = socket.create_connection(("127.0.0.1", proxy.ports["ocsp"]), timeout=10)
    in_body.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (len(der) + 1000)
                    + der)
    started = time.monotonic()
    stop = threading.Event()
    trickle([in_head, in_body], 0.3, stop)
    try:
        for conn in (in_head, in_body):
            got = read_until_closed(conn, 10)
            assert got.startswith(b"HTTP/1.1 408 ") and b"limits.request_timeout" in got, got
        # Bytes kept coming every 0.3 s: only the deadline (2 s) can have closed them.
        assert 1.5 < time.monotonic() - started < 2 + 3
        assert rejections(proxy, "request_timeout") == 2
        proxy.wait_for_log("limit_rejected", limit="request_timeout")
    finally:
        stop.set()
        in_head.close()
        in_body.close()
    assert curl("POST", proxy.url, der).status == 200


def test_a_new_request_timeout_applies_after_sighup(pki, responder, start_proxy):
    proxy = start_proxy(responder.port,
                        limits={**LIMITS, "client_timeout": "5s", "request_timeout": "30s"})
    text = proxy.config_path.read_text()
    assert "request_timeout: 30s" in text, text
    proxy.config_path.write_text(text.replace("request_timeout: 30s", "request_timeout: 2s"))
    proxy.sighup()
    proxy.wait_for_log("config_reloaded", generation="2")
    conn = socket.create_connection(("127.0.0.1", proxy.ports["ocsp"]), timeout=10)
    conn.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    started = time.monotonic()
    stop = threading.Event()
    trickle([conn], 0.3, stop)
    try:
        got = read_until_closed(conn, 10)
        assert got.startswith(b"HTTP/1.1 408 ") and b"(2000 ms)" in got, got
        assert time.monotonic() - started < 2 + 3
    finally:
        stop.set()
        conn.close()


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def proxy_at_128_open_files(pki, responder, start_proxy):
    """A proxy under a hard open-file limit of 128 (it cannot raise its way out), one worker,
    and a request it has answered once."""
    proxy = start_proxy(responder.port, nofile=128, workers=1)
    proxy.wait_for_log("open_file_limit", soft="128", hard="128")
    der = make_request(pki.ica, pki.good)
    assert curl("POST", proxy.url, der).status == 200
    return proxy, der


def assert_answers_again(proxy, der: bytes) -> None:
    """Once the clients have gone, a request is answered as before."""
    time.sleep(0.5)
    answer = curl("POST", proxy.url, der)
    assert answer.status == 200 and parse_response(answer.body).response_status == SUCCESSFUL


def test_at_the_open_file_limit_connections_are_refused_cheaply_and_admin_still_answers(
        pki, responder, start_proxy):
    proxy, der = proxy_at_128_open_files(pki, responder, start_proxy)
    cpu_before = cpu_seconds(proxy.pid)
    started = time.monotonic()
    conns = [socket.create_connection(("127.0.0.1", proxy.ports["ocsp"]), timeout=10)
             for _ in range(300)]
    try:
        time.sleep(2)
        # The admin listener has descriptors left, and the event loops are not spinning.
        assert proxy.admin("/healthz").status == 200
        assert cpu_seconds(proxy.pid) - cpu_before < 1.0
        # Each connection past the reserve was refused at once (503), or, on a machine slow
        # enough that opening them took over a second, made room by closing the oldest one
        # still without a request (408).
        assert rejections(proxy, "open_files") + rejections(proxy, "evicted") >= 100
        log = proxy.log()
        assert "Error from accept() call" not in log
        # At most 10 lines a second (a client can trigger them at will), not one per refused
        # connection.
        seconds = time.monotonic() - started
        assert len(proxy.log_lines("limit_rejected")) <= 10 * (int(seconds) + 2)
        refused = [conn for conn in conns
                   if answer_so_far(conn).startswith((b"HTTP/1.1 503", b"HTTP/1.1 408"))]
        assert len(refused) >= 100
    finally:
        for conn in conns:
            conn.close()
    assert_answers_again(proxy, der)


def test_evictions_at_the_open_file_limit_keep_the_descriptor_reserve(
        pki, responder, start_proxy):
    # Idle connections older than a second make room for new ones; the newcomer takes the
    # evicted one's descriptor, so the reserve above the ceiling (admin listener, upstream
    # fetches) stays free however long the clients keep coming.
    proxy, der = proxy_at_128_open_files(pki, responder, start_proxy)
    first = [socket.create_connection(("127.0.0.1", proxy.ports["ocsp"]), timeout=10)
             for _ in range(100)]
    later = []
    try:
        time.sleep(1.3)
        later = [socket.create_connection(("127.0.0.1", proxy.ports["ocsp"]), timeout=10)
                 for _ in range(150)]
        time.sleep(1)
        assert rejections(proxy, "evicted") >= 50
        assert "event=accept_paused" not in proxy.log()
        assert proxy.admin("/healthz").status == 200
        # Every connection is either held (within the ceiling of 128 - 16 descriptors) or was
        # answered 408/503: none is left unaccepted in the kernel's queue.
        answers = [answer_so_far(conn) for conn in first + later]
        held = [a for a in answers if a == b""]
        assert all(a.startswith((b"HTTP/1.1 503", b"HTTP/1.1 408")) for a in answers if a)
        assert 50 <= len(held) <= 112, len(held)
    finally:
        for conn in first + later:
            conn.close()
    assert_answers_again(proxy, der)


def test_more_header_fields_than_max_headers_get_431(pki, responder, start_proxy):
    proxy = start_proxy(responder.port, limits={**LIMITS, "max_headers": 10})
    der = make_request(pki.ica, pki.good)
    many = {f"X-Filler-{i}": "x" for i in range(12)}
    answer = curl("POST", proxy.url, der, headers=many)
    assert answer.status == 431 and b"limits.max_headers" in answer.body, answer
    assert rejections(proxy, "headers") == 1
    assert responder.requests_served == 0
    ok = curl("POST", proxy.url, der, headers={"X-Filler": "x"})
    assert ok.status == 200 and parse_response(ok.body).response_status == SUCCESSFUL


def test_a_client_over_rate_per_client_gets_429_with_retry_after_then_recovers(
        pki, responder, start_proxy):
    proxy = start_proxy(responder.port,
                        limits={**LIMITS, "rate_per_client": 5, "rate_burst": 5})
    der = make_request(pki.ica, pki.good)
    conn = http.client.HTTPConnection("127.0.0.1", proxy.ports["ocsp"], timeout=5)
    statuses = [keep_alive_post(conn, der).status for _ in range(8)]
    # The burst of 5 passes; the rest of the same second is refused (a token comes back every
    # 200 ms, so a slow machine may let one more through).
    assert statuses[:5] == [200] * 5 and statuses.count(429) >= 2, statuses
    assert rejections(proxy, "rate") == statuses.count(429)
    line = proxy.wait_for_log("limit_rejected", limit="rate")
    assert "limits.rate_per_client" in line
    time.sleep(1.1)
    assert keep_alive_post(conn, der).status == 200
    conn.close()


def test_a_429_answer_names_retry_after(pki, responder, start_proxy):
    proxy = start_proxy(responder.port, limits={**LIMITS, "rate_per_client": 1})
    der = make_request(pki.ica, pki.good)
    assert curl("POST", proxy.url, der).status == 200
    refused = curl("POST", proxy.url, der)
    assert refused.status == 429 and refused.headers.get("retry-after") == "1", refused


def test_an_upstream_answer_over_max_upstream_response_bytes_is_refused_and_counted(
        pki, responder, start_proxy):
    proxy = start_proxy(responder.port,
                        limits={**LIMITS, "max_upstream_response_bytes": "256"})
    answer = curl("POST", proxy.url, make_request(pki.ica, pki.good))
    # The real answer is over 1 KiB: not taken, so the client learns to try later.
    assert answer.status == 200
    assert parse_response(answer.body).response_status != SUCCESSFUL
    assert rejections(proxy, "upstream_response_bytes") >= 1
    proxy.wait_for_log("upstream_attempt_failed", reason="response")


def test_a_header_block_over_max_header_bytes_gets_431_however_far_over_it_is(
        pki, responder, start_proxy):
    proxy = start_proxy(responder.port, limits={**LIMITS, "max_header_bytes": "2KiB"})
    der = make_request(pki.ica, pki.good)
    over = curl("POST", proxy.url, der, headers={"X-Big": "x" * 3000})
    assert over.status == 431 and b"limits.max_header_bytes" in over.body, over
    assert rejections(proxy, "header_bytes") == 1
    # Far over it the answer is the same, and counted too: the proxy stops reading the head
    # once it is over the limit.
    far_over = curl("POST", proxy.url, der, headers={"X-Big": "x" * 50_000})
    assert far_over.status == 431 and b"limits.max_header_bytes" in far_over.body, far_over
    assert rejections(proxy, "header_bytes") == 2
    assert responder.requests_served == 0
    assert curl("POST", proxy.url, der).status == 200


def test_a_body_over_max_request_bytes_gets_413_and_is_counted(pki, responder, start_proxy):
    proxy = start_proxy(responder.port, limits={**LIMITS, "max_request_bytes": "1KiB"})
    answer = curl("POST", proxy.url, b"\x30" * 1500)
    assert answer.status == 413 and b"limits.max_request_bytes" in answer.body, answer
    assert rejections(proxy, "body") == 1
    assert curl("POST", proxy.url, make_request(pki.ica, pki.good)).status == 200


def request_with_serials(issuer, serials: range) -> bytes:
    """One OCSPRequest listing a CertID per serial under `issuer` (`openssl ocsp -reqout`)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "req.der"
        args = ["openssl", "ocsp", "-issuer", str(issuer.pem), "-no_nonce", "-reqout", str(out)]
        for serial in serials:
            args += ["-serial", str(serial)]
        proc = subprocess.run(args, capture_output=True, timeout=20)
        assert proc.returncode == 0, proc.stderr.decode()
        return out.read_bytes()


def test_a_request_over_max_cert_ids_is_malformed_and_makes_one_line(
        pki, responder, start_proxy, tmp_path):
    revocations = tmp_path / "revocations.jsonl"
    proxy = start_proxy(responder.port, revocation_log=str(revocations), limits=LIMITS)
    # 230 CertIDs of an unknown issuer fit in a 16 KiB body: one line for all of them.
    der = request_with_serials(pki.other_ica, range(1, 231))
    assert len(der) < 16 * 1024
    answer = curl("POST", proxy.url, der)
    assert answer.status == 200
    assert parse_response(answer.body).response_status == MALFORMED_REQUEST
    assert rejections(proxy, "cert_ids") == 1
    line = proxy.wait_for_log("limit_rejected", limit="cert_ids")
    assert "request lists 230 CertIDs (limits.max_cert_ids_per_request is 16)" in line, line
    assert proxy.log_lines("unknown_issuer") == []

    # At the limit: answered (unauthorized: unknown issuer), one warning for the request.
    answer = curl("POST", proxy.url, request_with_serials(pki.other_ica, range(1, 17)))
    assert parse_response(answer.body).response_status == UNAUTHORIZED
    line = proxy.wait_for_log("unknown_issuer", unknown_cert_ids="16", cert_ids="16")
    assert len(proxy.log_lines("unknown_issuer")) == 1, line
    assert len(wait_for_revocation_records(revocations, 16)) == 16
    time.sleep(1.2)  # the writer's next round: nothing more came
    assert len(revocation_records(revocations)) == 16


def test_a_flood_of_malformed_requests_logs_a_few_lines_and_how_many_were_held_back(
        pki, responder, start_proxy):
    proxy = start_proxy(responder.port, limits=LIMITS)
    conn = http.client.HTTPConnection("127.0.0.1", proxy.ports["ocsp"], timeout=5)
    flood = 300
    started = time.monotonic()
    for _ in range(flood):
        assert keep_alive_post(conn, b"not an OCSP request").status == 200
    seconds = time.monotonic() - started
    lines = proxy.log_lines("malformed_request")
    # At most 10 lines a second (the loop may span several seconds on a slow machine).
    assert 1 <= len(lines) <= 10 * (int(seconds) + 2), (len(lines), seconds)
    assert len(lines) < flood
    time.sleep(1.1)
    keep_alive_post(conn, b"still not one")
    conn.close()
    last = proxy.wait_for_log("malformed_request", suppressed=r"")
    held = sum(int(m) for m in re.findall(r" suppressed=(\d+)", "\n".join(
        proxy.log_lines("malformed_request"))))
    assert held + len(lines) == flood, (held, len(lines), last)
    assert value(proxy.metrics(), "ocsp_proxy_requests_total", mode="responder",
                 result="malformed_request") == flood + 1


def _der(tag: int, content: bytes) -> bytes:
    n = len(content)
    length = bytes([n]) if n < 0x80 else (lambda b: bytes([0x80 | len(b)]) + b)(
        n.to_bytes((n.bit_length() + 7) // 8, "big"))
    return bytes([tag]) + length + content


def _der_integer(n: int) -> bytes:
    """A positive INTEGER in its minimal DER form."""
    return _der(0x02, n.to_bytes(n.bit_length() // 8 + 1, "big"))


def large_ocsp_request(first_serial: int, cert_ids: int = 250) -> bytes:
    """A well-formed OCSP request (RFC 6960 §4.1.1) of about 16 KiB: `cert_ids` SHA-1 CertIDs
    of an unknown issuer, serials from `first_serial` on."""
    sha1 = _der(0x30, _der(0x06, bytes([0x2B, 0x0E, 0x03, 0x02, 0x1A])) + _der(0x05, b""))
    hashes = _der(0x04, b"\x11" * 20) + _der(0x04, b"\x22" * 20)
    requests = b"".join(
        _der(0x30, _der(0x30, sha1 + hashes + _der_integer(first_serial + i)))
        for i in range(cert_ids))
    return _der(0x30, _der(0x30, _der(0x30, requests)))


def test_many_distinct_large_requests_each_sent_twice_do_not_grow_memory(
        pki, responder, start_proxy):
    # The memo of decoded requests keeps a request from its second sighting on: a client
    # sending distinct ~16 KiB requests twice each must not make it hold them.
    proxy = start_proxy(responder.port, workers=1, limits=LIMITS)
    conn = http.client.HTTPConnection("127.0.0.1", proxy.ports["ocsp"], timeout=10)
    try:
        assert keep_alive_post(conn, large_ocsp_request(1)).status == 200
        rss_before_kib = proxy.memory_kib()
        for i in range(1, 1501):
            der = large_ocsp_request(i << 16)
            assert len(der) > 15_000
            for _ in range(2):
                assert keep_alive_post(conn, der).status == 200
    finally:
        conn.close()
    grown_mib = (proxy.memory_kib() - rss_before_kib) / 1024
    # Without a bound in bytes, the 1,500 requests stayed in the memo: ~140 MiB.
    assert grown_mib < 40, f"RSS grew by {grown_mib:.0f} MiB"
    memo_bytes = value(proxy.metrics(), "ocsp_proxy_cache_bytes", cache="request_memo")
    assert memo_bytes <= 16 << 20


def test_chunked_trailers_count_against_the_header_limits(pki, responder, start_proxy):
    proxy = start_proxy(responder.port, limits={**LIMITS, "max_header_bytes": "2KiB",
                                                "max_headers": 16})
    der = make_request(pki.ica, pki.good)
    chunked = (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n" + f"{len(der):x}\r\n".encode() + der +
               b"\r\n0\r\n")
    cases = {
        # Few fields, 3 KB of them after a valid body: over max_header_bytes.
        "header_bytes": b"".join(b"X-T%d: %s\r\n" % (i, b"t" * 1000) for i in range(3)),
        # Few bytes, many fields: over max_headers.
        "headers": b"".join(b"X-T%d: t\r\n" % i for i in range(20)),
    }
    for limit, trailers in cases.items():
        with socket.create_connection(("127.0.0.1", proxy.ports["ocsp"]), timeout=10) as conn:
            conn.sendall(chunked + trailers + b"\r\n")
            answer = http.client.HTTPResponse(conn)
            answer.begin()
            body = answer.read()
            assert answer.status == 431, (limit, answer.status, body)
            assert f"limits.max_{limit}".encode() in body and b"trailer" in body, body
        assert rejections(proxy, limit) == 1
    assert responder.requests_served == 0
    # Within the limits, trailers are accepted (and dropped) as before.
    with socket.create_connection(("127.0.0.1", proxy.ports["ocsp"]), timeout=10) as conn:
        conn.sendall(chunked + b"X-Checksum: 1\r\n\r\n")
        answer = http.client.HTTPResponse(conn)
        answer.begin()
        assert answer.status == 200
        assert parse_response(answer.read()).response_status == SUCCESSFUL


def test_a_huge_body_to_the_admin_listener_is_refused_without_being_buffered(proxy):
    before_kib = proxy.memory_kib()
    sent = 0
    with socket.create_connection(("127.0.0.1", proxy.ports["admin"]), timeout=10) as conn:
        conn.sendall(b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 268435456\r\n\r\n")
        chunk = b"x" * (1 << 20)
        try:
            while sent < 64 << 20:
                conn.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused and closed while sending: what we want
        conn.settimeout(5)
        try:
            answer = conn.recv(65536)
        except ConnectionResetError:
            answer = b""
        except TimeoutError:
            answer = b"(no answer: still reading the body)"
    # A 413 or a closed connection; never a 200 after taking the body in.
    assert answer == b"" or answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 64 << 20, "64 MiB of body taken in without a refusal"
    assert proxy.memory_kib() - before_kib < 16 * 1024
    assert proxy.admin("/healthz").status == 200
