"""The survey import as the benchmark runs it: the register's own code path, in-process, from files.

Each CSV file goes through what ``estate-register import FILE`` does: read the bytes, open them as survey
tables (``adapters.survey.files.open_survey``), and run ``application.survey.import_survey`` over the
SQL survey store in one unit of work (one transaction, ``all_or_nothing``), which validates every row
through the domain, writes records, links, audit rows and outbox rows, and commits. Systems are imported
before contracts (contracts cover systems by reference).

Timed: reading and parsing the file (``parse_s``), and the import call (validate + write + commit,
``import_s``); ``seconds`` is their sum, per file and in total.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from estate_register.adapters.survey.files import open_survey
from estate_register.adapters.survey.store import survey_store
from estate_register.application.survey import import_survey
from estate_register.bootstrap import Container


async def run_import(container: Container, paths: dict[str, Path], *, actor: str) -> dict[str, Any]:
    files: dict[str, Any] = {}
    records = 0
    for kind in ("systems", "contracts"):
        path = paths[kind]
        started = time.perf_counter()
        data = path.read_bytes()
        with open_survey(data, path.name, kind, max_bytes=max(len(data), 1)) as tables:  # type: ignore[arg-type]
            parsed = time.perf_counter()
            async with container.uow() as uow:
                report = await import_survey(survey_store(uow), tables, actor=actor)
            done = time.perf_counter()
        if report.error_count or not report.written:
            raise RuntimeError(f"the {kind} import wrote nothing: {report.as_dict()['errors'][:5]}")
        counts = report.systems if kind == "systems" else report.contracts
        written = counts.created + counts.updated
        records += written
        files[kind] = {
            "rows": written,
            "created": counts.created,
            "suppliers_created": len(report.suppliers_created),
            "bytes": len(data),
            "parse_s": round(parsed - started, 2),
            "import_s": round(done - parsed, 2),
            "seconds": round(done - started, 2),
            "records_s": round(written / (done - started)),
        }
    return {
        "records": records,
        "files": files,
        "seconds": round(sum(f["seconds"] for f in files.values()), 2),
        "parse_s": round(sum(f["parse_s"] for f in files.values()), 2),
        "import_s": round(sum(f["import_s"] for f in files.values()), 2),
    }
