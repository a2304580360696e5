"""Calls to the three services' APIs, as the signed-in person (their bearer token on every call).

Each API answers for itself what the person may see and do; the portal never widens it. Answers are
mapped once, here, to what a page shows: 401 ends the session, 403 is "you cannot see this", 404 is
"page not found", a problem a person can act on (400, 409, 410, 412, 422) is an :class:`ApiProblem`
for the form to show, and a service that is down or faulty is "the service is unavailable".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from estate_eventing.correlation import current_correlation_id
from estate_portal.errors import ApiProblem, NotAllowed, PageNotFound, ServiceUnavailable, SessionEnded

Service = Literal["register", "procurement", "notifications"]

SERVICE_NAMES: Mapping[Service, str] = {
    "register": "the register",
    "procurement": "the requests service",
    "notifications": "the renewals service",
}


@dataclass(frozen=True, slots=True)
class Download:
    """A file an API produced (an export): passed through to the browser as it came."""

    content: bytes
    media_type: str
    disposition: str | None


class Backends:
    """One HTTP client per service, shared by every page of the process."""

    def __init__(self, clients: Mapping[Service, httpx.AsyncClient]) -> None:
        self.clients = dict(clients)

    @classmethod
    def at(cls, urls: Mapping[Service, str], *, timeout: float) -> Backends:
        """Clients of the services at ``urls`` (their base URLs)."""
        return cls(
            {name: httpx.AsyncClient(base_url=url.rstrip("/"), timeout=timeout) for name, url in urls.items()}
        )

    async def close(self) -> None:
        for client in self.clients.values():
            await client.aclose()

    async def ready(self) -> dict[str, str]:
        """Each service's readiness, for the portal's own ``/health/ready``."""
        states: dict[str, str] = {}
        for name, client in self.clients.items():
            try:
                answer = await client.get("/health/ready")
                states[name] = "ok" if answer.status_code == 200 else f"status {answer.status_code}"
            except httpx.HTTPError as exc:
                states[name] = f"unreachable: {type(exc).__name__}"
        return states

    def as_user(self, token: str) -> Api:
        return Api(self, token)


class Api:
    """The APIs as one person sees them."""

    def __init__(self, backends: Backends, token: str) -> None:
        self.backends = backends
        self.token = token

    async def request(
        self,
        service: Service,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        not_found: Literal["page", "none"] = "page",
    ) -> httpx.Response | None:
        client = self.backends.clients[service]
        sent_headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        correlation = current_correlation_id()
        if correlation:
            sent_headers["X-Correlation-ID"] = correlation
        sent_headers.update(headers or {})
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "", [])}
        try:
            answer = await client.request(method, path, params=clean, json=json, headers=sent_headers)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(
                f"{SERVICE_NAMES[service].capitalize()} is not answering ({type(exc).__name__}). "
                "Try again in a few minutes; nothing was saved.",
                service=SERVICE_NAMES[service],
            ) from exc
        if answer.status_code < 400:
            return answer
        if answer.status_code == 404 and not_found == "none":
            return None
        raise _problem(service, answer)

    async def get(self, service: Service, path: str, **params: Any) -> Any:
        answer = await self.request(service, "GET", path, params=params)
        assert answer is not None
        return answer.json()

    async def find(self, service: Service, path: str, **params: Any) -> Any | None:
        """Like :meth:`get`, but a record that does not exist is ``None`` rather than a 404 page."""
        answer = await self.request(service, "GET", path, params=params, not_found="none")
        return None if answer is None else answer.json()

    async def send(
        self,
        service: Service,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        answer = await self.request(service, method, path, json=body, headers=headers)
        assert answer is not None
        if not answer.content:
            return None
        return answer.json()

    async def download(self, service: Service, path: str, **params: Any) -> Download:
        answer = await self.request(service, "GET", path, params=params, headers={"Accept": "*/*"})
        assert answer is not None
        return Download(
            content=answer.content,
            media_type=answer.headers.get("content-type", "application/octet-stream"),
            disposition=answer.headers.get("content-disposition"),
        )


def _problem(service: Service, answer: httpx.Response) -> Exception:
    try:
        body = answer.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    detail = str(body.get("detail") or answer.reason_phrase)
    if answer.status_code == 401:
        return SessionEnded(detail)
    if answer.status_code == 403:
        return NotAllowed(detail)
    if answer.status_code == 404:
        return PageNotFound(detail)
    if answer.status_code >= 500 or answer.status_code == 429:
        return ServiceUnavailable(
            f"{SERVICE_NAMES[service].capitalize()} could not complete the request (status "
            f"{answer.status_code}). Nothing was saved; try again in a few minutes.",
            service=SERVICE_NAMES[service],
        )
    errors = body.get("errors")
    return ApiProblem(
        answer.status_code,
        str(body.get("title") or "There is a problem"),
        detail,
        errors if isinstance(errors, list) else [],
    )
