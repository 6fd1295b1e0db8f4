"""The workload section of bench.py (`--only workload`): a hospital's day of OCSP traffic
replayed in minutes against ocsp-proxy and the caches users would otherwise deploy, each in
front of its own CA (bench/day_upstream.py), with the same arrivals (bench/day_client.py).
It reports what users feel: how many requests the CA sees, how often a client waits on the
CA after the first request of its certificate, and the errors clients get while the CA fails
although a valid answer had been fetched. It measures; it asserts nothing.

Peers, all started at once (the load is light: a few hundred requests a second in all):
  ocsp-proxy            one instance, in-process cache
  ocsp-proxy ×2 Redis   two instances on one redis-server (even workstations on one, odd on
                        the other), in-process caches on, one CA port for both
  nginx proxy_cache     GET keyed by URI, POST keyed by body; lock, stale on error, timeout,
                        updating and 5xx, background update, conditional revalidation
  Squid                 forward cache with collapsed forwarding, GET only (Squid cannot
                        cache POST: its clients are sent every request as GET)
Proxies, nginx, Squid and redis-server run on the server CPU, the clients and the CA on the
other (as the rest of the bench pins).
"""
from __future__ import annotations

import bisect
import json
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import day_upstream
from peers import Nginx, Process, Squid, pinned
from pki import OCSP_FQDN
from servers import RedisServer, free_port

BENCH = Path(__file__).resolve().parent

NGINX_OPERATOR = """\
proxy_cache_use_stale error timeout updating http_500 http_502 http_503 http_504;
                  proxy_cache_background_update on;
                  proxy_cache_revalidate on;
                  proxy_cache_lock_timeout 10s;"""


def add_options(ap) -> None:
    g = ap.add_argument_group("workload section (--only workload)")
    g.add_argument("--workload-certs", type=int, default=100000,
                   help="distinct certificates the clients ask for")
    g.add_argument("--workload-issuers", type=int, default=30,
                   help="issuing CAs (every second one answers through a delegated responder)")
    g.add_argument("--workload-zipf", type=float, default=1.1, help="Zipf exponent s")
    g.add_argument("--workload-rate", type=float, default=100,
                   help="arrivals per second (Poisson), each sent to every peer")
    g.add_argument("--workload-minutes", type=float, default=10,
                   help="real minutes of the run (at the default scale, one day)")
    g.add_argument("--workload-scale", type=float, default=144,
                   help="time scale: every period the CA puts in answers and headers is "
                        "divided by it (144: a day in 10 minutes; 24 h validity = 600 s)")
    g.add_argument("--workload-profiles", default="7d/3.5d,4d/1d,24h/12h",
                   help="VALIDITY/INTERVAL per issuer, assigned in turn")
    g.add_argument("--workload-latency-ms", default="50-300", help="CA latency range, real ms")
    g.add_argument("--workload-failure-rate", type=float, default=0.01,
                   help="share of CA requests failing at random (503 or dropped connection)")
    g.add_argument("--workload-outage", default="0.55-0.65",
                   help="START-END of the CA's full outage, as shares of the run")
    g.add_argument("--workload-post-share", type=float, default=0.3,
                   help="share of requests sent as POST to peers that cache POST")
    g.add_argument("--workload-workstations", type=int, default=300,
                   help="client hosts, each with its own keep-alive connections to every peer")
    g.add_argument("--workload-logs", metavar="DIR",
                   help="keep the client and CA request logs (and the CA schedule) in DIR")


