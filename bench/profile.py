"""Profile of the warm in-process hit path (or with --redis, of Redis hits): one ocsp-proxy worker, warmed with --requests
distinct CertIDs from `openssl ocsp`, then wrk with bench/requests.lua for --duration seconds
while the profiler looks at the proxy only.

  callgrind (default)  exact user-space instruction counts, independent of machine load:
                       prints instructions per request and the functions that cost most
                       (inclusive and self). Instrumentation is switched on only for the
                       measured run, so start-up and warm-up are not counted.
  perf                 sampled CPU time including the kernel (perf record -g, dwarf
                       unwinding); needs perf_event access. Prints the top symbols.
  sched                where the tail of paced latency comes from: the proxy's worker on one
                       CPU, bench/paced_load.cc (--paced-load, open loop at --rate over
                       --connections) on the other, `perf sched record -a` over the run.
                       Prints the paced figures, the worker's wakeup-to-run delays, what
                       else ran on the server's CPU and for how long at most, the hypervisor's
                       steal time, and a spin probe of each idle CPU (gaps in a busy loop:
                       time the CPU was taken away from everything on it).

Build the binary with symbols for readable output (bench/profile does: release, -g,
-fno-omit-frame-pointer, in build-profile/). Runs inside a private network namespace.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "tests" / "integration"))

import httpload  # noqa: E402
import ocsp_client  # noqa: E402
import proxy as proxy_module  # noqa: E402
import workload  # noqa: E402
from peers import Responder  # noqa: E402
from servers import RedisServer  # noqa: E402
from pki import OCSP_FQDN, Pki  # noqa: E402
from proxy import Proxy, proxy_config, upstream  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--tool", choices=("callgrind", "perf", "sched"), default="callgrind")
    ap.add_argument("--paced-load", help="bench/paced_load.cc's binary (--tool sched)")
    ap.add_argument("--rate", type=float, default=20000,
                    help="offered req/s of the paced run (--tool sched)")
    ap.add_argument("--mode", choices=("post", "get"), default="post")
    ap.add_argument("--redis", action="store_true",
                    help="profile Redis hits instead: in-process cache off, a redis-server")
    ap.add_argument("--requests", type=int, default=10000,
                    help="distinct CertIDs cycled (as bench/run does)")
    ap.add_argument("--duration", type=int, default=10, help="seconds of measured load")
    ap.add_argument("--connections", type=int, default=0,
                    help="keep-alive connections (default 10; 200 with --tool sched)")
    ap.add_argument("--top", type=int, default=40, help="functions listed")
    ap.add_argument("--out", help="keep the raw profile here (callgrind.out / perf.data)")
    args = ap.parse_args()
    args.connections = args.connections or (200 if args.tool == "sched" else 10)
    if args.tool == "sched" and not args.paced_load:
        ap.error("--tool sched needs --paced-load (bench/profile passes it)")

    work = Path(tempfile.mkdtemp(prefix="ocsp-profile-"))
    stop = []
    try:
        pki = Pki(work / "pki")
        factory = workload.RequestFactory(ocsp_client.make_request(pki.ica, pki.good))
        requests = factory.fresh(args.requests)
        index = work / "index.txt"
        workload.write_index(index, pki.index, requests)
        post_file, get_file = workload.write_wrk_files(work, requests)
        responder = Responder(pki, index, work)
        stop.append(responder.stop)

        binary = str(Path(args.binary).resolve())
        raw_out = work / "profile.out"
        if args.tool == "callgrind":
            # valgrind runs the proxy ~30x slower: give it time to start and to fetch
            proxy_module.START_TIMEOUT_S = 120
            wrapper = work / "valgrind-proxy"
            wrapper.write_text(
                "#!/bin/sh\nexec valgrind --tool=callgrind --instr-atstart=no "
                f"--callgrind-out-file={raw_out}.%p {binary} \"$@\"\n")
            wrapper.chmod(0o755)
            binary = str(wrapper)
        config = proxy_config([upstream(responder.port, [OCSP_FQDN], [pki.ica.pem])],
                              {OCSP_FQDN: "127.0.0.1"})
        config.update(workers=1, logging={"level": "info"})
        if args.redis:
            redis = RedisServer(work)
            stop.append(redis.stop)
            config["cache"] = dict(config["cache"], memory_bytes=0)
            config["redis"] = {"address": f"127.0.0.1:{redis.port}"}
        config["limits"] = dict(config["limits"], client_timeout="300s", upstream_timeout="20s")
        cpus = sorted(os.sched_getaffinity(0))
        server_cpu, client_cpu = cpus[-1], cpus[0]
        if args.tool == "sched":
            probe = {cpu: spin_probe(cpu, 2.0) for cpu in cpus}  # before anything runs
            os.sched_setaffinity(0, {server_cpu})  # the proxy inherits it
        proxy = Proxy(binary, work, config, name="profiled")
        if args.tool == "sched":
            os.sched_setaffinity(0, set(cpus))
        stop.append(proxy.stop)
        port = proxy.ports["ocsp"]
        answers = httpload.one_pass("127.0.0.1", port,
                                    [httpload.post("/", "x", r.der) for r in requests], 8)
        if any(a.status != 200 for a in answers):
            raise RuntimeError("warm-up failed")
        # A second pass: the request memo admits a request on its second sighting, and with
        # --redis the pass above wrote Redis and this one reads every value back once, so the
        # validation memo holds them all. The profiler then sees the steady state.
        httpload.one_pass("127.0.0.1", port,
                          [httpload.post("/", "x", r.der) for r in requests], 8)

        lua = ["mode=post", f"file={post_file}"] if args.mode == "post" else \
              ["mode=get", f"file={get_file}"]
        wrk = ["wrk", "-t1", f"-c{args.connections}", f"-d{args.duration}s", "--timeout", "30s",
               "-s", str(BENCH / "requests.lua"), proxy.url, "--", *lua]
        # one pass first so that per-worker memos and caches are in their steady state
        subprocess.run(wrk[:3] + ["-d2s"] + wrk[4:], capture_output=True, check=True)
        if args.tool == "sched":
            return profile_sched(args, proxy, lua, work, probe, server_cpu, client_cpu)
        if args.tool == "callgrind":
            subprocess.run(["callgrind_control", "-i", "on", str(proxy.proc.pid)],
                           capture_output=True, check=True)
            out = subprocess.run(wrk, capture_output=True, text=True, check=True).stdout
            subprocess.run(["callgrind_control", "-i", "off", str(proxy.proc.pid)],
                           capture_output=True)
            subprocess.run(["callgrind_control", "-d", str(proxy.proc.pid)], capture_output=True)
            time.sleep(1)
        else:
            perf = subprocess.Popen(["perf", "record", "-F", "999", "--call-graph", "dwarf,16384",
                                     "-o", str(raw_out), "-p", str(proxy.proc.pid)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            out = subprocess.run(wrk, capture_output=True, text=True, check=True).stdout
            perf.send_signal(2)
            perf.wait()
        served = json.loads(out.split("BENCH ", 1)[1].splitlines()[0])["requests"]
        if args.redis:
            status = json.loads(urllib.request.urlopen(proxy.admin_url + "status").read())
            print(f"profile: validation memo {status['cache']['validation_memo']}")
        print(f"profile: {args.tool}, {args.mode}, {served} warm "
              f"{'Redis' if args.redis else 'in-process'} hits over {args.requests} "
              f"distinct CertIDs, 1 worker")
        if args.tool == "callgrind":
            dumps = sorted(work.glob("profile.out.*"), key=lambda p: p.stat().st_size)
            report_callgrind(dumps[-1], served, args.top, args.out)
        else:
            report_perf(raw_out, args.top, args.out)
        return 0
    finally:
        for fn in reversed(stop):
            try:
                fn()
            except Exception:  # noqa: BLE001 - best-effort teardown
                pass
        shutil.rmtree(work, ignore_errors=True)


def spin_probe(cpu: int, seconds: float) -> dict:
    """A busy loop on `cpu` reading the clock: every gap over 50 µs is time the CPU was taken
    from it (interrupts, other tasks, the hypervisor). Count and longest, by size."""
    code = ("import os,time,json\n"
            f"os.sched_setaffinity(0,{{{cpu}}})\n"
            "t=time.perf_counter_ns;end=t()+" + str(int(seconds * 1e9)) + "\n"
            "gaps=[];last=t()\n"
            "while last<end:\n"
            " now=t()\n"
            " if now-last>50000: gaps.append(now-last)\n"
            " last=now\n"
            "print(json.dumps(gaps))\n")
    gaps = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True,
                                     text=True, check=True).stdout)
    return {"seconds": seconds, "over_0.05ms": len(gaps),
            "over_0.5ms": sum(g > 500_000 for g in gaps),
            "over_1ms": sum(g > 1_000_000 for g in gaps),
            "max_ms": max(gaps, default=0) / 1e6, "taken_ms": sum(gaps) / 1e6}


def steal_ticks() -> dict[int, int]:
    """Per CPU, the hypervisor's steal time so far (/proc/stat, in clock ticks)."""
    out = {}
    for line in open("/proc/stat"):
        if line.startswith("cpu") and line[3].isdigit():
            fields = line.split()
            out[int(fields[0][3:])] = int(fields[8])
    return out


