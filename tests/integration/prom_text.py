"""A strict parser of the Prometheus text exposition format 0.0.4, for the integration tests.

parse(text) returns {(sample name, frozenset(label items)): value} and raises ValueError,
naming the line, on anything a scraper could reject or misread:
  - a sample whose metric has no # TYPE before it, or was never declared at all;
  - a second HELP or TYPE for a metric, an unknown type, a TYPE after the metric's samples,
    or a metric's lines split by another metric's;
  - bad names, escapes other than \\\\ \\" \\n in label values (\\\\ \\n in HELP), a bad number,
    a duplicate label name or duplicate series, trailing blanks, CR, no final newline;
  - a negative or NaN counter; a histogram whose le values do not increase, whose buckets are
    not cumulative, or that lacks the le="+Inf" bucket, _sum or _count (or whose _count is not
    the +Inf bucket).

Run it to self-test; give it files (or -) to check them:
    /usr/bin/python3 tests/integration/prom_text.py [FILE|- ...]
"""
from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass, field

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]Inf|NaN")
TIMESTAMP = re.compile(r"-?[0-9]+")
META = re.compile(r"#[ \t]+(HELP|TYPE)(?:[ \t]+(\S+)(?:[ \t](.*))?)?")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")
# The sample names a metric of each type may have, as suffixes of its declared name.
SUFFIXES = {
    "counter": ("",),
    "gauge": ("",),
    "untyped": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("", "_sum", "_count"),
}

Series = tuple[str, frozenset[tuple[str, str]]]


@dataclass
class _Family:
    type: str | None = None
    help: str | None = None
    has_samples: bool = False
    # histogram: label set without le -> {"buckets": [(le, count)], "_sum": v, "_count": v}
    groups: dict[frozenset[tuple[str, str]], dict] = field(default_factory=dict)


def _number(token: str, what: str) -> float:
    if not NUMBER.fullmatch(token):
        raise ValueError(f"{what} {token!r} is not a number")
    return float(token)


def _unescape(text: str, quote: bool) -> str:
    """Undoes the format's escapes; any other backslash sequence is an error."""
    allowed = {"\\": "\\", "n": "\n"}
    if quote:
        allowed['"'] = '"'
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            if i + 1 >= len(text) or text[i + 1] not in allowed:
                raise ValueError(f"bad escape {text[i:i + 2]!r}")
            out.append(allowed[text[i + 1]])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _labels(line: str, pos: int) -> tuple[dict[str, str], int]:
    """Parses {name="value",...} starting at line[pos] == '{'; returns labels and the end."""
    labels: dict[str, str] = {}
    pos += 1
    while True:
        if line.startswith("}", pos):
            return labels, pos + 1
        m = LABEL_NAME.match(line, pos)
        if not m:
            raise ValueError(f"bad label name at column {pos + 1}")
        name = m.group()
        if name.startswith("__"):
            raise ValueError(f"label name {name!r} is reserved")
        if name in labels:
            raise ValueError(f"duplicate label {name!r}")
        pos = m.end()
        if not line.startswith('="', pos):
            raise ValueError(f'expected =" after label {name!r}')
        pos += 2
        start = pos
        while pos < len(line) and line[pos] != '"':
            pos += 2 if line[pos] == "\\" else 1
        if pos >= len(line):
            raise ValueError(f"unterminated value of label {name!r}")
        labels[name] = _unescape(line[start:pos], quote=True)
        pos += 1
        if line.startswith(",", pos):
            pos += 1
        elif not line.startswith("}", pos):
            raise ValueError(f"expected , or }} after label {name!r}")


def _family_of(name: str, current: str | None, families: dict[str, _Family]) -> str:
    """The declared metric a sample name belongs to; it must be the one being read."""
    if current is not None:
        fam = families[current]
        if fam.type is None and name == current:
            raise ValueError(f"sample {name!r} before the # TYPE of {current!r}")
        for suffix in SUFFIXES[fam.type or "untyped"]:
            if name == current + suffix:
                return current
    for declared, fam in families.items():
        names = (declared + s for s in SUFFIXES[fam.type or "untyped"])
        if declared != current and name in names:
            raise ValueError(f"sample {name!r} is not grouped with the rest of {declared!r}")
    raise ValueError(f"sample {name!r} of a metric never declared with # TYPE")


