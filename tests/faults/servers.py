"""Database and cache servers of a test's own, to stop and start at will.

The machine's shared PostgreSQL and Redis are never stopped: a fault test
runs its own, from the same binaries, on a free port.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from tests.platform.harness import PortTaken, start_on_a_free_port, wait_until


def _postgres_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} was not found under /usr/lib/postgresql (apt-get install postgresql)")
    return found[-1]


def as_postgres(*command: str) -> str:
    """`command`'s output, run as the postgres user when we are root (PostgreSQL refuses to run as root)."""
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    result = subprocess.run([*prefix, *command], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def pg_ctl_start(data: Path, options: str) -> None:
    """Start the cluster in `data` with the server `options`; PortTaken when its port was taken meanwhile."""
    log = data / "log"
    seen = log.stat().st_size if log.exists() else 0
    try:
        as_postgres(_postgres_bin("pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "start")
    except RuntimeError as exc:
        with open(log, "rb") as written:
            written.seek(seen)
            if b"Address already in use" in written.read():
                raise PortTaken(str(exc)) from exc
        raise


class PrivatePostgres:
    """A PostgreSQL cluster in a temporary folder (run as the postgres user when we are root: initdb refuses root)."""

    def __init__(self) -> None:
        # Not under pytest's tmp_path: that is root's alone, and the server runs as postgres.
        self.where = Path(tempfile.mkdtemp(prefix="titanium-pg-"))
        self.data = self.where / "pgdata"
        self.port = 0  # chosen at the first start, after initdb (a worker could take one chosen before it)
        self.data.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.where, "postgres")
            shutil.chown(self.data, "postgres")
        as_postgres(_postgres_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the server; the first time on a free port, then on the same one, which the platform's settings name."""
        if self.port:
            self._start(self.port)
        else:
            self.port = start_on_a_free_port(self._start)

    def _start(self, port: int) -> None:
        pg_ctl_start(self.data, f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.data}")

    def stop(self, mode: str = "immediate") -> None:
        """As an outage: every connection cut at once ("immediate"), or the sessions ended as an operator's
        restart does ("fast": each gets "terminating connection due to administrator command")."""
        as_postgres(_postgres_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def crash(self) -> None:
        """The postmaster killed with SIGKILL: the next start recovers ("the database system is starting up")."""
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not Path(f"/proc/{pid}").exists() or _zombie(pid), what="the postmaster to die")

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.where, ignore_errors=True)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


class PrivateRedis:
    def __init__(self) -> None:
        self.port = 0  # chosen at the first start, as PrivatePostgres's
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        if self.port:
            self._start(self.port)
        else:
            self.port = start_on_a_free_port(self._start)

    def _start(self, port: int) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        import redis

        def answering() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise PortTaken(f"redis-server exited with {self.process.returncode} on port {port}")
            try:
                return bool(redis.Redis(port=port).ping())
            except redis.ConnectionError:
                return False

        wait_until(answering, what="the private Redis")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
