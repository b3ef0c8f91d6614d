"""The command menu Telegram shows (setMyCommands), in the languages the bot speaks."""

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeDefault,
)

BUYER = ("buy", "orders", "cancel", "pass", "help", "whoami")
PRIVATE = ("confirm", "card", "link", "unlink")  # one-message buying: the private chat only
SELLER = ("drop", "end", "stats", "refund")

DESCRIPTIONS: dict[str, dict[str, str]] = {
    "en": {
        "buy": "Buy from the live drop (/buy CODE 2 M)",
        "orders": "Your orders",
        "cancel": "Cancel an unpaid order",
        "pass": "Give back your hold",
        "help": "What I can do",
        "whoami": "Your id and this chat's (for sellers' settings)",
        "confirm": "Pay your held order with your saved card",
        "card": "Your saved card for one-message buys",
        "link": "Join your accounts on other platforms",
        "unlink": "Forget your saved card",
        "drop": "Start a drop: /drop SKU QTY PRICE [for 10m] [limit 1]",
        "end": "End the live drop",
        "stats": "How the drops are going",
        "refund": "Refund an order: /refund ORDER",
    },
    "de": {
        "buy": "Aus dem laufenden Drop kaufen (/buy CODE 2 M)",
        "orders": "Deine Bestellungen",
        "cancel": "Unbezahlte Bestellung stornieren",
        "pass": "Reservierung zurückgeben",
        "help": "Was ich kann",
        "whoami": "Deine Id und die dieses Chats (für Verkäufer)",
        "confirm": "Reservierte Bestellung mit deiner Karte bezahlen",
        "card": "Deine gespeicherte Karte für Käufe mit einer Nachricht",
        "link": "Deine Konten auf anderen Plattformen verknüpfen",
        "unlink": "Gespeicherte Karte vergessen",
        "drop": "Drop starten: /drop SKU MENGE PREIS [for 10m] [limit 1]",
        "end": "Laufenden Drop beenden",
        "stats": "Wie die Drops laufen",
        "refund": "Bestellung erstatten: /refund BESTELLUNG",
    },
    "fr": {
        "buy": "Acheter dans le drop en cours (/buy CODE 2 M)",
        "orders": "Tes commandes",
        "cancel": "Annuler une commande non payée",
        "pass": "Rendre ta réservation",
        "help": "Ce que je sais faire",
        "whoami": "Ton id et celle de ce chat (pour les vendeurs)",
        "confirm": "Payer ta réservation avec ta carte enregistrée",
        "card": "Ta carte enregistrée pour acheter en un message",
        "link": "Lier tes comptes sur d'autres plateformes",
        "unlink": "Oublier ta carte enregistrée",
        "drop": "Lancer un drop : /drop SKU QTÉ PRIX [for 10m] [limit 1]",
        "end": "Terminer le drop en cours",
        "stats": "Où en sont les drops",
        "refund": "Rembourser : /refund COMMANDE",
    },
    "es": {
        "buy": "Comprar en el drop en curso (/buy CODE 2 M)",
        "orders": "Tus pedidos",
        "cancel": "Cancelar un pedido sin pagar",
        "pass": "Devolver tu reserva",
        "help": "Lo que sé hacer",
        "whoami": "Tu id y la de este chat (para vendedores)",
        "confirm": "Pagar tu reserva con tu tarjeta guardada",
        "card": "Tu tarjeta guardada para comprar con un mensaje",
        "link": "Vincular tus cuentas en otras plataformas",
        "unlink": "Olvidar tu tarjeta guardada",
        "drop": "Empezar un drop: /drop SKU CANT PRECIO [for 10m] [limit 1]",
        "end": "Terminar el drop en curso",
        "stats": "Cómo van los drops",
        "refund": "Reembolsar: /refund PEDIDO",
    },
}


async def register_commands(bot: Bot) -> None:
    """Buyers' commands everywhere (with the card commands in private chats), sellers' too
    for chat administrators, per language."""
    for language, texts in DESCRIPTIONS.items():
        code = None if language == "en" else language
        buyer = [BotCommand(name, texts[name]) for name in BUYER]
        private = buyer + [BotCommand(name, texts[name]) for name in PRIVATE]
        seller = buyer + [BotCommand(name, texts[name]) for name in SELLER]
        await bot.set_my_commands(buyer, scope=BotCommandScopeDefault(), language_code=code)
        await bot.set_my_commands(
            private, scope=BotCommandScopeAllPrivateChats(), language_code=code
        )
        await bot.set_my_commands(
            seller, scope=BotCommandScopeAllChatAdministrators(), language_code=code
        )
