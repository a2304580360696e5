"""The outbox relay: publishes stored events to Kafka, at least once and in order per key.

Guarantees:

* **At least once.** A row is marked published only after the broker acknowledged it (``acks=all``).
  A crash between the ack and the commit re-sends the row; consumers deduplicate on the event id.
* **Per-key order.** Events of one ``(topic, key)`` are sent in id (write) order. A row is sent only
  when no earlier unpublished row of its key is outside the batch in hand (backing off after a failure,
  or being sent by another relay right now), and within a batch the rows of a key go out one after the
  other: if one fails, the later rows of its key are not sent this round.
* **Outages only delay.** A broker failure becomes a row's ``attempts``, ``last_error`` and an
  exponential, capped, jittered ``next_attempt_at``; the loop logs, waits and carries on.
* **Several relays.** On PostgreSQL each batch is claimed ``FOR UPDATE SKIP LOCKED``, so relays share
  the work and never send one row twice in a pass. On SQLite run one relay.
* **Woken on commit (PostgreSQL).** A trigger on ``outbox`` notifies ``estate_outbox`` (delivered only at
  commit; see :func:`estate_eventing.migrations.create_outbox_notify`) and the relay, listening on one
  connection of its own, starts a pass at once instead of at its next poll. The poll stays as the
  fallback: a lost notification or listening connection only delays to the next poll, and a lost
  connection is re-established with backoff. SQLite has no notifications: there the relay only polls.
* **Retention and replay.** Published rows are kept for ``retention_days`` and then purged; within
  that window :func:`replay` makes rows unpublished again so that they are re-sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from estate_eventing import metrics
from estate_eventing.clock import Clock, as_utc, utc_now
from estate_eventing.migrations import OUTBOX_CHANNEL
from estate_eventing.publisher import OutboundMessage, Publisher
from estate_eventing.settings import RelaySettings
from estate_eventing.tables import outbox_table

log = logging.getLogger(__name__)

_ERROR_LIMIT = 2000
_PURGE_CHUNK = 10_000
_LISTEN_TIMEOUT_S = 10.0
_LISTEN_RETRY_MIN_S = 1.0
_LISTEN_RETRY_MAX_S = 60.0

ot = outbox_table


@dataclass(frozen=True, slots=True)
class _Row:
    id: int
    topic: str
    key: str
    payload: str
    headers: dict[str, str]
    attempts: int

    def message(self) -> OutboundMessage:
        return OutboundMessage(
            topic=self.topic,
            key=self.key.encode(),
            value=self.payload.encode(),
            headers=[(name, value.encode()) for name, value in self.headers.items()],
        )


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What one pass did: rows claimed, published, failed, and rows held back behind a failure."""

    claimed: int
    published: int
    failed: int

    @property
    def held_back(self) -> int:
        return self.claimed - self.published - self.failed


@dataclass(frozen=True, slots=True)
class OutboxStatus:
    pending: int
    failing: int
    published: int
    oldest_pending_at: datetime | None


def _sessionmaker(db: async_sessionmaker[AsyncSession] | AsyncEngine) -> async_sessionmaker[AsyncSession]:
    if isinstance(db, AsyncEngine):
        return async_sessionmaker(db, expire_on_commit=False)
    return db


def _require_aware(name: str, value: datetime | None) -> None:
    if value is not None and value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")


