"""Platform-neutral replies: what the bot says, in the chat's language (en, de, fr, es).

A reply has a public part (seen by the whole chat) and a private part (the checkout link and
anything personal), which each adapter delivers its own way: a Telegram private chat, a
Discord ephemeral message, the web chat's private lane, the console's second line.
"""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from commerce.domain.drops import format_duration
from commerce.domain.grammar import ParseError, ParseErrorKind
from commerce.domain.money import Money
from commerce.domain.orders import OrderStatus
from commerce.service_layer import chat
from commerce.service_layer.packages import BuyerNews, OrderCancelled, OrderShipped
from commerce.service_layer.results import (
    AuctionEnded,
    AuctionUpdated,
    AuctionView,
    AuctionWon,
    BidRefusalReason,
    BidResult,
    BidStatus,
    CardSaved,
    CardView,
    CheckoutReady,
    ClaimOutcome,
    ClaimResult,
    DropEnded,
    DropStarted,
    DropView,
    GiveawayDrawn,
    GiveawayStarted,
    GiveawayUpdated,
    GiveawayView,
    HoldExpired,
    LotView,
    Notice,
    OrderPaid,
    OrderRefunded,
    OrderView,
    Outbid,
    PaymentFellBack,
    PaymentOutcome,
    PaymentProblem,
    PaymentResult,
    PaymentStopped,
    PollClosed,
    PollUpdated,
    PollView,
    PromotedFromWaitlist,
    RefusalReason,
    ShowAnnounced,
    ShowUpdated,
    ShowView,
    WaitlistClosed,
)


@dataclass(frozen=True, slots=True)
class Reply:
    public: str | None = None
    private: str | None = None
    # Buttons under the private message, as (label, action): e.g. ("Confirm", "confirm:REF").
    actions: tuple[tuple[str, str], ...] = ()


LOCALES = ("en", "de", "fr", "es")

