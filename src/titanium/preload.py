"""What the fork server of `titanium up` imports once, before it forks each service (service_processes.py)."""

from __future__ import annotations

import gc
import importlib

from titanium.core.runtime import leave_out_unused_libraries

leave_out_unused_libraries()

from titanium.core.registry import SERVICE_NAMES  # noqa: E402 - after the libraries left out are marked

for _name in SERVICE_NAMES:
    importlib.import_module(f"titanium.services.{_name}.app")

# The imported objects, frozen out of the collector's reach: a collection in a
# forked service would otherwise write to every one of them and copy the
# pages the services share.
gc.freeze()
