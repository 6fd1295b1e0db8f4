"""The monitoring the proxy ships (deploy/prometheus/alerts.yml, deploy/grafana/ocsp-proxy.json)
against the real binary: promtool accepts and unit-tests the rules, every query of the rules
and of the dashboard parses as PromQL, and every metric, label and label value they use is one
the running proxy exports on /metrics, so a renamed metric cannot leave an alert that never
fires."""
from __future__ import annotations

import dataclasses
import datetime
import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
ALERTS_TEST = ROOT / "deploy" / "prometheus" / "alerts_test.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "ocsp-proxy.json"

# Labels Prometheus itself adds to every scraped series, and the histogram bucket bound.
SCRAPE_LABELS = {"instance", "job", "le"}
METRIC = re.compile(r"\b((?:ocsp_proxy|process)_[a-z0-9_]+)\b")
MATCHER = re.compile(r"([a-z_]+)\s*(=~|!~|!=|=)\s*\"([^\"]*)\"")
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")


def promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=120)


def alert_exprs() -> dict[str, str]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return {rule["alert"]: rule["expr"] for group in groups for rule in group["rules"]}


def dashboard_exprs() -> dict[str, str]:
    """Each panel's queries, with Grafana's variables replaced by what they expand to."""
    board = json.loads(DASHBOARD.read_text())
    out = {}
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"].replace("$__rate_interval", "5m").replace("$instance", ".*")
            out[f'{panel["title"]} ({target["refId"]})'] = expr
    return out


def declared_labels() -> dict[str, set[str]]:
    """Each metric's label names from the table in core/metrics.h: a counter that has not
    moved has no sample on /metrics to read them from."""
    table = (ROOT / "core" / "metrics.h").read_text()
    out = {}
    for name, labels in re.findall(r'X\(\w+,\s*\w+,\s*"([a-z_]+)",\s*\(([^)]*)\)', table):
        out[name] = set(re.findall(r'"([a-z_]+)"', labels))
    return out


class Exported:
    """What /metrics declares (metric names, the label values seen in samples or named in the
    metric's HELP text), with the label names core/metrics.h gives each metric."""

    def __init__(self, text: str):
        self.help: dict[str, str] = {}
        declared = declared_labels()
        self.labels: dict[str, set[str]] = {}
        self.values: dict[tuple[str, str], set[str]] = {}
        types: dict[str, str] = {}
        for line in text.splitlines():
            if line.startswith("# HELP "):
                name, _, help_text = line[7:].partition(" ")
                self.help[name] = help_text
            elif line.startswith("# TYPE "):
                name, _, kind = line[7:].partition(" ")
                types[name] = kind
                self.labels.setdefault(name, set(declared.get(name, set())))
            elif line and not line.startswith("#"):
                sample, _, rest = line.partition("{")
                family = self.family(sample.split(" ")[0], types)
                for label, value in re.findall(r'([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"', rest):
                    self.labels[family].add(label)
                    self.values.setdefault((family, label), set()).add(value)

    @staticmethod
    def family(sample: str, types: dict[str, str]) -> str:
        for suffix in ("_bucket", "_sum", "_count"):
            base = sample[: -len(suffix)] if sample.endswith(suffix) else None
            if base and types.get(base) == "histogram":
                return base
        return sample

    def problems(self, where: str, expr: str) -> list[str]:
        out = []
        metrics = [self.family(m, {n: "histogram" for n in self.labels}) for m in METRIC.findall(expr)]
        for metric in metrics:
            if metric not in self.labels:
                out.append(f"{where}: {metric} is not exported")
        known = set().union(*(self.labels.get(m, set()) for m in metrics)) | SCRAPE_LABELS
        for label, op, value in MATCHER.findall(expr):
            if label not in known:
                out.append(f"{where}: no metric of {metrics} has the label {label}")
                continue
            if label in SCRAPE_LABELS or op in ("!=", "!~"):
                continue
            for alternative in value.split("|") if op == "=~" else [value]:
                if alternative in (".*", ""):
                    continue
                seen = set().union(*(self.values.get((m, label), set()) for m in metrics))
                helps = " ".join(self.help.get(m, "") for m in metrics)
                if alternative not in seen and not re.search(rf"\b{re.escape(alternative)}\b", helps):
                    out.append(f"{where}: {label}={alternative!r} is neither a value of {metrics} "
                               f"nor named in its help text")
        for group in GROUPING.findall(expr):
            for label in (l.strip() for l in group.split(",") if l.strip()):
                if label not in known:
                    out.append(f"{where}: grouping by {label}, which {metrics} do not have")
        return out


@dataclasses.dataclass
class Monitored:
    proxy: object
    crl_url: str
    crl_next_update: datetime.datetime


