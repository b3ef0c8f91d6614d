"""The dashboard's product forms with a picture (multipart/form-data, as the page's script
sends them) and a description, on SQLite and PostgreSQL: an upload is checked and stored in
the media folder, an https address kept; refused input is a 4xx and leaves nothing behind."""

import hashlib
import io
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.service_layer import queries
from tests.conftest import test_settings
from tests.fakes import FakeClock, FakePaymentGateway
from tests.pictures import GIF, png
from webhooks.app import create_app
from webhooks.keys import BUS

TOKEN = "media-admin-0123456789abcdef"
JSON = {"Accept": "application/json"}


@pytest.fixture
async def client(
    database_url: str, engine: AsyncEngine, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    settings = test_settings(
        database_url, livebuy_admin_token=TOKEN, livebuy_media_dir=str(tmp_path / "media")
    )
    app = create_app(
        settings,
        engine=engine,
        clock=clock,
        payments=FakePaymentGateway(),
        webhook_secret="whsec_test",
        sweep_every=3600,
    )
    async with TestClient(TestServer(app)) as client:
        yield client


async def csrf_of(client: TestClient) -> str:  # type: ignore[type-arg]
    response = await client.post("/dashboard/login", data={"token": TOKEN})
    match = re.search(r'data-csrf="([0-9a-f]+)"', await response.text())
    assert match is not None
    return match.group(1)


def multipart(fields: dict[str, str], picture: bytes | None = None) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for key, value in fields.items():
        form.add_field(key, value)
    # The browser sends an empty part for a file input left empty.
    form.add_field(
        "image_file", io.BytesIO(picture or b""), filename="photo.png" if picture else "",
        content_type="application/octet-stream",
    )  # fmt: skip
    return form


async def post(client: TestClient, path: str, csrf: str, form: aiohttp.FormData):  # type: ignore[no-untyped-def, type-arg]
    response = await client.post(path, data=form, headers=JSON | {"X-CSRF-Token": csrf})
    return response.status, await response.json()


TEE = {"sku": "TEE", "name": "Tee", "price": "25", "stock": "3"}


async def test_a_product_with_an_uploaded_picture_and_a_description(
    client: TestClient,
    tmp_path: Path,  # type: ignore[type-arg]
) -> None:
    csrf = await csrf_of(client)
    # Larger than the app's 1 MB body limit for other forms: streamed, not refused.
    picture = png(700, 700, (1, 2, 3)) + b"\0" * (2 * 1024 * 1024)
    form = multipart(TEE | {"description": "Heavy cotton."}, picture)
    status, answer = await post(client, "/dashboard/products", csrf, form)
    assert (status, answer["message"]) == (200, "Added TEE.")
    name = f"{hashlib.sha256(picture).hexdigest()}.png"
    tee = await queries.product(client.server.app[BUS].reads, "TEE")
    assert (tee.image, tee.description) == (name, "Heavy cotton.")
    assert (tmp_path / "media" / name).read_bytes() == picture
    state = await (await client.get("/dashboard/state", headers=JSON)).json()
    (shown,) = state["products"]
    assert shown["image"] == f"/media/{name}" and shown["description"] == "Heavy cotton."

    # Edit: another picture by address, then remove picture and description.
    url = "https://cdn.example.com/tee.jpg"
    status, _ = await post(client, "/dashboard/products/TEE", csrf, multipart({"image_url": url}))
    assert status == 200
    tee = await queries.product(client.server.app[BUS].reads, "TEE")
    assert (tee.image, tee.description) == (url, "Heavy cotton.")
    form = multipart({"remove_image": "on", "remove_description": "on"})
    assert (await post(client, "/dashboard/products/TEE", csrf, form))[0] == 200
    tee = await queries.product(client.server.app[BUS].reads, "TEE")
    assert (tee.image, tee.description) == (None, "")


async def test_bad_pictures_are_refused_and_leave_nothing(
    client: TestClient,
    tmp_path: Path,  # type: ignore[type-arg]
) -> None:
    csrf = await csrf_of(client)
    for fields, picture, said in (
        (TEE, b"%PDF-1.7 not a picture", "not a PNG, JPEG, WebP or GIF image"),
        (TEE, png() + b"\0" * (5 * 1024 * 1024), "over 5 MB"),
        (TEE | {"image_url": "http://cdn.example.com/a.png"}, None, "must start with https://"),
        (TEE | {"description": "x" * 801}, GIF, "at most 800"),
    ):
        status, answer = await post(
            client, "/dashboard/products", csrf, multipart(fields, picture)
        )
        assert status == 400 and said in answer["error"], answer
    assert await queries.products(client.server.app[BUS].reads) == []
    media = tmp_path / "media"
    assert not media.exists() or list(media.iterdir()) == []
    # An edit of an unknown product: 404, and the uploaded picture is not kept.
    status, _ = await post(client, "/dashboard/products/NOPE", csrf, multipart({}, GIF))
    assert status == 404
    assert not media.exists() or list(media.iterdir()) == []
    # Without the CSRF header a big upload is not read whole: refused, nothing stored.
    response = await client.post("/dashboard/products", data=multipart(TEE, GIF), headers=JSON)
    assert response.status == 403


async def test_a_form_sent_without_the_pages_script_carries_its_picture(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    """No script: the browser posts the form itself, the CSRF token in a field (and the
    app's 1 MB body limit applies)."""
    csrf = await csrf_of(client)
    form = multipart(TEE | {"csrf": csrf}, GIF)
    response = await client.post("/dashboard/products", data=form, allow_redirects=False)
    assert response.status == 303
    tee = await queries.product(client.server.app[BUS].reads, "TEE")
    assert tee.image == f"{hashlib.sha256(GIF).hexdigest()}.gif"
