"""A throw-away test PKI built with the openssl CLI.

Layout (all under one directory):
  root            self-signed root CA
  ica             issuing CA signed by root; the proxy is configured with it
  resp            delegated OCSP responder for ica (signed by ica, id-kp-OCSPSigning)
  rogue           an OCSP-signing certificate that ica did NOT issue (other_ica did)
  other_ica       a second issuing CA under root that the proxy knows nothing about
  leaves          end-entity certificates under ica: good, revoked (with reason), and one
                  that ica issued but the responder's database does not list (answer: unknown)
  other_leaf      an end-entity certificate under other_ica
  stranger        a self-signed CA outside the test root's tree (signs CRLs nobody configured)
  index.txt       the responder's database in `openssl ca` format
  other_index.txt the database of a responder for other_ica (lists other_leaf)

Made on demand: delegated responders with a chosen AIA caIssuers URL (responder_for),
CRLs (make_crl: complete or delta, with CRL numbers, a Freshest CRL pointer and entries with
reasons made by `entry`) and responder databases (make_index), each in a file of its own.
"""
from __future__ import annotations

import dataclasses
import datetime
import hashlib
import os
import secrets
import subprocess
import tempfile
from pathlib import Path
from typing import Iterable

CERT_DAYS = 365
OCSP_FQDN = "ocsp.test.example"      # the test upstream's name, in every leaf's AIA
OCSP_URL = f"http://{OCSP_FQDN}/"
CRL_FQDN = "crl.test.example"        # where tests serve CRLs
AIA_FQDN = "aia.test.example"        # where tests serve caIssuers certificates
ELSEWHERE_FQDN = "elsewhere.test.example"  # resolves to the test servers, allowed for nothing
ROOT_OCSP_FQDN = "ocsp-root.test.example"  # where tests run a responder for the root (watch:)

# `openssl ca -gencrl` needs a database, a crlnumber file and a digest; nothing else. It writes
# the cRLNumber from the crlnumber file; the CRL extensions come from crl_ext.
_CRL_CA_CONFIG = """\
[ca]
default_ca = crl_ca
[crl_ca]
database = index.txt
crlnumber = crlnumber
default_md = sha256
crl_extensions = crl_ext
[crl_ext]
authorityKeyIdentifier = keyid:always
"""

# RFC 5280 §5.3.1 CRLReason names as `openssl ca` writes them in index.txt (and takes them in
# `-crl_reason`): 7 is unused; removeFromCRL (8) belongs in delta CRLs only.
CRL_REASONS = ("unspecified", "keyCompromise", "CACompromise", "affiliationChanged",
               "superseded", "cessationOfOperation", "certificateHold", None, "removeFromCRL")

_REQ_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
[dn]
"""

_EXTENSIONS = {
    "ca": """\
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
""",
    "ocsp_signer": """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = OCSPSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
1.3.6.1.5.5.7.48.1.5 = ASN1:NULL
""",
    "leaf": f"""\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
