"""Texts only the chats without private messages say (Twitch, YouTube Live), in every locale:
a win answered in the chat itself with its pay link, a drop's one-line board, and a buyer's
news after the sale (shipped, cancelled) said naming them, with the claimant's link to the
details (never the tracking number itself: the whole chat reads it).

Everything else comes from `bots.rendering`; a test checks every locale has the same keys.
"""

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "saved_card": "your saved card",
        "won_confirm": "{who}: {qty} × {item} is held for you for {amount}. Type #confirm to "
        "pay with your saved card.",
        "confirm": "{who}: type #confirm to pay with your saved card.",
        "won": "{who}: {qty} × {item} is yours for {amount}: {url}",
        "won_no_link": "{who}: {qty} × {item} is yours for {amount}. Your link follows here.",
        "board": "{item}: {left} of {qty} left at {amount}, type #buy {code}",
        "board_ended": "{item}: the drop has ended, {sold} of {qty} sold.",
        "shipped": "{who}: your order {refs} has shipped. Tracking and details: {url}",
        "shipped_no_link": "{who}: your order {refs} has shipped.",
        "cancelled": "{who}: the shop cancelled your order {ref}. Nothing was charged. "
        "Details: {url}",
        "cancelled_no_link": "{who}: the shop cancelled your order {ref}. Nothing was charged.",
    },
    "de": {
        "saved_card": "deiner gespeicherten Karte",
        "won_confirm": "{who}: {qty} × {item} ist für dich reserviert, {amount}. Schreib "
        "#confirm, um mit deiner gespeicherten Karte zu zahlen.",
        "confirm": "{who}: schreib #confirm, um mit deiner gespeicherten Karte zu zahlen.",
        "won": "{who}: {qty} × {item} gehört dir für {amount}: {url}",
        "won_no_link": "{who}: {qty} × {item} gehört dir für {amount}. Dein Link folgt hier.",
        "board": "{item}: {left} von {qty} übrig zu {amount}, schreib #buy {code}",
        "board_ended": "{item}: der Drop ist beendet, {sold} von {qty} verkauft.",
        "shipped": "{who}: deine Bestellung {refs} ist verschickt. Sendungsnummer und "
        "Details: {url}",
        "shipped_no_link": "{who}: deine Bestellung {refs} ist verschickt.",
        "cancelled": "{who}: der Shop hat deine Bestellung {ref} storniert. Es wurde nichts "
        "abgebucht. Details: {url}",
        "cancelled_no_link": "{who}: der Shop hat deine Bestellung {ref} storniert. Es wurde "
        "nichts abgebucht.",
    },
    "fr": {
        "saved_card": "ta carte enregistrée",
        "won_confirm": "{who} : {qty} × {item} t'est réservé pour {amount}. Tape #confirm "
        "pour payer avec ta carte enregistrée.",
        "confirm": "{who} : tape #confirm pour payer avec ta carte enregistrée.",
        "won": "{who} : {qty} × {item} est à toi pour {amount} : {url}",
        "won_no_link": "{who} : {qty} × {item} est à toi pour {amount}. Ton lien suit ici.",
        "board": "{item} : {left} sur {qty} restants à {amount}, tape #buy {code}",
        "board_ended": "{item} : le drop est terminé, {sold} sur {qty} vendus.",
        "shipped": "{who} : ta commande {refs} est expédiée. Suivi et détails : {url}",
        "shipped_no_link": "{who} : ta commande {refs} est expédiée.",
        "cancelled": "{who} : la boutique a annulé ta commande {ref}. Rien n'a été débité. "
        "Détails : {url}",
        "cancelled_no_link": "{who} : la boutique a annulé ta commande {ref}. Rien n'a été "
        "débité.",
    },
    "es": {
        "saved_card": "tu tarjeta guardada",
        "won_confirm": "{who}: {qty} × {item} está reservado para ti por {amount}. Escribe "
        "#confirm para pagar con tu tarjeta guardada.",
        "confirm": "{who}: escribe #confirm para pagar con tu tarjeta guardada.",
        "won": "{who}: {qty} × {item} es tuyo por {amount}: {url}",
        "won_no_link": "{who}: {qty} × {item} es tuyo por {amount}. Tu enlace llega aquí.",
        "board": "{item}: quedan {left} de {qty} a {amount}, escribe #buy {code}",
        "board_ended": "{item}: el drop ha terminado, {sold} de {qty} vendidos.",
        "shipped": "{who}: tu pedido {refs} ha sido enviado. Seguimiento y detalles: {url}",
        "shipped_no_link": "{who}: tu pedido {refs} ha sido enviado.",
        "cancelled": "{who}: la tienda canceló tu pedido {ref}. No se cobró nada. Detalles: {url}",
        "cancelled_no_link": "{who}: la tienda canceló tu pedido {ref}. No se cobró nada.",
    },
}


def text(locale: str, key: str, **values: object) -> str:
    return TEXTS.get(locale, TEXTS["en"])[key].format(**values)
