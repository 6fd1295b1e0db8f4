"""The workload section's CA: OCSP answers for a few dozen issuers, served like a CA's
responder behind a CDN, on a time-scaled schedule. Run by bench/day.py as its own process
(`python3 bench/day_upstream.py CONFIG.json`); make_pki() makes its issuers beforehand.

Per issuer, a profile "VALIDITY/INTERVAL" (e.g. 7d/3.5d): a new answer is produced every
INTERVAL, valid for VALIDITY. Both are divided by the scale factor (periods only: the
answers carry real wall-clock times, so the proxies in front decide on real time). Window k
of an issuer starts at anchor + k*INTERVAL (the anchor is at a random phase before the run),
thisUpdate = the window's start, nextUpdate = thisUpdate + VALIDITY, and the same signed
bytes are served for the whole window, like a CDN edge. RFC 5019 §6 headers: Cache-Control
max-age until the window's end (never past nextUpdate), public, no-transform,
must-revalidate; Expires; Last-Modified = thisUpdate; ETag; 304 for a matching
If-None-Match or If-Modified-Since. Some issuers sign with the CA key, others with a
delegated responder certificate (id-kp-OCSPSigning) embedded in the answer.

Every answer waits a latency drawn uniformly from the configured range (real ms, not
scaled; requests are served concurrently); a share of requests fails at random (HTTP 503 or
a dropped connection, half each), and during the outage window every request fails (503).
Each port the process listens on is one peer's CA, counted apart. Every request is logged
as one line: port, issuer, serial, monotonic start and end, outcome, and the nextUpdate
(wall clock) of the answer it stood for.

Only APIs of Debian 12's python3-cryptography (38.0.4) are used.
"""
from __future__ import annotations

import asyncio
import base64
import calendar
import datetime
import hashlib
import json
import random
import signal
import sys
import time
import urllib.parse
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_s(text: str) -> float:
    """`3.5d`, `12h`, `90m`, `30s` in seconds."""
    return float(text[:-1]) * UNITS[text[-1]]


def parse_profiles(text: str) -> list[tuple[str, float, float]]:
    """`7d/3.5d,4d/1d,24h/12h` -> [(label, validity s, interval s)], unscaled."""
    out = []
    for item in text.split(","):
        validity, interval = item.strip().split("/")
        v, i = duration_s(validity), duration_s(interval)
        if not 0 < i <= v:
            raise ValueError(f"profile {item}: the interval must be > 0 and at most the validity")
        out.append((item.strip(), v, i))
    return out


# -- the issuers --------------------------------------------------------------------------

