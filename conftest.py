"""Test infrastructure for the whole repository: the real broker and the real PostgreSQL.

``estate_eventing.testing`` gives session fixtures that use an explicit URL from the environment, else
testcontainers where a Docker engine answers, else start the embedded broker / use the local server; a
missing piece fails loudly with the command that fixes it.
"""

pytest_plugins = ["estate_eventing.testing"]
