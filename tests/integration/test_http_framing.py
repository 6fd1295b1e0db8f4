"""HTTP/1.1 framing of the OCSP listener (http/http_server.h): keep-alive,
pipelining, chunked and 100-continue bodies, HTTP/1.0, forward-proxy keep-alive, and the
requests it must refuse. Real clients where they can send it (curl, http.client); a raw socket
where no well-behaved client would."""
from __future__ import annotations

import http.client
import socket
import subprocess
import time

from ocsp_client import SUCCESSFUL, curl, make_request, parse_response
from pki import OCSP_FQDN
from prom_text import value


def read_answer(conn: socket.socket, buffered: bytes = b"") -> tuple[int, dict[str, str], bytes, bytes]:
    """One answer from `conn`: status, headers (lower-case names), body, and the bytes after
    it (the start of the next answer)."""
    data = buffered
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        assert chunk, f"closed before an answer head: {data!r}"
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = conn.recv(65536)
        assert chunk, "closed inside a body"
        rest += chunk
    return status, headers, rest[:length], rest[length:]


def closed_by_peer(conn: socket.socket, timeout_s: float = 5) -> bool:
    conn.settimeout(timeout_s)
    try:
        return conn.recv(1) == b""
    except ConnectionResetError:
        return True


def post_head(der: bytes, extra: str = "") -> bytes:
    return (f"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\n"
            f"Content-Length: {len(der)}\r\n{extra}\r\n").encode()


def test_pipelined_requests_on_one_connection_are_answered_in_order(pki, proxy):
    good, revoked = make_request(pki.ica, pki.good), make_request(pki.ica, pki.revoked)
    with socket.create_connection(("127.0.0.1", proxy.ports["ocsp"]), timeout=10) as conn:
        # Three requests in one write: a miss, another miss, and a hit of the first.
        conn.sendall(post_head(good) + good + post_head(revoked) + revoked + post_head(good) + good)
        rest = b""
        statuses = []
        for _ in range(3):
            status, headers, body, rest = read_answer(conn, rest)
            assert status == 200 and headers["content-type"] == "application/ocsp-response"
            statuses.append(parse_response(body).cert_status)
        assert statuses == ["good", "revoked", "good"]
        # Still open for a fourth.
        conn.sendall(post_head(revoked) + revoked)
        status, _, body, _ = read_answer(conn)
        assert parse_response(body).cert_status == "revoked"


def test_a_chunked_post_and_a_100_continue_post_are_answered(pki, proxy):
    der = make_request(pki.ica, pki.good)
    # curl sends a body of unknown length chunked, and waits for 100 Continue when asked to.
    for extra in (["-H", "Transfer-Encoding: chunked"], ["-H", "Expect: 100-continue"]):
        proc = subprocess.run(
            ["curl", "-sS", "--noproxy", "*", "-m", "10", "-o", "-", "-w", "\n%{http_code}",
             "--data-binary", "@-", "-H", "Content-Type: application/ocsp-request", *extra,
             proxy.url], input=der, capture_output=True, check=True)
        body, _, code = proc.stdout.rpartition(b"\n")
        assert code == b"200", (extra, proc.stderr)
        parsed = parse_response(body)
        assert parsed.response_status == SUCCESSFUL and parsed.cert_status == "good", extra


def test_http_1_0_closes_unless_keep_alive_is_asked_for(pki, proxy):
    der = make_request(pki.ica, pki.good)
    head = (f"POST / HTTP/1.0\r\nContent-Length: {len(der)}\r\n"
            "Content-Type: application/ocsp-request\r\n").encode()
    with socket.create_connection(("127.0.0.1", proxy.ports["ocsp"]), timeout=10) as conn:
        conn.sendall(head + b"\r\n" + der)
        status, headers, body, _ = read_answer(conn)
        assert status == 200 and parse_response(body).cert_status == "good"
        assert closed_by_peer(conn)
    with socket.create_connection(("127.0.0.1", proxy.ports["ocsp"]), timeout=10) as conn:
        for _ in range(2):
            conn.sendall(head + b"Connection: keep-alive\r\n\r\n" + der)
            status, headers, body, _ = read_answer(conn)
            assert status == 200 and headers.get("connection", "").lower() == "keep-alive"


def test_requests_that_could_be_framed_two_ways_get_400_and_reach_no_upstream(
        pki, responder, proxy):
    der = make_request(pki.ica, pki.good)
    cases = {
        "CL and TE": post_head(der, "Transfer-Encoding: chunked\r\n") + der,
        "two lengths": post_head(der, "Content-Length: 3\r\n") + der,
        "folded header": b"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n",
        "space before colon": b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
    }
    for name, request in cases.items():
        with socket.create_connection(("127.0.0.1", proxy.ports["ocsp"]), timeout=10) as conn:
            conn.sendall(request)
            status, headers, body, _ = read_answer(conn)
            assert status == 400 and headers.get("connection") == "close", (name, status, body)
            assert closed_by_peer(conn), name
    with socket.create_connection(("127.0.0.1", proxy.ports["ocsp"]), timeout=10) as conn:
        conn.sendall(b"GET / HTTP/2.0\r\n\r\n")
        assert read_answer(conn)[0] == 505
    with socket.create_connection(("127.0.0.1", proxy.ports["ocsp"]), timeout=10) as conn:
        conn.sendall(post_head(der, "Transfer-Encoding: gzip\r\n"))
        assert read_answer(conn)[0] in (400, 501)
    assert responder.requests_served == 0
    proxy.wait_for_log("bad_http_request", status="400")
    # The proxy still serves.
    assert curl("POST", proxy.url, der).status == 200


