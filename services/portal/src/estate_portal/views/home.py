"""The start page: where each person lands after signing in, by what they do."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from estate_portal.session import session_of
from estate_portal.web import ESTATE_READERS, PagesDep

router = APIRouter()


@router.get("/", summary="Start")
async def start(request: Request, pages: PagesDep) -> Response:
    user = session_of(request).user
    if user is None:
        return pages.render(request, "start.html")
    if user.has_any(*ESTATE_READERS):
        return RedirectResponse("/dashboard", status_code=303)
    if user.has_any("requester"):
        return RedirectResponse("/requests", status_code=303)
    return RedirectResponse("/renewals", status_code=303)


@router.get("/accessibility", summary="Accessibility statement")
async def accessibility(request: Request, pages: PagesDep) -> Response:
    return pages.render(request, "accessibility.html")


@router.get("/help", summary="Help")
async def help_page(request: Request, pages: PagesDep) -> Response:
    return pages.render(request, "help.html")
