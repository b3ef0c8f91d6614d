"""The dashboard's forms: products, stock, drops, auctions, refunds. Each runs one command
through the bus; refused input is a 4xx that says why and changes nothing."""

from collections.abc import Awaitable, Callable

from aiohttp import BodyPartReader, web

from commerce.adapters.media import MediaFolder
from commerce.domain import commands as c
from commerce.domain.drops import DropPolicy, DropTerms, parse_duration
from commerce.domain.errors import CommerceError, InvalidInput, NotFound
from commerce.domain.identity import ChatRef
from commerce.domain.media import MAX_IMAGE_BYTES, description, image_url
from commerce.domain.money import Money, parse_amount
from commerce.domain.products import ProductSpec, normalise_sku, parse_variants
from commerce.domain.shipping import parse_size
from commerce.service_layer import queries
from commerce.service_layer.ports import PaymentError
from webhooks.dashboard.replies import bus_of, done, refuse
from webhooks.keys import SETTINGS

routes = web.RouteTableDef()


async def act(
    request: web.Request, work: Callable[[dict[str, str]], Awaitable[str]]
) -> web.Response:
    """Runs a form's action; refused input is a 4xx that says why, and changes nothing."""
    form = {k: str(v).strip() for k, v in (await request.post()).items()}
    try:
        return done(request, await work(form))
    except NotFound as exc:
        return refuse(request, str(exc), 404)
    except (CommerceError, PaymentError) as exc:
        return refuse(request, str(exc), 400)


def field(form: dict[str, str], name: str) -> str:
    value = form.get(name, "")
    if not value:
        raise InvalidInput(f"{name} is required")
    return value


def number(form: dict[str, str], name: str, default: int | None = None) -> int | None:
    value = form.get(name, "")
    if not value:
        return default
    if not value.isdigit() or len(value) > 9:
        raise InvalidInput(f"{name} must be a whole number, not '{value[:20]}'")
    return int(value)


@routes.post("/products")
async def add_product(request: web.Request) -> web.Response:
    async def work(form: dict[str, str], picture: str | None) -> str:
        currency = request.config_dict[SETTINGS].livebuy_currency
        option, labels = parse_variants(form.get("variants") or None)
        spec = ProductSpec(
            normalise_sku(field(form, "sku")),
            field(form, "name")[:200],
            Money.parse(field(form, "price"), currency),
            option,
            tuple(labels),
            form.get("digital") in ("on", "1", "true"),
            parse_size(form.get("ship_units") or "1"),
            image=picture,
            description=description(form.get("description", "")),
        )
        product = await bus_of(request).handle(c.AddProduct(spec, number(form, "stock", 0) or 0))
        return f"Added {product.sku}."

    return await with_picture(request, work)


@routes.post("/products/{sku}")
async def edit_product(request: web.Request) -> web.Response:
    async def work(form: dict[str, str], picture: str | None) -> str:
        bus = bus_of(request)
        product = await queries.product(bus.reads, request.match_info["sku"])
        price = form.get("price")
        new_price = Money.parse(price, product.price.currency) if price else None
        size = parse_size(form["ship_units"]) if form.get("ship_units") else None
        if form.get("remove_image") == "on":
            picture = ""
        about = description(form["description"]) if form.get("description") else None
        if form.get("remove_description") == "on":
            about = ""
        name = form.get("name") or None
        await bus.handle(c.UpdateProduct(product.sku, name, new_price, size, picture, about))
        if form.get("stock"):
            stock = number(form, "stock") or 0
            await bus.handle(c.SetStock(product.sku, stock, form.get("variant") or None))
        return f"Saved {product.sku}."

    return await with_picture(request, work)


async def with_picture(
    request: web.Request, work: Callable[[dict[str, str], str | None], Awaitable[str]]
) -> web.Response:
    """A product form, which may carry a picture: an uploaded file (multipart, streamed and
    checked: type by its bytes, at most 5 MB, stored in the media folder) or an https
    address. A picture stored for a product that then is refused is removed again."""
    folder = MediaFolder(request.config_dict[SETTINGS].media_dir)
    stored: str | None = None
    try:
        form, upload = await product_form(request)
        picture = image_url(form["image_url"]) if form.get("image_url") else None
        if upload:
            picture, created = folder.save(upload)
            stored = picture if created else None
        result = done(request, await work(form, picture))
    except NotFound as exc:
        result = refuse(request, str(exc), 404)
    except (CommerceError, PaymentError) as exc:
        result = refuse(request, str(exc), 400)
    except web.HTTPRequestEntityTooLarge:  # a form without a picture, over the app's limit
        result = refuse(request, "the form is too large", 413)
    if stored is not None and result.status >= 400:
        folder.forget(stored)
    return result


