"""The project's Prometheus rules as the live test checks and loads them: the real files, with every window scaled down.

`rule_queries()` is what must have data on a healthy platform.

An alert that looks at an hour of traffic and waits 2 minutes cannot be seen
to fire in a test of a few minutes. `scaled()` divides every range window
(`[5m]`, `[1h]`, `[3d]`, subqueries and offsets too), every `for:` and every
group interval by one factor, and keeps everything else: the rule names,
labels, thresholds and expressions, so the alert that fires is the real one,
with the real burn-rate arithmetic, only on a faster clock.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from tests.observability.promql import DURATION, duration, seconds, signals
from tests.observability.queries import Query, unit_of_series

RANGE = re.compile(rf"\[({DURATION.pattern})(?::({DURATION.pattern})?)?\]")
OFFSET = re.compile(rf"\boffset\s+({DURATION.pattern})")
DURATION_KEYS = ("for", "keep_firing_for", "interval")


def groups(rule_files: list[str]) -> list[dict[str, Any]]:
    return [group for path in rule_files for group in yaml.safe_load(Path(path).read_text())["groups"]]


def rules(rule_files: list[str]) -> list[dict[str, Any]]:
    return [rule for group in groups(rule_files) for rule in group["rules"]]


def rule_queries(rule_files: list[str]) -> list[Query]:
    """Every recording rule's expression, and every alert's signals: what must have data on a healthy platform.

    An alert's whole condition is empty on a healthy platform, as it should be;
    what it compares with its thresholds must not be, or it can never fire.
    """
    found = []
    for rule in rules(rule_files):
        if "record" in rule:
            found.append(Query(f"recording rule {rule['record']}", rule["expr"].strip(), unit_of_series(rule["record"])))
            continue
        labels = ", ".join(f"{key}={value}" for key, value in rule.get("labels", {}).items())
        where = f"alert {rule['alert']} ({labels})"
        found += [Query(f"{where}, signal {number}", signal, unit_of_series(signal))
                  for number, signal in enumerate(signals(rule["expr"]), start=1)]
    return found


def _scaled_duration(text: str, factor: float) -> str:
    return duration(seconds(text) / factor)


def scaled_expression(expr: str, factor: float) -> str:
    def scaled_range(match: re.Match[str]) -> str:
        window, resolution = match.group(1), match.group(2)
        inner = _scaled_duration(window, factor)
        if ":" in match.group(0):
            inner += ":" + (_scaled_duration(resolution, factor) if resolution else "")
        return f"[{inner}]"

    expr = RANGE.sub(scaled_range, expr)
    return OFFSET.sub(lambda match: f"offset {_scaled_duration(match.group(1), factor)}", expr)


def _scaled_durations(item: dict[str, Any], factor: float) -> dict[str, Any]:
    return {key: _scaled_duration(value, factor) if key in DURATION_KEYS else value for key, value in item.items()}


def scaled(rule_file: Path, factor: float) -> dict[str, Any]:
    """The rule file's content with every window and wait divided by `factor`."""
    document = yaml.safe_load(rule_file.read_text())
    document["groups"] = [
        {**_scaled_durations(group, factor),
         "rules": [{**_scaled_durations(rule, factor), "expr": scaled_expression(rule["expr"], factor)}
                   for rule in group["rules"]]}
        for group in document["groups"]
    ]
    return document


def write_scaled(rule_files: list[str], factor: float, directory: Path) -> list[str]:
    """Scaled copies of the rule files in `directory` (same names), for a Prometheus configuration."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for path in map(Path, rule_files):
        target = directory / path.name
        target.write_text(yaml.safe_dump(scaled(path, factor), sort_keys=False, width=120))
        written.append(str(target))
    return written
