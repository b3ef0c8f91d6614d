"""Telegram Payments: the invoice a buyer pays in the private chat instead of following a
Checkout link (on when TELEGRAM_PAYMENT_PROVIDER_TOKEN is set), in the buyer's language."""

from datetime import datetime, timedelta

from telegram import SuccessfulPayment

from commerce.domain.drops import format_duration
from commerce.domain.shipping import ship_to as one_line
from commerce.service_layer import invoices
from commerce.service_layer.outbox import Invoice, Outgoing
from commerce.service_layer.results import OrderView

PLATFORM = "telegram"
TITLE_MAX, DESCRIPTION_MAX, LABEL_MAX = 32, 255, 64  # the Bot API's limits (sendInvoice)

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "won": "You have {qty} × {item} for {amount}. Pay with the invoice below within {hold}.",
        "promoted": "Your turn: {qty} × {item} for {amount}. Pay with the invoice below "
        "within {hold}.",
        "auction_won": "You won {item} for {amount}. Pay with the invoice below within {hold}.",
        "second_chance": "Second chance: {item} is yours for {amount}, your last bid. Pay with "
        "the invoice below within {hold}.",
        "card_fallback": "Your card could not pay{reason}. Pay {qty} × {item} ({amount}) with "
        "the invoice below within {hold}.",
        "description": "Order {ref}: {qty} × {item}",
        "shipping": "Shipping",
        "invoice": "Invoice for order {ref}: {qty} × {item}, {amount}",
        invoices.EXPIRED: "This hold has expired; type #buy again while the drop is live.",
        invoices.UNKNOWN: "This order does not exist.",
        invoices.NOT_YOURS: "This order belongs to someone else.",
        invoices.ALREADY_PAID: "This order is paid already.",
        invoices.UNDER_WAY: "A payment for this order is under way already.",
        invoices.OUTDATED: "This invoice is out of date; /orders shows your orders.",
        "busy": "The shop could not check your order in time. Please try again.",
    },
    "de": {
        "won": "Du hast {qty} × {item} für {amount}. Bezahle innerhalb {hold} mit der "
        "Rechnung unten.",
        "promoted": "Du bist dran: {qty} × {item} für {amount}. Bezahle innerhalb {hold} mit "
        "der Rechnung unten.",
        "auction_won": "Du hast {item} für {amount} ersteigert. Bezahle innerhalb {hold} mit "
        "der Rechnung unten.",
        "second_chance": "Zweite Chance: {item} gehört dir für {amount}, dein letztes Gebot. "
        "Bezahle innerhalb {hold} mit der Rechnung unten.",
        "card_fallback": "Deine Karte konnte nicht zahlen{reason}. Bezahle {qty} × {item} "
        "({amount}) innerhalb {hold} mit der Rechnung unten.",
        "description": "Bestellung {ref}: {qty} × {item}",
        "shipping": "Versand",
        "invoice": "Rechnung für Bestellung {ref}: {qty} × {item}, {amount}",
        invoices.EXPIRED: "Deine Reservierung ist abgelaufen; schreib #buy, solange der Drop "
        "läuft.",
        invoices.UNKNOWN: "Diese Bestellung gibt es nicht.",
        invoices.NOT_YOURS: "Diese Bestellung gehört jemand anderem.",
        invoices.ALREADY_PAID: "Diese Bestellung ist schon bezahlt.",
        invoices.UNDER_WAY: "Eine Zahlung für diese Bestellung läuft schon.",
        invoices.OUTDATED: "Diese Rechnung ist veraltet; /orders zeigt deine Bestellungen.",
        "busy": "Der Shop konnte deine Bestellung nicht rechtzeitig prüfen. Versuch es noch "
        "einmal.",
    },
    "fr": {
        "won": "Tu as {qty} × {item} pour {amount}. Paie avec la facture ci-dessous dans les "
        "{hold}.",
        "promoted": "À toi : {qty} × {item} pour {amount}. Paie avec la facture ci-dessous "
        "dans les {hold}.",
        "auction_won": "Tu as remporté {item} pour {amount}. Paie avec la facture ci-dessous "
        "dans les {hold}.",
        "second_chance": "Seconde chance : {item} est à toi pour {amount}, ta dernière offre. "
        "Paie avec la facture ci-dessous dans les {hold}.",
        "card_fallback": "Ta carte n'a pas pu payer{reason}. Paie {qty} × {item} ({amount}) "
        "avec la facture ci-dessous dans les {hold}.",
        "description": "Commande {ref} : {qty} × {item}",
        "shipping": "Livraison",
        "invoice": "Facture de la commande {ref} : {qty} × {item}, {amount}",
        invoices.EXPIRED: "Ta réservation a expiré ; tape #buy à nouveau tant que le drop est "
        "en cours.",
        invoices.UNKNOWN: "Cette commande n'existe pas.",
        invoices.NOT_YOURS: "Cette commande est à quelqu'un d'autre.",
        invoices.ALREADY_PAID: "Cette commande est déjà payée.",
        invoices.UNDER_WAY: "Un paiement pour cette commande est déjà en cours.",
        invoices.OUTDATED: "Cette facture n'est plus à jour ; /orders liste tes commandes.",
        "busy": "La boutique n'a pas pu vérifier ta commande à temps. Réessaie.",
    },
    "es": {
        "won": "Tienes {qty} × {item} por {amount}. Paga con la factura de abajo en {hold}.",
        "promoted": "Te toca: {qty} × {item} por {amount}. Paga con la factura de abajo en "
        "{hold}.",
        "auction_won": "Has ganado {item} por {amount}. Paga con la factura de abajo en {hold}.",
        "second_chance": "Segunda oportunidad: {item} es tuyo por {amount}, tu última puja. "
        "Paga con la factura de abajo en {hold}.",
        "card_fallback": "Tu tarjeta no pudo pagar{reason}. Paga {qty} × {item} ({amount}) "
        "con la factura de abajo en {hold}.",
        "description": "Pedido {ref}: {qty} × {item}",
        "shipping": "Envío",
        "invoice": "Factura del pedido {ref}: {qty} × {item}, {amount}",
        invoices.EXPIRED: "Tu reserva ha caducado; escribe #buy otra vez mientras el drop siga "
        "en curso.",
        invoices.UNKNOWN: "Este pedido no existe.",
        invoices.NOT_YOURS: "Este pedido es de otra persona.",
        invoices.ALREADY_PAID: "Este pedido ya está pagado.",
        invoices.UNDER_WAY: "Ya hay un pago en curso para este pedido.",
        invoices.OUTDATED: "Esta factura ya no es válida; /orders muestra tus pedidos.",
        "busy": "La tienda no pudo comprobar tu pedido a tiempo. Inténtalo de nuevo.",
    },
}


