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


# Symbols that may stand for a letter ('L!vebuy', 'Sam$hop') or be plain punctuation ('Sam
# Shop!'): a name is read both ways.
_SYMBOLS = frozenset("|!@$")


def fold(name: str, symbols_as_letters: bool = True) -> str:
    """The name as a reader would take it: 'L1ve Buy', 'ＬＩＶＥＢＵＹ', 'lіvebuy' -> 'llvebuy'.
    `symbols_as_letters=False` reads '|!@$' as punctuation (dropped) instead."""
    text = unicodedata.normalize("NFKD", name).casefold()
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    if not symbols_as_letters:
        text = "".join(ch for ch in text if ch not in _SYMBOLS)
    text = text.translate(_LOOKALIKE)
    return "".join(ch for ch in text if ch.isalnum())


def readings(name: str) -> set[str]:
    """Every way a reader may take the name (symbols as letters, or as punctuation)."""
    return {fold(name), fold(name, symbols_as_letters=False)} - {""}


def refused(name: str, sellers: list[str] | tuple[str, ...] = ()) -> str | None:
    """Why a viewer may not chat under this name, or None. The shop's name may not appear
    in it at all ('livebuy official'); a seller's name may not be the whole of it."""
    read = readings(name)
    if not read:
        return "a name with letters or digits, please"
    if any(fold(SHOP) in folded for folded in read):
        return f"'{name}' is the shop's name: choose another"
    if any(read & readings(seller) for seller in sellers):
        return f"'{name}' is a seller's name: choose another"
    return None
