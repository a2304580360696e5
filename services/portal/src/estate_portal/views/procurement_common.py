"""What the requester's pages (:mod:`.requests`) and the TDA's pages (:mod:`.reviews`) both need of the
procurement service's technology requests: their API paths and ETags, the words for a decision's outcome,
its conditions as table rows, instants as Europe/London times, GOV.UK date inputs and form fields."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

from estate_portal.backends import Api
from estate_portal.errors import ApiProblem
from estate_portal.web import long_date, words
from estate_runtime.dates import LONDON

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

OUTCOME_WORDS = {
    "approved": "Approved",
    "approved_with_conditions": "Approved with conditions",
    "not_approved": "Not approved",
}
"""A decision's outcome in words."""


def form_text(form: Mapping[str, Any], name: str) -> str:
    """A posted field's text, trimmed ("" when it is absent or a file)."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def request_path(key: str, tail: str = "") -> str:
    """The procurement API's path of a request (by reference or id), with ``tail`` after it."""
    return f"/api/v1/requests/{quote(key, safe='')}{tail}"


def if_match(etag: str) -> dict[str, str] | None:
    """The ``If-Match`` header for a change made on a page that carried the request's ETag."""
    return {"If-Match": etag} if etag else None


async def read_request(api: Api, key: str) -> tuple[dict[str, Any], str]:
    """The request as the signed-in person may see it, and its ETag (for If-Match on the next change)."""
    answer = await api.request("procurement", "GET", request_path(key))
    assert answer is not None
    body: dict[str, Any] = answer.json()
    return body, answer.headers.get("etag", "")


def refusal_status(problem: ApiProblem) -> int:
    """The status of a form shown again after the service refused it: a conflict or a stale page keeps
    its own; anything else is an invalid form (422)."""
    return problem.status if problem.status in (409, 412) else 422


def london_instant(value: Any) -> datetime | None:
    """An ISO instant from the API in Europe/London (None when there is none or it is not one)."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment.astimezone(LONDON) if moment.tzinfo else moment


def condition_rows(conditions: Iterable[Mapping[str, Any]]) -> list[list[dict[str, str]]]:
    """A decision's conditions as the rows of a table headed Condition, Owner, Due and Status."""
    rows = []
    for condition in conditions:
        owner = condition.get("owner") or {}
        rows.append(
            [
                {"text": condition.get("text", "")},
                {"text": f"{owner.get('name')} ({owner.get('email')})"},
                {"text": long_date(condition.get("due_date"))},
                {"text": "Overdue" if condition.get("overdue") else words(condition.get("status"))},
            ]
        )
    return rows


def date_items(values: tuple[str, str, str], *, wrong: bool) -> list[dict[str, Any]]:
    """The day, month and year inputs of a GOV.UK date input, marked as in error when ``wrong``."""
    return [
        {
            "name": name,
            "value": value,
            "classes": f"govuk-input--width-{width}" + (" govuk-input--error" if wrong else ""),
        }
        for name, value, width in zip(("day", "month", "year"), values, (2, 2, 4), strict=True)
    ]
