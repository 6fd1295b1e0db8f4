"""An OCSP upstream that answers wrongly on purpose, for the fault drills: on the port the
real `openssl ocsp` responder had, it answers every request (POST or RFC 5019 GET) according
to its mode, which can be switched at any time without a moment of closed port:

  pass       relays to a real responder (target_url) and returns its answer unchanged
  no_nonce   a well-formed, current `good` answer for the requested CertID, signed by the real
             delegated responder, that never echoes a nonce: what most CDN responders send
  other_nonce  the same with a nonce that is not the request's: an answer made for another
             client, replayed
  old_good   a `good` answer for the requested CertID, signed by the real delegated responder,
             still within its validity but signed two days ago: a replayed answer, or a stale
             CDN edge
  short_lived  a current `good` answer, signed by the real delegated responder, whose
             nextUpdate is SHORT_LIVED_S seconds away (`openssl ocsp` cannot go below a minute)
  garbage    200 application/ocsp-response whose body is not DER
  expired    a well-formed answer for the requested CertID, signed by the real delegated
             responder, whose thisUpdate and nextUpdate are both in the past
  wrong_key  a well-formed, current answer for the requested CertID signed by a key the
             issuing CA never certified, taking turns between four disguises
             (WRONG_KEY_DISGUISES): the real responder's certificate and responder ID with
             the signature made by another key; the rogue responder certificate (same
             subject as the real responder, issued by another CA) with its key; a self-made
             certificate that names the issuing CA as its issuer; no certificate at all and
             the real responder's name as responder ID

Every spoiled body sent is kept in `sent`, so a test can check that none of them ever reached a
client. Needs python3-cryptography."""
from __future__ import annotations

import base64
import collections
import datetime
import http.server
import threading
import urllib.parse
import urllib.request

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pki import Cert, Pki
from servers import _serve, send_ocsp_response

GARBAGE = b"this is not an OCSP response"
HASHES = {"sha1": hashes.SHA1, "sha256": hashes.SHA256, "sha384": hashes.SHA384,
          "sha512": hashes.SHA512}
SHORT_LIVED_S = 15
WRONG_KEY_DISGUISES = ("real_responder_certificate", "rogue_responder", "forged_responder",
                       "no_certificate")


def load_cert(cert: Cert) -> x509.Certificate:
    return x509.load_pem_x509_certificate(cert.pem.read_bytes())


def load_key(cert: Cert):
    return serialization.load_pem_private_key(cert.key.read_bytes(), password=None)


def _utcnow() -> datetime.datetime:
    # cryptography 38 takes and returns naive datetimes in UTC
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0)


class OcspForger:
    """Builds signed OCSP answers for any CertID of the test issuing CA."""

    def __init__(self, pki: Pki):
        self.ica = load_cert(pki.ica)
        self.resp, self.resp_key = load_cert(pki.resp), load_key(pki.resp)
        self.rogue, self.rogue_key = load_cert(pki.rogue), load_key(pki.rogue)
        # The key behind the dummy subject certificates and the forged responder: no CA
        # certified it.
        self.stray_key = ec.generate_private_key(ec.SECP256R1())
        now = _utcnow()
        self.forged = (
            x509.CertificateBuilder()
            .subject_name(self.resp.subject).issuer_name(self.ica.subject)
            .public_key(self.stray_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]),
                           critical=False)
            .sign(self.stray_key, hashes.SHA256()))
        self._subjects: dict[int, x509.Certificate] = {}
        self._lock = threading.Lock()

    def _subject(self, serial: int) -> x509.Certificate:
        """A certificate with `serial` under the issuing CA's name: OCSPResponseBuilder takes
        the CertID's serial and issuerNameHash from a certificate, and only those are used."""
        with self._lock:
            if serial not in self._subjects:
                now = _utcnow()
                name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"serial {serial:x}")])
                self._subjects[serial] = (
                    x509.CertificateBuilder()
                    .subject_name(name).issuer_name(self.ica.subject)
                    .public_key(self.stray_key.public_key()).serial_number(serial)
                    .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
                    .sign(self.stray_key, hashes.SHA256()))
            return self._subjects[serial]

    def answer(self, request_der: bytes, this_update: datetime.datetime,
               next_update: datetime.datetime, signer: str = "responder",
               nonce: bytes | None = None) -> bytes:
        """A `good` answer for the (single) CertID of `request_der`, signed as `signer` says:
        "responder" (the real delegated responder) or one of WRONG_KEY_DISGUISES; carrying
        `nonce` if given."""
        if signer == "real_responder_certificate":
            return self._resigned(self.answer(request_der, this_update, next_update),
                                  self.rogue_key)
        request = ocsp.load_der_ocsp_request(request_der)
        builder = ocsp.OCSPResponseBuilder().add_response(
            cert=self._subject(request.serial_number), issuer=self.ica,
            algorithm=HASHES[request.hash_algorithm.name](), cert_status=ocsp.OCSPCertStatus.GOOD,
            this_update=this_update, next_update=next_update, revocation_time=None,
            revocation_reason=None)
        cert, key = {
            "responder": (self.resp, self.resp_key),
            "rogue_responder": (self.rogue, self.rogue_key),
            "forged_responder": (self.forged, self.stray_key),
            "no_certificate": (self.rogue, self.rogue_key),
        }[signer]
        # The rogue certificate has the real responder's subject, so a by-name responder ID
        # built from it names the real responder.
        builder = builder.responder_id(ocsp.OCSPResponderEncoding.NAME, cert)
        if nonce is not None:
            builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
        if signer != "no_certificate":
            builder = builder.certificates([cert])
        return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    @staticmethod
    def _resigned(der: bytes, key) -> bytes:
        """`der` with its signature replaced by one `key` makes over the same
        tbsResponseData. ECDSA signatures vary in length; signing until the length matches
        keeps every DER length field as it is."""
        response = ocsp.load_der_ocsp_response(der)
        old = response.signature
        assert der.count(old) == 1
        for _ in range(100):
            new = key.sign(response.tbs_response_bytes,
                           ec.ECDSA(response.signature_hash_algorithm))
            if len(new) == len(old):
                return der.replace(old, new)
        raise AssertionError("no signature of the same length in 100 tries")

    def expired(self, request_der: bytes) -> bytes:
        now = _utcnow()
        return self.answer(request_der, now - datetime.timedelta(days=2),
                           now - datetime.timedelta(days=1))

    def current(self, request_der: bytes) -> bytes:
        """A valid answer of the real responder, without nonce whatever the request held."""
        now = _utcnow()
        return self.answer(request_der, now - datetime.timedelta(minutes=1),
                           now + datetime.timedelta(days=1))

    def wrong_key(self, request_der: bytes, disguise: str) -> bytes:
        now = _utcnow()
        return self.answer(request_der, now - datetime.timedelta(minutes=1),
                           now + datetime.timedelta(days=1), signer=disguise)


