"""The status page (GET / on the admin listener, README "The status page"): the real proxy in
front of real `openssl ocsp` responders, with a revoked leaf asked about, the issuing CA
watched and found revoked, and an issuer whose subject holds markup; the page is rendered by
headless Chromium, and its DOM is checked for every section and the values in it."""
from __future__ import annotations

import html
import subprocess
from html.parser import HTMLParser
from pathlib import Path

from ocsp_client import curl, make_request, parse_response
from pki import OCSP_FQDN, ROOT_OCSP_FQDN
from proxy import upstream
from servers import free_port

WATCH_NAME = "test-ica"
MARKUP_FQDN = "ocsp.markup.test"
SECTIONS = ["upstreams", "offline", "revocations", "intermediates", "expiry", "cache", "crls",
            "learned"]


class Page(HTMLParser):
    """The DOM as Chromium serialised it: every element's tag, each section's heading, text
    and table rows (cell texts)."""

    def __init__(self, dom: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.title = ""
        self.headings: dict[str, str] = {}
        self.text: dict[str, str] = {}
        self.rows: dict[str, list[list[str]]] = {}
        self._stack: list[str] = []
        self._section: str | None = None
        self._cell: list[str] | None = None
        self.feed(dom)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self._stack.append(tag)
        if tag == "section":
            self._section = dict(attrs).get("id")
            self.text[self._section] = ""
            self.rows[self._section] = []
        elif tag == "tr" and self._section:
            self.rows[self._section].append([])
        elif tag in ("td", "th") and self._section:
            self._cell = []

    def handle_endtag(self, tag):
        if self._stack and self._stack[-1] == tag:
            self._stack.pop()
        if tag == "section":
            self._section = None
        elif tag in ("td", "th") and self._cell is not None and self._section:
            self.rows[self._section][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        where = self._stack[-1] if self._stack else ""
        if where == "title":
            self.title += data
        if not self._section:
            return
        self.text[self._section] += data
        if where == "h2":
            self.headings[self._section] = self.headings.get(self._section, "") + data
        if self._cell is not None:
            self._cell.append(data)

    def row(self, section: str, first: str) -> list[str]:
        """The row of `section` whose first cell is `first`."""
        found = [r for r in self.rows[section] if r and r[0] == first]
        assert found, f"no row {first!r} in #{section}: {self.rows[section]}"
        return found[0]


def chromium(tmp_path: Path, *args: str) -> str:
    """Headless Chromium on its own profile; its stdout. As root it needs --no-sandbox."""
    result = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--no-first-run", f"--user-data-dir={tmp_path / 'chromium-profile'}", *args],
        capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_status_page_shows_every_section_with_the_values_in_a_real_browser(
        pki, responder, start_responder, start_proxy, tmp_path):
    # The root's responder lists the issuing CA as revoked; an issuer with markup in its
    # subject has an upstream nobody answers for.
    root = start_responder(signer=pki.root, ca=pki.root,
                           index=pki.make_index("root_index_page.txt", revoked=[pki.ica]))
    markup_ca = pki.ca_with_ocsp("markup_ca", r"<script>alert(1)<\/script> Markup CA",
                                 f"http://{ROOT_OCSP_FQDN}:{root.port}/")
    markup_subject = pki.subject_line(markup_ca)
    assert "script" in markup_subject and "<" in markup_subject, markup_subject
    proxy = start_proxy(
        responder.port,
        extra_upstreams=[upstream(root.port, [ROOT_OCSP_FQDN], [pki.root.pem], name="testroot"),
                         upstream(free_port(), [MARKUP_FQDN], [markup_ca.pem], name="markup")],
        watch={"interval": "10s",
               "intermediates": [{"name": WATCH_NAME, "cert": str(pki.ica.pem),
                                  "parent": str(pki.root.pem),
                                  "ocsp_url": f"http://{ROOT_OCSP_FQDN}:{root.port}/"}]})
    # No revocation_log: the page keeps the recent revocations without it.
    for leaf, status in ((pki.revoked, "revoked"), (pki.good, "good")):
        answer = curl("POST", proxy.url, make_request(pki.ica, leaf))
        assert answer.status == 200 and parse_response(answer.body).cert_status == status
    proxy.wait_for_log("intermediate_revoked", name=WATCH_NAME)

    page = proxy.admin("/")
    assert page.status == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    policy = page.headers["content-security-policy"]
    assert "script-src 'none'" in policy and "default-src 'none'" in policy, policy
    # /status renders the same gathered state.
    recent = proxy.status()["recent_revocations"]
    assert [r["serial"] for r in recent["items"]] == [pki.revoked.serial.lower()], recent

    dom = Page(chromium(tmp_path, "--dump-dom", proxy.admin_url))
    assert dom.title == "ocsp-proxy status"
    for section in SECTIONS:
        assert dom.headings.get(section), f"#{section} has no <h2>: {sorted(dom.headings)}"
    # Markup in a subject is text, never an element.
    assert not [t for t in dom.tags if t.startswith("script")], dom.tags
    assert markup_subject == dom.row("expiry", markup_subject)[0]

    assert dom.row("upstreams", "testca")[2:4] == [OCSP_FQDN, "closed"]
    assert dom.row("upstreams", "markup")[2:4] == [MARKUP_FQDN, "closed"]
    served = dom.rows["revocations"][1]  # after the heading row
    assert served[1] == pki.subject_line(pki.ica)
    assert served[2:4] == [pki.revoked.serial.lower(), "keyCompromise"]
    assert served[5].startswith("127.0.0.1:"), served
    watched = dom.row("intermediates", WATCH_NAME)
    assert watched[1] == pki.subject_line(pki.ica) and watched[2] == "revoked", watched
    assert watched[4].endswith("ago)") or watched[4].endswith("(now)"), watched  # last checked
    offline = dom.row("offline", "testca")
    assert offline[1] == "2" and "(in " in offline[2], offline
    assert "no cached answers" in dom.row("offline", "markup")[2]
    # The watch's own check of the issuing CA is cached too (under testroot).
    held = sum(int(r[1]) for r in dom.rows["offline"][1:] if r[1].isdigit())
    assert dom.row("cache", "OCSP answers")[1] == str(held), dom.rows["offline"]
    assert "No CRL held." in dom.text["crls"]

    shot = tmp_path / "status-page.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", proxy.admin_url)
    image = shot.read_bytes()
    assert image.startswith(b"\x89PNG\r\n\x1a\n") and len(image) > 10_000, len(image)
