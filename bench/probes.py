"""The measurements of bench.py beyond warm hits: a miss against asking the upstream directly,
coalescing of a burst, worker scaling, and memory. Each function takes the run's Context,
returns plain figures, and `markdown()` renders them for the report.
"""
from __future__ import annotations

import dataclasses
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import httpload
import workload
from peers import Nginx, Responder, pinned


@dataclasses.dataclass
class Context:
    run: object            # bench.Run
    load: object           # bench.Load
    pki: object
    factory: workload.RequestFactory
    responder: Responder
    server_cpus: set[int] | None
    client_cpus: set[int] | None
    metric: Callable       # bench.metric(proxy, name) -> float
    rss_kib: Callable      # bench.rss_kib(pid, field="VmRSS") -> int
    parse_wrk: Callable    # bench.parse_wrk(args, returncode, stdout, stderr) -> dict
    hit_requests: list[workload.Request]
    miss_requests: list[workload.Request]  # in the responder's index, never asked before


def _log(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr)


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def _is_successful_ocsp(der: bytes) -> bool:
    """OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED (0 = successful), ... }"""
    head = 4 if der[1] == 0x82 else 3 if der[1] == 0x81 else 2
    return der[:1] == b"\x30" and der[head:head + 3] == b"\x0a\x01\x00"


# -- miss ---------------------------------------------------------------------------------

def miss(ctx: Context) -> dict:
    """Sequential requests, one connection each way, for CertIDs nobody asked before:
    directly to `openssl ocsp` (HTTP/1.0, a new connection per request, as any client of it
    pays) and through ocsp-proxy (kept-alive client connection; the proxy's fetch is a new
    connection to the same responder, then validation and store). Interleaved, the first of
    each pair alternating, so drift and the responder's own variance hit both alike."""
    args = ctx.run.args
    proxy = ctx.run.proxy("miss", ctx.responder.port, [ctx.pki.ica.pem], args.workers,
                          ctx.server_cpus)
    n = args.miss_requests
    host = f"127.0.0.1:{proxy.ports['ocsp']}"
    direct_host = f"127.0.0.1:{ctx.responder.port}"
    warmup, timed = ctx.factory.fresh(10), ctx.miss_requests[:2 * n]
    misses_before = ctx.metric(proxy, "ocsp_proxy_cache_misses_total")
    direct_times, proxy_times, hit_times = [], [], []
    with pinned(ctx.client_cpus):
        to_proxy = httpload.BlockingClient("127.0.0.1", proxy.ports["ocsp"])
        to_responder = httpload.BlockingClient("127.0.0.1", ctx.responder.port)
        for r in warmup:  # curl handles, TLS-free connection set-up, page cache
            to_proxy.timed(httpload.post("/", host, r.der))
            to_responder.timed(httpload.post("/", direct_host, r.der))
        for i in range(n):
            direct_req, proxy_req = timed[2 * i], timed[2 * i + 1]
            pair = [(to_responder, direct_host, direct_req, direct_times),
                    (to_proxy, host, proxy_req, proxy_times)]
            for client, h, r, times in (pair if i % 2 == 0 else pair[::-1]):
                answer, seconds = client.timed(httpload.post("/", h, r.der))
                if answer.status != 200 or not _is_successful_ocsp(answer.body):
                    raise RuntimeError(f"miss: HTTP {answer.status} {answer.body[:100]!r}")
                times.append(seconds * 1000)
        for i in range(n):  # the same CertIDs again: now hits, the same client's floor
            answer, seconds = to_proxy.timed(httpload.post("/", host, timed[2 * i + 1].der))
            hit_times.append(seconds * 1000)
        to_proxy.close()
    misses = ctx.metric(proxy, "ocsp_proxy_cache_misses_total") - misses_before
    proxy.stop()

    def figures(times):
        return {"p50": statistics.median(times), "p90": _pct(times, 90), "p99": _pct(times, 99)}
    return {"n": n, "direct": figures(direct_times), "proxy_miss": figures(proxy_times),
            "proxy_hit": figures(hit_times), "misses_counted": misses,
            "added_p50": statistics.median(proxy_times) - statistics.median(direct_times)}


# -- coalesce -----------------------------------------------------------------------------

