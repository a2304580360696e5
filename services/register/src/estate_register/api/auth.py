"""The register's role rules; token checks are the shared runtime's (``estate_runtime.auth``)."""

from __future__ import annotations

from estate_register.domain.values import Role
from estate_runtime.auth import (
    KEY_ID,
    AuthError,
    ForbiddenError,
    Principal,
    TokenVerifier,
    ensure_dev_key,
    mint_token,
)

__all__ = [
    "KEY_ID",
    "AuthError",
    "ForbiddenError",
    "Principal",
    "TokenVerifier",
    "ensure_dev_key",
    "mint_token",
]

# Who may do what. Reading is open to every role except where noted; writing needs one of these.
READ_ANY = frozenset(Role)
READ_CONTRACTS = frozenset(Role) - {Role.REQUESTER}
WRITE_SYSTEMS = frozenset({Role.ADMIN, Role.TDA_MEMBER, Role.TDA_CHAIR, Role.OWNER})
CREATE_SYSTEMS = frozenset({Role.ADMIN, Role.TDA_MEMBER, Role.TDA_CHAIR})
WRITE_CONTRACTS = frozenset({Role.ADMIN, Role.CONTRACT_MANAGER, Role.OWNER})
CREATE_CONTRACTS = frozenset({Role.ADMIN, Role.CONTRACT_MANAGER})
DECIDE_RENEWALS = frozenset({Role.ADMIN, Role.CONTRACT_MANAGER, Role.OWNER})
WRITE_SUPPLIERS = frozenset({Role.ADMIN, Role.CONTRACT_MANAGER, Role.TDA_MEMBER, Role.TDA_CHAIR})
WRITE_PEOPLE = frozenset({Role.ADMIN})
WRITE_REFERENCE = frozenset({Role.ADMIN})
IMPORT_SURVEY = frozenset({Role.ADMIN})
EXPORT = frozenset(Role) - {Role.REQUESTER}
READ_AUDIT = frozenset({Role.ADMIN, Role.AUDITOR, Role.TDA_CHAIR, Role.TDA_MEMBER})
# The estate view (summary, lists, exports): the TDA, contract management, administrators and auditors.
READ_ESTATE = frozenset({Role.TDA_MEMBER, Role.TDA_CHAIR, Role.CONTRACT_MANAGER, Role.ADMIN, Role.AUDITOR})
# Roles that may change any record of a kind; an "owner" may change only the records they own.
UNRESTRICTED = frozenset({Role.ADMIN, Role.TDA_MEMBER, Role.TDA_CHAIR, Role.CONTRACT_MANAGER})
