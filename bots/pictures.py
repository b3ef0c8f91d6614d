"""What every platform's drop card adds for a product with media: its description under the
card's first line (name and price), and its picture beside it (see commerce.domain.media)."""

from commerce.service_layer.results import ShowView


def described(text: str, description: str, limit: int | None = None) -> str:
    """The card's text with the product's description as its second paragraph; `limit`: at
    most so many characters, the description shortened (the stock and buyers lines matter
    more, and a Telegram caption takes 1024)."""
    if not description:
        return text
    if limit is not None and len(text) + len(description) + 1 > limit:
        room = limit - len(text) - 2  # the newline and the ellipsis
        if room < 1:
            return text
        description = description[:room].rstrip() + "…"
    first, newline, rest = text.partition("\n")
    return f"{first}\n{description}{newline}{rest}"


def show_picture(show: ShowView) -> str | None:
    """A show board's picture: its live lot's product's, where the platform can show one
    (Telegram's photo board, Discord's embed, the web chat's card). Between lots, or for a
    lot without one, none: Telegram keeps the photo it shows (a message's media cannot be
    removed) while the caption names the lot that is on."""
    current = show.current
    return current.image if current is not None else None
