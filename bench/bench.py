"""ocsp-proxy next to what users would otherwise put in front of the CA responders:
nginx serving the answers as static files, nginx proxy_cache, a Squid forward cache, and the
CA responder itself (`openssl ocsp`), all on this machine in one run.

Runs inside bench/run's network namespace (loopback only). Sections (--only):

  hits       warm hits, wrk with bench/requests.lua cycling through --requests distinct
             CertIDs, every configuration in alternating rounds (A B C ... A B C ...), the
             median round reported as a ratio to nginx static; then a paced run (fixed
             offered rate) for p99 at 200 connections: wrk pausing between requests, and
             with --paced-load an open loop (bench/paced_load.cc)
  miss       one request at a time for never-seen CertIDs: ocsp-proxy (miss, upstream
             fetch, validation, store) against asking `openssl ocsp` directly, interleaved
  coalesce   1,000 requests for one uncached CertID at the same moment: upstream requests
  scaling    1 worker against 2 workers on hits, with the server pinned and unpinned
  memory     resident size at --memory-entries cached responses against the DER held
  million    (only when asked) 1,000,000 distinct CertIDs into a cache with a byte bound
  workload   (only when asked) a hospital's day replayed in minutes against every peer, each
             in front of its own time-scaled CA (bench/day.py)

Server processes and the load generator are pinned to different CPUs when there are at
least two; otherwise the report says they share. It measures; it asserts nothing (but it
checks that every peer answers every request with the same DER the origin gave).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))

import day  # noqa: E402
import httpload  # noqa: E402
import ocsp_client  # noqa: E402
import probes  # noqa: E402
import workload  # noqa: E402
from peers import Nginx, Responder, Squid, pinned  # noqa: E402
from pki import OCSP_FQDN, Pki  # noqa: E402
from proxy import Proxy, proxy_config, upstream  # noqa: E402
from servers import RedisServer  # noqa: E402

LUA = BENCH / "requests.lua"
SECTIONS = ("hits", "miss", "coalesce", "scaling", "memory", "million", "workload")


# -- wrk ----------------------------------------------------------------------------------

def pinned_to(cpus: set[int] | None, args: list[str]) -> list[str]:
    """`args` run on `cpus` (taskset), or as they are when not pinned."""
    return ["taskset", "-c", ",".join(map(str, sorted(cpus))), *args] if cpus else args


class Load:
    """How wrk is run: its CPUs and thread count, and the CPUs of the servers."""

    def __init__(self, server_cpus: set[int] | None, client_cpus: set[int] | None,
                 threads: int, duration_s: int):
        self.server_cpus, self.client_cpus = server_cpus, client_cpus
        self.threads, self.duration_s = threads, duration_s
        self.load_samples: list[float] = []  # 1-minute load average after each wrk run

    def wrk_command(self, url: str, connections: int, lua_args: list[str],
                    duration_s: int | None = None, cpus: set[int] | None | str = "default",
                    threads: int | None = None) -> list[str]:
        cpus = self.client_cpus if cpus == "default" else cpus
        threads = min(threads or self.threads, connections)
        args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration_s or self.duration_s}s",
                "--timeout", "10s", "-s", str(LUA), url, "--", *lua_args]
        return pinned_to(cpus, args)

    def wrk(self, url: str, connections: int, lua_args: list[str], **kwargs) -> dict:
        """One wrk run to its end; its figures."""
        args = self.wrk_command(url, connections, lua_args, **kwargs)
        proc = subprocess.run(args, capture_output=True, text=True)
        self.load_samples.append(float(load_average().split()[0]))
        return parse_wrk(args, proc.returncode, proc.stdout, proc.stderr)

    def paced(self, binary: str, port: int, connections: int, rate: float,
              lua_args: list[str]) -> dict:
        """One open-loop run of bench/paced_load.cc (each connection's requests due at
        exponential intervals; latency from when a request was due) on wrk's CPUs."""
        options = dict(a.split("=", 1) for a in lua_args)
        args = [binary, "--port", str(port), "--connections", str(connections),
                "--rate", f"{rate:.0f}", "--duration", str(self.duration_s),
                "--mode", options["mode"], "--file", options["file"]]
        if "prefix" in options:
            args += ["--prefix", options["prefix"]]
        args = pinned_to(self.client_cpus, args)
        proc = subprocess.run(args, capture_output=True, text=True)
        self.load_samples.append(float(load_average().split()[0]))
        if proc.returncode != 0 or "BENCH " not in proc.stdout:
            raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n"
                               f"{proc.stdout}\n{proc.stderr}")
        f = json.loads(proc.stdout.split("BENCH ", 1)[1].splitlines()[0])
        ms = {k[:-3]: v / 1000 for k, v in f.items() if k.endswith("_us")}
        return {"rps": f["requests"] / (f["duration_us"] / 1e6), "requests": f["requests"],
                "errors": f["errors_status"] + f["errors_io"] + f["unanswered"],
                "p50": ms["latency_p50"], "p90": ms["latency_p90"], "p99": ms["latency_p99"],
                "max": ms["latency_max"], "p999": ms["latency_p999"], "wire_p50": ms["wire_p50"],
                "wire_p99": ms["wire_p99"], "lag_p99": ms["lag_p99"], "lag_max": ms["lag_max"]}


