"""A fake Telegram Bot API server: enough of it for python-telegram-bot to run against.

aiohttp on 127.0.0.1 (a random port), the real envelope (`{"ok": true, "result": ...}` or
`{"ok": false, "error_code": ..., "description": ..., "parameters": {"retry_after": N}}`),
message ids per chat, `getUpdates` long polling fed by the test, edits that say "message is
not modified" when nothing changes, and injected failures (429 floods, blocked users). Every
call is recorded.
"""

import asyncio
import contextlib
import itertools
import json
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

BOT_ID = 777000
JSON_PARAMS = {
    "reply_markup",
    "reply_parameters",
    "link_preview_options",
    "allowed_updates",
    "commands",
    "scope",
    "prices",
    "suggested_tip_amounts",
    "media",
    "caption_entities",
}
MAX_CAPTION = 1024  # sendPhoto / editMessageCaption: 0-1024 characters


@dataclass(frozen=True)
class Upload:
    """A file sent as multipart/form-data (an InputFile), as the fake received it."""

    filename: str
    content_type: str
    data: bytes


@dataclass
class Call:
    method: str
    params: dict[str, Any]


@dataclass
class Posted:
    """A message the bot posted, as it reads now (after edits)."""

    chat_id: int
    message_id: int
    text: str
    reply_markup: dict[str, Any] | None
    edits: int = 0
    # A photo message (then `text` is its caption): the URL Telegram fetched, or the upload.
    photo: str | Upload | None = None

    @property
    def buttons(self) -> list[dict[str, Any]]:
        if not self.reply_markup:
            return []
        return [b for row in self.reply_markup["inline_keyboard"] for b in row]


@dataclass
class Fault:
    methods: frozenset[str]
    remaining: int
    status: int
    description: str
    retry_after: int | None = None
    every: int = 1  # fail one call in `every`
    seen: int = 0


@dataclass
class FakeUser:
    id: int
    first_name: str
    username: str | None = None
    language_code: str | None = "en"

    def json(self) -> dict[str, Any]:
        user: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        return user


