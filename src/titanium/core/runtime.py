"""Process-wide tuning of the Python runtime, applied once a service has started."""

from __future__ import annotations

import gc
import sys

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


def leave_out_unused_libraries() -> None:
    """Mark absent, before anything imports them, libraries that services would load and never use."""
    # structlog imports rich, when it is installed, for a console renderer
    # that services logging JSON never use (the CLI needs rich, so it is
    # installed): marking it absent keeps 4 MB out of each service process.
    sys.modules.setdefault("rich", None)  # type: ignore[arg-type]
    # FastAPI imports pydantic's v1 compatibility package, when it can, only
    # to ask whether a route's models are v1 models; none here are, and
    # FastAPI takes the package's absence as "no" (1.4 MB in each FastAPI service).
    sys.modules.setdefault("pydantic.v1", None)  # type: ignore[arg-type]
    # redis-py loads OpenTelemetry's metrics SDK, when it is installed, for
    # metrics of its own that nothing here turns on; a service that exports
    # no traces does not load the SDK at all (core/tracing.py): 1.5 MB more.
    from titanium.core.tracing import exporting

    if not exporting():
        sys.modules.setdefault("opentelemetry.sdk.metrics", None)  # type: ignore[arg-type]