def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ocsp-proxy bench"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: x509.Name, issuer: x509.Name, public_key, signing_key, ca: bool,
          ocsp_signing: bool = False, serial: int | None = None) -> x509.Certificate:
    now = datetime.datetime.utcnow().replace(microsecond=0)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
               .public_key(public_key).serial_number(serial or x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1))
               .not_valid_after(now + datetime.timedelta(days=365))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    if ocsp_signing:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def _pem_key(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_pki(directory: Path, issuers: int, delegated_every: int = 2) -> list[dict]:
    """`issuers` self-signed issuing CAs (EC P-256) in `directory`; every `delegated_every`th
    one answers through a delegated responder certificate, the others with the CA key.
    Also, per issuer, one leaf certificate, the template of its OCSP requests. Returns per
    issuer {ca, key, responder, responder_key, leaf} file paths (responder None if the CA
    signs)."""
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(issuers):
        key = ec.generate_private_key(ec.SECP256R1())
        name = _name(f"Bench Issuing CA {i:02d}")
        ca = _cert(name, name, key.public_key(), key, ca=True)
        entry = {"ca": directory / f"ca{i:02d}.pem", "key": directory / f"ca{i:02d}.key",
                 "responder": None, "responder_key": None,
                 "leaf": directory / f"leaf{i:02d}.pem"}
        entry["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        entry["key"].write_bytes(_pem_key(key))
        if i % delegated_every == 1:
            rkey = ec.generate_private_key(ec.SECP256R1())
            responder = _cert(_name(f"Bench Issuing CA {i:02d} OCSP Responder"), name,
                              rkey.public_key(), key, ca=False, ocsp_signing=True)
            entry["responder"] = directory / f"resp{i:02d}.pem"
            entry["responder_key"] = directory / f"resp{i:02d}.key"
            entry["responder"].write_bytes(responder.public_bytes(serialization.Encoding.PEM))
            entry["responder_key"].write_bytes(_pem_key(rkey))
        leaf_key = ec.generate_private_key(ec.SECP256R1())
        leaf = _cert(_name(f"leaf {i:02d}.bench.example"), name, leaf_key.public_key(), key,
                     ca=False)
        entry["leaf"].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
        out.append(entry)
    return out


def request_template(ca_pem: Path, leaf_pem: Path) -> bytes:
    """A single-CertID OCSP request (SHA-1 CertID, no nonce) for the issuer's leaf: the
    template bench/workload.RequestFactory changes the serial of."""
    ca = x509.load_pem_x509_certificate(ca_pem.read_bytes())
    leaf = x509.load_pem_x509_certificate(leaf_pem.read_bytes())
    return (ocsp.OCSPRequestBuilder().add_certificate(leaf, ca, hashes.SHA1()).build()
            .public_bytes(serialization.Encoding.DER))


# -- the server ---------------------------------------------------------------------------

class Issuer:
    def __init__(self, entry: dict, profile: tuple[str, float, float], scale: float,
                 rng: random.Random, start: float):
        load = lambda p: x509.load_pem_x509_certificate(Path(p).read_bytes())  # noqa: E731
        key = lambda p: serialization.load_pem_private_key(Path(p).read_bytes(), None)  # noqa
        self.ca = load(entry["ca"])
        self.signer_cert = load(entry["responder"]) if entry["responder"] else self.ca
        self.signer_key = key(entry["responder_key"] or entry["key"])
        self.embed = [self.signer_cert] if entry["responder"] else []
        self.validity = max(1, round(profile[1] / scale))
        self.interval = max(1, round(profile[2] / scale))
        # window 0 started at a random moment of the interval before the run
        self.anchor = int(start) - rng.randrange(self.interval)
        # a stand-in certificate per serial: the builder of 38.0.4 takes a certificate (its
        # serial) and the issuer to make the CertID; its own signature is never looked at
        self._stand_in_key = ec.generate_private_key(ec.SECP256R1())
        self.answers: dict[tuple[int, int], tuple[bytes, str]] = {}

    def window(self, now: float) -> int:
        return int((now - self.anchor) // self.interval)

    def answer(self, serial: int, k: int) -> tuple[bytes, str]:
        """(DER, ETag) of window k's answer for `serial`, signed once and kept."""
        got = self.answers.get((serial, k))
        if got is None:
            this_update = datetime.datetime.utcfromtimestamp(self.anchor + k * self.interval)
            stand_in = (x509.CertificateBuilder().subject_name(self.ca.subject)
                        .issuer_name(self.ca.subject)
                        .public_key(self._stand_in_key.public_key()).serial_number(serial)
                        .not_valid_before(this_update)
                        .not_valid_after(this_update + datetime.timedelta(days=400))
                        .sign(self._stand_in_key, hashes.SHA256()))
            builder = (ocsp.OCSPResponseBuilder()
                       .add_response(cert=stand_in, issuer=self.ca, algorithm=hashes.SHA1(),
                                     cert_status=ocsp.OCSPCertStatus.GOOD,
                                     this_update=this_update,
                                     next_update=this_update + datetime.timedelta(
                                         seconds=self.validity),
                                     revocation_time=None, revocation_reason=None)
                       .responder_id(ocsp.OCSPResponderEncoding.HASH, self.signer_cert))
            if self.embed:
                builder = builder.certificates(self.embed)
            der = builder.sign(self.signer_key, hashes.SHA256()).public_bytes(
                serialization.Encoding.DER)
            got = (der, '"' + hashlib.sha256(der).hexdigest()[:20] + '"')
            self.answers[(serial, k)] = got
        return got


def _http_date(t: float) -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(t))


def _parse_http_date(text: str) -> float | None:
    try:
        return calendar.timegm(time.strptime(text.strip(), "%a, %d %b %Y %H:%M:%S GMT"))
    except ValueError:
        return None


class Upstream:
    def __init__(self, config: dict):
        self.config = config
        rng = random.Random(config["seed"])
        self.rng = random.Random(config["seed"] + 1)
        profiles = parse_profiles(config["profiles"])
        start = config["start_wall"]
        self.issuers = [Issuer(e, profiles[i % len(profiles)], config["scale"], rng, start)
                        for i, e in enumerate(config["pki"])]
        self.by_hash = {}
        for issuer in self.issuers:
            name_hash = hashlib.sha1(issuer.ca.subject.public_bytes()).digest()
            spki = issuer.ca.public_key().public_bytes(serialization.Encoding.X962,
                                                       serialization.PublicFormat.UncompressedPoint)
            self.by_hash[(name_hash, hashlib.sha1(spki).digest())] = issuer
        self.latency = config["latency_ms"]
        self.outage = config["outage_mono"]  # [start, end) in CLOCK_MONOTONIC
        self.log = open(config["log"], "w", buffering=1 << 20)  # noqa: SIM115

    def record(self, port: int, issuer: int, serial: int, start: float, outcome: str,
               next_update: int) -> None:
        self.log.write(f"{port} {issuer} {serial:x} {start:.6f} {time.monotonic():.6f} "
                       f"{outcome} {next_update}\n")

    async def serve(self, port: int, reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                start = time.monotonic()
                lines = head.decode("latin-1").split("\r\n")
                method, target = lines[0].split(" ")[:2]
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = b""
                if "content-length" in headers:
                    body = await reader.readexactly(int(headers["content-length"]))
                if not await self.answer(port, method, target, headers, body, start, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def answer(self, port, method, target, headers, body, start, writer) -> bool:
        """Answers one request; False when the connection is to be dropped."""
        if method == "GET":
            path = urllib.parse.urlsplit(target).path if "://" in target else target
            b64 = urllib.parse.unquote(path.lstrip("/"))
            b64 = b64.replace("-", "+").replace("_", "/")
            body = base64.b64decode(b64 + "=" * (-len(b64) % 4))
        try:
            request = ocsp.load_der_ocsp_request(body)
            issuer = self.by_hash[(request.issuer_name_hash, request.issuer_key_hash)]
            serial = request.serial_number
        except (ValueError, KeyError):
            writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            self.record(port, -1, 0, start, "bad", 0)
            return True
        index = self.issuers.index(issuer)
        lo, hi = self.latency
        await asyncio.sleep(self.rng.uniform(lo, hi) / 1000)
        now_mono, now = time.monotonic(), time.time()
        k = issuer.window(now)
        this_update = issuer.anchor + k * issuer.interval
        next_update = this_update + issuer.validity
        if self.outage[0] <= now_mono < self.outage[1]:
            failure = "outage"
        elif self.rng.random() < self.config["failure_rate"]:
            failure = self.rng.choice(("503", "drop"))
        else:
            failure = None
        if failure == "drop":
            self.record(port, index, serial, start, "drop", next_update)
            return False
        if failure:
            writer.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                         b"Retry-After: 10\r\n\r\n")
            await writer.drain()
            self.record(port, index, serial, start, failure, next_update)
            return True
        der, etag = issuer.answer(serial, k)
        max_age = max(0, min(this_update + issuer.interval, next_update) - int(now))
        since = _parse_http_date(headers.get("if-modified-since", "")) or -1
        fresh = (headers.get("if-none-match") == etag
                 or ("if-none-match" not in headers and since >= this_update))
        common = (f"Cache-Control: max-age={max_age}, public, no-transform, must-revalidate\r\n"
                  f"Expires: {_http_date(int(now) + max_age)}\r\n"
                  f"Last-Modified: {_http_date(this_update)}\r\nETag: {etag}\r\n"
                  f"Date: {_http_date(now)}\r\n")
        if fresh:
            writer.write(f"HTTP/1.1 304 Not Modified\r\n{common}\r\n".encode())
            outcome = "304"
        else:
            writer.write(f"HTTP/1.1 200 OK\r\nContent-Type: application/ocsp-response\r\n"
                         f"{common}Content-Length: {len(der)}\r\n\r\n".encode() + der)
            outcome = "200"
        await writer.drain()
        self.record(port, index, serial, start, outcome, next_update)
        return True


async def main_async(config: dict) -> None:
    upstream = Upstream(config)
    servers = []
    for port in config["ports"]:
        servers.append(await asyncio.start_server(
            lambda r, w, p=port: upstream.serve(p, r, w), "127.0.0.1", port, backlog=1024))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    Path(config["schedule"]).write_text(json.dumps([
        {"anchor": i.anchor, "interval": i.interval, "validity": i.validity,
         "delegated": bool(i.embed)} for i in upstream.issuers]))
    Path(config["ready"]).write_text("ready\n")
    await stop.wait()
    for server in servers:
        server.close()
    upstream.log.flush()
    upstream.log.close()


def main() -> int:
    config = json.loads(Path(sys.argv[1]).read_text())
    asyncio.run(main_async(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
