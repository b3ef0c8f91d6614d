"""The giveaway draw: a commitment to a secret seed, and a winner anyone can recompute."""

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from commerce.domain.giveaways import (
    commitment,
    draw,
    entry_line,
    new_seed,
    public_name,
)

SEED = "00112233445566778899aabbccddeeff"


def test_the_commitment_is_the_seeds_sha256() -> None:
    assert commitment(SEED) == hashlib.sha256(SEED.encode()).hexdigest()
    assert commitment(SEED) != commitment(SEED[:-1] + "0")


def test_seeds_are_secret_and_fresh() -> None:
    seeds = {new_seed() for _ in range(50)}
    assert len(seeds) == 50 and all(len(s) == 32 for s in seeds)


def test_a_known_draw() -> None:
    entries = [(1, "anna"), (2, "bob"), (3, "carl")]
    text = SEED + "\n1:anna\n2:bob\n3:carl"
    expected = int(hashlib.sha256(text.encode()).hexdigest(), 16) % 3
    assert draw(SEED, entries) == expected
    assert entry_line(7, "dora") == "7:dora"


def test_no_entries_no_winner() -> None:
    assert draw(SEED, []) is None


def test_the_draw_depends_on_seed_and_entries() -> None:
    entries = [(n, f"viewer{n}") for n in range(1, 41)]
    by_seed = {draw(f"{SEED}{i}", entries) for i in range(60)}
    assert len(by_seed) > 10  # the seed moves the winner around
    assert draw(SEED, entries) == draw(SEED, list(entries))  # and nothing else does
    renamed = [(1, "someone else"), *entries[1:]]
    assert any(draw(f"{SEED}{i}", entries) != draw(f"{SEED}{i}", renamed) for i in range(20))


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=40), st.lists(st.text(max_size=12), min_size=1, max_size=30))
def test_the_winner_is_always_an_entry(seed: str, names: list[str]) -> None:
    entries = [(n, name) for n, name in enumerate(names, 1)]
    index = draw(seed, entries)
    assert index is not None and 0 <= index < len(entries)


def test_published_names_hide_platform_ids() -> None:
    assert public_name("  Anna\nSmith ") == "Anna Smith"
    assert len(public_name("x" * 100)) == 40
    tag = public_name("")
    assert tag.startswith("viewer-") and tag != public_name("")
