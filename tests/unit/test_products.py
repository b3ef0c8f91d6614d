"""Products: SKUs, variant lists and how a buyer's words pick a variant."""

import pytest

from commerce.domain.errors import InvalidInput
from commerce.domain.money import Money
from commerce.domain.products import (
    DEFAULT_VARIANT,
    ProductSpec,
    match_variant,
    normalise_sku,
    parse_variants,
)

# normalise_sku --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sku", "code"),
    [
        ("tee", "TEE"),
        ("TEE", "TEE"),
        ("aa-1", "AA-1"),
        ("a_b", "A_B"),
        ("  hoodie ", "HOODIE"),
        ("1a", "1A"),
        ("x", "X"),
        ("a" * 32, "A" * 32),
    ],
)
def test_normalise_sku(sku: str, code: str) -> None:
    assert normalise_sku(sku) == code


@pytest.mark.parametrize(
    "sku", ["", "   ", "a" * 33, "t e", "tee shirt", "ü", "é1", "tee€", "-a", "_a", "a.b", "a/b"]
)
def test_malformed_sku_refused(sku: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        normalise_sku(sku)
    assert str(exc.value) == (
        f"'{sku}' is not a SKU: use up to 32 letters, digits, '-' or '_', like TEE or AA-1"
    )


@pytest.mark.parametrize("sku", ["2", "12", "x2", "X10", "2x", "10X"])
def test_sku_that_reads_like_a_quantity_refused(sku: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        normalise_sku(sku)
    assert str(exc.value) == f"'{sku}' reads like a quantity (#buy 2, #buy x2): add a letter"


@pytest.mark.parametrize("sku", ["x2a", "2xl", "xx2"])
def test_sku_with_more_than_a_quantity_accepted(sku: str) -> None:
    assert normalise_sku(sku) == sku.upper()


# parse_variants -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("size=S,M,L", ("size", ["S", "M", "L"])),
        ("S,M,L", ("", ["S", "M", "L"])),
        (None, ("", [])),
        ("", ("", [])),
        (" Size = S , M ", ("size", ["S", "M"])),
        ("colour=Red,Blue", ("colour", ["Red", "Blue"])),
        ("size=S,,M,", ("size", ["S", "M"])),
        ("one", ("", ["one"])),
    ],
)
def test_parse_variants(spec: str | None, expected: tuple[str, list[str]]) -> None:
    assert parse_variants(spec) == expected


@pytest.mark.parametrize("spec", ["S,s", "size=S,M,S", "size=m,M", "size=", ",", "size= , "])
def test_bad_variant_list_refused(spec: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_variants(spec)
    assert str(exc.value) == f"'{spec}' is not a variant list like size=S,M,L"


def test_default_variant_is_empty() -> None:
    assert DEFAULT_VARIANT == ""


# ProductSpec ----------------------------------------------------------------------------


def test_product_spec_constructs() -> None:
    spec = ProductSpec("TEE", "Logo tee", Money(2500, "eur"), "size", ("S", "M"))
    assert spec.name == "Logo tee"
    assert spec.variants == ("S", "M")
    assert spec.digital is False


@pytest.mark.parametrize("name", ["", "   ", "\t\n"])
def test_product_needs_a_name(name: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        ProductSpec("TEE", name, Money(2500, "eur"), "", ())
    assert str(exc.value) == "a product needs a name"


def test_product_needs_a_price() -> None:
    with pytest.raises(InvalidInput) as exc:
        ProductSpec("TEE", "Logo tee", Money(0, "eur"), "", ())
    assert str(exc.value) == "price must be above zero"


# match_variant --------------------------------------------------------------------------

SIZES = ["S", "M", "L"]


@pytest.mark.parametrize(
    "words",
    [("size:M",), ("m",), ("M",), ("size=M",), ("Size:m",), ("SIZE=m",), ("nice", "m")],
)
def test_words_naming_the_variant_match(words: tuple[str, ...]) -> None:
    assert match_variant(SIZES, words, "size") == "M"


@pytest.mark.parametrize(
    "words", [(), ("xl",), ("size:",), ("size:XL",), ("colour:M",), ("color=m",), (":m",)]
)
def test_words_not_naming_a_variant_do_not_match(words: tuple[str, ...]) -> None:
    """A word carrying another option's name ('colour:M' for sizes) names no size."""
    assert match_variant(SIZES, words, "size") is None


def test_unnamed_option_strips_any_key() -> None:
    """A product whose variants have no option name takes 'anything:M' as M."""
    assert match_variant(SIZES, ("colour:M",), "") == "M"
    assert match_variant(SIZES, ("size=l",), "") == "L"


def test_match_returns_the_label_as_the_seller_wrote_it() -> None:
    assert match_variant(["Red", "Navy Blue"], ("navy blue",), "colour") == "Navy Blue"
    assert match_variant(["Red", "Navy Blue"], ("colour:RED",), "colour") == "Red"


def test_no_variants_never_match() -> None:
    assert match_variant([], ("m",), "size") is None
