"""`livebuy product …`: products and stock."""

import contextlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

from commerce.adapters.media import MediaFolder
from commerce.domain import commands as c
from commerce.domain.errors import CommerceError
from commerce.domain.media import MAX_DESCRIPTION, check_image_size, description, image_url
from commerce.domain.money import Money
from commerce.domain.products import ProductSpec, normalise_sku, parse_variants
from commerce.domain.shipping import parse_size
from commerce.service_layer import queries
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.results import ProductView
from webhooks.cli.common import Format, emit, fail, money, price_allowed, settings, with_bus

product_app = typer.Typer(help="Products and stock.", no_args_is_help=True)


def product_row(p: ProductView) -> dict[str, Any]:
    variants = ", ".join(f"{v.label}:{v.stock}" for v in p.variants if v.label)
    return {
        "sku": p.sku,
        "name": p.name,
        "price": str(p.price.decimal()),
        "currency": p.price.currency,
        "stock": p.stock,
        "variants": variants,
        "digital": p.digital,
        "ship_units": 0 if p.digital else p.ship_units,
        "image": p.image or "",
        "description": p.description,
    }


PRODUCT_COLUMNS = [
    "sku", "name", "price", "currency", "stock", "variants", "digital", "ship_units", "image",
    "description",
]  # fmt: skip
SHIP_UNITS_HELP = "Units one piece counts as in a package (1-100; a hoodie may count 2)."
IMAGE_HELP = (
    "Its picture: a PNG, JPEG, WebP or GIF file (at most 5 MB, copied to LIVEBUY_MEDIA_DIR)"
    " or an https:// address."
)
DESCRIPTION_HELP = f"A few words for drop and lot cards (at most {MAX_DESCRIPTION} characters)."


@product_app.command("add")
def product_add(
    sku: Annotated[str, typer.Argument(help="Short code buyers type, e.g. TEE.")],
    name: Annotated[str, typer.Option("--name", help="What buyers see.")],
    price: Annotated[str, typer.Option("--price", help="Unit price, e.g. 25.00.")],
    stock: Annotated[
        int, typer.Option("--stock", help="Units in stock (per variant); 0 is allowed.")
    ],
    currency: Annotated[str, typer.Option("--currency", help="ISO code; LIVEBUY_CURRENCY.")] = "",
    variant: Annotated[
        str | None, typer.Option("--variant", help="Variants, e.g. size=S,M,L.")
    ] = None,
    digital: Annotated[
        bool, typer.Option("--digital", help="Nothing to ship: checkout asks no address.")
    ] = False,
    ship_units: Annotated[str, typer.Option("--ship-units", help=SHIP_UNITS_HELP)] = "1",
    yes: Annotated[
        bool, typer.Option("--yes", help="Allow a price above LIVEBUY_MAX_PRICE.")
    ] = False,
    image: Annotated[str | None, typer.Option("--image", help=IMAGE_HELP)] = None,
    about: Annotated[str, typer.Option("--description", help=DESCRIPTION_HELP)] = "",
) -> None:
    """Add a product."""
    config = settings()
    try:
        option, labels = parse_variants(variant)
        spec = ProductSpec(
            normalise_sku(sku),
            name,
            money(price, currency or config.livebuy_currency),
            option,
            tuple(labels),
            digital,
            parse_size(ship_units),
            description=description(about),
        )
    except CommerceError as exc:
        raise fail(str(exc)) from None
    price_allowed(spec.price, yes)
    with stored_image(image, config.media_dir) as picture:
        spec = replace(spec, image=picture)
        product: ProductView = with_bus(lambda bus: bus.handle(c.AddProduct(spec, stock)))
    emit([product_row(product)], Format.TABLE, PRODUCT_COLUMNS)


@product_app.command("edit")
def product_edit(
    sku: Annotated[str, typer.Argument(help="The product's SKU.")],
    name: Annotated[str | None, typer.Option("--name", help="New name.")] = None,
    price: Annotated[
        str | None, typer.Option("--price", help="New unit price; live drops keep theirs.")
    ] = None,
    ship_units: Annotated[str | None, typer.Option("--ship-units", help=SHIP_UNITS_HELP)] = None,
    yes: Annotated[
        bool, typer.Option("--yes", help="Allow a price above LIVEBUY_MAX_PRICE.")
    ] = False,
    image: Annotated[
        str | None, typer.Option("--image", help=IMAGE_HELP + ' "" removes it.')
    ] = None,
    about: Annotated[
        str | None, typer.Option("--description", help=DESCRIPTION_HELP + ' "" removes it.')
    ] = None,
) -> None:
    """Rename, reprice or resize a product; change its picture or description."""
    config = settings()
    try:
        size = parse_size(ship_units) if ship_units is not None else None
        text = description(about) if about is not None else None
    except CommerceError as exc:
        raise fail(str(exc)) from None

    async def edit(bus: MessageBus, picture: str | None) -> ProductView:
        current = await queries.product(bus.reads, sku)
        new_price = Money.parse(price, current.price.currency) if price else None
        if new_price is not None:
            price_allowed(new_price, yes)
        update = c.UpdateProduct(sku, name, new_price, size, picture, text)
        result: ProductView = await bus.handle(update)
        return result

    if image is not None and not image.strip():  # --image "": no picture any more
        product = with_bus(lambda bus: edit(bus, ""))
    else:
        with stored_image(image, config.media_dir) as picture:
            product = with_bus(lambda bus: edit(bus, picture))
    emit([product_row(product)], Format.TABLE, PRODUCT_COLUMNS)


@contextlib.contextmanager
def stored_image(given: str | None, media_dir: Path) -> Iterator[str | None]:
    """The product image the seller gave, as stored: an https address as typed, a file
    checked and copied into the media folder. A picture copied for a product that then
    could not be saved is removed again: no half-written state."""
    if given is None:
        yield None
        return
    try:
        if "://" in given:
            yield image_url(given)
            return
        path = Path(given).expanduser()
        if not path.is_file():
            raise fail(f"{given}: no such file (give a PNG, JPEG, WebP or GIF, or an https URL)")
        check_image_size(path.stat().st_size)  # a huge file is refused before it is read
        name, created = MediaFolder(media_dir).save(path.read_bytes())
    except CommerceError as exc:
        raise fail(f"{given}: {exc}") from None
    except OSError as exc:
        raise fail(f"{given}: {exc.strerror or exc}") from None
    try:
        yield name
    except BaseException:
        if created:
            MediaFolder(media_dir).forget(name)
        raise


@product_app.command("list")
def product_list(
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.TABLE,
) -> None:
    """List products with their stock."""
    products = with_bus(lambda bus: queries.products(bus.reads))
    emit([product_row(p) for p in products], fmt, PRODUCT_COLUMNS)


@product_app.command("stock")
def product_stock(
    sku: Annotated[str, typer.Argument(help="The product's SKU.")],
    quantity: Annotated[int, typer.Argument(help="Units now in stock.")],
    variant: Annotated[
        str | None, typer.Option("--variant", help="Which variant, e.g. M.")
    ] = None,
) -> None:
    """Set a product's stock (of one variant)."""
    product = with_bus(lambda bus: bus.handle(c.SetStock(sku, quantity, variant)))
    emit([product_row(product)], Format.TABLE, PRODUCT_COLUMNS)
