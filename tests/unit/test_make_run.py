"""Issue 16 item 10: `make run` had no way to choose the gateway's port; PORT=... moves it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_make_run_takes_the_port_from_port():
    make = shutil.which("make")
    assert make is not None
    for target in ("run", "run-prod"):
        planned = subprocess.run([make, "-n", target, "PORT=9010"], cwd=ROOT, capture_output=True, text=True,
                                 timeout=30, check=True).stdout
        assert "titanium up --base-port 9010" in planned, planned
