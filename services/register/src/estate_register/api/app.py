"""The register's FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from estate_register.api import estate, routes, survey
from estate_register.bootstrap import Container
from estate_register.settings import AuthSettings
from estate_runtime.http import service_app

DESCRIPTION = """
The register of every system and contract in the council's IT estate, with the people accountable for
each (contract signatory, contract owner, system owner, budget holder), what each system does, where its
data lives and when its contracts end.

Every endpoint but `/health/*`, `/metrics` and the docs needs a bearer token; writes need a role.
Errors are RFC 9457 `application/problem+json`. Writes need the record's `ETag` in `If-Match`.
"""


def create_app(container: Container, auth: AuthSettings | None = None) -> FastAPI:
    app = service_app(
        title="Estate register",
        description=DESCRIPTION,
        engine=container.engine,
        auth=auth or container.auth or AuthSettings(),
        max_upload_bytes=container.settings.max_upload_bytes,
        tags=[
            {"name": "systems", "description": "Systems and applications (the Systems and Data Register)"},
            {"name": "contracts", "description": "The central contract register"},
            {"name": "survey", "description": "Survey import and export (CSV, XLSX)"},
            {
                "name": "estate",
                "description": "The TDA's single view: summary, lists and risks, exports (CSV, XLSX, "
                "Transparency Code, OCDS)",
            },
        ],
        on_close=container.close,
    )
    app.state.container = container
    app.include_router(routes.router)
    app.include_router(survey.router)
    app.include_router(estate.router)
    return app
