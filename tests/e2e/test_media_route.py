"""GET /media/<sha256>.<ext>: stored product pictures with their content type; 404 for
anything else, including names that try to leave the media folder."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.media import MediaFolder
from commerce.config import Settings
from tests.conftest import test_settings
from tests.fakes import FakeClock, FakePaymentGateway
from tests.pictures import GIF, png
from webhooks.app import create_app

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no table used


@pytest.fixture
async def client(
    database_url: str, engine: AsyncEngine, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    settings = test_settings(database_url, livebuy_media_dir=str(tmp_path / "media"))
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


@SQLITE_ONLY
async def test_a_stored_picture_is_served_with_its_type(
    client: TestClient, tmp_path: Path
) -> None:  # type: ignore[type-arg]
    folder = MediaFolder(tmp_path / "media")
    picture, _ = folder.save(png())
    animation, _ = folder.save(GIF)
    response = await client.get(f"/media/{picture}")
    assert response.status == 200
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "immutable" in response.headers["Cache-Control"]
    assert await response.read() == png()
    gif = await client.get(f"/media/{animation}")
    assert gif.headers["Content-Type"] == "image/gif" and await gif.read() == GIF


@SQLITE_ONLY
async def test_unknown_and_crafted_names_are_not_found(client: TestClient, tmp_path: Path) -> None:  # type: ignore[type-arg]
    folder = MediaFolder(tmp_path / "media")
    picture, _ = folder.save(png())
    (tmp_path / "secret.txt").write_text("not for you")
    (tmp_path / "media" / "notes.png").write_text("a file that is no stored picture")
    for path in (
        "/media/" + "0" * 64 + ".png",  # the right form, never stored
        "/media/" + picture.replace(".png", ".gif"),  # another extension
        "/media/notes.png",
        "/media/..%2Fsecret.txt",
        "/media/%2E%2E/secret.txt",
        "/media/../secret.txt",
        "/media/",
    ):
        response = await client.get(path)
        assert response.status == 404, path
        assert "not for you" not in await response.text()


def test_the_media_folder_is_next_to_the_sqlite_data_by_default(tmp_path: Path) -> None:
    here = Settings(_env_file=None, database_url=f"sqlite:///{tmp_path}/shop/livebuy.db")  # type: ignore[call-arg]
    assert here.media_dir == tmp_path / "shop" / "media"
    pg = Settings(_env_file=None, database_url="postgresql://u@db/shop")  # type: ignore[call-arg]
    assert pg.media_dir == Path("media")
    chosen = Settings(_env_file=None, livebuy_media_dir=str(tmp_path / "pics"))  # type: ignore[call-arg]
    assert chosen.media_dir == tmp_path / "pics"
