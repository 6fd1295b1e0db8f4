"""Several ocsp-proxy instances sharing one real redis-server, and Redis failing under them."""
from __future__ import annotations

import subprocess
import time
import urllib.request
from pathlib import Path

from faulty_upstream import FaultyUpstream
from ocsp_client import SUCCESSFUL, curl, make_request, parse_response
from prom_text import value
from servers import RedisServer, free_port, tail, wait_until


def redis_section(server: RedisServer) -> dict:
    return {"address": f"127.0.0.1:{server.port}", "command_timeout": "200ms",
            "reconnect_max_backoff": "500ms"}


def post(proxy, der: bytes):
    return curl("POST", proxy.url, der)


def test_second_instance_answers_from_redis_and_upstream_saw_one_request(
        pki, responder, redis, start_proxy):
    first = start_proxy(responder.port, redis=redis_section(redis))
    second = start_proxy(responder.port, redis=redis_section(redis))
    for p in (first, second):
        p.wait_for_log("redis_state", state="up")
    der = make_request(pki.ica, pki.good)
    a = post(first, der)
    assert parse_response(a.body).response_status == SUCCESSFUL
    wait_until(lambda: redis.keys(), 3, "the answer to be written to Redis")
    key = redis.keys()[0]
    assert key.startswith("ocsp-proxy:ocsp:v1:")
    assert 0 < int(redis.cli("PTTL", key)) <= 86400 * 1000  # until nextUpdate (-ndays 1)
    b = post(second, der)
    assert b.body == a.body
    assert responder.requests_served == 1
    second.wait_for_log("answer", source="redis")


def test_repeated_redis_hits_are_validated_once_and_served_byte_for_byte(
        pki, responder, redis, start_proxy):
    # In-process cache off: every answer after the first comes from Redis and is re-validated;
    # the validation memo does the full check once per value, then only the time checks.
    proxy = start_proxy(responder.port, cache={"memory_bytes": 0}, redis=redis_section(redis))
    proxy.wait_for_log("redis_state", state="up")
    der = make_request(pki.ica, pki.good)
    first = post(proxy, der)
    assert parse_response(first.body).response_status == SUCCESSFUL
    wait_until(lambda: redis.keys(), 3, "the answer to be written to Redis")
    for _ in range(3):
        assert post(proxy, der).body == first.body
    assert responder.requests_served == 1
    memo = proxy.status()["cache"]["validation_memo"]
    assert memo == {"entries": 1, "hits": 2, "misses": 1, "skipped": 0, "evictions": 0}, memo
    # A value rewritten in Redis (another instance's newer answer, or tampering) is new bytes:
    # judged in full again, never answered from what the memo knew of the old ones.
    redis.cli("SET", redis.keys()[0], "not an entry")
    again = post(proxy, der)  # from the upstream again (a new signature), after DEL
    assert parse_response(again.body).response_status == SUCCESSFUL
    assert responder.requests_served == 2
    proxy.wait_for_log("redis_entry_invalid", reason="undecodable")


def test_requests_keep_succeeding_while_redis_is_killed_and_writes_resume_after_restart(
        pki, responder, redis, start_proxy):
    proxy = start_proxy(responder.port, redis=redis_section(redis))
    proxy.wait_for_log("redis_state", state="up")
    cached = make_request(pki.ica, pki.good)
    assert parse_response(post(proxy, cached).body).response_status == SUCCESSFUL

    redis.kill()
    # Cached and uncached requests alike are answered while Redis is gone.
    for der in (cached, make_request(pki.ica, pki.good2), make_request(pki.ica, pki.revoked)):
        answer = post(proxy, der)
        assert answer.status == 200
        assert parse_response(answer.body).response_status == SUCCESSFUL
    proxy.wait_for_log("redis_state", state="down")
    ready = urllib.request.urlopen(proxy.admin_url + "readyz", timeout=5).read().decode()
    assert "degraded: redis" in ready

    def ups() -> int:
        return sum(" state=up " in line for line in proxy.log_lines("redis_state"))

    # one per worker, one each for the CRL and caIssuers services, the learned issuers' sync
    connections = 2 + 2 + 1
    assert ups() == connections
    redis.start()  # same port, empty
    wait_until(lambda: ups() == 2 * connections, 10, "every connection to come back to Redis")
    # One state-change line per connection and change, not one per request.
    assert len(proxy.log_lines("redis_state")) <= 3 * connections
    fresh = make_request(pki.ica, pki.good, digest="sha256")
    assert parse_response(post(proxy, fresh).body).response_status == SUCCESSFUL
    wait_until(lambda: redis.keys(), 3, "a write to the restarted Redis")
    assert urllib.request.urlopen(proxy.admin_url + "readyz", timeout=5).read() == b"ready\n"