# One catalogue per language; keys are the same everywhere (a test checks it).
TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "won": "{who}: {qty} × {item} is yours for {amount}. Check your messages to pay.",
        "won_private": "You have {qty} × {item} for {amount}. Pay within {hold}: {url}",
        "won_no_link": "You have {qty} × {item} for {amount}. Your payment link follows shortly.",
        "won_first_paid": "{who}: {qty} × {item} for {amount} goes to whoever pays first. Check "
        "your messages for your link.",
        "won_first_paid_private": "{qty} × {item} for {amount} is not held for you: the first "
        "payments get the units. Pay now: {url}",
        "won_first_paid_no_link": "{qty} × {item} for {amount} is not held for you: the first "
        "payments get the units. Your payment link follows shortly.",
        "waitlisted": "{who}: sold out, you are number {pos} on the waitlist.",
        "already_waitlisted": "{who}: you are already number {pos} on the waitlist.",
        "no_live_drop": "No drop is live here. Sellers start one with /drop",
        "unknown_code": "No drop {asked} here. Live here: {live}",
        "drop_ended": "{who}: this drop has ended.",
        "limit_reached": "{who}: the limit is {limit} per buyer.",
        "not_enough_left": "{who}: only {left} left. Try #buy {left}",
        "variant_required": "{who}: which one? Type e.g. #buy {code} {first} ({choices})",
        "unknown_variant": "{who}: no such variant. Choose from {choices}",
        "variant_sold_out": "{who}: that variant is sold out. Try another: {choices}",
        "passed": "{who} passed; {item} goes back.",
        "cancelled": "Order {ref} cancelled.",
        "shipped": "Shipped: {items} (order {refs}). Tracking: {tracking}{carrier}",
        "cancelled_by_seller": "The seller cancelled order {ref} ({item}){reason}. Nothing was"
        " charged.",
        "promoted": "Your turn: {qty} × {item} for {amount}. Pay within {hold}: {url}",
        "your_turn": "Your turn!",
        "orders_none": "You have no open orders. Buy with #buy while a drop is live.",
        "orders_pay": "Pay: {url}",
        "whoami": "Your id: {identity} (for LIVEBUY_SELLERS or livebuy seller add)",
        "whoami_chat": "This chat: {chat} (for livebuy drop start --channel {chat})",
        "orders": "Your orders:\n{lines}",
        "help": "Buy with #buy (or #buy CODE 2 M). /pass gives back a hold, /cancel an unpaid "
        "order, /orders lists yours.",
        "help_seller": "Sellers: /drop SKU QTY PRICE [for 10m] [limit 1], /end, /stats, "
        "/refund ORDER. Shows: /next, /pause, /skip, /show end, /giveaway SKU, "
        '/poll "question?" a b.',
        "drop_started": "{item}: {qty} at {amount}{until}. Type #buy {code} to get one!",
        "until": " for {duration}",
        "limit_note": " (max {limit} per buyer)",
        "drop_closed": "Drop {code} has ended: {sold} of {qty} sold.",
        "stats_none": "No drops yet.",
        "stats": "{code}: {sold}/{qty} taken, {left} left, {waiting} waiting ({status})",
        "refund_asked": "Refund of order {ref} requested.",
        "not_allowed": "{who}: only sellers can do that.",
        "slow_down": "{who}: slow down, please: your messages are coming too fast.",
        "failed": "{who}: {reason}",
        "not_available": "{who}: auctions are not open yet. Buy with #buy while a drop is live.",
        "queue_none": "You are not on any waitlist.",
        "queue": "Your waitlist places:\n{lines}",
        "queue_line": "{code}: number {pos}",
        "auction_started": "Auction {code}: {item} from {start}, {duration}, {close}. "
        "Bid with #bid {start_plain}",
        "close_soft": "a late bid adds time",
        "close_sudden": "sudden death",
        "bid_leading": "#{seq} {who} leads {code} at {price}. Next bid: {minimum}",
        "bid_extended": " Time extended!",
        "bid_outbid": "#{seq} {who} bid {amount}, but a higher maximum leads {code} at {price}. "
        "Next bid: {minimum}",
        "maxbid_set": "Your maximum of {amount} on {code} is set (nobody sees it); "
        "you lead at {price}.",
        "maxbid_beaten": "Your maximum of {amount} on {code} is beaten already: {price} now. "
        "Next bid: {minimum}",
        "maxbid_raised": "Your maximum on {code} is now {amount}; you still lead at {price}.",
        "bid_too_low": "{who}: the next bid is at least {minimum}. Try #bid {minimum_plain}",
        "bid_ended": "{who}: this auction has ended.",
        "bid_already_leading": "{who}: you are leading already.",
        "no_live_auction": "No auction is live here. Sellers start one with /auction",
        "auction_board": "{code} {item}: {price} by {leader}, {bids} bids, {left}s left",
        "auction_board_open": "{code} {item}: starts at {start}, {left}s left. #bid {start_plain}",
        "outbid": "You were outbid on {code}: {price} now. Bid at least {minimum} "
        "with #bid {minimum_plain}",
        "auction_sold": "{code} sold to {who} for {price}!",
        "auction_no_bids": "{code}: no bids, no sale.",
        "auction_reserve_not_met": "{code}: the reserve was not met, no sale.",
        "auction_unsold": "{code}: not sold.",
        "auction_won": "You won {item} for {amount}. Pay within {hold}: {url}",
        "auction_won_no_link": "You won {item} for {amount}. Your payment link follows shortly.",
        "auction_won_ask": "You won {item}!",
        "second_chance_ask": "Second chance: {item} is yours at your last bid.",
        "second_chance": "Second chance: {item} is yours for {amount}, your last bid. "
        "Pay within {hold}: {url}",
        "paid": "Payment received: order {ref}, {qty} × {item}. Thank you!",
        "sold_to": "{item} sold to {who}.",
        "expired": "Your hold on {item} (order {ref}) has expired.",
        "payment_failed": "Your payment for {item} (order {ref}) did not go through, so the "
        "order is cancelled and nothing was charged. Type #buy to try again while stock lasts.",
        "payment_timed_out": "Your payment for {item} (order {ref}) has not arrived in time, "
        "so the order is cancelled. If the money still comes, it is refunded or the order "
        "honoured.",
        "over_limit_refunded": "Order {ref}: the card or email you paid with has already bought "
        "as many of {item} as one buyer may in this drop, so your payment is refunded in full.",
        "over_limit_review": "Order {ref}: the card or email you paid with has already bought as "
        "many of {item} as one buyer may in this drop. The shop reviews the order; unless it "
        "accepts it, your payment is refunded.",
        "payment_in_review": "Something went wrong with the payment for {item} (order {ref}). "
        "Your item is kept for you and the shop will get back to you.",
        "sold_to_first_payers": "{item} sold out: others paid first. Order {ref} is closed, "
        "nothing was charged.",
        "waitlist_closed": "Drop {code} has ended before your turn came. Maybe next time!",
        "refunded": "Order {ref} was refunded ({amount}).",
        "checkout_ready": "Your payment link for {qty} × {item}: {url}",
        "bad_missing_sku": "Which product? Try /drop TEE 10 25.00",
        "bad_quantity": "'{detail}' is not a quantity. Try #buy 2",
        "bad_price": "'{detail}' is not a price. Try 25.00",
        "bad_duration": "'{detail}' is not a duration. Try for 10m",
        "bad_limit": "'{detail}' is not a limit. Try limit 1",
        "bad_amount": "'{detail}' is not an amount. Try #bid 15",
        "bad_order": "Which order? Try /{command} ORDER (see /orders)",
        "bad_option": "I don't understand '{detail}'. /help shows what I know.",
        "won_start": "{who}: {qty} × {item} is yours for {amount}. Tap the button for your "
        "payment link.",
        "open_private": "Open a private chat with me: tap the button.",
        "private_button": "Open private chat",
        "buy_button": "Buy",
        "bid_button": "Bid {amount}",
        "board_left": "{left} of {qty} left",
        "board_ends_in": "ends in {left} ({time} UTC)",
        "board_ended_at": "ended {time} UTC",
        "board_sold_out": "Sold out. Buy joins the waitlist.",
        "board_buyers": "Last buyers: {names}",
        "privacy_warning": "Privacy mode is on: I cannot read ordinary messages here, so #buy "
        "typed as text is invisible to me. The Buy button and /buy@{bot} still work. To change "
        "it: @BotFather, /setprivacy, Disable, then add me to the group again.",
        "not_your_link": "That link is not for you. /orders lists your orders.",
        "won_confirm": "{who}: {qty} × {item} is held for you. Check your messages to confirm.",
        "confirm_ask": "{qty} × {item} for {amount} with {card}: confirm? Tap Confirm or type "
        "#confirm within {minutes} min.",
        "confirm_button": "Confirm",
        "ships_to": "Ships to: {ship_to}.",
        "card_charged": "Charged {amount} to {card} for {qty} × {item}.",
        "card_processing": "Your payment of {amount} with {card} is under way; a confirmation "
        "follows.",
        "card_fallback": "Your card could not pay{reason}. Pay within {hold} here instead: {url}",
        "card_fallback_no_link": "Your card could not pay{reason}. Your payment link follows "
        "shortly.",
        "promo_won": "{who}: {item} is yours, thanks for spreading the word!",
        "promo_paid": "It's yours: {item}, order {ref}. Your post paid for it.",
        "promo_note": " Free: one per person, for a public #buy.",
        "card_none": "You have no saved card. Save one here to buy with one message: {url}",
        "card_shown": "Your card: {card}. #buy charges it after your confirm; /unlink forgets it. "
        "Replace it here: {url}",
        "card_unlinked": "{card} is forgotten and detached: you will get payment links again.",
        "card_unlinked_none": "You have no saved card.",
        "card_saved": "{card} is saved: next time, buy with one message and a tap. /unlink "
        "forgets it.",
        "private_only": "{who}: send /{command} to me in a private chat.",
        "link_code": "Your code: {code}. Type /link {code} on your other platform (Telegram, "
        "Discord or the web chat) within {minutes} min.",
        "linked": "Linked: {identities} buy as one now, with one card, one order list and one "
        "limit per drop.",
        "help_cards": "/card saves a card for one-message buys, /link joins your accounts on "
        "other platforms. #enter joins a giveaway, #1 or #2 votes in a poll.",
        "giveaway_started": "🎁 Giveaway: {item}, free! Type #enter within {duration}. Fair "
        "draw, commitment {commitment}",
        "giveaway_board": "🎁 {item}: {entries} entered, until {time} UTC. Type #enter! "
        "Commitment {commitment}",
        "giveaway_entered": "You're in: entry {number} for {item}.",
        "giveaway_already": "You're in already (entry {number}).",
        "giveaway_won": "🎉 {item} goes to {winner} (entry {number} of {entries}). Seed {seed}: "
        "anyone can check the draw.",
        "giveaway_no_entries": "🎁 {item}: nobody entered, no winner.",
        "giveaway_no_stock": "🎁 {item}: none left to give, no winner. Seed {seed}",
        "giveaway_won_start": "{who}: you won {item}! Tap the button for your order.",
        "giveaway_you_won": "You won the giveaway: {item} is yours, order {ref}. Nothing to pay.",
        "giveaway_you_won_shipping": "You won the giveaway: {item} is yours, order {ref}. "
        "Only the shipping is to pay, {amount}, within {hold}: {url}",
        "giveaway_you_won_shipping_no_link": "You won the giveaway: {item} is yours, order {ref}."
        " Only the shipping is to pay, {amount}: your payment link follows shortly.",
        "no_live_giveaway": "No giveaway is running here. Sellers start one with /giveaway",
        "enter_button": "Enter",
        "poll_board": "📊 {question}\n{lines}\nVote with #1 to #{last}",
        "poll_line": "#{number} {label}: {votes}",
        "poll_closed": "📊 Poll closed: {question}\n{lines}",
        "poll_voted": "Your vote for {label} counts.",
        "poll_already": "You voted already ({label}).",
        "no_live_poll": "No poll is running here. Sellers start one with /poll",
        "bad_poll": 'Try /poll "Cards or sneakers next?" cards sneakers (2 to 6 options)',
        "bad_giveaway": "Which product? Try /giveaway CARD for 60s",
        "show_announced": "📅 {title} starts {when} here, {lots} lots. See you there!",
        "show_reminder": "⏰ {title} starts in {minutes} min here!",
        "show_live": "🔴 {title} · lot {pos}/{total}: {lot}. Next: {next}. Sold: {sold} "
        "({revenue}).",
        "show_between": "🔴 {title} is live. Next: {next}. Sold: {sold} ({revenue}).",
        "show_paused": "⏸ {title} takes a break. Next: {next}. Sold: {sold} ({revenue}).",
        "show_scheduled": "📅 {title} starts {when}, {lots} lots.",
        "show_ended": "🏁 {title} has ended: {sold} sold ({revenue}). Thank you!",
        "lot_auction": "{item}, auction from {price} for {duration}{sudden}",
        "lot_sudden": ", sudden death",
        "lot_fixed": "{qty} × {item} at {price}",
        "lot_giveaway": "{item}, giveaway",
        "lot_none": "nothing more",
        "card_refunded": "{card} was charged {amount}, but {item} was gone by then: the charge is "
        "refunded.",
        "giveaway_record": " Entries and seed: {url}",
    },
    "de": {
        "won": "{who}: {qty} × {item} gehört dir für {amount}. Schau in deine Nachrichten.",
        "won_private": "Du hast {qty} × {item} für {amount}. Zahle innerhalb {hold}: {url}",
        "won_no_link": "Du hast {qty} × {item} für {amount}. Der Zahlungslink folgt gleich.",
        "won_first_paid": "{who}: {qty} × {item} für {amount} bekommt, wer zuerst zahlt. Dein "
        "Link ist in deinen Nachrichten.",
        "won_first_paid_private": "{qty} × {item} für {amount} ist nicht für dich reserviert: "
        "wer zuerst zahlt, bekommt es. Jetzt zahlen: {url}",
        "won_first_paid_no_link": "{qty} × {item} für {amount} ist nicht für dich reserviert: "
        "wer zuerst zahlt, bekommt es. Der Zahlungslink folgt gleich.",
        "waitlisted": "{who}: ausverkauft, du bist Nummer {pos} auf der Warteliste.",
        "already_waitlisted": "{who}: du bist schon Nummer {pos} auf der Warteliste.",
        "no_live_drop": "Hier läuft gerade kein Drop. Verkäufer starten einen mit /drop",
        "unknown_code": "Kein Drop {asked} hier. Hier läuft: {live}",
        "drop_ended": "{who}: dieser Drop ist vorbei.",
        "limit_reached": "{who}: das Limit ist {limit} pro Käufer.",
        "not_enough_left": "{who}: nur noch {left} übrig. Versuch #buy {left}",
        "variant_required": "{who}: welche? Schreib z. B. #buy {code} {first} ({choices})",
        "unknown_variant": "{who}: diese Variante gibt es nicht. Wähle aus {choices}",
        "variant_sold_out": "{who}: diese Variante ist ausverkauft. Andere: {choices}",
        "passed": "{who} verzichtet; {item} ist wieder frei.",
        "cancelled": "Bestellung {ref} storniert.",
        "shipped": "Verschickt: {items} (Bestellung {refs}). Sendungsnummer: {tracking}{carrier}",
        "cancelled_by_seller": "Der Verkäufer hat die Bestellung {ref} ({item}) storniert"
        "{reason}. Es wurde nichts berechnet.",
        "promoted": "Du bist dran: {qty} × {item} für {amount}. Zahle innerhalb {hold}: {url}",
        "your_turn": "Du bist dran!",
        "orders_none": "Du hast keine offenen Bestellungen. Kaufe mit #buy während eines Drops.",
        "orders_pay": "Bezahlen: {url}",
        "whoami": "Deine Id: {identity} (für LIVEBUY_SELLERS oder livebuy seller add)",
        "whoami_chat": "Dieser Chat: {chat} (für livebuy drop start --channel {chat})",
        "orders": "Deine Bestellungen:\n{lines}",
        "help": "Kaufen mit #buy (oder #buy CODE 2 M). /pass gibt eine Reservierung zurück, "
        "/cancel storniert, /orders zeigt deine Bestellungen.",
        "help_seller": "Verkäufer: /drop SKU MENGE PREIS [for 10m] [limit 1], /end, /stats, "
        "/refund BESTELLUNG. Shows: /next, /pause, /skip, /show end, /giveaway SKU, "
        '/poll "Frage?" a b.',
        "drop_started": "{item}: {qty} Stück zu {amount}{until}. Schreib #buy {code}!",
        "until": " für {duration}",
        "limit_note": " (max. {limit} pro Käufer)",
        "drop_closed": "Drop {code} ist beendet: {sold} von {qty} verkauft.",
        "stats_none": "Noch keine Drops.",
        "stats": "{code}: {sold}/{qty} vergeben, {left} übrig, {waiting} warten ({status})",
        "refund_asked": "Erstattung für Bestellung {ref} angefordert.",
        "not_allowed": "{who}: das dürfen nur Verkäufer.",
        "slow_down": "{who}: bitte langsamer, deine Nachrichten kommen zu schnell.",
        "failed": "{who}: {reason}",
        "not_available": "{who}: Auktionen gibt es noch nicht. Kaufe mit #buy.",
        "queue_none": "Du stehst auf keiner Warteliste.",
        "queue": "Deine Wartelistenplätze:\n{lines}",
        "queue_line": "{code}: Nummer {pos}",
        "auction_started": "Auktion {code}: {item} ab {start}, {duration}, {close}. "
        "Biete mit #bid {start_plain}",
        "close_soft": "späte Gebote verlängern",
        "close_sudden": "Sudden Death",
        "bid_leading": "#{seq} {who} führt bei {code} mit {price}. Nächstes Gebot: {minimum}",
        "bid_extended": " Zeit verlängert!",
        "bid_outbid": "#{seq} {who} bietet {amount}, aber ein höheres Maximum führt {code} "
        "mit {price}. Nächstes Gebot: {minimum}",
        "maxbid_set": "Dein Maximum von {amount} für {code} steht (niemand sieht es); "
        "du führst mit {price}.",
        "maxbid_beaten": "Dein Maximum von {amount} für {code} ist schon überboten: jetzt "
        "{price}. Nächstes Gebot: {minimum}",
        "maxbid_raised": "Dein Maximum für {code} ist jetzt {amount}; du führst weiter mit "
        "{price}.",
        "bid_too_low": "{who}: das nächste Gebot ist mindestens {minimum}. "
        "Versuch #bid {minimum_plain}",
        "bid_ended": "{who}: diese Auktion ist vorbei.",
        "bid_already_leading": "{who}: du führst schon.",
        "no_live_auction": "Hier läuft keine Auktion. Verkäufer starten eine mit /auction",
        "auction_board": "{code} {item}: {price} von {leader}, {bids} Gebote, noch {left}s",
        "auction_board_open": "{code} {item}: ab {start}, noch {left}s. #bid {start_plain}",
        "outbid": "Du wurdest bei {code} überboten: jetzt {price}. Biete mindestens {minimum} "
        "mit #bid {minimum_plain}",
        "auction_sold": "{code} geht an {who} für {price}!",
        "auction_no_bids": "{code}: keine Gebote, kein Verkauf.",
        "auction_reserve_not_met": "{code}: Mindestpreis nicht erreicht, kein Verkauf.",
        "auction_unsold": "{code}: nicht verkauft.",
        "auction_won": "Du hast {item} für {amount} ersteigert. Bezahle innerhalb von {hold}: "
        "{url}",
        "auction_won_no_link": "Du hast {item} für {amount} ersteigert. Dein Zahlungslink "
        "kommt gleich.",
        "auction_won_ask": "Du hast {item} ersteigert!",
        "second_chance_ask": "Zweite Chance: {item} gehört dir zu deinem letzten Gebot.",
        "second_chance": "Zweite Chance: {item} gehört dir für {amount}, dein letztes Gebot. "
        "Bezahle innerhalb von {hold}: {url}",
        "paid": "Zahlung erhalten: Bestellung {ref}, {qty} × {item}. Danke!",
        "sold_to": "{item} verkauft an {who}.",
        "expired": "Deine Reservierung für {item} (Bestellung {ref}) ist abgelaufen.",
        "payment_failed": "Deine Zahlung für {item} (Bestellung {ref}) ist nicht durchgegangen: "
        "die Bestellung ist storniert, nichts wurde abgebucht. Mit #buy versuchst du es erneut, "
        "solange der Vorrat reicht.",
        "payment_timed_out": "Deine Zahlung für {item} (Bestellung {ref}) ist nicht rechtzeitig "
        "angekommen: die Bestellung ist storniert. Kommt das Geld noch, wird es erstattet oder "
        "die Bestellung erfüllt.",
        "over_limit_refunded": "Bestellung {ref}: Mit der Karte oder E-Mail-Adresse, mit der du "
        "bezahlt hast, wurde in diesem Drop schon so viel {item} gekauft, wie eine Person darf. "
        "Deine Zahlung wird vollständig erstattet.",
        "over_limit_review": "Bestellung {ref}: Mit der Karte oder E-Mail-Adresse, mit der du "
        "bezahlt hast, wurde in diesem Drop schon so viel {item} gekauft, wie eine Person darf. "
        "Der Shop prüft die Bestellung; nimmt er sie nicht an, wird deine Zahlung erstattet.",
        "payment_in_review": "Bei der Zahlung für {item} (Bestellung {ref}) ist etwas "
        "schiefgegangen. Dein Artikel bleibt für dich reserviert, der Shop meldet sich bei dir.",
        "sold_to_first_payers": "{item} ist ausverkauft: andere haben zuerst bezahlt. "
        "Bestellung {ref} ist geschlossen, nichts wurde abgebucht.",
        "waitlist_closed": "Drop {code} ist vorbei, bevor du dran warst. Vielleicht nächstes Mal!",
        "refunded": "Bestellung {ref} wurde erstattet ({amount}).",
        "checkout_ready": "Dein Zahlungslink für {qty} × {item}: {url}",
        "bad_missing_sku": "Welches Produkt? Versuch /drop TEE 10 25.00",
        "bad_quantity": "'{detail}' ist keine Menge. Versuch #buy 2",
        "bad_price": "'{detail}' ist kein Preis. Versuch 25.00",
        "bad_duration": "'{detail}' ist keine Dauer. Versuch for 10m",
        "bad_limit": "'{detail}' ist kein Limit. Versuch limit 1",
        "bad_amount": "'{detail}' ist kein Betrag. Versuch #bid 15",
        "bad_order": "Welche Bestellung? Versuch /{command} BESTELLUNG (siehe /orders)",
        "bad_option": "'{detail}' verstehe ich nicht. /help zeigt, was geht.",
        "won_start": "{who}: {qty} × {item} gehört dir für {amount}. Tippe auf den Knopf für "
        "deinen Zahlungslink.",
        "open_private": "Öffne einen privaten Chat mit mir: tippe auf den Knopf.",
        "private_button": "Privaten Chat öffnen",
        "buy_button": "Kaufen",
        "bid_button": "{amount} bieten",
        "board_left": "{left} von {qty} übrig",
        "board_ends_in": "endet in {left} ({time} UTC)",
        "board_ended_at": "beendet {time} UTC",
        "board_sold_out": "Ausverkauft. Kaufen setzt dich auf die Warteliste.",
        "board_buyers": "Zuletzt gekauft: {names}",
        "privacy_warning": "Der Datenschutzmodus ist an: normale Nachrichten sehe ich hier nicht, "
        "#buy als Text kommt nicht an. Der Kaufen-Knopf und /buy@{bot} funktionieren. Ändern: "
        "@BotFather, /setprivacy, Disable, dann mich neu zur Gruppe hinzufügen.",
        "not_your_link": "Dieser Link ist nicht für dich. /orders zeigt deine Bestellungen.",
        "won_confirm": "{who}: {qty} × {item} ist für dich reserviert. Bestätige in deinen "
        "Nachrichten.",
        "confirm_ask": "{qty} × {item} für {amount} mit {card}: bestätigen? Tippe auf Bestätigen "
        "oder schreib #confirm innerhalb von {minutes} Min.",
        "confirm_button": "Bestätigen",
        "ships_to": "Lieferung an: {ship_to}.",
        "card_charged": "{amount} von {card} abgebucht für {qty} × {item}.",
        "card_processing": "Deine Zahlung von {amount} mit {card} läuft; die Bestätigung folgt.",
        "card_fallback": "Deine Karte konnte nicht zahlen{reason}. Zahle stattdessen innerhalb "
        "{hold} hier: {url}",
        "card_fallback_no_link": "Deine Karte konnte nicht zahlen{reason}. Der Zahlungslink folgt "
        "gleich.",
        "promo_won": "{who}: {item} gehört dir, danke fürs Teilen!",
        "promo_paid": "Gehört dir: {item}, Bestellung {ref}. Dein Post hat bezahlt.",
        "promo_note": " Gratis: eins pro Person, für ein öffentliches #buy.",
        "card_none": "Du hast keine gespeicherte Karte. Speichere eine, um mit einer Nachricht zu "
        "kaufen: {url}",
        "card_shown": "Deine Karte: {card}. #buy bucht nach deiner Bestätigung ab; /unlink "
        "vergisst sie. Ersetzen: {url}",
        "card_unlinked": "{card} ist vergessen und entfernt: du bekommst wieder Zahlungslinks.",
        "card_unlinked_none": "Du hast keine gespeicherte Karte.",
        "card_saved": "{card} ist gespeichert: nächstes Mal kaufst du mit einer Nachricht und "
        "einem Tipp. /unlink vergisst sie.",
        "private_only": "{who}: schick mir /{command} im privaten Chat.",
        "link_code": "Dein Code: {code}. Schreib /link {code} auf deiner anderen Plattform "
        "(Telegram, Discord oder Web-Chat) innerhalb von {minutes} Min.",
        "linked": "Verknüpft: {identities} kaufen jetzt als eins, mit einer Karte, einer "
        "Bestellliste und einem Limit pro Drop.",
        "help_cards": "/card speichert eine Karte für Käufe mit einer Nachricht, /link verknüpft "
        "deine Konten. #enter nimmt an einer Verlosung teil, #1 oder #2 stimmt ab.",
        "giveaway_started": "🎁 Verlosung: {item}, gratis! Schreib #enter innerhalb {duration}. "
        "Faire Ziehung, Commitment {commitment}",
        "giveaway_board": "🎁 {item}: {entries} dabei, bis {time} UTC. Schreib #enter! "
        "Commitment {commitment}",
        "giveaway_entered": "Du bist dabei: Los {number} für {item}.",
        "giveaway_already": "Du bist schon dabei (Los {number}).",
        "giveaway_won": "🎉 {item} geht an {winner} (Los {number} von {entries}). Seed {seed}: "
        "jeder kann die Ziehung prüfen.",
        "giveaway_no_entries": "🎁 {item}: niemand hat mitgemacht, kein Gewinner.",
        "giveaway_no_stock": "🎁 {item}: nichts mehr übrig, kein Gewinner. Seed {seed}",
        "giveaway_won_start": "{who}: du hast {item} gewonnen! Tippe auf den Knopf für deine "
        "Bestellung.",
        "giveaway_you_won": "Du hast gewonnen: {item} gehört dir, Bestellung {ref}. Nichts zu "
        "zahlen.",
        "giveaway_you_won_shipping": "Du hast gewonnen: {item} gehört dir, Bestellung {ref}. "
        "Nur der Versand ist zu zahlen, {amount}, innerhalb von {hold}: {url}",
        "giveaway_you_won_shipping_no_link": "Du hast gewonnen: {item} gehört dir, Bestellung "
        "{ref}. Nur der Versand ist zu zahlen, {amount}: dein Zahlungslink folgt gleich.",
        "no_live_giveaway": "Hier läuft keine Verlosung. Verkäufer starten eine mit /giveaway",
        "enter_button": "Mitmachen",
        "poll_board": "📊 {question}\n{lines}\nStimme ab mit #1 bis #{last}",
        "poll_line": "#{number} {label}: {votes}",
        "poll_closed": "📊 Umfrage beendet: {question}\n{lines}",
        "poll_voted": "Deine Stimme für {label} zählt.",
        "poll_already": "Du hast schon abgestimmt ({label}).",
        "no_live_poll": "Hier läuft keine Umfrage. Verkäufer starten eine mit /poll",
        "bad_poll": 'Versuch /poll "Karten oder Sneaker?" karten sneaker (2 bis 6 Optionen)',
        "bad_giveaway": "Welches Produkt? Versuch /giveaway CARD for 60s",
        "show_announced": "📅 {title} beginnt {when} hier, {lots} Lose. Bis dann!",
        "show_reminder": "⏰ {title} beginnt in {minutes} Min. hier!",
        "show_live": "🔴 {title} · Los {pos}/{total}: {lot}. Danach: {next}. Verkauft: {sold} "
        "({revenue}).",
        "show_between": "🔴 {title} läuft. Danach: {next}. Verkauft: {sold} ({revenue}).",
        "show_paused": "⏸ {title} macht Pause. Danach: {next}. Verkauft: {sold} ({revenue}).",
        "show_scheduled": "📅 {title} beginnt {when}, {lots} Lose.",
        "show_ended": "🏁 {title} ist vorbei: {sold} verkauft ({revenue}). Danke!",
        "lot_auction": "{item}, Auktion ab {price} für {duration}{sudden}",
        "lot_sudden": ", Sudden Death",
        "lot_fixed": "{qty} × {item} zu {price}",
        "lot_giveaway": "{item}, Verlosung",
        "lot_none": "nichts mehr",
        "card_refunded": "{card} wurde mit {amount} belastet, aber {item} war da schon weg: die "
        "Zahlung wird erstattet.",
        "giveaway_record": " Teilnehmer und Seed: {url}",
    },
    "fr": {
        "won": "{who} : {qty} × {item} est à toi pour {amount}. Regarde tes messages pour payer.",
        "won_private": "Tu as {qty} × {item} pour {amount}. Paie dans les {hold} : {url}",
        "won_no_link": "Tu as {qty} × {item} pour {amount}. Ton lien de paiement arrive.",
        "won_first_paid": "{who} : {qty} × {item} à {amount} ira à qui paie en premier. Ton "
        "lien est dans tes messages.",
        "won_first_paid_private": "{qty} × {item} à {amount} n'est pas réservé pour toi : les "
        "premiers paiements l'emportent. Payer maintenant : {url}",
        "won_first_paid_no_link": "{qty} × {item} à {amount} n'est pas réservé pour toi : les "
        "premiers paiements l'emportent. Ton lien de paiement arrive.",
        "waitlisted": "{who} : épuisé, tu es numéro {pos} sur la liste d'attente.",
        "already_waitlisted": "{who} : tu es déjà numéro {pos} sur la liste d'attente.",
        "no_live_drop": "Aucun drop en cours ici. Les vendeurs en lancent un avec /drop",
        "unknown_code": "Pas de drop {asked} ici. En cours ici : {live}",
        "drop_ended": "{who} : ce drop est terminé.",
        "limit_reached": "{who} : la limite est de {limit} par acheteur.",
        "not_enough_left": "{who} : il n'en reste que {left}. Essaie #buy {left}",
        "variant_required": "{who} : lequel ? Écris par ex. #buy {code} {first} ({choices})",
        "unknown_variant": "{who} : cette variante n'existe pas. Choisis parmi {choices}",
        "variant_sold_out": "{who} : cette variante est épuisée. Autres : {choices}",
        "passed": "{who} passe ; {item} est de nouveau libre.",
        "cancelled": "Commande {ref} annulée.",
        "shipped": "Expédié : {items} (commande {refs}). Suivi : {tracking}{carrier}",
        "cancelled_by_seller": "Le vendeur a annulé la commande {ref} ({item}){reason}. Rien"
        " n'a été débité.",
        "promoted": "À toi : {qty} × {item} pour {amount}. Paie dans les {hold} : {url}",
        "your_turn": "À toi !",
        "orders_none": "Tu n'as aucune commande en cours. Achète avec #buy pendant un drop.",
        "orders_pay": "Payer : {url}",
        "whoami": "Ton id : {identity} (pour LIVEBUY_SELLERS ou livebuy seller add)",
        "whoami_chat": "Ce chat : {chat} (pour livebuy drop start --channel {chat})",
        "orders": "Tes commandes :\n{lines}",
        "help": "Achète avec #buy (ou #buy CODE 2 M). /pass rend une réservation, /cancel "
        "annule, /orders liste tes commandes.",
        "help_seller": "Vendeurs : /drop SKU QTÉ PRIX [for 10m] [limit 1], /end, /stats, "
        "/refund COMMANDE. Shows : /next, /pause, /skip, /show end, /giveaway SKU, "
        '/poll "question ?" a b.',
        "drop_started": "{item} : {qty} à {amount}{until}. Écris #buy {code} !",
        "until": " pendant {duration}",
        "limit_note": " (max {limit} par acheteur)",
        "drop_closed": "Le drop {code} est terminé : {sold} sur {qty} vendus.",
        "stats_none": "Pas encore de drop.",
        "stats": "{code} : {sold}/{qty} pris, {left} restants, {waiting} en attente ({status})",
        "refund_asked": "Remboursement de la commande {ref} demandé.",
        "not_allowed": "{who} : seuls les vendeurs peuvent faire ça.",
        "slow_down": "{who} : doucement, tes messages arrivent trop vite.",
        "failed": "{who} : {reason}",
        "not_available": "{who} : les enchères ne sont pas encore ouvertes. Achète avec #buy.",
        "queue_none": "Tu n'es sur aucune liste d'attente.",
        "queue": "Tes places en liste d'attente :\n{lines}",
        "queue_line": "{code} : numéro {pos}",
        "auction_started": "Enchère {code} : {item} à partir de {start}, {duration}, {close}. "
        "Enchéris avec #bid {start_plain}",
        "close_soft": "une offre tardive prolonge",
        "close_sudden": "mort subite",
        "bid_leading": "#{seq} {who} mène {code} à {price}. Offre suivante : {minimum}",
        "bid_extended": " Temps prolongé !",
        "bid_outbid": "#{seq} {who} offre {amount}, mais un maximum plus haut mène {code} à "
        "{price}. Offre suivante : {minimum}",
        "maxbid_set": "Ton maximum de {amount} sur {code} est enregistré (personne ne le voit) ; "
        "tu mènes à {price}.",
        "maxbid_beaten": "Ton maximum de {amount} sur {code} est déjà dépassé : {price} "
        "maintenant. Offre suivante : {minimum}",
        "maxbid_raised": "Ton maximum sur {code} est maintenant {amount} ; tu mènes toujours "
        "à {price}.",
        "bid_too_low": "{who} : l'offre suivante est d'au moins {minimum}. "
        "Essaie #bid {minimum_plain}",
        "bid_ended": "{who} : cette enchère est terminée.",
        "bid_already_leading": "{who} : tu mènes déjà.",
        "no_live_auction": "Aucune enchère en cours ici. Les vendeurs en lancent une avec "
        "/auction",
        "auction_board": "{code} {item} : {price} par {leader}, {bids} offres, encore {left}s",
        "auction_board_open": "{code} {item} : à partir de {start}, encore {left}s. "
        "#bid {start_plain}",
        "outbid": "Ton offre sur {code} est dépassée : {price} maintenant. Offre au moins "
        "{minimum} avec #bid {minimum_plain}",
        "auction_sold": "{code} adjugé à {who} pour {price} !",
        "auction_no_bids": "{code} : aucune offre, pas de vente.",
        "auction_reserve_not_met": "{code} : prix de réserve non atteint, pas de vente.",
        "auction_unsold": "{code} : non vendu.",
        "auction_won": "Tu as remporté {item} pour {amount}. Paie dans les {hold} : {url}",
        "auction_won_no_link": "Tu as remporté {item} pour {amount}. Ton lien de paiement arrive.",
        "auction_won_ask": "Tu as remporté {item} !",
        "second_chance_ask": "Seconde chance : {item} est à toi à ta dernière offre.",
        "second_chance": "Seconde chance : {item} est à toi pour {amount}, ta dernière offre. "
        "Paie dans les {hold} : {url}",
        "paid": "Paiement reçu : commande {ref}, {qty} × {item}. Merci !",
        "sold_to": "{item} vendu à {who}.",
        "expired": "Ta réservation de {item} (commande {ref}) a expiré.",
        "payment_failed": "Ton paiement pour {item} (commande {ref}) n'est pas passé : la "
        "commande est annulée et rien n'a été débité. Tape #buy pour réessayer tant qu'il en "
        "reste.",
        "payment_timed_out": "Ton paiement pour {item} (commande {ref}) n'est pas arrivé à "
        "temps : la commande est annulée. Si l'argent arrive quand même, il est remboursé ou la "
        "commande honorée.",
        "over_limit_refunded": "Commande {ref} : la carte ou l'e-mail utilisé pour payer a déjà "
        "acheté autant de {item} qu'un acheteur le peut dans ce drop, ton paiement est donc "
        "remboursé en entier.",
        "over_limit_review": "Commande {ref} : la carte ou l'e-mail utilisé pour payer a déjà "
        "acheté autant de {item} qu'un acheteur le peut dans ce drop. La boutique examine la "
        "commande ; si elle ne l'accepte pas, ton paiement est remboursé.",
        "payment_in_review": "Un problème est survenu avec le paiement de {item} (commande "
        "{ref}). Ton article reste réservé et la boutique va revenir vers toi.",
        "sold_to_first_payers": "{item} est épuisé : d'autres ont payé avant. La commande {ref} "
        "est fermée, rien n'a été débité.",
        "waitlist_closed": "Le drop {code} s'est terminé avant ton tour. La prochaine fois !",
        "refunded": "La commande {ref} a été remboursée ({amount}).",
        "checkout_ready": "Ton lien de paiement pour {qty} × {item} : {url}",
        "bad_missing_sku": "Quel produit ? Essaie /drop TEE 10 25.00",
        "bad_quantity": "« {detail} » n'est pas une quantité. Essaie #buy 2",
        "bad_price": "« {detail} » n'est pas un prix. Essaie 25.00",
        "bad_duration": "« {detail} » n'est pas une durée. Essaie for 10m",
        "bad_limit": "« {detail} » n'est pas une limite. Essaie limit 1",
        "bad_amount": "« {detail} » n'est pas un montant. Essaie #bid 15",
        "bad_order": "Quelle commande ? Essaie /{command} COMMANDE (voir /orders)",
        "bad_option": "Je ne comprends pas « {detail} ». /help montre ce que je sais faire.",
        "won_start": "{who} : {qty} × {item} est à toi pour {amount}. Touche le bouton pour "
        "ton lien de paiement.",
        "open_private": "Ouvre une conversation privée avec moi : touche le bouton.",
        "private_button": "Conversation privée",
        "buy_button": "Acheter",
        "bid_button": "Enchérir {amount}",
        "board_left": "{left} sur {qty} restants",
        "board_ends_in": "fin dans {left} ({time} UTC)",
        "board_ended_at": "terminé à {time} UTC",
        "board_sold_out": "Épuisé. Acheter t'inscrit sur la liste d'attente.",
        "board_buyers": "Derniers acheteurs : {names}",
        "privacy_warning": "Le mode confidentialité est actif : je ne lis pas les messages "
        "ordinaires ici, #buy écrit en texte m'est invisible. Le bouton Acheter et /buy@{bot} "
        "marchent. Pour changer : @BotFather, /setprivacy, Disable, puis ajoute-moi à nouveau.",
        "not_your_link": "Ce lien n'est pas pour toi. /orders liste tes commandes.",
        "won_confirm": "{who} : {qty} × {item} est réservé pour toi. Confirme dans tes messages.",
        "confirm_ask": "{qty} × {item} pour {amount} avec {card} : confirmer ? Touche Confirmer "
        "ou écris #confirm d'ici {minutes} min.",
        "confirm_button": "Confirmer",
        "ships_to": "Livraison à : {ship_to}.",
        "card_charged": "{amount} débités sur {card} pour {qty} × {item}.",
        "card_processing": "Ton paiement de {amount} avec {card} est en cours ; une confirmation "
        "suit.",
        "card_fallback": "Ta carte n'a pas pu payer{reason}. Paie plutôt ici d'ici {hold} : {url}",
        "card_fallback_no_link": "Ta carte n'a pas pu payer{reason}. Ton lien de paiement arrive.",
        "promo_won": "{who} : {item} est à toi, merci de faire passer le mot !",
        "promo_paid": "C'est à toi : {item}, commande {ref}. Ton message l'a payé.",
        "promo_note": " Gratuit : un par personne, pour un #buy public.",
        "card_none": "Tu n'as pas de carte enregistrée. Enregistres-en une pour acheter en un "
        "message : {url}",
        "card_shown": "Ta carte : {card}. #buy la débite après ta confirmation ; /unlink "
        "l'oublie. La remplacer : {url}",
        "card_unlinked": "{card} est oubliée et détachée : tu recevras de nouveau des liens de "
        "paiement.",
        "card_unlinked_none": "Tu n'as pas de carte enregistrée.",
        "card_saved": "{card} est enregistrée : la prochaine fois, achète en un message et un "
        "geste. /unlink l'oublie.",
        "private_only": "{who} : envoie-moi /{command} en conversation privée.",
        "link_code": "Ton code : {code}. Écris /link {code} sur ton autre plateforme (Telegram, "
        "Discord ou le chat web) d'ici {minutes} min.",
        "linked": "Liés : {identities} achètent maintenant comme un seul compte, avec une carte, "
        "une liste de commandes et une limite par drop.",
        "help_cards": "/card enregistre une carte pour acheter en un message, /link relie tes "
        "comptes. #enter participe à un tirage, #1 ou #2 vote dans un sondage.",
        "giveaway_started": "🎁 Concours : {item}, gratuit ! Écris #enter d'ici {duration}. "
        "Tirage vérifiable, engagement {commitment}",
        "giveaway_board": "🎁 {item} : {entries} inscrits, jusqu'à {time} UTC. Écris #enter ! "
        "Engagement {commitment}",
        "giveaway_entered": "Tu participes : ticket {number} pour {item}.",
        "giveaway_already": "Tu participes déjà (ticket {number}).",
        "giveaway_won": "🎉 {item} va à {winner} (ticket {number} sur {entries}). Graine {seed} : "
        "chacun peut vérifier le tirage.",
        "giveaway_no_entries": "🎁 {item} : aucun participant, pas de gagnant.",
        "giveaway_no_stock": "🎁 {item} : plus rien à donner, pas de gagnant. Graine {seed}",
        "giveaway_won_start": "{who} : tu as gagné {item} ! Touche le bouton pour ta commande.",
        "giveaway_you_won": "Tu as gagné le concours : {item} est à toi, commande {ref}. Rien à "
        "payer.",
        "giveaway_you_won_shipping": "Tu as gagné le concours : {item} est à toi, commande "
        "{ref}. Seule la livraison est à payer, {amount}, dans les {hold} : {url}",
        "giveaway_you_won_shipping_no_link": "Tu as gagné le concours : {item} est à toi, "
        "commande {ref}. Seule la livraison est à payer, {amount} : ton lien de paiement arrive.",
        "no_live_giveaway": "Aucun concours en cours ici. Les vendeurs en lancent un avec "
        "/giveaway",
        "enter_button": "Participer",
        "poll_board": "📊 {question}\n{lines}\nVote avec #1 à #{last}",
        "poll_line": "#{number} {label} : {votes}",
        "poll_closed": "📊 Sondage terminé : {question}\n{lines}",
        "poll_voted": "Ton vote pour {label} compte.",
        "poll_already": "Tu as déjà voté ({label}).",
        "no_live_poll": "Aucun sondage en cours ici. Les vendeurs en lancent un avec /poll",
        "bad_poll": 'Essaie /poll "Cartes ou baskets ?" cartes baskets (2 à 6 options)',
        "bad_giveaway": "Quel produit ? Essaie /giveaway CARD for 60s",
        "show_announced": "📅 {title} commence {when} ici, {lots} lots. À tout à l'heure !",
        "show_reminder": "⏰ {title} commence dans {minutes} min ici !",
        "show_live": "🔴 {title} · lot {pos}/{total} : {lot}. Ensuite : {next}. Vendus : {sold} "
        "({revenue}).",
        "show_between": "🔴 {title} est en direct. Ensuite : {next}. Vendus : {sold} ({revenue}).",
        "show_paused": "⏸ {title} fait une pause. Ensuite : {next}. Vendus : {sold} ({revenue}).",
        "show_scheduled": "📅 {title} commence {when}, {lots} lots.",
        "show_ended": "🏁 {title} est terminé : {sold} vendus ({revenue}). Merci !",
        "lot_auction": "{item}, enchère dès {price} pendant {duration}{sudden}",
        "lot_sudden": ", mort subite",
        "lot_fixed": "{qty} × {item} à {price}",
        "lot_giveaway": "{item}, tirage au sort",
        "lot_none": "plus rien",
        "card_refunded": "{card} a été débitée de {amount}, mais {item} n'était plus là : le "
        "paiement est remboursé.",
        "giveaway_record": " Participants et graine : {url}",
    },
    "es": {
        "won": "{who}: {qty} × {item} es tuyo por {amount}. Mira tus mensajes para pagar.",
        "won_private": "Tienes {qty} × {item} por {amount}. Paga en {hold}: {url}",
        "won_no_link": "Tienes {qty} × {item} por {amount}. Tu enlace de pago llega enseguida.",
        "won_first_paid": "{who}: {qty} × {item} por {amount} es para quien pague primero. Tu "
        "enlace está en tus mensajes.",
        "won_first_paid_private": "{qty} × {item} por {amount} no está reservado para ti: los "
        "primeros pagos se lo llevan. Paga ahora: {url}",
        "won_first_paid_no_link": "{qty} × {item} por {amount} no está reservado para ti: los "
        "primeros pagos se lo llevan. Tu enlace de pago llega enseguida.",
        "waitlisted": "{who}: agotado, eres el número {pos} en la lista de espera.",
        "already_waitlisted": "{who}: ya eres el número {pos} en la lista de espera.",
        "no_live_drop": "No hay ningún drop aquí. Los vendedores empiezan uno con /drop",
        "unknown_code": "No hay ningún drop {asked} aquí. En curso aquí: {live}",
        "drop_ended": "{who}: este drop ha terminado.",
        "limit_reached": "{who}: el límite es {limit} por comprador.",
        "not_enough_left": "{who}: solo quedan {left}. Prueba #buy {left}",
        "variant_required": "{who}: ¿cuál? Escribe p. ej. #buy {code} {first} ({choices})",
        "unknown_variant": "{who}: esa variante no existe. Elige entre {choices}",
        "variant_sold_out": "{who}: esa variante está agotada. Otras: {choices}",
        "passed": "{who} pasa; {item} vuelve a estar libre.",
        "cancelled": "Pedido {ref} cancelado.",
        "shipped": "Enviado: {items} (pedido {refs}). Seguimiento: {tracking}{carrier}",
        "cancelled_by_seller": "El vendedor canceló el pedido {ref} ({item}){reason}. No se"
        " cobró nada.",
        "promoted": "Te toca: {qty} × {item} por {amount}. Paga en {hold}: {url}",
        "your_turn": "¡Te toca!",
        "orders_none": "No tienes pedidos abiertos. Compra con #buy durante un drop.",
        "orders_pay": "Pagar: {url}",
        "whoami": "Tu id: {identity} (para LIVEBUY_SELLERS o livebuy seller add)",
        "whoami_chat": "Este chat: {chat} (para livebuy drop start --channel {chat})",
        "orders": "Tus pedidos:\n{lines}",
        "help": "Compra con #buy (o #buy CODE 2 M). /pass devuelve una reserva, /cancel "
        "cancela, /orders muestra tus pedidos.",
        "help_seller": "Vendedores: /drop SKU CANT PRECIO [for 10m] [limit 1], /end, /stats, "
        "/refund PEDIDO. Shows: /next, /pause, /skip, /show end, /giveaway SKU, "
        '/poll "¿pregunta?" a b.',
        "drop_started": "{item}: {qty} a {amount}{until}. ¡Escribe #buy {code}!",
        "until": " durante {duration}",
        "limit_note": " (máx. {limit} por comprador)",
        "drop_closed": "El drop {code} ha terminado: {sold} de {qty} vendidos.",
        "stats_none": "Aún no hay drops.",
        "stats": "{code}: {sold}/{qty} tomados, quedan {left}, {waiting} esperando ({status})",
        "refund_asked": "Reembolso del pedido {ref} solicitado.",
        "not_allowed": "{who}: solo los vendedores pueden hacer eso.",
        "slow_down": "{who}: más despacio, tus mensajes llegan demasiado rápido.",
        "failed": "{who}: {reason}",
        "not_available": "{who}: las subastas aún no están abiertas. Compra con #buy.",
        "queue_none": "No estás en ninguna lista de espera.",
        "queue": "Tus puestos en listas de espera:\n{lines}",
        "queue_line": "{code}: número {pos}",
        "auction_started": "Subasta {code}: {item} desde {start}, {duration}, {close}. "
        "Puja con #bid {start_plain}",
        "close_soft": "una puja tardía alarga",
        "close_sudden": "muerte súbita",
        "bid_leading": "#{seq} {who} lidera {code} con {price}. Próxima puja: {minimum}",
        "bid_extended": " ¡Tiempo ampliado!",
        "bid_outbid": "#{seq} {who} puja {amount}, pero un máximo mayor lidera {code} con "
        "{price}. Próxima puja: {minimum}",
        "maxbid_set": "Tu máximo de {amount} en {code} está fijado (nadie lo ve); "
        "lideras con {price}.",
        "maxbid_beaten": "Tu máximo de {amount} en {code} ya está superado: ahora {price}. "
        "Próxima puja: {minimum}",
        "maxbid_raised": "Tu máximo en {code} es ahora {amount}; sigues liderando con {price}.",
        "bid_too_low": "{who}: la próxima puja es de al menos {minimum}. "
        "Prueba #bid {minimum_plain}",
        "bid_ended": "{who}: esta subasta ha terminado.",
        "bid_already_leading": "{who}: ya vas en cabeza.",
        "no_live_auction": "No hay subasta aquí. Los vendedores inician una con /auction",
        "auction_board": "{code} {item}: {price} de {leader}, {bids} pujas, quedan {left}s",
        "auction_board_open": "{code} {item}: desde {start}, quedan {left}s. #bid {start_plain}",
        "outbid": "Te han superado en {code}: ahora {price}. Puja al menos {minimum} "
        "con #bid {minimum_plain}",
        "auction_sold": "¡{code} vendido a {who} por {price}!",
        "auction_no_bids": "{code}: sin pujas, sin venta.",
        "auction_reserve_not_met": "{code}: no se alcanzó el precio de reserva, sin venta.",
        "auction_unsold": "{code}: no vendido.",
        "auction_won": "Has ganado {item} por {amount}. Paga en {hold}: {url}",
        "auction_won_no_link": "Has ganado {item} por {amount}. Tu enlace de pago llega "
        "enseguida.",
        "auction_won_ask": "¡Has ganado {item}!",
        "second_chance_ask": "Segunda oportunidad: {item} es tuyo por tu última puja.",
        "second_chance": "Segunda oportunidad: {item} es tuyo por {amount}, tu última puja. "
        "Paga en {hold}: {url}",
        "paid": "Pago recibido: pedido {ref}, {qty} × {item}. ¡Gracias!",
        "sold_to": "{item} vendido a {who}.",
        "expired": "Tu reserva de {item} (pedido {ref}) ha caducado.",
        "payment_failed": "Tu pago de {item} (pedido {ref}) no se completó: el pedido queda "
        "cancelado y no se cobró nada. Escribe #buy para intentarlo de nuevo mientras quede.",
        "payment_timed_out": "Tu pago de {item} (pedido {ref}) no llegó a tiempo: el pedido "
        "queda cancelado. Si el dinero llega, se reembolsa o se atiende el pedido.",
        "over_limit_refunded": "Pedido {ref}: con la tarjeta o el correo con que pagaste ya se "
        "compró tanto {item} como un comprador puede en este drop, así que tu pago se reembolsa "
        "por completo.",
        "over_limit_review": "Pedido {ref}: con la tarjeta o el correo con que pagaste ya se "
        "compró tanto {item} como un comprador puede en este drop. La tienda revisa el pedido; "
        "si no lo acepta, tu pago se reembolsa.",
        "payment_in_review": "Algo falló con el pago de {item} (pedido {ref}). Guardamos tu "
        "artículo y la tienda se pondrá en contacto contigo.",
        "sold_to_first_payers": "{item} agotado: otros pagaron antes. El pedido {ref} está "
        "cerrado, no se cobró nada.",
        "waitlist_closed": "El drop {code} terminó antes de tu turno. ¡La próxima vez!",
        "refunded": "El pedido {ref} fue reembolsado ({amount}).",
        "checkout_ready": "Tu enlace de pago para {qty} × {item}: {url}",
        "bad_missing_sku": "¿Qué producto? Prueba /drop TEE 10 25.00",
        "bad_quantity": "'{detail}' no es una cantidad. Prueba #buy 2",
        "bad_price": "'{detail}' no es un precio. Prueba 25.00",
        "bad_duration": "'{detail}' no es una duración. Prueba for 10m",
        "bad_limit": "'{detail}' no es un límite. Prueba limit 1",
        "bad_amount": "'{detail}' no es un importe. Prueba #bid 15",
        "bad_order": "¿Qué pedido? Prueba /{command} PEDIDO (ver /orders)",
        "bad_option": "No entiendo '{detail}'. /help muestra lo que sé hacer.",
        "won_start": "{who}: {qty} × {item} es tuyo por {amount}. Toca el botón para tu "
        "enlace de pago.",
        "open_private": "Abre un chat privado conmigo: toca el botón.",
        "private_button": "Abrir chat privado",
        "buy_button": "Comprar",
        "bid_button": "Pujar {amount}",
        "board_left": "quedan {left} de {qty}",
        "board_ends_in": "termina en {left} ({time} UTC)",
        "board_ended_at": "terminó a las {time} UTC",
        "board_sold_out": "Agotado. Comprar te apunta a la lista de espera.",
        "board_buyers": "Últimos compradores: {names}",
        "privacy_warning": "El modo privacidad está activo: no leo los mensajes normales aquí, "
        "#buy escrito como texto no me llega. El botón Comprar y /buy@{bot} funcionan. Para "
        "cambiarlo: @BotFather, /setprivacy, Disable, y vuelve a añadirme al grupo.",
        "not_your_link": "Ese enlace no es para ti. /orders muestra tus pedidos.",
        "won_confirm": "{who}: {qty} × {item} está reservado para ti. Confirma en tus mensajes.",
        "confirm_ask": "{qty} × {item} por {amount} con {card}: ¿confirmar? Toca Confirmar o "
        "escribe #confirm en {minutes} min.",
        "confirm_button": "Confirmar",
        "ships_to": "Envío a: {ship_to}.",
        "card_charged": "Cobrado {amount} a {card} por {qty} × {item}.",
        "card_processing": "Tu pago de {amount} con {card} está en curso; sigue una confirmación.",
        "card_fallback": "Tu tarjeta no pudo pagar{reason}. Paga aquí en {hold}: {url}",
        "card_fallback_no_link": "Tu tarjeta no pudo pagar{reason}. Tu enlace de pago llega "
        "enseguida.",
        "promo_won": "{who}: {item} es tuyo, ¡gracias por compartir!",
        "promo_paid": "Es tuyo: {item}, pedido {ref}. Tu mensaje lo pagó.",
        "promo_note": " Gratis: uno por persona, por un #buy público.",
        "card_none": "No tienes tarjeta guardada. Guarda una para comprar con un mensaje: {url}",
        "card_shown": "Tu tarjeta: {card}. #buy la cobra tras tu confirmación; /unlink la olvida. "
        "Cambiarla: {url}",
        "card_unlinked": "{card} está olvidada y desvinculada: volverás a recibir enlaces de "
        "pago.",
        "card_unlinked_none": "No tienes tarjeta guardada.",
        "card_saved": "{card} está guardada: la próxima vez, compra con un mensaje y un toque. "
        "/unlink la olvida.",
        "private_only": "{who}: envíame /{command} en un chat privado.",
        "link_code": "Tu código: {code}. Escribe /link {code} en tu otra plataforma (Telegram, "
        "Discord o el chat web) en {minutes} min.",
        "linked": "Vinculados: {identities} compran ahora como uno, con una tarjeta, una lista de "
        "pedidos y un límite por drop.",
        "help_cards": "/card guarda una tarjeta para comprar con un mensaje, /link vincula tus "
        "cuentas. #enter participa en un sorteo, #1 o #2 vota en una encuesta.",
        "giveaway_started": "🎁 Sorteo: {item}, ¡gratis! Escribe #enter en {duration}. Sorteo "
        "verificable, compromiso {commitment}",
        "giveaway_board": "🎁 {item}: {entries} participan, hasta las {time} UTC. ¡Escribe "
        "#enter! Compromiso {commitment}",
        "giveaway_entered": "Estás dentro: participación {number} para {item}.",
        "giveaway_already": "Ya estás dentro (participación {number}).",
        "giveaway_won": "🎉 {item} es para {winner} (participación {number} de {entries}). "
        "Semilla {seed}: cualquiera puede comprobar el sorteo.",
        "giveaway_no_entries": "🎁 {item}: nadie participó, no hay ganador.",
        "giveaway_no_stock": "🎁 {item}: no queda nada, no hay ganador. Semilla {seed}",
        "giveaway_won_start": "{who}: ¡has ganado {item}! Toca el botón para tu pedido.",
        "giveaway_you_won": "Ganaste el sorteo: {item} es tuyo, pedido {ref}. Nada que pagar.",
        "giveaway_you_won_shipping": "Ganaste el sorteo: {item} es tuyo, pedido {ref}. Solo "
        "pagas el envío, {amount}, en {hold}: {url}",
        "giveaway_you_won_shipping_no_link": "Ganaste el sorteo: {item} es tuyo, pedido {ref}. "
        "Solo pagas el envío, {amount}: tu enlace de pago llega enseguida.",
        "no_live_giveaway": "No hay ningún sorteo aquí. Los vendedores inician uno con /giveaway",
        "enter_button": "Participar",
        "poll_board": "📊 {question}\n{lines}\nVota con #1 a #{last}",
        "poll_line": "#{number} {label}: {votes}",
        "poll_closed": "📊 Encuesta cerrada: {question}\n{lines}",
        "poll_voted": "Tu voto por {label} cuenta.",
        "poll_already": "Ya votaste ({label}).",
        "no_live_poll": "No hay ninguna encuesta aquí. Los vendedores inician una con /poll",
        "bad_poll": 'Prueba /poll "¿Cartas o zapatillas?" cartas zapatillas (de 2 a 6 opciones)',
        "bad_giveaway": "¿Qué producto? Prueba /giveaway CARD for 60s",
        "show_announced": "📅 {title} empieza {when} aquí, {lots} lotes. ¡Nos vemos!",
        "show_reminder": "⏰ ¡{title} empieza en {minutes} min aquí!",
        "show_live": "🔴 {title} · lote {pos}/{total}: {lot}. Después: {next}. Vendidos: {sold} "
        "({revenue}).",
        "show_between": "🔴 {title} está en directo. Después: {next}. Vendidos: {sold} "
        "({revenue}).",
        "show_paused": "⏸ {title} hace una pausa. Después: {next}. Vendidos: {sold} ({revenue}).",
        "show_scheduled": "📅 {title} empieza {when}, {lots} lotes.",
        "show_ended": "🏁 {title} ha terminado: {sold} vendidos ({revenue}). ¡Gracias!",
        "lot_auction": "{item}, subasta desde {price} durante {duration}{sudden}",
        "lot_sudden": ", muerte súbita",
        "lot_fixed": "{qty} × {item} a {price}",
        "lot_giveaway": "{item}, sorteo",
        "lot_none": "nada más",
        "card_refunded": "Se cobró {amount} a {card}, pero {item} ya no estaba: el cobro se "
        "reembolsa.",
        "giveaway_record": " Participantes y semilla: {url}",
    },
}

