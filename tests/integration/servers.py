"""Real peers for the proxy: an `openssl ocsp` responder, a small HTTP relay in front of it
that can spoil answers, a static file server (a CA's CRL and AIA host) and redis-server.
All listen inside run.sh's private network namespace."""
from __future__ import annotations

import http.server
import os
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

from pki import Cert, Pki

START_TIMEOUT_S = 10


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on. Inside the namespace nobody else races for it."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout_s: float, what: str, step_s: float = 0.02):
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(step_s)


def _serve(handler, host: str, port: int):
    """A threading HTTP server for `handler` on host:port (0 = free), serving in a thread."""
    server = http.server.ThreadingHTTPServer((host, port), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    return server, thread


def tail(path: Path, lines: int = 60) -> str:
    if not path.exists():
        return f"({path} does not exist)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


class OcspResponder:
    """`openssl ocsp` as the upstream responder for one CA: the test issuing CA and its
    database by default, or `ca` with the database `index`.

    It binds *:port, which is why the whole run lives in a network namespace. It serves one
    connection at a time and answers HTTP/1.0 with Connection: close. Readiness is taken from
    its "waiting for OCSP client connections" line, not from a probe connection: a client
    that connects and closes without a request leaves this responder stuck for good.
    """

    def __init__(self, pki: Pki, workdir: Path, signer: Cert | None = None,
                 next_update: tuple[str, int] | None = ("-ndays", 1), ca: Cert | None = None,
                 index: Path | None = None, port: int | None = None):
        self.pki = pki
        self.signer = signer or pki.resp
        self.ca = ca or pki.ica
        self.port = port or free_port()  # a given port: e.g. a restart where one was killed
        self.out_path = workdir / f"responder-{self.port}.out"  # -text dumps of each exchange
        self.err_path = workdir / f"responder-{self.port}.err"  # one line per request
        args = ["openssl", "ocsp", "-index", str(index or pki.index), "-port", str(self.port),
                "-rsigner", str(self.signer.pem), "-rkey", str(self.signer.key),
                "-CA", str(self.ca.pem), "-text", "-ignore_err"]
        if next_update:
            args += [next_update[0], str(next_update[1])]
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(args, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        wait_until(self._ready, START_TIMEOUT_S, f"openssl ocsp responder on port {self.port}")

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"openssl ocsp responder exited:\n{tail(self.err_path)}")
        return "waiting for OCSP client connections" in self.err_path.read_text(errors="replace")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def requests_served(self) -> int:
        """How many HTTP requests reached this responder. Counted from the unbuffered
        "Received request" line it prints on stderr as it reads a request; its -text dump
        on stdout ("OCSP Request Data:") is flushed only after the answer has gone out, so
        a count taken from it would lag behind what the client has already seen."""
        return self.err_path.read_text(errors="replace").count("ocsp: Received request")

    def log_tail(self) -> str:
        return f"{tail(self.err_path)}\n({self.requests_served} requests served)"

    def kill(self) -> None:
        """kill -9, as a crash would end it."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _der_children(buf: bytes, start: int, end: int):
    """(tag, content_start, content_end) of each DER element in buf[start:end]."""
    pos = start
    while pos < end:
        tag, length = buf[pos], buf[pos + 1]
        pos += 2
        if length & 0x80:
            n = length & 0x7F
            length = int.from_bytes(buf[pos:pos + n], "big")
            pos += n
        yield tag, pos, pos + length
        pos += length


def flip_signature_byte(ocsp_response: bytes) -> bytes:
    """Flips the last byte of the BasicOCSPResponse signature; the DER stays well-formed.

    OCSPResponse ::= SEQUENCE { responseStatus, [0] EXPLICIT ResponseBytes }
    ResponseBytes ::= SEQUENCE { responseType OID, response OCTET STRING }
    BasicOCSPResponse ::= SEQUENCE { tbsResponseData, signatureAlgorithm, signature BIT STRING, ...}
    """
    (_, top_start, top_end), = _der_children(ocsp_response, 0, len(ocsp_response))
    _, (_, rb_start, rb_end) = _der_children(ocsp_response, top_start, top_end)
    (_, seq_start, seq_end), = _der_children(ocsp_response, rb_start, rb_end)
    _, (_, octets_start, octets_end) = _der_children(ocsp_response, seq_start, seq_end)
    (_, basic_start, basic_end), = _der_children(ocsp_response, octets_start, octets_end)
    _, _, (tag, _, sig_end), *_ = _der_children(ocsp_response, basic_start, basic_end)
    assert tag == 0x03, "BasicOCSPResponse signature is not a BIT STRING"
    spoiled = bytearray(ocsp_response)
    spoiled[sig_end - 1] ^= 0x01
    return bytes(spoiled)


def flip_crl_signature_byte(crl: bytes) -> bytes:
    """Flips the last byte of a CRL's signature; the DER stays well-formed.

    CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue BIT STRING }
    """
    (_, top_start, top_end), = _der_children(crl, 0, len(crl))
    _, _, (tag, _, sig_end) = _der_children(crl, top_start, top_end)
    assert tag == 0x03 and sig_end == len(crl), "CRL signature is not a final BIT STRING"
    spoiled = bytearray(crl)
    spoiled[sig_end - 1] ^= 0x01
    return bytes(spoiled)


def send_ocsp_response(handler: http.server.BaseHTTPRequestHandler, body: bytes) -> None:
    """HTTP 200 application/ocsp-response with `body`, from a test upstream's handler."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/ocsp-response")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


