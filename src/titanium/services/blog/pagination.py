"""Which page numbers a list's pager shows: the first, the last, and those around the reader's page."""

from __future__ import annotations

from math import ceil

GAP = None  # where the pager leaves pages out ("…")


def last_page(total: int, page_size: int) -> int:
    """The number of the last page of `total` items (1 for none: an empty list still has its first page)."""
    return max(1, ceil(total / page_size))


def page_numbers(current: int, last: int, around: int = 1) -> list[int | None]:
    """1 … 5 [6] 7 … 20: every page within `around` of the current one, the first and the last.

    At most seven items, so that they fit a phone's width on one row. A gap of a single page
    shows that page rather than "…", which would take the same room.
    """
    shown = sorted({1, last, *range(max(1, current - around), min(last, current + around) + 1)})
    numbers: list[int | None] = []
    previous = 0
    for number in shown:
        if number - previous == 2:
            numbers.append(number - 1)
        elif number - previous > 2:
            numbers.append(GAP)
        numbers.append(number)
        previous = number
    return numbers
