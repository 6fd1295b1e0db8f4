"""Live operations: SIGHUP reloads the config without dropping the listener or the
requests in flight, and keeps the running config when the new one is invalid; SIGTERM stops
accepting, finishes what is in flight (up to limits.drain_timeout) and exits 0."""
from __future__ import annotations

import concurrent.futures
import socket
import threading
import time

import pytest

from prom_text import value
from ocsp_client import SUCCESSFUL, TRY_LATER, curl, make_request, parse_response
from pki import OCSP_FQDN
from servers import free_port, wait_until


def post(proxy, der: bytes):
    return curl("POST", proxy.url, der)


def status_of(answer) -> str | int:
    """The certStatus of a successful answer, else its OCSP responseStatus."""
    assert answer.status == 200, answer
    parsed = parse_response(answer.body)
    return parsed.cert_status if parsed.response_status == SUCCESSFUL else parsed.response_status


def rewrite_config(proxy, old: str, new: str) -> None:
    text = proxy.config_path.read_text()
    assert old in text, f"{old!r} not in {proxy.config_path}:\n{text}"
    proxy.config_path.write_text(text.replace(old, new))


def reload_and_wait(proxy, generation: int) -> None:
    proxy.sighup()
    proxy.wait_for_log("config_reloaded", generation=str(generation))


def test_sighup_applies_a_new_upstream_port_on_the_same_listener(pki, responder, start_proxy):
    dead = free_port()
    proxy = start_proxy(dead)
    der = make_request(pki.ica, pki.good)
    assert status_of(post(proxy, der)) == TRY_LATER  # nobody at `dead`
    ports = dict(proxy.ports)

    rewrite_config(proxy, f"port: {dead}", f"port: {responder.port}")
    reload_and_wait(proxy, 2)
    assert status_of(post(proxy, der)) == "good"
    assert responder.requests_served == 1
    status = proxy.status()["config"]
    assert (status["generation"], status["last_reload_error"]) == (2, None), status
    assert proxy.ports == ports and "listening" not in proxy.log().split("config_reloaded")[1]
    assert value(proxy.metrics(), "ocsp_proxy_config_reloads_total", result="ok") == 1


def test_after_a_reload_metrics_name_only_the_fqdns_of_the_running_config(
        pki, responder, start_proxy):
    proxy = start_proxy(responder.port, fqdns=[OCSP_FQDN, "ocsp-old.test.example"])
    before = proxy.metrics()
    assert value(before, "ocsp_proxy_circuit_open", fqdn="ocsp-old.test.example") == 0
    rewrite_config(proxy, "ocsp-old.test.example", "ocsp-new.test.example")
    reload_and_wait(proxy, 2)
    after = proxy.metrics()
    assert value(after, "ocsp_proxy_circuit_open", fqdn="ocsp-new.test.example") == 0
    assert value(after, "ocsp_proxy_circuit_open", fqdn=OCSP_FQDN) == 0
    # the removed FQDN is gone, not frozen at its last value
    assert [name for name, labels in after
            if dict(labels).get("fqdn") == "ocsp-old.test.example"] == []


def test_the_cache_survives_a_reload(pki, responder, proxy):
    der = make_request(pki.ica, pki.revoked)
    first = post(proxy, der)
    assert status_of(first) == "revoked"
    reload_and_wait(proxy, 2)
    again = post(proxy, der)
    assert again.body == first.body and responder.requests_served == 1


def test_an_invalid_config_on_sighup_is_refused_with_file_line_and_field_and_the_old_one_runs(
        pki, responder, proxy):
    der = make_request(pki.ica, pki.good)
    assert status_of(post(proxy, der)) == "good"
    good_text = proxy.config_path.read_text()
    rewrite_config(proxy, "client_timeout: 2s", "client_timeout: soon")
    line = next(i for i, text in enumerate(good_text.splitlines(), 1) if "client_timeout" in text)

    proxy.sighup()
    failed = proxy.wait_for_log("config_reload_failed")
    assert f"{proxy.config_path}:{line}:" in failed and "limits.client_timeout" in failed, failed
    assert "kept the running config" in failed
    # Still answering, on the config it had.
    assert status_of(post(proxy, make_request(pki.ica, pki.revoked))) == "revoked"
    status = proxy.status()["config"]
    assert status["generation"] == 1 and "limits.client_timeout" in status["last_reload_error"]
    assert value(proxy.metrics(), "ocsp_proxy_config_reloads_total", result="failed") == 1
    assert proxy.admin("readyz").status == 200

    proxy.config_path.write_text(good_text)
    reload_and_wait(proxy, 2)
    assert proxy.status()["config"]["last_reload_error"] is None


