"""The cache snapshot in state_dir: without Redis, a proxy restarted while its CAs are down
still serves the answers and CRLs it held, byte for byte, until their nextUpdate and never
after; a proxy killed while writing the snapshot leaves the previous one (or none), never a
torn one."""
from __future__ import annotations

import array
import datetime
import fcntl
import os
import termios
from pathlib import Path

from faulty_upstream import SHORT_LIVED_S
from ocsp_client import SUCCESSFUL, TRY_LATER, curl, make_request, parse_response
from pki import AIA_FQDN, CRL_FQDN, ELSEWHERE_FQDN, OCSP_FQDN
from servers import free_port, wait_until

SNAPSHOT = "cache-snapshot.v1"
PIPE_BYTES = 4096  # the smallest pipe buffer Linux allows: one page


def post(proxy, der: bytes):
    return curl("POST", proxy.url, der)


def fetch(proxy, url: str):
    """GET `url` with the proxy as curl's HTTP proxy (a client downloading a CRL)."""
    return curl("GET", url, proxy=proxy.url)


def restartable(start_proxy, tmp_path: Path, upstream_port: int, **sections):
    """start() -> Proxy: the same config, and the same state_dir, at every start."""
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    names = (OCSP_FQDN, CRL_FQDN, AIA_FQDN, ELSEWHERE_FQDN)

    def start():
        return start_proxy(upstream_port, resolve={name: "127.0.0.1" for name in names},
                           state_dir=str(state), **sections)
    return start, state


def test_a_restart_while_the_cas_are_down_serves_what_was_held_until_its_next_update(
        pki, start_responder, start_faulty_upstream, static, start_proxy, tmp_path):
    responder = start_responder()  # answers good for a day
    upstream = start_faulty_upstream(free_port(), "pass", responder.url)
    now = datetime.datetime.now(datetime.timezone.utc)
    crl = pki.make_crl(pki.ica, revoked=[pki.revoked], days=7).read_bytes()
    short_crl = pki.make_crl(
        pki.ica, next_update=now + datetime.timedelta(seconds=SHORT_LIVED_S)).read_bytes()
    static.put("ica.crl", crl)
    static.put("short.crl", short_crl)
    crl_url = f"http://{CRL_FQDN}:{static.port}/ica.crl"
    short_crl_url = f"http://{CRL_FQDN}:{static.port}/short.crl"
    start, state = restartable(start_proxy, tmp_path, upstream.port,
                               crl={"fqdns": [f"{CRL_FQDN}:{static.port}"]})
    first = start()

    requests = {leaf.name: make_request(pki.ica, leaf) for leaf in (pki.good, pki.revoked)}
    held = {name: post(first, der).body for name, der in requests.items()}
    assert parse_response(held["revoked"]).cert_status == "revoked"
    upstream.set_mode("short_lived")
    short_request = make_request(pki.ica, pki.good2)
    short = post(first, short_request).body
    short_until = parse_response(short).next_update
    assert (fetch(first, crl_url).body, fetch(first, short_crl_url).body) == (crl, short_crl)

    assert first.terminate() == 0
    first.wait_for_log("snapshot_written", when="shutdown", result="written", answers="3",
                       documents="2")
    # The outage: neither the OCSP responder nor the CRL server answers any more.
    upstream.stop()
    responder.stop()
    static.stop()

    second = start()
    # Read back before the listeners served anything (the line comes before "listening").
    log = second.log()
    assert log.index("event=snapshot_loaded") < log.index("event=listening")
    second.wait_for_log("snapshot_loaded", answers="3", crls="2", dropped="0")
    for name, der in requests.items():
        assert post(second, der).body == held[name], name
    assert post(second, short_request).body == short
    assert fetch(second, crl_url).body == crl
    assert fetch(second, short_crl_url).body == short_crl
    status = second.status()["snapshot"]
    assert (status["load"]["result"], status["load"]["answers"]) == ("loaded", 3)
    second.proc.kill()  # a crash: the snapshot of the first run stays as it is
    second.proc.wait()

    # Restarted once the short-lived answer and CRL are past their nextUpdate: they are
    # dropped at load and never served (the CA is asked, and is down); the rest still is.
    wait_until(lambda: datetime.datetime.now(datetime.timezone.utc) >
               short_until + datetime.timedelta(seconds=1), SHORT_LIVED_S + 5,
               "the short-lived answer's nextUpdate")
    third = start()
    third.wait_for_log("snapshot_loaded", answers="2", crls="1", dropped="2", expired="2")
    assert parse_response(post(third, short_request).body).response_status == TRY_LATER
    assert fetch(third, short_crl_url).status != 200
    for name, der in requests.items():
        assert post(third, der).body == held[name], name
    assert fetch(third, crl_url).body == crl


