"""Real OCSP clients as relying parties run them: GnuTLS `ocsptool`, NSS `vfychain` and
`ocspclnt`, and a Java PKIX validator (java/RevocationCheck.java). Each driver asks about
one leaf of the test PKI (tests/integration/pki.py) and returns the client's verdict with
its output.

Where a client gets its URL from:
  - `url`: the responder URL given on the command line (ocsptool --ask URL, ocspclnt -l URL,
    Java setOcspResponder); the proxy's root in responder mode;
  - None: the leaf's AIA OCSP URL (http://ocsp.test.example/), resolved through /etc/hosts
    (conftest.py `hosts`): vfychain always, ocsptool and Java when no URL is given.
And through which HTTP proxy (`proxy`, "host:port"): only Java (http.proxyHost); GnuTLS and
NSS have no HTTP proxy setting for OCSP, so they reach the proxy by URL or by name only.
"""
from __future__ import annotations

import dataclasses
import re
import subprocess
from pathlib import Path

from pki import Cert, Pki

CLIENT_TIMEOUT_S = 30
JAVA_SOURCE = Path(__file__).parent / "java" / "RevocationCheck.java"


@dataclasses.dataclass
class Verdict:
    verdict: str      # "good", "revoked" or "error"
    returncode: int
    output: str       # stdout and stderr together
    command: list[str]

    def __str__(self) -> str:
        return f"{' '.join(self.command)}\n-> {self.verdict} (exit {self.returncode})\n{self.output}"


def _run(command: list[str], env: dict | None = None) -> tuple[int, str]:
    proc = subprocess.run(command, capture_output=True, text=True, timeout=CLIENT_TIMEOUT_S,
                          stdin=subprocess.DEVNULL, env=env)
    return proc.returncode, proc.stdout + proc.stderr


# -- GnuTLS ---------------------------------------------------------------------------------

def gnutls(pki: Pki, leaf: Cert, url: str | None, nonce: bool = False) -> Verdict:
    """`ocsptool --ask [URL]`: asks by POST, verifies the answer against the issuer (a
    delegated responder must be issued by it). With --nonce it sends one and refuses an
    answer that does not carry it back ("nonce in the response doesn't match")."""
    command = ["ocsptool", f"--ask={url}" if url else "--ask", "--load-cert", str(leaf.pem),
               "--load-issuer", str(pki.ica.pem), "--nonce" if nonce else "--no-nonce"]
    code, out = _run(command)
    # ocsptool 3.7 prints "Certificate Status: good|revoked" and "Verifying OCSP Response:
    # Success." and exits 0 for good and revoked alike; non-zero when it got no answer, the
    # answer did not verify, or (with --nonce) did not carry the nonce back.
    status = re.search(r"Certificate Status: (\w+)", out)
    verified = "Verifying OCSP Response: Success." in out
    verdict = status.group(1) if code == 0 and status and verified else "error"
    return Verdict(verdict, code, out, command)


# -- NSS ------------------------------------------------------------------------------------

class NssDb:
    """A throwaway NSS database (sql:DIR) trusting the test root as CA, holding the issuing
    CA and the delegated responder certificate (ocspclnt -t names it as the signer)."""

    def __init__(self, pki: Pki, directory: Path):
        self.pki, self.dir = pki, directory
        directory.mkdir(parents=True, exist_ok=True)
        self.spec = f"sql:{directory}"
        self._certutil("-N", "--empty-password")
        self._certutil("-A", "-n", "root", "-t", "CT,C,C", "-a", "-i", str(pki.root.pem))
        self._certutil("-A", "-n", "ica", "-t", ",,", "-a", "-i", str(pki.ica.pem))
        self._certutil("-A", "-n", "resp", "-t", ",,", "-a", "-i", str(pki.resp.pem))

    def _certutil(self, *args: str) -> None:
        code, out = _run(["certutil", "-d", self.spec, *args])
        if code != 0:
            raise RuntimeError(f"certutil {' '.join(args)} failed:\n{out}")

    def vfychain(self, leaf: Cert) -> Verdict:
        """`vfychain -pp` (CERT_PKIXVerifyCert), OCSP for the leaf only, fresh information
        required: the URL comes from the leaf's AIA (NSS has no responder URL option here)."""
        command = ["vfychain", "-d", self.spec, "-pp", "-vv", "-u", "1",
                   "-g", "leaf", "-h", "requireFreshInfo", "-m", "ocsp", "-s", "failIfNoInfo",
                   "-a", str(leaf.pem), "-a", str(self.pki.ica.pem)]
        code, out = _run(command)
        if "Chain is good!" in out and code == 0:
            verdict = "good"
        elif "ERROR -8180:" in out:  # SEC_ERROR_REVOKED_CERTIFICATE
            verdict = "revoked"
        else:
            verdict = "error"
        return Verdict(verdict, code, out, command)

    def ocspclnt(self, leaf: Cert, url: str) -> Verdict:
        """`ocspclnt -S`: the status of the leaf, answers signed by the delegated responder
        (-t resp). NSS 3.87 asks the leaf's AIA URL when the leaf has one: `url` (-l, the
        default responder) is then not used. Exits 0 whatever the status; prints
        'Check of certificate "..." succeeded.' or '... failed.  Reason:' and the error."""
        command = ["ocspclnt", "-d", self.spec, "-S", str(leaf.pem), "-a", "-l", url,
                   "-t", "resp"]
        code, out = _run(command)
        if code == 0 and re.search(r'Check of certificate ".*" succeeded\.', out):
            verdict = "good"
        elif "has been revoked" in out:
            verdict = "revoked"
        else:
            verdict = "error"
        return Verdict(verdict, code, out, command)


# -- Java -----------------------------------------------------------------------------------

class Java:
    """java/RevocationCheck.java, compiled once into `directory`."""

    def __init__(self, directory: Path):
        self.dir = directory
        code, out = _run(["javac", "-d", str(directory), str(JAVA_SOURCE)])
        if code != 0:
            raise RuntimeError(f"javac {JAVA_SOURCE} failed:\n{out}")

    def check(self, pki: Pki, leaf: Cert, url: str | None = None, proxy: str | None = None,
              nonce: bool = False, jvm_options: list[str] | None = None) -> Verdict:
        """PKIX validation of leaf <- issuing CA <- root with PKIXRevocationChecker
        (ONLY_END_ENTITY, NO_FALLBACK). `url`: setOcspResponder, else the ocsp.responderURL
        security property if set, else the leaf's AIA URL; `proxy` ("host:port"):
        -Dhttp.proxyHost/Port; `nonce`: jdk.security.certpath.ocspNonce; `jvm_options`: more
        options for the JVM (e.g. -Djava.security.properties=FILE).
        Java asks by GET (the request appended to the URL's path) when the encoded request is
        short, as it is for one CertID without nonce; by POST otherwise."""
        props = []
        if proxy:
            host, port = proxy.rsplit(":", 1)
            props += [f"-Dhttp.proxyHost={host}", f"-Dhttp.proxyPort={port}"]
        if nonce:
            props.append("-Djdk.security.certpath.ocspNonce=true")
        props += jvm_options or []
        command = ["java", "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp", str(self.dir),
                   *props, "RevocationCheck", str(leaf.pem), str(pki.ica.pem),
                   str(pki.root.pem), *(["--responder", url] if url else [])]
        code, out = _run(command)
        m = re.search(r"^verdict: (good|revoked|error)", out, re.M)
        return Verdict(m.group(1) if m else "error", code, out, command)
