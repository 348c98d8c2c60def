"""The processes of one service behind the gateway, taken in turn, and the ones that are down left out.

`titanium up --replicas blog=2` runs several processes of a service, each on
its own port (in Kubernetes a Service is one address and Istio does this).
Each request goes to the next process in turn. A process that refuses the
connection is taken out at once, so the requests after it do not try it,
and comes back as soon as its readiness probe answers 200 again: its
restarts cost no client an error.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Coroutine
from typing import Any

from titanium.core.logging import get_logger

log = get_logger(__name__)

READY_PATH = "/health/ready"
PROBE_INTERVAL_SECONDS = 0.5

# Asks `url` whether it is ready: True on a 200.
ReadyCheck = Callable[[str], Coroutine[Any, Any, bool]]


class Replica:
    def __init__(self, url: str) -> None:
        self.url = url  # base URL, no trailing slash
        self.in_service = True


class Upstream:
    """One service's processes, for the gateway to choose from."""

    def __init__(self, name: str, urls: list[str], is_ready: ReadyCheck) -> None:
        if not urls:
            raise ValueError(f"the {name} service has no address")
        self.name = name
        self.replicas = [Replica(url) for url in urls]
        self._turn = itertools.cycle(range(len(self.replicas)))
        self._is_ready = is_ready
        self._probes: set[asyncio.Task[None]] = set()

    def candidates(self) -> list[Replica]:
        """The processes to try for one request, in order: the next in turn first, those out of service last.

        Those out of service are still offered after the others: when every
        process is out, trying one costs a refused connection, not an error
        the gateway makes up.
        """
        if len(self.replicas) == 1:  # the usual case, on every request: nothing to choose
            return self.replicas
        first = next(self._turn)
        ordered = self.replicas[first:] + self.replicas[:first]
        return [replica for replica in ordered if replica.in_service] + [r for r in ordered if not r.in_service]

    def take_out(self, replica: Replica, reason: str) -> None:
        """Stop sending to `replica` until its readiness probe answers again (one service alone is kept in)."""
        if not replica.in_service or len(self.replicas) == 1:
            return
        replica.in_service = False
        log.warning("upstream process taken out of service", upstream=self.name, url=replica.url, reason=reason)
        probe = asyncio.create_task(self._bring_back(replica), name=f"probe-{self.name}")
        self._probes.add(probe)
        probe.add_done_callback(self._probes.discard)

    async def _bring_back(self, replica: Replica) -> None:
        # Polling, not an event: nothing tells the gateway when a process is back.
        while not await self._is_ready(replica.url + READY_PATH):  # noqa: ASYNC110
            await asyncio.sleep(PROBE_INTERVAL_SECONDS)
        replica.in_service = True
        log.info("upstream process back in service", upstream=self.name, url=replica.url)

    async def close(self) -> None:
        for probe in self._probes:
            probe.cancel()
        await asyncio.gather(*self._probes, return_exceptions=True)
