"""The requests of the benchmark: many single-CertID OCSP requests under the test issuing CA,
all made in-process from one template that `openssl ocsp -reqout` built (running openssl
once per request would take minutes for 100,000 of them).

A request differs from the template only in its serial number; issuerNameHash and
issuerKeyHash stay those of the issuing CA, so ocsp-proxy routes each to the test upstream
and `openssl ocsp` answers each (good when the serial is in its index, else unknown; both
are signed answers of the same size and cost).
"""
from __future__ import annotations

import base64
import dataclasses
import random
from pathlib import Path


def _children(buf: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """(tag, element_start, content_start, content_end) of each DER element in buf[start:end]."""
    out, pos = [], start
    while pos < end:
        element_start, tag, length = pos, buf[pos], buf[pos + 1]
        pos += 2
        if length & 0x80:
            n = length & 0x7F
            length = int.from_bytes(buf[pos:pos + n], "big")
            pos += n
        out.append((tag, element_start, pos, pos + length))
        pos += length
    return out


def _der(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


SEQUENCE, INTEGER = 0x30, 0x02


@dataclasses.dataclass(frozen=True)
class Request:
    serial: str   # uppercase hex, as `openssl ocsp -index` lists it
    der: bytes

    @property
    def b64url(self) -> str:
        """RFC 5019 GET form (base64url, no padding: ocsp-proxy accepts both; a file name
        for nginx static needs no '/')."""
        return base64.urlsafe_b64encode(self.der).rstrip(b"=").decode()


class RequestFactory:
    """Single-CertID requests like `template` (an OCSPRequest without nonce) with other
    serial numbers.

    OCSPRequest ::= SEQUENCE { tbsRequest SEQUENCE { requestList SEQUENCE OF Request } }
    Request ::= SEQUENCE { reqCert CertID }
    CertID ::= SEQUENCE { hashAlgorithm, issuerNameHash, issuerKeyHash, serialNumber }
    """

    def __init__(self, template: bytes, seed: int = 5019):
        (_, _, top_s, top_e), = _children(template, 0, len(template))
        (_, _, tbs_s, tbs_e), = _children(template, top_s, top_e)
        (_, _, list_s, list_e), = _children(template, tbs_s, tbs_e)
        (_, _, req_s, req_e), = _children(template, list_s, list_e)
        (_, _, cid_s, cid_e), = _children(template, req_s, req_e)
        alg, name_hash, key_hash, serial = _children(template, cid_s, cid_e)
        assert serial[0] == INTEGER, "template CertID has no serialNumber"
        self._cert_id_head = template[alg[1]:key_hash[3]]  # algorithm + both issuer hashes
        self._rng = random.Random(seed)
        self._used: set[str] = set()

    def make(self, serial_hex: str) -> Request:
        serial = bytes.fromhex(serial_hex)
        cert_id = _der(SEQUENCE, self._cert_id_head + _der(INTEGER, serial))
        der = _der(SEQUENCE, _der(SEQUENCE, _der(SEQUENCE, _der(SEQUENCE, cert_id))))
        return Request(serial_hex, der)

    def fresh(self, count: int) -> list[Request]:
        """`count` requests with serials never handed out before by this factory: 16 bytes,
        first byte 0x10..0x7f (positive, no leading zero: the form openssl looks up)."""
        out = []
        while len(out) < count:
            first = self._rng.randrange(0x10, 0x80)
            serial = f"{first:02X}{self._rng.getrandbits(120):030X}"
            if serial not in self._used:
                self._used.add(serial)
                out.append(self.make(serial))
        return out


def write_index(path: Path, base_index: Path, requests: list[Request]) -> None:
    """An `openssl ocsp -index` database: the test PKI's entries plus every request's serial
    as a valid certificate (so the answers say good, as for real traffic)."""
    lines = base_index.read_text().splitlines()
    expiry = next(line.split("\t")[1] for line in lines if line.startswith("V\t"))
    lines += [f"V\t{expiry}\t\t{r.serial}\tunknown\t/CN=bench {r.serial[:8]}" for r in requests]
    path.write_text("".join(f"{line}\n" for line in lines))
    path.with_name(path.name + ".attr").write_text("unique_subject = no\n")


def write_wrk_files(directory: Path, requests: list[Request]) -> tuple[Path, Path]:
    """The two inputs of bench/requests.lua: DER in hex (POST) and base64url (GET), one
    request a line, in the same order."""
    post, get = directory / "requests.post.hex", directory / "requests.get.b64"
    post.write_text("".join(f"{r.der.hex()}\n" for r in requests))
    get.write_text("".join(f"{r.b64url}\n" for r in requests))
    return post, get