@dataclass
class FakeBotApi:
    token: str = "123456:TEST-token"
    username: str = "livebuy_bot"
    can_read_all_group_messages: bool = True
    calls: list[Call] = field(default_factory=list)
    posted: dict[tuple[int, int], Posted] = field(default_factory=dict)
    admins: dict[int, set[int]] = field(default_factory=dict)  # chat id -> user ids
    blocked: set[int] = field(default_factory=set)  # users who blocked the bot
    faults: list[Fault] = field(default_factory=list)
    webhook: dict[str, Any] | None = None
    invoices: list[dict[str, Any]] = field(default_factory=list)  # sendInvoice params
    pre_checkout_answers: dict[str, dict[str, Any]] = field(default_factory=dict)  # by query id
    # Groups upgraded to supergroups: old id -> new id (sends to the old id answer 400).
    migrated: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.pending: list[dict[str, Any]] = []
        self.confirmed = 0  # the highest getUpdates offset asked for: updates below it are done
        self.gates: dict[str, asyncio.Event] = {}  # methods that answer only once set
        self.arrived = asyncio.Event()
        self.update_ids = itertools.count(1000)
        self.message_ids: dict[int, itertools.count[int]] = {}
        self.server: TestServer | None = None
        self.port = _free_port()  # known before the server starts (start-up retry tests)

    # --- the server ------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self.server = TestServer(app, host="127.0.0.1", port=self.port)
        await self.server.start_server()
        return self.url

    async def close(self) -> None:
        self.arrived.set()
        for gate in self.gates.values():
            gate.set()
        if self.server is not None:
            await self.server.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await _params(request)
        self.calls.append(Call(method, params))
        gate = self.gates.get(method)
        if gate is not None:
            await gate.wait()
        fault = self._fault(method)
        if fault is not None:
            extra = {"retry_after": fault.retry_after} if fault.retry_after is not None else None
            return _error(fault.status, fault.description, extra)
        handler = getattr(self, f"api_{method}", None)
        if handler is None:
            return _error(404, "Not Found: method not found")
        moved = self.migrated.get(_int(params.get("chat_id")))
        if moved is not None:
            description = "Bad Request: group chat was upgraded to a supergroup chat"
            return _error(400, description, {"migrate_to_chat_id": moved})
        try:
            result = await handler(params)
        except ApiError as exc:
            return _error(exc.status, exc.description)
        return web.json_response({"ok": True, "result": result})

    def _fault(self, method: str) -> Fault | None:
        for fault in self.faults:
            if method in fault.methods and fault.remaining > 0:
                fault.seen += 1
                if fault.seen % fault.every == 0:
                    fault.remaining -= 1
                    return fault
        return None

    # --- the methods -----------------------------------------------------------------

    async def api_getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "LiveBuy",
            "username": self.username,
            "can_join_groups": True,
            "can_read_all_group_messages": self.can_read_all_group_messages,
            "supports_inline_queries": False,
        }

    async def api_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        self.confirmed = max(self.confirmed, offset)
        self.pending = [u for u in self.pending if u["update_id"] >= offset]
        if not self.pending:
            self.arrived.clear()
            timeout = float(params.get("timeout") or 0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), timeout)
        limit = int(params.get("limit") or 100)
        return self.pending[:limit]

    async def api_setWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = params
        return True

    async def api_deleteWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = None
        return True

    async def api_setMyCommands(self, params: dict[str, Any]) -> bool:
        return True

    async def api_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        return True

    async def api_getChatMember(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id, user_id = int(params["chat_id"]), int(params["user_id"])
        user = {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"}
        if user_id in self.admins.get(chat_id, set()):
            return {"status": "creator", "user": user, "is_anonymous": False}
        return {"status": "member", "user": user}

    async def api_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        if chat_id in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        ids = self.message_ids.setdefault(chat_id, itertools.count(1))
        posted = Posted(chat_id, next(ids), params["text"], params.get("reply_markup"))
        self.posted[(chat_id, posted.message_id)] = posted
        return self._message(posted)

    async def api_editMessageText(self, params: dict[str, Any]) -> dict[str, Any]:
        key = (int(params["chat_id"]), int(params["message_id"]))
        posted = self.posted.get(key)
        if posted is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        markup = params.get("reply_markup")
        if posted.text == params["text"] and posted.reply_markup == markup:
            raise ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and "
                "reply markup are exactly the same as a current content and reply markup "
                "of the message",
            )
        posted.text, posted.reply_markup = params["text"], markup
        posted.edits += 1
        return self._message(posted)

    async def api_sendPhoto(self, params: dict[str, Any]) -> dict[str, Any]:
        """sendPhoto: `photo` is a file_id, an HTTP(S) URL or a multipart upload."""
        chat_id = int(params["chat_id"])
        if chat_id in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        photo = _photo(params.get("photo"), params)
        caption = params.get("caption", "")
        if len(caption) > MAX_CAPTION:
            raise ApiError(400, "Bad Request: message caption is too long")
        ids = self.message_ids.setdefault(chat_id, itertools.count(1))
        posted = Posted(chat_id, next(ids), caption, params.get("reply_markup"), photo=photo)
        self.posted[(chat_id, posted.message_id)] = posted
        return self._message(posted)

    async def api_editMessageCaption(self, params: dict[str, Any]) -> dict[str, Any]:
        key = (int(params["chat_id"]), int(params["message_id"]))
        posted = self.posted.get(key)
        if posted is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if posted.photo is None:
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        caption, markup = params.get("caption", ""), params.get("reply_markup")
        if len(caption) > MAX_CAPTION:
            raise ApiError(400, "Bad Request: message caption is too long")
        if posted.text == caption and posted.reply_markup == markup:
            raise ApiError(400, "Bad Request: message is not modified")
        posted.text, posted.reply_markup = caption, markup
        posted.edits += 1
        return self._message(posted)

    async def api_editMessageMedia(self, params: dict[str, Any]) -> dict[str, Any]:
        """editMessageMedia: `media` is an InputMedia (JSON); a new file is attached as
        `attach://<name>` with the file in the multipart field <name>. It also adds media
        to a text message (Bot API 9.x)."""
        key = (int(params["chat_id"]), int(params["message_id"]))
        posted = self.posted.get(key)
        if posted is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        media = params["media"]
        if media.get("type") != "photo":
            raise ApiError(400, "Bad Request: unsupported media type")
        caption = media.get("caption", "")
        if len(caption) > MAX_CAPTION:
            raise ApiError(400, "Bad Request: message caption is too long")
        posted.photo = _photo(media.get("media"), params)
        posted.text, posted.reply_markup = caption, params.get("reply_markup")
        posted.edits += 1
        return self._message(posted)

    async def api_editMessageReplyMarkup(self, params: dict[str, Any]) -> dict[str, Any]:
        key = (int(params["chat_id"]), int(params["message_id"]))
        posted = self.posted.get(key)
        if posted is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        markup = params.get("reply_markup")
        if posted.reply_markup == markup or (not posted.buttons and not markup):
            raise ApiError(400, "Bad Request: message is not modified")
        posted.reply_markup = markup
        posted.edits += 1
        return self._message(posted)

    async def api_sendInvoice(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        if chat_id in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if not params.get("provider_token"):
            raise ApiError(400, "Bad Request: PAYMENT_PROVIDER_INVALID")
        prices = params["prices"]
        if not prices or any(int(p["amount"]) <= 0 for p in prices):
            raise ApiError(400, "Bad Request: CURRENCY_TOTAL_AMOUNT_INVALID")
        self.invoices.append(params)
        ids = self.message_ids.setdefault(chat_id, itertools.count(1))
        return {
            "message_id": next(ids),
            "date": int(time.time()),
            "chat": _chat(chat_id),
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "LiveBuy"},
            "invoice": {
                "title": params["title"],
                "description": params["description"],
                "start_parameter": params.get("start_parameter", ""),
                "currency": params["currency"],
                "total_amount": sum(int(p["amount"]) for p in prices),
            },
        }

    async def api_answerPreCheckoutQuery(self, params: dict[str, Any]) -> bool:
        query_id = params["pre_checkout_query_id"]
        if query_id in self.pre_checkout_answers:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired")
        ok = str(params["ok"]).lower() == "true"
        if not ok and not params.get("error_message"):
            raise ApiError(400, "Bad Request: error_message is required when ok is false")
        self.pre_checkout_answers[query_id] = {
            "ok": ok,
            "error_message": params.get("error_message"),
            "at": time.monotonic(),
        }
        return True

    def _message(self, posted: Posted) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": posted.message_id,
            "date": int(time.time()),
            "chat": _chat(posted.chat_id),
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "LiveBuy"},
        }
        if posted.photo is None:
            message["text"] = posted.text
        else:
            unique = f"p{posted.chat_id}x{posted.message_id}x{posted.edits}".replace("-", "m")
            message["photo"] = [
                {"file_id": f"AgAC{unique}", "file_unique_id": unique, "width": 8, "height": 8}
            ]
            if posted.text:
                message["caption"] = posted.text
        if posted.reply_markup:
            message["reply_markup"] = posted.reply_markup
        return message

    # --- what tests inject -----------------------------------------------------------

    def push(self, *updates: dict[str, Any]) -> None:
        self.pending = sorted([*self.pending, *updates], key=lambda u: int(u["update_id"]))
        self.arrived.set()

    def message(
        self, chat_id: int, user: FakeUser, text: str, *, message_id: int | None = None
    ) -> dict[str, Any]:
        """An update with a text message, its entities marked as Telegram marks them."""
        if message_id is None:
            ids = self.message_ids.setdefault(chat_id, itertools.count(1))
            message_id = next(ids)
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": _chat(chat_id, user),
            "from": user.json(),
            "text": text,
        }
        entities = list(_entities(text))
        if entities:
            message["entities"] = entities
        return {"update_id": next(self.update_ids), "message": message}

    def migrate(self, old: int, new: int) -> dict[str, Any]:
        """The group `old` is upgraded to the supergroup `new`: from now on the Bot API
        refuses sends to `old` naming `new`; returns the service message the old group gets
        (an update with `migrate_to_chat_id`)."""
        self.migrated[old] = new
        message = {
            "message_id": next(self.message_ids.setdefault(old, itertools.count(1))),
            "date": int(time.time()),
            "chat": {"id": old, "type": "group", "title": "Shop chat"},
            "migrate_to_chat_id": new,
        }
        return {"update_id": next(self.update_ids), "message": message}

    def press(self, board: Posted, user: FakeUser, data: str | None = None) -> dict[str, Any]:
        """An update for a press on the board's (first) inline button."""
        if data is None:
            data = board.buttons[0]["callback_data"]
        query = {
            "id": f"cb{next(self.update_ids)}",
            "from": user.json(),
            "chat_instance": f"ci{board.chat_id}",
            "data": data,
            "message": self._message(board),
        }
        return {"update_id": next(self.update_ids), "callback_query": query}

    def pre_checkout(
        self, user: FakeUser, payload: str, total_amount: int, currency: str = "EUR"
    ) -> dict[str, Any]:
        """An update with a pre_checkout_query: the buyer pressed Pay on an invoice."""
        query = {
            "id": f"pcq{next(self.update_ids)}",
            "from": user.json(),
            "currency": currency,
            "total_amount": total_amount,
            "invoice_payload": payload,
        }
        return {"update_id": next(self.update_ids), "pre_checkout_query": query}

    def successful_payment(
        self,
        user: FakeUser,
        payload: str,
        total_amount: int,
        currency: str = "EUR",
        *,
        provider_charge_id: str = "ch_test_1",
        telegram_charge_id: str = "tg_charge_1",
        shipping: bool = True,
    ) -> dict[str, Any]:
        """An update with the service message Telegram sends once an invoice is paid."""
        payment: dict[str, Any] = {
            "currency": currency,
            "total_amount": total_amount,
            "invoice_payload": payload,
            "telegram_payment_charge_id": telegram_charge_id,
            "provider_payment_charge_id": provider_charge_id,
        }
        if shipping:
            payment["order_info"] = {
                "name": user.first_name,
                "shipping_address": {
                    "country_code": "DE",
                    "state": "",
                    "city": "Berlin",
                    "street_line1": "Street 1",
                    "street_line2": "",
                    "post_code": "10115",
                },
            }
        ids = self.message_ids.setdefault(user.id, itertools.count(1))
        message = {
            "message_id": next(ids),
            "date": int(time.time()),
            "chat": _chat(user.id, user),
            "from": user.json(),
            "successful_payment": payment,
        }
        return {"update_id": next(self.update_ids), "message": message}

    def hold(self, method: str) -> asyncio.Event:
        """Calls of `method` wait (the server answers nothing) until the event is set."""
        gate = self.gates[method] = asyncio.Event()
        return gate

    def flood(
        self,
        methods: Iterable[str],
        count: int,
        retry_after: int = 1,
        every: int = 1,
    ) -> Fault:
        """The next `count` matching calls (one in `every`) get HTTP 429."""
        fault = Fault(
            frozenset(methods),
            count,
            429,
            f"Too Many Requests: retry after {retry_after}",
            retry_after,
            every,
        )
        self.faults.append(fault)
        return fault

    # --- what tests read -------------------------------------------------------------

    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def texts_to(self, chat_id: int) -> list[str]:
        """What the bot posted to a chat, in order (as the messages read now)."""
        return [p.text for (c, _), p in sorted(self.posted.items()) if c == chat_id]

    def messages_in(self, chat_id: int) -> list[Posted]:
        return [p for (c, _), p in sorted(self.posted.items()) if c == chat_id]

    def board(self, chat_id: int) -> Posted | None:
        """The drop board: the bot's first message in the chat with a Buy button, or that
        was edited."""
        for posted in self.messages_in(chat_id):
            if posted.edits or any("callback_data" in b for b in posted.buttons):
                return posted
        return None