def _sample(line, current, families, out) -> None:
    m = METRIC_NAME.match(line)
    if not m:
        raise ValueError("bad metric name")
    name, pos = m.group(), m.end()
    labels: dict[str, str] = {}
    if line.startswith("{", pos):
        labels, pos = _labels(line, pos)
    rest = line[pos:]
    if not rest.startswith((" ", "\t")):
        raise ValueError("expected a blank before the value")
    tokens = rest.split()
    if rest != rest.rstrip() or not 1 <= len(tokens) <= 2:
        raise ValueError("expected a value and an optional timestamp, nothing else")
    value = _number(tokens[0], "value")
    if len(tokens) == 2 and not TIMESTAMP.fullmatch(tokens[1]):
        raise ValueError(f"bad timestamp {tokens[1]!r}")

    family = _family_of(name, current, families)
    fam = families[family]
    fam.has_samples = True
    key = (name, frozenset(labels.items()))
    if key in out:
        raise ValueError(f"duplicate series {name}{labels}")
    out[key] = value

    if fam.type == "counter" and not value >= 0:
        raise ValueError(f"counter {name} is {tokens[0]}")
    if fam.type != "histogram":
        return
    if name.endswith("_bucket") and "le" not in labels:
        raise ValueError(f"{name} without an le label")
    if not name.endswith("_bucket") and "le" in labels:
        raise ValueError(f"{name} with an le label")
    if not value >= 0 and not name.endswith("_sum"):
        raise ValueError(f"{name} is {tokens[0]}")
    group = fam.groups.setdefault(
        frozenset((k, v) for k, v in labels.items() if k != "le"), {"buckets": []}
    )
    if name.endswith("_bucket"):
        group["buckets"].append((_number(labels["le"], "le"), value))
    else:
        group[name[len(family):]] = value


def _check_histogram(name: str, fam: _Family) -> None:
    for labels, group in fam.groups.items():
        where = f"{name}{dict(labels)}"
        buckets = group["buckets"]
        for (le_a, n_a), (le_b, n_b) in zip(buckets, buckets[1:]):
            if not le_a < le_b:
                raise ValueError(f"{where}: le {le_b} does not increase after {le_a}")
            if not n_a <= n_b:
                raise ValueError(f"{where}: bucket le={le_b} ({n_b}) below le={le_a} ({n_a})")
        if not buckets or buckets[-1][0] != math.inf:
            raise ValueError(f'{where}: no le="+Inf" bucket')
        for suffix in ("_sum", "_count"):
            if suffix not in group:
                raise ValueError(f"{where}: no {name}{suffix}")
        if group["_count"] != buckets[-1][1]:
            raise ValueError(f"{where}: _count {group['_count']} != +Inf bucket {buckets[-1][1]}")


def parse(text: str) -> dict[Series, float]:
    if text and not text.endswith("\n"):
        raise ValueError("the last line does not end with a newline")
    families: dict[str, _Family] = {}
    current: str | None = None
    out: dict[Series, float] = {}
    for lineno, line in enumerate(text.split("\n")[:-1], 1):
        try:
            if "\r" in line:
                raise ValueError("carriage return")
            if line == "":
                continue
            if not line.startswith("#"):
                _sample(line, current, families, out)
                continue
            m = META.fullmatch(line)
            if not m:
                if re.match(r"#[ \t]+(HELP|TYPE)\b", line):
                    raise ValueError("malformed HELP/TYPE line")
                continue  # any other comment
            keyword, name, arg = m.groups()
            if name is None or not METRIC_NAME.fullmatch(name):
                raise ValueError(f"{keyword} needs a valid metric name")
            if name != current:
                if name in families:
                    raise ValueError(f"{keyword} of {name!r} is not grouped with its other lines")
                families[name] = _Family()
                current = name
            fam = families[name]
            if keyword == "HELP":
                if fam.help is not None:
                    raise ValueError(f"second HELP for {name!r}")
                fam.help = _unescape(arg or "", quote=False)
            else:
                if fam.type is not None:
                    raise ValueError(f"second TYPE for {name!r}")
                if fam.has_samples:
                    raise ValueError(f"TYPE of {name!r} after its samples")
                if arg not in TYPES:
                    raise ValueError(f"unknown type {arg!r} for {name!r}")
                fam.type = arg
        except ValueError as e:
            raise ValueError(f"line {lineno}: {e}: {line!r}") from None
    for name, fam in families.items():
        if fam.type == "histogram":
            _check_histogram(name, fam)
    return out


def value(samples: dict[Series, float], metric: str, /, **labels: str) -> float:
    """The value of one series; KeyError naming it when it is absent. Positional-only
    `metric`, so that a label may be called `name`."""
    key = (metric, frozenset(labels.items()))
    if key not in samples:
        raise KeyError(f"no series {metric}{labels}")
    return samples[key]


GOOD = """\
# HELP req_total Requests, by "result" (good|bad); a \\\\ and a\\nsecond line.
# TYPE req_total counter
req_total{mode="responder",result="good"} 42
req_total{mode="forward",result="bad",} 1 1700000000000
# A comment that is neither HELP nor TYPE.

# TYPE misses_total counter
misses_total 0
# HELP labelled_only Declared, no series yet.
# TYPE labelled_only gauge
# TYPE expiry_seconds gauge
expiry_seconds{name="C:\\\\ca \\"G4\\"\\nx"} -3600
expiry_seconds{name="nan"} NaN
# HELP lat_seconds Latency.
# TYPE lat_seconds histogram
lat_seconds_bucket{fqdn="a",le="0.5"} 1
lat_seconds_bucket{fqdn="a",le="1"} 1
lat_seconds_bucket{fqdn="a",le="+Inf"} 3
lat_seconds_sum{fqdn="a"} 12.5
lat_seconds_count{fqdn="a"} 3
lat_seconds_bucket{le="1e-3"} 0
lat_seconds_bucket{le="+Inf"} 0
lat_seconds_sum 0
lat_seconds_count 0
"""

