"""The platform's memory: the resident set (RSS) of `titanium up` and every process under it, from /proc."""

from __future__ import annotations

from collections import Counter
from pathlib import Path


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = task / "children"
        if children.exists():
            found += [int(child) for child in children.read_text().split()]
    return found


def _label(pid: int) -> str:
    """`titanium.server blog` is "blog"; the process at the top is the supervisor."""
    command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    if b"titanium.server" in command:
        return command[command.index(b"titanium.server") + 1].decode()
    return Path(command[0].decode()).name


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0  # a process that has just exited


def resident_mb(root: int) -> dict[str, float]:
    """MB of RSS by process kind ("supervisor", each service's processes together), and "total"."""
    sizes: Counter[str] = Counter()
    pending = [root]
    while pending:
        pid = pending.pop()
        try:
            sizes["supervisor" if pid == root else _label(pid)] += _rss_mb(pid)
            pending += _children(pid)
        except (FileNotFoundError, ProcessLookupError):
            continue
    return {**{name: round(size, 1) for name, size in sorted(sizes.items())}, "total": round(sum(sizes.values()), 1)}
