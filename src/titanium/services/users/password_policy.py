"""What a new password may not be, after NIST SP 800-63B (rev. 3, 5.1.1.2).

NIST asks a verifier to refuse a new password found in a list of common,
expected or compromised values: passwords from breach corpora, dictionary
words, repetitive or sequential characters, and words of the context (the
service's name, the username and what is made from them); and to impose no
other composition rule. The list is the one Django ships (data/README.md),
loaded once when the service starts: only its entries of 8 characters or
more, since the length rule refuses the others anyway. No network is used.

The 8,354 entries are kept as one string of 80 KB, a line each, and a
password is looked for as a whole line in it (a scan takes about 35 us, and
only registrations and password changes make one). Loaded so, the list adds
0.7 MiB to the process's resident memory; a set of the entries added 1.3.
"""

from __future__ import annotations

import gzip
import io
import itertools
import re
from pathlib import Path

MIN_LENGTH = 8  # characters other than whitespace (schemas.NewPassword)
SERVICE_NAME = "titanium"
_LIST = Path(__file__).resolve().parent / "data" / "common-passwords.txt.gz"
# A run of one step up or down, such as "12345678", "abcdefgh" or "98765432".
_STEPS = {1, -1}
# Fewer different characters than this is a repetition: "aaaaaaaa", "12121212", "abcabcab".
_MIN_DISTINCT = 4

COMMON = ("this password is one of the most common ones, the first that guessers try; "
          "choose another (a few unrelated words make a strong one)")
REPETITIVE = "this password is a repeated or sequential run of characters; choose another"
CONTEXTUAL = (f"this password is made from your username, your email address or the site's name; it needs "
              f"{MIN_LENGTH} characters besides them")


def _load(path: Path) -> str:
    """The list's long enough entries, each on a line of its own, with a line break before the first."""
    kept = io.StringIO("\n")
    kept.seek(1)
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:  # one at a time: the whole list is never held as strings, even while loading
            if len(word := line.strip().lower()) >= MIN_LENGTH:
                kept.write(f"{word}\n")
    return kept.getvalue()


_COMMON_PASSWORDS = _load(_LIST)


def weakness(password: str) -> str | None:
    """Why the password is too easy to guess whoever chooses it, if it is."""
    plain = password.strip().lower()
    if "\n" not in plain and f"\n{plain}\n" in _COMMON_PASSWORDS:  # a whole line of the list
        return COMMON
    compact = "".join(plain.split())
    if len(set(compact)) < _MIN_DISTINCT or _is_one_run(compact):
        return REPETITIVE
    return None


def contextual_weakness(password: str, username: str, email: str | None = None) -> str | None:
    """Why the password is too easy to guess for this account (built on its name or address), if it is."""
    words = {SERVICE_NAME, username.lower()}
    if email and len(local := email.split("@", 1)[0].lower()) >= 3:
        words.add(local)
    pattern = re.compile("|".join(re.escape(word) for word in sorted(words, key=len, reverse=True)))
    # Spaces do not hide a word ("bridge keeper" is "bridgekeeper"), and do not count (schemas._not_blank).
    rest = pattern.sub("", "".join(password.lower().split()))
    return CONTEXTUAL if len(rest) < MIN_LENGTH else None


def _is_one_run(text: str) -> bool:
    steps = {ord(after) - ord(before) for before, after in itertools.pairwise(text)}
    return len(steps) == 1 and steps <= _STEPS
