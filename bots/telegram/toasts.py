"""The short toast a pressed Confirm button shows (answerCallbackQuery); the full answer
follows as a private message."""

from commerce.service_layer import chat
from commerce.service_layer.results import PaymentOutcome

TOASTS: dict[str, dict[str, str]] = {
    "en": {
        "paid": "Paid ✓",
        "processing": "Payment under way",
        "fallback": "Your card could not pay: see my message",
        "refused": "Not charged: see my message",
        "refunded": "Sold out meanwhile: refunded, see my message",
    },
    "de": {
        "paid": "Bezahlt ✓",
        "processing": "Zahlung läuft",
        "fallback": "Deine Karte konnte nicht zahlen: siehe meine Nachricht",
        "refused": "Nicht belastet: siehe meine Nachricht",
        "refunded": "Inzwischen ausverkauft: erstattet, siehe Nachricht",
    },
    "fr": {
        "paid": "Payé ✓",
        "processing": "Paiement en cours",
        "fallback": "Ta carte n'a pas pu payer : vois mon message",
        "refused": "Rien n'a été débité : vois mon message",
        "refunded": "Épuisé entre-temps : remboursé, vois mon message",
    },
    "es": {
        "paid": "Pagado ✓",
        "processing": "Pago en curso",
        "fallback": "Tu tarjeta no pudo pagar: mira mi mensaje",
        "refused": "No se cobró nada: mira mi mensaje",
        "refunded": "Agotado mientras tanto: reembolsado, mira mi mensaje",
    },
}


def toast(outcome: chat.ChatOutcome, language: str) -> str:
    """What the Confirm button's press led to, in a few words."""
    texts = TOASTS.get(language, TOASTS["en"])
    if isinstance(outcome, chat.CardPaid):
        match outcome.result.outcome:
            case PaymentOutcome.PAID | PaymentOutcome.FREE:
                return texts["paid"]
            case PaymentOutcome.PROCESSING:
                return texts["processing"]
            case PaymentOutcome.REFUNDED:
                return texts["refunded"]
        return texts["fallback"]
    return texts["refused"]
