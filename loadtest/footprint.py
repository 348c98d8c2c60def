"""The platform's memory: the proportional set size (PSS) of `titanium up` and every process under it, from /proc.

PSS, not RSS: the services are forked from one process that imported them
(src/titanium/service_processes.py) and share those pages until they write
to them; RSS would count each shared page once per process, PSS splits it
between them, so the processes' figures add up to what the platform takes.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from tests.platform.harness import process_name, process_tree

from titanium.core.registry import SERVICE_NAMES


def _kind(pid: int, root: int) -> str:
    """What a process is: "supervisor" at the top, a service by name (its processes together), or a helper."""
    if pid == root:
        return "supervisor"
    name = process_name(pid)  # a service's processes are named after it: blog, blog-2, …
    first, _, number = name.rpartition("-")
    service = first if number.isdigit() else name
    if service in SERVICE_NAMES:
        return service
    # Checked after the name: the services, copies of the fork server, show its command line too.
    command = Path(f"/proc/{pid}/cmdline").read_bytes()
    if b"multiprocessing.forkserver" in command:
        return "fork server"
    if b"multiprocessing.resource_tracker" in command:
        return "resource tracker"
    return name


def _pss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return 0.0


def proportional_mb(root: int) -> dict[str, float]:
    """MB of PSS by kind of process ("supervisor", each service's processes together, …), and "total"."""
    sizes: Counter[str] = Counter()
    for pid in process_tree(root):
        try:
            sizes[_kind(pid, root)] += _pss_mb(pid)
        except (FileNotFoundError, ProcessLookupError):
            continue  # exited meanwhile
    return {**{name: round(size, 1) for name, size in sorted(sizes.items())}, "total": round(sum(sizes.values()), 1)}
