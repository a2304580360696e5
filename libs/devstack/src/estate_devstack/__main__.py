"""``python -m estate_devstack up``: the same as the ``estate`` console script."""

from estate_devstack.cli import app

app()
