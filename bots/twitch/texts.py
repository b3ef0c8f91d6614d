"""Texts only Twitch says, in every locale: a win answered in the chat itself with its pay
link (a bot's whispers are limited to a few dozen new recipients a day), and a drop's one-line
board.

Everything else comes from `bots.rendering`.
"""

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "won": "{who}: {qty} × {item} is yours for {amount}: {url}",
        "won_no_link": "{who}: {qty} × {item} is yours for {amount}. Your link follows here.",
        "board": "{item}: {left} of {qty} left at {amount}, type #buy {code}",
        "board_ended": "{item}: the drop has ended, {sold} of {qty} sold.",
    },
    "de": {
        "won": "{who}: {qty} × {item} gehört dir für {amount}: {url}",
        "won_no_link": "{who}: {qty} × {item} gehört dir für {amount}. Dein Link folgt hier.",
        "board": "{item}: {left} von {qty} übrig zu {amount}, schreib #buy {code}",
        "board_ended": "{item}: der Drop ist beendet, {sold} von {qty} verkauft.",
    },
    "fr": {
        "won": "{who} : {qty} × {item} est à toi pour {amount} : {url}",
        "won_no_link": "{who} : {qty} × {item} est à toi pour {amount}. Ton lien suit ici.",
        "board": "{item} : {left} sur {qty} restants à {amount}, tape #buy {code}",
        "board_ended": "{item} : le drop est terminé, {sold} sur {qty} vendus.",
    },
    "es": {
        "won": "{who}: {qty} × {item} es tuyo por {amount}: {url}",
        "won_no_link": "{who}: {qty} × {item} es tuyo por {amount}. Tu enlace llega aquí.",
        "board": "{item}: quedan {left} de {qty} a {amount}, escribe #buy {code}",
        "board_ended": "{item}: el drop ha terminado, {sold} de {qty} vendidos.",
    },
}


def text(locale: str, key: str, **values: object) -> str:
    return TEXTS.get(locale, TEXTS["en"])[key].format(**values)