def test_a_body_far_over_the_limit_gets_a_readable_413_before_the_close(pki, responder, start_proxy):
    proxy = start_proxy(responder.port, limits={"max_request_bytes": "1KiB"})
    with socket.create_connection(("127.0.0.1", proxy.ports["ocsp"]), timeout=10) as conn:
        # The head announces 1 MiB, and the client starts sending it: the answer must arrive
        # whole, not be lost in a connection reset.
        conn.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n" +
                     b"\x30" * 200_000)
        status, headers, body, _ = read_answer(conn)
        assert status == 413 and b"limits.max_request_bytes" in body
        assert headers.get("connection") == "close"
    assert value(proxy.metrics(), "ocsp_proxy_limit_rejections_total", limit="body") == 1


def test_an_idle_or_half_sent_request_is_dropped_after_client_timeout(pki, responder, start_proxy):
    proxy = start_proxy(responder.port, limits={"client_timeout": "1s"})
    with socket.create_connection(("127.0.0.1", proxy.ports["ocsp"]), timeout=10) as idle, \
            socket.create_connection(("127.0.0.1", proxy.ports["ocsp"]), timeout=10) as partial:
        partial.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Len")
        started = time.monotonic()
        assert closed_by_peer(idle) and closed_by_peer(partial)
        assert time.monotonic() - started < 5
    # A client that keeps its connection busy is not dropped.
    der = make_request(pki.ica, pki.good)
    conn = http.client.HTTPConnection("127.0.0.1", proxy.ports["ocsp"], timeout=10)
    for _ in range(4):
        conn.request("POST", "/", body=der, headers={"Content-Type": "application/ocsp-request"})
        assert conn.getresponse().read()
        time.sleep(0.5)
    conn.close()


def test_a_client_gone_before_its_answer_leaves_the_proxy_serving(pki, start_relay, responder,
                                                                  start_proxy):
    # A slow upstream: the client gives up while the proxy is still asking it.
    relay = start_relay("pass", responder.url)
    relay.delay_s = 1.0
    proxy = start_proxy(relay.port)
    der = make_request(pki.ica, pki.good)
    for _ in range(5):
        conn = socket.create_connection(("127.0.0.1", proxy.ports["ocsp"]), timeout=10)
        conn.sendall(post_head(der) + der)
        conn.close()
    relay.delay_s = 0
    answer = curl("POST", proxy.url, der)
    assert answer.status == 200 and parse_response(answer.body).cert_status == "good"
    assert proxy.proc.poll() is None


def test_a_client_that_half_closes_after_its_request_still_gets_the_answer(
        pki, start_relay, responder, start_proxy):
    # RFC 9112 §9.6: the client shuts its sending side once the request is sent. The CertID
    # is not cached, so the answer waits for a (slowed) upstream while the proxy reads the
    # end of the client's stream.
    relay = start_relay("pass", responder.url)
    relay.delay_s = 0.5
    proxy = start_proxy(relay.port)
    der = make_request(pki.ica, pki.good)
    with socket.create_connection(("127.0.0.1", proxy.ports["ocsp"]), timeout=10) as conn:
        conn.sendall(post_head(der) + der)
        conn.shutdown(socket.SHUT_WR)
        status, headers, body, rest = read_answer(conn)
        parsed = parse_response(body)
        assert status == 200 and parsed.response_status == SUCCESSFUL, (status, body)
        assert parsed.cert_status == "good" and rest == b""
        assert headers.get("connection") == "close"
        assert closed_by_peer(conn)


def test_forward_proxy_clients_keep_their_connection(pki, responder, start_forward_proxy):
    proxy = start_forward_proxy(responder.port)
    der = make_request(pki.ica, pki.good)
    conn = http.client.HTTPConnection("127.0.0.1", proxy.ports["ocsp"], timeout=10)
    for _ in range(3):
        conn.request("POST", f"http://{OCSP_FQDN}:{responder.port}/", body=der,
                     headers={"Content-Type": "application/ocsp-request"})
        answer = conn.getresponse()
        assert answer.status == 200 and answer.getheader("Connection") is None
        assert parse_response(answer.read()).cert_status == "good"
    first_socket = conn.sock
    conn.request("GET", f"http://{OCSP_FQDN}:{responder.port}/")
    conn.getresponse().read()
    assert conn.sock is first_socket  # the same TCP connection all along
    conn.close()
