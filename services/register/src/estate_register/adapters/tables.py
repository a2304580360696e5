"""Writing any table (a header row and rows of cells) as CSV or XLSX, by the survey export's rules:

* CSV is UTF-8 with a byte-order mark (so Excel opens it as UTF-8), CRLF line ends;
* every text cell goes through the survey's :func:`escape_cell`, so text a spreadsheet could run as a
  formula gets one leading apostrophe (and is a string cell in XLSX, never a formula);
* XLSX is written in openpyxl's write-only mode, bold frozen header, money as numbers with pence,
  dates as dates.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from estate_register.adapters.survey.files import CSV_BOM
from estate_register.application.survey import escape_cell

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return escape_cell(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return str(value)


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    buffer = io.StringIO()
    buffer.write(CSV_BOM)
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([escape_cell(h) for h in header])
    writer.writerows([_csv_value(v) for v in row] for row in rows)
    return buffer.getvalue().encode()


def _xlsx_cell(sheet: Any, value: Any) -> Any:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return escape_cell(value)
    if isinstance(value, Decimal):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = "#,##0.00"
        return cell
    if isinstance(value, date) and not isinstance(value, datetime):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = "yyyy-mm-dd"
        return cell
    return value


def xlsx_bytes(title: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """A workbook of one sheet named ``title`` (cut to Excel's 31 characters)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title[:31])
    for index, text in enumerate(header, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = max(12, min(len(text) + 4, 60))
    sheet.freeze_panes = "A2"
    head = []
    for text in header:
        cell = WriteOnlyCell(sheet, value=escape_cell(text))
        cell.font = Font(bold=True)
        head.append(cell)
    sheet.append(head)
    for row in rows:
        sheet.append([_xlsx_cell(sheet, v) for v in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


__all__ = ["CSV", "XLSX", "csv_bytes", "xlsx_bytes"]
