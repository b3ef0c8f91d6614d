"""Web chat viewers: identities the server issued, and the names they may chat under."""

from dataclasses import dataclass

from commerce.domain import commands as c
from commerce.domain import display_names
from commerce.domain.errors import InvalidInput, NotAllowed
from commerce.domain.identity import Identity
from commerce.service_layer.deps import Deps, repos
from commerce.service_layer.ports import WebViewers


@dataclass(frozen=True, slots=True)
class WebLine:
    refused: str | None  # why the name may not be used; None: it may
    seller: bool  # the page marks a seller's lines, which no name can imitate


def _viewers(deps: Deps) -> WebViewers:
    if deps.web_viewers is None:
        raise NotAllowed("the web chat has no viewer store")
    return repos(deps).web_viewers


async def issue_web_viewer(cmd: c.IssueWebViewer, deps: Deps) -> tuple[str, str]:
    return await _viewers(deps).issue(deps.clock.now())


async def recognise_web_viewer(cmd: c.RecogniseWebViewer, deps: Deps) -> str | None:
    return await _viewers(deps).recognise(cmd.cookie, deps.clock.now())


async def admit_web_line(cmd: c.AdmitWebLine, deps: Deps) -> WebLine:
    if await _line_role(cmd.identity, deps) is not None:
        await _viewers(deps).named(cmd.identity, cmd.name)
        return WebLine(None, seller=True)  # a seller may use the shop's name
    sellers = await _viewers(deps).seller_names(deps.sellers)
    return WebLine(display_names.refused(cmd.name, sellers), seller=False)


async def _line_role(identity: str, deps: Deps) -> str | None:
    """handlers.seller_role for a web chat line: the same answer, from one query shared by
    the messages arriving together (every line asks it)."""
    try:
        identity = str(Identity.parse(identity))
    except InvalidInput:
        return None
    own, accounts = await _viewers(deps).roles(identity)
    role = "owner" if identity in deps.sellers else own
    if role is None:
        roles = {"owner" if key in deps.sellers else r for key, r in accounts}
        role = "owner" if "owner" in roles else "cohost" if "cohost" in roles else None
    return role
