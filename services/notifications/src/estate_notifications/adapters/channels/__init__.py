"""Delivery channels: e-mail by SMTP, Microsoft Teams webhooks, and the development SMTP sink.

Every channel reports failure only as :class:`DeliveryFailed`, marked permanent or transient, so the
caller can record the attempt and decide whether to retry.
"""

from estate_notifications.adapters.channels.message import (
    RESERVED_HEADERS,
    Channel,
    DeliveryFailed,
    OutgoingMessage,
)
from estate_notifications.adapters.channels.sink import SinkMessage, SmtpSink, read_sink, run_sink
from estate_notifications.adapters.channels.smtp import (
    DELIVERY_ID_HEADER,
    SmtpChannel,
    SmtpSettings,
    build_email,
    classify_smtp_error,
    message_id_for,
)
from estate_notifications.adapters.channels.teams import TeamsCard, TeamsChannel, adaptive_card_message

__all__ = [
    "DELIVERY_ID_HEADER",
    "RESERVED_HEADERS",
    "Channel",
    "DeliveryFailed",
    "OutgoingMessage",
    "SinkMessage",
    "SmtpChannel",
    "SmtpSettings",
    "SmtpSink",
    "TeamsCard",
    "TeamsChannel",
    "adaptive_card_message",
    "build_email",
    "classify_smtp_error",
    "message_id_for",
    "read_sink",
    "run_sink",
]
