"""A PostgreSQL primary and streaming replicas of the test's own, from the machine's binaries.

The machine's shared server does not take replication connections (and is
never reconfigured), so the replica tests and `loadtest/run.py
--read-replicas` make their own: `initdb` a primary on a free port that
allows replication from loopback, then `pg_basebackup -R` each replica
from it and start it as a hot standby. The servers run as the postgres
user when we are root (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path

from tests.faults.servers import _postgres_bin, as_postgres, pg_ctl_start
from tests.platform.harness import start_on_a_free_port


class Cluster:
    """One PostgreSQL cluster in a folder of its own, on a port of its own."""

    def __init__(self, where: Path, name: str) -> None:
        self.data = where / name
        self.port = 0  # chosen at the first start (a test worker could take one chosen before initdb or the copy)
        self.name = name

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}"

    def database_url(self, database: str) -> str:
        return f"{self.url}/{database}"

    def start(self) -> None:
        """Start the server; the first time on a free port, then on the same one."""
        if self.port:
            self._start(self.port)
        else:
            self.port = start_on_a_free_port(self._start)

    def _start(self, port: int) -> None:
        # cluster_name is also the name a replica streams under (pg_stat_replication.application_name).
        options = (f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.data} "
                   f"-c cluster_name={self.name}")
        pg_ctl_start(self.data, options)

    def stop(self) -> None:
        """As an outage: every connection is cut at once."""
        as_postgres(_postgres_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    @property
    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def sql(self, statement: str, database: str = "postgres") -> str:
        """`statement`'s result as psql prints it unaligned, without headers."""
        return as_postgres(_postgres_bin("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                            "-d", database, "-XAtq", "-c", statement).strip()


class ReplicatedPostgres:
    """A primary and `replicas` hot standbys streaming from it.

    Also used with no replica: the same primary alone, so that a benchmark
    can compare like with like.
    """

    # Settings of every cluster: the tests' servers run beside everything else
    # on a small machine, so each is kept small.
    SERVER_SETTINGS = ("shared_buffers = 32MB", "max_connections = 100", "max_wal_senders = 10",
                       "wal_level = replica", "hot_standby = on", "wal_keep_size = 256MB")

    def __init__(self, replicas: int = 1) -> None:
        # Not under pytest's tmp_path: that is root's alone, and the servers run as postgres.
        self.where = Path(tempfile.mkdtemp(prefix="titanium-replication-"))
        if os.geteuid() == 0:
            shutil.chown(self.where, "postgres")
        self.primary = Cluster(self.where, "primary")
        self.replicas = [Cluster(self.where, f"replica{number}") for number in range(1, replicas + 1)]

    def start(self) -> ReplicatedPostgres:
        try:
            self._make_primary()
            self.primary.start()
            for replica in self.replicas:
                self._make_replica(replica)
                replica.start()
            for replica in self.replicas:
                self.wait_until_streaming(replica)
        except Exception:
            self.remove()
            raise
        return self

    def _make_primary(self) -> None:
        as_postgres(_postgres_bin("initdb"), "-D", str(self.primary.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        # initdb's pg_hba.conf already lets loopback connect for replication (trust).
        with open(self.primary.data / "postgresql.conf", "a") as conf:
            conf.write("\n".join(self.SERVER_SETTINGS) + "\n")

    def _make_replica(self, replica: Cluster) -> None:
        # -R writes standby.signal and primary_conninfo: the copy starts as a standby of the primary.
        as_postgres(_postgres_bin("pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.primary.port), "-U", "postgres",
                     "-D", str(replica.data), "-R", "-X", "stream", "--checkpoint=fast")

    def wait_until_streaming(self, replica: Cluster, timeout: float = 30.0) -> None:
        """Until the primary streams to `replica` (its walsender says so)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = self.primary.sql("SELECT application_name, state FROM pg_stat_replication").splitlines()
            if f"{replica.name}|streaming" in states:
                return
            time.sleep(0.1)
        raise AssertionError(f"{replica.name} is not streaming from the primary after {timeout}s:\n"
                             f"{(replica.data / 'log').read_text(errors='replace')[-2000:]}")

    def wait_until_replayed(self, replica: Cluster, timeout: float = 30.0) -> None:
        """Until `replica` has replayed everything the primary had written when this was called."""
        target = self.primary.sql("SELECT pg_current_wal_lsn()")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if replica.sql(f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn") == "t":
                return
            time.sleep(0.05)
        raise AssertionError(f"{replica.name} did not replay up to {target} within {timeout}s")

    def pause_replay(self, replica: Cluster) -> None:
        replica.sql("SELECT pg_wal_replay_pause()")

    def resume_replay(self, replica: Cluster) -> None:
        replica.sql("SELECT pg_wal_replay_resume()")

    def restore(self, replica: Cluster) -> None:
        """`replica` running and replaying again, as a test that stopped or paused it found it."""
        if not replica.running:
            replica.start()
        self.resume_replay(replica)
        self.wait_until_streaming(replica)

    def remove(self) -> None:
        for cluster in (*self.replicas, self.primary):
            if cluster.running:
                with contextlib.suppress(RuntimeError):  # already gone; its folder goes below
                    cluster.stop()
        shutil.rmtree(self.where, ignore_errors=True)