class Sentinel:
    """One redis-sentinel (redis-server --sentinel) watching `master` with quorum 1."""

    def __init__(self, workdir: Path, master: RedisServer, name: str = "ocsp-cache"):
        self.port = free_port()
        self.name = name
        self.log_path = workdir / f"sentinel-{self.port}.log"
        conf = workdir / f"sentinel-{self.port}.conf"
        conf.write_text(f"port {self.port}\nbind 127.0.0.1\ndir {workdir}\n"
                        f"logfile {self.log_path}\n"
                        f"sentinel monitor {name} 127.0.0.1 {master.port} 1\n"
                        f"sentinel down-after-milliseconds {name} 1000\n"
                        f"sentinel failover-timeout {name} 3000\n")
        self.proc = subprocess.Popen(["redis-server", str(conf), "--sentinel"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        wait_until(lambda: self.master_port() == master.port, 10, "sentinel to see the master")

    def cli(self, *args: str) -> str:
        return subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True,
                              text=True, timeout=5).stdout.strip()

    def master_port(self) -> int | None:
        lines = self.cli("SENTINEL", "get-master-addr-by-name", self.name).splitlines()
        return int(lines[1]) if len(lines) == 2 else None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log_tail(self) -> str:
        return tail(self.log_path)


def test_proxy_follows_a_sentinel_failover_and_keeps_caching(pki, responder, request, tmp_path,
                                                              start_proxy):
    master = RedisServer(tmp_path)
    replica = RedisServer(tmp_path)
    for server in (master, replica):
        request.addfinalizer(server.stop)
    replica.cli("REPLICAOF", "127.0.0.1", str(master.port))
    wait_until(lambda: "master_link_status:up" in replica.cli("INFO", "replication"), 10,
               "the replica to sync")
    sentinel = Sentinel(tmp_path, master)
    request.addfinalizer(sentinel.stop)
    request.node.ocsp_processes = [("sentinel", sentinel)]

    proxy = start_proxy(responder.port, redis={"sentinels": [f"127.0.0.1:{sentinel.port}"],
                                                "master_name": sentinel.name,
                                                "command_timeout": "200ms",
                                                "reconnect_max_backoff": "500ms"})
    proxy.wait_for_log("redis_state", state="up", address=f"127.0.0.1:{master.port}")
    before = make_request(pki.ica, pki.good)
    assert parse_response(post(proxy, before).body).response_status == SUCCESSFUL
    wait_until(lambda: master.keys(), 3, "the first answer on the master")

    # Sentinel refuses (NOGOODSLAVE) until it has polled the replica; ask until it accepts.
    wait_until(lambda: sentinel.cli("SENTINEL", "FAILOVER", sentinel.name) == "OK", 20,
               "sentinel to accept the failover", step_s=0.5)
    wait_until(lambda: sentinel.master_port() == replica.port, 15, "the failover")
    proxy.wait_for_log("redis_state", timeout_s=15, state="up",
                       address=f"127.0.0.1:{replica.port}")

    after = make_request(pki.ica, pki.revoked)
    assert parse_response(post(proxy, after).body).response_status == SUCCESSFUL
    # The new answer lands on the new master, next to the replicated first one.
    wait_until(lambda: len(replica.keys()) == 2, 5, "the second answer on the new master")
    assert "role:master" in replica.cli("INFO", "replication")


def test_redis_password_is_never_logged_and_a_world_readable_config_holding_it_is_warned_about(
        pki, responder, redis, start_proxy):
    secret = "s3cret-Pa55word"
    proxy = start_proxy(responder.port, redis=dict(redis_section(redis), password=secret))
    assert Path(proxy.config_path).stat().st_mode & 0o004, "the test needs a world-readable file"
    proxy.wait_for_log("config_permissions", path=str(proxy.config_path))
    # redis-server here has no password: AUTH fails, the proxy says so without the secret.
    proxy.wait_for_log("redis_state", state="down")
    assert secret not in proxy.log()


def test_a_replayed_older_good_never_replaces_a_revoked_answer_in_memory_or_in_redis(
        pki, responder, redis, start_proxy):
    """The CA says revoked; then the plain-HTTP path hands back a good answer the same
    responder signed two days ago. Neither the instance that had the revoked answer nor
    another one reading it from Redis may go back to good."""
    upstream = FaultyUpstream(pki, free_port(), "pass", target_url=responder.url)
    try:
        fresh_for_2s = {"max_age": "2s"}
        first = start_proxy(upstream.port, cache=fresh_for_2s, redis=redis_section(redis))
        first.wait_for_log("redis_state", state="up")
        der = make_request(pki.ica, pki.revoked)
        assert parse_response(post(first, der).body).cert_status == "revoked"
        wait_until(lambda: redis.keys(), 3, "the answer to be written to Redis")

        upstream.set_mode("old_good")
        time.sleep(3)  # past max_age: the next request asks the upstream again
        again = parse_response(post(first, der).body)
        assert again.cert_status == "revoked"
        first.wait_for_log("older_answer_refused", offered_status="good", held_status="revoked")

        second = start_proxy(upstream.port, cache=fresh_for_2s, redis=redis_section(redis))
        second.wait_for_log("redis_state", state="up")
        assert parse_response(post(second, der).body).cert_status == "revoked"
        second.wait_for_log("older_answer_refused", store="redis")
        assert upstream.requests["old_good"] >= 2  # both asked, both were handed the replay
    finally:
        upstream.stop()


def test_the_redis_stage_counts_hits_misses_writes_and_invalid_values_in_metrics(
        pki, responder, redis, start_proxy):
    proxy = start_proxy(responder.port, cache={"memory_bytes": 0}, redis=redis_section(redis))
    proxy.wait_for_log("redis_state", state="up")
    der = make_request(pki.ica, pki.good)
    post(proxy, der)  # a miss, then written
    wait_until(lambda: redis.keys(), 3, "the answer to be written to Redis")
    post(proxy, der)
    post(proxy, der)  # two hits
    redis.cli("SET", redis.keys()[0], "not an entry")
    post(proxy, der)  # an invalid value: deleted, asked upstream, written again
    wait_until(lambda: redis.keys() and int(redis.cli("STRLEN", redis.keys()[0])) > 100, 3,
               "the new answer to be written")
    metrics = proxy.metrics()
    counts = {event: value(metrics, "ocsp_proxy_redis_events_total", event=event)
              for event in ("hit", "miss", "invalid_entry", "write", "timeout", "stale_served")}
    assert counts == {"hit": 2, "miss": 1, "invalid_entry": 1, "write": 2, "timeout": 0,
                      "stale_served": 0}, counts
    assert value(proxy.metrics(), "ocsp_proxy_redis_events_total", event="hit") == 2  # not doubled
