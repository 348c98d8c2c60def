"""`titanium up`: every service as its own process on loopback, kept alive.

Each service runs the code a container runs (`titanium serve NAME`), in a
process forked from one that imported every service once
(service_processes.py), in its own session so that Ctrl-C reaches only the
supervisor, which then stops them in order. A service that dies is started again after a
back-off that grows while it keeps dying and resets once it stays up.
"""

from __future__ import annotations

import sys

if __name__ == "__main__":
    # The supervisor speaks plain HTTP on loopback; OpenSSL is 6 MB of its
    # 20. Marked absent before asyncio and http.client look for it (both
    # carry on without it).
    sys.modules.setdefault("ssl", None)  # type: ignore[arg-type]

import argparse
import asyncio
import http.client
import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from titanium.core.registry import DEFAULT_PORTS, parse_replicas, replica_ports, start_order
from titanium.service_processes import ForkedProcess, start_fork_server

READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0
STABLE_AFTER_SECONDS = 30.0
MAX_BACKOFF_SECONDS = 30.0


@dataclass
class ServiceProcess:
    name: str
    port: int
    env: dict[str, str]
    log_path: Path | None
    replica: int = 0  # which of the service's processes (0 is the first)
    process: ForkedProcess | None = None
    started_at: float = 0.0
    quick_failures: int = 0
    restarts: int = 0
    last_exit_code: int | None = None

    @property
    def url(self) -> str:
        return f"http://{self.env['TITANIUM_HOST']}:{self.port}"

    @property
    def label(self) -> str:
        """The service's name, numbered from its second process on: blog, blog-2."""
        return process_label(self.name, self.replica)


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


class Supervisor:
    def __init__(self, services: list[ServiceProcess]) -> None:
        self.services = services
        self.stopping = asyncio.Event()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.stopping.set)
        for service in self.services:
            self._start(service)
        watchers = [asyncio.create_task(self._watch(service)) for service in self.services]
        ready = await self._wait_ready()
        if ready:
            self._print_urls()
            await self._report_degraded()
        else:
            self.stopping.set()
        await self.stopping.wait()
        say("stopping every service…")
        await asyncio.gather(*(self._stop(service) for service in self.services))
        for watcher in watchers:
            watcher.cancel()
        say("stopped")
        return 0 if ready else 1

    def _start(self, service: ServiceProcess) -> None:
        if service.log_path is not None:
            service.log_path.parent.mkdir(parents=True, exist_ok=True)
        service.process = ForkedProcess.start(service.label, service.name, service.env, service.log_path)
        service.started_at = time.monotonic()

    async def _watch(self, service: ServiceProcess) -> None:
        """Start the service again whenever it exits while the platform is up."""
        while True:
            assert service.process is not None
            code = await service.process.wait()
            service.last_exit_code = code
            if self.stopping.is_set():
                return
            lived = time.monotonic() - service.started_at
            service.quick_failures = 0 if lived > STABLE_AFTER_SECONDS else service.quick_failures + 1
            delay = min(MAX_BACKOFF_SECONDS, 0.5 * 2 ** max(0, service.quick_failures - 1))
            service.restarts += 1
            say(f"{service.label} exited with code {code} after {lived:.1f}s; "
                     f"restarting in {delay:.1f}s (restart #{service.restarts})", "yellow")
            try:
                await asyncio.wait_for(self.stopping.wait(), timeout=delay)
                return
            except TimeoutError:
                pass
            self._start(service)
            if await self._ready(service, READY_TIMEOUT_SECONDS):
                say(f"{service.label} is back at {service.url} (pid {service.process.pid})", "green")

    async def _ready(self, service: ServiceProcess, within: float) -> bool:
        """Whether the service answers its readiness probe within `within` seconds (False at once if it dies)."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline and not self.stopping.is_set():
            if service.process is None or service.process.returncode is not None:
                return False
            if await asyncio.to_thread(_answers_ready, service.env["TITANIUM_HOST"], service.port):
                return True
            await asyncio.sleep(0.2)
        return False

    async def _wait_ready(self) -> bool:
        results = await asyncio.gather(*(self._ready(s, READY_TIMEOUT_SECONDS) for s in self.services))
        for service, ready in zip(self.services, results, strict=True):
            if not ready and not self.stopping.is_set():
                where = f"; its log: {service.log_path}" if service.log_path else ""
                what = (f"exited with code {service.last_exit_code} while starting" if service.last_exit_code is not None
                        else f"did not become ready within {READY_TIMEOUT_SECONDS:.0f}s")
                say(f"{service.label} {what}{where}", "red")
        return all(results)

    async def _stop(self, service: ServiceProcess) -> None:
        process = service.process
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=STOP_TIMEOUT_SECONDS)
        except TimeoutError:
            say(f"{service.label} did not stop in {STOP_TIMEOUT_SECONDS:.0f}s; killing it", "red")
            process.kill()
            await process.wait()

    def _print_urls(self) -> None:
        gateway = next(s for s in self.services if s.name == "gateway")  # the first gateway process
        rows = [("service", "url", "pid")]
        for service in self.services:
            assert service.process is not None
            rows.append((service.label, service.url, str(service.process.pid)))
        widths = [max(len(row[column]) for row in rows) for column in range(2)]
        print(_coloured("Titanium is up", "bold"))
        for name, url, pid in rows:
            print(f"  {name:<{widths[0]}}  {url:<{widths[1]}}  {pid}")
        say(f"dashboard  {gateway.url}/")
        say(f"blog       {gateway.url}/blog/")
        say(f"status     {gateway.url}/stats   metrics {gateway.url}/metrics")
        say("press Ctrl-C to stop")


    async def _report_degraded(self) -> None:
        """Say which services started without something they can work without (a cache, a rate limit store)."""
        firsts = [service for service in self.services if service.replica == 0]
        failing = await asyncio.gather(*(asyncio.to_thread(_failing_checks, s.env["TITANIUM_HOST"], s.port) for s in firsts))
        for service, checks in zip(firsts, failing, strict=True):
            if checks:
                say(f"{service.label} is degraded: its {', '.join(checks)} check fails "
                    f"({_DEGRADED_HINTS.get(checks[0], 'see its log')}); it serves meanwhile", "yellow")


# What a failing soft check usually means on a laptop.
_DEGRADED_HINTS = {
    "cache": "is the Redis given with --redis running?",
    "rate_limit_store": "is the Redis given with --redis running?",
}


def _failing_checks(host: str, port: int) -> list[str]:
    """The names of the checks the service's /status reports failing (none when it cannot be asked)."""
    connection = http.client.HTTPConnection(host, port, timeout=10.0)  # a status waits on its own checks' time-outs
    try:
        connection.request("GET", "/status")
        answer = connection.getresponse()
        checks = json.loads(answer.read()).get("checks", {}) if answer.status == 200 else {}
    except (OSError, http.client.HTTPException, ValueError):
        return []
    finally:
        connection.close()
    return sorted(name for name, result in checks.items() if result != "ok")


