"""What loadtest/run.py measured, as a table: printed, and saved as JSON and Markdown under loadtest/results/."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

FIGURES = ("p50_ms", "p95_ms", "p99_ms", "requests_per_second")  # the ones set against the references


@dataclass
class Result:
    name: str
    title: str
    target: str
    p50_ms: float
    p95_ms: float
    p99_ms: float
    requests_per_second: float
    error_percent: float
    creates_per_second: float | None
    dropped_iterations: int
    vs_bare_app: dict[str, float] | None = None
    vs_bare_proxy: dict[str, float] | None = None
    restarted: list[str] = field(default_factory=list)  # services that restarted during the run

    @classmethod
    def from_k6(cls, name: str, title: str, target: str, metrics: dict, seconds: float) -> Result:
        """From k6's summary of a run that loaded the target for `seconds`.

        Rates are counts over those seconds: k6's own also count the time setup() took.
        """
        latency = metrics["http_req_duration"]
        creates = metrics.get("http_reqs{name:create}")
        return cls(name, title, target, latency["med"], latency["p(95)"], latency["p(99)"],
                   metrics["http_reqs"]["count"] / seconds, 100 * metrics["http_req_failed"]["value"],
                   creates["count"] / seconds if creates else None,
                   int(metrics.get("dropped_iterations", {}).get("count", 0)))

    def ratios_to(self, reference: Result) -> dict[str, float]:
        return {figure: getattr(self, figure) / getattr(reference, figure) for figure in FIGURES}


def system_description(args: argparse.Namespace, postgres: bool, redis: bool) -> dict:
    now = datetime.now(UTC)
    return {
        "stack": "-".join(part for part, used in (("postgres", postgres), ("sqlite", not postgres), ("redis", redis)) if used),
        "stack_name": f"{'PostgreSQL' if postgres else 'SQLite'} + {'Redis' if redis else 'in-process cache'}",
        "vus": args.vus, "rounds": args.rounds, "duration_s": args.duration, "warmup_s": args.warmup, "rate": args.rate,
        "only": args.only,
        "date": now.isoformat(timespec="seconds"), "timestamp": now.strftime("%Y%m%dT%H%M%SZ"),
        "nproc": len(os.sched_getaffinity(0)), "cpu": _cpu_model(), "python": sys.version.split()[0],
    }


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def add_ratios(results: list[Result]) -> None:
    """Each run's figures over the bare app's (and, for the gateway's runs, the bare proxy's) from this same bench."""
    references = {result.target: result for result in results if result.target in ("app", "proxy")}
    for result in results:
        if "app" in references and result.target != "app":
            result.vs_bare_app = result.ratios_to(references["app"])
        if "proxy" in references and result.target == "gateway":
            result.vs_bare_proxy = result.ratios_to(references["proxy"])


def median_of_rounds(rounds: list[list[Result]]) -> list[Result]:
    """Each run's figures, and its ratios to its own round's references, as medians over the rounds."""
    for results in rounds:
        add_ratios(results)
    return [_median(list(same_run)) for same_run in zip(*rounds, strict=True)]


def _median(results: list[Result]) -> Result:
    first = results[0]
    if len(results) == 1:
        return first

    def median(figure: str) -> float:
        return statistics.median(getattr(result, figure) for result in results)

    def median_ratios(attribute: str) -> dict[str, float] | None:
        ratios = [getattr(result, attribute) for result in results]
        if ratios[0] is None:
            return None
        return {figure: statistics.median(ratio[figure] for ratio in ratios) for figure in FIGURES}

    creates = [result.creates_per_second for result in results if result.creates_per_second is not None]
    return replace(first, **{figure: median(figure) for figure in (*FIGURES, "error_percent")},
                   creates_per_second=statistics.median(creates) if creates else None,
                   dropped_iterations=sum(result.dropped_iterations for result in results),
                   vs_bare_app=median_ratios("vs_bare_app"), vs_bare_proxy=median_ratios("vs_bare_proxy"),
                   restarted=sorted({name for result in results for name in result.restarted}))


def header(system: dict) -> str:
    rounds = system.get("rounds", 1)
    medians = f" · medians of {rounds} interleaved rounds" if rounds > 1 else ""
    return (f"{system['stack_name']} · {system['vus']} VUs · {system['duration_s']:g} s a run after {system['warmup_s']:g} s "
            f"of warm-up{medians} · {system['date']} · nproc {system['nproc']} · {system['cpu']} · Python {system['python']}")


COLUMNS = ("run", "P50 ms", "P95 ms", "P99 ms", "req/s", "errors", "creates/s",
           "÷ bare app: P50 P95 P99 req/s", "÷ bare proxy: P50 P95 P99 req/s")
NOTE = "k6 runs on the same cores as the servers."


def rows(results: list[Result]) -> list[tuple[str, ...]]:
    return [(result.title, f"{result.p50_ms:.2f}", f"{result.p95_ms:.2f}", f"{result.p99_ms:.2f}",
             f"{result.requests_per_second:.1f}", f"{result.error_percent:.2f}%",
             "" if result.creates_per_second is None else f"{result.creates_per_second:.1f}",
             _ratios(result.vs_bare_app), _ratios(result.vs_bare_proxy)) for result in results]


def _ratios(ratios: dict[str, float] | None) -> str:
    if not ratios:
        return ""
    return " ".join((f"{ratio:.0f}" if ratio >= 10 else f"{ratio:.2f}").rjust(4) for ratio in ratios.values())


def notes(system: dict, results: list[Result]) -> list[str]:
    idle, ready = system.get("idle_pss_mb"), system.get("ready_seconds")
    memory = ([f"the platform idle (just started, no request yet): {idle['total']:.0f} MB PSS, "
               + ", ".join(f"{name} {size:.0f}" for name, size in idle.items() if name != "total")] if idle else [])
    start = [f"ready {ready:.2f} s after `titanium up` started (a fresh data directory)"] if ready else []
    dropped = [f"{result.title}: k6 dropped {result.dropped_iterations} requests it was due to send "
               f"(no virtual user free: the answers came too slowly)" for result in results if result.dropped_iterations]
    restarted = [f"{result.title}: {', '.join(result.restarted)} restarted during the run; the outage is in its figures"
                 for result in results if result.restarted]
    return [*start, *memory, *dropped, *restarted, NOTE]


def text_table(system: dict, results: list[Result]) -> str:
    lines = [COLUMNS, *rows(results)]
    widths = [max(len(line[column]) for line in lines) for column in range(len(COLUMNS))]
    aligned = ["  ".join(cell.ljust(width) if column == 0 else cell.rjust(width)
                         for column, (cell, width) in enumerate(zip(line, widths, strict=True))).rstrip() for line in lines]
    return "\n".join([header(system), "", *aligned, "", *notes(system, results)])


def markdown_table(system: dict, results: list[Result]) -> str:
    lines = [COLUMNS, tuple(":--" if column == 0 else "--:" for column in range(len(COLUMNS))), *rows(results)]
    return "\n".join([header(system), "", *(f"| {' | '.join(line)} |" for line in lines), "",
                      *(f"- {note}" for note in notes(system, results)), ""])


def save(system: dict, results: list[Result], directory: Path) -> list[Path]:
    """The results as JSON in a file of this bench's own; a whole bench's also as latest-<stack>.json and .md."""
    document = json.dumps({**system, "runs": [asdict(result) for result in results]}, indent=2)
    files = {directory / f"{system['stack']}-{system['timestamp']}.json": document}
    if not system["only"]:
        files |= {directory / f"latest-{system['stack']}.json": document,
                  directory / f"latest-{system['stack']}.md": markdown_table(system, results)}
    directory.mkdir(exist_ok=True)
    for path, text in files.items():
        path.write_text(text)
    return list(files)
