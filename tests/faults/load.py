"""People using the platform from threads of their own while a fault is made, until told to stop."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Threads:
    """Runs each of `work` in a thread of its own from `with` to its end; `stop` is set at the end."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def add(self, work: Callable[..., None], *args: object) -> None:
        self.threads.append(threading.Thread(target=work, args=args))

    def __enter__(self) -> Threads:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()