def median_p99(rounds: list[dict]) -> dict:
    """The round with the median p99 (its own figures), and every round's p99."""
    ordered = sorted(rounds, key=lambda r: r["p99"])
    return dict(ordered[len(ordered) // 2], rounds_p99=[r["p99"] for r in rounds])


def parse_wrk(args: list[str], returncode: int, out: str, err: str) -> dict:
    if returncode != 0 or "BENCH " not in out:
        raise RuntimeError(f"{' '.join(args)} failed ({returncode}):\n{out}\n{err}")
    figures = json.loads(out.split("BENCH ", 1)[1].splitlines()[0])
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = sum(v for k, v in figures.items() if k.startswith("errors_") and k != "errors_status")
    return {"rps": figures["requests"] / (figures["duration_us"] / 1e6),
            "p50": figures["p50_us"] / 1000, "p90": figures["p90_us"] / 1000,
            "p99": figures["p99_us"] / 1000, "max": figures["max_us"] / 1000,
            "requests": figures["requests"],
            "errors": errors + (int(non2xx.group(1)) if non2xx else 0)}


def median_round(rounds: list[dict]) -> dict:
    """The round with the median req/s (its own latencies: percentiles of different rounds
    are not mixed)."""
    ordered = sorted(rounds, key=lambda r: r["rps"])
    median = ordered[len(ordered) // 2]
    spread = (ordered[-1]["rps"] - ordered[0]["rps"]) / median["rps"] if median["rps"] else 0
    return dict(median, spread=spread, best=ordered[-1]["rps"],
                rounds=[r["rps"] for r in rounds])


# -- set-up -------------------------------------------------------------------------------

def cpu_split(no_pin: bool) -> tuple[set[int] | None, set[int] | None, str]:
    """(server CPUs, load-generator CPUs, a sentence for the report)."""
    cpus = sorted(os.sched_getaffinity(0))
    if no_pin:
        return None, None, f"no pinning (--no-pin): servers and wrk share CPUs {cpus}"
    if len(cpus) < 2:
        return None, None, f"could not pin: only CPU {cpus} is available, servers and wrk share it"
    half = len(cpus) // 2
    client, server = set(cpus[:half]), set(cpus[half:])
    return server, client, (f"servers pinned to CPU {sorted(server)}, wrk to CPU "
                            f"{sorted(client)} (taskset); the Python helpers (warm-up, miss "
                            "timing) run on wrk's CPUs")


class Run:
    """Everything one run starts, stopped in reverse order at the end."""

    def __init__(self, args, work: Path):
        self.args, self.work = args, work
        self._stop: list = []
        self.binary = str(Path(args.binary).resolve())
        self.baseline = str(Path(args.baseline).resolve()) if args.baseline else None

    def keep(self, server):
        self._stop.append(server.stop)
        return server

    def stop_all(self) -> None:
        for fn in reversed(self._stop):
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - best-effort teardown
                print(f"bench: teardown: {e}", file=sys.stderr)

    def proxy(self, name: str, upstream_port: int, issuers: list[Path], workers: int,
              cpus: set[int] | None, memory_bytes: str | int = "256MiB",
              redis_port: int | None = None, binary: str | None = None,
              redis_prefix: str | None = None) -> Proxy:
        config = proxy_config([upstream(upstream_port, [OCSP_FQDN], issuers)],
                              {OCSP_FQDN: "127.0.0.1"})
        config["workers"] = workers
        config["logging"] = {"level": "info"}  # per-request lines are debug only
        config["cache"] = dict(config["cache"], memory_bytes=memory_bytes)
        config["limits"] = dict(config["limits"], client_timeout="120s")
        if redis_port:
            config["redis"] = {"address": f"127.0.0.1:{redis_port}"}
            if redis_prefix:
                config["redis"]["key_prefix"] = redis_prefix
        with pinned(cpus):
            return self.keep(Proxy(binary or self.binary, self.work, config, name=name))


def metric(proxy: Proxy, name: str) -> float:
    """The sum of every series of one metric on the proxy's /metrics; `name` may carry the
    start of a label set (`ocsp_proxy_heap_bytes{state="free"`) to pick series."""
    text = urllib.request.urlopen(proxy.admin_url + "metrics", timeout=10).read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and line[len(name)] in "{} ":
            total += float(line.rsplit(" ", 1)[1])
    return total


def redis_stats(redis: RedisServer) -> tuple[int, int]:
    """redis-server's commands processed and socket reads so far: their ratio over a run is
    how many commands a read brought, i.e. how well the proxy pipelines its GETs."""
    stats = dict(line.split(":", 1) for line in redis.cli("INFO", "stats").splitlines()
                 if ":" in line)
    return int(stats["total_commands_processed"]), int(stats["total_reads_processed"])


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for pid {pid}")


def check_answers(what: str, answers: list[httpload.Answer], expected: list[bytes]) -> None:
    bad = [i for i, (a, der) in enumerate(zip(answers, expected))
           if a.status != 200 or a.body != der]
    if bad:
        a = answers[bad[0]]
        raise RuntimeError(f"{what}: {len(bad)} of {len(answers)} answers differ from the "
                           f"origin's DER; first #{bad[0]}: HTTP {a.status} {a.body[:200]!r}")


# -- the hits section ---------------------------------------------------------------------

def section_hits(run: Run, load: Load, pki: Pki, requests: list[workload.Request],
                 responder: Responder, server_cpus, client_cpus, report: dict) -> None:
    args, work = run.args, run.work
    workers = args.workers
    post_file, get_file = workload.write_wrk_files(work, requests)
    print(f"bench: hits: {len(requests)} distinct CertIDs, {workers} worker(s) per server",
          file=sys.stderr)

    # The origin: what a CA's OCSP CDN is to nginx and Squid (RFC 5019 caching headers, one
    # signed answer per CertID). It is an ocsp-proxy in front of `openssl ocsp`, warmed
    # once, so that the caches in front of it fill fast; it is idle while hits are measured.
    origin = run.proxy("origin", responder.port, [pki.ica.pem], workers, server_cpus)
    origin_host = f"{OCSP_FQDN}:{origin.ports['ocsp']}"
    with pinned(client_cpus):
        answers = httpload.one_pass("127.0.0.1", origin.ports["ocsp"],
                                    [httpload.post("/", origin_host, r.der) for r in requests])
    if any(a.status != 200 for a in answers):
        raise RuntimeError(f"origin warm-up: {sum(a.status != 200 for a in answers)} failures")
    ders = [a.body for a in answers]
    report["der_bytes_mean"] = statistics.mean(map(len, ders))

    memory = run.proxy("memory", origin.ports["ocsp"], [pki.ica.pem], workers, server_cpus)
    redis = None
    with pinned(server_cpus):
        redis = run.keep(RedisServer(work))
    redis_proxy = run.proxy("redis", origin.ports["ocsp"], [pki.ica.pem], workers, server_cpus,
                            memory_bytes=0, redis_port=redis.port)
    with pinned(server_cpus):
        nginx = run.keep(Nginx(work, workers, origin.ports["ocsp"]))
        squid = run.keep(Squid(work, {OCSP_FQDN: "127.0.0.1"}))
    for r, der in zip(requests, ders):
        nginx.put_static(r.b64url, der)

    # The same absolute-URI requests to both forward proxies. (ocsp-proxy closes the
    # connection after each: libevent's evhttp closes a "proxy request" unless the answer
    # carries Proxy-Connection: keep-alive; wrk reconnects and counts a read error.)
    forward = [f"prefix=http://{origin_host}/", f"host={origin_host}"]
    configs = {
        # name: (port, lua args, methods note)
        "nginx static GET": (nginx.static_port, ["mode=get", f"file={get_file}"]),
        "nginx proxy_cache GET": (nginx.cache_port, ["mode=get", f"file={get_file}"]),
        "nginx proxy_cache POST": (nginx.cache_port, ["mode=post", f"file={post_file}"]),
        "squid forward GET": (squid.port, ["mode=get", f"file={get_file}", *forward]),
        "ocsp-proxy memory GET": (memory.ports["ocsp"], ["mode=get", f"file={get_file}"]),
        "ocsp-proxy memory POST": (memory.ports["ocsp"], ["mode=post", f"file={post_file}"]),
        "ocsp-proxy memory forward GET": (memory.ports["ocsp"], [
            "mode=get", f"file={get_file}", *forward]),
        "ocsp-proxy redis GET": (redis_proxy.ports["ocsp"], ["mode=get", f"file={get_file}"]),
        "ocsp-proxy redis POST": (redis_proxy.ports["ocsp"], ["mode=post", f"file={post_file}"]),
    }
    if run.baseline:
        # Another build in the same alternating rounds: the way to compare two builds, since
        # runs on different days or machines differ by more than a change does.
        old = run.proxy("baseline-memory", origin.ports["ocsp"], [pki.ica.pem], workers,
                        server_cpus, binary=run.baseline)
        # its own keys in the shared redis-server: each build reads only values it wrote
        old_redis = run.proxy("baseline-redis", origin.ports["ocsp"], [pki.ica.pem], workers,
                              server_cpus, memory_bytes=0, redis_port=redis.port,
                              binary=run.baseline, redis_prefix="ocsp-proxy-baseline:")
        configs.update({
            "baseline memory GET": (old.ports["ocsp"], ["mode=get", f"file={get_file}"]),
            "baseline memory POST": (old.ports["ocsp"], ["mode=post", f"file={post_file}"]),
            "baseline redis GET": (old_redis.ports["ocsp"], ["mode=get", f"file={get_file}"]),
            "baseline redis POST": (old_redis.ports["ocsp"], ["mode=post", f"file={post_file}"]),
        })

    # Whose CPU time a configuration's answers cost: the server's (nginx with its workers),
    # and for the Redis rows the redis-server's as well, which shares the server CPUs.
    def server_pid(name: str) -> int:
        if name.startswith("nginx"):
            return nginx.proc.pid
        if name.startswith("squid"):
            return squid.proc.pid
        by_prefix = {"ocsp-proxy memory": memory, "ocsp-proxy redis": redis_proxy}
        if run.baseline:
            by_prefix.update({"baseline memory": old, "baseline redis": old_redis})
        return next(p.proc.pid for k, p in by_prefix.items() if name.startswith(k))

    # Warm every cache with one pass over every request in its own method and form, and
    # check each answer is the origin's DER byte for byte.
    def raw_for(lua_args: list[str], r: workload.Request, port: int) -> bytes:
        o = dict(a.split("=", 1) for a in lua_args)
        host = o.get("host", f"127.0.0.1:{port}")
        extra = o["header"] + "\r\n" if "header" in o else ""
        if o["mode"] == "post":
            return httpload.post(o.get("prefix", "/"), host, r.der, extra)
        return httpload.get(o.get("prefix", "/") + r.b64url, host, extra)

    for name, (port, lua_args) in configs.items():
        t0 = time.monotonic()
        with pinned(client_cpus):
            answers = httpload.one_pass("127.0.0.1", port,
                                        [raw_for(lua_args, r, port) for r in requests])
        check_answers(name, answers, ders)
        print(f"bench: warmed {name} ({time.monotonic() - t0:.1f}s)", file=sys.stderr)

    origin_requests_before = metric(origin, "ocsp_proxy_requests_total")
    # Redis hits that waited longer than redis.command_timeout go upstream (to the origin)
    misses_before = {p: metric(p, "ocsp_proxy_cache_misses_total") for p in (memory, redis_proxy)}
    upstream_before = responder.requests_served
    # A second short pass of wrk per configuration: connections, page cache, CPU caches.
    for name, (port, lua_args) in configs.items():
        load.wrk(f"http://127.0.0.1:{port}/", 50, lua_args, duration_s=1)

    results: dict[int, dict[str, list[dict]]] = {}
    for connections in args.connections:
        results[connections] = {name: [] for name in configs}
        for round_number in range(args.rounds):
            print(f"bench: hits: {connections} connections, round {round_number + 1}/"
                  f"{args.rounds}", file=sys.stderr)
            for name, (port, lua_args) in configs.items():
                uses_redis = " redis " in name
                stats_before = redis_stats(redis) if uses_redis else None
                pids = [server_pid(name)] + ([redis.proc.pid] if uses_redis else [])
                result, cpu_us = probes.cpu_per_answer(
                    lambda: load.wrk(f"http://127.0.0.1:{port}/", connections, lua_args), *pids)
                result["cpu_us"] = cpu_us[0]
                if uses_redis:
                    commands, reads = (after - before for after, before in
                                       zip(redis_stats(redis), stats_before))
                    result["redis_cpu_us"] = cpu_us[1]
                    result["redis_commands_per_read"] = commands / max(1, reads)
                if result["errors"] or not result["requests"]:
                    print(f"bench: {name}: {result['requests']} requests, {result['errors']} "
                          "errors", file=sys.stderr)
                results[connections][name].append(result)
    report["hits"] = {c: {name: median_round(rs) for name, rs in by_name.items()}
                      for c, by_name in results.items()}
    report["origin_requests_during_hits"] = (metric(origin, "ocsp_proxy_requests_total")
                                             - origin_requests_before)
    report["upstream_requests_during_hits"] = responder.requests_served - upstream_before
    report["misses_during_hits"] = {name: metric(p, "ocsp_proxy_cache_misses_total")
                                    - misses_before[p]
                                    for name, p in (("memory", memory), ("redis", redis_proxy))}

    # Latency at a fixed offered rate: with a closed loop (wrk's default) every connection
    # always has a request in flight, so mean latency = connections / throughput (Little's
    # law) whatever the server does; a p99 target at 200 connections needs an open rate.
    paced = {}
    most = report["hits"][max(report["hits"])]  # the run with the most connections
    rate = args.paced_rate or most["nginx static GET"]["rps"] / 2
    delay_ms = max(1, round(200 * 1000 / rate))
    open_loop = {}
    for name in ("nginx static GET", "ocsp-proxy memory GET", "ocsp-proxy memory POST"):
        port, lua_args = configs[name]
        rounds = [load.wrk(f"http://127.0.0.1:{port}/", 200, lua_args + [f"delay_ms={delay_ms}"])
                  for _ in range(args.rounds)]
        paced[name] = median_round(rounds)
        if args.paced_load:
            rounds = [load.paced(args.paced_load, port, 200, rate, lua_args)
                      for _ in range(args.rounds)]
            open_loop[name] = median_p99(rounds)
    report["paced"] = {"connections": 200, "delay_ms": delay_ms, "offered": rate,
                       "results": paced, "open_loop": open_loop}


# -- report -------------------------------------------------------------------------------

METHODS = {
    "nginx static GET": "GET (file per request)",
    "nginx proxy_cache GET": "GET",
    "nginx proxy_cache POST": "POST, key = body bytes",
    "squid forward GET": "GET only (no POST caching)",
    "ocsp-proxy memory GET": "GET and POST",
    "ocsp-proxy memory POST": "GET and POST",
    "ocsp-proxy memory forward GET": "absolute-URI GET and POST",
    "ocsp-proxy redis GET": "GET and POST",
    "ocsp-proxy redis POST": "GET and POST",
    "baseline memory GET": "(--baseline build)",
    "baseline memory POST": "(--baseline build)",
    "baseline redis GET": "(--baseline build)",
    "baseline redis POST": "(--baseline build)",
}


def markdown(report: dict) -> str:
    out = []
    w = out.append
    w(f"Measured {report['date']} on {report['machine']} (`{report['command']}`).")
    w(f"Load average (1, 5, 15 min) before the run: {report['load_before']}; after: "
      f"{report['load_after']}"
      + (f"; 1-minute load after each wrk run: median {report['load_median']:.2f}, "
         f"max {report['load_max']:.2f}" if "load_max" in report else "")
      + f" (this machine has {os.cpu_count()} CPUs: anything above what the bench itself "
      "runs means other work shared the CPUs).")
    line = (f"CPUs: {report['pinning']}. {report['workers']} worker(s) per server "
            "(ocsp-proxy, nginx; Squid runs one process)")
    if "hits" in report:
        line += (f"; wrk {report['wrk_threads']} thread(s); {report['rounds']} alternating "
                 f"rounds of {report['duration_s']} s, median round shown; "
                 f"{report['requests']:,} distinct CertIDs cycled by `bench/requests.lua`; "
                 f"answers of {report['der_bytes_mean']:.0f} bytes")
    w(line + ".")
    w("")
    if "hits" in report:
        for connections, by_name in report["hits"].items():
            base = by_name["nginx static GET"]["rps"]
            w(f"**Warm hits, {connections} keep-alive connections**")
            w("")
            best_base = by_name["nginx static GET"]["best"]
            w("| server, request | can cache | req/s | p50 ms | p99 ms | vs nginx static | "
              "best round req/s | best vs best | spread | server CPU µs per answer |")
            w("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
            for name, m in by_name.items():
                errors = f" ({m['errors']:,} errors)" if m["errors"] else ""
                cpu = f"{m['cpu_us']:.1f}" if "cpu_us" in m else "–"
                if "redis_cpu_us" in m:
                    cpu += (f" + {m['redis_cpu_us']:.1f} redis-server "
                            f"({m['redis_commands_per_read']:.1f} commands per read)")
                w(f"| {name}{errors} | {METHODS[name]} | {m['rps']:,.0f} | {m['p50']:.2f} | "
                  f"{m['p99']:.2f} | {m['rps'] / base:.2f}× | {m['best']:,.0f} | "
                  f"{m['best'] / best_base:.2f}× | {m['spread'] * 100:.0f}% | {cpu} |")
            if "baseline memory GET" in by_name:
                pairs = [(f"ocsp-proxy {k}", f"baseline {k}")
                         for k in ("memory GET", "memory POST", "redis GET", "redis POST")]
                w("This build against the `--baseline` build, same rounds (median / best): "
                  + "; ".join(f"{k.removeprefix('ocsp-proxy ')} "
                              f"{by_name[k]['rps'] / by_name[b]['rps']:.2f}× / "
                              f"{by_name[k]['best'] / by_name[b]['best']:.2f}×"
                              for k, b in pairs) + ".")
            w("")
        w("req/s, p50 and p99 are those of the median round; best round: the fastest one "
          "(other work on the machine only ever slows a run down, so best against best is the "
          "less disturbed ratio); spread: (fastest − slowest) / median; server CPU: user and "
          "system time of the server's processes (all threads) over the median round, per "
          "answer, and for Redis rows the redis-server's too, with how many GETs each of "
          "its socket reads brought. Errors (socket "
          "errors and non-2xx answers, as wrk counts them) are shown next to a row's name "
          "when there were any.")
        w("")
        w(f"Requests reaching the origin during the measured hit runs: "
          f"{report['origin_requests_during_hits']:.0f}; reaching `openssl ocsp`: "
          f"{report['upstream_requests_during_hits']}; misses of the in-process ocsp-proxy: "
          f"{report['misses_during_hits']['memory']:.0f}, of the Redis one: "
          f"{report['misses_during_hits']['redis']:.0f} (a Redis GET slower than "
          "redis.command_timeout, 250 ms, goes upstream).")
        w("")
        p = report["paced"]
        w(f"**Paced: {p['connections']} connections, each pausing {p['delay_ms']} ms between "
          f"requests** (offered about {p['offered']:,.0f} req/s, half of what nginx static "
          "served closed-loop unless --paced-rate; latency is then the server's, not a queue's)")
        w("")
        w("| server, request | req/s offered and served | p50 ms | p90 ms | p99 ms | max ms |")
        w("| --- | ---: | ---: | ---: | ---: | ---: |")
        for name, m in p["results"].items():
            w(f"| {name} | {m['rps']:,.0f} | {m['p50']:.2f} | {m['p90']:.2f} | {m['p99']:.2f} | "
              f"{m['max']:.2f} |")
        w("")
        if p.get("open_loop"):
            w(f"**Open loop: {p['connections']} connections, requests due at exponential "
              f"intervals, {p['offered']:,.0f} req/s offered in all** (bench/paced_load.cc; "
              "latency from when a request was due, so a client kept waiting by a busy "
              "connection counts its wait; wire: from when it was sent; client lag: how late "
              "the load generator itself sent, its own CPU's delay; median round by p99, "
              "every round's p99 after it)")
            w("")
            w("| server, request | served req/s | p50 ms | p99 ms | p99.9 ms | max ms | "
              "wire p50 / p99 ms | client lag p99 / max ms | p99 of each round |")
            w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
            for name, m in p["open_loop"].items():
                errors = f" ({m['errors']} errors)" if m["errors"] else ""
                w(f"| {name}{errors} | {m['rps']:,.0f} | {m['p50']:.2f} | {m['p99']:.2f} | "
                  f"{m['p999']:.2f} | {m['max']:.2f} | {m['wire_p50']:.2f} / "
                  f"{m['wire_p99']:.2f} | {m['lag_p99']:.2f} / {m['lag_max']:.2f} | "
                  + ", ".join(f"{v:.2f}" for v in m["rounds_p99"]) + " |")
            w("")
    for key in ("miss", "coalesce", "scaling", "memory", "million"):
        if key in report:
            w(probes.markdown(key, report[key]))
            w("")
    if "workload" in report:
        w(day.markdown(report["workload"]))
        w("")
    return "\n".join(out)


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> int:
    # SIGTERM (timeout, kill) ends the run through the finally below, which stops every
    # server it started
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=str(ROOT / "build-bench" / "ocsp-proxy"),
                    help="the ocsp-proxy to measure (bench/run builds build-bench/, release)")
    ap.add_argument("--baseline", default=None, metavar="PATH",
                    help="another ocsp-proxy build measured in the same hit rounds (memory "
                         "and Redis hits), with its ratio to this one")
    ap.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds per configuration")
    ap.add_argument("--connections", default="50,200",
                    help="comma-separated keep-alive connection counts for the hit runs")
    ap.add_argument("--requests", type=int, default=10000, help="distinct CertIDs cycled by wrk")
    ap.add_argument("--workers", type=int, default=0,
                    help="worker threads/processes per server; 0 = one per server CPU")
    ap.add_argument("--paced-load", default=None, metavar="PATH",
                    help="bench/paced_load.cc's binary (bench/run builds it): adds open-loop "
                         "rows to the paced run")
    ap.add_argument("--paced-rate", type=float, default=0,
                    help="offered req/s of the paced run (200 connections); 0 = half of what "
                         "nginx static served closed-loop")
    ap.add_argument("--miss-requests", type=int, default=300,
                    help="misses timed (and as many direct requests)")
    ap.add_argument("--burst", type=int, default=1000, help="concurrent requests for one CertID")
    ap.add_argument("--memory-entries", type=int, default=100000)
    ap.add_argument("--million-entries", type=int, default=1000000)
    ap.add_argument("--million-bytes", default="2GiB",
                    help="cache.memory_bytes of the million section")
    ap.add_argument("--only", default="hits,miss,coalesce,scaling,memory",
                    help=f"comma-separated sections of {', '.join(SECTIONS)}")
    ap.add_argument("--quick", action="store_true",
                    help="2 s runs, 1 round, 50 connections, 20,000 entries for memory, "
                         "a 3-minute workload")
    ap.add_argument("--no-pin", action="store_true", help="do not pin servers and wrk apart")
    ap.add_argument("--markdown", help="also write the report as Markdown to this file")
    ap.add_argument("--json", help="also write every figure as JSON to this file")
    ap.add_argument("--command", default="bash bench/run", help=argparse.SUPPRESS)
    day.add_options(ap)
    args = ap.parse_args()
    if args.quick:
        day.quick(args)
        args.duration, args.rounds, args.connections = 2, 1, "50"
        args.memory_entries = min(args.memory_entries, 20000)
        args.miss_requests = min(args.miss_requests, 100)
    args.connections = [int(c) for c in args.connections.split(",")]
    sections = args.only.split(",")
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        ap.error(f"unknown sections {sorted(unknown)}; known: {', '.join(SECTIONS)}")
    if not Path(args.binary).is_file():
        ap.error(f"{args.binary} does not exist (bench/run builds it)")
    if args.baseline and not Path(args.baseline).is_file():
        ap.error(f"--baseline {args.baseline} does not exist")

    server_cpus, client_cpus, pinning = cpu_split(args.no_pin)
    if not args.workers:
        args.workers = len(server_cpus) if server_cpus else os.cpu_count()
    threads = len(client_cpus) if client_cpus else max(1, (os.cpu_count() or 2) // 2)
    load = Load(server_cpus, client_cpus, threads, args.duration)
    print(f"bench: {pinning}", file=sys.stderr)

    report = {
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "machine": f"{os.cpu_count()} CPUs ({_cpu_model()}), {platform.system()} "
                   f"{platform.release()}",
        "command": args.command, "pinning": pinning, "workers": args.workers,
        "wrk_threads": threads, "rounds": args.rounds, "duration_s": args.duration,
        "requests": args.requests, "load_before": load_average(),
    }
    work = Path(tempfile.mkdtemp(prefix="ocsp-bench-"))
    if os.geteuid() == 0:
        work.chmod(0o755)  # squid drops to the proxy user and must reach its directory
    run = Run(args, work)
    try:
        pki = Pki(work / "pki")
        factory = workload.RequestFactory(ocsp_client.make_request(pki.ica, pki.good))
        hit_requests = factory.fresh(args.requests)
        miss_requests = factory.fresh(2 * args.miss_requests + 2)
        index = work / "bench-index.txt"
        workload.write_index(index, pki.index, hit_requests + miss_requests)
        with pinned(server_cpus):
            responder = run.keep(Responder(pki, index, work))

        if "hits" in sections:
            section_hits(run, load, pki, hit_requests, responder, server_cpus, client_cpus,
                         report)
        ctx = probes.Context(run=run, load=load, pki=pki, factory=factory, responder=responder,
                             server_cpus=server_cpus, client_cpus=client_cpus, metric=metric,
                             rss_kib=rss_kib, parse_wrk=parse_wrk, hit_requests=hit_requests,
                             miss_requests=miss_requests)
        for key in ("miss", "coalesce", "scaling", "memory", "million"):
            if key in sections:
                print(f"bench: {key}", file=sys.stderr)
                report[key] = getattr(probes, key)(ctx)
        if "workload" in sections:
            report["workload"] = day.run(ctx)
        report["load_after"] = load_average()
        if load.load_samples:
            report["load_median"] = statistics.median(load.load_samples)
            report["load_max"] = max(load.load_samples)
        text = markdown(report)
        print(text)
        if args.markdown:
            Path(args.markdown).write_text(text + "\n")
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2, default=str) + "\n")
        return 0
    finally:
        run.stop_all()
        shutil.rmtree(work, ignore_errors=True)


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return " ".join(line.split(":", 1)[1].split())
    return platform.machine()


if __name__ == "__main__":
    sys.exit(main())
