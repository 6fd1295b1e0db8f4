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
  index.txt       the responder's database in `openssl ca` format
"""
from __future__ import annotations

import dataclasses
import datetime
import os
import secrets
import subprocess
from pathlib import Path

CERT_DAYS = 365
OCSP_URL = "http://ocsp.test.example/"

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


def openssl(*args: str, cwd: Path) -> str:
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed:\n{proc.stderr}")
    return proc.stdout


def _ca_time(t: datetime.datetime) -> str:
    """UTCTime as `openssl ca` writes it in index.txt: YYMMDDHHMMSSZ."""
    return t.strftime("%y%m%d%H%M%SZ")


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

        self.index = self.dir / "index.txt"
        self._write_index([self.good, self.good2, self.revoked])

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

    def _self_signed(self, name: str, subject: str) -> Cert:
        key = self._key(name, "rsa")
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

    def _leaf(self, name: str, status: str, **kwargs) -> Leaf:
        cert = self._issue(name, f"/O=ocsp-proxy tests/CN={name}.test.example", self.ica, "leaf",
                           key_type="ec")
        return self._as_leaf(cert, status, **kwargs)

    def _write_index(self, leaves: list[Leaf]) -> None:
        expiry = _ca_time(self.now + datetime.timedelta(days=CERT_DAYS))
        lines = []
        for leaf in leaves:
            if leaf.status == "revoked":
                assert leaf.revoked_at is not None
                revocation = _ca_time(leaf.revoked_at)
                if leaf.reason:
                    revocation += f",{leaf.reason}"
                lines.append(f"R\t{expiry}\t{revocation}\t{leaf.serial}\tunknown\t{leaf.subject}")
            else:
                lines.append(f"V\t{expiry}\t\t{leaf.serial}\tunknown\t{leaf.subject}")
        self.index.write_text("\n".join(lines) + "\n")
        (self.dir / "index.txt.attr").write_text("unique_subject = no\n")


if __name__ == "__main__":  # build one by hand for a look: python3 pki.py DIR
    import sys

    pki = Pki(Path(sys.argv[1]))
    print(pki.index.read_text(), end="")
    print(os.listdir(pki.dir))