def _texts(language: str) -> dict[str, str]:
    return TEXTS.get(language, TEXTS["en"])


def pay_messages(
    order: OrderView,
    chat_id: str,
    language: str,
    now: datetime,
    kind: str = "won",
    reason: str = "",
) -> list[Outgoing]:
    """A short text and the order's invoice, for the buyer's private chat. `kind`: won,
    promoted, auction_won, second_chance or card_fallback (a saved card could not pay:
    `reason` is the provider's)."""
    texts = _texts(language)
    left = (order.hold_expires_at or now) - now
    hold = format_duration(timedelta(minutes=max(1, round(left.total_seconds() / 60))))
    values = {
        "qty": order.quantity,
        "item": order.description,
        "amount": order.total,  # items and shipping
        "ref": order.ref,
        "hold": hold,
        "reason": f" ({reason})" if reason else "",
    }
    invoice = Invoice(
        title=_cut(order.name, TITLE_MAX),
        description=_cut(texts["description"].format(**values), DESCRIPTION_MAX),
        payload=order.ref,
        currency=order.amount.currency.lower(),
        prices=_prices(order, texts),
        need_shipping_address=not order.digital,
    )
    return [
        Outgoing(PLATFORM, chat_id, texts[kind].format(**values)),
        Outgoing(PLATFORM, chat_id, texts["invoice"].format(**values), invoice=invoice),
    ]


def _prices(order: OrderView, texts: dict[str, str]) -> tuple[tuple[str, int], ...]:
    """The invoice's LabeledPrices: the items, and the order's shipping when it pays any."""
    items = (_cut(f"{order.quantity} × {order.description}", LABEL_MAX), order.amount.minor)
    if not order.shipping_amount:
        return (items,)
    return items, (_cut(texts.get("shipping", "Shipping"), LABEL_MAX), order.shipping_amount)


def refusal(reason: str, language: str) -> str:
    """The core's reason for refusing a pre-checkout, in the buyer's language."""
    return _texts(language).get(reason, reason)


def ship_to(payment: SuccessfulPayment) -> str | None:
    """Where the buyer wants it, from what they typed on the invoice; Telegram gives it to
    the bot only (need_shipping_address), so it is kept on the order for the seller."""
    info = payment.order_info
    address = info.shipping_address if info else None
    if info is None or address is None:
        return None
    return one_line(
        info.name,
        address.street_line1,
        address.street_line2,
        address.post_code,
        address.city,
        address.state,
        address.country_code,
    )


def busy(language: str) -> str:
    return _texts(language)["busy"]


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
