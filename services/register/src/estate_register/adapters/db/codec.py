"""Mapping between domain records and database rows, driven by the domain classes' type hints.

One codec per domain class: a row dict holds plain column values (enums as their value, value objects
as JSON-ready dicts, UUID lists as strings); the domain object holds typed values. Field names are the
same on both sides, so a new field is one line in the record class and one in the migration.
"""

from __future__ import annotations

import dataclasses
import types
import typing
import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Generic, TypeVar, get_args, get_origin

from estate_register.domain.model import to_plain

T = TypeVar("T")


def _decode(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in get_args(tp) if a is not type(None)]
        return _decode(inner[0], value)
    if origin is tuple:
        item = get_args(tp)[0]
        return tuple(_decode(item, v) for v in value)
    if isinstance(tp, type):
        if issubclass(tp, Enum):
            return tp(value)
        if tp is uuid.UUID:
            return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
        if tp is Decimal:
            return Decimal(str(value))
        if tp is datetime:
            return value if isinstance(value, datetime) else datetime.fromisoformat(value)
        if tp is date:
            return value if isinstance(value, date) else date.fromisoformat(value)
        if dataclasses.is_dataclass(tp):
            hints = typing.get_type_hints(tp)
            return tp(**{k: _decode(hints[k], v) for k, v in value.items() if k in hints})
    return value


class Codec(Generic[T]):
    """Row <-> domain object for one domain dataclass, skipping fields the row does not store."""

    def __init__(self, cls: type[T], *, skip: frozenset[str] = frozenset({"events"})) -> None:
        self.cls = cls
        hints = typing.get_type_hints(cls)
        self.fields = {
            f.name: hints[f.name]
            for f in dataclasses.fields(cls)  # type: ignore[arg-type]
            if f.name not in skip and f.init
        }
        self.names = tuple(self.fields)

    def to_row(self, obj: T) -> dict[str, Any]:
        """Column values: scalars as they are (the column types convert them), enums by value, lists of
        values and value objects as JSON-ready lists. Survey imports call this for every record."""
        row: dict[str, Any] = {}
        for name in self.names:
            value = getattr(obj, name)
            if isinstance(value, Enum):
                value = value.value
            elif isinstance(value, tuple):
                value = to_plain(value)
            row[name] = value
        return row

    def from_row(self, row: typing.Mapping[str, Any] | Any) -> T:
        return self.cls(**{name: _decode(tp, row[name]) for name, tp in self.fields.items() if name in row})

    def decode_fields(self, values: typing.Mapping[str, Any]) -> dict[str, Any]:
        """Typed domain values for the given plain (JSON) values; names the codec does not know pass through."""
        return {
            name: _decode(self.fields[name], v) if name in self.fields else v for name, v in values.items()
        }
