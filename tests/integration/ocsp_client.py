"""Real clients: `openssl ocsp` (request building, querying, response parsing), curl, and a
raw socket for the requests neither will send. `proxy=` makes the first two use ocsp-proxy
as their HTTP proxy (forward mode) instead of talking to `url` directly."""
from __future__ import annotations

import dataclasses
import datetime
import os
import re
import socket
import subprocess
import tempfile
from pathlib import Path

from pki import Cert, Pki

# RFC 6960 §4.2.1 OCSPResponseStatus
SUCCESSFUL = 0
MALFORMED_REQUEST = 1
INTERNAL_ERROR = 2
TRY_LATER = 3
SIG_REQUIRED = 5
UNAUTHORIZED = 6

CLIENT_TIMEOUT_S = 20


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, timeout=CLIENT_TIMEOUT_S, **kwargs)


def _cert_args(issuer: Cert, leaf: Cert, digest: str) -> list[str]:
    # The digest flag must come before -cert: openssl builds the CertID when it reads -cert.
    return ["-issuer", str(issuer.pem), f"-{digest}", "-cert", str(leaf.pem)]


def make_request(issuer: Cert, leaf: Cert, digest: str = "sha1", nonce: bool = False) -> bytes:
    """DER OCSPRequest for one CertID, built by `openssl ocsp -reqout`."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "req.der"
        proc = _run(["openssl", "ocsp", *_cert_args(issuer, leaf, digest),
                     "-nonce" if nonce else "-no_nonce", "-reqout", str(out)])
        assert proc.returncode == 0, proc.stderr.decode()
        return out.read_bytes()


@dataclasses.dataclass(frozen=True)
class CertId:
    hash: str             # "sha1", "sha256"
    issuer_key_hash: str  # lower-case hex
    serial: str           # lower-case hex


def cert_id_of(issuer: Cert, leaf: Cert, digest: str = "sha1") -> CertId:
    """The CertID `openssl ocsp` builds for `leaf`, read back from its -req_text dump."""
    proc = _run(["openssl", "ocsp", *_cert_args(issuer, leaf, digest), "-no_nonce",
                 "-req_text", "-reqout", os.devnull])
    text = proc.stdout.decode(errors="replace")
    assert proc.returncode == 0, proc.stderr.decode()

    def field(name: str) -> str:
        m = re.search(rf"^\s*{name}: (\S+)$", text, re.M)
        assert m, f"no {name} in:\n{text}"
        return m.group(1)
    return CertId(field("Hash Algorithm"), field("Issuer Key Hash").lower(),
                  field("Serial Number").lower())


@dataclasses.dataclass
class QueryResult:
    returncode: int
    output: str          # stdout and stderr together, as a person at a terminal sees them
    response: bytes      # the raw answer (-respout); empty if none was received

    @property
    def verified(self) -> bool:
        return "Response verify OK" in self.output

    def status_of(self, leaf: Cert) -> str | None:
        """The cert status openssl printed for `leaf` ("good", "revoked", "unknown")."""
        m = re.search(rf"^{re.escape(str(leaf.pem))}: (\w+)$", self.output, re.M)
        return m.group(1) if m else None


def openssl_query(url: str, pki: Pki, leaf: Cert, issuer: Cert | None = None,
                  digest: str = "sha1", nonce: bool = True,
                  proxy: str | None = None, host: str | None = None) -> QueryResult:
    """`openssl ocsp -url URL` as an admin would run it, verifying against the test root;
    with `proxy` ("http://host:port/") through that HTTP proxy (`openssl ocsp -proxy`); with
    `host`, that Host header instead of the URL's (`-header Host=...`)."""
    issuer = issuer or pki.ica
    with tempfile.TemporaryDirectory() as tmp:
        respout = Path(tmp) / "resp.der"
        proc = _run(["openssl", "ocsp", "-url", url, "-timeout", str(CLIENT_TIMEOUT_S - 5),
                     *(["-proxy", proxy] if proxy else []),
                     *(["-header", f"Host={host}"] if host else []),
                     *_cert_args(issuer, leaf, digest), "-CAfile", str(pki.root.pem),
                     "-nonce" if nonce else "-no_nonce", "-respout", str(respout)])
        response = respout.read_bytes() if respout.exists() else b""
    output = proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")
    return QueryResult(proc.returncode, output, response)


@dataclasses.dataclass
class ParsedResponse:
    response_status: int
    text: str
    cert_status: str | None = None
    hash_algorithm: str | None = None
    serial: str | None = None
    reason: str | None = None
    this_update: datetime.datetime | None = None
    next_update: datetime.datetime | None = None


def _openssl_time(s: str) -> datetime.datetime:
    # "Nov 23 11:13:55 2026 GMT" (day may be space-padded)
    t = datetime.datetime.strptime(" ".join(s.split()), "%b %d %H:%M:%S %Y GMT")
    return t.replace(tzinfo=datetime.timezone.utc)


