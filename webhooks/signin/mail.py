"""Sending the email sign-in links: through SMTP (aiosmtplib) when SMTP_URL is set, or, in
local mode, to an in-memory mailbox shown on /dev/mail and to the server's log."""

import logging
from collections import deque
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import aiosmtplib

log = logging.getLogger(__name__)
TIMEOUT = 20.0  # seconds for the whole SMTP conversation


class MailFailed(Exception):
    """The SMTP server did not take the message."""


def sign_in_message(sender: str, to: str, link: str, minutes: int) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = "Your sign-in link for the live chat"
    message.set_content(
        f"Open this link to sign in to the live chat (valid {minutes} minutes, once):\n\n"
        f"{link}\n\nIf you did not ask for it, ignore this email: nobody signs in without it.\n"
    )
    return message


@dataclass(frozen=True, slots=True)
class SmtpMailer:
    """smtp://user:pass@host:port (STARTTLS when the server offers it, port 587 by
    default) or smtps://user:pass@host:port (TLS from the start, port 465 by default)."""

    url: str

    async def send(self, message: EmailMessage) -> None:
        parts = urlsplit(self.url)
        tls = parts.scheme == "smtps"
        try:
            await aiosmtplib.send(
                message,
                hostname=parts.hostname,
                port=parts.port or (465 if tls else 587),
                username=unquote(parts.username) if parts.username else None,
                password=unquote(parts.password) if parts.password else None,
                use_tls=tls,
                timeout=TIMEOUT,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            # The exception's text may name the server, never the URL's password.
            log.warning("the SMTP server did not take a sign-in email: %s", type(exc).__name__)
            raise MailFailed("the email could not be sent: try again in a minute") from None


@dataclass(frozen=True, slots=True)
class Letter:
    to: str
    subject: str
    body: str


class DevMailbox:
    """Local mode without SMTP: the latest messages, for /dev/mail on this machine."""

    def __init__(self, keep: int = 50) -> None:
        self.letters: deque[Letter] = deque(maxlen=keep)

    async def send(self, message: EmailMessage) -> None:
        body = message.get_content()
        self.letters.appendleft(Letter(message["To"], message["Subject"], body))
        link = next((w for w in body.split() if w.startswith("http")), "")
        log.info("local mode, no SMTP_URL: sign-in link (also on /dev/mail): %s", link)
