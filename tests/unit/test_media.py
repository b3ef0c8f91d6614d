"""Product media rules: an image is told by its bytes, an address must be https, a card's
description gives way to its other lines within a limit."""

import pytest

from bots.pictures import described
from commerce.domain.errors import InvalidInput
from commerce.domain.media import (
    MAX_IMAGE_BYTES,
    image_kind,
    image_url,
    is_media_name,
    media_name,
    public_image_url,
)
from tests.pictures import GIF, png


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (png(), "png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "jpg"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "webp"),
        (GIF, "gif"),
    ],
)
def test_an_image_is_told_by_its_bytes(data: bytes, kind: str) -> None:
    assert image_kind(data) == kind
    assert media_name(data).endswith(f".{kind}") and is_media_name(media_name(data))


@pytest.mark.parametrize(
    "data", [b"", b"<svg xmlns='http://www.w3.org/2000/svg'/>", b"RIFF\0\0\0\0WAVE", b"%PDF"]
)
def test_anything_else_is_refused(data: bytes) -> None:
    with pytest.raises(InvalidInput):
        media_name(data)


def test_a_picture_over_the_limit_is_refused() -> None:
    with pytest.raises(InvalidInput, match="at most 5 MB"):
        media_name(png()[:16] + b"\0" * MAX_IMAGE_BYTES)


def test_only_https_addresses() -> None:
    assert image_url(" https://cdn.example.com/a.png ") == "https://cdn.example.com/a.png"
    for bad in ("http://x.example/a.png", "ftp://x/a", "https:///a.png", "https://x.example/a b"):
        with pytest.raises(InvalidInput):
            image_url(bad)


def test_names_that_are_not_content_hashes_are_no_media() -> None:
    assert not is_media_name("../" + "a" * 64 + ".png")
    assert not is_media_name("a" * 64 + ".svg")
    assert public_image_url("a" * 64 + ".png", "https://shop.example") == (
        "https://shop.example/media/" + "a" * 64 + ".png"
    )
    assert public_image_url("https://cdn.example/x.png", "https://shop.example") == (
        "https://cdn.example/x.png"
    )


def test_the_description_gives_way_within_a_limit() -> None:
    text = "Tee · €25.00\n3 of 3 left"
    assert described(text, "Soft.") == "Tee · €25.00\nSoft.\n3 of 3 left"
    assert described(text, "") == text
    short = described(text, "x" * 100, limit=40)
    assert len(short) == 40 and short.endswith("x…\n3 of 3 left")
    assert described("one line", "about", limit=None) == "one line\nabout"