def coalesce(ctx: Context) -> dict:
    """`--burst` requests for one CertID nobody asked before, each on its own connection,
    all written before any answer is read; half POST, half GET (one cache key)."""
    args = ctx.run.args
    proxy = ctx.run.proxy("coalesce", ctx.responder.port, [ctx.pki.ica.pem], args.workers,
                          ctx.server_cpus)
    target = ctx.miss_requests[-1]
    host = f"127.0.0.1:{proxy.ports['ocsp']}"
    raws = [httpload.post("/", host, target.der) if i % 2 == 0
            else httpload.get("/" + target.b64url, host) for i in range(args.burst)]
    names = ("ocsp_proxy_upstream_requests_total", "ocsp_proxy_coalesced_total",
             "ocsp_proxy_cache_hits_total", "ocsp_proxy_cache_misses_total")
    before = {k: ctx.metric(proxy, k) for k in names}
    at_upstream_before = ctx.responder.requests_served
    with pinned(ctx.client_cpus):
        answers, seconds = httpload.burst("127.0.0.1", proxy.ports["ocsp"], raws)
    time.sleep(0.2)  # the responder's log line and the counters settle
    after = {k: ctx.metric(proxy, k) - before[k] for k in names}
    proxy.stop()
    bodies = {a.body for a in answers if a.status == 200}
    return {"burst": args.burst, "seconds": seconds,
            "answered_200": sum(a.status == 200 for a in answers),
            "distinct_bodies": len(bodies),
            "upstream_requests_metric": after["ocsp_proxy_upstream_requests_total"],
            "upstream_requests_seen": ctx.responder.requests_served - at_upstream_before,
            "coalesced": after["ocsp_proxy_coalesced_total"],
            "cache_hits": after["ocsp_proxy_cache_hits_total"],
            "misses": after["ocsp_proxy_cache_misses_total"]}


# -- scaling ------------------------------------------------------------------------------

def _repin(pid: int, cpus: set[int]) -> None:
    """Moves every thread of a running process (taskset -a) to `cpus`."""
    subprocess.run(["taskset", "-a", "-p", "-c", ",".join(map(str, sorted(cpus))), str(pid)],
                   check=True, capture_output=True)