def parse_response(der: bytes) -> ParsedResponse:
    """Decodes an OCSPResponse with `openssl ocsp -respin -resp_text -noverify` (one CertID)."""
    with tempfile.NamedTemporaryFile(suffix=".der") as f:
        f.write(der)
        f.flush()
        proc = _run(["openssl", "ocsp", "-respin", f.name, "-resp_text", "-noverify"])
    text = proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")
    error = re.search(r"Responder Error: \w+ \((\d+)\)", text)
    if error:
        return ParsedResponse(int(error.group(1)), text)
    status = re.search(r"OCSP Response Status: \w+ \(0x([0-9a-fA-F]+)\)", text)
    assert status, f"not an OCSP response:\n{text}"

    def field(name: str) -> str | None:
        m = re.search(rf"^\s*{name}: (.+)$", text, re.M)
        return m.group(1).strip() if m else None

    this_update, next_update = field("This Update"), field("Next Update")
    return ParsedResponse(
        response_status=int(status.group(1), 16), text=text,
        cert_status=field("Cert Status"), hash_algorithm=field("Hash Algorithm"),
        serial=field("Serial Number"), reason=field("Revocation Reason"),
        this_update=_openssl_time(this_update) if this_update else None,
        next_update=_openssl_time(next_update) if next_update else None)


def verify_response(der: bytes, pki: Pki, leaf: Cert) -> str:
    """Verifies a saved answer for `leaf` like a relying party; returns openssl's output."""
    with tempfile.NamedTemporaryFile(suffix=".der") as f:
        f.write(der)
        f.flush()
        proc = _run(["openssl", "ocsp", "-respin", f.name, "-issuer", str(pki.ica.pem),
                     "-CAfile", str(pki.root.pem), "-cert", str(leaf.pem)])
    return proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")


def assert_one_good_answer(answers: list, pki: Pki, leaf: Cert) -> None:
    """Every HTTP answer is 200 with an OCSP response, all the same bytes (one cached
    answer), and a relying party verifies it as good for `leaf`."""
    for answer in answers:
        assert answer.status == 200
        assert answer.headers["content-type"] == "application/ocsp-response"
    assert all(answer.body == answers[0].body for answer in answers)
    relying_party = verify_response(answers[0].body, pki, leaf)
    assert "Response verify OK" in relying_party and ": good" in relying_party, relying_party


@dataclasses.dataclass
class HttpAnswer:
    status: int
    headers: dict[str, str]   # lower-case names; the last value wins
    body: bytes


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    """Status and headers of the last response head in `head` (after a 100 Continue or
    similar there can be several)."""
    lines = head.decode(errors="replace").splitlines()
    blocks = [i for i, line in enumerate(lines) if line.startswith("HTTP/")]
    status = int(lines[blocks[-1]].split()[1])
    headers = {}
    for line in lines[blocks[-1] + 1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return status, headers


def curl(method: str, url: str, body: bytes | None = None,
         content_type: str | None = "application/ocsp-request", proxy: str | None = None,
         headers: dict[str, str] | None = None, interface: str | None = None) -> HttpAnswer:
    """One HTTP exchange with curl; the body goes through a file so it is sent byte-exact.
    `proxy` ("http://host:port/") is used as the HTTP proxy (curl -x: absolute-URI request
    line); `headers` are added or, like Host, replace curl's own; `interface` is the source
    address to connect from (curl --interface, e.g. 127.0.0.2)."""
    with tempfile.TemporaryDirectory() as tmp:
        head, out = Path(tmp) / "head", Path(tmp) / "body"
        args = ["curl", "-sS", "--path-as-is", "-m", str(CLIENT_TIMEOUT_S - 5), "-X", method,
                "-D", str(head), "-o", str(out), "-H", "Expect:",
                # only `proxy` decides whether a proxy is used, never the environment
                "--noproxy", "" if proxy else "*"]
        if proxy:
            args += ["-x", proxy]
        if interface:
            args += ["--interface", interface]
        for name, value in (headers or {}).items():
            args += ["-H", f"{name}: {value}"]
        if body is not None:
            src = Path(tmp) / "req"
            src.write_bytes(body)
            args += ["--data-binary", f"@{src}"]
            if content_type:
                args += ["-H", f"Content-Type: {content_type}"]
        proc = _run(args + [url])
        assert proc.returncode == 0, f"curl {method} {url} failed: {proc.stderr.decode()}"
        status, answer_headers = _parse_head(head.read_bytes())
        return HttpAnswer(status, answer_headers, out.read_bytes() if out.exists() else b"")


def raw_http(port: int, request_line: str, headers: dict[str, str],
             host: str = "127.0.0.1") -> HttpAnswer:
    """Sends `request_line` (e.g. "CONNECT ocsp.test.example:443 HTTP/1.1") and `headers`
    exactly as given, with Connection: close, on a socket of its own; for requests curl and
    openssl will not send (CONNECT without a tunnel, userinfo or https:// in an
    absolute URI). Reads one answer: its head, then Content-Length bytes or up to close."""
    head_lines = [request_line, *(f"{k}: {v}" for k, v in headers.items()), "Connection: close"]
    with socket.create_connection((host, port), timeout=CLIENT_TIMEOUT_S - 5) as conn:
        conn.sendall(("\r\n".join(head_lines) + "\r\n\r\n").encode())
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = conn.recv(65536)
            assert chunk, f"connection closed before an answer head: {received!r}"
            received += chunk
        head, body = received.split(b"\r\n\r\n", 1)
        status, answer_headers = _parse_head(head)
        length = answer_headers.get("content-length")
        while (length is None or len(body) < int(length)) and (chunk := conn.recv(65536)):
            body += chunk
    return HttpAnswer(status, answer_headers, body)
