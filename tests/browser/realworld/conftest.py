"""The RealWorld frontend test runs only when TITANIUM_REALWORLD_FRONTEND names a built frontend (README, "RealWorld").

The frontend is public code built outside the project (never vendored); with
no build to serve there is nothing to test, so the module is not collected
(rather than skipped).
"""

from __future__ import annotations

import os

collect_ignore = [] if os.environ.get("TITANIUM_REALWORLD_FRONTEND") else ["test_frontend.py"]