def percentiles(values: list[float]) -> str:
    if not values:
        return "none"
    values = sorted(values)
    at = lambda p: values[min(len(values) - 1, int(p * len(values)))]  # noqa: E731
    return (f"n={len(values):,} p50 {at(0.5):.3f} p99 {at(0.99):.3f} p99.9 {at(0.999):.3f} "
            f"max {values[-1]:.3f} ms")


def profile_sched(args, proxy, lua: list[str], work: Path, probe: dict, server_cpu: int,
                  client_cpu: int) -> int:
    """A paced run under `perf sched record`; what delayed the proxy's worker."""
    options = dict(a.split("=", 1) for a in lua)
    load = ["taskset", "-c", str(client_cpu), args.paced_load, "--port", str(proxy.ports["ocsp"]),
            "--connections", str(args.connections), "--rate", f"{args.rate:.0f}",
            "--duration", str(args.duration), "--warmup", "1", "--mode", options["mode"],
            "--file", options["file"]]
    subprocess.run(load[:-6] + ["--duration", "2"] + load[-4:], capture_output=True, check=True)
    raw = work / "sched.data"
    steal_before = steal_ticks()
    perf = subprocess.Popen(["taskset", "-c", str(client_cpu), "perf", "sched", "record", "-a",
                             "-o", str(raw)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    out = subprocess.run(load, capture_output=True, text=True, check=True).stdout
    perf.send_signal(2)
    perf.wait()
    steal = {cpu: t - steal_before.get(cpu, 0) for cpu, t in steal_ticks().items()}
    figures = json.loads(out.split("BENCH ", 1)[1].splitlines()[0])
    print(f"profile: sched, {options['mode']}, {args.connections} connections, "
          f"{args.rate:,.0f} req/s offered, {figures['requests']:,} answered in "
          f"{figures['duration_us'] / 1e6:.0f} s; proxy (1 worker) on CPU {server_cpu}, "
          f"paced-load and perf on CPU {client_cpu}")
    print(f"latency (due -> answered): p50 {figures['latency_p50_us'] / 1e3:.3f}  p99 "
          f"{figures['latency_p99_us'] / 1e3:.3f}  p99.9 {figures['latency_p999_us'] / 1e3:.3f}  max "
          f"{figures['latency_max_us'] / 1e3:.3f} ms")
    print(f"wire (sent -> answered):    p50 {figures['wire_p50_us'] / 1e3:.3f}  p99 "
          f"{figures['wire_p99_us'] / 1e3:.3f}  p99.9 {figures['wire_p999_us'] / 1e3:.3f}  max "
          f"{figures['wire_max_us'] / 1e3:.3f} ms")
    print(f"client lag (due -> sent):   p50 {figures['lag_p50_us'] / 1e3:.3f}  p99 "
          f"{figures['lag_p99_us'] / 1e3:.3f}  max {figures['lag_max_us'] / 1e3:.3f} ms")
    errors = figures["errors_status"] + figures["errors_io"] + figures["unanswered"]
    if errors:
        print(f"errors: {errors}")

    text = subprocess.run(["perf", "sched", "timehist", "-i", str(raw)], capture_output=True,
                          text=True).stdout
    worker_delay: list[float] = []
    worker_run: list[float] = []
    client_delay: list[float] = []
    others: dict[str, list[float]] = {}  # what else ran on the server's CPU: run times
    pid = str(proxy.proc.pid)
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 6 or not parts[1].startswith("["):
            continue
        try:
            cpu = int(parts[1].strip("[]"))
            delay, run = float(parts[-2]), float(parts[-1])
        except ValueError:
            continue
        task = " ".join(parts[2:-3])
        if f"/{pid}]" in task or task.endswith(f"[{pid}]"):
            worker_delay.append(delay)
            worker_run.append(run)
        elif "paced-load" in task:
            client_delay.append(delay)
        elif cpu == server_cpu and not task.startswith("<idle>"):
            name = task.rsplit("[", 1)[0]
            others.setdefault(name, []).append(run)
    print(f"\nproxy threads, wakeup -> running (sch delay): {percentiles(worker_delay)}")
    print(f"proxy threads, each run on the CPU:            {percentiles(worker_run)}")
    print(f"paced-load, wakeup -> running:                 {percentiles(client_delay)}")
    print(f"\nother tasks on the server's CPU {server_cpu} (runs, total ms, longest run ms):")
    for name, runs in sorted(others.items(), key=lambda kv: -sum(kv[1]))[:12]:
        print(f"  {name:<32} {len(runs):>7,} {sum(runs):>9.1f} {max(runs):>8.3f}")
    ticks = os.sysconf("SC_CLK_TCK")
    print("\nhypervisor steal during the run: " + ", ".join(
        f"CPU {cpu} {t * 1000 / ticks:.0f} ms" for cpu, t in sorted(steal.items())))
    print("spin probe of each idle CPU before the run (gaps in a busy loop):")
    for cpu, p in sorted(probe.items()):
        print(f"  CPU {cpu}: {p['over_0.05ms']} gaps > 0.05 ms, {p['over_0.5ms']} > 0.5 ms, "
              f"{p['over_1ms']} > 1 ms, longest {p['max_ms']:.3f} ms, "
              f"{p['taken_ms']:.1f} ms taken in {p['seconds']:.0f} s")
    if args.out:
        shutil.copy(raw, args.out)
    return 0


def report_callgrind(dump: Path, served: int, top: int, keep: str | None) -> None:
    if keep:
        shutil.copy(dump, keep)
    for inclusive in ("yes", "no"):
        text = subprocess.run(["callgrind_annotate", f"--inclusive={inclusive}", str(dump)],
                              capture_output=True, text=True).stdout
        rows = []
        total = 0
        for line in text.splitlines():
            parts = line.split(None, 2)
            if len(parts) == 3 and parts[2] == "PROGRAM TOTALS":
                total = int(parts[0].replace(",", ""))
            elif len(parts) == 3 and parts[0][0].isdigit() and "(" in parts[1]:
                rows.append((int(parts[0].replace(",", "")), parts[2]))
        if inclusive == "yes":
            print(f"instructions per request: {total / served:,.0f} (user space, whole process)")
            print(f"heap allocations per request: {malloc_calls(dump) / served:.2f} (calls to "
                  "malloc, which operator new and OpenSSL's allocator call)")
        print(f"\n{'inclusive' if inclusive == 'yes' else 'self'}: instructions per request, "
              "share, function")
        for ir, name in rows[:top]:
            print(f"{ir / served:>10,.0f} {ir / total * 100:5.1f}%  {_short(name)}")


def report_perf(data: Path, top: int, keep: str | None) -> None:
    if keep:
        shutil.copy(data, keep)
    for children in ("--children", "--no-children"):
        text = subprocess.run(["perf", "report", "-i", str(data), children, "--sort",
                               "dso,symbol", "-g", "none", "--stdio"],
                              capture_output=True, text=True).stdout
        print(f"\n{'inclusive' if children == '--children' else 'self'}:")
        print("\n".join([line for line in text.splitlines() if "%" in line][:top]))


def malloc_calls(dump: Path) -> int:
    """Calls to malloc recorded in a callgrind dump: the `calls=` line after each `cfn=` that
    names it (names are given once, with their number, then by number alone)."""
    names: dict[str, str] = {}
    calls, to_malloc = 0, False
    for line in dump.read_text(errors="replace").splitlines():
        if line.startswith(("fn=(", "cfn=(")):
            number, _, name = line.split("=", 1)[1].partition(" ")
            if name:
                names[number] = name
            to_malloc = line.startswith("cfn=") and names.get(number) == "malloc"
        elif line.startswith("calls=") and to_malloc:
            calls += int(line[len("calls="):].split()[0])
            to_malloc = False
    return calls


def _short(name: str) -> str:
    """callgrind's "file:function [object]" without the long template noise."""
    name = name.split(" [", 1)[0]
    if ":" in name:
        name = name.split(":", 1)[1] if not name.startswith("???") else name[4:]
    return name if len(name) < 140 else name[:137] + "..."


if __name__ == "__main__":
    sys.exit(main())
