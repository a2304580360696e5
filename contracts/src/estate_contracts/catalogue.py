"""Imports every module that defines events, so that the registry holds the whole catalogue.

The package's ``__init__`` imports this module: whoever imports anything from ``estate_contracts`` can
look up any event type, and no consumer dead-letters an event only because it forgot an import. A new
event module is added to ``EVENT_MODULES``; nothing else needs to know about it.
"""

from __future__ import annotations

from types import ModuleType

from estate_contracts import notification_events, procurement_events, register_events

EVENT_MODULES: tuple[ModuleType, ...] = (register_events, procurement_events, notification_events)
