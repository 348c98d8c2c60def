"""Just enough PromQL reading for the live test: durations, the selectors an expression reads, an alert's signals.

Not a parser: it tells apart what sits at the top level of an expression
from what sits inside parentheses, braces, brackets and strings, which is
all that splitting an alert condition and naming its series needs.
"""

from __future__ import annotations

import re

DURATION = re.compile(r"(?:\d+(?:ms|[smhdwy]))+")
DURATION_PART = re.compile(r"(\d+)(ms|[smhdwy])")
SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}

TOKEN = re.compile(
    r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`'  # strings
    r"|\{[^}]*\}|\[[^\]]*\]"  # label matchers, ranges
    r"|\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"  # label lists
    r"|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?"  # numbers
    r"|[a-zA-Z_:][\w:]*|\S"
)
KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right",
            "sum", "min", "max", "avg", "count", "group", "stddev", "stdvar", "topk", "bottomk", "quantile",
            "count_values", "inf", "nan", "atan2"}
SET_OPERATOR = re.compile(r"\b(?:and|or|unless)\b"
                          r"(?:\s*(?:on|ignoring)\s*\([^)]*\))?(?:\s*group_(?:left|right)\s*(?:\([^)]*\))?)?")
COMPARISON = re.compile(r"(?:==|!=|>=|<=|>|<)(?:\s*bool\b)?")
OPENING, CLOSING = "([{", ")]}"


def seconds(duration: str) -> float:
    return sum(int(number) * SECONDS[unit] for number, unit in DURATION_PART.findall(duration))


def duration(total_seconds: float) -> str:
    """A Prometheus duration: whole seconds where it can, milliseconds otherwise."""
    milliseconds = round(total_seconds * 1000)
    return f"{milliseconds // 1000}s" if milliseconds % 1000 == 0 else f"{milliseconds}ms"


def _top_level(expr: str) -> list[bool]:
    """For each character: whether it sits outside every bracket and string."""
    outside, depth, quote = [], 0, ""
    for char in expr:
        if quote:
            outside.append(False)
            quote = "" if char == quote else quote
            continue
        if char in "\"'`":
            quote = char
        elif char in OPENING:
            depth += 1
        elif char in CLOSING:
            depth -= 1
            outside.append(False)
            continue
        outside.append(depth == 0 and not quote)
    return outside


def _closing(expr: str) -> int:
    """Where the parenthesis that opens `expr` closes."""
    depth, quote = 0, ""
    for index, char in enumerate(expr):
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'`":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index
    return len(expr)


def unwrapped(expr: str) -> str:
    """The expression without whitespace around it and without parentheses that wrap all of it."""
    expr = expr.strip()
    while expr.startswith("(") and _closing(expr) == len(expr) - 1:
        expr = expr[1:-1].strip()
    return expr


def _split(expr: str, operator: re.Pattern[str]) -> list[str]:
    outside = _top_level(expr)
    parts, start = [], 0
    for match in operator.finditer(expr):
        if outside[match.start()] and match.start() >= start:
            parts.append(expr[start:match.start()])
            start = match.end()
    return [*parts, expr[start:]]


def signals(condition: str) -> list[str]:
    """What an alert condition compares with its thresholds: each operand of its top-level and/or/unless.

    `a > 0.1 and b > 0.1` gives [a, b]; `max(up) == 0` gives [max(up)].
    On a healthy platform the condition is empty, but each signal has data.
    """
    found = []
    for part in _split(unwrapped(condition), SET_OPERATOR):
        found.append(unwrapped(_split(unwrapped(part), COMPARISON)[0]))
    return found


def selectors(expr: str) -> list[str]:
    """The series selectors an expression reads (`name{matchers}`), in order, each once."""
    tokens = TOKEN.findall(expr)
    found: list[str] = []
    for index, token in enumerate(tokens):
        if not re.fullmatch(r"[a-zA-Z_:][\w:]*", token) or token.lower() in KEYWORDS:
            continue
        following = tokens[index + 1] if index + 1 < len(tokens) else ""
        if following == "(":  # a function
            continue
        selector = token + following if following.startswith("{") else token
        if selector not in found:
            found.append(selector)
    return found
