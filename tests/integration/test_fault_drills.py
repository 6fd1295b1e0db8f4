"""Fault drills: under a steady load of cached and uncached CertIDs (drill_load),
Redis is killed (-9) and restarted, the upstream is killed (-9) and restarted, then its port
is taken over by a switchable upstream (faulty_upstream) that relays to a real responder
and in turn answers garbage, expired answers and answers signed by a wrong key. Counted per
phase: requests that failed although the proxy held a valid answer (must be 0), answers
served that were not validated or past nextUpdate (must be 0); and the proxy's memory at
the end against the start. `pytest -s` shows the table.

Cached answers are fresh for 6 s only (cache.max_age), so during the drill they are
refreshed ahead while the upstream works and served stale while it is down or spoiled, and
spoiled answers reach the proxy as refreshes of cached CertIDs too, not only as first
answers for uncached ones. After each fault the real answers are relayed again until an
uncached CertID is answered: the next fault then meets a closed circuit breaker (three
failures open it for 2 s), so the spoiled upstream is really asked, and the time to
recover is checked against the breaker's probe schedule."""
from __future__ import annotations

import collections
import re
import urllib.request

import pytest

from drill_load import Judge, Load, PhaseCounts
from faulty_upstream import FaultyUpstream
from servers import free_port
from test_redis import redis_section

PHASE_S = 3.0            # each fault lasts this long under load (longer until exercised)
PHASE_MAX_S = 20.0       # ... and at most this long
MAX_AGE = "6s"           # freshness of cached answers; their nextUpdate is a day ahead
MEMORY_GROWTH_MAX_KIB = 64 * 1024
# README "Per-FQDN circuit breaker": three failures open it for 2 s, then one request probes;
# a failed probe doubles the wait.
CIRCUIT_BACKOFF_S = 2.0
# What the proxy logs (event=upstream_validation_failed reason=...) for each spoiled answer.
REFUSAL_REASONS = {
    "garbage": {"unparsable"},
    "expired": {"expired"},
    # real responder certificate, rogue responder, forged responder, no certificate
    "wrong_key": {"bad_signature", "responder_not_issued_by_issuer", "signer_not_found"},
}


def uncached_answered(phase: PhaseCounts) -> bool:
    return phase.outcomes["new", "ok"] > 0


def recovery_bound_s(fault_s: float) -> float:
    """How long after a fault of `fault_s` seconds (which opened the circuit as it began) an
    uncached CertID is answered again at the latest: at the first probe that certainly
    finds the real upstream back (probes at 2, 2+4, 2+4+8, ... s), plus a second of slack."""
    probe, backoff = CIRCUIT_BACKOFF_S, CIRCUIT_BACKOFF_S
    while probe <= fault_s + 0.5:
        backoff *= 2
        probe += backoff
    return probe - fault_s + 1.0


def log_counts(proxy, event: str, field: str) -> collections.Counter:
    """How often each value of `field` occurs in the proxy's `event` lines."""
    exact = re.compile(rf" event={event}( |$)")  # log_lines("answer") has answer_error too
    pattern = re.compile(rf" {field}=(\S+)")
    return collections.Counter(m.group(1) if (m := pattern.search(line)) else "-"
                               for line in proxy.log_lines(event) if exact.search(line))


