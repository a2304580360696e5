"""The declarative base every notifications record uses: the shared naming convention, aware instants,
money as Decimal and JSON for lists nobody queries inside."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, MetaData
from sqlalchemy.orm import DeclarativeBase

from estate_runtime.db import NAMING, Money, UtcDateTime


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {
        datetime: UtcDateTime(),
        Decimal: Money,
        dict[str, Any]: JSON,
        list[Any]: JSON,
        list[str]: JSON,
        list[int]: JSON,
    }