class Relay:
    """An HTTP upstream on one loopback address that forwards to the real responder and
    answers according to `mode`:
      pass            the responder's answer unchanged
      flip_signature  the responder's answer with one signature byte flipped
      garbage         200 application/ocsp-response with a body that is not DER
      unavailable     503, without asking the responder
      silent          reads the request and answers nothing until stopped
    """

    MODES = ("pass", "flip_signature", "garbage", "unavailable", "silent")

    def __init__(self, mode: str, target_url: str | None = None, host: str = "127.0.0.1",
                 port: int = 0):
        assert mode in self.MODES, mode
        self.mode, self.target_url, self.requests = mode, target_url, 0
        self.times: list[float] = []  # time.monotonic() of each request, in order
        self.delay_s = 0.0  # set to hold every answer back this long (slow upstream)
        self.answers: list[bytes] = []  # bodies sent back, in order
        self.stopping = threading.Event()
        relay = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self._answer(lambda: urllib.request.Request(
                    relay.target_url, data=body,
                    headers={"Content-Type": "application/ocsp-request"}))

            def do_GET(self):  # noqa: N802
                self._answer(lambda: urllib.request.Request(
                    relay.target_url.rstrip("/") + self.path))

            def _answer(self, upstream_request):
                relay.requests += 1
                relay.times.append(time.monotonic())
                if relay.delay_s:
                    time.sleep(relay.delay_s)
                if relay.mode == "silent":
                    relay.stopping.wait(timeout=30)
                    return
                if relay.mode == "unavailable":
                    self.send_error(503)
                    return
                if relay.mode == "garbage":
                    body = b"this is not an OCSP response"
                else:
                    with urllib.request.urlopen(upstream_request(), timeout=5) as answer:
                        body = answer.read()
                    if relay.mode == "flip_signature":
                        body = flip_signature_byte(body)
                relay.answers.append(body)
                send_ocsp_response(self, body)

            def log_message(self, *args):
                pass

        self.server, self.thread = _serve(Handler, host, port)
        self.host, self.port = self.server.server_address[:2]

    def log_tail(self) -> str:
        return f"relay {self.mode} on {self.host}:{self.port}: {self.requests} requests"

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()


class StaticServer:
    """The files of `directory` over HTTP/1.1 with keep-alive, as a CA's CRL or AIA host
    serves them: 200 with the exact bytes and Content-Length, or 404. It counts requests
    per path and keeps (method, target, headers) of each in `log`; `put` replaces a file's
    bytes between requests. With `delay_s`, each answer waits that long first (a slow CA),
    and `most_in_flight` is the largest number of requests it was answering at once."""

    CONTENT_TYPES = {".crl": "application/pkix-crl", ".der": "application/pkix-cert",
                     ".html": "text/html; charset=utf-8"}

    def __init__(self, directory: Path, port: int = 0, host: str = "127.0.0.1"):
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log: list[tuple[str, str, dict[str, str]]] = []
        self.lock = threading.Lock()
        self.delay_s = 0.0
        self.in_flight = 0
        self.most_in_flight = 0
        static = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive unless the client says otherwise
            timeout = 10  # an idle kept-alive connection is dropped after this

            def do_GET(self):  # noqa: N802 (http.server naming)
                self._serve(send_body=True)

            def do_HEAD(self):  # noqa: N802
                self._serve(send_body=False)

            def _serve(self, send_body: bool):
                with static.lock:
                    static.log.append((self.command, self.path, dict(self.headers.items())))
                    static.in_flight += 1
                    static.most_in_flight = max(static.most_in_flight, static.in_flight)
                try:
                    if static.delay_s:
                        time.sleep(static.delay_s)
                    self._answer(send_body)
                finally:
                    with static.lock:
                        static.in_flight -= 1

            def _answer(self, send_body: bool):
                path = urllib.parse.urlsplit(self.path).path
                body = static.read(path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", static.CONTENT_TYPES.get(
                    Path(path).suffix, "application/octet-stream"))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if send_body:
                    self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server, self.thread = _serve(Handler, host, port)
        self.host, self.port = self.server.server_address[:2]

    def _file(self, name: str) -> Path | None:
        """The file for /name: directly in the directory, no subdirectories."""
        name = name.lstrip("/")
        path = self.dir / name
        return path if name and path.resolve().parent == self.dir.resolve() else None

    def put(self, name: str, body: bytes) -> None:
        """Serves `body` at /name from the next request on (replaced atomically)."""
        path = self._file(name)
        assert path, f"{name!r} is not a file name in {self.dir}"
        staging = path.with_name(f".{path.name}.new")
        staging.write_bytes(body)
        os.replace(staging, path)

    def read(self, path: str) -> bytes | None:
        file = self._file(path)
        return file.read_bytes() if file and file.is_file() else None

    def requests(self, path: str) -> int:
        """How many requests (of any method) asked for `path` ("/ica.crl")."""
        with self.lock:
            return sum(urllib.parse.urlsplit(target).path == path for _, target, _ in self.log)

    @property
    def total(self) -> int:
        with self.lock:
            return len(self.log)

    def log_tail(self) -> str:
        with self.lock:
            count = len(self.log)
            lines = [f"{method} {target}" for method, target, _ in self.log[-20:]]
        return "\n".join([f"static server {self.host}:{self.port} ({self.dir}): "
                          f"{count} requests", *lines])

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class RedisServer:
    def __init__(self, workdir: Path, port: int | None = None):
        self.port = port or free_port()
        self.workdir = workdir
        self.log_path = workdir / f"redis-{self.port}.log"
        self.start()

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir), "--logfile", str(self.log_path)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        wait_until(lambda: self.cli("PING") == "PONG", 10, "redis-server")

    def cli(self, *args: str) -> str:
        proc = subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True,
                              text=True, timeout=5)
        return proc.stdout.strip()

    def keys(self) -> list[str]:
        return [k for k in self.cli("--scan").splitlines() if k]

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.kill()

    def log_tail(self) -> str:
        return tail(self.log_path)