# What a buyer is told when their payment will not complete by itself.
PAYMENT_PROBLEMS = {
    PaymentProblem.FAILED: "payment_failed",
    PaymentProblem.TIMED_OUT: "payment_timed_out",
    PaymentProblem.REVIEW: "payment_in_review",
    PaymentProblem.OVER_LIMIT: "over_limit_refunded",
    PaymentProblem.OVER_LIMIT_REVIEW: "over_limit_review",
}

_PARSE_KEYS = {
    ParseErrorKind.MISSING_SKU: "bad_missing_sku",
    ParseErrorKind.MISSING_QUANTITY: "bad_quantity",
    ParseErrorKind.BAD_QUANTITY: "bad_quantity",
    ParseErrorKind.MISSING_PRICE: "bad_price",
    ParseErrorKind.BAD_PRICE: "bad_price",
    ParseErrorKind.BAD_DURATION: "bad_duration",
    ParseErrorKind.BAD_LIMIT: "bad_limit",
    ParseErrorKind.MISSING_AMOUNT: "bad_amount",
    ParseErrorKind.BAD_AMOUNT: "bad_amount",
    ParseErrorKind.MISSING_ORDER: "bad_order",
    ParseErrorKind.UNKNOWN_OPTION: "bad_option",
    ParseErrorKind.BAD_POLL: "bad_poll",
}


