"""Makes this folder importable for every procurement test (pytest puts the folder of a conftest.py that
is not in a package on ``sys.path``), so test modules ``import procurement_fakes`` and ``from
procurement_fakes import ...`` by a name the register's tests (which have a ``fakes`` of their own) do
not use.

Deliberately no ``pytest_plugins`` here: only the repository's root conftest may declare plugins.
"""
