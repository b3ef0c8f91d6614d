"""Web chat viewers: identities the server issued, and the names they may chat under."""

from dataclasses import dataclass

from commerce.domain import commands as c
from commerce.domain import display_names
from commerce.domain.errors import NotAllowed
from commerce.service_layer.deps import Deps
from commerce.service_layer.handlers import seller_role
from commerce.service_layer.ports import WebViewers


@dataclass(frozen=True, slots=True)
class WebLine:
    refused: str | None  # why the name may not be used; None: it may
    seller: bool  # the page marks a seller's lines, which no name can imitate


def _viewers(deps: Deps) -> WebViewers:
    if deps.web_viewers is None:
        raise NotAllowed("the web chat has no viewer store")
    return deps.web_viewers


async def issue_web_viewer(cmd: c.IssueWebViewer, deps: Deps) -> tuple[str, str]:
    return await _viewers(deps).issue(deps.clock.now())


async def recognise_web_viewer(cmd: c.RecogniseWebViewer, deps: Deps) -> str | None:
    return await _viewers(deps).recognise(cmd.cookie, deps.clock.now())


async def admit_web_line(cmd: c.AdmitWebLine, deps: Deps) -> WebLine:
    if await seller_role(cmd.identity, deps) is not None:
        await _viewers(deps).named(cmd.identity, cmd.name)
        return WebLine(None, seller=True)  # a seller may use the shop's name
    sellers = await _viewers(deps).seller_names(deps.sellers)
    return WebLine(display_names.refused(cmd.name, sellers), seller=False)
