"""ORM tables. Import from here so Alembic sees every table."""

from aicc.store.models.allocations import AllocationQuotaRow, AllocationRow
from aicc.store.models.audit import AuditEventRow, AuditHeadRow
from aicc.store.models.auth import ApiTokenRow
from aicc.store.models.base import Base, utcnow
from aicc.store.models.inventory import FlavorRow, NodeRow, SiteRow
from aicc.store.models.jobs import JobRow
from aicc.store.models.tenancy import MembershipRow, OrganizationRow, ProjectMemberRow, ProjectRow, UserRow
from aicc.store.models.testbed import BenchResultRow
from aicc.store.models.usage import UsageRow

__all__ = [
    "AllocationQuotaRow",
    "AllocationRow",
    "ApiTokenRow",
    "AuditEventRow",
    "AuditHeadRow",
    "Base",
    "BenchResultRow",
    "FlavorRow",
    "JobRow",
    "MembershipRow",
    "NodeRow",
    "OrganizationRow",
    "ProjectMemberRow",
    "ProjectRow",
    "SiteRow",
    "UsageRow",
    "UserRow",
    "utcnow",
]
