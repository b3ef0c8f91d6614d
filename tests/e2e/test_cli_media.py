"""`livebuy product add|edit --image FILE|URL --description TEXT` on SQLite and PostgreSQL: a
picture file is checked (type by its bytes, size) and stored in the media folder under its
content hash, an https address is kept as typed, and bad input changes nothing."""

import hashlib
import json
from pathlib import Path

from tests.pictures import GIF, png, write


def product(cli, sku: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    listed = json.loads(cli("product", "list", "--format", "json"))
    return next(p for p in listed if p["sku"] == sku)


def test_a_picture_file_is_stored_by_its_content(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    picture = png()
    given = write(tmp_path, "tee photo.PNG", picture)
    cli("product", "add", "TEE", "--name", "Tee", "--price", "25", "--stock", "3",
        "--image", given, "--description", "  Heavy cotton, printed in Lyon.  ")  # fmt: skip
    name = f"{hashlib.sha256(picture).hexdigest()}.png"
    tee = product(cli, "TEE")
    assert tee["image"] == name
    assert tee["description"] == "Heavy cotton, printed in Lyon."
    # Next to the SQLite data by default; LIVEBUY_MEDIA_DIR in these tests (see conftest).
    stored = tmp_path / "media" / name
    assert stored.read_bytes() == picture
    assert [p.name for p in (tmp_path / "media").iterdir()] == [name]  # no temporary left


def test_an_https_address_is_kept_and_other_schemes_refused(cli) -> None:  # type: ignore[no-untyped-def]
    url = "https://cdn.example.com/mug.webp?v=2"
    cli("product", "add", "MUG", "--name", "Mug", "--price", "9", "--stock", "1", "--image", url)
    assert product(cli, "MUG")["image"] == url
    for bad in ("http://cdn.example.com/mug.png", "ftp://x.example/mug.png", "javascript://x"):
        refused = cli("product", "edit", "MUG", "--image", bad, ok=False)
        assert "an image address must start with https://" in refused
    refused = cli("product", "add", "CAP", "--name", "Cap", "--price", "9", "--stock", "1",
                  "--image", "http://x.example/cap.png", ok=False)  # fmt: skip
    assert "https://" in refused
    assert product(cli, "MUG")["image"] == url
    assert "CAP" not in cli("product", "list")


def test_a_file_that_is_no_picture_or_too_big_is_refused(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    text = write(tmp_path, "notes.png", b"just some words, named like a picture")
    refused = cli("product", "add", "TEE", "--name", "Tee", "--price", "25", "--stock", "3",
                  "--image", text, ok=False)  # fmt: skip
    assert "not a PNG, JPEG, WebP or GIF image" in refused
    big = write(tmp_path, "big.png", png()[:16] + b"\0" * (5 * 1024 * 1024))
    refused = cli("product", "add", "TEE", "--name", "Tee", "--price", "25", "--stock", "3",
                  "--image", big, ok=False)  # fmt: skip
    assert "at most 5 MB" in refused
    missing = cli("product", "add", "TEE", "--name", "Tee", "--price", "25", "--stock", "3",
                  "--image", str(tmp_path / "nope.jpg"), ok=False)  # fmt: skip
    assert "no such file" in missing
    assert "TEE" not in cli("product", "list")
    assert not (tmp_path / "media").exists()


def test_a_product_that_cannot_be_added_leaves_no_picture_behind(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli("product", "add", "TEE", "--name", "Tee", "--price", "25", "--stock", "3")
    again = cli("product", "add", "TEE", "--name", "Tee", "--price", "25", "--stock", "3",
                "--image", write(tmp_path, "a.gif", GIF), ok=False)  # fmt: skip
    assert "exists already" in again
    assert list((tmp_path / "media").iterdir()) == []
    unknown = cli("product", "edit", "NOPE", "--image", write(tmp_path, "b.png", png()), ok=False)
    assert "no product with SKU NOPE" in unknown
    assert list((tmp_path / "media").iterdir()) == []


def test_edit_changes_and_removes_picture_and_description(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli("product", "add", "TEE", "--name", "Tee", "--price", "25", "--stock", "3")
    assert product(cli, "TEE")["image"] == "" and product(cli, "TEE")["description"] == ""
    cli("product", "edit", "TEE", "--image", write(tmp_path, "t.gif", GIF))
    assert product(cli, "TEE")["image"] == f"{hashlib.sha256(GIF).hexdigest()}.gif"
    cli("product", "edit", "TEE", "--description", "Soft.")
    edited = product(cli, "TEE")
    assert edited["description"] == "Soft." and str(edited["image"]).endswith(".gif")
    cli("product", "edit", "TEE", "--price", "26")  # other edits keep both
    assert product(cli, "TEE")["description"] == "Soft."
    assert str(product(cli, "TEE")["image"]).endswith(".gif")
    too_long = cli("product", "edit", "TEE", "--description", "x" * 801, ok=False)
    assert "at most 800" in too_long
    cli("product", "edit", "TEE", "--image", "", "--description", "")
    cleared = product(cli, "TEE")
    assert cleared["image"] == "" and cleared["description"] == ""
