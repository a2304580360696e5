"""The HTTP baseline: a bare FastAPI endpoint returning a small JSON document, served exactly as
``estate-register http`` serves the register (``uvicorn.run`` in one process, no access log, the same
automatic loop and HTTP implementation). Run by run.py: ``python bench/bare_app.py PORT``."""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI

app = FastAPI()


@app.get("/ping")
async def ping() -> dict[str, object]:
    return {"status": "ok", "items": [{"id": 1, "name": "Orchard"}], "next_cursor": None}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_config=None, access_log=False)
