"""The portal's pages, one module per area, each with a ``router`` (every router checks the CSRF token
of every form: :func:`estate_portal.csrf.protect`)."""

from __future__ import annotations

from fastapi import APIRouter

from estate_portal.views import dashboard, exports, register, renewals, requests, reviews

ROUTERS: list[APIRouter] = [
    dashboard.router,
    register.router,
    requests.router,
    reviews.router,
    renewals.router,
    exports.router,
]
