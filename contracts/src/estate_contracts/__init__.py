"""Estate's message contracts: the event envelope, event payload types, topic names and JSON Schemas.

These are *message* contracts between services, not supplier contracts. Importing the package loads the
whole event catalogue (see ``catalogue``).
"""

from estate_contracts import catalogue as catalogue
