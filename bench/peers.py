"""The servers bench.py runs next to ocsp-proxy, each started by the bench itself on a free
127.0.0.1 port with a config generated in the run's temporary directory, never as a system
service:

  Responder  `openssl ocsp`: the CA's responder (the upstream), without -text
  Nginx      nginx: the same answers as static files, and a proxy_cache in front of an origin
  Squid      squid: a forward proxy with a memory cache, in front of an origin

Each is its own process group, so stop() also ends what it forked (`openssl ocsp -multi`
children, nginx workers, squid's kid).
"""
from __future__ import annotations

import contextlib
import os
import pwd
import resource
import signal
import subprocess
import textwrap
import urllib.error
import urllib.request
from pathlib import Path

from servers import free_port, tail, wait_until  # tests/integration


@contextlib.contextmanager
def pinned(cpus: set[int] | None):
    """Processes started inside inherit `cpus` as their CPU affinity (and every thread they
    make later); None leaves the affinity alone."""
    if not cpus:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


class Process:
    """A server in a process group of its own, with its output in `log_path`."""

    def __init__(self, args: list[str], log_path: Path, env: dict | None = None):
        self.log_path = log_path
        with open(log_path, "ab") as log:
            # a process group, not a session: `openssl ocsp -multi` calls setpgid(0, 0),
            # which a session leader may not
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, process_group=0, env=env)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self, predicate, timeout_s: float, what: str) -> None:
        """Waits for `predicate`; a server that does not come up is stopped, not left behind."""
        try:
            wait_until(predicate, timeout_s, what)
        except Exception:
            self.stop()
            raise

    def check_running(self, what: str) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {self.proc.returncode}:\n{tail(self.log_path)}")

    def stop(self) -> None:
        for sig, wait_s in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=wait_s)
                # the leader is gone; make sure nothing it forked stays behind
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
        if self.proc.poll() is None:
            self.proc.wait()


class Responder(Process):
    """`openssl ocsp` answering for the test issuing CA from `index`, signing with the
    delegated responder certificate: one process serving one connection at a time, HTTP/1.0,
    closing after each answer. Without -text: its per-exchange dumps would dominate the
    cost. Not -multi: its children log to syslog only, and the bench counts requests from
    the "Received request" lines on stderr."""

    def __init__(self, pki, index: Path, workdir: Path):
        self.port = free_port()
        args = ["openssl", "ocsp", "-index", str(index), "-port", str(self.port),
                "-rsigner", str(pki.resp.pem), "-rkey", str(pki.resp.key), "-CA", str(pki.ica.pem),
                "-ignore_err", "-ndays", "1"]
        super().__init__(args, workdir / f"responder-{self.port}.log")
        self.wait_ready(self._ready, 10, "openssl ocsp")

    def _ready(self) -> bool:
        self.check_running("openssl ocsp")
        return "waiting for OCSP client connections" in self.log_path.read_text(errors="replace")

    @property
    def requests_served(self) -> int:
        """HTTP requests it has read (its unbuffered "Received request" line per request)."""
        return self.log_path.read_text(errors="replace").count("Received request")


def _user_lines(workdir: Path) -> tuple[str, str]:
    """(nginx `user` line, squid `cache_effective_user` line). As root, nginx workers run as
    root too (they read the run's 0700 temp dir; a benchmark, not a deployment) and squid,
    which refuses root, as the `proxy` user the package made, owning its own directory."""
    if os.geteuid() != 0:
        return "", ""
    return "user root root;", "cache_effective_user proxy"


