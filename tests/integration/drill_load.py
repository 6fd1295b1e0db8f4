"""Steady client load for the fault drills, with every answer judged in Python.

Client threads send OCSP requests to ocsp-proxy over keep-alive connections (http.client):
POST application/ocsp-request, and a share as RFC 5019 GET /<base64url(DER)>. Each request
asks for one CertID of the test issuing CA, drawn from three pools:

  cached   CertIDs answered before the load starts (warm()): good, revoked and unknown
           certificates, SHA-1 and SHA-256 CertIDs (answers with nextUpdate a day ahead)
  new      a serial nobody asked for before (the proxy must go upstream; `openssl ocsp`
           answers unknown)
  learned  a serial from `new` that was answered during the drill, asked again

Every answer is judged (Judge) as
  ok           HTTP 200 and a successful OCSPResponse the proxy may serve: signed by the test
               delegated responder (signature checked with its public key), one
               SingleResponse whose CertID is the requested one, the certificate's expected
               status, thisUpdate not in the future, nextUpdate still ahead, and not one of
               the bodies a faulty upstream sent (`forbid`)
  unvalidated  a successful OCSPResponse that fails any of those checks, or any body a
               faulty upstream sent (even one that is not an OCSPResponse)
  error        anything else: no HTTP answer, HTTP status other than 200, a body that is
               not an OCSPResponse, or an OCSP error status (tryLater, ...)
An error is also counted as failed_with_cache when the client had already been given a
valid answer for that CertID whose nextUpdate was still ahead: the proxy held one too.

Counts are kept per phase; a request belongs to the phase in which its answer came.
Needs python3-cryptography."""
from __future__ import annotations

import base64
import collections
import contextlib
import dataclasses
import datetime
import functools
import http.client
import random
import secrets
import threading
import time

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp

from faulty_upstream import load_cert
from ocsp_client import make_request
from pki import Pki

CLOCK_SKEW = datetime.timedelta(minutes=5)  # the proxy's cache.clock_skew in the tests
# A cached answer counts as valid for failed_with_cache only while its nextUpdate is at
# least this far ahead, so a request racing the very end of its validity is not blamed.
VALIDITY_MARGIN = datetime.timedelta(seconds=2)


def utcnow() -> datetime.datetime:
    # cryptography 38 returns naive datetimes in UTC
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


@dataclasses.dataclass(frozen=True)
class Query:
    kind: str             # "cached", "new" or "learned"
    der: bytes            # the OCSPRequest, one CertID, no nonce
    expected_status: str  # "good", "revoked" or "unknown"

    @functools.cached_property
    def cert_id(self) -> tuple:
        request = ocsp.load_der_ocsp_request(self.der)
        return (request.hash_algorithm.name, request.issuer_name_hash, request.issuer_key_hash,
                request.serial_number)


@dataclasses.dataclass(frozen=True)
class Verdict:
    outcome: str  # "ok", "unvalidated" or "error"
    detail: str   # why, for the summary ("tryLater", "HTTP 503", "bad_signature", ...)
    next_update: datetime.datetime | None = None


