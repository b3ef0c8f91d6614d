"""Products, their variants (size S/M/L, colour) and how a buyer's words pick a variant."""

import re
from dataclasses import dataclass

from commerce.domain.errors import InvalidInput
from commerce.domain.media import description, image_url, is_media_name
from commerce.domain.money import Money

_SKU = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,31}$")
DEFAULT_VARIANT = ""  # the single variant of a product sold without sizes or colours


_LIKE_A_QUANTITY = re.compile(r"^(X?[0-9]+|[0-9]+X)$")


def normalise_sku(sku: str) -> str:
    code = sku.strip().upper()
    if not _SKU.match(code):
        raise InvalidInput(
            f"'{sku}' is not a SKU: use up to 32 letters, digits, '-' or '_', like TEE or AA-1"
        )
    # "#buy X2" means two units: a SKU that reads like a quantity could never be bought.
    if _LIKE_A_QUANTITY.match(code):
        raise InvalidInput(f"'{sku}' reads like a quantity (#buy 2, #buy x2): add a letter")
    return code


def parse_variants(spec: str | None) -> tuple[str, list[str]]:
    """Reads 'size=S,M,L' (or 'S,M,L') into ('size', ['S', 'M', 'L'])."""
    if not spec:
        return "", []
    option, sep, values = spec.partition("=")
    if not sep:
        option, values = "", spec
    labels = [v.strip() for v in values.split(",") if v.strip()]
    if not labels or len(set(v.casefold() for v in labels)) != len(labels):
        raise InvalidInput(f"'{spec}' is not a variant list like size=S,M,L")
    return option.strip().lower(), labels


@dataclass(frozen=True, slots=True)
class ProductSpec:
    sku: str
    name: str
    price: Money
    option: str
    variants: tuple[str, ...]
    digital: bool = False  # nothing to ship: checkout asks for no address
    ship_units: int = 1  # the units one piece counts as in a package (a hoodie may count 2)
    image: str | None = None  # an https URL or a media folder file (domain/media.py)
    description: str = ""

    def __post_init__(self) -> None:
        check_image(self.image)
        description(self.description)
        if not self.name.strip():
            raise InvalidInput("a product needs a name")
        if self.price.minor <= 0:
            raise InvalidInput("price must be above zero")
        if not 1 <= self.ship_units <= 100:
            raise InvalidInput(f"size class {self.ship_units}: use 1 to 100 units")


def match_variant(labels: list[str], words: tuple[str, ...], option: str) -> str | None:
    """The variant label a buyer's words name, e.g. ('size:M',) or ('m',) -> 'M'.

    Returns None when nothing matches. Words may carry the option name ('size:M', 'size=M').
    """
    wanted = {_strip_option(w, option).casefold() for w in words}
    for label in labels:
        if label.casefold() in wanted:
            return label
    return None


def _strip_option(word: str, option: str) -> str:
    for sep in (":", "="):
        key, found, value = word.partition(sep)
        if found and (not option or key.casefold() == option.casefold()):
            return value
    return word


def check_image(image: str | None) -> None:
    """A product's image is a media folder file or an https URL (or none)."""
    if image and not is_media_name(image):
        image_url(image)