class Nginx(Process):
    """One nginx (`workers` processes) with two servers:

      static_port  the answers as static files: GET /<base64url of the request> returns the
                   DER the origin gave for it (written by put_static), like an OCSP CDN
                   serving pre-signed responses
      cache_port   proxy_cache in front of `origin_port`: GET keyed by the URI; POST keyed by
                   the request body (`proxy_cache_methods POST`), byte for byte, so a nonce
                   or a different encoding of the same CertID is a miss

    `cache_extra`: more directives for the proxy_cache location (the workload section's
    stale-serving and background-update settings).
    """

    def __init__(self, workdir: Path, workers: int, origin_port: int, cache_extra: str = ""):
        self.dir = workdir / "nginx"
        self.static_root = self.dir / "static"
        self.static_root.mkdir(parents=True)
        (self.dir / "cache").mkdir()
        self.static_port, self.cache_port = free_port(), free_port()
        user_line, _ = _user_lines(workdir)
        # open_file_cache keeps every file it serves open (the static answers and both sets
        # of proxy_cache files: 3 per CertID), so it must stay under the workers' descriptor
        # limit (the hard limit: a container may not raise it even as root), leaving room
        # for 4096 connections and their upstream sockets. Past the limit nginx silently
        # stops accepting.
        nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        open_files = max(1000, min(65536, nofile - 2 * 4096 - 1000))
        d = self.dir
        conf = d / "nginx.conf"
        conf.write_text(textwrap.dedent(f"""\
            {user_line}
            worker_processes {workers};
            worker_rlimit_nofile {nofile};
            pid {d}/nginx.pid;
            error_log {d}/error.log warn;
            daemon off;
            events {{ worker_connections 4096; multi_accept on; }}
            http {{
              access_log off;
              keepalive_requests 100000000;
              keepalive_timeout 120s;
              sendfile on;
              tcp_nopush on;
              tcp_nodelay on;
              open_file_cache max={open_files} inactive=120s;
              open_file_cache_valid 120s;
              client_body_temp_path {d}/body;
              proxy_temp_path {d}/proxy;
              fastcgi_temp_path {d}/fastcgi;
              uwsgi_temp_path {d}/uwsgi;
              scgi_temp_path {d}/scgi;
              proxy_cache_path {d}/cache levels=1:2 keys_zone=ocsp:64m max_size=4g inactive=1d
                               use_temp_path=off;
              upstream origin {{ server 127.0.0.1:{origin_port}; keepalive 32; }}
              server {{
                listen 127.0.0.1:{self.static_port} reuseport backlog=4096;
                root {self.static_root};
                default_type application/ocsp-response;
              }}
              server {{
                listen 127.0.0.1:{self.cache_port} reuseport backlog=4096;
                # the whole body in memory, so $request_body can be the POST cache key
                client_body_buffer_size 16k;
                client_max_body_size 16k;
                client_body_in_single_buffer on;
                location / {{
                  proxy_pass http://origin;
                  proxy_http_version 1.1;
                  proxy_set_header Connection "";
                  proxy_cache ocsp;
                  proxy_cache_methods GET HEAD POST;
                  proxy_cache_key "$request_method $uri $request_body";
                  proxy_cache_valid 200 1d;
                  proxy_cache_lock on;
                  {cache_extra}
                }}
              }}
            }}
            """))
        super().__init__(["nginx", "-c", str(conf)], d / "stderr.log")
        self.wait_ready(self._up, 10, "nginx")

    def _up(self) -> bool:
        self.check_running("nginx")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{self.static_port}/", timeout=1)
        except urllib.error.HTTPError:
            return True  # 403/404 for the empty root: it answers
        except OSError:
            return False
        return True

    def put_static(self, name: str, der: bytes) -> None:
        (self.static_root / name).write_bytes(der)


class Squid(Process):
    """squid 5 as a forward proxy (clients send `GET http://ocsp.test.example:PORT/<b64>`),
    caching in memory only (no cache_dir), one process (`workers 1`: squid's SMP mode needs
    a shared rock store to share a cache). `hosts` maps the origin's name to 127.0.0.1;
    `extra`: more directives (the workload section's collapsed forwarding)."""

    def __init__(self, workdir: Path, hosts: dict[str, str], extra: str = ""):
        self.dir = workdir / "squid"
        self.dir.mkdir()
        self.port = free_port()
        (self.dir / "hosts").write_text("".join(f"{ip} {name}\n" for name, ip in hosts.items()))
        _, user_line = _user_lines(workdir)
        d = self.dir
        conf = d / "squid.conf"
        conf.write_text(textwrap.dedent(f"""\
            http_port 127.0.0.1:{self.port}
            {user_line}
            pid_filename {d}/squid.pid
            cache_log {d}/cache.log
            access_log none
            cache_store_log none
            logfile_rotate 0
            coredump_dir {d}
            workers 1
            cache_mem 512 MB
            maximum_object_size_in_memory 64 KB
            memory_replacement_policy lru
            hosts_file {d}/hosts
            dns_nameservers 127.0.0.1
            pinger_enable off
            netdb_filename none
            acl localnet src 127.0.0.1/32
            http_access allow localnet
            http_access deny all
            refresh_pattern . 0 20% 4320
            client_persistent_connections on
            server_persistent_connections on
            via off
            forwarded_for delete
            shutdown_lifetime 0 seconds
            """) + extra + "\n")
        if user_line:
            proxy_user = pwd.getpwnam("proxy")
            os.chown(d, proxy_user.pw_uid, proxy_user.pw_gid)
        super().__init__(["squid", "-N", "-f", str(conf)], d / "stderr.log")
        self.wait_ready(self._up, 20, "squid")

    def _up(self) -> bool:
        self.check_running("squid")
        log = self.dir / "cache.log"
        return log.exists() and "Accepting HTTP Socket" in log.read_text(errors="replace")