class Judge:
    """Decides whether an answer is one ocsp-proxy may serve for a query (see the module
    docstring). The only legitimate signer in the test PKI is the delegated responder."""

    def __init__(self, pki: Pki):
        self.responder = load_cert(pki.resp)
        self.responder_key = self.responder.public_key()
        self.responder_key_hash = x509.SubjectKeyIdentifier.from_public_key(
            self.responder_key).digest
        self.forbidden: list[set[bytes]] = []

    def forbid(self, bodies: set[bytes]) -> None:
        """Answers in `bodies` (a live set, filled as a faulty upstream sends them) must
        never reach a client."""
        self.forbidden.append(bodies)

    def _signature_verifies(self, response: ocsp.OCSPResponse) -> bool:
        try:
            if isinstance(self.responder_key, ec.EllipticCurvePublicKey):
                self.responder_key.verify(response.signature, response.tbs_response_bytes,
                                          ec.ECDSA(response.signature_hash_algorithm))
            else:
                assert isinstance(self.responder_key, rsa.RSAPublicKey)
                self.responder_key.verify(response.signature, response.tbs_response_bytes,
                                          padding.PKCS1v15(), response.signature_hash_algorithm)
            return True
        except InvalidSignature:
            return False

    def verdict(self, query: Query, http_status: int | None, body: bytes,
                failure: str = "") -> Verdict:
        if http_status is None:
            return Verdict("error", failure or "no answer")
        if http_status != 200:
            return Verdict("error", f"HTTP {http_status}")
        injected = any(body in bodies for bodies in self.forbidden)
        try:
            response = ocsp.load_der_ocsp_response(body)
        except ValueError:
            return Verdict("unvalidated" if injected else "error", "not an OCSPResponse")
        if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
            return Verdict("error", {"TRY_LATER": "tryLater", "INTERNAL_ERROR": "internalError",
                                     "MALFORMED_REQUEST": "malformedRequest",
                                     "SIG_REQUIRED": "sigRequired",
                                     "UNAUTHORIZED": "unauthorized"}.get(
                                         response.response_status.name,
                                         response.response_status.name))
        problems = []
        if injected:
            problems.append("injected_by_faulty_upstream")
        singles = list(response.responses)
        if len(singles) != 1:
            problems.append(f"{len(singles)}_single_responses")
        single = singles[0]
        if (single.hash_algorithm.name, single.issuer_name_hash, single.issuer_key_hash,
                single.serial_number) != query.cert_id:
            problems.append("certid_mismatch")
        if (response.responder_name != self.responder.subject
                and response.responder_key_hash != self.responder_key_hash):
            problems.append("other_responder_id")
        if response.certificates not in ([], [self.responder]):
            problems.append("other_signer_certificate")
        if not self._signature_verifies(response):
            problems.append("bad_signature")
        now = utcnow()
        if single.this_update > now + CLOCK_SKEW:
            problems.append("this_update_in_future")
        if single.next_update is None or single.next_update <= now:
            problems.append("past_next_update")
        status = single.certificate_status.name.lower()
        if status != query.expected_status:
            problems.append(f"status_{status}_not_{query.expected_status}")
        if problems:
            return Verdict("unvalidated", ",".join(problems))
        return Verdict("ok", status, single.next_update)


@dataclasses.dataclass
class PhaseCounts:
    name: str
    started: float = 0.0       # time.monotonic()
    ended: float = 0.0
    requests: int = 0
    ok: int = 0
    errors: int = 0
    failed_with_cache: int = 0
    unvalidated: int = 0
    # (kind, outcome) -> count, e.g. ("new", "ok")
    outcomes: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    error_details: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    unvalidated_details: collections.Counter = dataclasses.field(
        default_factory=collections.Counter)
    max_latency_ms: float = 0.0
    first_uncached_ok_s: float | None = None  # since the phase began

    @property
    def seconds(self) -> float:
        return self.ended - self.started