def scaling(ctx: Context) -> dict:
    """1 worker against 2 workers on warm GET hits, 50 connections, alternating rounds:
      shared   no pinning: servers and wrk share every CPU (what a 2-core box can show)
      pinned   the server on the bench's server CPUs, wrk on the others
      split    (>= 4 CPUs) the server on 2 CPUs, wrk on the rest: real scaling
    nginx static with 1 and 2 worker processes runs alongside as the reference of what
    this machine lets any server gain."""
    args, load = ctx.run.args, ctx.load
    all_cpus = set(os.sched_getaffinity(0))
    requests = ctx.hit_requests
    work = ctx.run.work
    (work / "scaling").mkdir()
    _, get_file = workload.write_wrk_files(work / "scaling", requests)
    servers = {}
    for workers in (1, 2):
        proxy = ctx.run.proxy(f"scaling-w{workers}", ctx.responder.port, [ctx.pki.ica.pem],
                              workers, None)
        with pinned(ctx.client_cpus):
            answers = httpload.one_pass("127.0.0.1", proxy.ports["ocsp"],
                                        [httpload.post("/", "x", r.der) for r in requests])
        if any(a.status != 200 for a in answers):
            raise RuntimeError("scaling warm-up failed")
        servers[f"ocsp-proxy {workers} worker{'s' if workers > 1 else ''}"] = (
            proxy.proc.pid, proxy.ports["ocsp"])
        if workers == 1:
            ders = [a.body for a in answers]
    for workers in (1, 2):
        # only its static server is used; the proxy_cache server's origin port is a dummy
        nginx = ctx.run.keep(Nginx(work / f"scaling-nginx{workers}", workers, 9))
        for r, der in zip(requests, ders):
            nginx.put_static(r.b64url, der)
        servers[f"nginx static {workers} worker{'s' if workers > 1 else ''}"] = (
            nginx.proc.pid, nginx.static_port)

    layouts = {"shared": (all_cpus, all_cpus)}
    if ctx.server_cpus:
        layouts["pinned"] = (ctx.server_cpus, ctx.client_cpus)
    cpus = sorted(all_cpus)
    if len(cpus) >= 4:
        layouts["split"] = (set(cpus[-2:]), set(cpus[:-2]))
    out = {"layouts": {}}
    for layout, (server_cpus, client_cpus) in layouts.items():
        for pid, _ in servers.values():
            _repin(pid, server_cpus)
            for child in _children(pid):  # nginx workers
                _repin(child, server_cpus)
        rounds = {name: [] for name in servers}
        for round_number in range(args.rounds):
            _log(f"scaling: {layout}, round {round_number + 1}/{args.rounds}")
            for name, (pid, port) in servers.items():
                # CPU time the server spent per answer: if a second worker costs no more per
                # answer than one, it only waits for a CPU of its own to scale
                result, (result["cpu_us"],) = cpu_per_answer(
                    lambda: load.wrk(f"http://127.0.0.1:{port}/", 50,
                                     ["mode=get", f"file={get_file}"], cpus=client_cpus,
                                     threads=max(1, len(client_cpus))),
                    pid)
                rounds[name].append(result)
        medians = {name: sorted(rs, key=lambda r: r["rps"])[len(rs) // 2]
                   for name, rs in rounds.items()}
        out["layouts"][layout] = {"server_cpus": sorted(server_cpus),
                                  "client_cpus": sorted(client_cpus), "results": medians}
    if "split" not in layouts:
        out["split_missing"] = (f"needs >= 4 CPUs (2 for the server, the rest for wrk); "
                                f"this machine has {len(cpus)}")
    return out


def cpu_per_answer(run: Callable[[], dict], *pids: int) -> tuple[dict, list[float]]:
    """Runs `run` (one wrk run, whose figures count its `requests`) and returns its figures
    with the CPU µs each of `pids` (with its live children) spent per answer meanwhile."""
    before = [cpu_seconds(p) for p in pids]
    result = run()
    answers = max(1, result["requests"])
    return result, [(cpu_seconds(p) - b) * 1e6 / answers for p, b in zip(pids, before)]


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process and its children that are alive (nginx's
    workers), all threads, from /proc (clock ticks)."""
    total = 0
    for p in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


# -- memory -------------------------------------------------------------------------------

def _fill(ctx: Context, proxy, requests: list[workload.Request], tag: str) -> float:
    """Every request once, through wrk (once=1) on 32 connections, each a miss the proxy
    fetches, validates and stores; returns the seconds. wrk runs for its -d whatever its
    threads do, so it is interrupted (SIGINT: it still prints its figures) once the proxy
    has stored every answer, or has stored nothing more for 30 s (a bounded cache that
    evicts, failures)."""
    directory = ctx.run.work / f"fill-{tag}"
    directory.mkdir()
    post_file, _ = workload.write_wrk_files(directory, requests)
    threads = ctx.load.threads
    misses = "ocsp_proxy_cache_misses_total"  # one per new CertID; repeats are hits
    before = ctx.metric(proxy, misses)
    args = ctx.load.wrk_command(
        f"http://127.0.0.1:{proxy.ports['ocsp']}/", 32,
        ["mode=post", f"file={post_file}", "once=1", f"threads={threads}"],
        duration_s=24 * 3600, threads=threads)
    started = time.monotonic()
    wrk = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        last, last_change = -1.0, time.monotonic()
        while wrk.poll() is None:
            time.sleep(0.2)
            seen = ctx.metric(proxy, misses) - before
            if seen != last:
                last, last_change = seen, time.monotonic()
            if seen >= len(requests) or time.monotonic() - last_change > 30:
                break
        time.sleep(0.5)  # the last fetches complete and are stored
        seconds = time.monotonic() - started
    finally:
        wrk.send_signal(signal.SIGINT)
        out, err = wrk.communicate()
    result = ctx.parse_wrk(args, 0, out, err)
    if result["errors"]:
        _log(f"fill {tag}: {result['errors']} errors")
    return seconds


def _der_sample(ctx: Context, proxy, requests: list[workload.Request]) -> float:
    """Mean DER size of the answers, from 1,000 of them asked again (hits)."""
    sample = requests[:: max(1, len(requests) // 1000)]
    host = f"127.0.0.1:{proxy.ports['ocsp']}"
    with pinned(ctx.client_cpus):
        answers = httpload.one_pass("127.0.0.1", proxy.ports["ocsp"],
                                    [httpload.post("/", host, r.der) for r in sample])
    return statistics.mean(len(a.body) for a in answers if a.status == 200)


def memory(ctx: Context) -> dict:
    """A fresh proxy, `--memory-entries` distinct CertIDs through it (answers from `openssl
    ocsp`, all validated and cached), then its resident size against the DER it holds."""
    args = ctx.run.args
    proxy = ctx.run.proxy("memory-rss", ctx.responder.port, [ctx.pki.ica.pem], args.workers,
                          ctx.server_cpus, memory_bytes="8GiB")
    time.sleep(0.5)
    empty_kib = ctx.rss_kib(proxy.proc.pid)
    requests = ctx.factory.fresh(args.memory_entries)
    _log(f"memory: filling {len(requests)} entries")
    seconds = _fill(ctx, proxy, requests, "memory")
    entries = ctx.metric(proxy, "ocsp_proxy_cache_entries")
    accounted = ctx.metric(proxy, "ocsp_proxy_cache_bytes")
    der_mean = _der_sample(ctx, proxy, requests)
    rss = ctx.rss_kib(proxy.proc.pid) * 1024
    hwm = ctx.rss_kib(proxy.proc.pid, "VmHWM") * 1024
    heap_in_use = ctx.metric(proxy, 'ocsp_proxy_heap_bytes{state="in_use"')
    heap_free = ctx.metric(proxy, 'ocsp_proxy_heap_bytes{state="free"')
    proxy.stop()
    der_bytes = entries * der_mean
    return {"asked": len(requests), "entries": entries, "fill_seconds": seconds,
            "der_mean": der_mean, "der_bytes": der_bytes, "accounted_bytes": accounted,
            "heap_in_use": heap_in_use, "heap_free": heap_free,
            "rss": rss, "hwm": hwm, "empty_rss": empty_kib * 1024,
            "rss_per_der": rss / der_bytes, "growth_per_der": (rss - empty_kib * 1024) / der_bytes}


def million(ctx: Context) -> dict:
    """`--million-entries` distinct CertIDs into a cache bounded by `--million-bytes`, in
    chunks of 100,000, with entries, accounted bytes and resident size after each chunk."""
    args = ctx.run.args
    proxy = ctx.run.proxy("million", ctx.responder.port, [ctx.pki.ica.pem], args.workers,
                          ctx.server_cpus, memory_bytes=args.million_bytes)
    time.sleep(0.5)
    empty = ctx.rss_kib(proxy.proc.pid) * 1024
    steps = []
    done = 0
    while done < args.million_entries:
        chunk = ctx.factory.fresh(min(100000, args.million_entries - done))
        seconds = _fill(ctx, proxy, chunk, f"million-{done}")
        done += len(chunk)
        step = {"asked": done, "seconds": seconds,
                "entries": ctx.metric(proxy, "ocsp_proxy_cache_entries"),
                "accounted_bytes": ctx.metric(proxy, "ocsp_proxy_cache_bytes"),
                "rss": ctx.rss_kib(proxy.proc.pid) * 1024}
        _log(f"million: {step}")
        steps.append(step)
    der_mean = _der_sample(ctx, proxy, chunk)
    hwm = ctx.rss_kib(proxy.proc.pid, "VmHWM") * 1024
    proxy.stop()
    return {"bound": args.million_bytes, "empty_rss": empty, "steps": steps,
            "der_mean": der_mean, "hwm": hwm}


# -- report -------------------------------------------------------------------------------

def _mib(n: float) -> str:
    return f"{n / 2**20:,.1f} MiB"


def markdown(key: str, d: dict) -> str:
    out: list[str] = []
    w = out.append
    if key == "miss":
        w(f"**Miss** ({d['n']} never-seen CertIDs each way, one at a time, interleaved; "
          "one `openssl ocsp` process as the upstream)")
        w("")
        w("| path | p50 ms | p90 ms | p99 ms |")
        w("| --- | ---: | ---: | ---: |")
        for name, label in (("direct", "client → openssl ocsp (new connection per request)"),
                            ("proxy_miss", "client → ocsp-proxy → openssl ocsp (miss)"),
                            ("proxy_hit", "client → ocsp-proxy, same CertIDs again (hit)")):
            f = d[name]
            w(f"| {label} | {f['p50']:.3f} | {f['p90']:.3f} | {f['p99']:.3f} |")
        w("")
        w(f"A miss adds **{d['added_p50']:.3f} ms** at p50 over asking the upstream directly "
          f"(misses counted by the proxy: {d['misses_counted']:.0f}).")
    elif key == "coalesce":
        w(f"**Coalescing**: {d['burst']} requests for one uncached CertID at once (half POST, "
          f"half GET, a connection each) → **{d['upstream_requests_seen']} request(s) at "
          f"`openssl ocsp`** ({d['upstream_requests_metric']:.0f} by the proxy's counter); "
          f"{d['answered_200']} answered 200 with {d['distinct_bodies']} distinct body; "
          f"{d['coalesced']:.0f} waited on the fetch in flight, {d['cache_hits']:.0f} found "
          f"it stored; {d['seconds'] * 1000:.0f} ms from the first write to the last answer.")
    elif key == "scaling":
        w("**Worker scaling** (warm GET hits, 50 connections, median of alternating rounds)")
        w("")
        w("| CPUs (server / wrk) | server | req/s | p99 ms | 2 workers vs 1 | server CPU µs "
          "per answer |")
        w("| --- | --- | ---: | ---: | ---: | ---: |")
        for layout, L in d["layouts"].items():
            r = L["results"]
            cpus = f"{layout}: {L['server_cpus']} / {L['client_cpus']}"
            for name, m in r.items():
                ratio = ""
                if "2 workers" in name:
                    one = r[name.replace("2 workers", "1 worker")]["rps"]
                    ratio = f"{m['rps'] / one:.2f}×"
                w(f"| {cpus} | {name} | {m['rps']:,.0f} | {m['p99']:.2f} | {ratio} | "
                  f"{m['cpu_us']:.1f} |")
        w("")
        w("Server CPU per answer: user and system time of the server's process (nginx: its "
          "workers too) over the run, divided by the answers. A second worker that costs no "
          "more CPU per answer than one adds no contention of its own: given a CPU of its "
          "own it adds its share of answers.")
        if "split_missing" in d:
            w("")
            w(f"Real scaling (server on 2 CPUs of its own, wrk on others) {d['split_missing']}.")
    elif key == "memory":
        w(f"**Memory** at {d['entries']:,.0f} cached responses ({d['asked']:,} asked; filled "
          f"from `openssl ocsp` in {d['fill_seconds']:.0f} s): DER held "
          f"{_mib(d['der_bytes'])} ({d['der_mean']:.0f} B each); resident "
          f"{_mib(d['rss'])} = **{d['rss_per_der']:.2f}× the DER** (peak {_mib(d['hwm'])}; "
          f"{_mib(d['empty_rss'])} before the first entry, so the cache itself costs "
          f"{d['growth_per_der']:.2f}× its DER); the cache's own accounting "
          f"(`ocsp_proxy_cache_bytes`) says {_mib(d['accounted_bytes'])}; the heap "
          f"(`ocsp_proxy_heap_bytes`): {_mib(d['heap_in_use'])} in use, "
          f"{_mib(d['heap_free'])} free but held.")
    elif key == "million":
        w(f"**{d['steps'][-1]['asked']:,} distinct CertIDs into `cache.memory_bytes: "
          f"{d['bound']}`** (resident before the first entry: {_mib(d['empty_rss'])}, "
          f"answers {d['der_mean']:.0f} B):")
        w("")
        w("| asked | entries held | accounted bytes | resident | fill s |")
        w("| ---: | ---: | ---: | ---: | ---: |")
        for s in d["steps"]:
            w(f"| {s['asked']:,} | {s['entries']:,.0f} | {_mib(s['accounted_bytes'])} | "
              f"{_mib(s['rss'])} | {s['seconds']:.0f} |")
        w("")
        w(f"Peak resident {_mib(d['hwm'])}.")
    return "\n".join(out)
