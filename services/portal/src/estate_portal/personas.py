"""The demo people a development stack offers at sign-in, one for each job in Estate (DESIGN.md).

Their e-mail addresses are those of the demo data's people, so each sees their own records: Ravi Patel
owns the council tax contract, Sam Patel's requests are in the procurement demo, Alex Morgan chairs the
TDA. A council's portal never shows this list: people sign in with the council's identity provider.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Persona:
    key: str
    name: str
    email: str
    roles: tuple[str, ...]
    job: str
    """What this person does with Estate, in the words on the sign-in page."""

    @property
    def subject(self) -> str:
        """The token's subject: the demo data's id for this person (``demo-sam-patel``), so the
        requests, reviews and conditions the demo data gives them are theirs."""
        return "demo-" + self.email.split("@", 1)[0].replace(".", "-")


PERSONAS: tuple[Persona, ...] = (
    Persona(
        "requester",
        "Sam Patel",
        "sam.patel@cambridge.gov.uk",
        ("requester",),
        "Service manager: asks for new technology and tracks the TDA's decision",
    ),
    Persona(
        "tda-member",
        "Tom Reid",
        "tom.reid@cambridge.gov.uk",
        ("tda_member",),
        "TDA member: reviews requests against the TDA's checklist",
    ),
    Persona(
        "tda-chair",
        "Alex Morgan",
        "alex.morgan@cambridge.gov.uk",
        ("tda_member", "tda_chair"),
        "Chair of the TDA: decides requests and sees the whole estate",
    ),
    Persona(
        "owner",
        "Ravi Patel",
        "ravi.patel@cambridge.gov.uk",
        ("owner",),
        "Contract and system owner: keeps records current and acts on renewals",
    ),
    Persona(
        "contract-manager",
        "Priya Shah",
        "priya.shah@cambridge.gov.uk",
        ("contract_manager",),
        "ICT contract manager: the contract register, spend, renewals and exports",
    ),
    Persona(
        "auditor",
        "Grace Okafor",
        "grace.okafor@cambridge.gov.uk",
        ("auditor",),
        "Information governance: read-only, personal data and audit history",
    ),
    Persona(
        "admin",
        "Estate administrator",
        "estate.admin@cambridge.gov.uk",
        ("admin",),
        "Administrator: everything, including reference data",
    ),
)

BY_KEY = {persona.key: persona for persona in PERSONAS}