HISTOGRAM_HEAD = "# TYPE h histogram\n"
BAD = [
    ("no final newline", "# TYPE a counter\na 1", "newline"),
    ("sample never declared", "a 1\n", "never declared"),
    ("HELP but no TYPE", "# HELP a x\na 1\n", "before the # TYPE"),
    ("TYPE after samples", "# TYPE a counter\na 1\n# TYPE b gauge\nb 1\n# TYPE a counter\n",
     "not grouped"),
    ("second TYPE", "# TYPE a counter\n# TYPE a counter\n", "second TYPE"),
    ("second HELP", "# HELP a x\n# HELP a y\n", "second HELP"),
    ("unknown type", "# TYPE a countr\n", "unknown type"),
    ("split family", "# TYPE a gauge\na{x=\"1\"} 1\n# TYPE b gauge\nb 1\na{x=\"2\"} 1\n",
     "not grouped"),
    ("bad label escape", '# TYPE a gauge\na{x="\\t"} 1\n', "bad escape"),
    ("bad HELP escape", "# HELP a say \\\"hi\\\"\n", "bad escape"),
    ("unterminated label", '# TYPE a gauge\na{x="1} 1\n', "unterminated"),
    ("duplicate label", '# TYPE a gauge\na{x="1",x="2"} 1\n', "duplicate label"),
    ("duplicate series", '# TYPE a gauge\na{x="1"} 1\na{x="1"} 2\n', "duplicate series"),
    ("bad number", "# TYPE a gauge\na 1,5\n", "not a number"),
    ("inf spelled wrong", "# TYPE a gauge\na inf\n", "not a number"),
    ("negative counter", "# TYPE a_total counter\na_total -1\n", "counter"),
    ("trailing blank", "# TYPE a gauge\na 1 \n", "nothing else"),
    ("CRLF", "# TYPE a gauge\r\na 1\r\n", "carriage return"),
    ("bad metric name", "# TYPE 1a gauge\n", "valid metric name"),
    ("histogram sample without suffix", HISTOGRAM_HEAD + "h 1\n", "never declared"),
    ("bucket without le", HISTOGRAM_HEAD + "h_bucket 1\n", "without an le"),
    ("le not increasing", HISTOGRAM_HEAD + 'h_bucket{le="1"} 0\nh_bucket{le="0.5"} 0\n'
     'h_bucket{le="+Inf"} 0\nh_sum 0\nh_count 0\n', "does not increase"),
    ("buckets not cumulative", HISTOGRAM_HEAD + 'h_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\n'
     "h_sum 0\nh_count 1\n", "below"),
    ("no +Inf bucket", HISTOGRAM_HEAD + 'h_bucket{le="1"} 0\nh_sum 0\nh_count 0\n', "+Inf"),
    ("no _sum", HISTOGRAM_HEAD + 'h_bucket{le="+Inf"} 0\nh_count 0\n', "no h_sum"),
    ("no _count", HISTOGRAM_HEAD + 'h_bucket{le="+Inf"} 0\nh_sum 0\n', "no h_count"),
    ("_count is not +Inf", HISTOGRAM_HEAD + 'h_bucket{le="+Inf"} 2\nh_sum 0\nh_count 3\n',
     "_count"),
]


def _selftest() -> None:
    samples = parse(GOOD)
    assert value(samples, "req_total", mode="responder", result="good") == 42
    assert value(samples, "req_total", mode="forward", result="bad") == 1
    assert value(samples, "misses_total") == 0
    assert value(samples, "expiry_seconds", name='C:\\ca "G4"\nx') == -3600
    assert math.isnan(value(samples, "expiry_seconds", name="nan"))
    assert value(samples, "lat_seconds_bucket", fqdn="a", le="+Inf") == 3
    assert value(samples, "lat_seconds_sum", fqdn="a") == 12.5
    assert value(samples, "lat_seconds_count") == 0
    assert len(samples) == 14, len(samples)
    assert parse("") == {}
    for what, text, reason in BAD:
        try:
            parse(text)
        except ValueError as e:
            assert reason in str(e), f"{what}: raised for another reason: {e}"
        else:
            raise AssertionError(f"{what}: accepted {text!r}")


def main(paths: list[str]) -> int:
    if not paths:
        _selftest()
        print(f"prom_text self-test: {1 + len(BAD)} passed, 0 failed")
        return 0
    for path in paths:
        text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
        print(f"{path}: {len(parse(text))} samples")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