async def product_form(request: web.Request) -> tuple[dict[str, str], bytes | None]:
    """The form's fields and the bytes of its `image_file` (None: no file chosen). Read as a
    stream: the app's body limit (1 MB) is below a picture's."""
    if not request.content_type.startswith("multipart/") or "X-CSRF-Token" not in request.headers:
        # Read with post() already (a form sent without the page's script: the CSRF token
        # came in a field), within the app's body limit.
        posted = await request.post()
        picture = posted.get("image_file")
        data = picture.file.read() if isinstance(picture, web.FileField) else None
        fields = {k: str(v).strip() for k, v in posted.items() if k != "image_file"}
        return fields, data or None
    form: dict[str, str] = {}
    upload: bytes | None = None
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or not part.name:
            continue
        if part.name == "image_file":
            data = await _read_at_most(part, MAX_IMAGE_BYTES)
            upload = data or None  # an empty file input: no picture chosen
            continue
        text = await _read_at_most(part, MAX_FIELD)
        form[part.name] = text.decode(part.get_charset("utf-8"), "replace").strip()
    return form, upload


MAX_FIELD = 16 * 1024  # a text field of a product form (a description is 800 characters)


async def _read_at_most(part: BodyPartReader, limit: int) -> bytes:
    """The part's bytes; refused as soon as it grows past `limit` (never read whole)."""
    data = bytearray()
    while chunk := await part.read_chunk(64 * 1024):
        data += chunk
        if len(data) > limit:
            if part.name == "image_file":
                raise InvalidInput(f"the picture is over {limit // 1024 // 1024} MB: at most that")
            raise InvalidInput(f"{part.name} is too long")
    return bytes(data)


@routes.post("/drops")
async def start_drop(request: web.Request) -> web.Response:
    async def work(form: dict[str, str]) -> str:
        bus = bus_of(request)
        product = await queries.product(bus.reads, field(form, "sku"))
        chat = str(ChatRef.parse(field(form, "chat")))
        price = form.get("price")
        hold = form.get("hold")
        confirm = form.get("confirm") or "always"
        if confirm == "above":
            confirm = f"above {field(form, 'confirm_above')}"
        terms = DropTerms.as_typed(
            sku=product.sku,
            quantity=number(form, "quantity") or 0,
            list_price=product.price,
            price=price,
            duration=parse_duration(form["duration"]) if form.get("duration") else None,
            limit=number(form, "limit"),
            policy=policy_of(form.get("policy") or DropPolicy.HOLD.value),
            hold=parse_duration(hold) if hold else bus.reads.hold,
            confirm=confirm,
            promo=form.get("promo") == "on",
        )
        drop = await bus.handle(c.StartDrop(terms, (chat,), actor="dashboard"))
        return f"Drop {drop.code} is live in {chat}."

    return await act(request, work)


def policy_of(value: str) -> DropPolicy:
    try:
        return DropPolicy(value)
    except ValueError:
        raise InvalidInput(f"policy must be hold or first-paid, not '{value[:20]}'") from None


@routes.post("/auctions")
async def start_auction(request: web.Request) -> web.Response:
    async def work(form: dict[str, str]) -> str:
        bus = bus_of(request)
        product = await queries.product(bus.reads, field(form, "sku"))
        chat = str(ChatRef.parse(field(form, "chat")))
        close = form.get("close") or "soft"
        if close not in ("soft", "sudden"):
            raise InvalidInput(f"close must be soft or sudden, not '{close[:20]}'")
        auction = await bus.handle(
            c.StartAuction(
                product.sku,
                parse_amount(field(form, "start")),
                parse_duration(form["duration"]) if form.get("duration") else None,
                close,
                parse_amount(form["reserve"]) if form.get("reserve") else None,
                parse_amount(form["step"]) if form.get("step") else None,
                (chat,),
                actor="dashboard",
            )
        )
        return f"Auction {auction.code} is live in {chat} until {auction.ends_at:%H:%M:%S} UTC."

    return await act(request, work)


@routes.post("/drops/{code}/end")
async def end_drop(request: web.Request) -> web.Response:
    async def work(form: dict[str, str]) -> str:
        drop = await bus_of(request).handle(c.EndDrop(request.match_info["code"]))
        return f"Drop {drop.code} ended: {drop.quantity - drop.remaining} of {drop.quantity} sold."

    return await act(request, work)


@routes.post("/orders/{ref}/refund")
async def refund(request: web.Request) -> web.Response:
    """All that is left, or part of it (`amount`, in the order's currency); `restock` puts
    the units back, as `livebuy refund --amount --restock` does."""

    async def work(form: dict[str, str]) -> str:
        ref = request.match_info["ref"]
        part = form.get("amount") or None
        restock = form.get("restock") in ("on", "1", "true")
        await bus_of(request).handle(
            c.RefundOrder(ref, actor="dashboard", part=part, restock=restock)
        )
        what = f"{part} of order {ref}" if part else f"order {ref}"
        return f"Refund of {what} requested" + (", units back in stock." if restock else ".")

    return await act(request, work)
