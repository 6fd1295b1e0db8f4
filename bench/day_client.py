"""The workload section's clients: a hospital's workstations asking for OCSP answers, replayed
open-loop against every peer at once. Run by bench/day.py as its own process
(`python3 bench/day_client.py CONFIG.json`), pinned with the upstream on the load CPU.

Arrivals are a Poisson process at the configured rate; each picks a certificate from a Zipf
distribution (exponent s) over all certificates (ranks shuffled over the issuers), a
workstation, and a method (POST with the configured share, else an RFC 5019 GET), and is sent
to every peer at the same moment, each on that workstation's keep-alive connection to it (a
second one is opened when the first is busy: arrivals never wait for earlier answers). A peer
that cannot cache POST gets the request as a GET. A peer with two instances gets even
workstations on the first, odd on the second, as two sites would.

Every answer is checked as a client would: HTTP 200, OCSP responseStatus successful, the
serial asked for, and nextUpdate still ahead on the wall clock when it arrived. Each request
is logged as one line (peer, serial, method, CLOCK_MONOTONIC scheduled/start/end, wall clock
at the end, HTTP status, verdict, nextUpdate); the process prints its own lag (how late
arrivals were sent against their schedule) as JSON on stdout at the end.
"""
from __future__ import annotations

import asyncio
import bisect
import calendar
import hashlib
import json
import random
import sys
import time
from pathlib import Path

from cryptography.x509 import ocsp

sys.path.insert(0, str(Path(__file__).resolve().parent))
import httpload  # noqa: E402
import workload  # noqa: E402


def serial_hex(seed: int, cert: int) -> str:
    """The certificate's serial: 16 bytes, first byte 0x10..0x7f, derived from its number."""
    digest = hashlib.sha256(f"{seed}:{cert}".encode()).digest()
    return f"{0x10 + digest[0] % 0x70:02X}{digest[1:16].hex().upper()}"


class Zipf:
    """Certificate numbers drawn with P(rank r) proportional to 1 / r^s, ranks shuffled."""

    def __init__(self, n: int, s: float, rng: random.Random):
        total, self.cumulative = 0.0, []
        for r in range(1, n + 1):
            total += r ** -s
            self.cumulative.append(total)
        self.total = total
        self.cert_of_rank = list(range(n))
        rng.shuffle(self.cert_of_rank)
        self.rng = rng

    def draw(self) -> int:
        rank = bisect.bisect_left(self.cumulative, self.rng.random() * self.total)
        return self.cert_of_rank[min(rank, len(self.cert_of_rank) - 1)]


class Verdicts:
    """What each distinct answer body says, parsed once: (successful, serial, nextUpdate)."""

    def __init__(self):
        self.seen: dict[bytes, tuple[bool, int, float]] = {}

    def of(self, body: bytes) -> tuple[bool, int, float]:
        got = self.seen.get(body)
        if got is None:
            try:
                r = ocsp.load_der_ocsp_response(body)
                if r.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
                    got = (False, 0, 0.0)
                else:
                    utc = getattr(r, "next_update_utc", None)  # cryptography >= 43
                    if utc is None:
                        nu = calendar.timegm(r.next_update.utctimetuple()) if r.next_update else 0
                    else:
                        nu = utc.timestamp()
                    got = (True, r.serial_number, float(nu))
            except ValueError:
                got = (False, 0, 0.0)
            if len(self.seen) < 500000:
                self.seen[body] = got
        return got


class Peer:
    def __init__(self, index: int, spec: dict):
        self.index, self.name = index, spec["name"]
        self.targets = [tuple(t) for t in spec["targets"]]  # (host, port)
        self.post = spec["post"]          # can cache POST: gets the arrival's method
        self.forward = spec.get("forward")  # "http://fqdn:port" for a forward proxy
        self.idle: dict[int, list[httpload._Connection]] = {}

    def raw(self, req: workload.Request, method: str, target: tuple[str, int]) -> bytes:
        host = f"{target[0]}:{target[1]}"
        if method == "POST":
            return httpload.post("/", host, req.der)
        if self.forward:
            return httpload.get(f"{self.forward}/{req.b64url}", self.forward.split("//")[1])
        return httpload.get("/" + req.b64url, host)


async def one(peer: Peer, workstation: int, req: workload.Request, issuer: int, method: str,
              scheduled: float, verdicts: Verdicts, log: list, timeout_s: float) -> None:
    target = peer.targets[workstation % len(peer.targets)]
    pool = peer.idle.setdefault(workstation, [])
    conn = pool.pop() if pool else httpload._Connection(*target)
    start = time.monotonic()
    status, verdict, next_update = 0, "io", 0.0
    try:
        answer = await asyncio.wait_for(conn.exchange(peer.raw(req, method, target)), timeout_s)
        status = answer.status
        if status != 200:
            verdict = "http"
        else:
            ok, serial, next_update = verdicts.of(answer.body)
            if not ok:
                verdict = "ocsp"
            elif serial != int(req.serial, 16):
                verdict = "serial"
            elif next_update <= time.time():
                verdict = "expired"
            else:
                verdict = "ok"
        pool.append(conn)
    except asyncio.TimeoutError:
        conn.close()
        verdict = "timeout"
    except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
        conn.close()
    end = time.monotonic()
    log.append(f"{peer.index} {req.serial} {issuer} {method[0]} {scheduled:.6f} {start:.6f} "
               f"{end:.6f} {time.time():.3f} {status} {verdict} {next_update:.0f}\n")


async def run(config: dict) -> dict:
    rng = random.Random(config["seed"])
    zipf = Zipf(config["certs"], config["zipf"], rng)
    factories = [workload.RequestFactory(bytes.fromhex(t)) for t in config["templates"]]
    issuers = len(factories)
    peers = [Peer(i, spec) for i, spec in enumerate(config["peers"])]
    verdicts, log, lags, tasks = Verdicts(), [], [], set()
    requests: dict[int, workload.Request] = {}
    rate, duration = config["rate"], config["duration_s"]
    await asyncio.sleep(max(0.0, config["start_mono"] - time.monotonic()))
    start = time.monotonic()
    scheduled = start
    while True:
        scheduled += rng.expovariate(rate)
        if scheduled - start >= duration:
            break
        cert = zipf.draw()
        workstation = rng.randrange(config["workstations"])
        method = "POST" if rng.random() < config["post_share"] else "GET"
        req = requests.get(cert)
        if req is None:
            serial = serial_hex(config["seed"], cert)
            req = requests[cert] = factories[cert % issuers].make(serial)
        wait = scheduled - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        lags.append(max(0.0, time.monotonic() - scheduled))
        for peer in peers:
            task = asyncio.create_task(one(peer, workstation, req, cert % issuers,
                                           method if peer.post else "GET", scheduled,
                                           verdicts, log, config["timeout_s"]))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(set(tasks))
    for peer in peers:
        for pool in peer.idle.values():
            for conn in pool:
                conn.close()
    Path(config["log"]).write_text("".join(log))
    lags.sort()
    pick = lambda p: lags[min(len(lags) - 1, int(p / 100 * len(lags)))] * 1000  # noqa: E731
    return {"arrivals": len(lags), "lag_p50_ms": pick(50), "lag_p99_ms": pick(99),
            "lag_max_ms": lags[-1] * 1000 if lags else 0,
            "distinct_certs": len(requests), "seconds": time.monotonic() - start}


def main() -> int:
    config = json.loads(Path(sys.argv[1]).read_text())
    print(json.dumps(asyncio.run(run(config))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
