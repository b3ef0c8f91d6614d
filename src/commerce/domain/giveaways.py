"""Giveaways: a verifiable draw that anyone can recompute (pure rules, stdlib only).

At the start the shop keeps a secret seed and publishes its SHA-256 (the commitment). At the
draw it publishes the seed; with the public entry list anyone can recompute the winner:

    index = int(sha256(seed + "\\n" + "\\n".join(lines)).hexdigest(), 16) % n

where the lines are "{number}:{name}" in entry order (numbers 1..n) and the winner is entry
index + 1. The seed cannot be changed after the start (the commitment would not match), and
the entries were public before the seed was, so nobody could aim the draw.
"""

import hashlib
import secrets
from collections.abc import Sequence
from datetime import timedelta

DEFAULT_DURATION = timedelta(seconds=60)
MAX_DURATION = timedelta(days=1)
NAME_LENGTH = 40

ALGORITHM = (
    "the winner is the entry at 0-based position int(sha256(seed + '\\n' + lines)"
    ".hexdigest(), 16) % n of the list, where"
    " lines are the entries as 'number:name', joined by '\\n' in number order, n the number of"
    " entries, and sha256(seed) equals the commitment published at the start"
)


def new_seed() -> str:
    """The secret of one giveaway (kept until the draw)."""
    return secrets.token_hex(16)


def commitment(seed: str) -> str:
    """What the start notice publishes: the seed's SHA-256, in hex."""
    return hashlib.sha256(seed.encode()).hexdigest()


def entry_line(number: int, name: str) -> str:
    return f"{number}:{name}"


def draw(seed: str, entries: Sequence[tuple[int, str]]) -> int | None:
    """The index (0-based, in the given order) of the winning entry; None without entries.

    `entries` are (number, name) pairs in number order, as published."""
    if not entries:
        return None
    lines = "\n".join(entry_line(number, name) for number, name in entries)
    digest = hashlib.sha256((seed + "\n" + lines).encode()).hexdigest()
    return int(digest, 16) % len(entries)


def public_name(display_name: str) -> str:
    """The name an entry is published under: the display name on one line, or a random tag
    (never the platform id, which would identify the account)."""
    name = " ".join(display_name.split())[:NAME_LENGTH].strip()
    return name or f"viewer-{secrets.token_hex(3)}"