@pytest.fixture(scope="module")
def monitored(request, proxy_bin, pki, tmp_path_factory) -> Monitored:
    """A proxy that holds a CRL of crl.urls and has answered one good and one revoked
    certificate, so that the series those make are on /metrics."""
    from ocsp_client import openssl_query
    from pki import CRL_FQDN, OCSP_FQDN, crl_dates
    from proxy import Proxy, proxy_config, upstream
    from servers import OcspResponder, StaticServer
    directory = tmp_path_factory.mktemp("monitoring")
    responder = OcspResponder(pki, directory)
    request.addfinalizer(responder.stop)
    static = StaticServer(directory / "static")
    request.addfinalizer(static.stop)
    crl = pki.make_crl(pki.ica, revoked=[pki.revoked])
    static.put("ica.crl", crl.read_bytes())
    crl_url = f"http://{CRL_FQDN}:{static.port}/ica.crl"
    config = proxy_config(upstreams=[upstream(responder.port, [OCSP_FQDN], [pki.ica.pem])],
                          resolve={OCSP_FQDN: "127.0.0.1", CRL_FQDN: "127.0.0.1"},
                          nonce="ignore")
    config["watch"] = {"intermediates": [{"name": "test-ica", "cert": str(pki.ica.pem),
                                          "parent": str(pki.root.pem)}]}
    config["crl"] = {"urls": [crl_url]}
    proxy = Proxy(proxy_bin, directory, config, name="monitoring")
    request.addfinalizer(proxy.stop)
    proxy.wait_for_log("crl_fetched", url=crl_url)
    for leaf, status in ((pki.good, "good"), (pki.revoked, "revoked")):
        answer = openssl_query(proxy.url, pki, leaf, nonce=False)
        assert answer.status_of(leaf) == status, answer.output
    return Monitored(proxy, crl_url, crl_dates(crl)[1])


@pytest.fixture(scope="module")
def exported(monitored) -> Exported:
    answer = monitored.proxy.admin("metrics")
    assert answer.status == 200, answer
    return Exported(answer.body.decode())


def test_promtool_accepts_the_rules_and_their_unit_tests_pass():
    check = promtool("check", "rules", str(ALERTS))
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"SUCCESS: {len(alert_exprs())} rules found" in check.stdout
    tested = promtool("test", "rules", str(ALERTS_TEST))
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_every_rule_has_a_unit_test():
    tested = {case["alertname"] for test in yaml.safe_load(ALERTS_TEST.read_text())["tests"]
              for case in test["alert_rule_test"] if case.get("exp_alerts")}
    assert set(alert_exprs()) == tested


def test_every_dashboard_query_is_valid_promql(tmp_path):
    """promtool parses each query as a recording rule; a typo in a panel fails here."""
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{i}", "expr": expr}
        for i, expr in enumerate(dashboard_exprs().values())]}]}
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump(rules))
    check = promtool("check", "rules", str(path))
    assert check.returncode == 0, check.stdout + check.stderr


def test_rules_and_dashboard_use_only_what_the_proxy_exports(exported):
    assert "ocsp_proxy_requests_total" in exported.labels  # the scrape was parsed
    problems = []
    for name, expr in {**alert_exprs(), **dashboard_exprs()}.items():
        problems += exported.problems(name, expr)
    assert problems == []


def test_the_check_catches_a_renamed_metric_and_a_wrong_label_value(exported):
    """The guard above is only worth something if it fails on the mistakes it is for."""
    assert exported.problems("x", 'rate(ocsp_proxy_request_total[5m])') == [
        "x: ocsp_proxy_request_total is not exported"]
    assert exported.problems("x", 'ocsp_proxy_cache_hits_total{layer="disk"}') != []
    assert exported.problems("x", 'sum by (upstream) (ocsp_proxy_circuit_open)') != []
    assert exported.problems("x", 'ocsp_proxy_cache_hits_total{layer="stale"}') == []


def test_cache_bounds_crl_next_update_and_answers_per_upstream_are_exported(monitored):
    """The series the cache, CRL and revoked-share alerts read, with what the proxy holds."""
    from prom_text import value
    scrape = monitored.proxy.metrics()
    assert value(scrape, "ocsp_proxy_cache_limit_bytes", cache="ocsp") == 64 << 20
    assert value(scrape, "ocsp_proxy_cache_limit_bytes", cache="crl") == 256 << 20
    assert value(scrape, "ocsp_proxy_cache_evictions_total", cache="ocsp") == 0
    assert value(scrape, "ocsp_proxy_crl_next_update_timestamp_seconds",
                 url=monitored.crl_url) == monitored.crl_next_update.timestamp()
    assert value(scrape, "ocsp_proxy_answers_total", upstream="testca", status="good") == 1
    assert value(scrape, "ocsp_proxy_answers_total", upstream="testca", status="revoked") == 1