def _answers_ready(host: str, port: int) -> bool:
    # The standard library's client, in a worker thread: an HTTP library
    # would cost the long-lived supervisor 8 MB for a few probes.
    connection = http.client.HTTPConnection(host, port, timeout=1.0)
    try:
        connection.request("GET", "/health/ready")
        return connection.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def process_label(name: str, replica: int) -> str:
    return name if replica == 0 else f"{name}-{replica + 1}"


def environment_for(base_env: dict[str, str], port: int, host: str, urls: dict[str, list[str]]) -> dict[str, str]:
    """A process's environment: its port, and every service's addresses (comma-separated when it has several)."""
    env = dict(base_env)
    env.update({f"TITANIUM_{other.upper()}_URL": ",".join(addresses) for other, addresses in urls.items()})
    env.update(TITANIUM_HOST=host, TITANIUM_PORT=str(port), PYTHONUNBUFFERED="1")
    return env


def public_url(host: str, gateway_port: int) -> str:
    """Where readers reach the platform `titanium up` runs: its gateway (an IPv6 address in brackets)."""
    return f"http://{f'[{host}]' if ':' in host else host}:{gateway_port}"


def log_path_for(data_dir: Path, label: str) -> Path:
    return data_dir / "logs" / f"{label}.log"


def planned_processes(base_port: int, replicas: dict[str, int]) -> list[tuple[str, int, int]]:
    """(service, replica, port) of every process, in start order: those called by others first."""
    return [(name, replica, replica_ports(base_port, replica)[name])
            for name in start_order() for replica in range(replicas.get(name, 1))]


def main(argv: list[str] | None = None) -> int:
    """`python -m titanium.supervisor`: what `titanium up` becomes once every database is migrated."""
    parser = argparse.ArgumentParser(prog="python -m titanium.supervisor", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--base-port", type=int, default=DEFAULT_PORTS["gateway"])
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--log-to-console", action="store_true")
    parser.add_argument("--replicas", type=parse_replicas, default={}, help="processes per service, e.g. blog=2,gateway=2")
    args = parser.parse_args(argv)
    planned = planned_processes(args.base_port, args.replicas)
    urls: dict[str, list[str]] = {name: [] for name in DEFAULT_PORTS}
    for name, _replica, port in planned:
        urls[name].append(f"http://{args.host}:{port}")
    base_env = dict(os.environ)
    # The blog writes this address into its feeds and links, never a request's Host (which the client chooses).
    base_env.setdefault("TITANIUM_PUBLIC_URL", public_url(args.host, args.base_port))
    services = [
        ServiceProcess(name, port, environment_for(base_env, port, args.host, urls),
                       None if args.log_to_console else log_path_for(args.data_dir, process_label(name, replica)),
                       replica)
        for name, replica, port in planned
    ]
    start_fork_server()  # its imports, on the other core, while the databases migrate
    prepared = _prepare_in_a_child()
    if prepared != 0:
        return prepared
    if not args.log_to_console:
        say(f"logs: {args.data_dir / 'logs'}")
    return asyncio.run(Supervisor(services).run())


def _prepare_in_a_child() -> int:
    """`titanium prepare` (check every service's settings, migrate) in a process of its own: the supervisor
    never holds the settings' or migrations' libraries. Its exit code; it says what is wrong itself."""
    return subprocess.run([sys.executable, "-m", "titanium", "prepare"], check=False).returncode


# ANSI colours where the output is a terminal; rich would cost the supervisor 3 MB for these few lines.
_COLOURS = {"bold": "1", "cyan": "1;36", "green": "32", "yellow": "33", "red": "31"}


def _coloured(text: str, colour: str) -> str:
    return f"\033[{_COLOURS[colour]}m{text}\033[0m" if sys.stdout.isatty() else text


def say(message: str, colour: str | None = None) -> None:
    print(f"{_coloured('titanium', 'cyan')} {_coloured(message, colour) if colour else message}", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())


