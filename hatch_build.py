"""Compiles the blog's message catalogs (locale/*/LC_MESSAGES/*.po to .mo) whenever Titanium is built or installed.

hatchling runs this for a wheel (the container image) and for an editable
install (`make install`) alike, so the .mo files are build output, never
committed: they cannot fall behind the .po files they come from. A fuzzy
(unchecked) translation is left out, as gettext's msgfmt leaves it out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

LOCALE = Path("src/titanium/services/blog/locale")


def compile_catalogs(root: Path) -> list[Path]:
    """Every .po under the blog's locale/ written as the .mo beside it; the .mo files written."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po in sorted((root / LOCALE).glob("*/LC_MESSAGES/*.po")):
        with po.open("rb") as source:
            catalog = read_po(source, locale=po.parent.parent.name, domain=po.stem)
        mo = po.with_suffix(".mo")
        with mo.open("wb") as target:
            write_mo(target, catalog)
        written.append(mo)
    return written


class CompileCatalogs(BuildHookInterface):  # type: ignore[misc]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        compile_catalogs(Path(self.root))