class ApiError(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description


def _error(
    status: int, description: str, parameters: dict[str, Any] | None = None
) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=status)


async def _params(request: web.Request) -> dict[str, Any]:
    """python-telegram-bot posts form fields (JSON-encoded when they are objects)."""
    if request.content_type == "application/json":
        data: dict[str, Any] = await request.json()
        return data
    form = await request.post()
    params: dict[str, Any] = {}
    for key, value in form.items():
        if isinstance(value, web.FileField):  # an InputFile, sent as multipart/form-data
            params[key] = Upload(value.filename, value.content_type, value.file.read())
            continue
        text = value if isinstance(value, str) else ""
        params[key] = json.loads(text) if key in JSON_PARAMS else text
    return params


def _photo(given: Any, params: dict[str, Any]) -> str | Upload:
    """A photo as the Bot API takes it: an upload, `attach://<field>` naming one, or a
    file_id / URL (Telegram fetches http(s) URLs itself)."""
    if isinstance(given, Upload):
        return given
    if isinstance(given, str) and given.startswith("attach://"):
        attached = params.get(given.removeprefix("attach://"))
        if not isinstance(attached, Upload):
            raise ApiError(400, "Bad Request: can't find the attached file")
        return attached
    if isinstance(given, str) and given.startswith(("https://", "http://", "AgAC")):
        return given
    raise ApiError(400, "Bad Request: wrong remote file identifier specified")


def _chat(chat_id: int, user: FakeUser | None = None) -> dict[str, Any]:
    if chat_id > 0:
        name = user.first_name if user is not None and user.id == chat_id else f"u{chat_id}"
        return {"id": chat_id, "type": "private", "first_name": name}
    return {"id": chat_id, "type": "supergroup", "title": "Shop chat"}


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _entities(text: str) -> Iterable[dict[str, Any]]:
    """bot_command for /words, hashtag for #words, at UTF-16 offsets like Telegram."""
    position = 0
    for index, word in enumerate(text.split(" ")):
        if index:
            position += 1
        stripped = word.rstrip(".,!?")
        if len(stripped) > 1 and stripped[0] in "/#" and (stripped[1].isalnum()):
            kind = "bot_command" if stripped[0] == "/" else "hashtag"
            offset, length = _utf16_len(text[:position]), _utf16_len(stripped)
            yield {"type": kind, "offset": offset, "length": length}
        position += len(word)
