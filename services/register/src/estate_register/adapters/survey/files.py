"""Survey files: reading CSV and XLSX uploads into tables, writing templates and exports.

Rules the files keep:

* CSV is UTF-8, with or without a byte-order mark; anything else is refused with the way to fix it
  (save as "CSV UTF-8"). Exports are written with a BOM so that Excel opens them as UTF-8.
* An XLSX upload is read without evaluating anything: a formula cell arrives as its ``=...`` text and is
  refused by the import. Its uncompressed size is capped so that a small zip cannot expand without end.
* Every text cell an export writes goes through :func:`escape_cell`, so text that a spreadsheet could
  run as a formula gets one leading apostrophe and, in XLSX, is a string cell, never a formula.
* Exports stream: CSV row by row, XLSX through openpyxl's write-only mode (rows go to a temporary file,
  not memory).
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import AsyncIterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import PurePath
from typing import IO, Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from estate_register.application.survey import (
    COLUMNS,
    KINDS,
    README_SHEET,
    SHEETS,
    Cell,
    SurveyFileError,
    SurveyKind,
    Table,
    escape_cell,
    readme_rows,
)

CSV_BOM = "\ufeff"
SAVE_AS_UTF8 = (
    'save it again as "CSV UTF-8 (Comma delimited) (*.csv)" (Excel: File > Save As > CSV UTF-8) and '
    "upload that"
)
# An XLSX is a zip of XML; refuse one that would expand beyond this many times the upload limit.
MAX_EXPANSION = 40


def _blank(row: Sequence[Cell]) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in row)


def _csv_table(data: bytes, kind: SurveyKind) -> Table:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SurveyFileError(
            f"the file is not UTF-8 text (byte {exc.start + 1} cannot be read); {SAVE_AS_UTF8}"
        ) from None
    first_line = text.split("\n", 1)[0]
    # Excel in some locales writes ";"-separated CSV; the header line (which has no lists) tells.
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False))
    if not records or _blank(records[0]):
        raise SurveyFileError("the file is empty: the first row must be the header row of the template")
    rows = [(number, row) for number, row in enumerate(records[1:], start=2) if not _blank(row)]
    return Table(kind=kind, header=records[0], rows=rows, source="csv", total=len(rows))


def _xlsx_rows(sheet: Any) -> Iterator[tuple[int, Sequence[Cell]]]:
    for number, row in enumerate(sheet.iter_rows(min_row=2, values_only=True), start=2):
        if not _blank(row):
            yield number, row


@contextmanager
def open_survey(
    data: bytes, filename: str, kind: SurveyKind | None, *, max_bytes: int
) -> Iterator[list[Table]]:
    """The tables of an uploaded survey file (chosen by its suffix), open while the block runs.

    CSV needs ``kind``; for XLSX, ``kind`` picks one sheet, else both Systems and Contracts are read
    (either may be missing, not both). The Read me sheet and any other sheet are ignored.
    """
    if len(data) > max_bytes:
        raise SurveyFileError(f"the file is {len(data):,} bytes; the limit is {max_bytes:,} bytes")
    suffix = PurePath(filename or "").suffix.casefold()
    if suffix == ".csv":
        if kind is None:
            raise SurveyFileError(
                "a CSV survey holds one kind of record: say which with kind=systems or kind=contracts"
            )
        yield [_csv_table(data, kind)]
        return
    if suffix != ".xlsx":
        raise SurveyFileError(
            f"{filename or 'the file'} is neither .csv nor .xlsx; upload the survey as an Excel workbook "
            "(.xlsx) or as CSV UTF-8 (.csv)"
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            expanded = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        raise SurveyFileError(
            "the file is not an Excel workbook (.xlsx); save it from Excel as .xlsx, or upload CSV UTF-8"
        ) from None
    if expanded > max_bytes * MAX_EXPANSION:
        raise SurveyFileError(f"the workbook expands to {expanded:,} bytes, more than this service reads")
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many kinds for a damaged workbook
        raise SurveyFileError(
            f"the workbook cannot be read ({type(exc).__name__}); save it again as .xlsx"
        ) from None
    try:
        by_name = {name.strip().casefold(): name for name in workbook.sheetnames}
        tables = []
        for sheet_kind in KINDS:
            if kind is not None and sheet_kind != kind:
                continue
            name = by_name.get(SHEETS[sheet_kind].casefold())
            if name is None:
                continue
            sheet = workbook[name]
            header_rows = list(sheet.iter_rows(min_row=1, max_row=1, values_only=True))
            header = list(header_rows[0]) if header_rows else []
            max_row = sheet.max_row
            tables.append(
                Table(
                    kind=sheet_kind,
                    header=header,
                    rows=_xlsx_rows(sheet),
                    source="xlsx",
                    sheet=SHEETS[sheet_kind],
                    total=max_row - 1 if isinstance(max_row, int) and max_row > 1 else None,
                )
            )
        if not tables:
            wanted = SHEETS[kind] if kind else "Systems or Contracts"
            raise SurveyFileError(
                f"the workbook has no {wanted} sheet (it has: {', '.join(workbook.sheetnames)}); "
                "download the template: GET /api/v1/survey/template.xlsx"
            )
        yield tables
    finally:
        workbook.close()


# --- writing -------------------------------------------------------------------------------------


def _csv_value(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return escape_cell(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _xlsx_value(value: Cell) -> Cell:
    if isinstance(value, str):
        return escape_cell(value)
    return value


def _encode_csv(rows: Sequence[Sequence[Cell]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows([_csv_value(v) for v in row] for row in rows)
    return buffer.getvalue()


def headers(kind: SurveyKind) -> list[str]:
    return [c.header for c in COLUMNS[kind]]


def template_csv(kind: SurveyKind) -> bytes:
    """The header row of one kind, as CSV UTF-8 with a BOM."""
    return (CSV_BOM + _encode_csv([headers(kind)])).encode()


async def csv_chunks(kind: SurveyKind, rows: AsyncIterable[Sequence[Cell]], *, every: int = 500) -> Any:
    """CSV UTF-8 (with BOM) of a header row then ``rows``, yielded in chunks of bytes as rows arrive."""
    yield (CSV_BOM + _encode_csv([headers(kind)])).encode()
    pending: list[Sequence[Cell]] = []
    async for row in rows:
        pending.append(row)
        if len(pending) >= every:
            yield _encode_csv(pending).encode()
            pending = []
    if pending:
        yield _encode_csv(pending).encode()


def _sheet(workbook: Workbook, title: str, header: Sequence[str], widths: Sequence[int]) -> Any:
    sheet = workbook.create_sheet(title)
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    cells = []
    for text in header:
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = Font(bold=True)
        cells.append(cell)
    sheet.append(cells)
    return sheet


def _readme(workbook: Workbook) -> None:
    sheet = workbook.create_sheet(README_SHEET)
    for index, width in enumerate((14, 28, 10, 60, 30, 60), start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    for row in readme_rows():
        cells = []
        for text in row:
            cell = WriteOnlyCell(sheet, value=escape_cell(text))
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            cells.append(cell)
        sheet.append(cells)


async def write_xlsx(out: IO[bytes], sheets: dict[SurveyKind, AsyncIterable[Sequence[Cell]] | None]) -> None:
    """A survey workbook: a Systems and a Contracts sheet (header row, then the rows given, if any) and
    the Read me sheet. Write-only mode: rows are not kept in memory."""
    workbook = Workbook(write_only=True)
    for kind in KINDS:
        columns = COLUMNS[kind]
        sheet = _sheet(workbook, SHEETS[kind], headers(kind), [max(12, len(c.header) + 4) for c in columns])
        rows = sheets.get(kind)
        if rows is None:
            continue
        async for row in rows:
            sheet.append([_xlsx_value(v) for v in row])
    _readme(workbook)
    workbook.save(out)


async def template_xlsx() -> bytes:
    buffer = io.BytesIO()
    await write_xlsx(buffer, {})
    return buffer.getvalue()


__all__ = [
    "CSV_BOM",
    "csv_chunks",
    "headers",
    "open_survey",
    "template_csv",
    "template_xlsx",
    "write_xlsx",
]
