"""Names web chat viewers type: free text, but not the shop's or a seller's.

Telegram and Discord show their own account names; the web chat shows what the viewer
typed. So a viewer could call themselves "livebuy" or the seller and post links that look
like the shop's. Names are compared as a reader sees them: case, spaces, punctuation,
accents, full-width forms and common lookalikes (Cyrillic 'а', a digit '1' for 'l') do not
make a name different.
"""

import unicodedata

SHOP = "livebuy"
# Letters that look alike in most fonts, folded to one of them (after case folding).
_LOOKALIKE = str.maketrans(
    {
        "0": "o",
        "1": "l",
        "i": "l",
        "|": "l",
        "!": "l",
        "3": "e",
        "4": "a",
        "@": "a",
        "5": "s",
        "$": "s",
        "7": "t",
        "8": "b",
        "а": "a",  # Cyrillic from here
        "в": "b",
        "е": "e",
        "ё": "e",
        "і": "l",
        "ї": "l",
        "ӏ": "l",
        "к": "k",
        "м": "m",
        "н": "h",
        "о": "o",
        "р": "p",
        "с": "c",
        "т": "t",
        "у": "y",
        "х": "x",
        "ѕ": "s",
        "ј": "j",
        "ԁ": "d",
        "ν": "v",  # Greek
        "ο": "o",
        "α": "a",
        "ι": "l",
        "κ": "k",
        "υ": "u",
        "ʏ": "y",
    }
)


def fold(name: str) -> str:
    """The name as a reader would take it: 'L1ve Buy', 'ＬＩＶＥＢＵＹ', 'lіvebuy' -> 'llvebuy'."""
    text = unicodedata.normalize("NFKD", name).casefold()
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.translate(_LOOKALIKE)
    return "".join(ch for ch in text if ch.isalnum())


def refused(name: str, sellers: list[str] | tuple[str, ...] = ()) -> str | None:
    """Why a viewer may not chat under this name, or None. The shop's name may not appear
    in it at all ('livebuy official'); a seller's name may not be the whole of it."""
    folded = fold(name)
    if not folded:
        return "a name with letters or digits, please"
    if fold(SHOP) in folded:
        return f"'{name}' is the shop's name: choose another"
    if any(folded == fold(seller) for seller in sellers if fold(seller)):
        return f"'{name}' is a seller's name: choose another"
    return None