def long_crl(pki, static) -> tuple[str, bytes]:
    """A CRL of 500 entries (some 20 KB) on the static server: (URL, bytes). Held by the
    proxy, it makes every snapshot several times a FIFO's size."""
    crl = pki.make_crl(pki.ica, revoked=[f"{0x300000 + i:06X}" for i in range(500)]).read_bytes()
    static.put("long.crl", crl)
    return f"http://{CRL_FQDN}:{static.port}/long.crl", crl


def test_a_kill_during_the_snapshot_write_leaves_the_previous_snapshot_never_a_torn_one(
        pki, responder, static, start_proxy, tmp_path):
    """The write is held between creating the temporary file and renaming it: the temporary
    file is a FIFO of one page, so the writer blocks in the middle of writing the snapshot.
    The proxy is killed there (kill -9), and what it had written is left behind as the torn
    temporary file a crash leaves."""
    start, state = restartable(start_proxy, tmp_path, responder.port,
                               cache={"snapshot_interval": "10s"},
                               crl={"fqdns": [f"{CRL_FQDN}:{static.port}"]})
    requests = [make_request(pki.ica, leaf) for leaf in (pki.good, pki.revoked)]
    url, crl = long_crl(pki, static)

    # A first run that leaves a good snapshot at SIGTERM.
    first = start()
    held = [post(first, der).body for der in requests]
    assert fetch(first, url).body == crl
    assert first.terminate() == 0
    previous = (state / SNAPSHOT).read_bytes()

    # The second run learns another answer; its periodic write is held and it is killed.
    second = start()
    second.wait_for_log("snapshot_loaded", answers="2", crls="1")
    assert parse_response(post(second, make_request(pki.ica, pki.good2)).body).response_status \
        == SUCCESSFUL
    assert len(previous) > 2 * PIPE_BYTES  # the next write cannot fit the FIFO
    kill_during_write(second, state)
    assert (state / SNAPSHOT).read_bytes() == previous

    # The next start reads the previous snapshot, whole and valid; the torn file is ignored.
    third = start()
    third.wait_for_log("snapshot_loaded", answers="2", crls="1", dropped="0")
    assert third.log_lines("snapshot_invalid") == []
    responder.stop()
    static.stop()
    assert [post(third, der).body for der in requests] == held
    assert fetch(third, url).body == crl


def test_a_kill_during_the_first_snapshot_write_leaves_none(pki, responder, static, start_proxy,
                                                            tmp_path):
    start, state = restartable(start_proxy, tmp_path, responder.port,
                               cache={"snapshot_interval": "10s"},
                               crl={"fqdns": [f"{CRL_FQDN}:{static.port}"]})
    url, crl = long_crl(pki, static)
    first = start()
    der = make_request(pki.ica, pki.good)
    assert parse_response(post(first, der).body).response_status == SUCCESSFUL
    assert fetch(first, url).body == crl
    kill_during_write(first, state)
    assert not (state / SNAPSHOT).exists()

    second = start()
    assert second.log_lines("snapshot_loaded") == []
    assert second.log_lines("snapshot_invalid") == []
    assert second.status()["snapshot"]["load"]["result"] == "none"
    responder.stop()
    static.stop()
    # Nothing held: the CA is asked, and it is down.
    assert parse_response(post(second, der).body).response_status == TRY_LATER
    assert fetch(second, url).status != 200


def kill_during_write(proxy, state: Path) -> None:
    """Holds the proxy's next periodic snapshot write in its temporary file (a FIFO of
    PIPE_BYTES), kills the proxy (kill -9) while the writer waits for room in it, and leaves
    what had been written as a regular, torn temporary file."""
    torn = state / f"{SNAPSHOT}.tmp"
    os.mkfifo(torn)
    # Open for reading (never read until the kill): the writer's open() goes through, and
    # its write() blocks once the pipe is full.
    fd = os.open(torn, os.O_RDONLY | os.O_NONBLOCK)
    try:
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)

        def pipe_full() -> bool:
            pending = array.array("i", [0])
            fcntl.ioctl(fd, termios.FIONREAD, pending)
            return pending[0] >= PIPE_BYTES
        # The first periodic write comes snapshot_interval (10 s) after the start.
        wait_until(pipe_full, 20, "the periodic snapshot write to fill the FIFO")
        proxy.proc.kill()
        proxy.proc.wait()
        part = os.read(fd, PIPE_BYTES)
    finally:
        os.close(fd)
    os.unlink(torn)
    torn.write_bytes(part)