def quick(args) -> None:
    args.workload_minutes = min(args.workload_minutes, 3)


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run(ctx) -> dict:
    """Starts the peers and the CA, replays the day, and returns the figures."""
    args, work = ctx.run.args, ctx.run.work / "day"
    work.mkdir()
    work.chmod(0o755)  # squid's own directory is inside
    duration = args.workload_minutes * 60
    lo, hi = (float(x) for x in args.workload_latency_ms.split("-"))
    outage = [float(x) for x in args.workload_outage.split("-")]
    profiles = day_upstream.parse_profiles(args.workload_profiles)
    print(f"bench: workload: {args.workload_issuers} issuers, {args.workload_certs:,} "
          f"certificates, {args.workload_rate:g}/s for {duration:.0f} s", file=sys.stderr)
    pki = day_upstream.make_pki(work / "pki", args.workload_issuers)
    cas = [e["ca"] for e in pki]
    templates = [day_upstream.request_template(e["ca"], e["leaf"]).hex() for e in pki]

    names = ["ocsp-proxy", "ocsp-proxy ×2 Redis", "nginx proxy_cache", "Squid"]
    ca_ports = [free_port() for _ in names]
    cpus = ctx.server_cpus
    memory = ctx.run.proxy("day-memory", ca_ports[0], cas, 1, cpus)
    with pinned(cpus):
        redis = ctx.run.keep(RedisServer(work))
    redis_pair = [ctx.run.proxy(f"day-redis-{i}", ca_ports[1], cas, 1, cpus,
                                redis_port=redis.port) for i in (0, 1)]
    with pinned(cpus):
        nginx = ctx.run.keep(Nginx(work, 1, ca_ports[2], cache_extra=NGINX_OPERATOR))
        squid = ctx.run.keep(Squid(work, {OCSP_FQDN: "127.0.0.1"},
                                   extra="collapsed_forwarding on"))
    here = "127.0.0.1"
    peers = [
        {"name": names[0], "targets": [(here, memory.ports["ocsp"])], "post": True},
        {"name": names[1], "targets": [(here, p.ports["ocsp"]) for p in redis_pair],
         "post": True},
        {"name": names[2], "targets": [(here, nginx.cache_port)], "post": True},
        {"name": names[3], "targets": [(here, squid.port)], "post": False,
         "forward": f"http://{OCSP_FQDN}:{ca_ports[3]}"},
    ]

    lead = 2.0
    t0 = time.monotonic() + lead
    config = {
        "seed": 5019, "scale": args.workload_scale, "profiles": args.workload_profiles,
        "pki": [{k: str(v) if v else None for k, v in e.items()} for e in pki],
        "ports": ca_ports, "latency_ms": [lo, hi], "failure_rate": args.workload_failure_rate,
        "outage_mono": [t0 + outage[0] * duration, t0 + outage[1] * duration],
        "start_wall": time.time(), "log": str(work / "upstream.log"),
        "schedule": str(work / "schedule.json"), "ready": str(work / "upstream.ready"),
    }
    (work / "upstream.json").write_text(json.dumps(config))
    with pinned(ctx.client_cpus):
        upstream = Process([sys.executable, str(BENCH / "day_upstream.py"),
                            str(work / "upstream.json")], work / "upstream.stderr")
    ctx.run.keep(upstream)
    upstream.wait_ready(lambda: (upstream.check_running("the bench CA") or
                                 (work / "upstream.ready").exists()), 30, "the bench CA")
    client_config = {
        "seed": 5019, "certs": args.workload_certs, "zipf": args.workload_zipf,
        "rate": args.workload_rate, "duration_s": duration, "templates": templates,
        "peers": peers, "post_share": args.workload_post_share,
        "workstations": args.workload_workstations, "timeout_s": 30,
        "log": str(work / "client.log"), "start_mono": t0,
    }
    (work / "client.json").write_text(json.dumps(client_config))
    load_before = _load()
    with pinned(ctx.client_cpus):
        proc = subprocess.run([sys.executable, str(BENCH / "day_client.py"),
                               str(work / "client.json")], capture_output=True, text=True)
    load_after = _load()
    if proc.returncode != 0:
        raise RuntimeError(f"day_client failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    client = json.loads(proc.stdout.strip().splitlines()[-1])
    time.sleep(1)
    upstream.stop()  # SIGTERM: it writes out its log
    schedule = json.loads((work / "schedule.json").read_text())
    if args.workload_logs:
        keep = Path(args.workload_logs)
        keep.mkdir(parents=True, exist_ok=True)
        for name in ("client.log", "upstream.log", "schedule.json", "upstream.json"):
            shutil.copy(work / name, keep / name)
    figures = analyse(work / "client.log", work / "upstream.log", schedule, ca_ports,
                      names, config["outage_mono"])
    return {"names": names, "peers": figures, "client": client,
            "settings": {"certs": args.workload_certs, "issuers": args.workload_issuers,
                         "zipf": args.workload_zipf, "rate": args.workload_rate,
                         "minutes": args.workload_minutes, "scale": args.workload_scale,
                         "profiles": args.workload_profiles,
                         "latency_ms": args.workload_latency_ms,
                         "failure_rate": args.workload_failure_rate,
                         "outage": args.workload_outage,
                         "post_share": args.workload_post_share,
                         "workstations": args.workload_workstations},
            "load_during": [load_before, load_after],
            "delegated_issuers": sum(s["delegated"] for s in schedule)}


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def analyse(client_log: Path, upstream_log: Path, schedule: list[dict], ca_ports: list[int],
            names: list[str], outage_mono: list[float]) -> list[dict]:
    peer_of_port = {port: i for i, port in enumerate(ca_ports)}
    fetch_ends = defaultdict(list)  # (peer, serial) -> end times of every CA request
    good = defaultdict(list)        # (peer, serial) -> (end, nextUpdate) of answers (200/304)
    ca = [defaultdict(int) for _ in names]
    for line in upstream_log.read_text().splitlines():
        port, _issuer, serial, start, end, outcome, next_update = line.split()
        peer = peer_of_port[int(port)]
        ca[peer][outcome] += 1
        key = (peer, int(serial, 16))
        fetch_ends[key].append(float(end))
        if outcome in ("200", "304"):
            good[key].append((float(end), int(next_update)))
    for ends in fetch_ends.values():
        ends.sort()
    valid = {}  # (peer, serial) -> (end times, running max of nextUpdate)
    for key, items in good.items():
        items.sort()
        best, tops = 0, []
        for _, nu in items:
            best = max(best, nu)
            tops.append(best)
        valid[key] = ([e for e, _ in items], tops)

    requests = [[] for _ in names]
    for line in client_log.read_text().splitlines():
        (peer, serial, issuer, method, scheduled, start, end, wall_end, status, verdict,
         next_update) = line.split()
        requests[int(peer)].append((float(start), float(end), int(serial, 16), int(issuer),
                                    method, float(wall_end), int(status), verdict))
    out = []
    for peer, reqs in enumerate(requests):
        reqs.sort()
        first_done: dict[int, float] = {}
        pairs = set()
        waited, all_ms, waited_ms = 0, [], []
        later = excluded = waited_held = 0
        eligible = errors_eligible = errors_outage = expired_eligible = 0
        verdicts = defaultdict(int)
        around = [0, 0, 0]  # errors in 30 s before the outage, during it, 30 s after it
        for start, end, serial, issuer, method, wall_end, status, verdict in reqs:
            if verdict != "ok":
                if outage_mono[0] - 30 <= start < outage_mono[0]:
                    around[0] += 1
                elif outage_mono[0] <= start < outage_mono[1]:
                    around[1] += 1
                elif outage_mono[1] <= start < outage_mono[1] + 30:
                    around[2] += 1
            ms = (end - start) * 1000
            all_ms.append(ms)
            verdicts[verdict] += 1
            wall_start = wall_end - (end - start)
            s = schedule[issuer]
            pairs.add((serial, int((wall_start - s["anchor"]) // s["interval"])))
            key = (peer, serial)
            held = False  # the peer had received an answer whose nextUpdate is still ahead
            ends_tops = valid.get(key)
            if ends_tops:
                i = bisect.bisect_left(ends_tops[0], start)
                held = i > 0 and ends_tops[1][i - 1] > wall_start
            if held:
                eligible += 1
                if verdict != "ok":
                    errors_eligible += 1
                    errors_outage += outage_mono[0] <= start < outage_mono[1]
                    expired_eligible += verdict == "expired"
            if serial not in first_done:
                first_done[serial] = end
                excluded += 1
            elif start < first_done[serial]:
                excluded += 1  # joined the first request while it was in flight
            else:
                later += 1
                ends = fetch_ends.get(key, [])
                i = bisect.bisect_right(ends, start)
                if i < len(ends) and ends[i] <= end:
                    waited += 1
                    waited_held += held
                    waited_ms.append(ms)
        fetched = sum(v for k, v in ca[peer].items() if k != "bad")
        out.append({
            "name": names[peer], "requests": len(reqs), "distinct_certs": len(first_done),
            "ca_requests": fetched, "ca_outcomes": dict(ca[peer]), "pairs": len(pairs),
            "ca_per_pair": fetched / max(1, len(pairs)),
            "later_requests": later, "first_touch_requests": excluded,
            "waited": waited, "waited_held": waited_held, "waited_share": waited / max(1, later),
            "waited_p50": _pct(waited_ms, 50), "waited_p99": _pct(waited_ms, 99),
            "all_p50": _pct(all_ms, 50), "all_p99": _pct(all_ms, 99),
            "eligible": eligible, "errors_eligible": errors_eligible,
            "errors_eligible_outage": errors_outage, "expired_eligible": expired_eligible,
            "verdicts": dict(verdicts), "errors_around_outage": around,
        })
    return out


CAPTION = """\
CA requests per (certificate, window): every request the peer's CA received (any outcome)
÷ the (certificate, production window) pairs in which that peer's clients asked for the
certificate (a window is the interval over which the CA serves one signed answer; 1.0 =
one fetch per new answer in use; below 1 when an answer held is served on into the next
window, up to the peer's refresh point or max-age). Waited: a client request, after its
certificate's first touch (the first request for it and those sent while that one was in
flight, excluded), during which a CA request for the same certificate from the same peer
completed (CA and client log CLOCK_MONOTONIC: start < CA end ≤ answer); "held a valid
answer": of those, the ones whose peer had already received an answer for the certificate
with nextUpdate still ahead (the waits refresh-ahead is for). Errors with a valid answer
fetched: requests sent after the peer had received an answer for the certificate whose
nextUpdate was still ahead, answered with a non-200, a non-successful OCSP status, another
serial, or an answer past its nextUpdate. All client errors: every request not answered
that way, first touches included, by kind (http: a non-200 answer; ocsp: not successful,
e.g. tryLater; expired; io: connection failed; timeout: no answer in 30 s). Latencies are
the clients' (connect included when a new connection was needed)."""


def markdown(r: dict) -> str:
    s, c = r["settings"], r["client"]
    out = []
    w = out.append
    w(f"**Workload: a day of hospital traffic** ({s['certs']:,} certificates under "
      f"{s['issuers']} issuers ({r['delegated_issuers']} answering through a delegated "
      f"responder), Zipf s = {s['zipf']}, Poisson arrivals at {s['rate']:g}/s from "
      f"{s['workstations']} workstations for {s['minutes']:g} min, each sent to every peer; "
      f"{s['post_share'] * 100:.0f}% POST to peers that cache POST; CA profiles "
      f"{s['profiles']} scaled down {s['scale']:g}×; CA latency {s['latency_ms']} ms, "
      f"{s['failure_rate'] * 100:g}% random failures, full outage over "
      f"{s['outage']} of the run)")
    w("")
    w("| peer | client requests (distinct certificates) | CA requests (200 / 304 / failed) "
      "| CA requests per (certificate, window) | waited on the CA after first touch "
      "| waited p50 / p99 ms | all p50 / p99 ms | errors with a valid answer fetched "
      "(during the outage; expired served) | all client errors |")
    w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for p in r["peers"]:
        o = p["ca_outcomes"]
        failed = p["ca_requests"] - o.get("200", 0) - o.get("304", 0)
        name = p["name"] + (" (GET only: cannot cache POST)" if p["name"] == "Squid" else "")
        errors = p["requests"] - p["verdicts"].get("ok", 0)
        kinds = ", ".join(f"{k} {v:,}" for k, v in sorted(p["verdicts"].items()) if k != "ok")
        w(f"| {name} | {p['requests']:,} ({p['distinct_certs']:,}) | {p['ca_requests']:,} "
          f"({o.get('200', 0):,} / {o.get('304', 0):,} / {failed:,}) | {p['ca_per_pair']:.3f} "
          f"| {p['waited_share'] * 100:.2f}% ({p['waited']:,} of {p['later_requests']:,}; "
          f"{p['waited_held']:,} held a valid answer) "
          f"| {p['waited_p50']:.0f} / {p['waited_p99']:.0f} "
          f"| {p['all_p50']:.1f} / {p['all_p99']:.1f} "
          f"| {p['errors_eligible']:,} of {p['eligible']:,} ({p['errors_eligible_outage']:,}; "
          f"{p['expired_eligible']:,}) | {errors:,}{f' ({kinds})' if kinds else ''} |")
    w("")
    w(" ".join(CAPTION.split()))
    w("")
    first, *anchors = r["peers"]
    w("ocsp-proxy against the anchors, same run: CA requests "
      + ", ".join(f"{first['ca_requests'] / max(1, a['ca_requests']):.2f}× {a['name']}'s"
                  for a in anchors[1:]) + "; requests that waited on the CA "
      + ", ".join(f"{first['waited'] / max(1, a['waited']):.2f}× {a['name']}'s"
                  for a in anchors[1:]) + ".")
    w("")
    w("All client errors in the 30 s before the outage, during it, and in the 30 s after it "
      "ended (the CA answering again): "
      + "; ".join(f"{p['name']} {' / '.join(f'{n:,}' for n in p['errors_around_outage'])}"
                  for p in r["peers"]) + ".")
    w("")
    w(f"Load generator: {c['arrivals']:,} arrivals in {c['seconds']:.0f} s, sent late by "
      f"p50 {c['lag_p50_ms']:.1f} ms, p99 {c['lag_p99_ms']:.1f} ms, max "
      f"{c['lag_max_ms']:.0f} ms; load average before/after the replay: "
      f"{r['load_during'][0]} / {r['load_during'][1]}.")
    return "\n".join(out)
