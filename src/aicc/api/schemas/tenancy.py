"""Wire models for organizations, users, memberships and projects."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from aicc.api.schemas.common import Email, Ident, LongText, Name, Out, Patch, Strict, Title, Username, Version
from aicc.core.tenancy import CenterRole, InvitationState, OrgKind, OrgRole


class OrganizationCreate(Strict):
    name: Name = Field(description="Short unique name used in URLs and the CLI, e.g. `haneul-ai`.")
    display_name: Title
    kind: OrgKind
    region: Title | None = Field(None, description="Province or metropolitan city, e.g. 광주광역시.")


class OrganizationUpdate(Patch):
    NULLABLE = frozenset({"region"})
    version: Version
    display_name: Title | None = None
    kind: OrgKind | None = None
    region: Title | None = None


class Organization(Out):
    id: int
    name: str
    display_name: str
    kind: OrgKind
    region: str | None
    created_at: dt.datetime
    version: int


class MemberAdd(Strict):
    username: Username
    role: OrgRole = OrgRole.MEMBER


class Member(Out):
    user_id: int
    username: str
    display_name: str
    role: OrgRole


class Invitation(Out):
    """An organization's invitation of an existing user; membership starts only when they accept."""

    id: int
    organization_id: int
    organization: str = Field(description="The organization's short name.")
    username: str = Field(description="The invitee.")
    role: OrgRole
    state: InvitationState
    created_at: dt.datetime
    decided_at: dt.datetime | None


class UserCreate(Strict):
    username: Username
    display_name: Title
    email: Email | None = None
    center_role: CenterRole | None = Field(None, description="center_admin or reviewer; null for everyone else.")


class UserUpdate(Patch):
    NULLABLE = frozenset({"email", "center_role"})
    version: Version
    display_name: Title | None = None
    email: Email | None = None
    center_role: CenterRole | None = None
    disabled: bool | None = None


class PasswordSet(Strict):
    password: str = Field(min_length=10, max_length=1024, description="The new portal password (10+ characters).")
    current_password: str | None = Field(None, max_length=1024,
                                         description="Your current one, when you change your own; "
                                                     "a center admin setting someone's password leaves it out.")


class User(Out):
    id: int
    username: str
    display_name: str
    email: str | None
    center_role: CenterRole | None
    disabled: bool
    created_at: dt.datetime
    version: int


class Me(User):
    organizations: dict[int, OrgRole] = Field(description="Organization id -> your role there.")
    projects: list[int]


class ProjectCreate(Strict):
    organization_id: Ident
    name: Name
    title: Title
    description: LongText = ""


class ProjectUpdate(Patch):
    NULLABLE = frozenset({"workload_class"})
    version: Version
    title: Title | None = None
    description: LongText | None = None
    workload_class: Name | None = Field(None, description="Default workload class for the project's jobs.")


class Project(Out):
    id: int
    name: str
    organization_id: int
    title: str
    description: str
    workload_class: str | None = None
    created_at: dt.datetime
    version: int


class ProjectMemberAdd(Strict):
    username: Username


class ProjectMember(Out):
    id: int
    username: str
    display_name: str
