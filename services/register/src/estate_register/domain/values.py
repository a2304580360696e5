"""Enumerated values of the register, each traced to the council's survey and contract needs.

Values are lower-snake strings so that they read the same in the API, in exports and in events.
Where the council's documents give no enumeration (lifecycle stages, contract types), the choice and its
reasons are written in services/register/README.md.
"""

from __future__ import annotations

from enum import StrEnum


class LifecycleStage(StrEnum):
    """Where a system stands in its life: "introduce, maintain, and eventually retire" (S0:2782)."""

    PROPOSED = "proposed"
    PLANNED = "planned"
    IN_PROCUREMENT = "in_procurement"
    IMPLEMENTING = "implementing"
    LIVE = "live"
    UNDER_REVIEW = "under_review"
    DECOMMISSIONING = "decommissioning"
    RETIRED = "retired"


# A system moves only along these edges; "retired" is final. A stage may be set freely when a system is
# first recorded (a survey records systems wherever they already stand).
LIFECYCLE_TRANSITIONS: dict[LifecycleStage, frozenset[LifecycleStage]] = {
    LifecycleStage.PROPOSED: frozenset(
        {LifecycleStage.PLANNED, LifecycleStage.IN_PROCUREMENT, LifecycleStage.RETIRED}
    ),
    LifecycleStage.PLANNED: frozenset(
        {
            LifecycleStage.IN_PROCUREMENT,
            LifecycleStage.IMPLEMENTING,
            LifecycleStage.LIVE,
            LifecycleStage.RETIRED,
        }
    ),
    LifecycleStage.IN_PROCUREMENT: frozenset(
        {LifecycleStage.PLANNED, LifecycleStage.IMPLEMENTING, LifecycleStage.RETIRED}
    ),
    LifecycleStage.IMPLEMENTING: frozenset({LifecycleStage.LIVE, LifecycleStage.RETIRED}),
    LifecycleStage.LIVE: frozenset({LifecycleStage.UNDER_REVIEW, LifecycleStage.DECOMMISSIONING}),
    LifecycleStage.UNDER_REVIEW: frozenset({LifecycleStage.LIVE, LifecycleStage.DECOMMISSIONING}),
    LifecycleStage.DECOMMISSIONING: frozenset({LifecycleStage.LIVE, LifecycleStage.RETIRED}),
    LifecycleStage.RETIRED: frozenset(),
}


class RationalisationDecision(StrEnum):
    """ "determine which systems to retain, upgrade, or decommission" (S0:3050)."""

    UNDECIDED = "undecided"
    RETAIN = "retain"
    UPGRADE = "upgrade"
    DECOMMISSION = "decommission"


class Disposition(StrEnum):
    """Gartner TIME disposition, as LeanIX and ServiceNow APM use it."""

    TOLERATE = "tolerate"
    INVEST = "invest"
    MIGRATE = "migrate"
    ELIMINATE = "eliminate"


class Hosting(StrEnum):
    ON_PREMISES = "on_premises"
    CLOUD = "cloud"
    SAAS = "saas"
    HYBRID = "hybrid"


class CloudFeasibility(StrEnum):
    """ "Review each system to determine if it can be moved to the cloud" (S0:3052)."""

    UNKNOWN = "unknown"
    FEASIBLE = "feasible"
    NOT_FEASIBLE = "not_feasible"
    ALREADY_CLOUD = "already_cloud"


class ComplianceStatus(StrEnum):
    """DPIA and RoPA status (S0:3060)."""

    UNKNOWN = "unknown"
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    NOT_REQUIRED = "not_required"


class IntegrationCapability(StrEnum):
    """ "bulk import and export of data or middleware integration or API of any sort?" (S0:2452)."""

    API = "api"
    BULK_CSV = "bulk_csv"
    MIDDLEWARE = "middleware"
    NONE = "none"


class Criticality(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class RiskRag(StrEnum):
    RED = "red"
    AMBER = "amber"
    GREEN = "green"


class AccessibilityLevel(StrEnum):
    """WCAG conformance as last assessed (S0:3140, 5105)."""

    NOT_ASSESSED = "not_assessed"
    WCAG22_AA = "wcag22_aa"
    WCAG21_AA = "wcag21_aa"
    PARTIAL = "partial"
    NOT_APPLICABLE = "not_applicable"


class UsageStatus(StrEnum):
    """ "eliminate any systems that are no longer in use" (S0:3071); under-used as IEG4 was (S0:4934)."""

    IN_USE = "in_use"
    UNDER_USED = "under_used"
    NOT_IN_USE = "not_in_use"


class ContractType(StrEnum):
    SOFTWARE_LICENCE = "software_licence"
    SAAS_SUBSCRIPTION = "saas_subscription"
    IT_SERVICE = "it_service"
    SUPPORT_AND_MAINTENANCE = "support_and_maintenance"
    SHARED_SERVICE_AGREEMENT = "shared_service_agreement"
    IOT_PROTECH = "iot_protech"
    HARDWARE = "hardware"


class ProcurementRoute(StrEnum):
    """How the contract was bought (S0:2814, 2883)."""

    VIA_3C_ICT = "via_3c_ict"
    COUNCIL_PROCUREMENT = "council_procurement"
    FRAMEWORK_CALL_OFF = "framework_call_off"
    DIRECT_BY_SERVICE_AREA = "direct_by_service_area"
    SHARED_SERVICE = "shared_service"
    TDA_REQUEST = "tda_request"


class RenewalType(StrEnum):
    """Tacit renewal rolls the term on unless notice is given; express renewal ends unless renewed."""

    TACIT = "tacit"
    EXPRESS = "express"
    NONE = "none"


class ContractStatus(StrEnum):
    """OCDS contract status codes plus "expired" for a term that ended without renewal."""

    PENDING = "pending"
    ACTIVE = "active"
    CANCELLED = "cancelled"
    TERMINATED = "terminated"
    EXPIRED = "expired"


CONTRACT_TRANSITIONS: dict[ContractStatus, frozenset[ContractStatus]] = {
    ContractStatus.PENDING: frozenset({ContractStatus.ACTIVE, ContractStatus.CANCELLED}),
    ContractStatus.ACTIVE: frozenset({ContractStatus.TERMINATED, ContractStatus.EXPIRED}),
    ContractStatus.EXPIRED: frozenset({ContractStatus.ACTIVE}),
    ContractStatus.CANCELLED: frozenset(),
    ContractStatus.TERMINATED: frozenset(),
}


class RenewalOutcome(StrEnum):
    """The owner's renewal decision (DESIGN.md: renew, extend, re-procure, terminate)."""

    RENEW = "renew"
    EXTEND = "extend"
    REPROCURE = "reprocure"
    TERMINATE = "terminate"


class Role(StrEnum):
    """Roles carried in the identity token's roles claim."""

    REQUESTER = "requester"
    TDA_MEMBER = "tda_member"
    TDA_CHAIR = "tda_chair"
    OWNER = "owner"
    CONTRACT_MANAGER = "contract_manager"
    ADMIN = "admin"
    AUDITOR = "auditor"