def test_fields_a_reload_cannot_change_are_named_and_keep_their_running_value(
        pki, responder, proxy):
    rewrite_config(proxy, "workers: 2", "workers: 3")
    reload_and_wait(proxy, 2)
    proxy.wait_for_log("config_restart_required", field="workers")
    status = proxy.status()
    assert status["ready"] is True
    der = make_request(pki.ica, pki.good)
    assert status_of(post(proxy, der)) == "good"


def test_clients_connecting_during_reloads_are_all_answered(pki, responder, proxy):
    der = make_request(pki.ica, pki.good)
    assert status_of(post(proxy, der)) == "good"
    stop = threading.Event()
    outcomes: list[str] = []

    def client():
        while not stop.is_set():
            try:
                # a new connection each time, so that every one meets the listener
                with socket.create_connection(("127.0.0.1", proxy.ports["ocsp"]), timeout=5) as s:
                    s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                              b"Content-Type: application/ocsp-request\r\n"
                              b"Content-Length: %d\r\n\r\n" % len(der) + der)
                    data = b""
                    while chunk := s.recv(65536):
                        data += chunk
                outcomes.append("ok" if data.startswith(b"HTTP/1.1 200") else repr(data[:80]))
            except OSError as e:
                outcomes.append(f"{type(e).__name__}: {e}")

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        clients = [pool.submit(client) for _ in range(4)]
        for generation in (2, 3, 4):
            time.sleep(0.3)
            reload_and_wait(proxy, generation)
        time.sleep(0.3)
        stop.set()
        for c in clients:
            c.result()
    failures = [o for o in outcomes if o != "ok"]
    assert len(outcomes) > 20 and failures == [], (len(outcomes), failures[:5])
    assert responder.requests_served == 1  # one cache across the generations
    proxy.wait_for_log("generation_retired")


@pytest.fixture
def slow_upstream(start_relay, responder):
    """A relay in front of the real responder that holds every answer back 1.5 s."""
    relay = start_relay("pass", f"http://127.0.0.1:{responder.port}/")
    relay.delay_s = 1.5
    return relay


def test_a_request_in_flight_during_a_reload_is_answered(pki, slow_upstream, start_proxy):
    proxy = start_proxy(slow_upstream.port)
    der = make_request(pki.ica, pki.revoked)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(post, proxy, der)
        wait_until(lambda: slow_upstream.requests == 1, 3, "the request to reach the upstream")
        reload_and_wait(proxy, 2)
        answer = pending.result(timeout=10)
    assert status_of(answer) == "revoked"
    # The old worker answered on its way out.
    assert answer.headers.get("connection") == "close"


def test_sigterm_finishes_requests_in_flight_refuses_new_connections_and_exits_0(
        pki, slow_upstream, start_proxy):
    proxy = start_proxy(slow_upstream.port)
    der = make_request(pki.ica, pki.revoked)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(post, proxy, der)
        wait_until(lambda: slow_upstream.requests == 1, 3, "the request to reach the upstream")
        proxy.proc.send_signal(15)
        proxy.wait_for_log("shutting_down", signal="TERM")
        time.sleep(0.2)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", proxy.ports["ocsp"]), timeout=2).close()
        ready = proxy.admin("readyz")  # the admin listener stays up while draining
        assert ready.status == 503 and b"shutting down" in ready.body, ready
        answer = pending.result(timeout=10)
    assert status_of(answer) == "revoked"
    assert proxy.proc.wait(timeout=5) == 0
    assert proxy.log_lines("drain_timeout") == [] and proxy.log_lines("stopped") != []


def test_sigterm_gives_up_on_a_request_after_drain_timeout_and_still_exits_0(
        pki, start_relay, start_proxy):
    silent = start_relay("silent")
    proxy = start_proxy(silent.port, limits={"max_request_bytes": "16KiB",
                                             "client_timeout": "20s",
                                             "upstream_timeout": "20s",
                                             "drain_timeout": "1s"})
    der = make_request(pki.ica, pki.good)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(lambda: socket.create_connection(("127.0.0.1", proxy.ports["ocsp"])).sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\n"
            b"Content-Length: %d\r\n\r\n" % len(der) + der))
        wait_until(lambda: silent.requests == 1, 3, "the request to reach the upstream")
        started = time.monotonic()
        proxy.proc.send_signal(15)
        assert proxy.proc.wait(timeout=6) == 0
    assert 0.9 <= time.monotonic() - started < 4
    proxy.wait_for_log("drain_timeout", in_flight="1")
