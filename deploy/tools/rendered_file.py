"""What every renderer in deploy/tools shares: write the rendered file, or (`--check`) fail when it is stale."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def write_or_check(output: Path, text: str, argv: list[str], source: str) -> int:
    """Write `text` to `output`; with --check, exit status 1 instead when `output` differs from it."""
    if "--check" in argv:
        if not output.exists() or output.read_text() != text:
            print(f"{output.relative_to(REPO)} is stale: run python {Path(argv[0]).resolve().relative_to(REPO)}")
            return 1
        print(f"{output.relative_to(REPO)} matches {source}")
        return 0
    output.write_text(text)
    return 0
