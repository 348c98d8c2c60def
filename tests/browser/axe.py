"""axe-core (vendored in vendor/) run in a page: accessibility checks a test can assert on.

The platform's Content-Security-Policy (default-src 'self') refuses injected
scripts, as it should; pages to be checked are opened in a browser context
made with bypass_csp=True (`open_page(..., bypass_csp=True)` in conftest.py).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page

AXE_SOURCE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text(encoding="utf-8")
FAILING_IMPACTS = frozenset({"serious", "critical"})


def run_axe(page: Page, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """axe's full result for the page as it is now."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        with contextlib.suppress(PlaywrightError):  # told below, in words
            page.add_script_tag(content=AXE_SOURCE)
    if not page.evaluate("() => typeof window.axe === 'object'"):
        raise AssertionError(
            "axe-core could not be injected: open the page with open_page(..., bypass_csp=True) "
            "(the platform's Content-Security-Policy refuses injected scripts, as it should)")
    result: dict[str, Any] = page.evaluate(
        "async (options) => await window.axe.run(document, options)",
        options or {"resultTypes": ["violations"]},
    )
    return result


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"- [{violation['impact']}] {violation['id']}: {violation['help']} ({violation['helpUrl']})")
        for node in violation["nodes"][:5]:
            lines.append(f"    {' '.join(node['target'])}: {node.get('failureSummary', '').splitlines()[-1:]}")
    return "\n".join(lines)


def assert_accessible(page: Page, impacts: frozenset[str] = FAILING_IMPACTS) -> None:
    """No axe violation of the given impacts (serious or critical) on the page as it is now."""
    violations = [v for v in run_axe(page)["violations"] if v["impact"] in impacts]
    assert not violations, f"axe found on {page.url}:\n{describe(violations)}"