authorityInfoAccess = OCSP;URI:{OCSP_URL}
""",
}


def openssl(*args: str, cwd: Path, binary: bool = False):
    """stdout of `openssl ARGS` (bytes if `binary`); raises with its stderr on failure."""
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=not binary)
    if proc.returncode != 0:
        stderr = proc.stderr if not binary else proc.stderr.decode(errors="replace")
        raise RuntimeError(f"openssl {' '.join(args)} failed:\n{stderr}")
    return proc.stdout


def crl_dates(der: Path) -> tuple[datetime.datetime, datetime.datetime]:
    """(thisUpdate, nextUpdate) of a DER CRL, as `openssl crl` reads them."""
    out = openssl("crl", "-inform", "DER", "-in", str(der), "-noout", "-lastupdate",
                  "-nextupdate", cwd=der.parent)
    fields = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def parse(s: str) -> datetime.datetime:
        t = datetime.datetime.strptime(" ".join(s.split()), "%b %d %H:%M:%S %Y GMT")
        return t.replace(tzinfo=datetime.timezone.utc)
    return parse(fields["lastUpdate"]), parse(fields["nextUpdate"])


def rfc3339(t: datetime.datetime) -> str:
    """A time in whole seconds as ocsp-proxy writes it: 2026-11-23T10:00:00Z."""
    return t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ca_time(t: datetime.datetime) -> str:
    """UTCTime as `openssl ca` writes it in index.txt: YYMMDDHHMMSSZ."""
    return t.strftime("%y%m%d%H%M%SZ")


def _generalized_time(t: datetime.datetime) -> str:
    """GeneralizedTime as `openssl ca -crl_lastupdate/-crl_nextupdate` take it."""
    return t.astimezone(datetime.timezone.utc).strftime("%Y%m%d%H%M%SZ")


def _random_serial() -> str:
    """Uppercase hex, even length, no leading zero byte: the form `openssl ocsp` looks up."""
    first = secrets.randbelow(0x70) + 0x10
    return f"{first:02X}{secrets.token_hex(15).upper()}"


@dataclasses.dataclass(frozen=True)
class Cert:
    name: str
    pem: Path
    key: Path
    serial: str   # uppercase hex
    subject: str  # /CN=... form


@dataclasses.dataclass(frozen=True)
class Leaf(Cert):
    # what the responder's index says: "good", "revoked", or "unknown" (not listed)
    status: str = "good"
    reason: str | None = None
    revoked_at: datetime.datetime | None = None


class Pki:
    def __init__(self, directory: Path):
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "req.cnf").write_text(_REQ_CONFIG)
        for name, text in _EXTENSIONS.items():
            (self.dir / f"{name}.ext").write_text(f"[ext]\n{text}")
        self.now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)

        self.root = self._self_signed("root", "/O=ocsp-proxy tests/CN=Test Root CA")
        self.ica = self._issue("ica", "/O=ocsp-proxy tests/CN=Test Issuing CA", self.root, "ca")
        self.resp = self._issue("resp", "/O=ocsp-proxy tests/CN=Test OCSP Responder",
                                self.ica, "ocsp_signer", key_type="ec")
        self.other_ica = self._issue("other_ica", "/O=ocsp-proxy tests/CN=Unconfigured Issuing CA",
                                     self.root, "ca", key_type="ec")
        self.rogue = self._issue("rogue", "/O=ocsp-proxy tests/CN=Test OCSP Responder",
                                 self.other_ica, "ocsp_signer", key_type="ec")

        revoked_at = self.now - datetime.timedelta(days=2)
        self.good = self._leaf("good", "good")
        self.good2 = self._leaf("good2", "good")
        self.revoked = self._leaf("revoked", "revoked", reason="keyCompromise",
                                  revoked_at=revoked_at)
        self.unlisted = self._leaf("unlisted", "unknown")
        self.other_leaf = self._as_leaf(
            self._issue("other_leaf", "/O=ocsp-proxy tests/CN=other.test.example",
                        self.other_ica, "leaf", key_type="ec"), "good")
        self.stranger = self._self_signed("stranger", "/O=elsewhere/CN=Stranger CA",
                                          key_type="ec")

        self.index = self.dir / "index.txt"
        self._write_index(self.index, [self.good, self.good2, self.revoked])
        self.other_index = self.dir / "other_index.txt"
        self._write_index(self.other_index, [self.other_leaf])
        self._made: dict[tuple, Cert] = {}

    # -- made on demand ------------------------------------------------------------------

    def responder_for(self, ca: Cert, ca_issuers_url: str | None = None) -> Cert:
        """A delegated OCSP responder certificate issued by `ca`, whose AIA names
        `ca_issuers_url` as caIssuers (none if None). One EC key and one signature, so a
        test can afford its own with a URL on its own server's port; made once per URL."""
        key = (ca.name, ca_issuers_url)
        if key not in self._made:
            name = f"{ca.name}_resp{len(self._made)}"
            profile = _EXTENSIONS["ocsp_signer"]
            if ca_issuers_url:
                profile += f"authorityInfoAccess = caIssuers;URI:{ca_issuers_url}\n"
            (self.dir / f"{name}.ext").write_text(f"[ext]\n{profile}")
            self._made[key] = self._issue(name, f"/O=ocsp-proxy tests/CN={ca.name} OCSP Responder",
                                          ca, name, key_type="ec")
        return self._made[key]

    def leaf_with_ocsp(self, name: str, status: str, ocsp_url: str, **kwargs) -> Leaf:
        """A leaf under ica whose AIA names `ocsp_url` (e.g. one with a path, as many CAs'
        have) instead of OCSP_URL. Not in `index`: a responder for it needs make_index."""
        profile = _EXTENSIONS["leaf"].replace(OCSP_URL, ocsp_url)
        (self.dir / f"{name}.ext").write_text(f"[ext]\n{profile}")
        cert = self._issue(name, f"/O=ocsp-proxy tests/CN={name}.test.example", self.ica, name,
                           key_type="ec")
        return self._as_leaf(cert, status, **kwargs)

    def ca_with_ocsp(self, name: str, cn: str, ocsp_url: str) -> Cert:
        """An intermediate CA under the root whose AIA names `ocsp_url` as its OCSP
        responder, as a real intermediate names its root's (EC key, made once per name)."""
        return self._ca_with_aia(name, cn, f"OCSP;URI:{ocsp_url}")

    def ca_with_ca_issuers(self, name: str, cn: str, ca_issuers_url: str) -> Cert:
        """An intermediate CA under the root whose AIA names `ca_issuers_url` as caIssuers,
        where a real intermediate says its issuer's certificate is published (EC key)."""
        return self._ca_with_aia(name, cn, f"caIssuers;URI:{ca_issuers_url}")

    def _ca_with_aia(self, name: str, cn: str, access: str) -> Cert:
        profile = _EXTENSIONS["ca"] + f"authorityInfoAccess = {access}\n"
        (self.dir / f"{name}.ext").write_text(f"[ext]\n{profile}")
        return self._issue(name, f"/O=ocsp-proxy tests/CN={cn}", self.root, name, key_type="ec")

    def make_crl(self, ca: Cert, revoked: Iterable[Cert | str] = (), days: int | None = None,
                 hours: int | None = None, out_name: str | None = None,
                 last_update: datetime.datetime | None = None,
                 next_update: datetime.datetime | None = None, number: int = 1,
                 freshest: Iterable[str] = (), delta_of: int | None = None) -> Path:
        """A DER CRL signed by `ca` with `openssl ca -gencrl`, listing `revoked` (leaves,
        with their revocation time and reason when they have them, else keyCompromise two
        days ago; bare hex serials; or entries made by `entry`). lastUpdate is now unless
        `last_update`; nextUpdate is `next_update`, else `hours`, else `days` (7) later.
        `number` is its cRLNumber; `freshest` the URIs of a Freshest CRL extension (RFC 5280
        §5.2.6: where its deltas are); `delta_of` makes it a delta CRL on the complete CRL of
        that number (a critical deltaCRLIndicator, §5.2.4). Returns the file's path."""
        if next_update is None and hours is None and days is None:
            days = 7
        work = Path(tempfile.mkdtemp(prefix=f"crl-{ca.name}-", dir=self.dir))
        config = _CRL_CA_CONFIG
        if freshest:
            config += "freshestCRL = " + ",".join(f"URI:{uri}" for uri in freshest) + "\n"
        if delta_of is not None:
            # OpenSSL 3 has no text form for deltaCRL's value: the INTEGER is given as ASN1.
            config += f"deltaCRL = critical, ASN1:INTEGER:{delta_of}\n"
        (work / "ca.cnf").write_text(config)
        (work / "crlnumber").write_text(f"{number:02X}\n")
        self._write_index(work / "index.txt", [self._revoked_entry(item) for item in revoked],
                          default_reason="keyCompromise")
        args = ["ca", "-gencrl", "-config", "ca.cnf", "-cert", str(ca.pem),
                "-keyfile", str(ca.key), "-out", "crl.pem"]
        if last_update:
            args += ["-crl_lastupdate", _generalized_time(last_update)]
        if next_update:
            args += ["-crl_nextupdate", _generalized_time(next_update)]
        elif hours is not None:
            args += ["-crlhours", str(hours)]
        else:
            args += ["-crldays", str(days)]
        openssl(*args, cwd=work)
        out = self.dir / (out_name or f"{work.name}.crl")
        openssl("crl", "-in", "crl.pem", "-outform", "DER", "-out", str(out), cwd=work)
        return out

    def entry(self, item: Cert | str, reason: str,
              revoked_at: datetime.datetime | None = None) -> Leaf:
        """A CRL entry for make_crl: a certificate or a bare hex serial, revoked for `reason`
        (a CRL_REASONS name: certificateHold, removeFromCRL, ...) at `revoked_at` (default
        two days ago)."""
        if reason not in CRL_REASONS or reason is None:
            raise ValueError(f"{reason!r} is not a CRLReason openssl ca knows")
        return dataclasses.replace(self._revoked_entry(item), reason=reason,
                                   revoked_at=revoked_at)

    def make_index(self, out_name: str, good: Iterable[Cert] = (), revoked: Iterable[Cert] = (),
                   reason: str = "CACompromise") -> Path:
        """A responder database (`openssl ocsp -index`) listing `good` as valid and `revoked`
        as revoked (a Leaf keeps its revocation time and reason; any other certificate was
        revoked two days ago for `reason`). Returns the file's path."""
        index = self.dir / out_name
        entries = [dataclasses.replace(c, status="good") if isinstance(c, Leaf)
                   else self._as_leaf(c, "good") for c in good]
        entries += [self._revoked_entry(c) for c in revoked]
        self._write_index(index, entries, default_reason=reason)
        return index

    def subject_line(self, cert: Cert) -> str:
        """The subject on one line in RFC 2253 form, as ocsp-proxy logs and reports it
        ("CN=Test Issuing CA,O=ocsp-proxy tests")."""
        out = openssl("x509", "-in", str(cert.pem), "-noout", "-subject", "-nameopt", "RFC2253",
                      cwd=self.dir)
        return out.strip().removeprefix("subject=")

    def not_after(self, cert: Cert) -> datetime.datetime:
        out = openssl("x509", "-in", str(cert.pem), "-noout", "-enddate", cwd=self.dir)
        t = datetime.datetime.strptime(" ".join(out.strip().removeprefix("notAfter=").split()),
                                       "%b %d %H:%M:%S %Y GMT")
        return t.replace(tzinfo=datetime.timezone.utc)

    def spki_sha256(self, cert: Cert) -> str:
        """SHA-256 of the certificate's DER SubjectPublicKeyInfo, lower-case hex: what
        `openssl x509 -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum` prints."""
        public = self.dir / f"{cert.name}.pub.pem"
        public.write_text(openssl("x509", "-in", str(cert.pem), "-pubkey", "-noout",
                                  cwd=self.dir))
        der = openssl("pkey", "-pubin", "-in", public.name, "-outform", "DER", cwd=self.dir,
                      binary=True)
        return hashlib.sha256(der).hexdigest()

    def der(self, cert: Cert) -> bytes:
        """The certificate in DER, as an AIA caIssuers URL serves it."""
        return openssl("x509", "-in", str(cert.pem), "-outform", "DER", cwd=self.dir,
                       binary=True)

    # -- building blocks ----------------------------------------------------------------

    def _key(self, name: str, key_type: str) -> Path:
        key = self.dir / f"{name}.key"
        if key_type == "rsa":
            openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                    "-out", key.name, cwd=self.dir)
        else:
            openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-out", key.name, cwd=self.dir)
        return key

    def _self_signed(self, name: str, subject: str, key_type: str = "rsa") -> Cert:
        key = self._key(name, key_type)
        serial = _random_serial()
        pem = self.dir / f"{name}.pem"
        openssl("req", "-new", "-x509", "-config", "req.cnf", "-key", key.name, "-subj", subject,
                "-days", str(CERT_DAYS * 10), "-set_serial", f"0x{serial}", "-sha256",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                "-out", pem.name, cwd=self.dir)
        return Cert(name, pem, key, serial, subject)

    def _issue(self, name: str, subject: str, issuer: Cert, profile: str,
               key_type: str = "rsa") -> Cert:
        key = self._key(name, key_type)
        csr = self.dir / f"{name}.csr"
        pem = self.dir / f"{name}.pem"
        serial = _random_serial()
        openssl("req", "-new", "-config", "req.cnf", "-key", key.name, "-subj", subject,
                "-out", csr.name, cwd=self.dir)
        openssl("x509", "-req", "-in", csr.name, "-CA", issuer.pem.name, "-CAkey", issuer.key.name,
                "-set_serial", f"0x{serial}", "-days", str(CERT_DAYS), "-sha256",
                "-extfile", f"{profile}.ext", "-extensions", "ext", "-out", pem.name, cwd=self.dir)
        csr.unlink()
        return Cert(name, pem, key, serial, subject)

    @staticmethod
    def _as_leaf(cert: Cert, status: str, **kwargs) -> Leaf:
        return Leaf(**dataclasses.asdict(cert), status=status, **kwargs)

    def _revoked_entry(self, item: Cert | str) -> Leaf:
        """A CRL entry: a certificate (keeping a Leaf's revocation time and reason) or a
        bare hex serial."""
        if isinstance(item, str):
            return Leaf(f"serial {item}", Path(), Path(), item, f"/CN=serial {item}", "revoked")
        if isinstance(item, Leaf):
            return dataclasses.replace(item, status="revoked")
        return self._as_leaf(item, "revoked")

    def _leaf(self, name: str, status: str, **kwargs) -> Leaf:
        cert = self._issue(name, f"/O=ocsp-proxy tests/CN={name}.test.example", self.ica, "leaf",
                           key_type="ec")
        return self._as_leaf(cert, status, **kwargs)

    def _write_index(self, index: Path, leaves: list[Leaf],
                     default_reason: str | None = None) -> None:
        expiry = _ca_time(self.now + datetime.timedelta(days=CERT_DAYS))
        lines = []
        for leaf in leaves:
            if leaf.status == "revoked":
                revoked_at = leaf.revoked_at or (self.now - datetime.timedelta(days=2))
                revocation = _ca_time(revoked_at)
                if leaf.reason or default_reason:
                    revocation += f",{leaf.reason or default_reason}"
                lines.append(f"R\t{expiry}\t{revocation}\t{leaf.serial}\tunknown\t{leaf.subject}")
            else:
                lines.append(f"V\t{expiry}\t\t{leaf.serial}\tunknown\t{leaf.subject}")
        index.write_text("".join(f"{line}\n" for line in lines))
        index.with_name(index.name + ".attr").write_text("unique_subject = no\n")


if __name__ == "__main__":  # build one by hand for a look: python3 pki.py DIR
    import sys

    pki = Pki(Path(sys.argv[1]))
    print(pki.index.read_text(), end="")
    print(os.listdir(pki.dir))
