"""Value types shared by the event payloads of every service.

The rules here are part of the wire contract, so they are chosen to be hard to get wrong and easy to
keep: money is a GBP amount with at most two decimal places, written in JSON as a string ("1250.00") so
that no consumer ever rounds it through a binary float; calendar dates are ISO dates (Europe/London
calendar days); instants are timezone-aware; enumerated values are lower-case ``Literal`` strings so that
the JSON Schema lists them. Every nested model reads leniently (unknown keys are ignored), like the
payloads that carry it.

Changing any constraint below changes the schema of every event that uses it: the compatibility check
(``python -m estate_contracts.schemas check``) treats that as a breaking change.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, StringConstraints, WithJsonSchema

MONEY_PATTERN = r"^\d{1,13}(\.\d{1,2})?$"


def _gbp_json(value: Decimal) -> str:
    # Always two decimal places, never exponent notation: Decimal("1E+3") is written "1000.00".
    return f"{value:.2f}"


Money = Annotated[
    Decimal,
    Field(ge=0, max_digits=15, decimal_places=2),
    PlainSerializer(_gbp_json, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": MONEY_PATTERN,
            "description": "An amount in GBP as a decimal string: not negative, under 10 trillion, "
            "at most two decimal places.",
        }
    ),
]
"""A non-negative GBP amount below 10^13 with at most two decimal places; a Decimal in Python, a string
such as "160000.00" in JSON."""

ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
"""A name, title or one-line reference: not blank, at most 300 characters."""

LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]
"""A paragraph written by a person (a rationale, a problem statement): not blank."""

ReferenceCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
"""A key of the register's reference data (a service area or a capability): its code or its name, as the
register knows it, e.g. "revenues-benefits"."""

PersonId = Annotated[str, StringConstraints(min_length=1, max_length=200)]
"""A person's stable identity-provider subject (Entra ``oid`` in a council), never their e-mail address."""

Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
]
"""An e-mail address; the check is deliberately loose (one @, a dot in the domain)."""

CouncilCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]
"""A council's code in the register's reference data, e.g. CCC (Cambridge City), SCDC (South
Cambridgeshire), HDC (Huntingdonshire). A code, not a name, and not an enumeration, so that a national
deployment adds councils as data without a schema change."""

RequestCategory = Literal["it", "iot_protech"]
"""Traditional IT, or IoT / pro-tech (fleet, sensors, devices in council properties)."""

Hosting = Literal["on_premises", "saas", "cloud", "hybrid"]
"""Where a system runs: on council or 3C ICT premises, bought as a service, on cloud infrastructure that
the council or its partner runs, or a mix."""


class ContractModel(BaseModel):
    """Base of nested values inside payloads: immutable, and unknown keys are ignored when reading."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class Person(ContractModel):
    """A member of staff acting in, or named by, an event; the id is the stable key, name and e-mail are
    what they were when the event happened. A consumer that knows people by identity-provider subject
    matches on ``id``; one that does not (the register's people records hold work e-mail addresses, not
    subjects) matches on ``email``, case-insensitively, and never creates a person from an event."""

    id: PersonId = Field(description="Identity-provider subject of the person.")
    name: ShortText = Field(description="Display name at the time of the event.")
    email: Email = Field(description="E-mail address at the time of the event.")
