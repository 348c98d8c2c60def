"""The live test's own tools, offline: the scaled rules are the real ones on a faster clock; alerts split into signals."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.observability.prometheus import _observe, installed_prometheus
from tests.observability.promql import seconds, selectors, signals
from tests.observability.rules import RANGE, rules, scaled_expression, write_scaled

FACTOR = 30


@pytest.fixture(scope="module")
def real_rule_files() -> list[str]:
    return _observe().configuration(8000, "127.0.0.1")["rule_files"]


def _windows(expr: str) -> list[float]:
    return [seconds(window) for window, _resolution in RANGE.findall(expr)]


def test_scaled_rules_keep_everything_but_the_clock(real_rule_files: list[str], tmp_path) -> None:
    real, fast = rules(real_rule_files), rules(write_scaled(real_rule_files, FACTOR, tmp_path))
    assert len(fast) == len(real)
    for before, after in zip(real, fast, strict=True):
        assert {key: value for key, value in after.items() if key not in ("expr", "for")} == \
               {key: value for key, value in before.items() if key not in ("expr", "for")}
        assert _windows(after["expr"]) == [window / FACTOR for window in _windows(before["expr"])]
        assert RANGE.sub("[]", after["expr"]) == RANGE.sub("[]", before["expr"]), "only the windows change"
        assert seconds(after.get("for", "0s")) == seconds(before.get("for", "0s")) / FACTOR
    assert any(_windows(rule["expr"]) for rule in real), "the rules have windows to scale"


def test_scaled_rules_are_valid_for_prometheus(real_rule_files: list[str], tmp_path) -> None:
    installed_prometheus()
    promtool = shutil.which("promtool")
    assert promtool, "promtool comes with Debian's prometheus package"
    checked = subprocess.run([promtool, "check", "rules", *write_scaled(real_rule_files, FACTOR, tmp_path)],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize(("expr", "scaled"), [
    ("rate(x[5m])", "rate(x[10s])"),
    ("max_over_time(rate(x[1h])[3d:1m]) offset 1d", "max_over_time(rate(x[120s])[8640s:2s]) offset 2880s"),
    ("x[1h30m:]", "x[180s:]"),
    ("rate(x[1m])", "rate(x[2s])"),
    ("rate(x[10s])", "rate(x[333ms])"),
])
def test_windows_subqueries_and_offsets_scale(expr: str, scaled: str) -> None:
    assert scaled_expression(expr, FACTOR) == scaled


@pytest.mark.parametrize(("condition", "expected"), [
    ("slo:a:ratio_rate1h > (14.4 * 0.001)\nand slo:a:ratio_rate5m > (14.4 * 0.001)",
     ["slo:a:ratio_rate1h", "slo:a:ratio_rate5m"]),
    ('max by (service) (up{job="titanium"}) == 0', ['max by (service) (up{job="titanium"})']),
    ('(vector(1) or vector(2)) unless on (service) up{job="t", route!="/x"}',
     ["vector(1) or vector(2)", 'up{job="t", route!="/x"}']),
    ("(a > bool 1) or (b < 2)", ["a", "b"]),
    ('sum(rate(x{s=~"a|b"}[5m])) / sum(rate(x[5m])) >= 0.05', ['sum(rate(x{s=~"a|b"}[5m])) / sum(rate(x[5m]))']),
])
def test_an_alert_condition_splits_into_what_it_compares(condition: str, expected: list[str]) -> None:
    assert signals(condition) == expected


def test_selectors_name_the_series_an_expression_reads() -> None:
    expr = ('histogram_quantile(0.95, sum by (service, le) (rate(http_request_duration_seconds_bucket{service=~".*"}[1m])))'
            ' / on (service) group_left count(up) or label_replace(vector(1), "service", "x", "", "") > bool 1e3'
            " and slo:gateway_read_errors:ratio_rate1h")
    assert selectors(expr) == ['http_request_duration_seconds_bucket{service=~".*"}', "up",
                               "slo:gateway_read_errors:ratio_rate1h"]
