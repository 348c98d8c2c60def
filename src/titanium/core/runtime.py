"""Process-wide tuning of the Python runtime, applied once a service has started."""

from __future__ import annotations

import gc

# Young-generation collections every 50,000 net allocations rather than 700:
# a request allocates a few thousand objects that die with it, so the default
# collected several times a request, and promoted live request objects into
# the old generations where full collections (pauses of 100 ms under load)
# had to walk them.
GC_THRESHOLDS = (50_000, 20, 100)


def tune_garbage_collector() -> None:
    """Freeze what start-up made (modules, routes, pools) and collect less often.

    Frozen objects live in a permanent generation that no collection walks:
    before this, every full collection went over the ~160,000 objects of the
    imported libraries, for nothing, since they live as long as the process.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