def _listenable_engine(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncEngine | None:
    """The sessionmaker's engine if it is PostgreSQL through asyncpg (the only driver listened with)."""
    bind = sessionmaker.kw.get("bind")
    if (
        isinstance(bind, AsyncEngine)
        and bind.dialect.name == "postgresql"
        and bind.dialect.driver == "asyncpg"
    ):
        return bind
    return None


class _OutboxListener:
    """One connection of the engine's pool, kept checked out, that ``LISTEN``s on ``estate_outbox``.

    Every notification sets :attr:`wake`. Nothing here raises: a failure to listen, or a connection that
    drops, is logged once and retried with backoff (1 s doubling to 60 s) when the relay calls
    :meth:`ensure` before a pass; meanwhile the relay polls. A dropped connection also sets :attr:`wake`,
    so that the relay makes a pass (and tries to listen again) at once rather than at its next poll.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self.wake = asyncio.Event()
        self._connection: AsyncConnection | None = None
        self._driver: Any = None  # the asyncpg connection (asyncpg has no type stubs)
        self._lost = False
        self._failures = 0
        self._retry_at = 0.0

    @property
    def listening(self) -> bool:
        return self._driver is not None and not self._lost and not self._driver.is_closed()

    @property
    def lost(self) -> bool:
        """The listening connection dropped and has not been replaced yet."""
        return self._connection is not None and not self.listening

    async def ensure(self) -> None:
        """Listen if not listening and the backoff allows; never raises."""
        if self.listening:
            return
        if self._connection is not None:
            log.warning("outbox relay: the listening connection dropped; polling until it is back")
            await self._discard()
            self._failures = 1  # the warning is said: retries are quiet
        if time.monotonic() < self._retry_at:
            return
        try:
            await self._listen()
        except Exception as exc:
            self._failures += 1
            retry_s = min(_LISTEN_RETRY_MIN_S * 2 ** min(self._failures - 1, 16), _LISTEN_RETRY_MAX_S)
            self._retry_at = time.monotonic() + retry_s
            if self._failures == 1:
                log.warning(
                    "outbox relay: cannot listen for outbox commits (%s: %s); polling, retrying in %.0fs",
                    type(exc).__name__,
                    exc,
                    retry_s,
                )
            else:
                log.debug("outbox relay: listening failed again (%s); retrying in %.0fs", exc, retry_s)
            return
        if self._failures:
            log.info("outbox relay: listening for outbox commits again")
        else:
            log.info("outbox relay: listening for outbox commits on %r", OUTBOX_CHANNEL)
        self._failures = 0
        self._retry_at = 0.0

    async def _listen(self) -> None:
        connection = await asyncio.wait_for(self._engine.connect(), _LISTEN_TIMEOUT_S)
        try:
            driver: Any = (await connection.get_raw_connection()).driver_connection
            if driver is None:
                raise RuntimeError("the pooled connection has no driver connection")
            await asyncio.wait_for(driver.add_listener(OUTBOX_CHANNEL, self._on_notify), _LISTEN_TIMEOUT_S)
            driver.add_termination_listener(self._on_terminated)
        except BaseException:
            with contextlib.suppress(Exception):
                await connection.invalidate()
            with contextlib.suppress(Exception):
                await connection.close()
            raise
        self._connection, self._driver, self._lost = connection, driver, False

    def _on_notify(self, driver: Any, pid: int, channel: str, payload: str) -> None:
        self.wake.set()

    def _on_terminated(self, driver: Any) -> None:
        if driver is self._driver:
            self._lost = True
            self.wake.set()

    async def _discard(self) -> None:
        """Give the connection up. It is invalidated rather than returned, so no pooled connection keeps
        listening."""
        connection, self._connection, self._driver, self._lost = self._connection, None, None, False
        if connection is None:
            return
        with contextlib.suppress(Exception):
            await connection.invalidate()
        with contextlib.suppress(Exception):
            await connection.close()

    async def close(self) -> None:
        await self._discard()


class OutboxRelay:
    """Publishes outbox rows through a :class:`Publisher`; see the module docstring for guarantees."""

    def __init__(
        self,
        db: async_sessionmaker[AsyncSession] | AsyncEngine,
        publisher: Publisher,
        *,
        settings: RelaySettings | None = None,
        clock: Clock = utc_now,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._sessionmaker = _sessionmaker(db)
        self._publisher = publisher
        self.settings = settings or RelaySettings()
        self._clock = clock
        self._jitter = jitter

    # --- one pass ------------------------------------------------------------------------------

    async def relay_once(self) -> int:
        """Publish at most one batch of due rows; the number published."""
        return (await self.relay_batch()).published

    async def relay_batch(self) -> BatchResult:
        async with self._sessionmaker() as session, session.begin():
            rows = await self._claim(session, as_utc(self._clock()))
            if not rows:
                return BatchResult(0, 0, 0)
            outcomes = await self._publish_in_key_order(rows)
            now = as_utc(self._clock())
            sent = [row for row in rows if row.id in outcomes and outcomes[row.id] is None]
            failed = [(row, exc) for row in rows if (exc := outcomes.get(row.id)) is not None]
            if sent:
                await session.execute(
                    update(ot).where(ot.c.id.in_([row.id for row in sent])).values(published_at=now)
                )
            if failed:
                await session.execute(
                    update(ot)
                    .where(ot.c.id == bindparam("row_id"))
                    .values(
                        attempts=bindparam("new_attempts"),
                        last_error=bindparam("error"),
                        next_attempt_at=bindparam("retry_at"),
                    ),
                    [
                        {
                            "row_id": row.id,
                            "new_attempts": row.attempts + 1,
                            "error": (f"{type(exc).__name__}: {exc}")[:_ERROR_LIMIT],
                            "retry_at": now + self.backoff(row.attempts + 1),
                        }
                        for row, exc in failed
                    ],
                )
        for topic, count in Counter(row.topic for row in sent).items():
            metrics.OUTBOX_PUBLISHED.labels(topic=topic).inc(count)
        for topic, count in Counter(row.topic for row, _ in failed).items():
            metrics.OUTBOX_FAILED.labels(topic=topic).inc(count)
        if failed:
            log.warning(
                "outbox: %d of %d rows failed to publish, will retry: %s",
                len(failed),
                len(rows),
                failed[0][1],
            )
        return BatchResult(claimed=len(rows), published=len(sent), failed=len(failed))

    def backoff(self, attempts: int) -> timedelta:
        """Exponential from ``min_backoff_ms``, capped at ``max_backoff_s``, with "equal jitter".

        Half the delay is fixed, so a retry never comes sooner than half its step; the other half is
        random, so rows (and relays) that failed together do not retry in lockstep.
        """
        base = self.settings.min_backoff_ms / 1000 * 2 ** min(max(attempts - 1, 0), 40)
        delay = min(base, self.settings.max_backoff_s)
        return timedelta(seconds=delay / 2 + delay / 2 * self._jitter())

    async def _claim(self, session: AsyncSession, now: datetime) -> list[_Row]:
        dialect = session.get_bind().dialect.name
        query = (
            select(ot.c.id, ot.c.topic, ot.c.key, ot.c.payload, ot.c.headers, ot.c.attempts)
            .where(ot.c.published_at.is_(None), ot.c.next_attempt_at <= now)
            .order_by(ot.c.id)
            .limit(self.settings.batch_size)
        )
        if dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = [_Row(*record) for record in (await session.execute(query)).all()]
        if not rows:
            return rows
        # An earlier unpublished row of a key that is not in this batch is either backing off or being
        # sent by another relay: the key's later rows must wait for it.
        ids = [row.id for row in rows]
        blockers = await session.execute(
            select(ot.c.topic, ot.c.key, func.min(ot.c.id))
            .where(
                ot.c.published_at.is_(None),
                ot.c.key.in_({row.key for row in rows}),
                ot.c.id < ids[-1],
                ot.c.id.not_in(ids),
            )
            .group_by(ot.c.topic, ot.c.key)
        )
        first_blocker = {(topic, key): first for topic, key, first in blockers.all()}
        if not first_blocker:
            return rows
        return [row for row in rows if row.id < first_blocker.get((row.topic, row.key), row.id + 1)]

    async def _publish_in_key_order(self, rows: Sequence[_Row]) -> dict[int, Exception | None]:
        """Send in waves: the first row of every key, then the second of every key whose first went...

        Keys proceed concurrently; the rows of one key never overtake each other, and a failure stops
        its key for this round. Rows not attempted have no outcome.
        """
        chains: dict[tuple[str, str], deque[_Row]] = {}
        for row in rows:
            chains.setdefault((row.topic, row.key), deque()).append(row)
        live = list(chains.values())
        outcomes: dict[int, Exception | None] = {}
        while live:
            wave = [chain.popleft() for chain in live]
            results = await self._publisher.send_batch([row.message() for row in wave])
            survivors = []
            for chain, row, result in zip(live, wave, results, strict=True):
                outcomes[row.id] = result
                if result is None and chain:
                    survivors.append(chain)
            live = survivors
        return outcomes

    # --- the loop ------------------------------------------------------------------------------

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Relay until ``stop`` is set. Database and broker failures are logged and waited out.

        Between passes the relay waits for ``stop``, the poll interval, or (PostgreSQL, ``listen`` on) a
        notification that an outbox row was committed; a notification that arrives during a pass starts
        another pass straight after it.
        """
        poll = self.settings.poll_interval_ms / 1000
        next_purge = time.monotonic()
        db_failures = 0
        listener = self._listener()
        try:
            while not stop.is_set():
                if listener is not None:
                    await listener.ensure()
                    listener.wake.clear()  # from here on, a commit starts another pass
                delay = poll
                failed = False
                try:
                    if time.monotonic() >= next_purge:
                        await self.purge()
                        next_purge = time.monotonic() + self.settings.purge_interval_s
                    result = await self.relay_batch()
                    db_failures = 0
                    if result.claimed >= self.settings.batch_size and result.published:
                        delay = 0.0  # a backlog: go straight on
                except Exception:
                    failed = True
                    db_failures += 1
                    delay = self.backoff(db_failures).total_seconds()
                    log.exception("outbox relay pass failed; retrying in %.1fs", delay)
                if not delay:
                    await asyncio.sleep(0)  # let other tasks run between back-to-back batches
                    continue
                # A failed pass backs off whatever is committed meanwhile; otherwise a commit wakes it.
                wake = listener.wake if listener is not None and not failed else None
                cause = await _pause(stop, wake, delay)
                if cause is not None and not failed:
                    if cause == "notify" and listener is not None and listener.lost:
                        cause = "listener_lost"
                    metrics.OUTBOX_WAKEUPS.labels(cause=cause).inc()
        finally:
            if listener is not None:
                await listener.close()

    def _listener(self) -> _OutboxListener | None:
        if not self.settings.listen:
            return None
        engine = _listenable_engine(self._sessionmaker)
        if engine is None:
            log.info(
                "outbox relay: no commit notifications on this database; polling every %d ms",
                self.settings.poll_interval_ms,
            )
            return None
        return _OutboxListener(engine)

    # --- operations ----------------------------------------------------------------------------

    async def purge(self) -> int:
        """Delete rows published longer ago than the retention window."""
        cutoff = as_utc(self._clock()) - timedelta(days=self.settings.retention_days)
        return await purge_published(self._sessionmaker, published_before=cutoff)

    async def replay(self, since: datetime, topic: str | None = None, until: datetime | None = None) -> int:
        return await replay(self._sessionmaker, since=since, until=until, topic=topic, now=self._clock())

    async def status(self) -> OutboxStatus:
        return await outbox_status(self._sessionmaker)


async def _pause(stop: asyncio.Event, wake: asyncio.Event | None, seconds: float) -> str | None:
    """Wait for ``stop``, ``wake`` or ``seconds``; what ended it: None (stop), "notify" or "poll"."""
    waiters = [asyncio.ensure_future(stop.wait())]
    if wake is not None:
        waiters.append(asyncio.ensure_future(wake.wait()))
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
    if stop.is_set():
        return None
    if wake is not None and wake.is_set():
        return "notify"
    return "poll"


async def replay(
    db: async_sessionmaker[AsyncSession] | AsyncEngine,
    *,
    since: datetime,
    until: datetime | None = None,
    topic: str | None = None,
    now: datetime | None = None,
) -> int:
    """Mark retained published rows created in ``[since, until)`` (optionally of one topic) unpublished.

    The relay then re-sends them in their original order; consumers deduplicate on the event id, so a
    replay repairs a broker that lost its log without repeating any effect. Returns the rows marked.
    """
    _require_aware("since", since)
    _require_aware("until", until)
    conditions: list[Any] = [ot.c.published_at.is_not(None), ot.c.created_at >= as_utc(since)]
    if until is not None:
        conditions.append(ot.c.created_at < as_utc(until))
    if topic is not None:
        conditions.append(ot.c.topic == topic)
    sessionmaker = _sessionmaker(db)
    async with sessionmaker() as session, session.begin():
        result = await session.execute(
            update(ot)
            .where(*conditions)
            .values(
                published_at=None,
                attempts=0,
                last_error=None,
                next_attempt_at=as_utc(now or utc_now()),
            )
        )
    return cast(CursorResult[Any], result).rowcount


async def purge_published(
    db: async_sessionmaker[AsyncSession] | AsyncEngine, *, published_before: datetime
) -> int:
    """Delete rows published before the cutoff, in chunks so no transaction grows without bound."""
    _require_aware("published_before", published_before)
    sessionmaker = _sessionmaker(db)
    total = 0
    while True:
        chunk = (
            select(ot.c.id)
            .where(ot.c.published_at < as_utc(published_before))
            .order_by(ot.c.id)
            .limit(_PURGE_CHUNK)
            .scalar_subquery()
        )
        async with sessionmaker() as session, session.begin():
            result = await session.execute(delete(ot).where(ot.c.id.in_(chunk)))
        deleted = cast(CursorResult[Any], result).rowcount
        total += deleted
        if deleted < _PURGE_CHUNK:
            return total


async def outbox_status(db: async_sessionmaker[AsyncSession] | AsyncEngine) -> OutboxStatus:
    """Counts of rows waiting (of which failing at least once) and published, and the oldest waiting."""
    unpublished = ot.c.published_at.is_(None)
    query = select(
        func.count().filter(unpublished),
        func.count().filter(unpublished, ot.c.attempts > 0),
        func.count().filter(ot.c.published_at.is_not(None)),
        func.min(ot.c.created_at).filter(unpublished),
    )
    async with _sessionmaker(db)() as session:
        pending, failing, published, oldest = (await session.execute(query)).one()
    return OutboxStatus(
        pending=pending,
        failing=failing,
        published=published,
        oldest_pending_at=as_utc(oldest) if oldest is not None else None,
    )
