"""Texts only Discord says (the drop board, the closed-DMs fallback), in every locale.

Everything else comes from `bots.rendering`; a test checks every locale has the same keys.
"""

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "board": "{item}: {left} of {qty} left at {amount}{waiting}",
        "board_waiting": ", {count} waiting",
        "board_ended": "{item}: the drop has ended, {sold} of {qty} sold.",
        "buy": "Buy",
        "dm_closed": "{who}: I cannot send you direct messages. Allow DMs from this server, "
        "or use the Buy button on the drop.",
        "done": "Done.",
        "error": "Something went wrong on my side. Please try again in a moment.",
        "perk_set": "Buyers of {sku} get the role {role} once they have paid.",
    },
    "de": {
        "board": "{item}: {left} von {qty} übrig zu {amount}{waiting}",
        "board_waiting": ", {count} warten",
        "board_ended": "{item}: der Drop ist beendet, {sold} von {qty} verkauft.",
        "buy": "Kaufen",
        "dm_closed": "{who}: ich kann dir keine Direktnachrichten schicken. Erlaube DMs von "
        "diesem Server oder nutze den Kaufen-Knopf am Drop.",
        "done": "Erledigt.",
        "error": "Bei mir ist etwas schiefgegangen. Bitte versuch es gleich noch einmal.",
        "perk_set": "Käufer von {sku} bekommen nach der Zahlung die Rolle {role}.",
    },
    "fr": {
        "board": "{item} : {left} sur {qty} restants à {amount}{waiting}",
        "board_waiting": ", {count} en attente",
        "board_ended": "{item} : le drop est terminé, {sold} sur {qty} vendus.",
        "buy": "Acheter",
        "dm_closed": "{who} : je ne peux pas t'envoyer de message privé. Autorise les MP de "
        "ce serveur, ou utilise le bouton Acheter du drop.",
        "done": "C'est fait.",
        "error": "Quelque chose s'est mal passé de mon côté. Réessaie dans un instant.",
        "perk_set": "Les acheteurs de {sku} reçoivent le rôle {role} après paiement.",
    },
    "es": {
        "board": "{item}: quedan {left} de {qty} a {amount}{waiting}",
        "board_waiting": ", {count} esperando",
        "board_ended": "{item}: el drop ha terminado, {sold} de {qty} vendidos.",
        "buy": "Comprar",
        "dm_closed": "{who}: no puedo enviarte mensajes directos. Permite los MD de este "
        "servidor o usa el botón Comprar del drop.",
        "done": "Hecho.",
        "error": "Algo salió mal por mi parte. Inténtalo de nuevo en un momento.",
        "perk_set": "Los compradores de {sku} reciben el rol {role} tras pagar.",
    },
}


def text(locale: str, key: str, **values: object) -> str:
    return TEXTS.get(locale, TEXTS["en"])[key].format(**values)