def test_drill_kill_redis_and_upstream_then_spoil_upstream_answers_under_load(
        pki, start_responder, redis, start_proxy, start_faulty_upstream):
    responder = start_responder()
    port = responder.port
    proxy = start_proxy(port, redis=redis_section(redis), cache={"max_age": MAX_AGE})
    proxy.wait_for_log("redis_state", state="up")
    pid = proxy.pid
    judge = Judge(pki)
    load = Load(proxy.ports["ocsp"], pki, judge)
    load.warm()
    memory_start_kib = proxy.memory_kib()

    refusals, exercised = {}, {}
    with load.running():
        upstream_up = [load.phase("steady", PHASE_S)]
        upstream_up.append(load.phase("redis killed", PHASE_S, fault=redis.kill))
        redis.start()  # same port, empty
        upstream_up.append(load.phase("redis restarted", PHASE_S))
        redis_keys_after_restart = len(redis.keys())

        upstream_down = [load.phase("upstream killed", PHASE_S, fault=responder.kill)]
        responder = start_responder(port=port)
        recoveries = [load.phase("upstream restarted", PHASE_S, until=uncached_answered,
                                 max_seconds=PHASE_MAX_S)]

        # From here on the upstream's port is held by a switchable upstream that relays to a
        # real responder elsewhere, so each fault begins at once, with no moment of closed
        # port (whose connection errors would open the circuit before the fault is seen).
        backend = start_responder()
        responder.kill()
        faulty = start_faulty_upstream(port, "pass", backend.url)
        judge.forbid(faulty.sent)
        load.phase("upstream relayed", PHASE_S / 3)
        for mode in FaultyUpstream.FAULTS:
            before = log_counts(proxy, "upstream_validation_failed", "reason")
            faulty.set_mode(mode)
            upstream_down.append(load.phase(f"upstream {mode}", PHASE_S,
                                            until=lambda _: faulty.exercised(),
                                            max_seconds=PHASE_MAX_S))
            exercised[mode] = faulty.exercised()
            faulty.set_mode("pass")
            recoveries.append(load.phase(f"recovered from {mode}", PHASE_S,
                                         until=uncached_answered, max_seconds=PHASE_MAX_S))
            # (counted after the recovery: no answer of the real upstream is refused)
            refusals[mode] = log_counts(proxy, "upstream_validation_failed", "reason") - before

    memory_end_kib = proxy.memory_kib()
    memory_peak_kib = proxy.memory_kib("VmHWM")
    summary = load.summary()
    served_from = log_counts(proxy, "answer", "source")
    print(f"\n{summary}\n\n"
          f"proxy VmRSS after warm-up {memory_start_kib} KiB, at the end {memory_end_kib} KiB "
          f"({memory_end_kib - memory_start_kib:+d} KiB), peak (VmHWM) {memory_peak_kib} KiB; "
          f"same pid {pid} throughout\n"
          f"answers by source: {dict(served_from)}\n"
          f"requests to the switchable upstream by mode: {dict(faulty.requests)}, "
          f"wrong_key disguises {dict(faulty.disguises)}\n"
          f"refused by the proxy (event=upstream_validation_failed reason=): "
          f"{ {m: dict(r) for m, r in refusals.items()} }\n"
          f"circuit: {dict(log_counts(proxy, 'circuit', 'state'))}, "
          f"redis_state: {dict(log_counts(proxy, 'redis_state', 'state'))}")

    phases = load.drill_phases()
    # The two counts the drill is about.
    assert sum(p.failed_with_cache for p in phases) == 0, summary
    assert sum(p.unvalidated for p in phases) == 0, summary
    # Every failure was the documented answer: HTTP 200 with OCSP tryLater.
    for p in phases:
        assert set(p.error_details) <= {"tryLater"}, summary
    # With the upstream up, Redis down or restarting costs nobody an answer ...
    for p in upstream_up:
        assert p.errors == 0, summary
    assert redis_keys_after_restart > 0, "writes to the restarted Redis resumed"
    # ... while the upstream was down or spoiled, uncached CertIDs got tryLater, and every
    # spoiled kind of answer reached the proxy and was refused for its reason ...
    for p in upstream_down:
        assert p.outcomes["new", "error"] > 0, summary
    for mode in FaultyUpstream.FAULTS:
        assert exercised[mode], f"{mode}: {faulty.log_tail()}"
        assert set(refusals[mode]) == REFUSAL_REASONS[mode], refusals
    # ... cached answers past their freshness were served stale meanwhile ...
    assert served_from["stale"] > 0, served_from
    # ... and once the real upstream was back, uncached CertIDs were answered again, at the
    # circuit breaker's next probe.
    for fault, recovery in zip(upstream_down, recoveries):
        assert uncached_answered(recovery), summary
        assert recovery.first_uncached_ok_s <= recovery_bound_s(fault.seconds), (
            f"{recovery.name}: first uncached answer after {recovery.first_uncached_ok_s:.1f} s, "
            f"the circuit's next probe was due {recovery_bound_s(fault.seconds) - 1:.1f} s "
            f"after a {fault.seconds:.1f} s fault\n{summary}")

    # The proxy survived all of it, as the same process, within a memory bound.
    assert proxy.proc.poll() is None and proxy.pid == pid
    with urllib.request.urlopen(proxy.admin_url + "healthz", timeout=5) as health:
        assert health.status == 200
    assert memory_end_kib < memory_start_kib + MEMORY_GROWTH_MAX_KIB


def test_drill_counts_catch_spoiled_answers_and_failures_when_nothing_filters_them(
        pki, start_responder, start_faulty_upstream):
    """The drill's own check: the same load sent straight to the switchable upstream, with
    no proxy in between, counts every spoiled answer as unvalidated and every failure for
    a CertID answered before as failed_with_cache."""
    backend = start_responder()
    faulty = start_faulty_upstream(free_port(), "pass", backend.url)
    judge = Judge(pki)
    judge.forbid(faulty.sent)
    load = Load(faulty.port, pki, judge)
    load.warm()
    with load.running():
        load.phase("pass", 0.5)
        spoiled = {}
        for mode in FaultyUpstream.FAULTS:
            spoiled[mode] = load.phase(mode, 0.5, fault=lambda m=mode: faulty.set_mode(m))
        down = load.phase("down", 0.5, fault=faulty.stop)
    summary = load.summary()
    print(f"\n{summary}")
    for phase in spoiled.values():
        # Each client thread has at most one request in flight: one the upstream had already
        # answered well when its mode changed may come back in this phase, and one may be
        # cut off as the upstream stops.
        assert phase.ok <= load.threads, summary
        assert phase.unvalidated >= phase.requests - 2 * load.threads > 0, summary
    assert down.ok == 0 and down.errors >= down.requests - load.threads > 0, summary
    assert 0 < down.failed_with_cache < down.requests, summary  # not the never-seen serials
