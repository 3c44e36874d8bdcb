"""ORM tables. Import from here so Alembic sees every table."""

from aicc.store.models.allocations import AllocationQuotaRow, AllocationRow
from aicc.store.models.audit import AuditEventRow, AuditHeadRow
from aicc.store.models.auth import ApiTokenRow
from aicc.store.models.base import Base, utcnow
from aicc.store.models.changes import ChangeRow
from aicc.store.models.datazone import DatasetRow, GrantRow, OutputFileRow, OutputRequestRow
from aicc.store.models.identity import IdentityRow, JoinRequestRow, OidcLoginRow
from aicc.store.models.inventory import FlavorRow, NodeRow, SiteRow
from aicc.store.models.jobs import JobRow
from aicc.store.models.notify import (
    JobNotifyRow,
    NotificationPrefRow,
    NotificationProfileRow,
    OutboxRow,
    WebhookDeliveryRow,
    WebhookEndpointRow,
)
from aicc.store.models.programs import (
    AgreementRow,
    AmendmentRow,
    ApplicationRow,
    AttachmentRow,
    CallRow,
    OutcomeRow,
    ProgramRow,
    ReclaimRow,
    ReviewRow,
    UtilizationCheckRow,
)
from aicc.store.models.reservations import ReservationRow
from aicc.store.models.serving import ServiceEventRow, ServiceKeyRow, ServiceRevisionRow, ServiceRow
from aicc.store.models.sessions import CourseMemberRow, CourseRow, SessionRow
from aicc.store.models.tenancy import (
    InvitationRow,
    MembershipPeriodRow,
    MembershipRow,
    OrganizationRow,
    ProjectMemberRow,
    ProjectRow,
    UserRow,
)
from aicc.store.models.testbed import BenchResultRow
from aicc.store.models.usage import UsageRow

__all__ = [
    "AgreementRow",
    "AllocationQuotaRow",
    "AllocationRow",
    "AmendmentRow",
    "ApiTokenRow",
    "ApplicationRow",
    "AttachmentRow",
    "AuditEventRow",
    "AuditHeadRow",
    "Base",
    "BenchResultRow",
    "CallRow",
    "ChangeRow",
    "CourseMemberRow",
    "CourseRow",
    "DatasetRow",
    "FlavorRow",
    "GrantRow",
    "IdentityRow",
    "InvitationRow",
    "JobNotifyRow",
    "JobRow",
    "JoinRequestRow",
    "MembershipPeriodRow",
    "MembershipRow",
    "NodeRow",
    "NotificationPrefRow",
    "NotificationProfileRow",
    "OidcLoginRow",
    "OrganizationRow",
    "OutboxRow",
    "OutcomeRow",
    "OutputFileRow",
    "OutputRequestRow",
    "ProgramRow",
    "ProjectMemberRow",
    "ProjectRow",
    "ReclaimRow",
    "ReservationRow",
    "ReviewRow",
    "ServiceEventRow",
    "ServiceKeyRow",
    "ServiceRevisionRow",
    "ServiceRow",
    "SessionRow",
    "SiteRow",
    "UsageRow",
    "UserRow",
    "UtilizationCheckRow",
    "WebhookDeliveryRow",
    "WebhookEndpointRow",
    "utcnow",
]