class Renderer:
    """Renders outcomes and notices in one language; `who` is how the chat names a user."""

    def __init__(self, locale: str = "en") -> None:
        self.texts = TEXTS.get(locale, TEXTS["en"])

    def t(self, key: str, **values: object) -> str:
        return self.texts[key].format(**values)

    def outcome(self, outcome: chat.ChatOutcome, who: str) -> Reply:
        match outcome:
            case chat.Ignored():
                return Reply()
            case chat.Throttled(tell=tell):
                return Reply(public=self.t("slow_down", who=who)) if tell else Reply()
            case chat.Misunderstood(error=error):
                return Reply(public=self._parse_error(error))
            case chat.Claimed(result=result):
                return self.claim(result, who)
            case chat.Released(release=release, passed=passed):
                order = release.order
                if passed:
                    return Reply(public=self.t("passed", who=who, item=order.description))
                return Reply(private=self.t("cancelled", ref=order.ref))
            case chat.IdsShown(identity=identity, chat=chat_id):
                ids = self.t("whoami", identity=identity)
                if chat_id is not None:
                    ids += "\n" + self.t("whoami_chat", chat=chat_id)
                return Reply(private=ids)
            case chat.OrderList(orders=orders, pay=pay):
                if not orders:
                    return Reply(private=self.t("orders_none"))
                links = dict(pay)
                lines = "\n".join(
                    self._order_line(o)
                    + (f"\n  {self.t('orders_pay', url=links[o.ref])}" if o.ref in links else "")
                    for o in orders
                )
                return Reply(private=self.t("orders", lines=lines))
            case chat.QueueShown(places=places):
                if not places:
                    return Reply(private=self.t("queue_none"))
                lines = "\n".join(self.t("queue_line", code=c, pos=p) for c, p in places)
                return Reply(private=self.t("queue", lines=lines))
            case chat.HelpAsked(seller=seller):
                text = self.t("help") + " " + self.t("help_cards")
                text += " " + self.t("help_seller") if seller else ""
                return Reply(private=text)
            case chat.DropOpened(drop=drop):
                return Reply(public=self.drop_started(drop))
            case chat.DropClosed(drop=drop):
                return Reply(
                    public=self.t(
                        "drop_closed", code=drop.code, sold=_sold(drop), qty=drop.quantity
                    )
                )
            case chat.StatsShown(drops=drops):
                if not drops:
                    return Reply(private=self.t("stats_none"))
                return Reply(private="\n".join(self._stats_line(d) for d in drops))
            case chat.RefundAsked(order_ref=ref):
                return Reply(private=self.t("refund_asked", ref=ref))
            case chat.Failed(reason=reason, not_allowed=not_allowed):
                if not_allowed:
                    return Reply(public=self.t("not_allowed", who=who))
                return Reply(public=self.t("failed", who=who, reason=reason))
            case chat.AuctionOpened(auction=auction):
                return Reply(public=self.auction_started(auction))
            case chat.AuctionClosed(auction=auction):
                return Reply(public=self.auction_result(auction))
            case chat.BidPlaced(result=result):
                return self.bid(result, who)
            case chat.NotAvailable():
                return Reply(public=self.t("not_available", who=who))
            case chat.CardPaid(result=result):
                return Reply(private=self.payment(result))
            case chat.CardShown(card=card, setup_url=url):
                if card is None:
                    return Reply(private=self.t("card_none", url=url))
                return Reply(
                    private=self._ships_to(self.t("card_shown", card=card, url=url), card)
                )
            case chat.CardUnlinked(card=card):
                if card is None:
                    return Reply(private=self.t("card_unlinked_none"))
                return Reply(private=self.t("card_unlinked", card=card))
            case chat.LinkCodeIssued(code=code, minutes=minutes):
                return Reply(private=self.t("link_code", code=code, minutes=minutes))
            case chat.IdentitiesLinked(identities=identities):
                return Reply(private=self.t("linked", identities=", ".join(identities)))
            case chat.PrivateOnly(command=command):
                return Reply(public=self.t("private_only", who=who, command=command))
            case chat.GiveawayOpened(giveaway=giveaway):
                return self.giveaway_started(giveaway)
            case chat.Entered(giveaway=giveaway, number=number, already=already):
                key = "giveaway_already" if already else "giveaway_entered"
                return Reply(private=self.t(key, number=number, item=giveaway.name))
            case chat.PollOpened(poll=poll):
                return self.poll_board(poll)
            case chat.Voted(poll=poll, option=option, already=already):
                label = next((o.label for o in poll.options if o.number == option), option)
                key = "poll_already" if already else "poll_voted"
                return Reply(private=self.t(key, label=label))
            case chat.PollEnded(poll=poll):
                return Reply(public=self.poll_closed(poll))
            case chat.NothingLive(kind=kind):
                return Reply(public=self.t(f"no_live_{kind}"))
            case chat.ShowChanged(show=show):
                return Reply(public=self.show_board(show))
        return Reply()  # pragma: no cover - every outcome is matched above

    def show_board(self, show: ShowView) -> str:
        """The show's board: what is live, what comes next, the totals."""
        values = self._show_values(show)
        current = show.current
        if show.status == "ended":
            return self.t("show_ended", **values)
        if show.status == "scheduled":
            return self.t("show_scheduled", **values)
        if show.status == "paused":
            return self.t("show_paused", **values)
        if current is None:
            return self.t("show_between", **values)
        return self.t("show_live", pos=current.position, lot=self.lot(current), **values)

    def lot(self, lot: LotView) -> str:
        price = lot.price or ""
        if lot.mode == "fixed":
            return self.t("lot_fixed", qty=lot.quantity, item=lot.name, price=price)
        if lot.mode == "giveaway":
            return self.t("lot_giveaway", item=lot.name)
        duration = format_duration(timedelta(seconds=lot.duration_seconds or 50))
        sudden = self.t("lot_sudden") if lot.close == "sudden" else ""
        return self.t("lot_auction", item=lot.name, price=price, duration=duration, sudden=sudden)

    def _show_values(self, show: ShowView) -> dict[str, object]:
        upcoming = show.next
        return {
            "title": show.title,
            "when": show.starts_at.strftime("%Y-%m-%d %H:%M UTC"),
            "lots": len(show.lots),
            "total": len(show.lots),
            "next": self.lot(upcoming) if upcoming else self.t("lot_none"),
            "sold": show.sold,
            "revenue": show.revenue or "0",
        }

    def payment(self, result: PaymentResult) -> str:
        """A saved card charged (or not) for an order, told privately to the buyer."""
        values = {**self._order_values(result.order), "card": result.card or ""}
        match result.outcome:
            case PaymentOutcome.PAID:
                return self.t("card_charged", **values)
            case PaymentOutcome.PROCESSING:
                return self.t("card_processing", **values)
            case PaymentOutcome.FREE:
                return self.t("promo_paid", **values)
            case PaymentOutcome.REFUNDED:
                return self.t("card_refunded", **values)
        reason = f" ({result.reason})" if result.reason else ""
        return self._pay_text("card_fallback", "card_fallback_no_link", result.order, reason)

    def confirm(self, result: ClaimResult, lead: str = "") -> Reply:
        """The private question of a one-message buy, with its Confirm button; `lead` says
        first why it is asked (a unit freed up, an auction won)."""
        order, card = result.order, result.confirm
        assert order is not None and card is not None
        minutes = 1
        if order.hold_expires_at is not None:
            left = (order.hold_expires_at - order.created_at).total_seconds()
            minutes = max(1, round(left / 60))
        text = self.t("confirm_ask", card=card, minutes=minutes, **self._order_values(order))
        text = self._ships_to(f"{lead} {text}" if lead else text, card)
        return Reply(private=text, actions=((self.t("confirm_button"), f"confirm:{order.ref}"),))

    def _ships_to(self, text: str, card: CardView) -> str:
        """The address a one-message buy ships to, under its question (and `/card`)."""
        return f"{text}\n{self.t('ships_to', ship_to=card.ship_to)}" if card.ship_to else text

    def auction_started(self, auction: AuctionView) -> str:
        return self.t(
            "auction_started",
            duration=format_duration(auction.ends_at - auction.starts_at),
            close=self.t("close_sudden" if auction.close == "sudden" else "close_soft"),
            **self._auction_values(auction),
        )

    def bid(self, result: BidResult, who: str) -> Reply:
        """A bid's answer: public for visible bids, private for a proxy's maximum."""
        auction = result.auction
        if result.status is BidStatus.REFUSED or auction is None:
            reason = result.reason or BidRefusalReason.NO_LIVE_AUCTION
            if reason is BidRefusalReason.NO_LIVE_AUCTION or auction is None:
                return Reply(public=self.t("no_live_auction"))
            values = self._auction_values(auction)
            return Reply(public=self.t(f"bid_{reason.value}", who=who, **values))
        values = {**self._auction_values(auction), "seq": result.seq, "who": who}
        values["amount"] = result.amount or values["price"]
        extended = self.t("bid_extended") if result.extended else ""
        key = "bid_leading" if result.status is BidStatus.LEADING else "bid_outbid"
        public = self.t(key, **values) + extended
        if not result.proxy:
            return Reply(public=public)
        private_key = {
            BidStatus.LEADING: "maxbid_set",
            BidStatus.OUTBID: "maxbid_beaten",
            BidStatus.RAISED: "maxbid_raised",
        }[result.status]
        private = self.t(private_key, **values)
        if result.status is BidStatus.RAISED:
            return Reply(private=private)
        if result.status is BidStatus.LEADING:
            # The chat sees the bid the proxy placed, never the maximum behind it (a maximum
            # beaten at once was bid in full, and is shown as such).
            public = self.t(key, **{**values, "amount": values["price"]}) + extended
        return Reply(public=public, private=private)

    def auction_board(self, auction: AuctionView, seconds_left: int) -> str:
        values = self._auction_values(auction)
        if auction.price is None:
            return self.t("auction_board_open", left=seconds_left, **values)
        return self.t("auction_board", left=seconds_left, **values)

    def auction_result(self, auction: AuctionView, who: str = "") -> str:
        values = self._auction_values(auction)
        if auction.outcome == "sold":
            return self.t("auction_sold", who=who or values["leader"], **values)
        if auction.outcome in ("no_bids", "reserve_not_met"):
            return self.t(f"auction_{auction.outcome}", **values)
        return self.t("auction_unsold", **values)

    def _auction_values(self, auction: AuctionView) -> dict[str, object]:
        leader = f"@{auction.leader_name}" if auction.leader_name else auction.leader or ""
        return {
            "code": auction.code,
            "item": auction.name,
            "start": auction.start,
            "start_plain": auction.start.decimal(),
            "price": auction.price or auction.start,
            "minimum": auction.minimum,
            "minimum_plain": auction.minimum.decimal(),
            "leader": leader,
            "bids": auction.bids,
        }

    def claim(self, result: ClaimResult, who: str) -> Reply:
        drop = result.drop
        if result.outcome is ClaimOutcome.WON and result.order is not None:
            order = result.order
            values = self._order_values(order)
            if result.confirm is not None:
                public = self.t("won_confirm", who=who, **values)
                return replace(self.confirm(result), public=public)
            if result.payment is not None:
                if result.payment.outcome is PaymentOutcome.FREE:
                    return Reply(public=self.t("promo_won", who=who, **values))
                # Paid: "sold to" follows in the chat (OrderPaid), the buyer learns it here.
                return Reply(private=self.payment(result.payment))
            if not order.holds_stock:  # first-paid: nothing is held, the payments decide
                private = self._pay_text("won_first_paid_private", "won_first_paid_no_link", order)
                return Reply(public=self.t("won_first_paid", who=who, **values), private=private)
            private = self._pay_text("won_private", "won_no_link", order)
            return Reply(public=self.t("won", who=who, **values), private=private)
        if result.outcome is ClaimOutcome.WAITLISTED:
            return Reply(public=self.t("waitlisted", who=who, pos=result.position))
        reason = result.reason or RefusalReason.NO_LIVE_DROP
        choices = ", ".join(result.variants)
        values = {
            "who": who,
            "pos": result.position,
            "limit": drop.per_buyer_limit if drop else "",
            "left": result.remaining,
            "code": drop.code if drop else "",
            "first": result.variants[0] if result.variants else "",
            "choices": choices,
            "asked": result.code or "",
            "live": ", ".join(result.live),
        }
        return Reply(public=self.t(reason.value, **values))

    def drop_ends(self, drop: DropView, now: datetime) -> str:
        """How long a live drop with an end time has left ("ends in 4 min (20:05 UTC)"), or
        when it ended; "" for a drop without an end time. Chat boards are only redrawn when
        they change (and the outbox paces their edits), so the wall-clock time goes with the
        countdown: it stays true between two edits."""
        if drop.ends_at is None:
            return ""
        if drop.ended is not None:
            return self.t("board_ended_at", time=drop.ended.strftime("%H:%M"))
        left = countdown((drop.ends_at - now).total_seconds())
        return self.t("board_ends_in", left=left, time=drop.ends_at.strftime("%H:%M"))

    def drop_started(self, drop: DropView) -> str:
        until = ""
        if drop.ends_at is not None:
            until = self.t("until", duration=format_duration(drop.ends_at - drop.starts_at))
        text = self.t(
            "drop_started",
            item=drop.name,
            qty=drop.quantity,
            amount=drop.price,
            until=until,
            code=drop.code,
        )
        if drop.promo:
            return text + self.t("promo_note")
        if drop.per_buyer_limit:
            text += self.t("limit_note", limit=drop.per_buyer_limit)
        return text

    def notice(self, notice: Notice, who: str) -> Reply:
        """What a buyer (privately) and the chat (publicly) learn outside a direct reply."""
        match notice:
            case OrderPaid(order=order, tell_buyer=tell_buyer):
                key = "paid" if order.amount.minor else "promo_paid"
                return Reply(
                    public=self.t("sold_to", item=order.description, who=who),
                    private=self.t(key, **self._order_values(order)) if tell_buyer else None,
                )
            case ShowAnnounced(show=show, minutes=int() as minutes) if minutes:
                return Reply(public=self.t("show_reminder", title=show.title, minutes=minutes))
            case ShowAnnounced(show=show):
                return Reply(public=self.t("show_announced", **self._show_values(show)))
            case ShowUpdated(show=show):
                return Reply(public=self.show_board(show))
            case CardSaved(card=card):
                return Reply(private=self.t("card_saved", card=card))
            case PaymentFellBack(result=result):
                return Reply(private=self.payment(result))
            case HoldExpired(order=order, sold_out=sold_out):
                key = "sold_to_first_payers" if sold_out else "expired"
                return Reply(private=self.t(key, **self._order_values(order)))
            case PaymentStopped(order=order, problem=problem):
                key = PAYMENT_PROBLEMS[problem]
                return Reply(private=self.t(key, item=order.description, ref=order.ref))
            case PromotedFromWaitlist(claim=claim) if claim.confirm is not None:
                return self.confirm(claim, self.t("your_turn"))  # one tap, as for a `#buy`
            case PromotedFromWaitlist(claim=ClaimResult(payment=PaymentResult() as paid)):
                return Reply(private=f"{self.t('your_turn')} {self.payment(paid)}")
            case PromotedFromWaitlist(claim=claim) if claim.order is not None:
                text = self._pay_text("promoted", "won_no_link", claim.order)
                return Reply(private=text)
            case WaitlistClosed(drop=drop):
                return Reply(private=self.t("waitlist_closed", code=drop.code))
            case DropEnded(drop=drop):
                return Reply(
                    public=self.t(
                        "drop_closed", code=drop.code, sold=_sold(drop), qty=drop.quantity
                    )
                )
            case DropStarted(drop=drop):
                return Reply(public=self.drop_started(drop))
            case OrderRefunded(order=order):
                refunded = order.refunded or order.amount
                return Reply(private=self.t("refunded", ref=order.ref, amount=refunded))
            case CheckoutReady(order=order):
                return Reply(private=self.t("checkout_ready", **self._order_values(order)))
            case AuctionUpdated(auction=auction, seconds_left=left):
                return Reply(public=self.auction_board(auction, left))
            case Outbid(auction=auction):
                return Reply(private=self.t("outbid", **self._auction_values(auction)))
            case AuctionEnded(auction=auction):
                return Reply(public=self.auction_result(auction))
            case AuctionWon(order=order, second_chance=second, confirm=CardView() as card):
                won = ClaimResult(ClaimOutcome.WON, order=order, confirm=card)
                key = "second_chance_ask" if second else "auction_won_ask"
                return self.confirm(won, self.t(key, item=order.description))
            case AuctionWon(order=order, second_chance=second):
                key = "second_chance" if second else "auction_won"
                return Reply(private=self._pay_text(key, "auction_won_no_link", order))
            case GiveawayStarted(giveaway=giveaway):
                return self.giveaway_started(giveaway)
            case GiveawayUpdated(giveaway=giveaway):
                return self.giveaway_board(giveaway)
            case GiveawayDrawn(giveaway=giveaway, order=order):
                private = None
                if order is not None and order.amount.minor > 0:
                    private = self._pay_text(
                        "giveaway_you_won_shipping", "giveaway_you_won_shipping_no_link", order
                    )
                elif order is not None:
                    private = self.t("giveaway_you_won", item=order.description, ref=order.ref)
                return Reply(public=self.giveaway_result(giveaway), private=private)
            case PollUpdated(poll=poll):
                return self.poll_board(poll)
            case PollClosed(poll=poll):
                return Reply(public=self.poll_closed(poll))
        return Reply()

    def giveaway_started(self, giveaway: GiveawayView) -> Reply:
        """The announcement (and first board) of a giveaway, with its Enter button."""
        text = self.t(
            "giveaway_started",
            item=giveaway.name,
            duration=format_duration(giveaway.ends_at - giveaway.starts_at),
            commitment=giveaway.commitment,
        )
        return Reply(public=text, actions=self._enter_action(giveaway))

    def giveaway_board(self, giveaway: GiveawayView) -> Reply:
        text = self.t(
            "giveaway_board",
            item=giveaway.name,
            entries=giveaway.entries,
            time=giveaway.ends_at.strftime("%H:%M:%S"),
            commitment=giveaway.commitment,
        )
        return Reply(public=text, actions=self._enter_action(giveaway))

    def giveaway_result(self, giveaway: GiveawayView) -> str:
        """The draw, in public: the winner's name and the seed anyone can check."""
        values = {"item": giveaway.name, "seed": giveaway.seed, "entries": giveaway.entries}
        record = self.t("giveaway_record", url=giveaway.record_url) if giveaway.record_url else ""
        if giveaway.outcome == "won":
            won = self.t(
                "giveaway_won",
                winner=giveaway.winner_name,
                number=giveaway.winner_number,
                **values,
            )
            return won + record
        if giveaway.outcome == "no_stock":
            return self.t("giveaway_no_stock", **values) + record
        return self.t("giveaway_no_entries", **values)

    def _enter_action(self, giveaway: GiveawayView) -> tuple[tuple[str, str], ...]:
        return ((self.t("enter_button"), f"enter:{giveaway.id}"),)

    def poll_board(self, poll: PollView) -> Reply:
        """A live poll with its counts, and a button per option (action vote:<poll>:<n>)."""
        text = self.t(
            "poll_board",
            question=poll.question,
            lines=self._poll_lines(poll),
            last=len(poll.options),
        )
        actions = tuple(
            (f"{o.number} · {o.label}", f"vote:{poll.id}:{o.number}") for o in poll.options
        )
        return Reply(public=text, actions=actions)

    def poll_closed(self, poll: PollView) -> str:
        return self.t("poll_closed", question=poll.question, lines=self._poll_lines(poll))

    def _poll_lines(self, poll: PollView) -> str:
        return "\n".join(
            self.t("poll_line", number=o.number, label=o.label, votes=o.votes)
            for o in poll.options
        )

    def _pay_text(self, with_link: str, without: str, order: OrderView, reason: str = "") -> str:
        if order.status is OrderStatus.NEEDS_REVIEW:  # the provider refused: the shop looks
            return self.t("payment_in_review", item=order.description, ref=order.ref)
        values = {**self._order_values(order), "reason": reason}
        return self.t(with_link if order.checkout_url else without, **values)

    def buyer_news(self, news: BuyerNews) -> str:
        """A private message about the buyer's order after the sale (shipped, cancelled)."""
        match news:
            case OrderShipped(orders=orders, tracking=tracking, carrier=carrier, link=link):
                text = self.t(
                    "shipped",
                    items=", ".join(f"{o.quantity} × {o.description}" for o in orders),
                    refs=", ".join(o.ref for o in orders),
                    tracking=tracking,
                    carrier=f" ({carrier})" if carrier else "",
                )
                return f"{text}\n{link}" if link else text
            case OrderCancelled(order=order, reason=reason):
                return self.t(
                    "cancelled_by_seller",
                    ref=order.ref,
                    item=order.description,
                    reason=f": {reason}" if reason else "",
                )
        return ""  # pragma: no cover (every news is matched above)

    def _order_values(self, order: OrderView) -> dict[str, object]:
        hold = ""
        if order.hold_expires_at is not None:
            hold = format_duration(
                timedelta(
                    seconds=max(
                        60, round((order.hold_expires_at - order.created_at).total_seconds())
                    )
                )
            )
        return {
            "qty": order.quantity,
            "item": order.description,
            "amount": order.total,  # items, and the shipping and tax charged with them
            "ref": order.ref,
            "url": order.checkout_url or "",
            "hold": hold,
        }

    def _order_line(self, order: OrderView) -> str:
        item = f"{order.quantity} × {order.description}"
        return f"{order.ref}  {item}  {order.amount}  {order.status.value}"

    def _stats_line(self, drop: DropView) -> str:
        return self.t(
            "stats",
            code=drop.code,
            sold=_sold(drop),
            qty=drop.quantity,
            left=drop.remaining,
            waiting=drop.waitlist,
            status=drop.status,
        )

    def _parse_error(self, error: ParseError) -> str:
        key = _PARSE_KEYS.get(error.kind, "bad_option")
        if error.command == "giveaway" and error.kind is ParseErrorKind.MISSING_SKU:
            key = "bad_giveaway"
        return self.t(key, detail=error.detail, command=error.command)


def _sold(drop: DropView) -> int:
    return drop.quantity - drop.remaining


def plus_five(auction: AuctionView) -> Money:
    """The quick "+5" bid of the chat buttons: five (euros, dollars …) over the current
    price, or the smallest bid accepted if that is more."""
    base = auction.price or auction.start
    five = Money.parse("5", base.currency)
    return Money(max(auction.minimum.minor, base.minor + five.minor), base.currency)


def countdown(seconds: float) -> str:
    """Time left, as coarse as a board edited now and then can honestly show: "45 s",
    "4 min" (to the nearest minute), "1 h 05 min"."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = (seconds + 30) // 60
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"
