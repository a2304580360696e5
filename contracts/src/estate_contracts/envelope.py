"""The envelope every Estate event travels in.

CloudEvents 1.0 attribute names (id, source, type, specversion, time, subject, datacontenttype) plus
the Estate extensions: ``dataversion`` (the version of the payload schema for that event type),
``correlationid`` (one id from the HTTP request that started the work to the last event it causes) and
``causationid`` (the id of the event that directly caused this one, if any).

On Kafka the envelope travels in CloudEvents *structured* mode: the message value is the whole envelope as
JSON, the key is the aggregate id (``subject``), and the routing attributes are repeated as ``ce_*``
headers so that a consumer or a dead-letter reader can route without parsing the value.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

SPECVERSION: Literal["1.0"] = "1.0"
CONTENT_TYPE: Literal["application/json"] = "application/json"


class Envelope(BaseModel):
    """A CloudEvents-style envelope around a versioned JSON payload.

    Consumers read envelopes leniently (unknown attributes are ignored) so that producers may add
    attributes without breaking anyone; producers never rename or retype an attribute in place.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: uuid.UUID = Field(description="Unique id of this event; consumers deduplicate on it.")
    source: str = Field(
        min_length=1, description="URI-reference of the producing service, e.g. /estate/register."
    )
    type: str = Field(min_length=1, description="Event type, e.g. estate.register.system.recorded.")
    specversion: Literal["1.0"] = SPECVERSION
    time: AwareDatetime = Field(description="When the fact happened, timezone-aware (UTC).")
    subject: str = Field(
        min_length=1, description="Id of the aggregate the event is about; also the Kafka key."
    )
    datacontenttype: Literal["application/json"] = CONTENT_TYPE
    dataversion: int = Field(ge=1, description="Version of the payload schema of this event type.")
    correlationid: str = Field(min_length=1, description="Id shared by everything one user action caused.")
    causationid: str | None = Field(default=None, description="Id of the event that caused this one.")
    data: dict[str, Any] = Field(default_factory=dict)

    HEADER_PREFIX: ClassVar[str] = "ce_"

    def kafka_headers(self) -> list[tuple[str, bytes]]:
        """The routing attributes as Kafka headers (CloudEvents Kafka binding naming)."""
        headers = {
            "ce_id": str(self.id),
            "ce_type": self.type,
            "ce_source": self.source,
            "ce_specversion": self.specversion,
            "ce_subject": self.subject,
            "ce_time": self.time.isoformat(),
            "ce_dataversion": str(self.dataversion),
            "ce_correlationid": self.correlationid,
            "content-type": "application/cloudevents+json; charset=UTF-8",
        }
        if self.causationid:
            headers["ce_causationid"] = self.causationid
        return [(k, v.encode()) for k, v in headers.items()]

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


def new_envelope(
    *,
    event: EventPayload,
    source: str,
    subject: str,
    correlationid: str,
    causationid: str | None = None,
    time: datetime,
    event_id: uuid.UUID | None = None,
) -> Envelope:
    """Wrap a payload; the type and version come from the payload's class, never from the caller."""
    if time.tzinfo is None:
        raise ValueError("event time must be timezone-aware")
    return Envelope(
        id=event_id or uuid.uuid4(),
        source=source,
        type=event.event_type,
        time=time.astimezone(UTC),
        subject=subject,
        dataversion=event.event_version,
        correlationid=correlationid,
        causationid=causationid,
        data=event.model_dump(mode="json"),
    )


class EventPayload(BaseModel):
    """Base of every event payload.

    Subclasses set ``event_type``, ``event_version``, ``topic`` and ``key_field``: the path of the payload
    field whose value is the envelope ``subject`` and the Kafka key (``"request_id"``, or dotted into a
    nested model, ``"contract.id"``). Consumers read payloads leniently
    (``extra="ignore"``): a producer may add optional fields within a version, and anything else needs a
    new version.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_type: ClassVar[str]
    event_version: ClassVar[int] = 1
    topic: ClassVar[str]
    key_field: ClassVar[str]

    def kafka_key(self) -> str:
        """The envelope subject and Kafka key: the value at ``key_field``, as a string."""
        value: object = self
        for name in self.key_field.split("."):
            value = getattr(value, name)
        return str(value)