class FaultyUpstream:
    """The switchable upstream on 127.0.0.1:`port`, starting in `mode`. A `forger` made
    beforehand lets it start listening at once."""

    FAULTS = ("garbage", "expired", "wrong_key")
    MODES = ("pass", "no_nonce", "other_nonce", "old_good", "short_lived", *FAULTS)

    def __init__(self, pki: Pki, port: int, mode: str, target_url: str,
                 forger: OcspForger | None = None):
        self.forger = forger or OcspForger(pki)
        self.target_url = target_url
        self.lock = threading.Lock()
        self.requests: collections.Counter[str] = collections.Counter()  # per mode
        self.disguises: collections.Counter[str] = collections.Counter()  # wrong_key answers
        self.sent: set[bytes] = set()
        self.set_mode(mode)
        upstream = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server naming)
                self._answer(self.rfile.read(int(self.headers.get("Content-Length", "0"))))

            def do_GET(self):  # noqa: N802
                # RFC 6960 Appendix A: base64 (URL-encoded) or base64url, padding optional
                text = urllib.parse.unquote(self.path.lstrip("/")).translate(
                    str.maketrans("-_", "+/"))
                self._answer(base64.b64decode(text + "=" * (-len(text) % 4)))

            def _answer(self, request_der: bytes):
                send_ocsp_response(self, upstream.answer(request_der))

            def log_message(self, *args):
                pass

        self.server, self.thread = _serve(Handler, "127.0.0.1", port)
        self.port = port

    def set_mode(self, mode: str) -> None:
        assert mode in self.MODES, mode
        with self.lock:
            self.mode = mode

    def answer(self, request_der: bytes) -> bytes:
        with self.lock:
            mode = self.mode
            self.requests[mode] += 1
            turn = self.requests[mode]
        if mode == "pass":
            relayed = urllib.request.Request(self.target_url, data=request_der, headers={
                "Content-Type": "application/ocsp-request"})
            with urllib.request.urlopen(relayed, timeout=5) as answer:
                return answer.read()
        if mode == "no_nonce":
            return self.forger.current(request_der)
        if mode == "other_nonce":
            now = _utcnow()
            return self.forger.answer(request_der, now - datetime.timedelta(minutes=1),
                                      now + datetime.timedelta(days=1),
                                      nonce=b"made for someone else")
        if mode == "old_good":
            now = _utcnow()
            return self.forger.answer(request_der, now - datetime.timedelta(days=2),
                                      now + datetime.timedelta(days=1))
        if mode == "short_lived":
            now = _utcnow()
            return self.forger.answer(request_der, now - datetime.timedelta(minutes=1),
                                      now + datetime.timedelta(seconds=SHORT_LIVED_S))
        if mode == "garbage":
            body = GARBAGE
        elif mode == "expired":
            body = self.forger.expired(request_der)
        else:
            disguise = WRONG_KEY_DISGUISES[(turn - 1) % len(WRONG_KEY_DISGUISES)]
            body = self.forger.wrong_key(request_der, disguise)
            with self.lock:
                self.disguises[disguise] += 1
        with self.lock:
            self.sent.add(body)
        return body

    def exercised(self) -> bool:
        """Whether the current mode has answered at least once (wrong_key: in every
        disguise)."""
        with self.lock:
            if self.mode == "wrong_key":
                return set(self.disguises) == set(WRONG_KEY_DISGUISES)
            return self.requests[self.mode] > 0

    def log_tail(self) -> str:
        return (f"faulty upstream on 127.0.0.1:{self.port} ({self.mode}, relaying to "
                f"{self.target_url}): {dict(self.requests)} {dict(self.disguises)}")

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
