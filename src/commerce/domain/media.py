"""Product media: what a product's picture may be, and its description.

A product's image is kept as one text: an https URL (stored as typed, shown from there) or
the name of a file in the shop's media folder, named by its content (`<sha256>.<ext>`), so
the same picture is stored once and a name never points at other bytes.
"""

import hashlib
import re
from urllib.parse import urlsplit

from commerce.domain.errors import InvalidInput

MAX_IMAGE_BYTES = 5 * 1024 * 1024  # Telegram takes photos up to 10 MB; 5 MB is plenty
MAX_DESCRIPTION = 800  # leaves room for name, price and stock in a 1024-char Telegram caption
MAX_IMAGE_URL = 500
MEDIA_NAME = re.compile(r"^[0-9a-f]{64}\.(png|jpg|webp|gif)$")
CONTENT_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
}


def image_kind(data: bytes) -> str:
    """The file extension of an image, told by its first bytes (never by its name)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    raise InvalidInput("not a PNG, JPEG, WebP or GIF image")


def media_name(data: bytes) -> str:
    """The media folder's name for these image bytes: `<sha256>.<ext>`; checks size and type."""
    check_image_size(len(data))
    return f"{hashlib.sha256(data).hexdigest()}.{image_kind(data)}"


def check_image_size(size: int) -> None:
    if not size:
        raise InvalidInput("the image file is empty")
    if size > MAX_IMAGE_BYTES:
        raise InvalidInput(
            f"the image is {size / 1024 / 1024:.1f} MB; at most"
            f" {MAX_IMAGE_BYTES // 1024 // 1024} MB, please"
        )


def is_media_name(ref: str) -> bool:
    """A file in the media folder (as opposed to an https URL)."""
    return MEDIA_NAME.match(ref) is not None


def image_url(url: str) -> str:
    """An image given by address: https only (browsers and chat platforms fetch it)."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise InvalidInput(f"'{url[:60]}': an image address must start with https://")
    if len(url) > MAX_IMAGE_URL or any(c.isspace() or ord(c) < 32 for c in url):
        raise InvalidInput(f"an image address has at most {MAX_IMAGE_URL} characters, no spaces")
    return url


def public_image_url(ref: str, base_url: str) -> str:
    """Where a browser or a chat platform fetches the image: the URL, or this server's
    /media/ route for a file of the media folder."""
    return f"{base_url.rstrip('/')}/media/{ref}" if is_media_name(ref) else ref


def description(text: str) -> str:
    """A product's description as stored: trimmed, at most MAX_DESCRIPTION characters."""
    text = text.strip()
    if len(text) > MAX_DESCRIPTION:
        raise InvalidInput(
            f"the description has {len(text)} characters; at most {MAX_DESCRIPTION}, please"
        )
    return text
