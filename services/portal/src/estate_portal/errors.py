"""What a person sees when something goes wrong: a clear GOV.UK page, never a stack trace.

Pages raise these; :func:`install` renders each as its page with the right status. A failed request
writes nothing: every check (session, role, CSRF token) happens before a page calls any API.
"""

from __future__ import annotations

from typing import Any


class PortalError(Exception):
    status = 500
    template = "errors/problem.html"
    title = "Sorry, there is a problem with the service"

    def __init__(self, detail: str = "", **context: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.context = context


class NotSignedIn(PortalError):
    """No session: the page sends the person to sign in and brings them back afterwards."""

    status = 401
    template = "errors/sign_in_needed.html"
    title = "You need to sign in"


class SessionEnded(PortalError):
    """The session (or the token behind it) has expired, or an API no longer accepts the token."""

    status = 401
    template = "errors/session_ended.html"
    title = "Your session has ended"


class NotAllowed(PortalError):
    """Signed in, but without a role the page needs (or the API refused the person)."""

    status = 403
    template = "errors/not_allowed.html"
    title = "You cannot see this page"


class BadFormToken(PortalError):
    """A form came back without the session's CSRF token: forged, or from an older session."""

    status = 403
    template = "errors/bad_form_token.html"
    title = "This form could not be accepted"


class PageNotFound(PortalError):
    status = 404
    template = "errors/not_found.html"
    title = "Page not found"


class ServiceUnavailable(PortalError):
    """One of the services behind the portal did not answer (or answered with a fault)."""

    status = 503
    template = "errors/unavailable.html"
    title = "Sorry, the service is unavailable"


class ApiProblem(PortalError):
    """The API refused the request with an RFC 9457 problem a person can act on (400, 409, 410, 422)."""

    template = "errors/problem.html"

    def __init__(self, status: int, title: str, detail: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.errors = errors

    def field_errors(self) -> dict[str, str]:
        """The problem's errors by form field: ``/body/annual_value`` → ``annual_value``."""
        fields: dict[str, str] = {}
        for error in self.errors:
            pointer = str(error.get("pointer") or error.get("field") or "")
            parts = [p for p in pointer.split("/") if p and p not in {"body", "query"}]
            name = parts[0] if parts else ""
            fields.setdefault(name, str(error.get("detail") or self.detail))
        if not fields:
            fields[""] = self.detail
        return fields
