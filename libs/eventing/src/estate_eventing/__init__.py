"""Estate's delivery-guarantee runtime, shared by every service.

Import from the submodules (nothing here connects or imports a framework at package import):

* :mod:`estate_eventing.tables` - the ``outbox`` and ``inbox`` tables for each service's migrations
* :mod:`estate_eventing.outbox` - write events in the state change's transaction
* :mod:`estate_eventing.relay` - publish them, at least once, in order per key; replay; purge
* :mod:`estate_eventing.inbox` - claim an event in the handler's transaction
* :mod:`estate_eventing.consumer` - idempotent, dead-lettering FastStream subscribers
* :mod:`estate_eventing.correlation` - correlation/causation ids, ASGI middleware, JSON logs
* :mod:`estate_eventing.settings`, :mod:`estate_eventing.embedded`, :mod:`estate_eventing.cli`,
  :mod:`estate_eventing.testing` (pytest plugin)

See libs/eventing/README.md.
"""
