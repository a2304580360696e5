"""CSRF protection for every form: the session's random token must come back in the ``csrf_token`` field
(or the ``X-CSRF-Token`` header for scripts). Routers that change anything take :func:`protect` as a
dependency, so the check runs before the page's own code and a refused form writes nothing."""

from __future__ import annotations

import hmac

from fastapi import Request

from estate_portal.errors import BadFormToken, SessionEnded
from estate_portal.session import session_of

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def protect(request: Request) -> None:
    if request.method in SAFE_METHODS:
        return
    session = session_of(request)
    sent = request.headers.get("x-csrf-token")
    if sent is None:
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    if session.ended:
        # The form was filled in under a session that has since ended: say that, not "forged".
        raise SessionEnded("Your session ended before the form was sent, so nothing was saved.")
    if not sent or not hmac.compare_digest(sent, session.csrf):
        raise BadFormToken(
            "The form did not carry this session's security token, so nothing was saved. "
            "Go back, reload the page and send it again."
        )