class Load:
    """The client threads, the pools of CertIDs and the per-phase counts."""

    def __init__(self, port: int, pki: Pki, judge: Judge, threads: int = 4,
                 requests_per_s_per_thread: float = 60.0, get_share: float = 0.25,
                 shares: tuple[float, float, float] = (0.55, 0.30, 0.15)):
        self.port = port  # of the server under load, on 127.0.0.1
        self.judge = judge
        self.threads = threads
        self.interval_s = 1.0 / requests_per_s_per_thread
        self.get_share = get_share
        self.shares = dict(zip(("cached", "new", "learned"), shares))
        self.lock = threading.Lock()
        self.phases: list[PhaseCounts] = []
        self.cached = [Query("cached", make_request(pki.ica, leaf, digest), leaf.status)
                       for leaf in (pki.good, pki.good2, pki.revoked, pki.unlisted)
                       for digest in ("sha1", "sha256")]
        self.learned: list[Query] = []
        # CertID request DER -> nextUpdate of the last valid answer a client got for it
        self.valid_until: dict[bytes, datetime.datetime] = {}
        # Never-seen serials: the request for pki.good with its serial's bytes replaced
        # (same length; pki serials are 16 bytes with a first byte of 0x10-0x7f).
        serial = bytes.fromhex(pki.good.serial)
        self.templates = []
        for digest in ("sha1", "sha256"):
            template = make_request(pki.ica, pki.good, digest)
            assert template.count(serial) == 1, "the serial must occur once in the request"
            self.templates.append(template.split(serial))
        self.serial_length = len(serial)
        self.stopping = threading.Event()
        self.begun = threading.Event()  # set by the first phase: the clients wait for it
        self.workers: list[threading.Thread] = []

    # -- pools --------------------------------------------------------------------------------

    def _new_query(self, rng: random.Random) -> Query:
        before, after = rng.choice(self.templates)
        serial = bytes([0x10 + secrets.randbelow(0x70)]) + secrets.token_bytes(
            self.serial_length - 1)
        return Query("new", before + serial + after, "unknown")

    def _pick(self, rng: random.Random) -> Query:
        kind = rng.choices(list(self.shares), weights=list(self.shares.values()))[0]
        with self.lock:
            if kind == "learned" and self.learned:
                return rng.choice(self.learned)
        if kind == "cached":
            return rng.choice(self.cached)
        return self._new_query(rng)

    def _had_valid_answer(self, query: Query) -> bool:
        with self.lock:
            until = self.valid_until.get(query.der)
        return until is not None and until - utcnow() > VALIDITY_MARGIN

    # -- one exchange -------------------------------------------------------------------------

    def exchange(self, conn: http.client.HTTPConnection | None, query: Query, method: str):
        """Sends `query` on `conn` (a new connection if None); returns (conn or None if it is
        closed, HTTP status or None, body, failure text)."""
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            if method == "POST":
                conn.request("POST", "/", body=query.der,
                             headers={"Content-Type": "application/ocsp-request"})
            else:
                path = base64.urlsafe_b64encode(query.der).decode().rstrip("=")
                conn.request("GET", "/" + path)
            answer = conn.getresponse()
            body = answer.read()
            if answer.will_close:
                conn.close()
                conn = None
            return conn, answer.status, body, ""
        except (OSError, http.client.HTTPException) as e:
            if conn is not None:
                conn.close()
            return None, None, b"", type(e).__name__

    def record(self, phase: PhaseCounts, query: Query, verdict: Verdict, had_valid_answer: bool,
               latency_ms: float) -> None:
        with self.lock:
            phase.requests += 1
            phase.outcomes[query.kind, verdict.outcome] += 1
            phase.max_latency_ms = max(phase.max_latency_ms, latency_ms)
            if verdict.outcome == "ok":
                phase.ok += 1
                self.valid_until[query.der] = verdict.next_update
                if query.kind == "new":
                    self.learned.append(dataclasses.replace(query, kind="learned"))
                    if phase.first_uncached_ok_s is None:
                        phase.first_uncached_ok_s = time.monotonic() - phase.started
            elif verdict.outcome == "unvalidated":
                phase.unvalidated += 1
                phase.unvalidated_details[verdict.detail] += 1
            else:
                phase.errors += 1
                phase.error_details[verdict.detail] += 1
                if had_valid_answer:
                    phase.failed_with_cache += 1

    def _client(self, seed: int) -> None:
        rng = random.Random(seed)
        conn = None
        self.begun.wait()
        while not self.stopping.is_set():
            started = time.monotonic()
            query = self._pick(rng)
            had_valid_answer = self._had_valid_answer(query)
            method = "GET" if rng.random() < self.get_share else "POST"
            conn, status, body, failure = self.exchange(conn, query, method)
            # The phase in which the answer came: a request in flight when a fault began
            # met the fault (the upstream was killed before it was asked).
            phase = self.phases[-1]
            verdict = self.judge.verdict(query, status, body, failure)
            self.record(phase, query, verdict, had_valid_answer,
                        (time.monotonic() - started) * 1000)
            self.stopping.wait(max(0.0, self.interval_s - (time.monotonic() - started)))
        if conn is not None:
            conn.close()

    # -- driving it ---------------------------------------------------------------------------

    def warm(self) -> None:
        """Asks once for every cached CertID (POST, one at a time) before the load starts;
        each must be answered ok."""
        phase = PhaseCounts("warm-up", started=time.monotonic())
        self.phases.append(phase)
        for query in self.cached:
            _, status, body, failure = self.exchange(None, query, "POST")
            verdict = self.judge.verdict(query, status, body, failure)
            assert verdict.outcome == "ok", f"warm-up of {query}: {verdict}"
            self.record(phase, query, verdict, False, 0.0)
        phase.ended = time.monotonic()

    def begin(self, name: str) -> PhaseCounts:
        """Starts counting a new phase (and ends the current one)."""
        now = time.monotonic()
        with self.lock:
            if self.phases:
                self.phases[-1].ended = now
            self.phases.append(PhaseCounts(name, started=now))
        self.begun.set()
        return self.phases[-1]

    def phase(self, name: str, seconds: float, until=None, max_seconds: float = 0.0,
              fault=None) -> PhaseCounts:
        """Runs phase `name` for `seconds`; with `until` (a predicate on its PhaseCounts),
        longer, until `until` holds or `max_seconds` have passed. `fault` (a callable) is
        done once the phase has begun, so that every answer it spoils counts in this phase."""
        counts = self.begin(name)
        if fault is not None:
            fault()
        time.sleep(seconds)
        deadline = counts.started + max(seconds, max_seconds)
        while until is not None and not until(counts) and time.monotonic() < deadline:
            time.sleep(0.05)
        return counts

    @contextlib.contextmanager
    def running(self):
        """The client threads run inside the block, from its first phase() on; the last
        phase ends with it."""
        self.stopping.clear()
        self.begun.clear()
        self.workers = [threading.Thread(target=self._client, args=(i,), daemon=True)
                        for i in range(self.threads)]
        for worker in self.workers:
            worker.start()
        try:
            yield self
        finally:
            self.stopping.set()
            self.begun.set()
            for worker in self.workers:
                worker.join(timeout=15)
            self.phases[-1].ended = time.monotonic()

    def drill_phases(self) -> list[PhaseCounts]:
        """Every phase with load (not the warm-up)."""
        return [p for p in self.phases if p.name != "warm-up" and p.requests]

    def summary(self) -> str:
        """The per-phase table, in Markdown."""
        header = ("| phase | s | requests | ok | errors | failed_with_cache | unvalidated_served "
                  "| uncached ok/err | 1st uncached ok at s | max ms | errors by kind |")
        lines = [header, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
                         "| --- |"]
        total = PhaseCounts("total")
        for p in self.drill_phases():
            lines.append(self._row(p))
            for name in ("requests", "ok", "errors", "failed_with_cache", "unvalidated"):
                setattr(total, name, getattr(total, name) + getattr(p, name))
            total.outcomes.update(p.outcomes)
            total.error_details.update(p.error_details)
            total.unvalidated_details.update(p.unvalidated_details)
            total.max_latency_ms = max(total.max_latency_ms, p.max_latency_ms)
            total.ended += p.seconds
        lines.append(self._row(total, bold=True))
        return "\n".join(lines)

    @staticmethod
    def _row(p: PhaseCounts, bold: bool = False) -> str:
        details = dict(p.error_details)
        details.update({f"UNVALIDATED {k}": v for k, v in p.unvalidated_details.items()})
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(details.items())) or "-"
        name = f"**{p.name}**" if bold else p.name
        first = "-" if p.first_uncached_ok_s is None else f"{p.first_uncached_ok_s:.1f}"
        return (f"| {name} | {p.seconds:.1f} | {p.requests} | {p.ok} | {p.errors} "
                f"| {p.failed_with_cache} | {p.unvalidated} "
                f"| {p.outcomes['new', 'ok']}/{p.outcomes['new', 'error']} | {first} "
                f"| {p.max_latency_ms:.0f} | {kinds} |")
