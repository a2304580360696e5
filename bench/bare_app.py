"""The HTTP baseline: a bare FastAPI endpoint returning a small JSON document, served exactly as
``estate-register http`` serves the register (uvicorn, one worker process per core, no access log, the
same automatic loop and HTTP implementation). Run by run.py: ``python bench/bare_app.py PORT``."""

from __future__ import annotations

import os
import sys

import uvicorn
from fastapi import FastAPI


def make_app() -> FastAPI:
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, object]:
        return {"status": "ok", "items": [{"id": 1, "name": "Orchard"}], "next_cursor": None}

    return app


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(__file__))
    uvicorn.run(
        "bare_app:make_app",
        factory=True,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        workers=os.cpu_count() or 1,
        log_config=None,
        access_log=False,
    )
