"""The notifications service's consumers, as consumer group ``estate-notifications-worker``:

* the register's contract events keep the renewal watch; its system events keep the system owners who are
  copied into alerts;
* the procurement service's request events become notices (the TDA told of new requests, requesters of
  information requests and decisions) and keep the conditions whose due dates the sweep watches.

Translation happens here, at the edge; each handler runs inside the inbox transaction the eventing
runtime opens, so an event delivered twice has its effect once. A snapshot older than the one held
changes nothing (its version decides). An event of a version this service does not know goes to the
dead-letter topic ``estate.dlq.estate-notifications-worker``.
"""

from __future__ import annotations

from faststream.kafka import KafkaBroker
from sqlalchemy.ext.asyncio import AsyncSession

from estate_contracts import procurement_events as pe
from estate_contracts import register_events as re
from estate_contracts.envelope import Envelope
from estate_contracts.topics import PROCUREMENT_REQUESTS, REGISTER_CONTRACTS, REGISTER_SYSTEMS
from estate_eventing.consumer import Handler, HandlerKey, Subscription, subscribe_idempotent
from estate_eventing.settings import BrokerSettings
from estate_notifications.application import notices
from estate_notifications.application.watch import PolicyBook, project_contract, project_system
from estate_notifications.bootstrap import Container

GROUP_ID = "estate-notifications-worker"
CONSUMER_NAME = "notifications.watch"

ContractEvent = (
    re.ContractRecorded
    | re.ContractChanged
    | re.ContractLifecycleChanged
    | re.ContractRetired
    | re.RenewalDecisionRecorded
)
SystemEvent = re.SystemRecorded | re.SystemChanged | re.SystemLifecycleChanged | re.SystemRetired


def handlers(container: Container) -> dict[HandlerKey, Handler]:
    async def on_contract(session: AsyncSession, payload: ContractEvent, envelope: Envelope) -> None:
        book = await PolicyBook.load(session, container.policy)
        await project_contract(
            session, payload.contract, now=container.clock(), book=book, calendar=container.calendar
        )

    async def on_system(session: AsyncSession, payload: SystemEvent, envelope: Envelope) -> None:
        await project_system(session, payload.system)

    async def on_submitted(
        session: AsyncSession, payload: pe.RequestSubmitted | pe.RequestResubmitted, envelope: Envelope
    ) -> None:
        await notices.on_submitted(
            session, payload, envelope, config=container.notice_config, now=container.clock()
        )

    async def on_information(
        session: AsyncSession, payload: pe.RequestInformationRequested, envelope: Envelope
    ) -> None:
        await notices.on_information_requested(
            session, payload, envelope, config=container.notice_config, now=container.clock()
        )

    async def on_decided(session: AsyncSession, payload: pe.RequestDecided, envelope: Envelope) -> None:
        await notices.on_decided(
            session, payload, envelope, config=container.notice_config, now=container.clock()
        )

    return {
        re.ContractRecorded: on_contract,
        re.ContractChanged: on_contract,
        re.ContractLifecycleChanged: on_contract,
        re.ContractRetired: on_contract,
        re.RenewalDecisionRecorded: on_contract,
        re.SystemRecorded: on_system,
        re.SystemChanged: on_system,
        re.SystemLifecycleChanged: on_system,
        re.SystemRetired: on_system,
        pe.RequestSubmitted: on_submitted,
        pe.RequestResubmitted: on_submitted,
        pe.RequestInformationRequested: on_information,
        pe.RequestDecided: on_decided,
        pe.RequestConditionMet: notices.on_condition_met,
        pe.RequestReopened: notices.on_reopened,
    }


def subscribe(broker: KafkaBroker, container: Container, settings: BrokerSettings) -> Subscription:
    """Consume the register's contract and system topics and the procurement requests topic."""
    return subscribe_idempotent(
        broker,
        topics=[REGISTER_CONTRACTS, REGISTER_SYSTEMS, PROCUREMENT_REQUESTS],
        group_id=GROUP_ID,
        consumer_name=CONSUMER_NAME,
        sessionmaker=container.sessions,
        handlers=handlers(container),
        settings=settings,
    )
