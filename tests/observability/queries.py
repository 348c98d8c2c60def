"""A query the live test sends to Prometheus, and what its answer may hold."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

# The values a panel may show in each Grafana unit; any other unit is a
# count, a rate or a size here, never negative.
BOUNDS = {"s": (0.0, 10.0), "ms": (0.0, 10_000.0), "percentunit": (0.0, 1.0), "percent": (0.0, 100.0)}


@dataclass(frozen=True)
class Query:
    where: str  # "dashboard / panel [refId]", or the rule it comes from
    expr: str  # as sent to Prometheus
    unit: str  # a Grafana unit

    def insane(self, values: list[float]) -> list[float]:
        """The values that make no sense in this unit (NaN aside: a gap where one series saw no traffic)."""
        low, high = BOUNDS.get(self.unit, (0.0, math.inf))
        return [value for value in values if not math.isnan(value) and not low <= value <= high]


def unit_of_series(name: str) -> str:
    """The unit of a recorded series (level:metric:operation) or of an expression, from its names."""
    if re.search(r"[:_]ratio", name):
        return "percentunit"
    if "_seconds" in name and re.search(r":p\d\d|histogram_quantile", name):
        return "s"
    return "short"
