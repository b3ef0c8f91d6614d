"""The chat room page: one self-contained Jinja2 template (no CDN: the machine may be offline)."""

from collections.abc import Sequence

import jinja2

TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("bots.web", "templates"),
    autoescape=True,
    keep_trailing_newline=True,
)


def render_page(
    room: str,
    identity: str = "",
    accounts: Sequence[str] = (),
    sign_ins: Sequence[tuple[str, str]] = (),
) -> str:
    """`identity`: the viewer's public id ('web:v_…'), shown as "you are"; never the secret.
    `accounts`: what the viewer signed in as; `sign_ins`: (label, path) buttons to offer."""
    return TEMPLATES.get_template("chat.html").render(
        room=room, identity=identity, accounts=accounts, sign_ins=sign_ins
    )
