"""The transaction every service's use cases run in, as the ports its application layer declares.

A service's ``UnitOfWork`` port subclasses :class:`UnitOfWork` and names its repositories; its SQL
adapter is ``estate_runtime.db.SessionUnitOfWork``, its test fake keeps records in memory. No framework
and no IO, for a service's application layer (not its domain: the outbox port names the contracts'
``Envelope``).
"""

from __future__ import annotations

import abc
from types import TracebackType
from typing import Self

from estate_contracts.envelope import Envelope


class Outbox(abc.ABC):
    """Events to publish; written in the same transaction as the change that caused them."""

    @abc.abstractmethod
    async def put(self, envelope: Envelope, *, topic: str) -> None: ...


class UnitOfWork(abc.ABC):
    """One transaction: what a subclass names commits or rolls back together. Leaving the ``async with``
    block without committing rolls back."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.rollback()

    @abc.abstractmethod
    async def commit(self) -> None: ...

    @abc.abstractmethod
    async def rollback(self) -> None: ...

    @abc.abstractmethod
    async def flush(self) -> None: ...


__all__ = ["Outbox", "UnitOfWork"]
