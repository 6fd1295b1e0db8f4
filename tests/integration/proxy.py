"""Runs the built ocsp-proxy with a generated YAML config and reads what it logs."""
from __future__ import annotations

import json
import re
import resource
import signal
import subprocess
from pathlib import Path

import prom_text
from ocsp_client import HttpAnswer, curl
from servers import START_TIMEOUT_S, tail, wait_until

LISTENING = re.compile(r"level=\w+ event=listening listener=(ocsp|admin) address=(\S+):(\d+)")


def to_yaml(value, indent: int = 0) -> str:
    """Block-style YAML for the plain dicts, lists and scalars a config is made of."""
    pad = " " * indent

    def scalar(v) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int):
            return str(v)
        # plain when safe: a colon inside ("host:port") is, one at the end makes a mapping key
        plain = r"[A-Za-z0-9_./](?:[A-Za-z0-9_./:-]*[A-Za-z0-9_./-])?"
        return v if re.fullmatch(plain, v) else json.dumps(v)

    lines = []
    if isinstance(value, dict):
        for key, v in value.items():
            if isinstance(v, dict) or (isinstance(v, list) and v and isinstance(v[0], dict)):
                lines.append(f"{pad}{key}:\n{to_yaml(v, indent + 2)}")
            elif isinstance(v, list):
                lines.append(f"{pad}{key}: [{', '.join(scalar(x) for x in v)}]")
            else:
                lines.append(f"{pad}{key}: {scalar(v)}")
    else:  # a list of mappings
        for item in value:
            first, *rest = to_yaml(item, indent + 2).split("\n")
            lines.append(f"{pad}- {first.lstrip()}")
            lines.extend(rest)
    return "\n".join(lines)


def upstream(port: int, fqdns: list[str], issuers: list[Path], name: str = "testca") -> dict:
    return {"name": name, "fqdns": fqdns, "port": port, "path": "/",
            "issuers": [str(p) for p in issuers]}


def proxy_config(upstreams: list[dict], resolve: dict[str, str], nonce: str = "ignore") -> dict:
    return {
        "listen": {"ocsp": "127.0.0.1:0", "admin": "127.0.0.1:0"},
        "workers": 2,
        "limits": {"max_request_bytes": "16KiB", "client_timeout": "2s",
                   "upstream_timeout": "2s", "max_upstream_response_bytes": "1MiB"},
        "cache": {"memory_bytes": "64MiB", "max_age": "7d", "no_next_update_ttl": "5m",
                  "clock_skew": "5m"},
        "nonce": nonce,
        "logging": {"level": "debug"},
        "resolve": resolve,
        "upstreams": upstreams,
        # Nothing kept across restarts unless a test asks for it with a directory of its own:
        # a machine where the service is installed has /var/lib/ocsp-proxy, the default.
        "state_dir": "none",
    }


def revocation_records(path: Path) -> list[dict]:
    """The lines of a revocation log (JSON Lines), parsed; [] while the file is missing.
    Each line must be one JSON object and the file must end with a newline."""
    if not path.exists():
        return []
    text = path.read_text()
    assert text == "" or text.endswith("\n"), f"{path} ends in a partial line: {text[-200:]!r}"
    return [json.loads(line) for line in text.splitlines()]


def wait_for_revocation_records(path: Path, count: int, timeout_s: float = 3.0) -> list[dict]:
    """The revocation log's lines once there are at least `count` (the proxy writes the log
    out at least once a second)."""
    wait_until(lambda: len(revocation_records(path)) >= count, timeout_s,
               f"{count} lines in {path}")
    return revocation_records(path)


class Proxy:
    """One ocsp-proxy process. Both listeners use port 0; the bound ports come from its
    `event=listening` log lines."""

    def __init__(self, binary: str, workdir: Path, config: dict | str, name: str = "proxy",
                 stdout=None, nofile: int | None = None):
        """`config`: a dict written as YAML, or YAML text as is. `stdout`: where the proxy's stdout goes (e.g. subprocess.PIPE, left unread); by
        default the log file, with stderr. `nofile`: the open-file limit of the process, soft
        and hard (so that the proxy cannot raise it)."""
        self.config_path = workdir / f"{name}.yaml"
        self.config_path.write_text(config if isinstance(config, str) else to_yaml(config) + "\n")
        self.log_path = workdir / f"{name}.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [binary, "--config", str(self.config_path)],
                stdout=log if stdout is None else stdout,
                stderr=subprocess.STDOUT if stdout is None else log, stdin=subprocess.DEVNULL,
                preexec_fn=None if nofile is None else
                (lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))))
        self.ports = wait_until(self._listening, START_TIMEOUT_S, "ocsp-proxy to listen")

    def _listening(self) -> dict[str, int] | None:
        ports = {m.group(1): int(m.group(3)) for m in LISTENING.finditer(self.log())}
        if len(ports) == 2:
            return ports
        if self.proc.poll() is not None:
            raise RuntimeError(f"ocsp-proxy exited with {self.proc.returncode} before "
                               f"listening:\n{tail(self.log_path)}")
        return None

    @property
    def url(self) -> str:
        """The OCSP listener's root, on the address it listens on (listen.ocsp)."""
        m = [m for m in LISTENING.finditer(self.log()) if m.group(1) == "ocsp"][0]
        host = m.group(2) if m.group(2) not in ("0.0.0.0", "[::]", "::") else "127.0.0.1"
        return f"http://{host}:{self.ports['ocsp']}/"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def memory_kib(self, field: str = "VmRSS") -> int:
        """A memory figure of the running process from /proc/<pid>/status, in KiB: VmRSS
        (resident now), VmHWM (resident peak), VmSize, ..."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name == field:
                number, unit = value.split()
                assert unit == "kB", line
                return int(number)
        raise AssertionError(f"no {field} in /proc/{self.pid}/status")

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['admin']}/"

    def admin(self, path: str) -> HttpAnswer:
        """GET /path on the admin listener."""
        return curl("GET", self.admin_url + path.lstrip("/"), content_type=None)

    def status(self) -> dict:
        """/status, parsed."""
        answer = self.admin("status")
        assert answer.status == 200, answer
        assert answer.headers["content-type"] == "application/json", answer.headers
        return json.loads(answer.body)

    def metrics(self) -> dict[prom_text.Series, float]:
        """/metrics, parsed strictly (prom_text.parse raises on anything a scraper could
        reject or misread)."""
        answer = self.admin("metrics")
        assert answer.status == 200, answer
        return prom_text.parse(answer.body.decode())

    def sighup(self) -> None:
        self.proc.send_signal(signal.SIGHUP)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_lines(self, event: str) -> list[str]:
        return [line for line in self.log().splitlines() if f" event={event}" in line]

    def wait_for_log(self, event: str, timeout_s: float = 3.0, **fields: str) -> str:
        """The first log line of `event` that has all `fields` (key=value)."""
        def find():
            for line in self.log_lines(event):
                if all(re.search(rf"(^| ){k}=\"?{re.escape(v)}\b", line)
                       for k, v in fields.items()):
                    return line
            return None
        try:
            return wait_until(find, timeout_s, f"a log line event={event} {fields}")
        except TimeoutError as e:
            raise AssertionError(f"{e}\nproxy log:\n{tail(self.log_path)}") from None

    def log_tail(self) -> str:
        return tail(self.log_path)

    def terminate(self, timeout_s: float = 5.0) -> int:
        """SIGTERM, as systemd stops it; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"ocsp-proxy ignored SIGTERM for {timeout_s}s") from None
        return self.proc.returncode

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
