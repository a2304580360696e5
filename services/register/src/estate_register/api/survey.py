"""Survey endpoints: templates, import (admin only) and export, as CSV or XLSX.

The import is all-or-nothing unless ``mode=valid_rows_only``: a survey with any bad row is a 422
problem whose ``errors`` name each row (as a spreadsheet numbers it: the header is row 1), the sheet
(XLSX) and the column header, and nothing is written. The upload limit (``max_upload_bytes``) is
enforced on the body as it streams in, also when the client sends no Content-Length.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from typing import IO, Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.datastructures import UploadFile
from starlette.types import Message

from estate_register.adapters.survey import files
from estate_register.adapters.survey.store import survey_store
from estate_register.api import auth
from estate_register.api.deps import AuthenticatedRoute, ContainerDep, require
from estate_register.api.problems import Problem
from estate_register.application import survey
from estate_register.application.survey import ExportNames, Mode, SurveyFileError, SurveyKind

router = APIRouter(prefix="/api/v1/survey", tags=["survey"], route_class=AuthenticatedRoute)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"
Kind = Annotated[SurveyKind, Query(description="Which kind of record the CSV holds")]


def _attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}


@router.get("/template.xlsx", response_class=Response, responses={200: {"content": {XLSX: {}}}})
async def template_xlsx(
    _: auth.Principal = require(auth.EXPORT, "Downloading the survey template"),
) -> Response:
    """An empty survey workbook: Systems and Contracts sheets with their headers, and a Read me sheet
    listing every column, whether it is required, its allowed values and an example."""
    return Response(await files.template_xlsx(), media_type=XLSX, headers=_attachment("survey-template.xlsx"))


@router.get("/template.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
async def template_csv(
    kind: Kind, _: auth.Principal = require(auth.EXPORT, "Downloading the survey template")
) -> Response:
    """The header row of one kind of record, as CSV UTF-8."""
    return Response(files.template_csv(kind), media_type=CSV, headers=_attachment(f"survey-{kind}.csv"))


@router.get("/export.csv", response_class=StreamingResponse, responses={200: {"content": {"text/csv": {}}}})
async def export_csv(
    kind: Kind,
    container: ContainerDep,
    _: auth.Principal = require(auth.EXPORT, "Exporting the register"),
) -> StreamingResponse:
    """Every record of one kind in the template's shape (re-importing it changes nothing), streamed.
    Text a spreadsheet could run as a formula is written with a leading apostrophe."""

    async def body() -> AsyncIterator[bytes]:
        async with container.uow() as uow:
            store = survey_store(uow)
            names = ExportNames(await store.catalogue())
            async for chunk in files.csv_chunks(kind, survey.export_rows(store, kind, names)):
                yield chunk

    return StreamingResponse(body(), media_type=CSV, headers=_attachment(f"register-{kind}.csv"))


def _chunks(handle: IO[bytes], size: int = 64 * 1024) -> AsyncIterator[bytes]:
    async def read() -> AsyncIterator[bytes]:
        try:
            while chunk := handle.read(size):
                yield chunk
        finally:
            handle.close()

    return read()


@router.get("/export.xlsx", response_class=StreamingResponse, responses={200: {"content": {XLSX: {}}}})
async def export_xlsx(
    container: ContainerDep,
    _: auth.Principal = require(auth.EXPORT, "Exporting the register"),
) -> StreamingResponse:
    """The whole register as a survey workbook (Systems, Contracts, Read me); re-importing it changes
    nothing. Text that could run as a formula is a string cell with a leading apostrophe."""
    handle = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115  # closed by _chunks
    async with container.uow() as uow:
        store = survey_store(uow)
        names = ExportNames(await store.catalogue())
        await files.write_xlsx(
            handle,  # type: ignore[arg-type]
            {kind: survey.export_rows(store, kind, names) for kind in survey.KINDS},
        )
    handle.seek(0)
    return StreamingResponse(_chunks(handle), media_type=XLSX, headers=_attachment("register.xlsx"))  # type: ignore[arg-type]


def _too_large(limit: int) -> Problem:
    return Problem(413, "Too large", f"the upload is over the limit of {limit:,} bytes", kind="too-large")


async def _uploaded_file(request: Request, limit: int) -> tuple[str, bytes]:
    """The file of a multipart upload (field ``file``), refusing the body as soon as it passes ``limit``."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise Problem(
            415,
            "Unsupported media type",
            "upload the survey as multipart/form-data with the file in a field named 'file'",
            kind="http-415",
        )
    received = bytearray()
    async for chunk in request.stream():
        received.extend(chunk)
        if len(received) > limit:
            raise _too_large(limit)
    body = bytes(received)

    async def replay() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    form = await Request(request.scope, replay).form(max_files=1, max_fields=10)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise Problem(
                422,
                "The request is not valid",
                "send the survey file in a multipart form field named 'file'",
                kind="validation",
            )
        return upload.filename or "", await upload.read()
    finally:
        await form.close()


IMPORT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


@router.post("/import", openapi_extra=IMPORT_BODY)
async def import_survey(
    request: Request,
    container: ContainerDep,
    kind: Annotated[SurveyKind | None, Query(description="Needed for CSV; for XLSX, one sheet only")] = None,
    mode: Annotated[
        Mode, Query(description="all_or_nothing (default) or valid_rows_only")
    ] = "all_or_nothing",
    dry_run: Annotated[bool, Query(description="Check and report, write nothing")] = False,
    principal: auth.Principal = require(auth.IMPORT_SURVEY, "Importing a survey"),
) -> dict[str, Any]:
    """Import a completed survey (.xlsx, or .csv with ``kind``) in one transaction.

    Returns counts created/updated/unchanged/failed per kind and the suppliers the survey created. In
    ``all_or_nothing`` mode any bad row makes the whole import a 422 listing every problem by row and
    column; in ``valid_rows_only`` mode the good rows are imported and the bad ones listed.
    """
    limit = container.settings.max_upload_bytes
    filename, data = await _uploaded_file(request, limit)
    try:
        with files.open_survey(data, filename, kind, max_bytes=limit) as tables:
            async with container.uow() as uow:
                report = await survey.import_survey(
                    survey_store(uow), tables, actor=principal.actor, mode=mode, dry_run=dry_run
                )
    except SurveyFileError as exc:
        raise Problem(
            422,
            "The survey file cannot be imported",
            exc.detail,
            kind="survey-file",
            errors=[e.as_dict() for e in exc.errors],
        ) from None
    if report.error_count and mode == "all_or_nothing":
        shown = (
            ""
            if len(report.errors) == report.error_count
            else f" (the first {len(report.errors)} are listed)"
        )
        first = report.errors[0]
        raise Problem(
            422,
            "The survey has rows that cannot be imported",
            f"{report.error_count} problem(s) in the survey{shown}, so nothing was imported; first: {first}. "
            "Fix them and upload again, or use mode=valid_rows_only to import the good rows.",
            kind="survey-rows",
            errors=[e.as_dict() for e in report.errors],
        )
    return report.as_dict()
