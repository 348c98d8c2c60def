"""The processes `titanium up` runs its services in: forked from one process that imported them once.

Each service is its own process, as in a container, but rather than start a
fresh interpreter that imports FastAPI, SQLAlchemy, pydantic and the rest
again (about a second of CPU each, eight times over), the supervisor asks the
standard library's fork server (multiprocessing's "forkserver" start method)
for a copy of a process that has imported every service's code already
(`titanium.preload`): a service is then listening a few hundred
milliseconds after it is asked for, and the imported code's memory is shared
between the copies until one of them writes to it.

A forked service runs the code a container runs (`titanium.server`), in a
session of its own (Ctrl-C at the terminal reaches only the supervisor), with
its own environment, its log file on stdout and stderr, and its label as the
process name that `ps -o comm` and `top` show (blog, blog-2, …).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import multiprocessing
import multiprocessing.forkserver
import os
import signal
import sys
from pathlib import Path

PRELOAD = "titanium.preload"
_PR_SET_NAME = 15
_PR_SET_PDEATHSIG = 1
_PROCESS_NAME_BYTES = 15  # the kernel keeps the first 15 bytes of a process's name

_forking = multiprocessing.get_context("forkserver")
_forking.set_forkserver_preload([PRELOAD])


def start_fork_server() -> None:
    """Start the fork server now (it imports every service meanwhile) rather than at the first service's start."""
    multiprocessing.forkserver.ensure_running()


class ForkedProcess:
    """One forked service process, watched from the supervisor's event loop (pid, returncode, wait, terminate, kill)."""

    def __init__(self, process: multiprocessing.process.BaseProcess) -> None:
        self._process = process
        self.pid: int = process.pid or 0
        self.returncode: int | None = None
        loop = asyncio.get_running_loop()
        self._ended: asyncio.Future[int] = loop.create_future()
        # The fork server writes the exit status to this pipe when the process ends (or closes it if it dies itself).
        loop.add_reader(process.sentinel, self._on_end)

    @classmethod
    def start(cls, label: str, service: str, env: dict[str, str], log_path: Path | None) -> ForkedProcess:
        """Fork the service. Blocks until the fork server has forked it: a few milliseconds, but the first
        time until the server has imported everything, when the supervisor has nothing else to do. Not in
        a thread: starting a process reads the exit status of those that ended, which `_on_end` reads too."""
        process = _forking.Process(target=_serve, args=(label, service, env, log_path), name=label,
                                   daemon=True)  # terminated if the supervisor itself fails
        process.start()
        return cls(process)

    def _on_end(self) -> None:
        asyncio.get_running_loop().remove_reader(self._process.sentinel)
        self._process.join(0)
        code = self._process.exitcode
        self.returncode = 255 if code is None else code
        with contextlib.suppress(ValueError):  # its pipe, not kept open for each process that ever ran
            self._process.close()
        self._ended.set_result(self.returncode)

    async def wait(self) -> int:
        return await asyncio.shield(self._ended)

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def _signal(self, signum: int) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)


def _serve(label: str, service: str, env: dict[str, str], log_path: Path | None) -> None:
    """In the forked process: become the service, as `python -m titanium.server SERVICE` would."""
    from titanium.server import main

    os.setsid()
    _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)  # the fork server gone (the supervisor with it): stop too
    _prctl(_PR_SET_NAME, ctypes.c_char_p(label.encode()[:_PROCESS_NAME_BYTES]))
    if log_path is not None:
        _write_output_to(log_path)
    os.environ.clear()
    os.environ.update(env)
    raise SystemExit(main([service]))


def _write_output_to(log_path: Path) -> None:
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
        os.dup2(log, stream.fileno())
        stream.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    os.close(log)


def _prctl(option: int, value: object) -> None:
    with contextlib.suppress(OSError, AttributeError):  # Linux only; elsewhere the services just lack the nicety
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
