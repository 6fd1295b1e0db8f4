"""Side-by-side benchmark of ocsp-proxy warm hits against nginx serving the same DER.

Runs inside bench/run's network namespace. Every configuration is measured in alternating
rounds (A B C A B C ...) so that drift of the machine hits all alike; the median round is
reported. Figures are ratios to nginx static in the same run.
"""
from __future__ import annotations

import argparse
import base64
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from pki import Pki  # noqa: E402
from proxy import Proxy, proxy_config, upstream  # noqa: E402
from servers import OcspResponder, RedisServer, free_port, wait_until  # noqa: E402
import ocsp_client  # noqa: E402

BINARY = ROOT / "build" / "ocsp-proxy"


def parse_wrk(out: str) -> dict:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def pct(p: str) -> float:
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": pct("50"), "p99": pct("99"),
            "non2xx": int(errors.group(1)) if errors else 0}


def wrk(url: str, connections: int, duration: int, script: Path | None) -> dict:
    args = ["wrk", "-t2" if connections >= 2 else "-t1", f"-c{connections}", f"-d{duration}s",
            "--latency"]
    if script:
        args += ["-s", str(script)]
    out = subprocess.run(args + [url], capture_output=True, text=True, check=True).stdout
    return parse_wrk(out)


def post_script(workdir: Path, body: Path) -> Path:
    script = workdir / "post.lua"
    script.write_text(textwrap.dedent(f"""\
        local f = assert(io.open("{body}", "rb"))
        wrk.method = "POST"
        wrk.body = f:read("*a")
        f:close()
        wrk.headers["Content-Type"] = "application/ocsp-request"
        """))
    return script


class Nginx:
    def __init__(self, workdir: Path, der: bytes, workers: int):
        self.root = workdir / "www"
        self.root.mkdir()
        (self.root / "resp.der").write_bytes(der)
        # nginx workers run as nobody: they must reach the file through the 0700 temp dir.
        for d in (workdir, self.root):
            d.chmod(0o755)
        (self.root / "resp.der").chmod(0o644)
        self.port = free_port()
        conf = workdir / "nginx.conf"
        conf.write_text(textwrap.dedent(f"""\
            worker_processes {workers};
            pid {workdir}/nginx.pid;
            error_log {workdir}/nginx.err warn;
            daemon off;
            events {{ worker_connections 4096; }}
            http {{
              access_log off;
              keepalive_requests 1000000;
              types {{ application/ocsp-response der; }}
              client_body_temp_path {workdir}/nginx-body;
              proxy_temp_path {workdir}/nginx-proxy;
              fastcgi_temp_path {workdir}/nginx-fastcgi;
              uwsgi_temp_path {workdir}/nginx-uwsgi;
              scgi_temp_path {workdir}/nginx-scgi;
              server {{
                listen 127.0.0.1:{self.port};
                root {self.root};
              }}
            }}
            """))
        self.proc = subprocess.Popen(["nginx", "-c", str(conf)], stdin=subprocess.DEVNULL)
        wait_until(self._up, 10, "nginx")

    def _up(self) -> bool:
        try:
            urllib.request.urlopen(self.url, timeout=1).read()
            return True
        except OSError:
            return False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/resp.der"

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds per configuration")
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ocsp-bench-"))
    stop = []
    try:
        pki = Pki(work / "pki")
        responder = OcspResponder(pki, work)
        stop.append(responder.stop)
        resolve = {"ocsp.test.example": "127.0.0.1"}
        ups = [upstream(responder.port, ["ocsp.test.example"], [pki.ica.pem])]

        def config(**overrides) -> dict:
            c = proxy_config(ups, resolve)
            c["workers"] = args.workers
            c["logging"] = {"level": "info"}  # per-request lines are debug only
            c.update(overrides)
            return c

        memory_proxy = Proxy(str(BINARY), work, config(), name="memory")
        stop.append(memory_proxy.stop)
        redis = RedisServer(work)
        stop.append(redis.stop)
        redis_cfg = config(redis={"address": f"127.0.0.1:{redis.port}"})
        redis_cfg["cache"] = dict(redis_cfg["cache"], memory_bytes=0)
        redis_proxy = Proxy(str(BINARY), work, redis_cfg, name="redis")
        stop.append(redis_proxy.stop)

        leaf = pki.good
        req = ocsp_client.make_request(pki.ica, leaf)
        body = work / "request.der"
        body.write_bytes(req)
        b64 = urllib.parse.quote(base64.b64encode(req).decode(), safe="")
        warm = {}
        for name, p in (("memory", memory_proxy), ("redis", redis_proxy)):
            r = urllib.request.Request(p.url, data=req,
                                       headers={"Content-Type": "application/ocsp-request"})
            warm[name] = urllib.request.urlopen(r, timeout=10).read()
        nginx = Nginx(work, warm["memory"], args.workers)
        stop.append(nginx.stop)
        script = post_script(work, body)

        runs = {
            "nginx static GET": (nginx.url, None),
            "ocsp-proxy memory GET": (memory_proxy.url + b64, None),
            "ocsp-proxy memory POST": (memory_proxy.url, script),
            "ocsp-proxy redis GET": (redis_proxy.url + b64, None),
            "ocsp-proxy redis POST": (redis_proxy.url, script),
        }
        results: dict[str, list[dict]] = {k: [] for k in runs}
        for _ in range(args.rounds):
            for name, (url, s) in runs.items():
                results[name].append(wrk(url, args.connections, args.duration, s))
        upstream_requests = responder.requests_served

        def median(name: str) -> dict:
            rs = results[name]
            return {k: statistics.median(r[k] for r in rs) for k in rs[0]}

        base = median("nginx static GET")["rps"]
        print(f"\nocsp-proxy bench: {args.connections} keep-alive connections, "
              f"{args.workers} workers (proxy and nginx), {args.rounds} alternating rounds "
              f"of {args.duration}s, median round; wrk on the same {os.cpu_count()} cores "
              "(no pinning)")
        print(f"{'configuration':<26}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'vs nginx':>10}{'errors':>8}")
        for name in runs:
            m = median(name)
            print(f"{name:<26}{m['rps']:>10.0f}{m['p50']:>9.2f}{m['p99']:>9.2f}"
                  f"{m['rps'] / base:>9.2f}x{int(m['non2xx']):>8}")
        print(f"upstream requests during the whole run: {upstream_requests} "
              "(1 per proxy instance expected: both warmed once)")
        return 0
    finally:
        for fn in reversed(stop):
            try:
                fn()
            except Exception:  # noqa: BLE001 - best effort teardown
                pass
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
